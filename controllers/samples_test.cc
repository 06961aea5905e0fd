// The samples in manifests/samples/ against this library: every Secret a sample pipeline references
// is in the same file with the referenced key (the CRD's default keys where none is named), each
// value parses with the parser of its format (secret_files.h: api-keys and query-keys lines, the
// Dify pair and single values), and the pipeline renders (RenderPipelineConfig, as the operator
// does) into a valid config.
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "config/ingest_config.h"
#include "config/secret_files.h"
#include "controllers/pipeline_objects.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace cohort::controllers {
namespace {

using namespace ::cohort::config;  // the parsers and types under test

using nlohmann::json;

// YAML as JSON, with YAML 1.2 core-schema types for plain scalars (quoted ones stay strings).
json ToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    json out = json::object();
    for (const auto& entry : node) out[entry.first.as<std::string>()] = ToJson(entry.second);
    return out;
  }
  if (node.IsSequence()) {
    json out = json::array();
    for (const YAML::Node& element : node) out.push_back(ToJson(element));
    return out;
  }
  if (!node.IsScalar()) return nullptr;
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted
  int64_t i = 0;
  if (s == "true" || s == "false") return s == "true";
  if (s == "null" || s == "~") return nullptr;
  if (!s.empty() && s.find_first_not_of("-0123456789") == std::string::npos &&
      absl::SimpleAtoi(s, &i)) {
    return i;
  }
  return s;
}

struct Sample {
  std::string file;
  std::map<std::string, std::map<std::string, std::string>> secrets;  // name → key → value
  std::vector<json> pipelines;
};

std::vector<Sample> LoadSamples() {
  std::vector<Sample> samples;
  const std::filesystem::path dir = std::filesystem::path(COHORT_SOURCE_DIR) / "manifests/samples";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    Sample sample;
    sample.file = entry.path().filename().string();
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAllFromFile(entry.path().string());
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << sample.file << ": " << e.what();
      continue;
    }
    for (const YAML::Node& document : documents) {
      const json object = ToJson(document);
      if (!object.is_object()) continue;
      const std::string kind = object.value("kind", "");
      if (kind == "AnalyticsPipeline") {
        sample.pipelines.push_back(object);
      } else if (kind == "Secret") {
        auto& secret = sample.secrets[object["metadata"].value("name", "")];
        const json string_data = object.value("stringData", json::object());
        const json data = object.value("data", json::object());
        for (const auto& [key, value] : string_data.items()) {
          secret[key] = value.get<std::string>();
        }
        for (const auto& [key, value] : data.items()) {
          EXPECT_TRUE(absl::Base64Unescape(value.get<std::string>(), &secret[key]))
              << sample.file << ": Secret data " << key;
        }
      }
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

const json& At(const json& object, const char* key) {
  static const json kEmpty = json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

// The value of the Secret key a reference names (`key_field`, else `default_key`); a test failure
// and nullptr if the sample does not carry it.
const std::string* Referenced(const Sample& sample, const json& ref, const char* key_field,
                              std::string_view default_key) {
  const std::string name = ref.value("name", "");
  const std::string key = ref.value(key_field, std::string(default_key));
  auto secret = sample.secrets.find(name);
  if (secret == sample.secrets.end()) {
    ADD_FAILURE() << sample.file << ": references Secret " << name << ", which it does not carry";
    return nullptr;
  }
  auto value = secret->second.find(key);
  if (value == secret->second.end()) {
    ADD_FAILURE() << sample.file << ": Secret " << name << " has no key " << key;
    return nullptr;
  }
  return &value->second;
}

// The first column of every key line (blank and comment lines skipped), as ApiKeySet reads them.
std::vector<std::string> KeyColumn(const std::string& text) {
  std::vector<std::string> keys;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    keys.emplace_back(*absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty()).begin());
  }
  return keys;
}

// The config document the operator renders from `spec`: the shared sections as they are, Secret
// references as the files they are mounted at, pod-only fields left out.
TEST(Samples, ThereAreSamplePipelines) {
  int pipelines = 0;
  for (const Sample& sample : LoadSamples()) pipelines += sample.pipelines.size();
  EXPECT_GE(pipelines, 2);
}

TEST(Samples, SecretsParseInTheirFormats) {
  for (const Sample& sample : LoadSamples()) {
    for (const json& pipeline : sample.pipelines) {
      SCOPED_TRACE(absl::StrCat(sample.file, ": ", pipeline["metadata"].value("name", "")));
      const json& spec = At(pipeline, "spec");
      const json& auth = At(spec, "auth");

      // api-keys: the projects their keys send to.
      std::vector<std::string> projects;
      if (const std::string* text =
              Referenced(sample, At(auth, "apiKeysSecretRef"), "key", kDefaultApiKeysKey)) {
        absl::StatusOr<ApiKeySet> keys = ApiKeySet::Parse(*text);
        ASSERT_TRUE(keys.ok()) << keys.status();
        for (const std::string& key : KeyColumn(*text)) {
          const ApiKeyGrant* grant = keys->Find(key);
          ASSERT_NE(grant, nullptr);
          projects.push_back(grant->project);
        }
        EXPECT_EQ(projects.size(), keys->size());
      }
      const bool dify = At(At(spec, "sources"), "dify").value("enabled", false);
      if (dify) projects.emplace_back(kDifyProject);

      // query-keys: only projects that receive events.
      if (auth.contains("queryKeysSecretRef")) {
        const std::string* text =
            Referenced(sample, At(auth, "queryKeysSecretRef"), "key", kDefaultQueryKeysKey);
        ASSERT_NE(text, nullptr);
        absl::StatusOr<QueryKeySet> keys = QueryKeySet::Parse(*text);
        ASSERT_TRUE(keys.ok()) << keys.status();
        for (const std::string& key : KeyColumn(*text)) {
          const QueryKeyGrant* grant = keys->Find(key);
          ASSERT_NE(grant, nullptr);
          for (const std::string& project : grant->projects) {
            EXPECT_TRUE(std::find(projects.begin(), projects.end(), project) != projects.end())
                << "a query key grants project " << project << ", which no source writes to";
          }
        }
      }

      if (auth.contains("difyKeysSecretRef") || dify) {
        const json& ref = At(auth, "difyKeysSecretRef");
        const std::string* public_key =
            Referenced(sample, ref, "publicKeyKey", kDefaultDifyPublicKeyKey);
        const std::string* secret_key =
            Referenced(sample, ref, "secretKeyKey", kDefaultDifySecretKeyKey);
        if (public_key != nullptr && secret_key != nullptr) {
          absl::StatusOr<DifyKeyPair> pair = DifyKeyPair::Parse(*public_key, *secret_key);
          EXPECT_TRUE(pair.ok()) << pair.status();
        }
      }

      const json& ch = At(At(spec, "storage"), "clickhouse");
      if (ch.contains("credentialsSecretRef")) {
        const json& ref = At(ch, "credentialsSecretRef");
        for (const auto& [field, key] : {std::pair{"usernameKey", kDefaultClickHouseUsernameKey},
                                         std::pair{"passwordKey", kDefaultClickHousePasswordKey}}) {
          if (const std::string* value = Referenced(sample, ref, field, key)) {
            absl::StatusOr<SecretValue> parsed = ParseSecretValue(*value, field);
            EXPECT_TRUE(parsed.ok()) << parsed.status();
          }
        }
      }

      for (const json& d : spec.value("destinations", json::array())) {
        if (const std::string* value = Referenced(sample, At(At(d, "amplitude"), "apiKeySecretRef"),
                                                  "key", kDefaultDestinationApiKeyKey)) {
          absl::StatusOr<SecretValue> parsed = ParseSecretValue(*value, d.value("name", ""));
          EXPECT_TRUE(parsed.ok()) << parsed.status();
        }
      }

      if (spec.contains("tls")) {
        const json ref = {{"name", At(spec, "tls").value("secretName", "")}};
        EXPECT_NE(Referenced(sample, ref, "key", "tls.crt"), nullptr);
        EXPECT_NE(Referenced(sample, ref, "key", "tls.key"), nullptr);
      }
    }
  }
}

TEST(Samples, SpecsRenderValidConfigs) {
  for (const Sample& sample : LoadSamples()) {
    for (const json& pipeline : sample.pipelines) {
      // The operator's own rendering (defaults the API server would add are the config's too).
      absl::StatusOr<std::string> text = RenderPipelineConfig(pipeline, OperatorConfig{});
      ASSERT_TRUE(text.ok()) << sample.file << ": " << text.status();
      EXPECT_TRUE(config::ParseIngestConfig(*text).ok()) << sample.file;
    }
  }
}

}  // namespace
}  // namespace cohort::controllers
