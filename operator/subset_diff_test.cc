#include "operator/subset_diff.h"

#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using nlohmann::json;

struct Case {
  const char* name;
  const char* desired;
  const char* live;
  // "" when desired ⊆ live, else the path SubsetDiff must report.
  const char* diff;
};

class SubsetDiffTest : public ::testing::TestWithParam<Case> {};

TEST_P(SubsetDiffTest, Table) {
  const Case& c = GetParam();
  std::optional<std::string> diff = SubsetDiff(json::parse(c.desired), json::parse(c.live));
  if (std::string(c.diff).empty()) {
    EXPECT_FALSE(diff.has_value()) << "unexpected difference at " << *diff;
  } else {
    ASSERT_TRUE(diff.has_value()) << "no difference found";
    EXPECT_EQ(*diff, c.diff);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rules, SubsetDiffTest,
    ::testing::Values(
        // Plain subsets: extra live fields (defaults, other managers, server metadata) are fine.
        Case{"Equal", R"({"a":1})", R"({"a":1})", ""},
        Case{"ExtraLiveKeys", R"({"a":1})", R"({"a":1,"b":2,"metadata":{"uid":"x"}})", ""},
        Case{"ScalarDiffers", R"({"spec":{"replicas":2}})", R"({"spec":{"replicas":3}})",
             "spec.replicas"},
        Case{"MissingLiveKey", R"({"data":{"k":"v"}})", R"({"data":{}})", "data.k"},
        Case{"MissingLiveObject", R"({"data":{"k":"v"}})", R"({})", "data.k"},
        Case{"TypeMismatch", R"({"a":{"b":1}})", R"({"a":"x"})", "a"},
        Case{"DottedKeyPath", R"({"metadata":{"labels":{"app.kubernetes.io/name":"x"}}})",
             R"({"metadata":{"labels":{"app.kubernetes.io/name":"y"}}})",
             R"(metadata.labels["app.kubernetes.io/name"])"},
        Case{"BoolDiffers", R"({"a":true})", R"({"a":false})", "a"},
        Case{"StringDiffers", R"({"image":"nginx:1.25"})", R"({"image":"nginx:1.26"})", "image"},
        // Quantities: the server's canonical form equals what we asked for.
        Case{"MilliCpu", R"({"cpu":"1000m"})", R"({"cpu":"1"})", ""},
        Case{"HalfCpu", R"({"cpu":"0.5"})", R"({"cpu":"500m"})", ""},
        Case{"HalfCpuAsNumber", R"({"cpu":0.5})", R"({"cpu":"500m"})", ""},
        Case{"CpuAsInteger", R"({"cpu":2})", R"({"cpu":"2"})", ""},
        Case{"Gibibyte", R"({"memory":"1Gi"})", R"({"memory":"1073741824"})", ""},
        Case{"GibibyteAsNumber", R"({"memory":1073741824})", R"({"memory":"1Gi"})", ""},
        Case{"FractionalBinary", R"({"memory":"1.5Gi"})", R"({"memory":"1536Mi"})", ""},
        Case{"QuantityDiffers", R"({"memory":"1Gi"})", R"({"memory":"1G"})", "memory"},
        // Ports: int vs string of the same number, and a named port.
        Case{"PortIntVsString", R"({"targetPort":8080})", R"({"targetPort":"8080"})", ""},
        Case{"NamedPort", R"({"targetPort":"http"})", R"({"targetPort":"http"})", ""},
        Case{"NamedPortDiffers", R"({"targetPort":"http"})", R"({"targetPort":8080})",
             "targetPort"},
        Case{"IntVsFloat", R"({"a":1})", R"({"a":1.0})", ""},
        // Zero values equal absence (omitempty on the server)...
        Case{"EmptyStringVsMissing", R"({"env":{"value":""}})", R"({"env":{}})", ""},
        Case{"FalseVsMissing", R"({"readOnly":false})", R"({})", ""},
        Case{"ZeroVsMissing", R"({"hostPort":0})", R"({})", ""},
        Case{"EmptyMapVsMissing", R"({"labels":{}})", R"({})", ""},
        Case{"EmptyListVsMissing", R"({"args":[]})", R"({})", ""},
        Case{"EmptyListVsNull", R"({"args":[]})", R"({"args":null})", ""},
        Case{"NestedEmptyVsMissing", R"({"resources":{"limits":{},"requests":{}}})", R"({})", ""},
        Case{"EmptyDirVsEmptyDir", R"({"emptyDir":{}})", R"({"emptyDir":{}})", ""},
        Case{"NullMatchesAnything", R"({"a":null})", R"({"a":{"b":1}})", ""},
        // ... but not a different non-zero live value.
        Case{"EmptyStringVsValue", R"({"a":""})", R"({"a":"x"})", "a"},
        Case{"FalseVsTrue", R"({"a":false})", R"({"a":true})", "a"},
        Case{"ZeroVsValue", R"({"replicas":0})", R"({"replicas":3})", "replicas"},
        Case{"EmptyListVsElements", R"({"args":[]})", R"({"args":["x"]})", "args"},
        Case{"EmptyMapVsEntries", R"({"labels":{}})", R"({"labels":{"a":"b"}})", ""},
        Case{"NonZeroVsMissing", R"({"a":"x"})", R"({})", "a"},
        // Lists of named objects are matched by name: order and extra live elements don't matter.
        Case{"ContainersByName",
             R"({"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]})",
             R"({"containers":[{"name":"b","image":"y","imagePullPolicy":"IfNotPresent"},
                               {"name":"a","image":"x","terminationMessagePath":"/dev/x"}]})",
             ""},
        Case{"ContainerImageDiffers", R"({"containers":[{"name":"a","image":"x"}]})",
             R"({"containers":[{"name":"a","image":"z"}]})", "containers[name=a].image"},
        Case{"ContainerMissing", R"({"containers":[{"name":"a"},{"name":"b"}]})",
             R"({"containers":[{"name":"a"}]})", "containers[name=b]"},
        Case{"ExtraLiveEnvIgnored", R"({"env":[{"name":"A","value":"1"}]})",
             R"({"env":[{"name":"B","value":"2"},{"name":"A","value":"1"}]})", ""},
        Case{"EnvEmptyValue", R"({"env":[{"name":"A","value":""}]})", R"({"env":[{"name":"A"}]})",
             ""},
        Case{"PortsByNameWithDefaults",
             R"({"ports":[{"name":"http","port":80,"targetPort":8080}]})",
             R"({"ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]})", ""},
        Case{"NestedNamedLists",
             R"({"spec":{"template":{"spec":{"containers":[{"name":"app","resources":
                 {"limits":{"cpu":"0.5","memory":"1Gi"}}}]}}}})",
             R"({"spec":{"template":{"spec":{"containers":[{"name":"app","resources":
                 {"limits":{"cpu":"500m","memory":"1Gi"}}}]}}}})",
             ""},
        Case{"NestedNamedListsDiffer",
             R"({"spec":{"template":{"spec":{"containers":[{"name":"app","resources":
                 {"limits":{"cpu":"1"}}}]}}}})",
             R"({"spec":{"template":{"spec":{"containers":[{"name":"app","resources":
                 {"limits":{"cpu":"500m"}}}]}}}})",
             "spec.template.spec.containers[name=app].resources.limits.cpu"},
        // Owner references are matched by uid.
        Case{
            "OwnerReferencesByUid",
            R"({"ownerReferences":[{"uid":"u1","name":"n","controller":true}]})",
            R"({"ownerReferences":[{"uid":"u0","name":"n"},{"uid":"u1","name":"n","controller":true}]})",
            ""},
        // Everything else by position, same length.
        Case{"ArgsEqual", R"({"args":["a","b"]})", R"({"args":["a","b"]})", ""},
        Case{"ArgsReordered", R"({"args":["a","b"]})", R"({"args":["b","a"]})", "args[0]"},
        Case{"ArgsLonger", R"({"args":["a"]})", R"({"args":["a","b"]})", "args"},
        Case{"UnnamedObjectsByPosition",
             R"({"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"resources":
                 {"requests":{"storage":"1Gi"}}}}]})",
             R"({"volumeClaimTemplates":[{"apiVersion":"v1","kind":"PersistentVolumeClaim",
                 "metadata":{"name":"data"},"spec":{"volumeMode":"Filesystem","resources":
                 {"requests":{"storage":"1Gi"}}},"status":{"phase":"Pending"}}]})",
             ""},
        Case{"UnnamedObjectDiffers", R"({"tolerations":[{"key":"a"},{"key":"b"}]})",
             R"({"tolerations":[{"key":"a"},{"key":"c"}]})", "tolerations[1].key"},
        Case{"DuplicateNamesByPosition",
             R"({"volumeMounts":[{"name":"v","mountPath":"/a"},{"name":"v","mountPath":"/b"}]})",
             R"({"volumeMounts":[{"name":"v","mountPath":"/b"},{"name":"v","mountPath":"/a"}]})",
             "volumeMounts[0].mountPath"},
        Case{"ListVsObject", R"({"a":[1]})", R"({"a":{"0":1}})", "a"},
        Case{"RootTypeMismatch", R"({"a":1})", R"([1])", "(root)"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(SemanticEqualTest, IsSymmetric) {
  const json a = json::parse(R"({"conditions":[{"type":"Ready","status":"True"}],"replicas":1})");
  EXPECT_TRUE(SemanticEqual(a, a));
  EXPECT_TRUE(SemanticEqual(a, json::parse(R"({"conditions":[{"type":"Ready","status":"True"}],
                                              "replicas":"1","endpoint":""})")));
  // A field present on one side only is a difference either way round.
  const json more = json::parse(R"({"conditions":[{"type":"Ready","status":"True"}],"replicas":1,
                                    "endpoint":"http://x"})");
  EXPECT_FALSE(SemanticEqual(a, more));
  EXPECT_FALSE(SemanticEqual(more, a));
  EXPECT_FALSE(SemanticEqual(
      a, json::parse(R"({"conditions":[{"type":"Ready","status":"False"}],"replicas":1})")));
  EXPECT_TRUE(SemanticEqual(json::object(), json()));
}

}  // namespace
}  // namespace cohort::op
