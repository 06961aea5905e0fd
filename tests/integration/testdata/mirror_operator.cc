// A small operator built on the real process scaffolding (operator/app.h), for the integration
// tests of the operator process: leader election, takeover, graceful shutdown, /metrics, and no
// writes at rest. It mirrors every ConfigMap labelled cohort.test/mirror=true into an owned
// ConfigMap "<name>-mirror" with the same data, through the Applier, and records an Event when it
// writes.
//
// The annotation cohort.test/reconcile-delay (a duration such as "3s") makes the reconcile of that
// ConfigMap sleep before applying, so a test can catch a reconcile in flight.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/flag_set.h"
#include "operator/app.h"
#include "operator/applier.h"
#include "operator/informer.h"
#include "operator/resource.h"
#include "spdlog/spdlog.h"

namespace {

using cohort::op::ObjectKey;
using cohort::op::ReconcileResult;

constexpr char kLabel[] = "cohort.test/mirror";
constexpr char kDelayAnnotation[] = "cohort.test/reconcile-delay";

absl::Status Setup(cohort::op::OperatorContext& context) {
  using namespace cohort::op;
  InformerOptions parents;
  parents.type = resources::kConfigMaps;
  parents.label_selector = absl::StrCat(kLabel, "=true");
  Informer& parent_informer = context.manager.GetInformer(parents);
  InformerOptions children;
  children.type = resources::kConfigMaps;
  children.label_selector = kOwnerUidLabel;  // every ConfigMap some owner of ours controls
  Informer& child_informer = context.manager.GetInformer(children);

  auto applier = std::make_shared<Applier>(context.client);
  EventRecorder* events = context.manager.events();
  auto reconcile = [&parent_informer, applier, events](const std::string& key) {
    const size_t slash = key.find('/');
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    ObjectPtr parent = parent_informer.Get(ns, name);
    if (parent == nullptr) return ReconcileResult::Done();  // children go with their owner
    const nlohmann::json& meta = (*parent)["metadata"];
    if (auto delay = meta.value("annotations", nlohmann::json::object())
                         .value(kDelayAnnotation, std::string());
        !delay.empty()) {
      absl::StatusOr<absl::Duration> d = cohort::ParseGoDuration(delay);
      if (d.ok()) {
        spdlog::info("sleeping {} before applying", absl::FormatDuration(*d));
        absl::SleepFor(*d);
      }
    }
    absl::StatusOr<Owner> owner = Owner::FromObject(*parent);
    if (!owner.ok()) return ReconcileResult::Error(owner.status());
    ChildSet set;
    set.owned_types = {resources::kConfigMaps};
    set.objects.push_back({{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", name + "-mirror"}, {"namespace", ns}}},
                           {"data", parent->value("data", nlohmann::json::object())}});
    ApplySummary summary;
    if (absl::Status s = applier->Apply(*owner, set, summary); !s.ok()) {
      return ReconcileResult::Error(s);
    }
    if (summary.Changed() && events != nullptr) {
      ObjectReference ref{
          .api_version = "v1", .kind = "ConfigMap", .ns = ns, .name = name, .uid = owner->uid};
      events->Record(ref, EventType::kNormal, "Mirrored", "Apply",
                     absl::StrCat("mirrored into ", name, "-mirror"));
    }
    spdlog::info("reconciled: {}", summary.Changed() ? "changed" : "unchanged");
    return ReconcileResult::Done();
  };
  absl::StatusOr<Controller*> controller =
      context.manager.AddController("mirror", reconcile, context.workers_per_controller);
  if (!controller.ok()) return controller.status();
  context.manager.Watch(parent_informer, **controller, MapToSelf());
  context.manager.Watch(child_informer, **controller, MapToControllerOwner("", "ConfigMap"));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  cohort::op::OperatorProgram program;
  program.name = "mirror-operator";
  program.description = "Test operator: mirrors labelled ConfigMaps (tests/integration).";
  program.reporting_controller = "cohort.test/mirror-operator";
  program.setup = Setup;
  return cohort::op::RunOperator(argc, argv, program);
}
