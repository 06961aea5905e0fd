// Naming a kind of Kubernetes object on the wire: group, version, plural resource name, Kind and
// scope, and the REST paths built from them. Well-known built-in types are constants; any other
// (custom resources included) comes from discovery (KubeClient::Resolve).
#pragma once

#include <string>
#include <string_view>

namespace cohort::op {

struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lower case: "configmaps"
  std::string kind;      // "ConfigMap"
  bool namespaced = true;

  // "v1" for the core group, else "group/version" — the apiVersion field of objects.
  std::string ApiVersion() const;
  // "/api/v1" or "/apis/group/version".
  std::string GroupVersionPath() const;
  // The collection: ".../namespaces/{ns}/{resource}", or ".../{resource}" when `ns` is empty
  // (all namespaces) or the type is cluster-scoped. `ns` and names must be valid DNS labels /
  // subdomains (the API server rejects anything else); they are not escaped.
  std::string CollectionPath(std::string_view ns) const;
  // One object, optionally a subresource ("status", "scale").
  std::string ObjectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = "") const;
  // "configmaps" or "deployments.apps": the name RBAC rules and kubectl use.
  std::string GroupResource() const;

  friend bool operator==(const ResourceType&, const ResourceType&) = default;
};

namespace resources {
extern const ResourceType kConfigMaps;
extern const ResourceType kSecrets;
extern const ResourceType kServices;
extern const ResourceType kServiceAccounts;
extern const ResourceType kPods;
extern const ResourceType kNamespaces;
extern const ResourceType kPersistentVolumeClaims;
extern const ResourceType kEvents;  // events.k8s.io/v1
extern const ResourceType kLeases;  // coordination.k8s.io/v1
extern const ResourceType kDeployments;
extern const ResourceType kStatefulSets;
extern const ResourceType kPodDisruptionBudgets;
extern const ResourceType kHorizontalPodAutoscalers;
extern const ResourceType kNetworkPolicies;
extern const ResourceType kCustomResourceDefinitions;
}  // namespace resources

// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
std::string QueryEscape(std::string_view value);

}  // namespace cohort::op
