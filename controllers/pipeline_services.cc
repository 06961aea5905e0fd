// The pipeline's Services (the endpoint clients send to, and the headless Service that gives the
// StatefulSet's pods stable names), its scaling objects (PodDisruptionBudget, autoscaler), its
// NetworkPolicy, and the list of everything in apply order.
#include "absl/strings/str_cat.h"
#include "config/ingest_config.h"
#include "controllers/pipeline_objects.h"

namespace cohort::controllers {
namespace {

using nlohmann::json;

json ServicePorts() {
  json ports = json::array();
  for (const auto& [name, port] : {std::pair{config::kIngestPortName, config::kIngestPort},
                                   std::pair{config::kQueryPortName, config::kQueryPort},
                                   std::pair{config::kMetricsPortName, config::kMetricsPort}}) {
    ports.push_back({{"name", std::string(name)},
                     {"port", port},
                     {"targetPort", std::string(name)},
                     {"protocol", "TCP"}});
  }
  return ports;
}

json Metadata(const PipelineInput& input, const std::string& name, const std::string& component) {
  return {{"name", name},
          {"namespace", PipelineNamespace(input.pipeline)},
          {"labels", ChildLabels(input.pipeline, component)}};
}

int MaxReplicas(const json& spec) {
  if (HasAutoscaling(spec)) return spec["autoscaling"].value("maxReplicas", 1);
  return spec.value("replicas", 1);
}

}  // namespace

json BuildService(const PipelineInput& input) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(input, ServiceName(input.pipeline), "ingest")},
          {"spec",
           {{"type", "ClusterIP"},
            {"selector", SelectorLabels(input.pipeline)},
            {"ports", ServicePorts()}}}};
}

json BuildHeadlessService(const PipelineInput& input) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(input, HeadlessServiceName(input.pipeline), "ingest")},
          {"spec",
           {{"clusterIP", "None"},
            {"publishNotReadyAddresses", true},
            {"selector", SelectorLabels(input.pipeline)},
            {"ports", ServicePorts()}}}};
}

std::optional<json> BuildPodDisruptionBudget(const PipelineInput& input) {
  if (MaxReplicas(PipelineSpec(input.pipeline)) <= 1) return std::nullopt;
  return json{
      {"apiVersion", "policy/v1"},
      {"kind", "PodDisruptionBudget"},
      {"metadata", Metadata(input, StatefulSetName(input.pipeline), "ingest")},
      {"spec",
       {{"maxUnavailable", 1}, {"selector", {{"matchLabels", SelectorLabels(input.pipeline)}}}}}};
}

std::optional<json> BuildHorizontalPodAutoscaler(const PipelineInput& input) {
  const json& spec = PipelineSpec(input.pipeline);
  if (!HasAutoscaling(spec)) return std::nullopt;
  const json& a = spec["autoscaling"];
  return json{
      {"apiVersion", "autoscaling/v2"},
      {"kind", "HorizontalPodAutoscaler"},
      {"metadata", Metadata(input, StatefulSetName(input.pipeline), "ingest")},
      {"spec",
       {{"scaleTargetRef",
         {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"name", StatefulSetName(input.pipeline)}}},
        {"minReplicas", a.value("minReplicas", 1)},
        {"maxReplicas", a.value("maxReplicas", 1)},
        {"metrics",
         {{{"type", "Resource"},
           {"resource",
            {{"name", "cpu"},
             {"target",
              {{"type", "Utilization"},
               {"averageUtilization", a.value("targetCPUUtilizationPercentage", 80)}}}}}}}}}}};
}

std::optional<json> BuildNetworkPolicy(const PipelineInput& input, const OperatorConfig& config) {
  const json& spec = PipelineSpec(input.pipeline);
  const json np = spec.value("networkPolicy", json::object());
  if (!np.value("enabled", false)) return std::nullopt;
  auto port = [](std::string_view name) {
    return json{{"protocol", "TCP"}, {"port", std::string(name)}};
  };
  // Ingest: from the listed peers, or from anywhere when none are listed.
  json ingest_rule = {{"ports", {port(config::kIngestPortName)}}};
  json peers = np.value("ingressFrom", json::array());
  if (!peers.empty()) ingest_rule["from"] = peers;
  // Query: the same peers, plus the operator (RetentionAlert and Dashboard status).
  json query_from = peers;
  query_from.push_back(
      {{"namespaceSelector",
        {{"matchLabels", {{"kubernetes.io/metadata.name", config.operator_namespace}}}}},
       {"podSelector", {{"matchLabels", {{kNameLabel, "cohort-operator"}}}}}});
  json query_rule = {{"ports", {port(config::kQueryPortName)}}};
  if (!peers.empty()) query_rule["from"] = query_from;
  // Metrics and health: open (Prometheus scrapes, kubelet probes).
  json metrics_rule = {{"ports", {port(config::kMetricsPortName)}}};
  return json{{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "NetworkPolicy"},
              {"metadata", Metadata(input, StatefulSetName(input.pipeline), "ingest")},
              {"spec",
               {{"podSelector", {{"matchLabels", SelectorLabels(input.pipeline)}}},
                {"policyTypes", {"Ingress"}},
                {"ingress", {ingest_rule, query_rule, metrics_rule}}}}};
}

std::vector<json> BuildPipelineObjects(const PipelineInput& input, const OperatorConfig& config) {
  std::vector<json> objects;
  if (auto sa = BuildServiceAccount(input)) objects.push_back(*std::move(sa));
  objects.push_back(BuildConfigMap(input));
  objects.push_back(BuildHeadlessService(input));
  objects.push_back(BuildService(input));
  objects.push_back(BuildStatefulSet(input, config));
  if (auto pdb = BuildPodDisruptionBudget(input)) objects.push_back(*std::move(pdb));
  if (auto hpa = BuildHorizontalPodAutoscaler(input)) objects.push_back(*std::move(hpa));
  if (auto np = BuildNetworkPolicy(input, config)) objects.push_back(*std::move(np));
  return objects;
}

}  // namespace cohort::controllers
