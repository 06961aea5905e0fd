// The pipeline's names and labels, the Secrets it references, its rendered ingest config and the
// ConfigMap holding it.
#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "config/config_version.h"
#include "config/ingest_config.h"
#include "controllers/pipeline_objects.h"

namespace cohort::controllers {
namespace {

using nlohmann::json;

const json& Child(const json& object, const char* key) {
  static const json kEmpty = json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

std::string Str(const json& object, const char* key, const std::string& fallback = "") {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string SecretPath(std::string_view dir, const std::string& key) {
  return config::SecretFilePath(dir, key);
}

}  // namespace

std::string PipelineName(const json& pipeline) { return Str(Child(pipeline, "metadata"), "name"); }
std::string PipelineNamespace(const json& pipeline) {
  return Str(Child(pipeline, "metadata"), "namespace");
}
const json& PipelineSpec(const json& pipeline) { return Child(pipeline, "spec"); }
bool UsesEmbeddedStorage(const json& spec) {
  return !Child(spec, "storage").contains("clickhouse");
}
bool HasAutoscaling(const json& spec) { return spec.contains("autoscaling"); }

std::string StatefulSetName(const json& pipeline) { return PipelineName(pipeline); }
std::string ServiceName(const json& pipeline) { return PipelineName(pipeline); }
std::string HeadlessServiceName(const json& pipeline) {
  return PipelineName(pipeline) + "-headless";
}
std::string ServiceAccountName(const json& pipeline) {
  const std::string own = Str(PipelineSpec(pipeline), "serviceAccountName");
  return own.empty() ? PipelineName(pipeline) + "-ingest" : own;
}
std::string ConfigMapName(const json& pipeline, const std::string& config_text) {
  return absl::StrCat(PipelineName(pipeline), "-config-", Sha256Hex(config_text).substr(0, 10));
}

json SelectorLabels(const json& pipeline) {
  return {{kNameLabel, kIngestName}, {kInstanceLabel, PipelineName(pipeline)}};
}

json ChildLabels(const json& pipeline, const std::string& component) {
  json labels = SelectorLabels(pipeline);
  labels[kComponentLabel] = component;
  labels[kPartOfLabel] = "cohort";
  return labels;
}

std::vector<SecretMount> ReferencedSecrets(const json& spec) {
  std::vector<SecretMount> mounts;
  auto add = [&](const std::string& secret, const std::string& volume, std::string_view dir) {
    if (secret.empty()) return;
    mounts.push_back(
        {secret, volume, absl::StrCat(std::string(config::kSecretsDir), "/", std::string(dir))});
  };
  const json& auth = Child(spec, "auth");
  add(Str(Child(auth, "apiKeysSecretRef"), "name"), "secret-api-keys", config::kApiKeysSecretDir);
  add(Str(Child(auth, "queryKeysSecretRef"), "name"), "secret-query-keys",
      config::kQueryKeysSecretDir);
  add(Str(Child(auth, "difyKeysSecretRef"), "name"), "secret-dify-keys",
      config::kDifyKeysSecretDir);
  add(Str(Child(Child(Child(spec, "storage"), "clickhouse"), "credentialsSecretRef"), "name"),
      "secret-clickhouse", config::kClickHouseCredentialsSecretDir);
  if (auto it = spec.find("destinations"); it != spec.end() && it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const json& d = (*it)[i];
      // Volume names by index (a destination's name may be 63 characters long); the directory by
      // name, as the config contract says.
      add(Str(Child(Child(d, "amplitude"), "apiKeySecretRef"), "name"),
          absl::StrCat("secret-destination-", i),
          absl::StrCat(std::string(config::kDestinationSecretDirPrefix), Str(d, "name")));
    }
  }
  if (std::string tls = Str(Child(spec, "tls"), "secretName"); !tls.empty()) {
    mounts.push_back({tls, "tls", std::string(config::kTlsDir)});
  }
  return mounts;
}

absl::StatusOr<std::string> RenderPipelineConfig(const json& pipeline,
                                                 const OperatorConfig& operator_config) {
  const json& spec = PipelineSpec(pipeline);
  // The config's document: the spec's settings under the config's key names (mostly the same),
  // Secret references turned into the files they are mounted as. ParseIngestConfig then checks
  // it exactly as the ingest will.
  json doc = {{"version", std::string(config::kConfigVersion)}};
  for (const char* key : {"sources", "identity", "limits"}) {
    if (spec.contains(key)) doc[key] = spec[key];
  }
  if (spec.contains("mapping")) doc["mapping"] = spec["mapping"];

  const json& auth = Child(spec, "auth");
  json out_auth = json::object();
  if (const json& ref = Child(auth, "apiKeysSecretRef"); !ref.empty()) {
    out_auth["apiKeysFile"] = SecretPath(config::kApiKeysSecretDir,
                                         Str(ref, "key", std::string(config::kDefaultApiKeysKey)));
  }
  if (const json& ref = Child(auth, "queryKeysSecretRef"); !ref.empty()) {
    out_auth["queryKeysFile"] = SecretPath(
        config::kQueryKeysSecretDir, Str(ref, "key", std::string(config::kDefaultQueryKeysKey)));
  }
  if (const json& ref = Child(auth, "difyKeysSecretRef"); !ref.empty()) {
    out_auth["difyKeys"] = {
        {"publicKeyFile",
         SecretPath(config::kDifyKeysSecretDir,
                    Str(ref, "publicKeyKey", std::string(config::kDefaultDifyPublicKeyKey)))},
        {"secretKeyFile",
         SecretPath(config::kDifyKeysSecretDir,
                    Str(ref, "secretKeyKey", std::string(config::kDefaultDifySecretKeyKey)))}};
  }
  doc["auth"] = out_auth;

  const json& storage = Child(spec, "storage");
  if (storage.contains("clickhouse")) {
    const json& ch = storage["clickhouse"];
    json out = json::object();
    for (const char* key : {"url", "database", "cluster", "batchSize", "flushInterval"}) {
      if (ch.contains(key)) out[key] = ch[key];
    }
    if (const json& ref = Child(ch, "credentialsSecretRef"); !ref.empty()) {
      out["credentials"] = {
          {"usernameFile",
           SecretPath(config::kClickHouseCredentialsSecretDir,
                      Str(ref, "usernameKey", std::string(config::kDefaultClickHouseUsernameKey)))},
          {"passwordFile", SecretPath(config::kClickHouseCredentialsSecretDir,
                                      Str(ref, "passwordKey",
                                          std::string(config::kDefaultClickHousePasswordKey)))}};
    }
    doc["storage"] = {{"clickhouse", out}};
  } else {
    const json& e = Child(storage, "embedded");
    json out = json::object();
    if (e.contains("size")) {
      // A quantity may arrive as a number; the config reads a byte-size string.
      out["size"] = e["size"].is_string() ? e["size"] : json(e["size"].dump());
    }
    if (e.contains("retention")) out["retention"] = e["retention"];
    doc["storage"] = {{"embedded", out}};
  }

  if (auto it = spec.find("destinations"); it != spec.end() && it->is_array()) {
    json out = json::array();
    for (const json& d : *it) {
      json dest = {{"name", Str(d, "name")}};
      if (const json& a = Child(d, "amplitude"); !a.empty()) {
        json amp = json::object();
        for (const char* key : {"region", "endpoint", "batchSize", "flushInterval", "maxRetries"}) {
          if (a.contains(key)) amp[key] = a[key];
        }
        const json& ref = Child(a, "apiKeySecretRef");
        amp["apiKeyFile"] = SecretPath(
            absl::StrCat(std::string(config::kDestinationSecretDirPrefix), Str(d, "name")),
            Str(ref, "key", std::string(config::kDefaultDestinationApiKeyKey)));
        dest["amplitude"] = amp;
      }
      out.push_back(dest);
    }
    doc["destinations"] = out;
  }
  if (const json& tls = Child(spec, "tls"); !tls.empty()) {
    json out = json::object();
    if (tls.contains("minVersion")) out["minVersion"] = tls["minVersion"];
    doc["tls"] = out;
  }

  absl::StatusOr<config::IngestConfig> parsed = config::ParseIngestConfig(doc.dump());
  if (!parsed.ok()) {
    // The config's field paths are the spec's (auth and secret-file fields aside).
    return absl::InvalidArgumentError(absl::StrCat("spec: ", parsed.status().message()));
  }
  const std::string image = Str(spec, "image", operator_config.default_image);
  absl::StatusOr<int> max_revision =
      config::MaxRevisionForImage(image.empty() ? operator_config.default_image : image);
  if (!max_revision.ok()) return max_revision.status();
  return config::RenderIngestConfig(*parsed, *max_revision);
}

std::string ConfigHash(const PipelineInput& input) {
  std::string data = input.config_text;
  for (const auto& [name, version] : input.secret_versions) {
    absl::StrAppend(&data, "\nsecret ", name, " ", version);
  }
  return Sha256Hex(data).substr(0, 32);
}

std::string Endpoint(const json& pipeline) {
  const bool tls = !Child(PipelineSpec(pipeline), "tls").empty();
  return absl::StrCat(tls ? "https" : "http", "://", ServiceName(pipeline), ".",
                      PipelineNamespace(pipeline), ".svc:", config::kIngestPort);
}

json BuildConfigMap(const PipelineInput& input) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", ConfigMapName(input.pipeline, input.config_text)},
            {"namespace", PipelineNamespace(input.pipeline)},
            {"labels", ChildLabels(input.pipeline, "config")}}},
          // Named by its content and immutable: a config change is a new ConfigMap and a rollout,
          // and the previous ones stay for a rollback.
          {"immutable", true},
          {"data", {{std::string(config::kConfigFileName), input.config_text}}}};
}

}  // namespace cohort::controllers
