// The desired objects of a pipeline: golden files for a minimal and a full pipeline (rewrite them
// with COHORT_UPDATE_GOLDEN=1 and review the diff), and the properties that must hold whatever the
// golden files say: restricted pods, stable selectors, hashes that follow config and Secrets.
#include "controllers/pipeline_objects.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TestData(const std::string& name) {
  return std::string(COHORT_CONTROLLERS_TESTDATA) + "/" + name;
}

json LoadPipeline(const std::string& name) {
  return json::parse(ReadFile(TestData(name + ".pipeline.json")));
}

PipelineInput InputFor(const json& pipeline) {
  PipelineInput input;
  input.pipeline = pipeline;
  absl::StatusOr<std::string> text = RenderPipelineConfig(pipeline, OperatorConfig{});
  EXPECT_TRUE(text.ok()) << text.status();
  input.config_text = text.ok() ? *text : "";
  for (const SecretMount& m : ReferencedSecrets(PipelineSpec(pipeline))) {
    input.secret_versions[m.secret_name] = "100";
  }
  return input;
}

const json* FindKind(const std::vector<json>& objects, const std::string& kind,
                     const std::string& name = "") {
  for (const json& o : objects) {
    if (o["kind"] == kind && (name.empty() || o["metadata"]["name"] == name)) return &o;
  }
  return nullptr;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, ObjectsMatchGoldenFile) {
  const json pipeline = LoadPipeline(GetParam());
  const std::vector<json> objects = BuildPipelineObjects(InputFor(pipeline), OperatorConfig{});
  const std::string got = json(objects).dump(2) + "\n";
  const std::string path = TestData(GetParam() + ".golden.json");
  if (std::getenv("COHORT_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << got;
    GTEST_SKIP() << "rewrote " << path;
  }
  EXPECT_EQ(got, ReadFile(path)) << "rerun with COHORT_UPDATE_GOLDEN=1 to update " << path;
}

INSTANTIATE_TEST_SUITE_P(Pipelines, GoldenTest, ::testing::Values("minimal", "full"));

TEST(PipelineObjectsTest, MinimalPipelineHasTheBasicSet) {
  const std::vector<json> objects =
      BuildPipelineObjects(InputFor(LoadPipeline("minimal")), OperatorConfig{});
  std::vector<std::string> kinds;
  for (const json& o : objects) kinds.push_back(o["kind"]);
  EXPECT_THAT(kinds, ::testing::ElementsAre("ServiceAccount", "ConfigMap", "Service", "Service",
                                            "StatefulSet"));
  const json& sts = *FindKind(objects, "StatefulSet");
  EXPECT_EQ(sts["spec"]["replicas"], 1);
  EXPECT_EQ(sts["spec"]["template"]["spec"]["containers"][0]["image"],
            OperatorConfig{}.default_image);
  EXPECT_EQ(sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Retain");
  EXPECT_EQ(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            "10Gi");
}

TEST(PipelineObjectsTest, PodsPassTheRestrictedPodSecurityStandard) {
  for (const std::string name : {"minimal", "full"}) {
    const json sts = BuildStatefulSet(InputFor(LoadPipeline(name)), OperatorConfig{});
    const json& pod = sts["spec"]["template"]["spec"];
    EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true) << name;
    EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault") << name;
    EXPECT_EQ(pod["automountServiceAccountToken"], false) << name;
    for (const json& c : pod["containers"]) {
      EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false) << name;
      EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true) << name;
      EXPECT_EQ(c["securityContext"]["capabilities"]["drop"], json({"ALL"})) << name;
      EXPECT_TRUE(c.contains("livenessProbe") && c.contains("readinessProbe") &&
                  c.contains("startupProbe"))
          << name;
      EXPECT_TRUE(c["resources"].contains("requests")) << name;
    }
    for (const json& v : pod["volumes"]) {
      EXPECT_FALSE(v.contains("hostPath")) << name;
    }
  }
}

TEST(PipelineObjectsTest, SelectorIsStableAndPodLabelsCannotOverrideIt) {
  const json pipeline = LoadPipeline("full");
  const json sts = BuildStatefulSet(InputFor(pipeline), OperatorConfig{});
  const json selector = sts["spec"]["selector"]["matchLabels"];
  EXPECT_EQ(selector, json({{"app.kubernetes.io/name", "cohort-ingest"},
                            {"app.kubernetes.io/instance", "chat"}}));
  const json& labels = sts["spec"]["template"]["metadata"]["labels"];
  EXPECT_EQ(labels["app.kubernetes.io/name"], "cohort-ingest");
  EXPECT_EQ(labels["team"], "growth");
}

TEST(PipelineObjectsTest, FullPipelineScalesWithTheAutoscalerAndMountsEverySecret) {
  const std::vector<json> objects =
      BuildPipelineObjects(InputFor(LoadPipeline("full")), OperatorConfig{});
  const json& sts = *FindKind(objects, "StatefulSet");
  // The autoscaler owns the replica count: the apply leaves it out.
  EXPECT_FALSE(sts["spec"].contains("replicas"));
  ASSERT_NE(FindKind(objects, "HorizontalPodAutoscaler"), nullptr);
  ASSERT_NE(FindKind(objects, "PodDisruptionBudget"), nullptr);
  ASSERT_NE(FindKind(objects, "NetworkPolicy"), nullptr);
  // ClickHouse pipelines keep only a WAL, which goes with the pipeline.
  EXPECT_EQ(sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Delete");
  std::set<std::string> secrets;
  for (const json& v : sts["spec"]["template"]["spec"]["volumes"]) {
    if (v.contains("secret")) secrets.insert(v["secret"]["secretName"].get<std::string>());
  }
  EXPECT_EQ(secrets, (std::set<std::string>{"chat-keys", "chat-dify", "chat-clickhouse",
                                            "chat-amplitude", "chat-tls"}));
  // Secrets are referenced, never copied into the config.
  const json& cm = *FindKind(objects, "ConfigMap");
  const std::string config = cm["data"]["config.yaml"];
  EXPECT_THAT(config, HasSubstr("/etc/cohort/secrets/destination-amplitude-eu/api-key"));
  EXPECT_THAT(config,
              HasSubstr("\"queryKeysFile\": \"/etc/cohort/secrets/query-keys/query-keys\""));
  EXPECT_EQ(cm["immutable"], true);
}

TEST(PipelineObjectsTest, HashesFollowTheConfigAndTheSecretsOnly) {
  const json pipeline = LoadPipeline("minimal");
  PipelineInput a = InputFor(pipeline);
  PipelineInput b = a;
  EXPECT_EQ(ConfigHash(a), ConfigHash(b));
  b.secret_versions["shop-keys"] = "101";  // a rotated key
  EXPECT_NE(ConfigHash(a), ConfigHash(b));
  EXPECT_EQ(ConfigMapName(pipeline, a.config_text), ConfigMapName(pipeline, b.config_text));

  json changed = pipeline;
  changed["spec"]["limits"]["maxConnections"] = 2048;
  PipelineInput c = InputFor(changed);
  EXPECT_NE(ConfigMapName(pipeline, a.config_text), ConfigMapName(changed, c.config_text));
  EXPECT_NE(ConfigHash(a), ConfigHash(c));

  // Fields that shape only the pod leave the config (and its ConfigMap) alone.
  json scaled = pipeline;
  scaled["spec"]["replicas"] = 0;
  EXPECT_EQ(InputFor(scaled).config_text, a.config_text);
}

TEST(PipelineObjectsTest, ServiceAccountOfTheUserIsUsedNotCreated) {
  json pipeline = LoadPipeline("minimal");
  pipeline["spec"]["serviceAccountName"] = "shared-sa";
  PipelineInput input = InputFor(pipeline);
  EXPECT_FALSE(BuildServiceAccount(input).has_value());
  EXPECT_EQ(
      BuildStatefulSet(input, OperatorConfig{})["spec"]["template"]["spec"]["serviceAccountName"],
      "shared-sa");
}

TEST(PipelineObjectsTest, RenderErrorsNameTheSpecField) {
  json pipeline = LoadPipeline("minimal");
  pipeline["spec"]["mapping"] = {{{"name", "bad"},
                                  {"match", json::object()},
                                  {"action", "Extract"},
                                  {"target", "x"},
                                  {"from", "y"},
                                  {"regex", "(unclosed"}}};
  absl::StatusOr<std::string> text = RenderPipelineConfig(pipeline, OperatorConfig{});
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("spec: mapping[0].regex"));
}

TEST(PipelineObjectsTest, EndpointFollowsTls) {
  EXPECT_EQ(Endpoint(LoadPipeline("minimal")), "http://shop.analytics.svc:8080");
  EXPECT_EQ(Endpoint(LoadPipeline("full")), "https://chat.llm.svc:8080");
}

}  // namespace
}  // namespace cohort::controllers
