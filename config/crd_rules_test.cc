// The AnalyticsPipeline CRD (crds/cohort.dev_analyticspipelines.yaml) against this library, which
// is the contract: every value the CRD's patterns, regex rules, ranges and bounds accept for a
// field must be one the config accepts there, so the API server never accepts a spec the operator
// then cannot render; and the CRD's defaults must be the config's defaults.
//
// The CRD's regexes run in the API server under Go's regexp, here under RE2: the same syntax and
// semantics for everything the CRD uses. Each is checked on notable values and on many random
// strings (fixed seeds). The CRD may be stricter in documented corners (list indexes of more than 9
// digits, fractions finer than a millisecond's digits, literal '[' in a regex character class);
// the integration test (tests/integration/crd_test.cc) shows the API server enforcing the rules.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "config/ingest_config.h"
#include "config/json_path.h"
#include "config/units.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace cohort::config {

// Readable failures: a config prints as its rendering.
void PrintTo(const IngestConfig& c, std::ostream* os) {
  absl::StatusOr<std::string> text = RenderIngestConfig(c);
  *os << (text.ok() ? *text : absl::StrCat("(invalid config: ", text.status().ToString(), ")"));
}

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Reading the CRD.

// The openAPIV3Schema of the generated CRD; a null node (and a test failure) if it cannot be read.
const YAML::Node& Schema() {
  static const YAML::Node* const schema = [] {
    const std::string path =
        absl::StrCat(COHORT_SOURCE_DIR, "/crds/cohort.dev_analyticspipelines.yaml");
    try {
      return new YAML::Node(
          YAML::LoadFile(path)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]);
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << "cannot read " << path << ": " << e.what();
      return new YAML::Node();
    }
  }();
  return *schema;
}

YAML::Node Descend(const YAML::Node& node, const std::vector<std::string>& parts, size_t i) {
  if (i == parts.size() || !node.IsMap()) return node;
  std::string name = parts[i];
  const bool items = absl::EndsWith(name, "[]");
  if (items) name.resize(name.size() - 2);
  const YAML::Node child = node["properties"][name];
  return Descend(items ? child["items"] : child, parts, i + 1);
}

// The schema of the spec field at `path`, e.g. "mapping[].match.property.path"; "[]" selects a
// list's items. Fails the test if there is none.
YAML::Node Field(const std::string& path) {
  YAML::Node node =
      Descend(Schema()["properties"]["spec"], absl::StrSplit(path, '.', absl::SkipEmpty()), 0);
  EXPECT_TRUE(node.IsMap()) << "no field spec." << path << " in the CRD";
  return node;
}

// The CEL rules of a schema node.
std::vector<std::string> Rules(const YAML::Node& node) {
  std::vector<std::string> rules;
  if (!node.IsMap() || !node["x-kubernetes-validations"]) return rules;
  for (const YAML::Node& v : node["x-kubernetes-validations"]) {
    rules.push_back(v["rule"].as<std::string>());
  }
  return rules;
}

// The one rule of `node` containing `needle` ("" and a failure if not exactly one).
std::string RuleWith(const YAML::Node& node, std::string_view needle) {
  std::vector<std::string> found;
  for (const std::string& rule : Rules(node)) {
    if (rule.find(needle) != std::string::npos) found.push_back(rule);
  }
  EXPECT_EQ(found.size(), 1u) << "rules containing " << needle;
  return found.size() == 1 ? found[0] : "";
}

// The raw string literals of a CEL expression, r'''...''' or r'...', in order.
std::vector<std::string> RawLiterals(std::string_view rule) {
  std::vector<std::string> out;
  size_t i = 0;
  while ((i = rule.find("r'", i)) != std::string_view::npos) {
    const std::string_view quote = rule.substr(i + 1, 3) == "'''" ? "'''" : "'";
    const size_t start = i + 1 + quote.size();
    const size_t end = rule.find(quote, start);
    if (end == std::string_view::npos) break;
    out.emplace_back(rule.substr(start, end - start));
    i = end + quote.size();
  }
  return out;
}

// A compiled CRD regex; matching is a search, as Go's MatchString and CEL's matches() are.
class Regex {
 public:
  explicit Regex(const std::string& pattern) : re_(std::make_unique<RE2>(pattern, Options())) {
    EXPECT_TRUE(re_->ok()) << pattern << ": " << re_->error();
  }
  bool Matches(std::string_view s) const { return RE2::PartialMatch(s, *re_); }
  const std::string& pattern() const { return re_->pattern(); }

 private:
  static RE2::Options Options() {
    RE2::Options options;
    options.set_log_errors(false);
    return options;
  }
  std::unique_ptr<RE2> re_;
};

Regex PatternOf(const std::string& path) {
  return Regex(Field(path)["pattern"].as<std::string>(""));
}

// The one raw literal of the rule of `path` containing `needle`.
Regex RuleRegex(const YAML::Node& node, std::string_view needle) {
  const std::vector<std::string> literals = RawLiterals(RuleWith(node, needle));
  EXPECT_EQ(literals.size(), 1u) << needle;
  return Regex(literals.empty() ? "" : literals[0]);
}

int64_t IntOf(const YAML::Node& node, const char* key) { return node[key].as<int64_t>(-1); }

// ---------------------------------------------------------------------------------------------
// Random strings and the config's verdicts.

// Up to `max` symbols of `alphabet` (multi-byte symbols allowed).
std::string RandomString(std::mt19937& rng, const std::vector<std::string>& alphabet, int max) {
  std::string s;
  const int n = static_cast<int>(rng() % (max + 1));
  for (int i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

std::vector<std::string> Symbols(std::string_view chars, std::vector<std::string> more = {}) {
  for (char c : chars) more.emplace_back(1, c);
  return more;
}

bool Valid(const IngestConfig& c) { return ValidateIngestConfig(c).ok(); }

IngestConfig WithRule(MappingRule rule) {
  IngestConfig c = Defaults();
  rule.name = "r";
  c.mapping = {std::move(rule)};
  return c;
}

IngestConfig WithClickHouse(std::function<void(ClickHouseStorage&)> edit) {
  IngestConfig c = Defaults();
  ClickHouseStorage ch;
  ch.url = "http://clickhouse:8123";
  edit(ch);
  c.storage = ch;
  return c;
}

IngestConfig WithDestination(std::function<void(AmplitudeDestination&)> edit) {
  IngestConfig c = Defaults();
  Destination d;
  d.name = "amp";
  d.amplitude.emplace();
  d.amplitude->api_key_file = "/etc/cohort/secrets/destination-amp/api-key";
  edit(*d.amplitude);
  c.destinations = {d};
  return c;
}

// Checks `crd(s)` ⇒ `config(s)` on `notable` values and `n` random strings, and `expected` for
// the notable ones (true: both accept; false: the CRD rejects).
void ExpectCrdWithinConfig(const std::string& what,
                           const std::function<bool(const std::string&)>& crd,
                           const std::function<bool(const std::string&)>& config,
                           const std::vector<std::pair<std::string, bool>>& notable,
                           const std::vector<std::string>& alphabet, int max_length, int n,
                           uint32_t seed = 1) {
  for (const auto& [s, accepted] : notable) {
    EXPECT_EQ(crd(s), accepted) << what << ": the CRD on \"" << s << "\"";
    if (accepted) {
      EXPECT_TRUE(config(s)) << what << ": the config on \"" << s << "\"";
    }
  }
  std::mt19937 rng(seed);
  int accepted = 0, failures = 0;
  for (int i = 0; i < n && failures < 10; ++i) {
    const std::string s = RandomString(rng, alphabet, max_length);
    if (!crd(s)) continue;
    ++accepted;
    if (!config(s)) {
      ++failures;
      ADD_FAILURE() << what << ": the CRD accepts \"" << s << "\", the config does not";
    }
  }
  EXPECT_GT(accepted, 0) << what << ": no random string passed the CRD (a useless sample)";
}

// ---------------------------------------------------------------------------------------------
// String fields.

TEST(CrdRules, PathPrefixIsTheConfigsRuleExactly) {
  const Regex crd = PatternOf("sources.dify.pathPrefix");
  EXPECT_EQ(static_cast<size_t>(IntOf(Field("sources.dify.pathPrefix"), "maxLength")),
            kMaxPathPrefixLength);
  auto config = [](const std::string& s) {
    IngestConfig c = Defaults();
    c.sources.dify.path_prefix = s;
    return Valid(c);
  };
  for (const char* s : {"/", "/dify", "/a/b-c/d_e", "", "dify", "/dify/", "//", "/a//b", "/A"}) {
    EXPECT_EQ(crd.Matches(s), config(s)) << s;
  }
  std::mt19937 rng(7);
  const std::vector<std::string> alphabet = Symbols("/a_-0Z.");
  for (int i = 0; i < 30000; ++i) {
    const std::string s = RandomString(rng, alphabet, 10);
    ASSERT_EQ(crd.Matches(s), config(s)) << "\"" << s << "\"";
  }
}

TEST(CrdRules, DurationsAreWholeMillisecondsInTheConfigsGrammar) {
  const std::vector<std::string> fields = {
      "identity.sessionTimeout", "limits.dedupWindow", "storage.embedded.retention",
      "storage.clickhouse.flushInterval", "destinations[].amplitude.flushInterval"};
  const Regex crd = PatternOf(fields[0]);
  for (const std::string& field : fields) {
    EXPECT_EQ(Field(field)["pattern"].as<std::string>(""), crd.pattern()) << field;
    EXPECT_EQ(IntOf(Field(field), "maxLength"), 32) << field;
  }
  // Out-of-range values are the bounds rules' business (DurationBoundsAreTheConfigs).
  auto config = [](const std::string& s) {
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(s);
    return d.ok() || absl::StrContains(d.status().message(), "longer than 36500d");
  };
  ExpectCrdWithinConfig(
      "duration", [&](const std::string& s) { return s.size() <= 32 && crd.Matches(s); }, config,
      {{"30m", true},
       {"1h30m", true},
       {"1.5h", true},
       {"395d", true},
       {"0s", true},
       {"500ms", true},
       {"1.25s", true},
       {"0.0001m", true},
       {"0.00001h", true},
       {"36500d", true},
       {"1.5ms", false},
       {"0.0001s", false},
       {"1.0000000001s", false},
       {"30", false},
       {"-1s", false},
       {"1us", false}},
      Symbols("0123456789.msdh"), 14, 300000);
}

TEST(CrdRules, SizeIsTheConfigsGrammar) {
  const YAML::Node size = Field("storage.embedded.size");
  const std::string rule = RuleWith(size, "isInteger");
  const std::vector<std::string> literals = RawLiterals(rule);
  ASSERT_EQ(literals.size(), 1u) << rule;
  const Regex crd(literals[0]);
  EXPECT_EQ(IntOf(size, "maxLength"), 64);
  // Whole bytes and the int64 range are the rule's quantity().isInteger(); at least 1Mi its
  // compareTo (SizeAndIntRangesAreTheConfigs).
  auto config = [](const std::string& s) {
    absl::StatusOr<int64_t> bytes = ParseByteSize(s);
    return bytes.ok() || absl::StrContains(bytes.status().message(), "whole number") ||
           absl::StrContains(bytes.status().message(), "larger than");
  };
  ExpectCrdWithinConfig(
      "size", [&](const std::string& s) { return crd.Matches(s); }, config,
      {{"10Gi", true},
       {"500M", true},
       {"1.5Gi", true},
       {"1e9", true},
       {"1048576", true},
       {"1E18", true},
       {"2000m", false},
       {"+1Gi", false},
       {".5Gi", false},
       {"1e-3", false},
       {"10GB", false}},
      Symbols("0123456789.eEkKMGiTPm+-"), 8, 200000);
}

TEST(CrdRules, UrlsAreTheConfigsRule) {
  const Regex url = RuleRegex(Field("storage.clickhouse.url"), "matches");
  const Regex endpoint = RuleRegex(Field("destinations[].amplitude.endpoint"), "https?://");
  EXPECT_EQ(endpoint.pattern(), url.pattern());
  for (const char* field : {"storage.clickhouse.url", "destinations[].amplitude.endpoint"}) {
    EXPECT_EQ(static_cast<size_t>(IntOf(Field(field), "maxLength")), kMaxUrlLength) << field;
  }
  auto config = [](const std::string& s) {
    return Valid(WithClickHouse([&](ClickHouseStorage& ch) { ch.url = s; })) &&
           Valid(WithDestination([&](AmplitudeDestination& a) { a.endpoint = s; }));
  };
  ExpectCrdWithinConfig(
      "url", [&](const std::string& s) { return url.Matches(s); }, config,
      {{"http://clickhouse.analytics.svc:8123", true},
       {"https://api2.amplitude.com", true},
       {"http://[::1]:8123/path/x", true},
       {"http://10.0.0.1", true},
       {"http://h:65535", true},
       {"http://h:65536", false},
       {"http://h:0", false},
       {"http://h:", false},
       {"http://user:pw@h", false},
       {"http://h/x?y=1", false},
       {"http://h/x#f", false},
       {"http://h/a b", false},
       {"http://[::1", false},
       {"http://", false},
       {"ftp://h", false}},
      Symbols("hp:/[]@?#1.05a%", {"http://", "https://", "\xC3\xA9", "6", " "}), 9, 400000);
}

TEST(CrdRules, ClickHouseClusterIsTheConfigsRule) {
  const Regex crd = PatternOf("storage.clickhouse.cluster");
  auto config = [](const std::string& s) {
    return Valid(WithClickHouse([&](ClickHouseStorage& ch) { ch.cluster = s; }));
  };
  ExpectCrdWithinConfig(
      "cluster", [&](const std::string& s) { return crd.Matches(s); }, config,
      {{"main", true}, {"a.b-c_D9", true}, {"a b", false}, {"a/b", false}, {"", false}},
      Symbols("aZ9._-/ :"), 6, 50000);
}

// The API server's cidr format is Go's lenient parser; the rules add what the config's inet_pton
// refuses beyond it: leading zeros in IPv4 parts and in the prefix length.
TEST(CrdRules, TrustedProxiesRefuseWhatTheConfigRefuses) {
  const YAML::Node field = Field("identity.trustedProxies[]");
  const Regex pattern(field["pattern"].as<std::string>(""));
  const Regex leading_zeros = RuleRegex(field, "matches");
  EXPECT_EQ(static_cast<size_t>(IntOf(Field("identity.trustedProxies"), "maxItems")),
            kMaxTrustedProxies);
  auto config = [](const std::string& s) {
    IngestConfig c = Defaults();
    c.identity.trusted_proxies = {s};
    return Valid(c);
  };
  const std::vector<std::pair<std::string, bool>> cases = {
      {"10.0.0.0/8", true},
      {"10.0.0.1/8", true},
      {"10.0.0.0/08", true},
      {"0.0.0.0/0", true},
      {"fd00::/8", true},
      {"fe80:0001::/64", true},
      {"::ffff:10.0.0.1/128", true},
      {"::ffff:0.0.0.0/96", true},
      {"010.0.0.0/8", false},
      {"10.00.0.0/16", false},
      {"10.0.0.01/32", false},
      {"::ffff:10.0.0.01/128", false},
      {"::ffff:010.0.0.1/128", false},
      {"10.0.0.0/0008", false},
  };
  for (const auto& [s, valid] : cases) {
    EXPECT_EQ(config(s), valid) << s;
    EXPECT_EQ(pattern.Matches(s) && !leading_zeros.Matches(s), valid) << s;
  }
}

// The JSONPath and property-path regexes are the grammar of json_path.h exactly (but indexes of
// at most 9 digits); random strings check both directions.
void ExpectPathRegex(const std::string& what, const Regex& crd,
                     const std::function<bool(const std::string&)>& config,
                     const std::function<absl::StatusOr<JsonPath>(std::string_view)>& parse,
                     const std::vector<std::pair<std::string, bool>>& notable) {
  for (const auto& [s, accepted] : notable) {
    EXPECT_EQ(crd.Matches(s), accepted) << what << ": the CRD on " << s;
    EXPECT_EQ(config(s), accepted) << what << ": the config on " << s;
  }
  // What CheckPath in ingest_config.cc does: text without control characters, then the grammar.
  auto parses = [&](const std::string& s) {
    for (char c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return false;
    }
    return parse(s).ok();
  };
  std::mt19937 rng(3);
  const std::vector<std::string> alphabet =
      Symbols("$.[]'\"\\*-0123aA_bDdCEfnu", {"\xC3\xA9", "\x01", "\x7F", " "});
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::string s = RandomString(rng, alphabet, 12);
    const bool c = parses(s);
    if (i % 1000 == 0) {
      ASSERT_EQ(config(s), c) << what << ": \"" << s << "\"";
    }
    accepted += c;
    ASSERT_EQ(crd.Matches(s), c) << what << ": \"" << s << "\"";
  }
  EXPECT_GT(accepted, 100) << what;
}

TEST(CrdRules, JsonPathsAreTheConfigsGrammar) {
  const Regex crd = RuleRegex(Field("mapping[].match.property.path"), "matches");
  EXPECT_EQ(RuleRegex(Field("mapping[].jsonPath"), "matches").pattern(), crd.pattern());
  auto config = [](const std::string& s) {
    MappingRule rule;
    rule.action = Action::kExtract;
    rule.target = "a";
    rule.from = "b";
    rule.json_path = s;
    return Valid(WithRule(rule));
  };
  ExpectPathRegex("jsonPath", crd, config, ParseJsonPath,
                  {{"$", true},
                   {"$.feature", true},
                   {"$.items[0]['plan type']", true},
                   {"$.a.*[*][-1][\"x\\\"y\"]['\\u00e9\\uD83D\\uDE00']", true},
                   {"$['caf\xC3\xA9']", true},
                   {"feature", false},
                   {"$..a", false},
                   {"$.a[?(@.b)]", false},
                   {"$.a[01]", false},
                   {"$.a[-0]", false},
                   {"$['\\uDE00']", false},
                   {"$['a\x01']", false}});
}

TEST(CrdRules, PropertyPathsAreTheConfigsGrammar) {
  const YAML::Node rule = Field("mapping[]");
  const Regex crd = RuleRegex(Field("mapping[].from"), "matches");
  EXPECT_EQ(RuleRegex(rule, "size(bytes(self.target))").pattern(), crd.pattern());
  auto config = [](const std::string& s) {
    MappingRule rule;
    rule.action = Action::kCopy;
    rule.target = "a";
    rule.from = s;
    return Valid(WithRule(rule));
  };
  ExpectPathRegex("from", crd, config, ParsePropertyPath,
                  {{"event_type", true},
                   {"payload", true},
                   {"event_properties.plan", true},
                   {"event_properties['plan type']", true},
                   {"$.event_properties.model", true},
                   {"$.groups[0]", true},
                   {"$", false},
                   {"$.a.*", false},
                   {"$.a[*]", false},
                   {"['a']", false},
                   {"a b", false}});
}

TEST(CrdRules, DropCannotRemoveEventTypeInAnySpelling) {
  const Regex event_type = RuleRegex(Field("mapping[]"), "!self.target.matches");
  auto config = [](const std::string& s) {
    MappingRule rule;
    rule.action = Action::kDrop;
    rule.target = s;
    return Valid(WithRule(rule));
  };
  const JsonPath kEventType = ParsePropertyPath("event_type").value();
  // Every spelling of event_type: each character literal or \u-escaped (hex digits in either case).
  std::mt19937 rng(5);
  for (int i = 0; i < 3000; ++i) {
    std::string name;
    for (char c : std::string("event_type")) {
      if (rng() % 3 != 0) {
        name += c;
        continue;
      }
      std::string hex = absl::StrCat(absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad4));
      for (char& h : hex) h = rng() % 2 ? absl::ascii_toupper(h) : h;
      name += absl::StrCat("\\u", hex);
    }
    for (const std::string& s :
         {name, absl::StrCat("$.", name), absl::StrCat("$['", name, "']"),
          absl::StrCat("$[\"", name, "\"]"), absl::StrCat("$['", name, "x']"),
          absl::StrCat("$['", name, "'].a"), absl::StrCat("$['", name.substr(1), "']")}) {
      const absl::StatusOr<JsonPath> path = ParsePropertyPath(s);
      const bool is_event_type = path.ok() && *path == kEventType;
      ASSERT_EQ(event_type.Matches(s), is_event_type) << s;
      if (path.ok()) {
        ASSERT_EQ(config(s), !is_event_type) << s;
      }
    }
  }
}

TEST(CrdRules, ExtractRegexNeedsACaptureGroupAsRe2Counts) {
  const Regex has_capture = RuleRegex(Field("mapping[]"), "self.regex.matches");
  for (const auto& [s, groups] :
       std::vector<std::pair<std::string, bool>>{{"^([a-z]+)-", true},
                                                 {"(?P<family>[a-z]+)", true},
                                                 {"()", true},
                                                 {"\\(a\\)(b)", true},
                                                 {"^[a-z]+-", false},
                                                 {"(?:a)", false},
                                                 {"(?i)abc", false},
                                                 {"\\(a\\)", false},
                                                 {"[(]a[)]", false},
                                                 {"[^](]", false},
                                                 {"[[:alpha:](]", false},
                                                 {"\\Q(a)\\E", false}}) {
    EXPECT_EQ(has_capture.Matches(s), groups) << s;
  }
  // For every regex RE2 reads: the rule finds a group only where RE2 counts one.
  std::mt19937 rng(11);
  const std::vector<std::string> alphabet = Symbols("()[]\\?P<:^aQE-*.!=ipn");
  int with_groups = 0;
  for (int i = 0; i < 150000; ++i) {
    const std::string s = RandomString(rng, alphabet, 12);
    RE2::Options options;
    options.set_log_errors(false);
    const RE2 re(s, options);
    if (!re.ok()) continue;
    const bool groups = re.NumberOfCapturingGroups() > 0;
    with_groups += groups;
    if (has_capture.Matches(s)) {
      ASSERT_TRUE(groups) << "the CRD finds a capture group in \"" << s << "\"";
      MappingRule rule;
      rule.action = Action::kExtract;
      rule.target = "a";
      rule.from = "b";
      rule.regex = s;
      ASSERT_TRUE(Valid(WithRule(rule))) << s;
    }
  }
  EXPECT_GT(with_groups, 500);
}

// Free text: the CRD's control-character rules reject exactly what the config does.
TEST(CrdRules, TextFieldsRejectTheConfigsControlCharacters) {
  struct Case {
    std::string field;
    std::function<IngestConfig(const std::string&)> config;
    bool regex = false;  // only strings RE2 reads (the validity rule runs Go's regexp)
  };
  auto rule_with = [](std::function<void(MappingRule&, const std::string&)> set) {
    return [set](const std::string& s) {
      MappingRule rule;
      rule.action = Action::kDrop;
      set(rule, s);
      return WithRule(rule);
    };
  };
  const std::vector<Case> cases = {
      {"mapping[].match.eventType",
       rule_with([](MappingRule& r, const std::string& s) { r.match.event_type = s; })},
      {"mapping[].match.property.equals", rule_with([](MappingRule& r, const std::string& s) {
         r.match.property = PropertyMatch{"$.a", s, std::nullopt};
       })},
      {"mapping[].match.property.regex", rule_with([](MappingRule& r, const std::string& s) {
         r.match.property = PropertyMatch{"$.a", std::nullopt, s};
       }),
       true},
      {"mapping[].target",
       [](const std::string& s) {
         MappingRule rule;
         rule.action = Action::kRename;
         rule.target = s;
         return WithRule(rule);
       }},
      {"mapping[].value",
       [](const std::string& s) {
         MappingRule rule;
         rule.action = Action::kSet;
         rule.target = "a";
         rule.value = s;
         return WithRule(rule);
       }},
  };
  for (const Case& c : cases) {
    const YAML::Node field = Field(c.field);
    const Regex control = RuleRegex(field, "\\x00");
    for (int ch = 0; ch < 0x80; ++ch) {
      const std::string s = absl::StrCat("a", std::string(1, static_cast<char>(ch)), "b");
      if (c.regex && !RE2(s, RE2::Quiet).ok()) continue;
      EXPECT_EQ(!control.Matches(s), Valid(c.config(s))) << c.field << " with byte " << ch;
    }
    EXPECT_TRUE(Valid(c.config("caf\xC3\xA9 \xE2\x80\xA8"))) << c.field;
    EXPECT_FALSE(control.Matches("caf\xC3\xA9 \xE2\x80\xA8")) << c.field;
  }
}

// ---------------------------------------------------------------------------------------------
// Lengths, counts, ranges and bounds.

TEST(CrdRules, LengthsAndCountsAreTheConfigs) {
  // Byte limits are CEL rules (maxLength counts characters); every rule says size(bytes(self)).
  for (const auto& [field, limit] : std::vector<std::pair<std::string, size_t>>{
           {"mapping[].match.eventType", kMaxValueLength},
           {"mapping[].match.property.path", kMaxPathLength},
           {"mapping[].match.property.equals", kMaxValueLength},
           {"mapping[].match.property.regex", kMaxValueLength},
           {"mapping[].target", kMaxValueLength},
           {"mapping[].value", kMaxSetValueLength},
           {"mapping[].from", kMaxPathLength},
           {"mapping[].jsonPath", kMaxPathLength},
           {"mapping[].regex", kMaxValueLength}}) {
    EXPECT_EQ(RuleWith(Field(field), "size(bytes(self))"),
              absl::StrCat("size(bytes(self)) <= ", limit))
        << field;
    EXPECT_EQ(static_cast<size_t>(IntOf(Field(field), "maxLength")), limit) << field;
  }
  EXPECT_TRUE(absl::StrContains(RuleWith(Field("mapping[]"), "size(bytes(self.target))"),
                                absl::StrCat("size(bytes(self.target)) <= ", kMaxPathLength)));
  EXPECT_EQ(static_cast<size_t>(IntOf(Field("mapping"), "maxItems")), kMaxMappingRules);
  EXPECT_EQ(static_cast<size_t>(IntOf(Field("destinations"), "maxItems")), kMaxDestinations);
  EXPECT_EQ(static_cast<size_t>(IntOf(Field("identity.trustedProxies"), "maxItems")),
            kMaxTrustedProxies);
  for (const char* field : {"mapping[].name", "destinations[].name"}) {
    EXPECT_EQ(static_cast<size_t>(IntOf(Field(field), "maxLength")), kMaxNameLength) << field;
  }
}

TEST(CrdRules, IntRangesAreTheConfigs) {
  using Set = std::function<IngestConfig(int64_t)>;
  auto limits = [](int64_t Limits::*field) -> Set {
    return [field](int64_t v) {
      IngestConfig c = Defaults();
      c.limits.*field = v;
      return c;
    };
  };
  const std::vector<std::pair<std::string, Set>> fields = {
      {"identity.minIdLength",
       [](int64_t v) {
         IngestConfig c = Defaults();
         c.identity.min_id_length = v;
         return c;
       }},
      {"limits.maxRequestBytes", limits(&Limits::max_request_bytes)},
      {"limits.maxEventsPerRequest", limits(&Limits::max_events_per_request)},
      {"limits.eventsPerSecondPerDevice", limits(&Limits::events_per_second_per_device)},
      {"limits.eventsPerSecondPerUser", limits(&Limits::events_per_second_per_user)},
      {"limits.maxConnections", limits(&Limits::max_connections)},
      {"storage.clickhouse.batchSize",
       [](int64_t v) { return WithClickHouse([v](ClickHouseStorage& ch) { ch.batch_size = v; }); }},
      {"destinations[].amplitude.batchSize",
       [](int64_t v) {
         return WithDestination([v](AmplitudeDestination& a) { a.batch_size = v; });
       }},
      {"destinations[].amplitude.maxRetries",
       [](int64_t v) {
         return WithDestination([v](AmplitudeDestination& a) { a.max_retries = v; });
       }},
  };
  for (const auto& [field, set] : fields) {
    const int64_t lo = IntOf(Field(field), "minimum");
    const int64_t hi = IntOf(Field(field), "maximum");
    EXPECT_TRUE(Valid(set(lo))) << field << " = " << lo;
    EXPECT_TRUE(Valid(set(hi))) << field << " = " << hi;
    EXPECT_FALSE(Valid(set(lo - 1))) << field << " = " << lo - 1;
    EXPECT_FALSE(Valid(set(hi + 1))) << field << " = " << hi + 1;
  }
}

// The bounds in the rules' "ms >= <lo> && ms <= <hi>" (milliseconds) are the config's.
TEST(CrdRules, DurationBoundsAreTheConfigs) {
  using Set = std::function<IngestConfig(absl::Duration)>;
  const std::vector<std::pair<std::string, Set>> fields = {
      {"identity.sessionTimeout",
       [](absl::Duration d) {
         IngestConfig c = Defaults();
         c.identity.session_timeout = d;
         return c;
       }},
      {"limits.dedupWindow",
       [](absl::Duration d) {
         IngestConfig c = Defaults();
         c.limits.dedup_window = d;
         return c;
       }},
      {"storage.embedded.retention",
       [](absl::Duration d) {
         IngestConfig c = Defaults();
         c.storage = EmbeddedStorage{.retention = d};
         return c;
       }},
      {"storage.clickhouse.flushInterval",
       [](absl::Duration d) {
         return WithClickHouse([d](ClickHouseStorage& ch) { ch.flush_interval = d; });
       }},
      {"destinations[].amplitude.flushInterval",
       [](absl::Duration d) {
         return WithDestination([d](AmplitudeDestination& a) { a.flush_interval = d; });
       }},
  };
  const RE2 lower(R"(ms >= ([0-9]+)\.0\b)"), upper(R"(ms <= ([0-9]+)\.0\b)");
  for (const auto& [field, set] : fields) {
    const std::string rule = RuleWith(Field(field), "findAll");
    int64_t lo = 0, hi = 0;
    const bool has_lower = RE2::PartialMatch(rule, lower, &lo);
    ASSERT_TRUE(RE2::PartialMatch(rule, upper, &hi)) << field << ": " << rule;
    const absl::Duration min = absl::Milliseconds(lo), max = absl::Milliseconds(hi);
    EXPECT_TRUE(Valid(set(min))) << field << " = " << FormatConfigDuration(min);
    EXPECT_TRUE(Valid(set(max))) << field << " = " << FormatConfigDuration(max);
    EXPECT_FALSE(Valid(set(max + absl::Milliseconds(1))))
        << field << " = " << FormatConfigDuration(max) << " + 1ms";
    if (has_lower) {
      EXPECT_FALSE(Valid(set(min - absl::Milliseconds(1))))
          << field << " = " << FormatConfigDuration(min) << " - 1ms";
    } else {
      EXPECT_TRUE(Valid(set(absl::ZeroDuration()))) << field << " = 0s";
    }
  }
}

TEST(CrdRules, EmbeddedSizeMinimumIsTheConfigs) {
  std::string minimum;
  ASSERT_TRUE(RE2::PartialMatch(RuleWith(Field("storage.embedded.size"), "isInteger"),
                                R"(quantity\('([0-9A-Za-z]+)'\)\) >= 0)", &minimum));
  const absl::StatusOr<int64_t> bytes = ParseByteSize(minimum);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto with_size = [](int64_t size) {
    IngestConfig c = Defaults();
    c.storage = EmbeddedStorage{.size_bytes = size};
    return c;
  };
  EXPECT_TRUE(Valid(with_size(*bytes)));
  EXPECT_FALSE(Valid(with_size(*bytes - 1)));
}

// ---------------------------------------------------------------------------------------------
// Defaults.

// The CRD's default of every leaf under `node` that the config shares (Secret references and the
// fields that shape the pod, not the server, left out).
json LeafDefaults(const YAML::Node& node) {
  json out = json::object();
  if (!node["properties"]) return out;
  for (const auto& property : node["properties"]) {
    const std::string name = property.first.as<std::string>();
    const YAML::Node& schema = property.second;
    if (absl::EndsWith(name, "SecretRef") || name == "reclaimPolicy" ||
        name == "storageClassName") {
      continue;
    }
    if (schema["type"].as<std::string>("") == "object") {
      json sub = LeafDefaults(schema);
      if (!sub.empty()) out[name] = sub;
    } else if (schema["default"]) {
      const std::string type = schema["type"].as<std::string>("");
      const YAML::Node& d = schema["default"];
      out[name] = type == "boolean"   ? json(d.as<bool>())
                  : type == "integer" ? json(d.as<int64_t>())
                                      : json(d.as<std::string>());
    }
  }
  return out;
}

IngestConfig ParseDoc(json doc) {
  doc["version"] = std::string(kConfigVersion);
  absl::StatusOr<IngestConfig> c = ParseIngestConfig(doc.dump());
  EXPECT_TRUE(c.ok()) << c.status() << "\n" << doc.dump(2);
  return c.ok() ? *c : IngestConfig{};
}

TEST(CrdRules, DefaultsAreTheConfigs) {
  json doc;
  for (const char* section : {"sources", "identity", "limits"}) {
    doc[section] = LeafDefaults(Field(section));
    EXPECT_FALSE(doc[section].empty()) << section;
  }
  doc["storage"]["embedded"] = LeafDefaults(Field("storage.embedded"));
  EXPECT_EQ(ParseDoc(doc), Defaults()) << doc.dump(2);

  json ch = LeafDefaults(Field("storage.clickhouse"));
  ch["url"] = "http://clickhouse:8123";
  const IngestConfig with_ch = ParseDoc({{"storage", {{"clickhouse", ch}}}});
  EXPECT_EQ(
      with_ch.storage,
      Storage(std::get<ClickHouseStorage>(WithClickHouse([](ClickHouseStorage&) {}).storage)));

  json amp = LeafDefaults(Field("destinations[].amplitude"));
  amp["apiKeyFile"] = "/etc/cohort/secrets/destination-amp/api-key";
  EXPECT_EQ(ParseDoc({{"destinations", {{{"name", "amp"}, {"amplitude", amp}}}}}).destinations,
            WithDestination([](AmplitudeDestination&) {}).destinations);

  EXPECT_EQ(ParseDoc({{"tls", LeafDefaults(Field("tls"))}}).tls, Tls{});

  for (const auto& [field, key] : std::vector<std::pair<std::string, std::string_view>>{
           {"auth.apiKeysSecretRef.key", kDefaultApiKeysKey},
           {"auth.queryKeysSecretRef.key", kDefaultQueryKeysKey},
           {"auth.difyKeysSecretRef.publicKeyKey", kDefaultDifyPublicKeyKey},
           {"auth.difyKeysSecretRef.secretKeyKey", kDefaultDifySecretKeyKey},
           {"storage.clickhouse.credentialsSecretRef.usernameKey", kDefaultClickHouseUsernameKey},
           {"storage.clickhouse.credentialsSecretRef.passwordKey", kDefaultClickHousePasswordKey},
           {"destinations[].amplitude.apiKeySecretRef.key", kDefaultDestinationApiKeyKey}}) {
    EXPECT_EQ(Field(field)["default"].as<std::string>(""), key) << field;
  }
}

}  // namespace
}  // namespace cohort::config
