// The AnalyticsPipeline CRD (crds/cohort.dev_analyticspipelines.yaml) against the real API server:
// it applies server-side and becomes Established; both samples are accepted; defaults are filled
// in; every invalid spec of a table — schema violations, cross-field CEL rules and immutability
// (transition) rules — is rejected with a message naming the field and the rule; the status
// subresource feeds the printer columns; `kubectl explain` prints the descriptions.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/control_plane.h"
#include "tests/support/wait.h"

namespace cohort::testing {
namespace {

using nlohmann::json;

constexpr char kCrdName[] = "analyticspipelines.cohort.dev";
constexpr char kFieldManager[] = "cohort-crd-integration-test";

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(COHORT_SOURCE_DIR, "/", relative);
}

// Applies the CRD server-side, as its header asks, and waits until it serves. Idempotent: every
// suite sharing the control plane may call it.
absl::Status InstallCrd(ControlPlane& cp) {
  absl::StatusOr<std::string> out =
      cp.Kubectl({"apply", "--server-side", "--force-conflicts",
                  absl::StrCat("--field-manager=", kFieldManager), "-f",
                  SourcePath("crds/cohort.dev_analyticspipelines.yaml")});
  if (!out.ok()) return out.status();
  out = cp.Kubectl(
      {"wait", "--for=condition=Established", "--timeout=60s", absl::StrCat("crd/", kCrdName)});
  return out.status();
}

absl::Status InstallCrdOnce(ControlPlane& cp) {
  static const absl::Status* const status = new absl::Status(InstallCrd(cp));
  return *status;
}

absl::StatusOr<json> ParseJson(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InternalError(absl::StrCat("not JSON: ", text));
  return parsed;
}

// `text` with every run of whitespace made one space.
std::string Words(absl::string_view text) {
  return absl::StrJoin(absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty()), " ");
}

// An AnalyticsPipeline named `name` whose spec is `spec` (lines indented by two spaces).
std::string Pipeline(const std::string& spec, const std::string& name = "p") {
  return absl::StrCat(
      "apiVersion: cohort.dev/v1alpha1\nkind: AnalyticsPipeline\nmetadata:\n  name: ", name,
      "\nspec:\n", spec);
}

constexpr char kAuth[] = "  auth: {apiKeysSecretRef: {name: keys}}\n";
constexpr char kEmbedded[] = "  storage: {embedded: {}}\n";
constexpr char kClickHouse[] = "  storage: {clickhouse: {url: \"http://clickhouse:8123\"}}\n";

std::string WithAuth(const std::string& rest) { return absl::StrCat(kAuth, rest); }

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string ManyMappingRules(int n) {
  std::string rules = "  mapping:\n";
  for (int i = 0; i < n; ++i) absl::StrAppend(&rules, "  - {name: rule-", i, ", action: Drop}\n");
  return rules;
}

std::string ManyDestinations(int n) {
  std::string list = "  destinations:\n";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&list, "  - {name: dest-", i, ", amplitude: {apiKeySecretRef: {name: amp}}}\n");
  }
  return list;
}

class CrdTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    if (HasFatalFailure()) return;
    absl::Status installed = InstallCrdOnce(cp());
    ASSERT_TRUE(installed.ok()) << installed;
  }

  absl::StatusOr<std::string> Apply(const std::string& manifest) {
    return Kubectl(
        {"apply", "--server-side", absl::StrCat("--field-manager=", kFieldManager), "-f", "-"},
        manifest);
  }

  absl::StatusOr<json> Get(const std::string& name) {
    absl::StatusOr<std::string> out = Kubectl({"get", "analyticspipeline", name, "-o", "json"});
    if (!out.ok()) return out.status();
    return ParseJson(*out);
  }
};

TEST_F(CrdTest, AppliesServerSideAndBecomesEstablished) {
  absl::Status installed = InstallCrd(cp());  // again: applying twice is fine
  ASSERT_TRUE(installed.ok()) << installed;
  absl::StatusOr<std::string> out =
      cp().Kubectl({"get", "crd", kCrdName, "--show-managed-fields", "-o", "json"});
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<json> parsed = ParseJson(*out);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  json crd = *std::move(parsed);  // non-const: a missing key reads as null
  std::vector<std::string> conditions;
  for (const json& c : crd["status"].value("conditions", json::array())) {
    conditions.push_back(absl::StrCat(c.value("type", ""), "=", c.value("status", "")));
  }
  const std::string joined = absl::StrJoin(conditions, ",");
  EXPECT_TRUE(absl::StrContains(joined, "NamesAccepted=True")) << joined;
  EXPECT_TRUE(absl::StrContains(joined, "Established=True")) << joined;
  bool applied_by_us = false;
  for (const json& f : crd["metadata"].value("managedFields", json::array())) {
    if (f.value("manager", "") == kFieldManager && f.value("operation", "") == "Apply") {
      applied_by_us = true;
    }
  }
  EXPECT_TRUE(applied_by_us) << crd["metadata"].dump();
  EXPECT_FALSE(
      crd["metadata"].contains("annotations") &&
      crd["metadata"]["annotations"].contains("kubectl.kubernetes.io/last-applied-configuration"))
      << "applied client-side";
  EXPECT_EQ(crd["status"]["acceptedNames"]["shortNames"], json::array({"apl"}));
  EXPECT_EQ(crd["status"]["acceptedNames"]["categories"], json::array({"cohort"}));
}

TEST_F(CrdTest, SamplesAreAccepted) {
  for (const char* sample : {"manifests/samples/analyticspipeline-minimal.yaml",
                             "manifests/samples/analyticspipeline-full.yaml"}) {
    absl::StatusOr<std::string> out =
        Kubectl({"apply", "--server-side", absl::StrCat("--field-manager=", kFieldManager), "-f",
                 SourcePath(sample)});
    EXPECT_TRUE(out.ok()) << sample << ": " << out.status();
  }
  // Short name and category reach both.
  absl::StatusOr<std::string> out = Kubectl({"get", "apl", "-o", "name"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "analyticspipeline.cohort.dev/analytics\n"
            "analyticspipeline.cohort.dev/analytics-full\n");
  out = Kubectl({"get", "cohort", "-o", "name"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(absl::StrContains(*out, "analyticspipeline.cohort.dev/analytics-full")) << *out;

  // Nothing of the full sample was pruned: the embedded Kubernetes types kept their fields.
  absl::StatusOr<json> full = Get("analytics-full");
  ASSERT_TRUE(full.ok()) << full.status();
  json spec = (*full)["spec"];
  EXPECT_EQ(spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
                [0]["podAffinityTerm"]["topologyKey"],
            "kubernetes.io/hostname");
  EXPECT_EQ(spec["networkPolicy"]["ingressFrom"][2]["ipBlock"]["except"][0], "10.20.99.0/24");
  EXPECT_EQ(spec["tolerations"][0]["effect"], "NoSchedule");
  EXPECT_EQ(spec["resources"]["requests"]["cpu"], "500m");
  EXPECT_EQ(spec["mapping"].size(), 6u);
  EXPECT_EQ(spec["mapping"][5]["jsonPath"], "$.feature");
  EXPECT_EQ(spec["destinations"][1]["amplitude"]["region"], "EU");
}

TEST_F(CrdTest, DefaultsAreApplied) {
  absl::StatusOr<std::string> out = Apply(Pipeline(WithAuth(kEmbedded)));
  ASSERT_TRUE(out.ok()) << out.status();
  out = Apply(Pipeline(R"(  sources: {dify: {enabled: true}}
  auth:
    apiKeysSecretRef: {name: keys}
    difyKeysSecretRef: {name: dify}
    queryKeysSecretRef: {name: query}
  storage: {clickhouse: {url: "http://clickhouse:8123", credentialsSecretRef: {name: ch}}}
  destinations: [{name: amp, amplitude: {apiKeySecretRef: {name: amp}}}]
  tls: {secretName: tls}
  autoscaling: {maxReplicas: 4}
  networkPolicy: {}
)",
                       "q"));
  ASSERT_TRUE(out.ok()) << out.status();

  absl::StatusOr<json> p = Get("p");
  ASSERT_TRUE(p.ok()) << p.status();
  json spec = (*p)["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["sources"]["amplitude"]["enabled"], true);
  EXPECT_EQ(spec["sources"]["dify"]["enabled"], false);
  EXPECT_EQ(spec["sources"]["dify"]["pathPrefix"], "/dify");
  EXPECT_EQ(spec["sources"]["dify"]["captureContent"], false);
  EXPECT_EQ(spec["sources"]["native"]["enabled"], true);
  EXPECT_EQ(spec["auth"]["apiKeysSecretRef"]["key"], "api-keys");
  EXPECT_EQ(spec["identity"]["minIdLength"], 5);
  EXPECT_EQ(spec["identity"]["sessionTimeout"], "30m");
  EXPECT_EQ(spec["identity"]["resolveDeviceToUser"], true);
  EXPECT_EQ(spec["identity"]["truncateIp"], false);
  EXPECT_EQ(spec["limits"]["maxRequestBytes"], 20971520);
  EXPECT_EQ(spec["limits"]["maxEventsPerRequest"], 2000);
  EXPECT_EQ(spec["limits"]["eventsPerSecondPerDevice"], 30);
  EXPECT_EQ(spec["limits"]["eventsPerSecondPerUser"], 30);
  EXPECT_EQ(spec["limits"]["maxConnections"], 1024);
  EXPECT_EQ(spec["limits"]["dedupWindow"], "10m");
  EXPECT_EQ(spec["storage"]["embedded"]["size"], "10Gi");
  EXPECT_EQ(spec["storage"]["embedded"]["retention"], "395d");
  EXPECT_EQ(spec["storage"]["embedded"]["reclaimPolicy"], "Retain");
  // Optional parts stay absent.
  for (const char* absent : {"tls", "autoscaling", "networkPolicy", "mapping", "destinations"}) {
    EXPECT_FALSE(spec.contains(absent)) << absent;
  }

  absl::StatusOr<json> q = Get("q");
  ASSERT_TRUE(q.ok()) << q.status();
  json qs = (*q)["spec"];
  EXPECT_EQ(qs["auth"]["difyKeysSecretRef"]["publicKeyKey"], "public-key");
  EXPECT_EQ(qs["auth"]["difyKeysSecretRef"]["secretKeyKey"], "secret-key");
  EXPECT_EQ(qs["auth"]["queryKeysSecretRef"]["key"], "query-keys");
  json ch = qs["storage"]["clickhouse"];
  EXPECT_EQ(ch["database"], "cohort");
  EXPECT_EQ(ch["batchSize"], 10000);
  EXPECT_EQ(ch["flushInterval"], "1s");
  EXPECT_EQ(ch["credentialsSecretRef"]["usernameKey"], "username");
  EXPECT_EQ(ch["credentialsSecretRef"]["passwordKey"], "password");
  json amp = qs["destinations"][0]["amplitude"];
  EXPECT_EQ(amp["apiKeySecretRef"]["key"], "api-key");
  EXPECT_EQ(amp["region"], "US");
  EXPECT_EQ(amp["batchSize"], 100);
  EXPECT_EQ(amp["flushInterval"], "10s");
  EXPECT_EQ(amp["maxRetries"], 10);
  EXPECT_EQ(qs["tls"]["minVersion"], "1.3");
  EXPECT_EQ(qs["autoscaling"]["minReplicas"], 1);
  EXPECT_EQ(qs["autoscaling"]["targetCPUUtilizationPercentage"], 80);
  EXPECT_EQ(qs["networkPolicy"]["enabled"], false);
}

TEST_F(CrdTest, StatusSubresourceFeedsThePrinterColumns) {
  ASSERT_TRUE(Apply(Pipeline(WithAuth(kEmbedded))).ok());
  const std::string status = R"({"status": {
    "observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "configHash": "0123abcd",
    "endpoint": "http://p.ns.svc:8080",
    "conditions": [{"type": "Ready", "status": "True", "reason": "RolloutComplete",
                    "message": "1 of 1 replicas ready", "observedGeneration": 1,
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
    "spec": {"replicas": 0}})";
  absl::StatusOr<std::string> out = Kubectl(
      {"patch", "analyticspipeline", "p", "--subresource=status", "--type=merge", "-p", status});
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<json> p = Get("p");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)["spec"]["replicas"], 1) << "the status subresource must not write the spec";
  EXPECT_EQ((*p)["metadata"]["generation"], 1);
  EXPECT_EQ((*p)["status"]["configHash"], "0123abcd");

  out = Kubectl({"get", "apl", "p"});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::string> lines = absl::StrSplit(*out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << *out;
  EXPECT_EQ(Words(lines[0]), "NAME READY REPLICAS ENDPOINT AGE");
  EXPECT_TRUE(absl::StartsWith(Words(lines[1]), "p True 1 http://p.ns.svc:8080 ")) << *out;
  out = Kubectl({"get", "apl", "p", "-o", "wide"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(absl::StrContains(*out, "READY-REPLICAS")) << *out;
  EXPECT_TRUE(absl::StrContains(*out, "RolloutComplete")) << *out;
}

// `kubectl explain` output in Words(), so checks do not depend on where kubectl wraps lines.
absl::StatusOr<std::string> Explain(ControlPlane& cp, const std::string& field) {
  absl::StatusOr<std::string> out = cp.Kubectl({"explain", field});
  if (!out.ok()) return out.status();
  return Words(*out);
}

TEST_F(CrdTest, ExplainPrintsDescriptions) {
  // The published OpenAPI of a new or changed CRD lags its establishment by a moment.
  std::string spec;
  absl::Status ready = WaitFor(
      "kubectl explain to show the CRD's descriptions", absl::Seconds(60),
      [&] {
        absl::StatusOr<std::string> out = Explain(cp(), "analyticspipeline.spec");
        if (!out.ok() || !absl::StrContains(*out, "The desired state of the pipeline.")) {
          return false;
        }
        spec = *out;
        return true;
      },
      absl::Milliseconds(500));
  ASSERT_TRUE(ready.ok()) << ready;
  for (const char* text :
       {"Where events are stored: exactly one of embedded and clickhouse.",
        "storage <Object> -required-", "auth <Object> -required-",
        "Rules that transform events after validation, applied in list order",
        "imagePullPolicy <string> enum: Always, IfNotPresent, Never",
        "replicas <integer> Number of ingest pods. At most 1 with embedded storage."}) {
    EXPECT_TRUE(absl::StrContains(spec, text)) << text << " not in:\n" << spec;
  }

  absl::StatusOr<std::string> out = Explain(cp(), "apl.spec.storage.embedded");
  ASSERT_TRUE(out.ok()) << out.status();
  for (const char* text :
       {"A single-node store on a PersistentVolume (replicas at most 1, no autoscaling).",
        "Size of the data volume (write-ahead log and store)",
        "reclaimPolicy <string> enum: Retain, Delete",
        "Cannot be changed (nor set or unset) after creation."}) {
    EXPECT_TRUE(absl::StrContains(*out, text)) << text << " not in:\n" << *out;
  }

  // The embedded Kubernetes types carry the API server's own documentation.
  out = Explain(cp(), "apl.spec.affinity.nodeAffinity");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(absl::StrContains(*out, "requiredDuringSchedulingIgnoredDuringExecution <Object>"))
      << *out;
  EXPECT_TRUE(absl::StrContains(*out, "The scheduler will prefer to schedule pods to nodes"))
      << *out;
}

// ------------------------------------------------------------------------ invalid specs

struct InvalidCase {
  std::string name;  // the test's name
  std::string spec;  // the rejected spec
  // Substrings the API server's answer must contain: the field path and the rule's words.
  std::vector<std::string> expected;
  // When set, a spec that is accepted first: `spec` is then an update (immutability rules).
  std::string before = "";
  std::string object_name = "p";
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

std::vector<InvalidCase> InvalidCases() {
  return {
      {"NoStorage", kAuth, {"spec.storage: Required value"}},
      {"NoAuth", kEmbedded, {"spec.auth: Required value"}},
      {"EmptyStorage",
       WithAuth("  storage: {}\n"),
       {"spec.storage", "exactly one of storage.embedded and storage.clickhouse must be set"}},
      {"BothStorages",
       WithAuth("  storage: {embedded: {}, clickhouse: {url: \"http://ch:8123\"}}\n"),
       {"spec.storage", "exactly one of storage.embedded and storage.clickhouse must be set"}},
      {"EmbeddedWithTwoReplicas",
       WithAuth(absl::StrCat("  replicas: 2\n", kEmbedded)),
       {"spec.replicas: Forbidden", "replicas must be 0 or 1 with embedded storage"}},
      {"EmbeddedWithAutoscaling",
       WithAuth(absl::StrCat(kEmbedded, "  autoscaling: {maxReplicas: 3}\n")),
       {"spec.autoscaling: Forbidden", "autoscaling requires storage.clickhouse"}},
      {"ChangingStorageBackend",
       WithAuth(kClickHouse),
       {"spec.storage: Forbidden",
        "the storage backend (embedded or clickhouse) cannot be changed"},
       WithAuth(kEmbedded)},
      {"ShrinkingEmbeddedSize",
       WithAuth("  storage: {embedded: {size: 10Gi}}\n"),
       {"spec.storage.embedded.size: Forbidden", "cannot shrink (it was 20Gi)"},
       WithAuth("  storage: {embedded: {size: 20Gi}}\n")},
      {"ChangingStorageClass",
       WithAuth("  storage: {embedded: {storageClassName: fast}}\n"),
       {"spec.storage.embedded.storageClassName: Forbidden", "cannot be changed"},
       WithAuth("  storage: {embedded: {storageClassName: standard}}\n")},
      {"SettingStorageClassLater",
       WithAuth("  storage: {embedded: {storageClassName: standard}}\n"),
       {"spec.storage.embedded.storageClassName: Forbidden", "cannot be changed"},
       WithAuth(kEmbedded)},
      {"ChangingDatabase",
       WithAuth("  storage: {clickhouse: {url: \"http://ch:8123\", database: other}}\n"),
       {"spec.storage.clickhouse.database: Forbidden", "cannot be changed"},
       WithAuth(kClickHouse)},
      {"ZeroSize",
       WithAuth("  storage: {embedded: {size: \"0\"}}\n"),
       {"spec.storage.embedded.size", "must be a whole number of bytes of at least 1Mi"}},
      {"SizeBelowOneMi",
       WithAuth("  storage: {embedded: {size: 1023Ki}}\n"),
       {"spec.storage.embedded.size", "must be a whole number of bytes of at least 1Mi"}},
      {"SizeWithMilliSuffix",
       WithAuth("  storage: {embedded: {size: 2000000000m}}\n"),
       {"spec.storage.embedded.size", "must be a whole number of bytes of at least 1Mi"}},
      {"RetentionBelowAnHour",
       WithAuth("  storage: {embedded: {retention: 59m59s}}\n"),
       {"spec.storage.embedded.retention", "must be between 1h and 36500d"}},
      {"RetentionAbove36500Days",
       WithAuth("  storage: {embedded: {retention: 36500d1ms}}\n"),
       {"spec.storage.embedded.retention", "must be between 1h and 36500d"}},
      {"SizeNotAQuantity",
       WithAuth("  storage: {embedded: {size: 10GB}}\n"),
       {"spec.storage.embedded.size", "should match"}},
      {"BadReclaimPolicy",
       WithAuth("  storage: {embedded: {reclaimPolicy: Keep}}\n"),
       {"spec.storage.embedded.reclaimPolicy: Unsupported value: \"Keep\"",
        "supported values: \"Retain\", \"Delete\""}},
      {"BadAction",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Move, target: t}]\n")),
       {"spec.mapping[0].action: Unsupported value: \"Move\""}},
      {"BadSource",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop, match: {source: segment}}]\n")),
       {"spec.mapping[0].match.source: Unsupported value: \"segment\""}},
      {"RenameWithoutTarget",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Rename}]\n")),
       {"spec.mapping[0].target: Required value",
        "target is required for the actions Rename, Set, Copy and Extract"}},
      {"SetWithoutValue",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Set, target: t}]\n")),
       {"spec.mapping[0].value: Required value", "value is required for the action Set"}},
      {"ExtractWithoutFrom",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Extract, target: t, regex: (x)}]\n")),
       {"spec.mapping[0].from: Required value",
        "from is required for the actions Copy and Extract"}},
      {"CopyWithoutFrom",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Copy, target: t}]\n")),
       {"spec.mapping[0].from: Required value",
        "from is required for the actions Copy and Extract"}},
      {"ValueOnlyForSet",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Rename, target: T, value: v}]\n")),
       {"spec.mapping[0].value: Forbidden", "value is only used by the action Set"}},
      {"FromOnlyForCopyAndExtract",
       WithAuth(absl::StrCat(
           kEmbedded, "  mapping: [{name: r1, action: Set, target: t, value: v, from: f}]\n")),
       {"spec.mapping[0].from: Forbidden", "from is only used by the actions Copy and Extract"}},
      {"JsonPathOnlyForExtract",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Copy, target: t, from: f, "
                             "jsonPath: $.a}]\n")),
       {"spec.mapping[0].jsonPath: Forbidden", "jsonPath is only used by the action Extract"}},
      {"RegexOnlyForExtract",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Drop, regex: (x)}]\n")),
       {"spec.mapping[0].regex: Forbidden", "regex is only used by the action Extract"}},
      {"TargetNotAPropertyPath",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Set, target: \"$.tags[*]\", "
                             "value: v}]\n")),
       {"spec.mapping[0].target: Invalid value", "target must be a property path"}},
      {"TargetPathOver256Bytes",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Copy, from: a, target: ",
                             std::string(257, 'a'), "}]\n")),
       {"spec.mapping[0].target: Invalid value", "target must be a property path of at most 256"}},
      {"DropRemovingEventType",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop, target: "
                             "\"$['event\\\\u005ftype']\"}]\n")),
       {"spec.mapping[0].target: Invalid value", "Drop cannot remove event_type"}},
      {"ExtractRegexWithoutCaptureGroup",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Extract, target: t, from: f, "
                             "regex: \"^[a-z]+-\"}]\n")),
       {"spec.mapping[0].regex: Invalid value",
        "regex needs a capture group for the action Extract"}},
      {"InvalidRegex",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop, match: {property: {path: $.a, "
                             "regex: \"(a\"}}}]\n")),
       {"spec.mapping[0].match.property.regex", "error parsing regexp: missing closing )",
        "must be a valid RE2 regular expression"}},
      {"AngleBracketNamedGroup",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Extract, target: t, from: f, "
                             "regex: \"(?<v>[0-9]+)\"}]\n")),
       {"spec.mapping[0].regex", "named groups are written (?P<name>...)"}},
      {"JsonPathWithoutRoot",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Extract, target: t, from: f, "
                             "jsonPath: feature}]\n")),
       {"spec.mapping[0].jsonPath", "must be a JSONPath such as"}},
      {"MatchPathWithFilter",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop, match: {property: "
                             "{path: \"$.items[?(@.x)]\"}}}]\n")),
       {"spec.mapping[0].match.property.path", "must be a JSONPath such as"}},
      {"FromWithWildcard",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Copy, target: t, from: "
                             "\"event_properties.*\"}]\n")),
       {"spec.mapping[0].from", "must be a property path such as"}},
      {"EmptyEventType",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop, match: {eventType: \"\"}}]\n")),
       {"spec.mapping[0].match.eventType", "should be at least 1 chars long"}},
      {"EventTypeOver1024Bytes",  // 600 characters, 1200 bytes
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Drop, match: {eventType: ",
                             Repeat("\xC3\xA9", 600), "}}]\n")),
       {"spec.mapping[0].match.eventType", "must be at most 1024 bytes (UTF-8)"}},
      // 2049 characters, 4098 bytes. The answer quotes the value, so the field path is beyond the
      // tail of kubectl's output the test keeps; 4096 bytes is value's limit only.
      {"ValueOver4096Bytes",
       WithAuth(absl::StrCat(kEmbedded, "  mapping: [{name: r1, action: Set, target: t, value: ",
                             Repeat("\xC3\xA9", 2049), "}]\n")),
       {"must be at most 4096 bytes (UTF-8)"}},
      {"ControlCharacterInRenameTarget",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Rename, target: \"a\\x01b\"}]\n")),
       {"spec.mapping[0].target", "must not contain control characters"}},
      {"ControlCharacterInEquals",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop, match: {property: "
                             "{path: $.a, equals: \"a\\x1bb\"}}}]\n")),
       {"spec.mapping[0].match.property.equals",
        "must not contain control characters other than tab and line breaks"}},
      {"ExtractWithJsonPathAndRegex",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Extract, target: t, from: f, regex: "
                             "x, jsonPath: $.a}]\n")),
       {"spec.mapping[0]", "the action Extract needs exactly one of jsonPath and regex"}},
      {"ExtractWithNeitherJsonPathNorRegex",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Extract, target: t, from: f}]\n")),
       {"spec.mapping[0]", "the action Extract needs exactly one of jsonPath and regex"}},
      {"DuplicateRuleNames",
       WithAuth(absl::StrCat(kEmbedded,
                             "  mapping: [{name: r1, action: Drop}, {name: r1, action: Drop}]\n")),
       {".spec.mapping: duplicate entries for key [name=\"r1\"]"}},
      {"TooManyMappingRules",
       WithAuth(absl::StrCat(kEmbedded, ManyMappingRules(101))),
       {"spec.mapping: Too many: 101: must have at most 100 items"}},
      {"TooManyDestinations",
       WithAuth(absl::StrCat(kEmbedded, ManyDestinations(9))),
       {"spec.destinations: Too many: 9: must have at most 8 items"}},
      {"DestinationWithoutKind",
       WithAuth(absl::StrCat(kEmbedded, "  destinations: [{name: amp}]\n")),
       {"spec.destinations[0].amplitude: Required value"}},
      {"AmplitudeBatchTooLarge",
       WithAuth(absl::StrCat(kEmbedded,
                             "  destinations: [{name: a, amplitude: {apiKeySecretRef: {name: k}, "
                             "batchSize: 2001}}]\n")),
       {"spec.destinations[0].amplitude.batchSize", "should be less than or equal to 2000"}},
      {"BadPathPrefix",
       WithAuth(absl::StrCat(kEmbedded, "  sources: {dify: {pathPrefix: dify}}\n")),
       {"spec.sources.dify.pathPrefix", "should match '^/([a-z0-9_-]+(/[a-z0-9_-]+)*)?$'"}},
      {"PathPrefixWithTrailingSlash",
       WithAuth(absl::StrCat(kEmbedded, "  sources: {dify: {pathPrefix: /dify/}}\n")),
       {"spec.sources.dify.pathPrefix", "should match '^/([a-z0-9_-]+(/[a-z0-9_-]+)*)?$'"}},
      {"PathPrefixWithEmptySegment",
       WithAuth(absl::StrCat(kEmbedded, "  sources: {dify: {pathPrefix: /a//b}}\n")),
       {"spec.sources.dify.pathPrefix", "should match '^/([a-z0-9_-]+(/[a-z0-9_-]+)*)?$'"}},
      {"DifyWithoutKeys",
       WithAuth(absl::StrCat(kEmbedded, "  sources: {dify: {enabled: true}}\n")),
       {"spec.auth.difyKeysSecretRef: Required value",
        "auth.difyKeysSecretRef is required when sources.dify.enabled is true"}},
      {"AutoscalingMinAboveMax",
       WithAuth(absl::StrCat(kClickHouse, "  autoscaling: {minReplicas: 5, maxReplicas: 2}\n")),
       {"spec.autoscaling.minReplicas",
        "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"}},
      {"TooManyReplicas",
       WithAuth(absl::StrCat(kClickHouse, "  replicas: 101\n")),
       {"spec.replicas", "should be less than or equal to 100"}},
      {"TrustedProxyNotACidr",
       WithAuth(absl::StrCat(kEmbedded, "  identity: {trustedProxies: [10.0.0.0/33]}\n")),
       {"spec.identity.trustedProxies[0]", "must be of type cidr"}},
      {"BadDuration",
       WithAuth(absl::StrCat(kEmbedded, "  identity: {sessionTimeout: \"30\"}\n")),
       {"spec.identity.sessionTimeout", "should match"}},
      {"SubMillisecondDuration",
       WithAuth(absl::StrCat(kEmbedded, "  identity: {sessionTimeout: 1.0005s}\n")),
       {"spec.identity.sessionTimeout", "should match"}},
      {"SessionTimeoutAboveSevenDays",
       WithAuth(absl::StrCat(kEmbedded, "  identity: {sessionTimeout: 6d24h1s}\n")),
       {"spec.identity.sessionTimeout", "identity.sessionTimeout must be between 1s and 7d"}},
      {"SessionTimeoutBelowASecond",
       WithAuth(absl::StrCat(kEmbedded, "  identity: {sessionTimeout: 999ms}\n")),
       {"spec.identity.sessionTimeout", "identity.sessionTimeout must be between 1s and 7d"}},
      {"DedupWindowAboveSevenDays",
       WithAuth(absl::StrCat(kEmbedded, "  limits: {dedupWindow: 168.001h}\n")),
       {"spec.limits.dedupWindow", "limits.dedupWindow must be at most 7d"}},
      {"ClickHouseFlushIntervalAboveAnHour",
       WithAuth("  storage: {clickhouse: {url: \"http://ch:8123\", flushInterval: 1h1ms}}\n"),
       {"spec.storage.clickhouse.flushInterval", "must be between 1ms and 1h"}},
      {"AmplitudeFlushIntervalZero",
       WithAuth(absl::StrCat(kEmbedded,
                             "  destinations: [{name: a, amplitude: {apiKeySecretRef: "
                             "{name: k}, flushInterval: 0s}}]\n")),
       {"spec.destinations[0].amplitude.flushInterval", "must be between 1ms and 1h"}},
      {"CredentialsInClickHouseUrl",
       WithAuth("  storage: {clickhouse: {url: \"http://user:secret@ch:8123\"}}\n"),
       {"spec.storage.clickhouse.url", "must be http(s)://host[:port][/path]",
        "no user:password@"}},
      {"ClickHouseUrlPortOutOfRange",
       WithAuth("  storage: {clickhouse: {url: \"http://ch:65536\"}}\n"),
       {"spec.storage.clickhouse.url", "port 1-65535"}},
      {"ClickHouseUrlWithQuery",
       WithAuth("  storage: {clickhouse: {url: \"http://ch:8123/?database=x\"}}\n"),
       {"spec.storage.clickhouse.url", "no query or fragment"}},
      {"BadClickHouseCluster",
       WithAuth("  storage: {clickhouse: {url: \"http://ch:8123\", cluster: \"my cluster\"}}\n"),
       {"spec.storage.clickhouse.cluster", "should match '^[A-Za-z0-9_.-]+$'"}},
      {"AmplitudeEndpointWithApiPath",
       WithAuth(absl::StrCat(kEmbedded,
                             "  destinations: [{name: a, amplitude: {apiKeySecretRef: "
                             "{name: k}, endpoint: "
                             "\"https://api.eu.amplitude.com/2/httpapi\"}}]\n")),
       {"spec.destinations[0].amplitude.endpoint",
        "must be a base URL such as https://api2.amplitude.com"}},
      {"AmplitudeEndpointNotAUrl",
       WithAuth(absl::StrCat(kEmbedded,
                             "  destinations: [{name: a, amplitude: {apiKeySecretRef: "
                             "{name: k}, endpoint: \"amplitude-proxy:8080\"}}]\n")),
       {"spec.destinations[0].amplitude.endpoint", "must be http(s)://host[:port][/path]"}},
      {"TrustedProxyPrefixWithLeadingZeros",
       WithAuth(absl::StrCat(kEmbedded, "  identity: {trustedProxies: [10.0.0.0/0008]}\n")),
       {"spec.identity.trustedProxies[0]", "should match '^[^/]+/[0-9]{1,3}$'"}},
      {"TrustedProxyWithLeadingZeroOctet",
       WithAuth(
           absl::StrCat(kEmbedded, "  identity: {trustedProxies: [10.0.0.0/8, 010.0.0.0/8]}\n")),
       {"spec.identity.trustedProxies[1]", "the IPv4 parts of a CIDR must not have leading zeros"}},
      {"SecretKeyDotDot",
       absl::StrCat("  auth: {apiKeysSecretRef: {name: keys, key: ..data}}\n", kEmbedded),
       {"spec.auth.apiKeysSecretRef.key", "should match"}},
      {"BadTlsVersion",
       WithAuth(absl::StrCat(kEmbedded, "  tls: {secretName: tls, minVersion: \"1.1\"}\n")),
       {"spec.tls.minVersion: Unsupported value: \"1.1\""}},
      {"UnknownField",
       WithAuth("  storage: {embedded: {sise: 10Gi}}\n"),
       {".spec.storage.embedded.sise: field not declared in schema"}},
      {"NameNotADns1035Label",
       WithAuth(kEmbedded),
       {"metadata.name must be a DNS-1035 label"},
       "",
       "1st-pipeline"},
  };
}

class InvalidSpecTest : public CrdTest, public ::testing::WithParamInterface<InvalidCase> {};

TEST_P(InvalidSpecTest, IsRejectedNamingTheFieldAndRule) {
  const InvalidCase& c = GetParam();
  if (!c.before.empty()) {
    absl::StatusOr<std::string> created = Apply(Pipeline(c.before, c.object_name));
    ASSERT_TRUE(created.ok()) << "the starting spec must be valid: " << created.status();
  }
  absl::StatusOr<std::string> out = Apply(Pipeline(c.spec, c.object_name));
  ASSERT_FALSE(out.ok()) << "accepted:\n" << c.spec;
  const std::string message(out.status().message());
  for (const std::string& expected : c.expected) {
    EXPECT_TRUE(absl::StrContains(message, expected)) << "expected \"" << expected << "\" in:\n"
                                                      << message;
  }
}

INSTANTIATE_TEST_SUITE_P(AnalyticsPipeline, InvalidSpecTest, ::testing::ValuesIn(InvalidCases()),
                         [](const ::testing::TestParamInfo<InvalidCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace cohort::testing
