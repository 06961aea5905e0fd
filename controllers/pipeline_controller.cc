#include "controllers/pipeline_controller.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "controllers/pipeline_status.h"
#include "operator/api_error.h"
#include "operator/conditions.h"
#include "operator/manager.h"
#include "spdlog/spdlog.h"

namespace cohort::controllers {

const op::ResourceType kAnalyticsPipelines{"cohort.dev", "v1alpha1", "analyticspipelines",
                                           "AnalyticsPipeline", true};

namespace {

using nlohmann::json;

const std::vector<op::ResourceType>& OwnedTypes() {
  static const std::vector<op::ResourceType> kTypes = {op::resources::kServiceAccounts,
                                                       op::resources::kConfigMaps,
                                                       op::resources::kServices,
                                                       op::resources::kStatefulSets,
                                                       op::resources::kPodDisruptionBudgets,
                                                       op::resources::kHorizontalPodAutoscalers,
                                                       op::resources::kNetworkPolicies};
  return kTypes;
}

std::string KeyOf(const json& object) { return op::ObjectKey(object); }

}  // namespace

PipelineController::PipelineController(op::KubeClient& client, op::EventRecorder* events,
                                       OperatorConfig config, Clock& clock)
    : client_(client), events_(events), config_(std::move(config)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<PipelineController>> PipelineController::Register(
    op::OperatorContext& context, OperatorConfig config, Clock& clock) {
  auto self = std::unique_ptr<PipelineController>(
      new PipelineController(context.client, context.manager.events(), std::move(config), clock));
  op::Manager& manager = context.manager;

  // Every cache of this controller keeps CBOR rather than parsed trees (a seventh of the memory
  // at 1,000 pipelines; docs/benchmarks.md); a reconcile decodes the few objects it reads.
  op::InformerOptions pipelines;
  pipelines.type = kAnalyticsPipelines;
  pipelines.compact_cache = true;
  self->pipelines_ = &manager.GetInformer(pipelines);
  self->pipelines_->AddIndex(kSecretIndex, [](const json& pipeline) {
    std::vector<std::string> keys;
    for (const SecretMount& m : ReferencedSecrets(PipelineSpec(pipeline))) {
      keys.push_back(op::ObjectKey(PipelineNamespace(pipeline), m.secret_name));
    }
    return keys;
  });

  op::InformerOptions secrets;
  secrets.type = op::resources::kSecrets;
  secrets.metadata_only = true;  // never a Secret's values
  self->secrets_ = &manager.GetInformer(secrets);

  absl::StatusOr<op::Controller*> controller = manager.AddController(
      "analyticspipeline",
      [raw = self.get()](const std::string& key) { return raw->Reconcile(key); },
      context.workers_per_controller);
  if (!controller.ok()) return controller.status();
  manager.Watch(*self->pipelines_, **controller, op::MapToSelf());
  op::Informer* pipeline_cache = self->pipelines_;
  // Keys only: decoding the pipelines here would hold every pipeline that shares the Secret at
  // once (a resync's peak memory).
  manager.Watch(*self->secrets_, **controller, [pipeline_cache](const json& secret) {
    return pipeline_cache->KeysByIndex(kSecretIndex, KeyOf(secret));
  });

  self->client_reader_ = std::make_unique<op::ClientReader>(context.client);
  self->reader_ = std::make_unique<op::CacheReader>(*self->client_reader_);
  for (const op::ResourceType& type : OwnedTypes()) {
    op::InformerOptions children;
    children.type = type;
    children.label_selector = absl::StrCat(op::kManagedByLabel, "=", op::kDefaultFieldManager);
    children.compact_cache = true;
    op::Informer& informer = manager.GetInformer(children);
    manager.Watch(informer, **controller,
                  op::MapToControllerOwner("cohort.dev", "AnalyticsPipeline"));
    self->reader_->Add(type, informer);
    if (type == op::resources::kConfigMaps) self->config_maps_ = &informer;
    if (type == op::resources::kStatefulSets) self->stateful_sets_ = &informer;
  }
  self->applier_ =
      std::make_unique<op::Applier>(context.client, op::ApplierOptions{}, self->reader_.get());
  return self;
}

void PipelineController::Warn(const json& pipeline, const std::string& reason,
                              const std::string& note) {
  if (events_ == nullptr) return;
  events_->Record(op::ObjectReference::From(pipeline), op::EventType::kWarning, reason, "Reconcile",
                  note);
}

void PipelineController::RecordOutcomes(const json& pipeline, const op::ApplySummary& summary) {
  if (events_ == nullptr) return;
  // One Event per kind of change, naming every child: a new pipeline costs one Event, not five.
  for (const op::ApplySummary::ActionNote& n : summary.NotesByAction()) {
    events_->Record(op::ObjectReference::From(pipeline), op::EventType::kNormal, n.action, "Apply",
                    n.note);
  }
}

op::ReconcileResult PipelineController::Reconcile(const std::string& key) {
  const size_t slash = key.find('/');
  const std::string ns = key.substr(0, slash);
  const std::string name = key.substr(slash + 1);
  // 1. Fetch. Gone: the garbage collector removes the children.
  op::ObjectPtr live = pipelines_->Get(ns, name);
  if (live == nullptr) return op::ReconcileResult::Done();
  const json& pipeline = *live;
  if (pipeline["metadata"].contains("deletionTimestamp")) return op::ReconcileResult::Done();

  PipelineObservation observation;
  PipelineInput input;
  input.pipeline = pipeline;
  // 2. Inputs: the Secrets' metadata, the rendered config.
  for (const SecretMount& m : ReferencedSecrets(PipelineSpec(pipeline))) {
    op::ObjectPtr secret = secrets_->Get(ns, m.secret_name);
    if (secret == nullptr) {
      if (std::find(observation.missing_secrets.begin(), observation.missing_secrets.end(),
                    m.secret_name) == observation.missing_secrets.end()) {
        observation.missing_secrets.push_back(m.secret_name);
      }
      continue;
    }
    input.secret_versions[m.secret_name] = (*secret)["metadata"].value("resourceVersion", "");
  }
  absl::StatusOr<std::string> config_text = RenderPipelineConfig(pipeline, config_);
  if (!config_text.ok()) {
    observation.render_error = config_text.status();
    Warn(pipeline, absl::IsFailedPrecondition(config_text.status()) ? "ImageTooOld" : "InvalidSpec",
         std::string(config_text.status().message()));
  } else if (!observation.missing_secrets.empty()) {
    Warn(pipeline, "SecretNotFound",
         absl::StrCat("Secret \"", observation.missing_secrets.front(), "\" not found"));
  }

  // 3–5. Build, apply, prune.
  bool apply_failed = false;
  if (config_text.ok() && observation.missing_secrets.empty()) {
    input.config_text = *config_text;
    absl::StatusOr<op::Owner> owner = op::Owner::FromObject(pipeline);
    if (!owner.ok()) return op::ReconcileResult::Error(owner.status());
    op::ChildSet children;
    children.objects = BuildPipelineObjects(input, config_);
    children.owned_types = OwnedTypes();
    // Keep the newest earlier config ConfigMaps for rollback.
    const std::string current = ConfigMapName(pipeline, input.config_text);
    std::vector<op::ObjectPtr> configs = config_maps_->ByIndex(op::kOwnerUidIndex, owner->uid);
    std::sort(configs.begin(), configs.end(), [](const op::ObjectPtr& a, const op::ObjectPtr& b) {
      const json& ma = (*a)["metadata"];
      const json& mb = (*b)["metadata"];
      return std::make_pair(ma.value("creationTimestamp", ""), ma.value("name", "")) >
             std::make_pair(mb.value("creationTimestamp", ""), mb.value("name", ""));
    });
    absl::flat_hash_set<std::string> keep;
    for (const op::ObjectPtr& cm : configs) {
      const std::string cm_name = (*cm)["metadata"].value("name", "");
      if (cm_name == current) continue;
      if (static_cast<int>(keep.size()) >= config_.kept_config_maps) break;
      keep.insert(cm_name);
    }
    children.keep = [keep](const json& object) {
      return object.value("kind", "") == "ConfigMap" &&
             keep.contains(object["metadata"].value("name", ""));
    };
    op::ApplySummary summary;
    absl::Status applied = applier_->Apply(*owner, children, summary);
    RecordOutcomes(pipeline, summary);
    if (!applied.ok()) {
      apply_failed = true;
      observation.apply_error = applied;
      Warn(pipeline, "ApplyFailed", std::string(applied.message()));
    }
    observation.endpoint = Endpoint(pipeline);
    observation.config_hash = ConfigHash(input);
    if (summary.Waiting()) {
      // An old child is still being deleted; the status below says Progressing meanwhile.
      apply_failed = false;
    }
  }

  // 6. Status.
  op::ObjectPtr sts = stateful_sets_->Get(ns, StatefulSetName(pipeline));
  // Only a StatefulSet this pipeline controls counts.
  if (sts != nullptr) {
    bool ours = false;
    for (const json& ref : (*sts)["metadata"].value("ownerReferences", json::array())) {
      ours = ours || (ref.value("uid", "") == pipeline["metadata"].value("uid", "") &&
                      ref.value("controller", false));
    }
    if (!ours) sts = nullptr;
  }
  observation.stateful_set = sts.get();
  PipelineStatus status = ComputePipelineStatus(pipeline, observation, config_, clock_);
  absl::StatusOr<bool> wrote = op::ApplyStatusIfChanged(client_, kAnalyticsPipelines, pipeline,
                                                        status.status, op::kDefaultFieldManager);
  if (!wrote.ok()) {
    // NotFound: deleted meanwhile (the next event says so); otherwise retry with backoff.
    if (op::apierrors::IsNotFound(wrote.status())) return op::ReconcileResult::Done();
    return op::ReconcileResult::Error(wrote.status());
  }
  if (apply_failed) return op::ReconcileResult::Error(observation.apply_error);
  if (status.recheck_after > absl::ZeroDuration()) {
    return op::ReconcileResult::RequeueAfter(status.recheck_after);
  }
  return op::ReconcileResult::Done();
}

}  // namespace cohort::controllers
