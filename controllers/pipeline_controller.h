// The AnalyticsPipeline reconciler (STYLE.md point 6):
//   fetch the pipeline from the cache (gone → done: its children are garbage-collected through
//   their owner references; there is no finalizer, because nothing needs cleaning up that owner
//   references and the StatefulSet's PVC retention policy do not cover — docs/architecture.md)
//   → look up the referenced Secrets' metadata (missing → Degraded, nothing applied, so running
//   pods keep their mounted keys) → render the ingest config (invalid → Degraded) → build the
//   children (pipeline_objects.h) → apply them with one field manager and owner references, prune
//   what is owned but no longer desired (keeping the last few config ConfigMaps) → status
//   (pipeline_status.h), written only when it changed.
//
// Watches: pipelines; their children (by the managed-by label, mapped to the controlling
// pipeline); Secrets metadata-only (mapped to the pipelines referencing them through an index), so
// rotating a key rolls the pods while the operator never holds a secret value.
//
// Errors go back to the work queue (per-key backoff); a rollout in progress is re-checked at its
// progress deadline.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "controllers/pipeline_objects.h"
#include "operator/app.h"
#include "operator/applier.h"
#include "operator/cache_reader.h"
#include "operator/controller.h"
#include "operator/event_recorder.h"
#include "operator/informer.h"
#include "operator/kube_client.h"
#include "operator/resource.h"

namespace cohort::controllers {

// cohort.dev/v1alpha1 analyticspipelines.
extern const op::ResourceType kAnalyticsPipelines;

// Pipelines by the "namespace/name" of each Secret they reference.
inline constexpr char kSecretIndex[] = "secret";

class PipelineController {
 public:
  // Creates the informers, the controller and the watches on `context`'s manager. The returned
  // object must live as long as the manager runs.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PipelineController>> Register(
      op::OperatorContext& context, OperatorConfig config, Clock& clock = RealClock::Get());

  PipelineController(const PipelineController&) = delete;
  PipelineController& operator=(const PipelineController&) = delete;

  // One reconcile of the pipeline "namespace/name".
  op::ReconcileResult Reconcile(const std::string& key);

 private:
  PipelineController(op::KubeClient& client, op::EventRecorder* events, OperatorConfig config,
                     Clock& clock);

  void RecordOutcomes(const nlohmann::json& pipeline, const op::ApplySummary& summary);
  void Warn(const nlohmann::json& pipeline, const std::string& reason, const std::string& note);

  op::KubeClient& client_;
  op::EventRecorder* events_;  // may be null
  const OperatorConfig config_;
  Clock& clock_;
  op::Informer* pipelines_ = nullptr;
  op::Informer* secrets_ = nullptr;
  op::Informer* config_maps_ = nullptr;
  op::Informer* stateful_sets_ = nullptr;
  std::unique_ptr<op::ClientReader> client_reader_;
  std::unique_ptr<op::CacheReader> reader_;
  std::unique_ptr<op::Applier> applier_;
};

}  // namespace cohort::controllers
