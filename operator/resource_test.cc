#include "operator/resource.h"

#include "gtest/gtest.h"

namespace cohort::op {
namespace {

TEST(ResourceTypeTest, CorePaths) {
  const ResourceType& cm = resources::kConfigMaps;
  EXPECT_EQ(cm.ApiVersion(), "v1");
  EXPECT_EQ(cm.CollectionPath("ns1"), "/api/v1/namespaces/ns1/configmaps");
  EXPECT_EQ(cm.CollectionPath(""), "/api/v1/configmaps");
  EXPECT_EQ(cm.ObjectPath("ns1", "a"), "/api/v1/namespaces/ns1/configmaps/a");
  EXPECT_EQ(cm.GroupResource(), "configmaps");
}

TEST(ResourceTypeTest, GroupPathsAndSubresources) {
  const ResourceType& d = resources::kDeployments;
  EXPECT_EQ(d.ApiVersion(), "apps/v1");
  EXPECT_EQ(d.ObjectPath("ns", "web", "status"),
            "/apis/apps/v1/namespaces/ns/deployments/web/status");
  EXPECT_EQ(d.GroupResource(), "deployments.apps");
}

TEST(ResourceTypeTest, ClusterScopedIgnoresNamespace) {
  EXPECT_EQ(resources::kNamespaces.ObjectPath("ignored", "kube-system"),
            "/api/v1/namespaces/kube-system");
  EXPECT_EQ(resources::kCustomResourceDefinitions.CollectionPath("x"),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
}

TEST(QueryEscapeTest, EscapesReservedCharacters) {
  EXPECT_EQ(QueryEscape("app=web,tier!=db"), "app%3Dweb%2Ctier%21%3Ddb");
  EXPECT_EQ(QueryEscape("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(QueryEscape("x y/z"), "x%20y%2Fz");
}

}  // namespace
}  // namespace cohort::op
