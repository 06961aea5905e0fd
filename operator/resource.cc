#include "operator/resource.h"

#include "absl/strings/str_cat.h"

namespace cohort::op {

std::string ResourceType::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

std::string ResourceType::GroupVersionPath() const {
  return group.empty() ? absl::StrCat("/api/", version)
                       : absl::StrCat("/apis/", group, "/", version);
}

std::string ResourceType::CollectionPath(std::string_view ns) const {
  if (!namespaced || ns.empty()) return absl::StrCat(GroupVersionPath(), "/", resource);
  return absl::StrCat(GroupVersionPath(), "/namespaces/", std::string(ns), "/", resource);
}

std::string ResourceType::ObjectPath(std::string_view ns, std::string_view name,
                                     std::string_view subresource) const {
  std::string path = absl::StrCat(CollectionPath(namespaced ? ns : ""), "/", std::string(name));
  if (!subresource.empty()) absl::StrAppend(&path, "/", std::string(subresource));
  return path;
}

std::string ResourceType::GroupResource() const {
  return group.empty() ? resource : absl::StrCat(resource, ".", group);
}

namespace resources {
const ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
const ResourceType kSecrets{"", "v1", "secrets", "Secret", true};
const ResourceType kServices{"", "v1", "services", "Service", true};
const ResourceType kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
const ResourceType kPods{"", "v1", "pods", "Pod", true};
const ResourceType kNamespaces{"", "v1", "namespaces", "Namespace", false};
const ResourceType kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims",
                                           "PersistentVolumeClaim", true};
const ResourceType kEvents{"events.k8s.io", "v1", "events", "Event", true};
const ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const ResourceType kDeployments{"apps", "v1", "deployments", "Deployment", true};
const ResourceType kStatefulSets{"apps", "v1", "statefulsets", "StatefulSet", true};
const ResourceType kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets",
                                         "PodDisruptionBudget", true};
const ResourceType kHorizontalPodAutoscalers{"autoscaling", "v2", "horizontalpodautoscalers",
                                             "HorizontalPodAutoscaler", true};
const ResourceType kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy",
                                    true};
const ResourceType kCustomResourceDefinitions{
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
}  // namespace resources

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace cohort::op
