// The ingest workload: its ServiceAccount and StatefulSet. A StatefulSet because every replica's
// write-ahead log must live on a persistent volume of its own that follows the replica across
// restarts and reschedules (volumeClaimTemplates); see docs/architecture.md.
#include "absl/strings/str_cat.h"
#include "config/ingest_config.h"
#include "controllers/pipeline_objects.h"

namespace cohort::controllers {
namespace {

using nlohmann::json;

// The ingest runs as this user and group (distroless "nonroot").
constexpr int64_t kRunAsUser = 65532;
// Long enough to finish in-flight requests, fsync the WAL and flush the sinks' batches.
constexpr int64_t kTerminationGracePeriodSeconds = 60;

json HttpProbe(std::string_view path, int period, int failures) {
  return {
      {"httpGet", {{"path", std::string(path)}, {"port", std::string(config::kMetricsPortName)}}},
      {"periodSeconds", period},
      {"timeoutSeconds", 2},
      {"failureThreshold", failures}};
}

}  // namespace

std::optional<json> BuildServiceAccount(const PipelineInput& input) {
  if (PipelineSpec(input.pipeline).value("serviceAccountName", "") != "") return std::nullopt;
  return json{{"apiVersion", "v1"},
              {"kind", "ServiceAccount"},
              {"metadata",
               {{"name", ServiceAccountName(input.pipeline)},
                {"namespace", PipelineNamespace(input.pipeline)},
                {"labels", ChildLabels(input.pipeline, "ingest")}}},
              // The ingest never talks to the Kubernetes API.
              {"automountServiceAccountToken", false}};
}

json BuildStatefulSet(const PipelineInput& input, const OperatorConfig& config) {
  const json& pipeline = input.pipeline;
  const json& spec = PipelineSpec(pipeline);
  const std::string image =
      spec.value("image", "").empty() ? config.default_image : spec.value("image", "");

  json container = {
      {"name", "ingest"},
      {"image", image},
      {"args", {absl::StrCat("--config=", std::string(config::kConfigFilePath))}},
      {"ports",
       {{{"name", std::string(config::kIngestPortName)},
         {"containerPort", config::kIngestPort},
         {"protocol", "TCP"}},
        {{"name", std::string(config::kQueryPortName)},
         {"containerPort", config::kQueryPort},
         {"protocol", "TCP"}},
        {{"name", std::string(config::kMetricsPortName)},
         {"containerPort", config::kMetricsPort},
         {"protocol", "TCP"}}}},
      // Startup covers WAL recovery after a crash (up to 5 minutes); then liveness takes over.
      {"startupProbe", HttpProbe(config::kLivezPath, 2, 150)},
      {"livenessProbe", HttpProbe(config::kLivezPath, 10, 3)},
      {"readinessProbe", HttpProbe(config::kReadyzPath, 5, 2)},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", {"ALL"}}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
  };
  if (spec.contains("imagePullPolicy")) container["imagePullPolicy"] = spec["imagePullPolicy"];
  container["resources"] = spec.contains("resources")
                               ? spec["resources"]
                               : json{{"requests", {{"cpu", "250m"}, {"memory", "256Mi"}}},
                                      {"limits", {{"memory", "1Gi"}}}};

  json mounts = {
      {{"name", "config"}, {"mountPath", std::string(config::kConfigDir)}, {"readOnly", true}},
      {{"name", "data"}, {"mountPath", std::string(config::kDataDir)}},
      {{"name", "tmp"}, {"mountPath", "/tmp"}}};
  json volumes = {
      {{"name", "config"}, {"configMap", {{"name", ConfigMapName(pipeline, input.config_text)}}}},
      {{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "64Mi"}}}}};
  for (const SecretMount& m : ReferencedSecrets(spec)) {
    mounts.push_back({{"name", m.volume_name}, {"mountPath", m.mount_dir}, {"readOnly", true}});
    // Mounted, never copied: the operator does not read Secret values. 0440 with fsGroup: readable
    // by the ingest only.
    volumes.push_back({{"name", m.volume_name},
                       {"secret", {{"secretName", m.secret_name}, {"defaultMode", 0440}}}});
  }
  container["volumeMounts"] = mounts;

  json pod_labels = SelectorLabels(pipeline);
  if (spec.contains("podLabels") && spec["podLabels"].is_object()) {
    for (const auto& [k, v] : spec["podLabels"].items()) {
      if (!pod_labels.contains(k)) pod_labels[k] = v;  // the selector's labels win
    }
  }
  pod_labels[kComponentLabel] = "ingest";
  pod_labels[kPartOfLabel] = "cohort";
  json pod_annotations = json::object();
  if (spec.contains("podAnnotations") && spec["podAnnotations"].is_object()) {
    pod_annotations = spec["podAnnotations"];
  }
  pod_annotations[kConfigHashAnnotation] = ConfigHash(input);

  json pod_spec = {
      {"serviceAccountName", ServiceAccountName(pipeline)},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"terminationGracePeriodSeconds", kTerminationGracePeriodSeconds},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", kRunAsUser},
        {"runAsGroup", kRunAsUser},
        {"fsGroup", kRunAsUser},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", {container}},
      {"volumes", volumes},
  };
  for (const char* key : {"nodeSelector", "tolerations", "affinity", "priorityClassName"}) {
    if (spec.contains(key)) pod_spec[key] = spec[key];
  }

  const bool embedded = UsesEmbeddedStorage(spec);
  const json& embedded_spec =
      spec.value("storage", json::object()).value("embedded", json::object());
  json claim_spec = {{"accessModes", {"ReadWriteOnce"}},
                     {"resources",
                      {{"requests",
                        {{"storage", embedded ? embedded_spec.value("size", json("10Gi"))
                                              : json(config.clickhouse_wal_volume_size)}}}}}};
  if (embedded && embedded_spec.contains("storageClassName")) {
    claim_spec["storageClassName"] = embedded_spec["storageClassName"];
  }
  // Embedded data follows spec.storage.embedded.reclaimPolicy when the pipeline is deleted. A
  // ClickHouse pipeline's volume holds only the WAL of events already on their way to ClickHouse:
  // it goes with the pipeline.
  const std::string when_deleted =
      embedded ? embedded_spec.value("reclaimPolicy", std::string("Retain")) : "Delete";

  json sts_spec = {
      {"serviceName", HeadlessServiceName(pipeline)},
      {"podManagementPolicy", "Parallel"},
      {"updateStrategy", {{"type", "RollingUpdate"}}},
      {"revisionHistoryLimit", 5},
      {"selector", {{"matchLabels", SelectorLabels(pipeline)}}},
      {"persistentVolumeClaimRetentionPolicy",
       {{"whenDeleted", when_deleted}, {"whenScaled", "Retain"}}},
      {"template",
       {{"metadata", {{"labels", pod_labels}, {"annotations", pod_annotations}}},
        {"spec", pod_spec}}},
      {"volumeClaimTemplates",
       {{{"apiVersion", "v1"},
         {"kind", "PersistentVolumeClaim"},
         {"metadata", {{"name", "data"}, {"labels", SelectorLabels(pipeline)}}},
         {"spec", claim_spec}}}},
  };
  // With an autoscaler the replica count is its to set: leaving the field out of the apply means
  // the operator never fights it.
  if (!HasAutoscaling(spec)) sts_spec["replicas"] = spec.value("replicas", 1);

  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata",
           {{"name", StatefulSetName(pipeline)},
            {"namespace", PipelineNamespace(pipeline)},
            {"labels", ChildLabels(pipeline, "ingest")}}},
          {"spec", sts_spec}};
}

}  // namespace cohort::controllers
