#include "config/ingest_config.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::config {

// Readable failures: a config prints as its rendering.
void PrintTo(const IngestConfig& c, std::ostream* os) {
  absl::StatusOr<std::string> text = RenderIngestConfig(c);
  *os << (text.ok() ? *text : absl::StrCat("(invalid config: ", text.status().ToString(), ")"));
}

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHeader = absl::StrCat("version: ", std::string(kConfigVersion), "\n");

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with testdata/<name>; COHORT_UPDATE_GOLDEN=1 rewrites the file instead.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = absl::StrCat(COHORT_CONFIG_TESTDATA, "/", name);
  if (std::getenv("COHORT_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(actual, ReadFile(path))
      << "golden " << name << " differs; rerun with COHORT_UPDATE_GOLDEN=1 to update";
}

IngestConfig MustParse(const std::string& text) {
  absl::StatusOr<IngestConfig> c = ParseIngestConfig(text);
  EXPECT_TRUE(c.ok()) << c.status() << "\n" << text;
  return c.ok() ? *c : IngestConfig{};
}

std::string MustRender(const IngestConfig& c) {
  absl::StatusOr<std::string> text = RenderIngestConfig(c);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

std::string ParseError(const std::string& text) {
  absl::StatusOr<IngestConfig> c = ParseIngestConfig(text);
  EXPECT_FALSE(c.ok()) << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

MappingRule Rule(std::string name, Action action) {
  MappingRule r;
  r.name = std::move(name);
  r.action = action;
  return r;
}

// A valid config with at least one of everything, built in C++ (not from the golden files).
IngestConfig Rich() {
  IngestConfig c;
  c.sources.dify.enabled = true;
  c.auth.dify_keys = DifyKeyFiles{};
  c.auth.query_keys_file = "/etc/cohort/secrets/query-keys/query-keys";
  c.identity.trusted_proxies = {"192.168.0.0/16"};
  MappingRule set = Rule("set", Action::kSet);
  set.target = "event_properties.x";
  set.value = "";
  set.match.event_type = "Button Clicked \xE2\x9C\x93";
  set.match.property = PropertyMatch{"$.a", std::string(""), std::nullopt};
  MappingRule drop = Rule("drop", Action::kDrop);
  drop.match.source = Source::kNative;
  MappingRule extract = Rule("extract", Action::kExtract);
  extract.from = "payload";
  extract.json_path = "$.a[0]";
  extract.target = "user_id";
  c.mapping = {set, drop, extract};
  ClickHouseStorage ch;
  ch.url = "https://[::1]:8443/clickhouse";
  ch.flush_interval = absl::Milliseconds(1);
  c.storage = ch;
  Destination d;
  d.name = "amp";
  d.amplitude = AmplitudeDestination{};
  d.amplitude->api_key_file = "/etc/cohort/secrets/destination-amp/api-key";
  d.amplitude->flush_interval = absl::Minutes(59) + absl::Milliseconds(5);
  c.destinations = {d};
  c.tls = Tls{};
  c.listeners.ingest_port = 0;
  c.listeners.query_port = 0;
  c.listeners.metrics_port = 0;
  return c;
}

// ---------------------------------------------------------------------------------------------
// The contract's constants and defaults, against the spec (pipeline-spec.md).

TEST(Contract, PortsAndPaths) {
  EXPECT_EQ(kConfigVersion, "cohort.dev/ingest-config/v1");
  EXPECT_EQ(kIngestPort, 8080);
  EXPECT_EQ(kIngestPortName, "http");
  EXPECT_EQ(kQueryPort, 8081);
  EXPECT_EQ(kQueryPortName, "query");
  EXPECT_EQ(kMetricsPort, 9090);
  EXPECT_EQ(kMetricsPortName, "metrics");
  EXPECT_EQ(kMetricsPath, "/metrics");
  EXPECT_EQ(kHealthzPath, "/healthz");
  EXPECT_EQ(kReadyzPath, "/readyz");
  EXPECT_EQ(kLivezPath, "/livez");
  EXPECT_EQ(kConfigFilePath,
            absl::StrCat(std::string(kConfigDir), "/", std::string(kConfigFileName)));
  EXPECT_EQ(kConfigFilePath, "/etc/cohort/config/config.yaml");
  EXPECT_EQ(SecretFilePath(kApiKeysSecretDir, kDefaultApiKeysKey),
            "/etc/cohort/secrets/api-keys/api-keys");
  EXPECT_EQ(SecretFilePath(absl::StrCat(std::string(kDestinationSecretDirPrefix), "amp"),
                           kDefaultDestinationApiKeyKey),
            "/etc/cohort/secrets/destination-amp/api-key");
  EXPECT_EQ(kTlsCertPath, absl::StrCat(std::string(kTlsDir), "/tls.crt"));
  EXPECT_EQ(kTlsKeyPath, absl::StrCat(std::string(kTlsDir), "/tls.key"));
  Paths paths;
  EXPECT_EQ(paths.data_dir, "/var/lib/cohort");
  EXPECT_EQ(WalDir(paths), "/var/lib/cohort/wal");
  EXPECT_EQ(StoreDir(paths), "/var/lib/cohort/store");
}

TEST(Contract, EnumSpellingsAreTheCrds) {
  EXPECT_EQ(SourceName(Source::kAmplitude), "amplitude");
  EXPECT_EQ(SourceName(Source::kDify), "dify");
  EXPECT_EQ(SourceName(Source::kNative), "native");
  EXPECT_EQ(ActionName(Action::kRename), "Rename");
  EXPECT_EQ(ActionName(Action::kDrop), "Drop");
  EXPECT_EQ(ActionName(Action::kSet), "Set");
  EXPECT_EQ(ActionName(Action::kCopy), "Copy");
  EXPECT_EQ(ActionName(Action::kExtract), "Extract");
  EXPECT_EQ(RegionName(AmplitudeRegion::kUS), "US");
  EXPECT_EQ(RegionName(AmplitudeRegion::kEU), "EU");
  EXPECT_EQ(TlsVersionName(TlsVersion::k1_2), "1.2");
  EXPECT_EQ(TlsVersionName(TlsVersion::k1_3), "1.3");
  EXPECT_EQ(kDifyProject, "dify");
}

TEST(Defaults, MatchTheCrdDefaults) {
  const IngestConfig d = Defaults();
  EXPECT_TRUE(d.sources.amplitude.enabled);
  EXPECT_FALSE(d.sources.dify.enabled);
  EXPECT_EQ(d.sources.dify.path_prefix, "/dify");
  EXPECT_FALSE(d.sources.dify.capture_content);
  EXPECT_TRUE(d.sources.native.enabled);

  EXPECT_EQ(d.auth.api_keys_file, "/etc/cohort/secrets/api-keys/api-keys");
  EXPECT_EQ(d.auth.query_keys_file, std::nullopt);
  EXPECT_EQ(d.auth.dify_keys, std::nullopt);
  const DifyKeyFiles dify;
  EXPECT_EQ(dify.public_key_file, "/etc/cohort/secrets/dify-keys/public-key");
  EXPECT_EQ(dify.secret_key_file, "/etc/cohort/secrets/dify-keys/secret-key");
  EXPECT_EQ(kDefaultQueryKeysKey, "query-keys");
  EXPECT_EQ(kDefaultDestinationApiKeyKey, "api-key");

  EXPECT_EQ(d.identity.min_id_length, 5);
  EXPECT_EQ(d.identity.session_timeout, absl::Minutes(30));
  EXPECT_TRUE(d.identity.resolve_device_to_user);
  EXPECT_TRUE(d.identity.trusted_proxies.empty());
  EXPECT_FALSE(d.identity.truncate_ip);

  EXPECT_EQ(d.limits.max_request_bytes, 20971520);
  EXPECT_EQ(d.limits.max_events_per_request, 2000);
  EXPECT_EQ(d.limits.events_per_second_per_device, 30);
  EXPECT_EQ(d.limits.events_per_second_per_user, 30);
  EXPECT_EQ(d.limits.max_connections, 1024);
  EXPECT_EQ(d.limits.dedup_window, absl::Minutes(10));

  EXPECT_TRUE(d.mapping.empty());
  ASSERT_TRUE(std::holds_alternative<EmbeddedStorage>(d.storage));
  EXPECT_EQ(std::get<EmbeddedStorage>(d.storage).size_bytes, int64_t{10} * 1024 * 1024 * 1024);
  EXPECT_EQ(std::get<EmbeddedStorage>(d.storage).retention, absl::Hours(24 * 395));

  const ClickHouseStorage ch;
  EXPECT_EQ(ch.database, "cohort");
  EXPECT_EQ(ch.cluster, "");
  EXPECT_EQ(ch.batch_size, 10000);
  EXPECT_EQ(ch.flush_interval, absl::Seconds(1));
  const ClickHouseCredentialFiles credentials;
  EXPECT_EQ(credentials.username_file, "/etc/cohort/secrets/clickhouse-credentials/username");
  EXPECT_EQ(credentials.password_file, "/etc/cohort/secrets/clickhouse-credentials/password");

  EXPECT_TRUE(d.destinations.empty());
  const AmplitudeDestination amp;
  EXPECT_EQ(amp.region, AmplitudeRegion::kUS);
  EXPECT_EQ(amp.endpoint, "");
  EXPECT_EQ(amp.batch_size, 100);
  EXPECT_EQ(amp.flush_interval, absl::Seconds(10));
  EXPECT_EQ(amp.max_retries, 10);
  EXPECT_EQ(AmplitudeBaseUrl(amp), "https://api2.amplitude.com");
  AmplitudeDestination eu;
  eu.region = AmplitudeRegion::kEU;
  EXPECT_EQ(AmplitudeBaseUrl(eu), "https://api.eu.amplitude.com");
  eu.endpoint = "http://127.0.0.1:9";
  EXPECT_EQ(AmplitudeBaseUrl(eu), "http://127.0.0.1:9");

  EXPECT_EQ(d.tls, std::nullopt);
  const Tls tls;
  EXPECT_EQ(tls.min_version, TlsVersion::k1_3);
  EXPECT_EQ(tls.cert_file, "/etc/cohort/tls/tls.crt");
  EXPECT_EQ(tls.key_file, "/etc/cohort/tls/tls.key");

  EXPECT_EQ(d.listeners.address, "0.0.0.0");
  EXPECT_EQ(d.listeners.ingest_port, 8080);
  EXPECT_EQ(d.listeners.query_port, 8081);
  EXPECT_EQ(d.listeners.metrics_port, 9090);
  EXPECT_EQ(d.paths.data_dir, "/var/lib/cohort");

  EXPECT_TRUE(ValidateIngestConfig(d).ok());
}

TEST(Defaults, AreWhatTheMinimalConfigReads) {
  EXPECT_EQ(MustParse(kHeader), Defaults());
  EXPECT_EQ(MustParse(ReadFile(absl::StrCat(COHORT_CONFIG_TESTDATA, "/minimal.yaml"))), Defaults());
  // Empty blocks and nulls are the defaults too.
  EXPECT_EQ(MustParse(kHeader + "sources: {}\nauth:\nidentity: {trustedProxies: null}\n"
                                "limits: ~\nmapping: []\ndestinations: null\ntls: null\n"),
            Defaults());
  // ... except for optional blocks, where presence is the point.
  IngestConfig with_tls = Defaults();
  with_tls.tls = Tls{};
  EXPECT_EQ(MustParse(kHeader + "tls: {}\n"), with_tls);
}

// ---------------------------------------------------------------------------------------------
// Golden files and round trips.

TEST(Golden, MinimalConfig) {
  const IngestConfig c = MustParse(ReadFile(absl::StrCat(COHORT_CONFIG_TESTDATA, "/minimal.yaml")));
  const std::string rendered = MustRender(c);
  ExpectGolden("minimal.golden.json", rendered);
  EXPECT_EQ(MustParse(rendered), c);
}

TEST(Golden, FullConfig) {
  const IngestConfig c = MustParse(ReadFile(absl::StrCat(COHORT_CONFIG_TESTDATA, "/full.yaml")));
  const std::string rendered = MustRender(c);
  ExpectGolden("full.golden.json", rendered);
  EXPECT_EQ(MustParse(rendered), c);
  // A few values the YAML spells differently from the canonical text.
  EXPECT_EQ(c.limits.dedup_window, absl::Minutes(90));
  EXPECT_THAT(rendered, HasSubstr(R"("dedupWindow": "1h30m")"));
  EXPECT_THAT(rendered, HasSubstr(R"("flushInterval": "500ms")"));
  ASSERT_EQ(c.mapping.size(), 7);
  EXPECT_EQ(c.mapping[3].value, "yes");
  EXPECT_EQ(c.mapping[1].match.property->equals, "true");
  ASSERT_TRUE(c.tls.has_value());
  EXPECT_EQ(c.tls->min_version, TlsVersion::k1_2);
}

TEST(RoundTrip, ParseOfRenderIsIdentity) {
  std::vector<IngestConfig> configs = {Defaults(), Rich()};
  IngestConfig odd = Defaults();
  odd.storage = EmbeddedStorage{1'500'000'000, absl::Hours(1) + absl::Milliseconds(1)};
  odd.identity.session_timeout = absl::Seconds(1);
  odd.limits.dedup_window = absl::ZeroDuration();
  odd.sources.amplitude.enabled = false;
  odd.sources.native.enabled = false;
  odd.auth.api_keys_file = "";  // not needed with both key-based sources off
  configs.push_back(odd);
  IngestConfig quirky = Rich();
  quirky.mapping[0].value =
      "multi\nline\r\n: tab\t \"quoted\" \\ and 'single' \xC3\xA9 # no comment";
  quirky.mapping[0].match.property->regex = "^a|b$";
  quirky.mapping[1].target = "$['odd key'][3]";
  quirky.listeners.address = "127.0.0.1";
  configs.push_back(quirky);
  for (const IngestConfig& c : configs) {
    const std::string text = MustRender(c);
    EXPECT_EQ(MustParse(text), c) << text;
    EXPECT_EQ(MustRender(MustParse(text)), text);  // a fixed point
  }
}

TEST(Render, IsCanonical) {
  // Same config, different spelling and key order: same bytes.
  const std::string a = kHeader +
                        "identity: {sessionTimeout: 60m, minIdLength: 5}\n"
                        "storage: {embedded: {size: 10240Mi}}\nlimits: {dedupWindow: 600s}\n";
  const std::string b = "storage:\n  embedded:\n    retention: 395d\n    size: 10Gi\n" + kHeader +
                        "identity:\n  sessionTimeout: 1h\n";
  EXPECT_EQ(MustRender(MustParse(a)), MustRender(MustParse(b)));
  // JSON (the rendering itself) reads back.
  const std::string json = MustRender(MustParse(a));
  EXPECT_EQ(json.back(), '\n');
  const nlohmann::ordered_json doc = nlohmann::ordered_json::parse(json);
  std::vector<std::string> keys;
  for (const auto& [key, value] : doc.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "revision", "sources", "auth", "identity",
                                            "limits", "mapping", "storage", "destinations",
                                            "listeners", "paths"}));
  EXPECT_EQ(doc["revision"], 0);
  EXPECT_EQ(doc["identity"]["sessionTimeout"], "1h");
}

TEST(Render, RefusesAnInvalidConfigOrTarget) {
  IngestConfig c = Defaults();
  c.limits.max_connections = 0;
  absl::StatusOr<std::string> r = RenderIngestConfig(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("limits.maxConnections"));
  EXPECT_EQ(RenderIngestConfig(Defaults(), -1).status().code(), absl::StatusCode::kInvalidArgument);
  // A target newer than this build is fine: it reads our revisions too.
  EXPECT_TRUE(RenderIngestConfig(Defaults(), kConfigRevision + 5).ok());
}

// ---------------------------------------------------------------------------------------------
// Version handling (the reader's half of the skew policy; config_version_test has the writer's).

TEST(Version, IsRequiredAndMustBeThisMajor) {
  EXPECT_EQ(ParseError("identity: {minIdLength: 5}\n"),
            "version: required; this cohort-ingest reads cohort.dev/ingest-config/v1");
  EXPECT_THAT(ParseError(""), HasSubstr("version: required; the config is empty"));
  EXPECT_THAT(ParseError("# only a comment\n"), HasSubstr("version: required"));
  // Another major: nothing else is looked at (its fields may mean anything).
  EXPECT_EQ(ParseError("version: cohort.dev/ingest-config/v2\nsomethingNew: {a: 1}\n"),
            "version: \"cohort.dev/ingest-config/v2\" is not supported; this cohort-ingest reads "
            "cohort.dev/ingest-config/v1");
  EXPECT_THAT(ParseError("version: [v1]\n"), HasSubstr("version: \"(not a string)\""));
  EXPECT_THAT(ParseError("version: cohort.dev/ingest-config/V1\n"), HasSubstr("not supported"));
}

TEST(Version, ReadsEveryRevisionUpToItsOwnAndRefusesNewer) {
  for (int r = 0; r <= kConfigRevision; ++r) {
    EXPECT_EQ(MustParse(absl::StrCat(kHeader, "revision: ", r, "\n")), Defaults());
  }
  // A newer revision may use fields this build does not know; the answer names the revision only.
  EXPECT_EQ(ParseError(absl::StrCat(kHeader, "revision: ", kConfigRevision + 1,
                                    "\nidentity: {hashIp: true}\n")),
            absl::StrCat("revision: ", kConfigRevision + 1,
                         " is newer than this cohort-ingest reads (up to ", kConfigRevision,
                         "): run a newer image, or stop using fields added after revision ",
                         kConfigRevision));
  EXPECT_EQ(ParseError(kHeader + "revision: -1\n"), "revision: -1 is negative");
  EXPECT_EQ(ParseError(kHeader + "revision: \"0\"\n"), "revision: expected an integer");
}

// ---------------------------------------------------------------------------------------------
// Decoding errors: every one names its field.

TEST(Parse, RejectsUnknownAndDuplicateKeysWithTheirPath) {
  EXPECT_EQ(ParseError(kHeader + "identiy: {}\n"), "identiy: unknown field");
  EXPECT_EQ(ParseError(kHeader + "identity: {minIdLenght: 5}\n"),
            "identity.minIdLenght: unknown field");
  EXPECT_EQ(ParseError(kHeader + "mapping: [{name: a, action: Drop, bogus: 1}]\n"),
            "mapping[0].bogus: unknown field");
  EXPECT_EQ(ParseError(kHeader + "mapping: [{name: a, action: Drop, match: {property: {path: "
                                 "$.a, eq: b}}}]\n"),
            "mapping[0].match.property.eq: unknown field");
  EXPECT_EQ(ParseError(kHeader + "destinations: [{name: a, amplitude: {apiKey: x}}]\n"),
            "destinations[0].amplitude.apiKey: unknown field");
  EXPECT_EQ(ParseError(kHeader + "storage: {embedded: {reclaimPolicy: Retain}}\n"),
            "storage.embedded.reclaimPolicy: unknown field");
  EXPECT_EQ(ParseError(kHeader + "identity: {minIdLength: 5, minIdLength: 6}\n"),
            "identity.minIdLength: duplicate key");
  EXPECT_EQ(ParseError(kHeader + "limits: {}\nlimits: {}\n"), "limits: duplicate key");
  // All problems at once.
  EXPECT_EQ(ParseError(kHeader + "a: 1\nb: 2\n"), "a: unknown field; b: unknown field");
}

TEST(Parse, RejectsWrongTypesWithTheirPath) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"sources: {amplitude: {enabled: yes}}",
            "sources.amplitude.enabled: expected true or false"},
           {"sources: {amplitude: {enabled: \"true\"}}",
            "sources.amplitude.enabled: expected true or false"},
           {"limits: {maxConnections: \"10\"}", "limits.maxConnections: expected an integer"},
           {"limits: {maxConnections: 1.5}", "limits.maxConnections: expected an integer"},
           {"limits: {maxConnections: 99999999999999999999}",
            "limits.maxConnections: expected an integer"},
           {"limits: {maxConnections: [1]}", "limits.maxConnections: expected an integer"},
           {"paths: {dataDir: [a]}", "paths.dataDir: expected a string"},
           {"paths: {dataDir: {a: b}}", "paths.dataDir: expected a string"},
           {"sources: []", "sources: expected a mapping"},
           {"mapping: {a: 1}", "mapping: expected a list"},
           {"mapping: [[1]]", "mapping[0]: expected a mapping"},
           {"identity: {trustedProxies: [[a]]}", "identity.trustedProxies[0]: expected a string"},
           {"identity: {sessionTimeout: 30x}",
            "identity.sessionTimeout: invalid duration \"30x\": expected a unit (d, h, m, s, ms) "
            "at "
            "offset 2"},
           {"limits: {dedupWindow: -1s}", "limits.dedupWindow: invalid duration \"-1s\""},
           {"storage: {embedded: {size: 10GB}}",
            "storage.embedded.size: invalid size \"10GB\": unknown suffix"},
           {"storage: {embedded: {size: 0.5}}",
            "storage.embedded.size: invalid size \"0.5\": not a whole number of bytes"},
           {"mapping: [{name: a, action: drop}]",
            "mapping[0].action: \"drop\" is not one of \"Rename\", \"Drop\", \"Set\", \"Copy\", "
            "\"Extract\""},
           {"mapping: [{name: a}]",
            "mapping[0].action: required (one of Rename, Drop, Set, Copy, Extract)"},
           {"mapping: [{name: a, action: Drop, match: {source: segment}}]",
            "mapping[0].match.source: \"segment\" is not one of \"amplitude\", \"dify\", "
            "\"native\""},
           {"destinations: [{name: a, amplitude: {apiKeyFile: /k, region: us}}]",
            "destinations[0].amplitude.region: \"us\" is not one of \"US\", \"EU\""},
           {"tls: {minVersion: \"1.1\"}", "tls.minVersion: \"1.1\" is not one of \"1.2\", \"1.3\""},
           {"storage: {embedded: {}, clickhouse: {url: http://c}}",
            "storage: exactly one of embedded and clickhouse must be set"},
           {"storage: {}", "storage: exactly one of embedded and clickhouse must be set"},
       }) {
    EXPECT_THAT(ParseError(kHeader + c.yaml + "\n"), HasSubstr(c.want)) << c.yaml;
  }
}

TEST(Parse, ReportsYamlSyntaxErrorsWithLineAndColumn) {
  EXPECT_THAT(ParseError(kHeader + "identity: {minIdLength: 5\n"),
              HasSubstr("invalid YAML at line"));
  EXPECT_THAT(ParseError(kHeader + "a: b: c\n"), HasSubstr("invalid YAML at line 2, column"));
  EXPECT_EQ(ParseError(kHeader + "---\n" + kHeader), "expected one YAML document, found 2");
  EXPECT_EQ(ParseError("- a\n- b\n"), "(top level): expected a mapping");
  EXPECT_THAT(ParseError(std::string(kMaxConfigBytes + 1, ' ')), HasSubstr("at most 1048576"));
}

TEST(Parse, ReadsJson) {
  IngestConfig want = Defaults();
  want.limits.max_connections = 7;
  want.sources.dify.capture_content = true;
  EXPECT_EQ(MustParse(R"({"version": "cohort.dev/ingest-config/v1", "revision": 0,
                          "limits": {"maxConnections": 7},
                          "sources": {"dify": {"captureContent": true}}})"),
            want);
  // Sizes may be plain integers.
  IngestConfig big = Defaults();
  std::get<EmbeddedStorage>(big.storage).size_bytes = 21474836480;
  EXPECT_EQ(MustParse(kHeader + "storage: {embedded: {size: 21474836480}}\n"), big);
}

// ---------------------------------------------------------------------------------------------
// Validation: every constraint, each named by its field path.

struct ValidationCase {
  std::string want;  // the whole message, or a prefix of it ending in "..."
  std::function<void(IngestConfig&)> mutate;
};

std::vector<ValidationCase> ValidationCases() {
  auto rule = [](IngestConfig& c, MappingRule r) { c.mapping = {r}; };
  auto set_rule = [](std::string target, std::string value) {
    MappingRule r = Rule("r", Action::kSet);
    r.target = std::move(target);
    r.value = std::move(value);
    return r;
  };
  auto clickhouse = [](IngestConfig& c) -> ClickHouseStorage& {
    if (!std::holds_alternative<ClickHouseStorage>(c.storage)) {
      ClickHouseStorage ch;
      ch.url = "http://clickhouse:8123";
      c.storage = ch;
    }
    return std::get<ClickHouseStorage>(c.storage);
  };
  auto amplitude = [](IngestConfig& c) -> AmplitudeDestination& {
    c.destinations.resize(1);
    c.destinations[0].name = "amp";
    if (!c.destinations[0].amplitude) {
      c.destinations[0].amplitude = AmplitudeDestination{};
      c.destinations[0].amplitude->api_key_file = "/k";
    }
    return *c.destinations[0].amplitude;
  };
  const std::string prefix_rule =
      "must be \"/\" or \"/\"-separated segments of [a-z0-9_-] such as \"/dify\" (no empty "
      "segment, no trailing '/')";
  return {
      // sources
      {"sources.dify.pathPrefix: " + prefix_rule,
       [](IngestConfig& c) { c.sources.dify.path_prefix = "dify"; }},
      {"sources.dify.pathPrefix: " + prefix_rule,
       [](IngestConfig& c) { c.sources.dify.path_prefix = "/dify/"; }},
      {"sources.dify.pathPrefix: " + prefix_rule,
       [](IngestConfig& c) { c.sources.dify.path_prefix = "/a//b"; }},
      {"sources.dify.pathPrefix: " + prefix_rule,
       [](IngestConfig& c) { c.sources.dify.path_prefix = "/Dify"; }},
      {"sources.dify.pathPrefix: longer than 64 bytes",
       [](IngestConfig& c) { c.sources.dify.path_prefix = "/" + std::string(64, 'a'); }},
      // auth
      {"auth.apiKeysFile: required while sources.amplitude or sources.native is enabled",
       [](IngestConfig& c) { c.auth.api_keys_file = ""; }},
      {"auth.apiKeysFile: \"keys.txt\" is not an absolute path",
       [](IngestConfig& c) { c.auth.api_keys_file = "keys.txt"; }},
      {"auth.apiKeysFile: contains a control character",
       [](IngestConfig& c) { c.auth.api_keys_file = "/a\nb"; }},
      {"auth.queryKeysFile: required", [](IngestConfig& c) { c.auth.query_keys_file = ""; }},
      {"auth.difyKeys: required while sources.dify.enabled is true",
       [](IngestConfig& c) { c.sources.dify.enabled = true; }},
      {"auth.difyKeys.publicKeyFile: required",
       [](IngestConfig& c) {
         c.auth.dify_keys = DifyKeyFiles{"", "/s"};
       }},
      {"auth.difyKeys.secretKeyFile: \"s\" is not an absolute path",
       [](IngestConfig& c) {
         c.auth.dify_keys = DifyKeyFiles{"/p", "s"};
       }},
      // identity
      {"identity.minIdLength: 0 is out of range [1, 64]",
       [](IngestConfig& c) { c.identity.min_id_length = 0; }},
      {"identity.minIdLength: 65 is out of range [1, 64]",
       [](IngestConfig& c) { c.identity.min_id_length = 65; }},
      {"identity.sessionTimeout: 0s is out of range [1s, 7d]",
       [](IngestConfig& c) { c.identity.session_timeout = absl::ZeroDuration(); }},
      {"identity.sessionTimeout: must be a non-negative whole number of milliseconds, at most "
       "36500d",
       [](IngestConfig& c) { c.identity.session_timeout = absl::Microseconds(1500); }},
      {"identity.trustedProxies[1]: \"10.0.0.1\" is not a CIDR (want e.g. 10.0.0.0/8 or "
       "fd00::/8)",
       [](IngestConfig& c) {
         c.identity.trusted_proxies = {"10.0.0.0/8", "10.0.0.1"};
       }},
      {"identity.trustedProxies[0]: \"10.0.0.0/33\" has an invalid prefix length (want 0..32)",
       [](IngestConfig& c) { c.identity.trusted_proxies = {"10.0.0.0/33"}; }},
      {"identity.trustedProxies[0]: \"fd00::/129\" has an invalid prefix length (want 0..128)",
       [](IngestConfig& c) { c.identity.trusted_proxies = {"fd00::/129"}; }},
      {"identity.trustedProxies[0]: \"proxy/8\" does not start with an IPv4 or IPv6 address",
       [](IngestConfig& c) { c.identity.trusted_proxies = {"proxy/8"}; }},
      {"identity.trustedProxies: 33 entries; at most 32",
       [](IngestConfig& c) { c.identity.trusted_proxies.assign(33, "10.0.0.0/8"); }},
      // limits
      {"limits.maxRequestBytes: 1023 is out of range [1024, 1073741824]",
       [](IngestConfig& c) { c.limits.max_request_bytes = 1023; }},
      {"limits.maxEventsPerRequest: 0 is out of range [1, 100000]",
       [](IngestConfig& c) { c.limits.max_events_per_request = 0; }},
      {"limits.eventsPerSecondPerDevice: 0 is out of range [1, 100000]",
       [](IngestConfig& c) { c.limits.events_per_second_per_device = 0; }},
      {"limits.eventsPerSecondPerUser: 100001 is out of range [1, 100000]",
       [](IngestConfig& c) { c.limits.events_per_second_per_user = 100001; }},
      {"limits.maxConnections: -1 is out of range [1, 1000000]",
       [](IngestConfig& c) { c.limits.max_connections = -1; }},
      {"limits.dedupWindow: 7d1ms is out of range [0s, 7d]",
       [](IngestConfig& c) {
         c.limits.dedup_window = absl::Hours(24 * 7) + absl::Milliseconds(1);
       }},
      // mapping
      {"mapping: 101 rules; at most 100",
       [](IngestConfig& c) {
         for (int i = 0; i < 101; ++i)
           c.mapping.push_back(Rule(absl::StrCat("r", i), Action::kDrop));
       }},
      {"mapping[0].name: required", [&](IngestConfig& c) { rule(c, Rule("", Action::kDrop)); }},
      {"mapping[0].name: must be a DNS label: lower-case letters, digits and '-', starting and "
       "ending with a letter or digit, at most 63 characters",
       [&](IngestConfig& c) { rule(c, Rule("Bad_Name", Action::kDrop)); }},
      {"mapping[1].name: duplicate name \"a\" (also mapping[0])",
       [](IngestConfig& c) {
         c.mapping = {Rule("a", Action::kDrop), Rule("a", Action::kDrop)};
       }},
      {"mapping[0].match.eventType: must not be empty (leave it out to match every type) (rule "
       "\"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.match.event_type = "";
         rule(c, r);
       }},
      {"mapping[0].match.eventType: not valid UTF-8 (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.match.event_type = "\xC3(";
         rule(c, r);
       }},
      {"mapping[0].match.property.path: required (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.match.property = PropertyMatch{};
         rule(c, r);
       }},
      {"mapping[0].match.property.path: invalid JSONPath: at offset 0: a path starts with '$' "
       "(rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.match.property = PropertyMatch{"event_properties.plan", std::nullopt, std::nullopt};
         rule(c, r);
       }},
      {"mapping[0].match.property.regex: invalid RE2: missing ): (a (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.match.property = PropertyMatch{"$.a", std::nullopt, "(a"};
         rule(c, r);
       }},
      {"mapping[0].match.property.equals: longer than 1024 bytes (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.match.property = PropertyMatch{"$.a", std::string(1025, 'x'), std::nullopt};
         rule(c, r);
       }},
      {"mapping[0].target: required by Set (rule \"r\")",
       [&](IngestConfig& c) { rule(c, set_rule("", "v")); }},
      {"mapping[0].value: required by Set (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = set_rule("a", "");
         r.value.reset();
         rule(c, r);
       }},
      {"mapping[0].value: longer than 4096 bytes (rule \"r\")",
       [&](IngestConfig& c) { rule(c, set_rule("a", std::string(4097, 'v'))); }},
      {"mapping[0].target: invalid property path: at offset 1: descendant segments (..) are not "
       "supported (rule \"r\")",
       [&](IngestConfig& c) { rule(c, set_rule("a..b", "v")); }},
      {"mapping[0].target: invalid property path: a property path names one place: no wildcards "
       "(rule \"r\")",
       [&](IngestConfig& c) { rule(c, set_rule("a[*]", "v")); }},
      {"mapping[0].from: not used by Set (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = set_rule("a", "v");
         r.from = "b";
         rule(c, r);
       }},
      {"mapping[0].jsonPath: not used by Set (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = set_rule("a", "v");
         r.json_path = "$.b";
         rule(c, r);
       }},
      {"mapping[0].regex: not used by Rename (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kRename);
         r.target = "New Name";
         r.regex = "(x)";
         rule(c, r);
       }},
      {"mapping[0].target: longer than 1024 bytes (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kRename);
         r.target = std::string(1025, 'n');
         rule(c, r);
       }},
      {"mapping[0].value: not used by Drop (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.value = "v";
         rule(c, r);
       }},
      {"mapping[0].target: event_type cannot be removed; leave target out to drop the event (rule "
       "\"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kDrop);
         r.target = "$['event_type']";
         rule(c, r);
       }},
      {"mapping[0].from: required by Copy (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kCopy);
         r.target = "a";
         rule(c, r);
       }},
      {"mapping[0].from: invalid property path: at offset 0: a property path starts with a name "
       "(e.g. event_properties.plan) or '$' (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kCopy);
         r.target = "a";
         r.from = ".b";
         rule(c, r);
       }},
      {"mapping[0]: Extract needs exactly one of jsonPath and regex (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kExtract);
         r.target = "a";
         r.from = "b";
         rule(c, r);
       }},
      {"mapping[0]: Extract needs exactly one of jsonPath and regex (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kExtract);
         r.target = "a";
         r.from = "b";
         r.json_path = "$.c";
         r.regex = "(d)";
         rule(c, r);
       }},
      {"mapping[0].jsonPath: invalid JSONPath: at offset 2: filters and slices are not supported "
       "(rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kExtract);
         r.target = "a";
         r.from = "b";
         r.json_path = "$[?@.x]";
         rule(c, r);
       }},
      {"mapping[0].regex: needs a capture group: Extract keeps the first one (rule \"r\")",
       [&](IngestConfig& c) {
         MappingRule r = Rule("r", Action::kExtract);
         r.target = "a";
         r.from = "b";
         r.regex = "abc";
         rule(c, r);
       }},
      // The brief's example, with the rule's index and name.
      {"mapping[2].regex: invalid RE2: missing ): (a (rule \"plan\")",
       [](IngestConfig& c) {
         MappingRule r = Rule("plan", Action::kExtract);
         r.target = "a";
         r.from = "b";
         r.regex = "(a";
         c.mapping = {Rule("x", Action::kDrop), Rule("y", Action::kDrop), r};
       }},
      // storage
      {"storage.embedded.size: 1048575 is out of range [1048576, 9223372036854775807]",
       [](IngestConfig& c) { std::get<EmbeddedStorage>(c.storage).size_bytes = (1 << 20) - 1; }},
      {"storage.embedded.retention: 59m is out of range [1h, 36500d]",
       [](IngestConfig& c) { std::get<EmbeddedStorage>(c.storage).retention = absl::Minutes(59); }},
      {"storage.clickhouse.url: required", [&](IngestConfig& c) { clickhouse(c).url = ""; }},
      {"storage.clickhouse.url: must start with http:// or https://",
       [&](IngestConfig& c) { clickhouse(c).url = "tcp://clickhouse:9000"; }},
      {"storage.clickhouse.url: must not carry credentials (user:password@); name them in "
       "credential files",
       [&](IngestConfig& c) { clickhouse(c).url = "http://admin:hunter2@clickhouse:8123"; }},
      {"storage.clickhouse.url: has no host",
       [&](IngestConfig& c) { clickhouse(c).url = "http://"; }},
      {"storage.clickhouse.url: has no host",
       [&](IngestConfig& c) { clickhouse(c).url = "https://:8123/"; }},
      {"storage.clickhouse.url: invalid port (want 1..65535)",
       [&](IngestConfig& c) { clickhouse(c).url = "http://clickhouse:0"; }},
      {"storage.clickhouse.url: invalid port (want 1..65535)",
       [&](IngestConfig& c) { clickhouse(c).url = "http://[::1]:70000"; }},
      {"storage.clickhouse.url: must not have a query or a fragment",
       [&](IngestConfig& c) { clickhouse(c).url = "http://clickhouse/?user=x"; }},
      {"storage.clickhouse.url: must be printable ASCII without spaces",
       [&](IngestConfig& c) { clickhouse(c).url = "http://click house"; }},
      {"storage.clickhouse.database: must match [A-Za-z_][A-Za-z0-9_]* and be at most 63 "
       "characters",
       [&](IngestConfig& c) { clickhouse(c).database = "1db"; }},
      {"storage.clickhouse.cluster: must match [A-Za-z0-9_.-]+ and be at most 255 characters",
       [&](IngestConfig& c) { clickhouse(c).cluster = "my cluster"; }},
      {"storage.clickhouse.credentials.passwordFile: required",
       [&](IngestConfig& c) {
         clickhouse(c).credentials = ClickHouseCredentialFiles{"/u", ""};
       }},
      {"storage.clickhouse.batchSize: 0 is out of range [1, 1000000]",
       [&](IngestConfig& c) { clickhouse(c).batch_size = 0; }},
      {"storage.clickhouse.flushInterval: 0s is out of range [1ms, 1h]",
       [&](IngestConfig& c) { clickhouse(c).flush_interval = absl::ZeroDuration(); }},
      // destinations
      {"destinations: 9 destinations; at most 8",
       [](IngestConfig& c) {
         for (int i = 0; i < 9; ++i) {
           Destination d;
           d.name = absl::StrCat("d", i);
           d.amplitude = AmplitudeDestination{};
           d.amplitude->api_key_file = "/k";
           c.destinations.push_back(d);
         }
       }},
      {"destinations[0].name: required",
       [&](IngestConfig& c) {
         amplitude(c);
         c.destinations[0].name = "";
       }},
      {"destinations[1].name: duplicate name \"amp\" (also destinations[0])",
       [&](IngestConfig& c) {
         amplitude(c);
         c.destinations.push_back(c.destinations[0]);
       }},
      {"destinations[0]: exactly one destination kind must be set: amplitude",
       [](IngestConfig& c) {
         c.destinations = {Destination{"amp", std::nullopt}};
       }},
      {"destinations[0].amplitude.apiKeyFile: required",
       [&](IngestConfig& c) { amplitude(c).api_key_file = ""; }},
      {"destinations[0].amplitude.endpoint: must start with http:// or https://",
       [&](IngestConfig& c) { amplitude(c).endpoint = "api2.amplitude.com"; }},
      {"destinations[0].amplitude.batchSize: 2001 is out of range [1, 2000]",
       [&](IngestConfig& c) { amplitude(c).batch_size = 2001; }},
      {"destinations[0].amplitude.flushInterval: 1h1ms is out of range [1ms, 1h]",
       [&](IngestConfig& c) {
         amplitude(c).flush_interval = absl::Hours(1) + absl::Milliseconds(1);
       }},
      {"destinations[0].amplitude.maxRetries: 1001 is out of range [0, 1000]",
       [&](IngestConfig& c) { amplitude(c).max_retries = 1001; }},
      // tls, listeners, paths
      {"tls.certFile: required",
       [](IngestConfig& c) {
         c.tls = Tls{"", "/k", TlsVersion::k1_3};
       }},
      {"tls.keyFile: \"tls.key\" is not an absolute path",
       [](IngestConfig& c) {
         c.tls = Tls{"/c", "tls.key", TlsVersion::k1_3};
       }},
      {"listeners.address: must be an IPv4 or IPv6 address such as 0.0.0.0, :: or 127.0.0.1",
       [](IngestConfig& c) { c.listeners.address = "localhost"; }},
      {"listeners.ingestPort: 65536 is out of range [0, 65535]",
       [](IngestConfig& c) { c.listeners.ingest_port = 65536; }},
      {"listeners.metricsPort: same port as listeners.queryPort",
       [](IngestConfig& c) { c.listeners.metrics_port = c.listeners.query_port; }},
      {"paths.dataDir: required", [](IngestConfig& c) { c.paths.data_dir = ""; }},
      {"paths.dataDir: \"data\" is not an absolute path",
       [](IngestConfig& c) { c.paths.data_dir = "data"; }},
  };
}

TEST(Validate, EveryConstraintNamesItsField) {
  for (const ValidationCase& c : ValidationCases()) {
    IngestConfig config = Defaults();
    c.mutate(config);
    const absl::Status status = ValidateIngestConfig(config);
    ASSERT_FALSE(status.ok()) << c.want;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.want);  // exactly one problem, exactly worded
    // Render refuses the same config with the same message.
    EXPECT_EQ(RenderIngestConfig(config).status(), status) << c.want;
  }
}

TEST(Validate, CredentialsInAUrlAreNeverQuoted) {
  IngestConfig c = Defaults();
  ClickHouseStorage ch;
  ch.url = "http://admin:hunter2@clickhouse:8123/?password=hunter2";
  c.storage = ch;
  Destination d{"amp", AmplitudeDestination{}};
  d.amplitude->api_key_file = "/k";
  d.amplitude->endpoint = "https://user:hunter2@proxy";
  c.destinations = {d};
  const absl::Status status = ValidateIngestConfig(c);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("storage.clickhouse.url"));
  EXPECT_THAT(status.message(), HasSubstr("destinations[0].amplitude.endpoint"));
  EXPECT_THAT(status.message(), Not(HasSubstr("hunter2")));
}

TEST(Validate, ListsEveryProblemAtOnce) {
  IngestConfig c = Defaults();
  c.identity.min_id_length = 0;
  c.listeners.address = "x";
  c.paths.data_dir = "rel";
  EXPECT_EQ(ValidateIngestConfig(c).message(),
            "identity.minIdLength: 0 is out of range [1, 64]; listeners.address: must be an IPv4 "
            "or IPv6 address such as 0.0.0.0, :: or 127.0.0.1; paths.dataDir: \"rel\" is not an "
            "absolute path");
}

TEST(Validate, AcceptsTheEdgesOfEveryRange) {
  IngestConfig c = Rich();
  c.identity.min_id_length = 64;
  c.identity.session_timeout = absl::Hours(24 * 7);
  c.identity.trusted_proxies.assign(32, "10.0.0.1/8");  // host bits are ignored
  c.limits.max_request_bytes = int64_t{1} << 30;
  c.limits.dedup_window = absl::ZeroDuration();
  c.sources.dify.path_prefix = "/";
  c.listeners.address = "::1";
  c.listeners.ingest_port = 65535;
  for (int i = 0; i < 100; ++i) c.mapping.push_back(Rule(absl::StrCat("drop-", i), Action::kDrop));
  c.mapping.resize(100);
  c.destinations.resize(8, c.destinations[0]);
  for (int i = 0; i < 8; ++i) c.destinations[i].name = absl::StrCat("d", i);
  c.destinations[7].amplitude->max_retries = 0;
  EXPECT_TRUE(ValidateIngestConfig(c).ok()) << ValidateIngestConfig(c);
  EXPECT_EQ(MustParse(MustRender(c)), c);
}

TEST(Validate, ParseRunsIt) {
  EXPECT_EQ(ParseError(kHeader + "sources: {dify: {enabled: true}}\n"),
            "auth.difyKeys: required while sources.dify.enabled is true");
  EXPECT_EQ(
      ParseError(kHeader + "mapping:\n"
                           "- {name: a, action: Drop}\n"
                           "- {name: b, action: Drop}\n"
                           "- {name: plan, action: Extract, from: b, target: a, regex: \"(a\"}\n"),
      "mapping[2].regex: invalid RE2: missing ): (a (rule \"plan\")");
}

}  // namespace
}  // namespace cohort::config
