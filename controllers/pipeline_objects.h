// The desired Kubernetes objects of an AnalyticsPipeline: pure functions of (pipeline, operator
// config, the inputs resolved from the cluster), with no client, clock or logging (STYLE.md point
// 5). The builders live in pipeline_config.cc (names, config, ConfigMap), pipeline_workload.cc
// (ServiceAccount, StatefulSet) and pipeline_services.cc (the rest), with golden tests in
// pipeline_objects_test.cc. docs/architecture.md says why the workload is a StatefulSet.
//
// Names, labels and the field manager are a contract with every pipeline already running: change
// them and an operator upgrade rolls or orphans pipelines. The selector labels never change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace cohort::controllers {

// What the operator itself decides, the same for every pipeline.
struct OperatorConfig {
  // The ingest image of pipelines that do not pin `spec.image`.
  std::string default_image = "ghcr.io/cohort-dev/cohort-ingest:0.1.0";
  // Where the operator runs (its pods get through a pipeline's NetworkPolicy to the query port).
  std::string operator_namespace = "cohort-system";
  // A rollout that has not finished after this long makes the pipeline Degraded.
  absl::Duration progress_deadline = absl::Minutes(10);
  // Earlier config ConfigMaps kept besides the current one, for rollback.
  int kept_config_maps = 3;
  // The WAL volume of pipelines whose store is ClickHouse (embedded pipelines size theirs).
  std::string clickhouse_wal_volume_size = "2Gi";
};

// Labels on every child. The first two are the pods' selector: never change them.
inline constexpr char kNameLabel[] = "app.kubernetes.io/name";          // "cohort-ingest"
inline constexpr char kInstanceLabel[] = "app.kubernetes.io/instance";  // the pipeline's name
inline constexpr char kComponentLabel[] = "app.kubernetes.io/component";
inline constexpr char kPartOfLabel[] = "app.kubernetes.io/part-of";  // "cohort"
inline constexpr char kIngestName[] = "cohort-ingest";
// On the pod template: a hash of the rendered config and of the referenced Secrets'
// resourceVersions, so a change of either rolls the pods.
inline constexpr char kConfigHashAnnotation[] = "cohort.dev/config-hash";

// A Secret the pipeline references, and where its keys are mounted.
struct SecretMount {
  std::string secret_name;
  std::string volume_name;  // <= 63 characters
  std::string mount_dir;    // config::kSecretsDir/<dir>
};

// Everything the builders read, resolved by the reconciler.
struct PipelineInput {
  // The AnalyticsPipeline as read from the API server (CRD defaults applied).
  nlohmann::json pipeline;
  // config::RenderIngestConfig's text for it.
  std::string config_text;
  // resourceVersion of each referenced Secret, by name (all present: the reconciler does not build
  // a pipeline whose Secrets are missing).
  std::map<std::string, std::string> secret_versions;
};

// Accessors on the pipeline object.
std::string PipelineName(const nlohmann::json& pipeline);
std::string PipelineNamespace(const nlohmann::json& pipeline);
const nlohmann::json& PipelineSpec(const nlohmann::json& pipeline);
bool UsesEmbeddedStorage(const nlohmann::json& spec);
bool HasAutoscaling(const nlohmann::json& spec);

// Child names.
std::string StatefulSetName(const nlohmann::json& pipeline);      // <name>
std::string ServiceName(const nlohmann::json& pipeline);          // <name>
std::string HeadlessServiceName(const nlohmann::json& pipeline);  // <name>-headless
std::string ServiceAccountName(const nlohmann::json& pipeline);   // spec's, or <name>-ingest
std::string ConfigMapName(const nlohmann::json& pipeline, const std::string& config_text);

// The selector labels, and the labels of every child (selector + component + part-of).
nlohmann::json SelectorLabels(const nlohmann::json& pipeline);
nlohmann::json ChildLabels(const nlohmann::json& pipeline, const std::string& component);

// The Secrets `spec` references, in a fixed order (volumes and hashes are stable).
std::vector<SecretMount> ReferencedSecrets(const nlohmann::json& spec);

// The config in the ingest's format (config/ingest_config.h) for the pipeline's spec: the same
// settings, with Secret references turned into mounted file paths. Errors: kInvalidArgument naming
// the spec field (as "spec.<path>: ..."), e.g. for a mapping rule the CRD accepted but the config
// rejects; kFailedPrecondition when the pinned image reads an older config revision than the spec
// needs.
[[nodiscard]] absl::StatusOr<std::string> RenderPipelineConfig(const nlohmann::json& pipeline,
                                                               const OperatorConfig& config);

// The pod template's config-hash annotation: SHA-256 (hex, first 32) of the config text and the
// Secrets' resourceVersions.
std::string ConfigHash(const PipelineInput& input);
// "http://<service>.<namespace>.svc:8080", https with spec.tls.
std::string Endpoint(const nlohmann::json& pipeline);

// Builders, one per kind.
nlohmann::json BuildConfigMap(const PipelineInput& input);
// Null when spec.serviceAccountName names an existing account of the user's.
std::optional<nlohmann::json> BuildServiceAccount(const PipelineInput& input);
nlohmann::json BuildStatefulSet(const PipelineInput& input, const OperatorConfig& config);
nlohmann::json BuildService(const PipelineInput& input);
nlohmann::json BuildHeadlessService(const PipelineInput& input);
// Null unless more than one replica can run (replicas > 1, or autoscaling up to more than 1).
std::optional<nlohmann::json> BuildPodDisruptionBudget(const PipelineInput& input);
// Null without spec.autoscaling.
std::optional<nlohmann::json> BuildHorizontalPodAutoscaler(const PipelineInput& input);
// Null unless spec.networkPolicy.enabled.
std::optional<nlohmann::json> BuildNetworkPolicy(const PipelineInput& input,
                                                 const OperatorConfig& config);

// All of the above in apply order (ServiceAccount and ConfigMap before the StatefulSet).
std::vector<nlohmann::json> BuildPipelineObjects(const PipelineInput& input,
                                                 const OperatorConfig& config);

}  // namespace cohort::controllers
