// An AnalyticsPipeline's status from what the reconcile found: a pure function of the pipeline,
// the observations and the time (a Clock, simulated in tests).
//
// The truth table. Ready, Progressing and Degraded are set from the first row that applies;
// docs/architecture.md repeats it.
//
//   Nothing applied (all three conditions say why; Ready and Progressing False, Degraded True):
//     the spec does not render into an ingest config        reason InvalidSpec
//     the pinned image reads an older config revision       reason ImageTooOld
//     a referenced Secret is missing                        reason SecretNotFound
//   Applied:
//     Ready        False Creating             no StatefulSet yet
//                  False ScaledToZero         0 replicas desired
//                  True  Available            readyReplicas >= replicas, generation observed
//                  False ReplicasUnavailable  otherwise
//     Progressing  True  Creating             no StatefulSet yet
//                  True  RollingOut           generation not observed, or replicas not all
//                                             updated or ready, or revisions differ
//                  False RolloutComplete      otherwise
//     Degraded     True  QuotaExceeded | Forbidden | Invalid | ApplyFailed
//                                             applying a child failed (API server's answer)
//                  True  ProgressDeadlineExceeded
//                                             Progressing True for longer than the deadline
//                  False AsExpected           otherwise
//
// Every condition carries the pipeline's generation as observedGeneration; messages name the
// Secret, the field or the replica counts, never a secret value.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controllers/pipeline_objects.h"
#include "nlohmann/json.hpp"

namespace cohort::controllers {

inline constexpr char kReady[] = "Ready";
inline constexpr char kProgressing[] = "Progressing";
inline constexpr char kDegraded[] = "Degraded";

struct PipelineObservation {
  // RenderPipelineConfig's error, if it failed (then nothing was applied).
  absl::Status render_error;
  // Referenced Secrets not found (then nothing was applied).
  std::vector<std::string> missing_secrets;
  // The apply's error, if it failed.
  absl::Status apply_error;
  // The StatefulSet as cached (null: none yet).
  const nlohmann::json* stateful_set = nullptr;
  // The endpoint and config hash to report (empty: leave the reported ones).
  std::string endpoint;
  std::string config_hash;
};

struct PipelineStatus {
  nlohmann::json status;
  // When the status should be computed again without any change being watched (the progress
  // deadline); zero: not needed.
  absl::Duration recheck_after = absl::ZeroDuration();
};

PipelineStatus ComputePipelineStatus(const nlohmann::json& pipeline,
                                     const PipelineObservation& observation,
                                     const OperatorConfig& config, const Clock& clock);

}  // namespace cohort::controllers
