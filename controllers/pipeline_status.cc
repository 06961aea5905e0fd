#include "controllers/pipeline_status.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "operator/api_error.h"
#include "operator/conditions.h"

namespace cohort::controllers {
namespace {

using nlohmann::json;
using op::ConditionStatus;

struct Verdict {
  ConditionStatus status;
  std::string reason;
  std::string message;
};

int64_t IntAt(const json& object, const char* a, const char* b, int64_t fallback = 0) {
  auto it = object.find(a);
  if (it == object.end() || !it->is_object()) return fallback;
  auto jt = it->find(b);
  return jt != it->end() && jt->is_number_integer() ? jt->get<int64_t>() : fallback;
}

std::string StrAt(const json& object, const char* a, const char* b) {
  auto it = object.find(a);
  if (it == object.end() || !it->is_object()) return "";
  auto jt = it->find(b);
  return jt != it->end() && jt->is_string() ? jt->get<std::string>() : "";
}

std::string ApplyReason(const absl::Status& s) {
  if (op::apierrors::IsForbidden(s)) {
    return absl::StrContains(s.message(), "exceeded quota") ? "QuotaExceeded" : "Forbidden";
  }
  if (op::apierrors::IsInvalid(s)) return "Invalid";
  return "ApplyFailed";
}

}  // namespace

PipelineStatus ComputePipelineStatus(const json& pipeline, const PipelineObservation& o,
                                     const OperatorConfig& config, const Clock& clock) {
  const int64_t generation = IntAt(pipeline, "metadata", "generation");
  PipelineStatus out;
  json& status = out.status;
  status = pipeline.value("status", json::object());
  if (!status.is_object()) status = json::object();
  json conditions = status.value("conditions", json::array());

  std::optional<Verdict> blocked;  // nothing applied: all three conditions say why
  if (!o.render_error.ok()) {
    const bool too_old = absl::IsFailedPrecondition(o.render_error);
    blocked = Verdict{ConditionStatus::kFalse, too_old ? "ImageTooOld" : "InvalidSpec",
                      std::string(o.render_error.message())};
  } else if (!o.missing_secrets.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& name : o.missing_secrets)
      quoted.push_back(absl::StrCat("\"", name, "\""));
    blocked = Verdict{ConditionStatus::kFalse, "SecretNotFound",
                      absl::StrCat(o.missing_secrets.size() == 1 ? "Secret " : "Secrets ",
                                   absl::StrJoin(quoted, ", "), " not found in namespace ",
                                   pipeline["metadata"].value("namespace", ""))};
  }

  Verdict ready, progressing, degraded{ConditionStatus::kFalse, "AsExpected", "Nothing is wrong."};
  bool rolling = false;
  if (blocked) {
    ready = progressing = *blocked;
    degraded = Verdict{ConditionStatus::kTrue, blocked->reason, blocked->message};
  } else {
    if (!o.apply_error.ok()) {
      degraded = Verdict{ConditionStatus::kTrue, ApplyReason(o.apply_error),
                         std::string(o.apply_error.message())};
    }
    if (o.stateful_set == nullptr) {
      ready = {ConditionStatus::kFalse, "Creating", "The ingest StatefulSet does not exist yet."};
      progressing = {ConditionStatus::kTrue, "Creating", "Creating the ingest StatefulSet."};
      rolling = true;
    } else {
      const json& sts = *o.stateful_set;
      const int64_t sts_generation = IntAt(sts, "metadata", "generation");
      const int64_t observed = IntAt(sts, "status", "observedGeneration");
      const int64_t desired = IntAt(sts, "spec", "replicas", 1);
      const int64_t ready_replicas = IntAt(sts, "status", "readyReplicas");
      const int64_t updated = IntAt(sts, "status", "updatedReplicas");
      const std::string current_rev = StrAt(sts, "status", "currentRevision");
      const std::string update_rev = StrAt(sts, "status", "updateRevision");
      status["replicas"] = IntAt(sts, "status", "replicas");
      status["readyReplicas"] = ready_replicas;
      rolling = observed < sts_generation || updated < desired || ready_replicas < desired ||
                (!update_rev.empty() && current_rev != update_rev);
      const std::string counts = absl::StrCat(ready_replicas, "/", desired, " replicas ready, ",
                                              updated, "/", desired, " updated");
      if (rolling) {
        progressing = {ConditionStatus::kTrue, "RollingOut", absl::StrCat("Rolling out: ", counts)};
      } else {
        progressing = {ConditionStatus::kFalse, "RolloutComplete",
                       absl::StrCat("Rollout complete: ", counts)};
      }
      if (desired == 0) {
        ready = {ConditionStatus::kFalse, "ScaledToZero", "The pipeline has 0 replicas."};
      } else if (ready_replicas >= desired && observed >= sts_generation) {
        ready = {ConditionStatus::kTrue, "Available", counts};
      } else {
        ready = {ConditionStatus::kFalse, "ReplicasUnavailable", counts};
      }
    }
    if (rolling && degraded.status == ConditionStatus::kFalse) {
      // How long has it been progressing? Since Progressing last turned True (now, if it is only
      // turning True with this status).
      absl::Time since = clock.Now();
      if (auto c = op::FindCondition(conditions, kProgressing);
          c && c->status == ConditionStatus::kTrue) {
        since = c->last_transition_time;
      }
      const absl::Time deadline = since + config.progress_deadline;
      if (clock.Now() >= deadline) {
        degraded = {ConditionStatus::kTrue, "ProgressDeadlineExceeded",
                    absl::StrCat("The rollout has not finished within ",
                                 absl::FormatDuration(config.progress_deadline), ": ",
                                 progressing.message)};
      } else {
        out.recheck_after = deadline - clock.Now();
      }
    }
  }

  for (const auto& [type, v] : {std::pair<const char*, const Verdict&>{kReady, ready},
                                {kProgressing, progressing},
                                {kDegraded, degraded}}) {
    // Types and reasons are constants of this file: a failure here is a bug.
    absl::StatusOr<bool> set =
        op::SetCondition(conditions, type, v.status, v.reason, v.message, generation, clock);
    if (!set.ok()) std::abort();
  }
  status["conditions"] = conditions;
  status["observedGeneration"] = generation;
  if (!o.endpoint.empty()) status["endpoint"] = o.endpoint;
  if (!o.config_hash.empty()) status["configHash"] = o.config_hash;
  return out;
}

}  // namespace cohort::controllers
