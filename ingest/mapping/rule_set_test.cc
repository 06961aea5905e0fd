#include "ingest/mapping/rule_set.h"

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::ingest::mapping {
namespace {

using config::Action;
using config::MappingRule;

MappingRule R(std::string name, Action action) {
  MappingRule r;
  r.name = std::move(name);
  r.action = action;
  return r;
}
MappingRule Rename(std::string to) {
  MappingRule r = R("rename", Action::kRename);
  r.target = std::move(to);
  return r;
}
MappingRule Drop(std::string target = "") {
  MappingRule r = R("drop", Action::kDrop);
  r.target = std::move(target);
  return r;
}
MappingRule Set(std::string target, std::string value) {
  MappingRule r = R("set", Action::kSet);
  r.target = std::move(target);
  r.value = std::move(value);
  return r;
}
MappingRule Copy(std::string from, std::string target) {
  MappingRule r = R("copy", Action::kCopy);
  r.from = std::move(from);
  r.target = std::move(target);
  return r;
}
MappingRule ExtractPath(std::string from, std::string path, std::string target) {
  MappingRule r = R("extract", Action::kExtract);
  r.from = std::move(from);
  r.json_path = std::move(path);
  r.target = std::move(target);
  return r;
}
MappingRule ExtractRegex(std::string from, std::string regex, std::string target) {
  MappingRule r = R("extract", Action::kExtract);
  r.from = std::move(from);
  r.regex = std::move(regex);
  r.target = std::move(target);
  return r;
}
MappingRule WithProperty(MappingRule r, std::string path, std::optional<std::string> equals,
                         std::optional<std::string> regex = std::nullopt) {
  r.match.property = config::PropertyMatch{std::move(path), std::move(equals), std::move(regex)};
  return r;
}

Event MakeEvent() {
  Event e;
  e.project = "web";
  e.source = EventSource::kNative;
  e.event_type = "Purchase";
  e.device_id = "device-1";
  e.time_ms = 1700000000000;
  e.insert_id = "ins-1";
  e.attribute(Attribute::kPlatform) = "Web";
  e.json_field(JsonField::kEventProperties) =
      R"({"plan":"pro","user":{"id":"u-42","n":7},"items":[{"sku":"a"},{"sku":"b"}],)"
      R"("url":"https://x.example/p?utm_source=news&q=1","raw":"{\"k\":[1,2]}","none":null})";
  e.json_field(JsonField::kUserProperties) = R"({"$set":{"tier":"gold"}})";
  return e;
}

RuleSet MustCompile(std::vector<MappingRule> rules) {
  absl::StatusOr<RuleSet> set = RuleSet::Compile(rules);
  EXPECT_TRUE(set.ok()) << set.status();
  return *std::move(set);
}

Event Applied(std::vector<MappingRule> rules, Event e = MakeEvent(), bool* kept = nullptr) {
  const RuleSet set = MustCompile(std::move(rules));
  const bool k = set.Apply(e);
  if (kept != nullptr) *kept = k;
  return e;
}

const std::string& Props(const Event& e) { return e.json_field(JsonField::kEventProperties); }

// Appends `member` to event_properties (as a compact writer would).
void AddMember(Event& e, std::string_view member) {
  std::string& p = e.json_field(JsonField::kEventProperties);
  p.insert(p.size() - 1, "," + std::string(member));
}

TEST(RuleSetTest, NoRulesLeaveTheEventAlone) {
  Event e = MakeEvent();
  EXPECT_TRUE(MustCompile({}).Apply(e));
  EXPECT_EQ(e, MakeEvent());
}

struct ActionCase {
  std::string name;
  MappingRule rule;
  std::function<void(Event&)> expect;  // edits the original into the expected event
};

TEST(RuleSetTest, Actions) {
  const std::vector<ActionCase> cases = {
      {"rename", Rename("Order Completed"), [](Event& e) { e.event_type = "Order Completed"; }},
      {"set string field", Set("user_id", "u-1"), [](Event& e) { e.user_id = "u-1"; }},
      {"set attribute", Set("platform", "iOS"),
       [](Event& e) { e.attribute(Attribute::kPlatform) = "iOS"; }},
      {"set empty value", Set("device_id", ""), [](Event& e) { e.device_id.clear(); }},
      {"set new member", Set("event_properties.env", "prod"),
       [](Event& e) { AddMember(e, R"("env":"prod")"); }},
      {"set replaces member keeping order", Set("$.event_properties.plan", "free"),
       [](Event& e) {
         std::string& p = e.json_field(JsonField::kEventProperties);
         p.replace(p.find("\"pro\""), 5, "\"free\"");
       }},
      {"set creates objects", Set("groups.org.id", "7"),
       [](Event& e) { e.json_field(JsonField::kGroups) = R"({"org":{"id":"7"}})"; }},
      {"set via payload alias", Set("payload.plan", "team"),
       [](Event& e) {
         std::string& p = e.json_field(JsonField::kEventProperties);
         p.replace(p.find("\"pro\""), 5, "\"team\"");
       }},
      {"set array element", Set("event_properties.items[-1].sku", "z"),
       [](Event& e) {
         std::string& p = e.json_field(JsonField::kEventProperties);
         p.replace(p.find("\"b\""), 3, "\"z\"");
       }},
      {"set out-of-range index does nothing", Set("event_properties.items[5].sku", "z"),
       [](Event&) {}},
      {"set through a string does nothing", Set("event_properties.plan.x", "z"), [](Event&) {}},
      {"copy nested string to user_id", Copy("event_properties.user.id", "user_id"),
       [](Event& e) { e.user_id = "u-42"; }},
      {"copy number to string field as text", Copy("event_properties.user.n", "user_id"),
       [](Event& e) { e.user_id = "7"; }},
      {"copy object to string field as JSON", Copy("event_properties.items[0]", "user_id"),
       [](Event& e) { e.user_id = R"({"sku":"a"})"; }},
      {"copy keeps JSON types", Copy("event_properties.user", "user_properties.who"),
       [](Event& e) {
         e.json_field(JsonField::kUserProperties) =
             R"({"$set":{"tier":"gold"},"who":{"id":"u-42","n":7}})";
       }},
      {"copy from numeric field", Copy("time", "event_properties.t"),
       [](Event& e) { AddMember(e, R"("t":1700000000000)"); }},
      {"copy null to string field does nothing", Copy("event_properties.none", "user_id"),
       [](Event&) {}},
      {"copy null into JSON keeps it", Copy("event_properties.none", "groups.n"),
       [](Event& e) { e.json_field(JsonField::kGroups) = R"({"n":null})"; }},
      {"copy absent does nothing", Copy("event_properties.nope", "user_id"), [](Event&) {}},
      {"copy empty string field does nothing", Copy("user_id", "event_properties.u"),
       [](Event&) {}},
      {"drop string field", Drop("device_id"), [](Event& e) { e.device_id.clear(); }},
      {"drop member", Drop("user_properties['$set'].tier"),
       [](Event& e) { e.json_field(JsonField::kUserProperties) = R"({"$set":{}})"; }},
      {"drop array element", Drop("event_properties.items[0]"),
       [](Event& e) {
         std::string& p = e.json_field(JsonField::kEventProperties);
         p.erase(p.find(R"({"sku":"a"},)"), 12);
       }},
      {"drop whole object", Drop("user_properties"),
       [](Event& e) { e.json_field(JsonField::kUserProperties).clear(); }},
      {"drop absent does nothing", Drop("event_properties.nope"), [](Event&) {}},
      {"extract jsonPath from JSON in a string",
       ExtractPath("event_properties.raw", "$.k[1]", "event_properties.k2"),
       [](Event& e) { AddMember(e, R"("k2":2)"); }},
      {"extract jsonPath wildcard takes the first",
       ExtractPath("event_properties", "$.items[*].sku", "user_id"),
       [](Event& e) { e.user_id = "a"; }},
      {"extract jsonPath no match does nothing",
       ExtractPath("event_properties", "$.items[9]", "user_id"), [](Event&) {}},
      {"extract jsonPath from non-JSON string does nothing",
       ExtractPath("event_properties.plan", "$.x", "user_id"), [](Event&) {}},
      {"extract regex first group",
       ExtractRegex("event_properties.url", "utm_source=([^&]*)", "event_properties.src"),
       [](Event& e) { AddMember(e, R"("src":"news")"); }},
      {"extract regex over number text", ExtractRegex("time", "^(\\d{3})", "user_id"),
       [](Event& e) { e.user_id = "170"; }},
      {"extract regex no match does nothing",
       ExtractRegex("event_properties.url", "gclid=(\\w+)", "user_id"), [](Event&) {}},
      {"extract regex non-participating group does nothing",
       ExtractRegex("event_properties.plan", "(x)?pro", "user_id"), [](Event&) {}},
      {"extract regex empty group writes empty",
       ExtractRegex("event_properties.plan", "pro()", "event_properties.e"),
       [](Event& e) { AddMember(e, R"("e":"")"); }},
  };
  for (const ActionCase& c : cases) {
    SCOPED_TRACE(c.name);
    bool kept = false;
    const Event got = Applied({c.rule}, MakeEvent(), &kept);
    Event want = MakeEvent();
    c.expect(want);
    EXPECT_TRUE(kept);
    EXPECT_EQ(got, want) << Props(got) << "\n" << got.json_field(JsonField::kUserProperties);
  }
}

TEST(RuleSetTest, DropEventStopsTheRules) {
  bool kept = true;
  Applied({Drop(), Set("user_id", "never")}, MakeEvent(), &kept);
  EXPECT_FALSE(kept);
}

struct MatchCase {
  std::string name;
  config::Match match;
  bool matches;
};

config::Match Prop(std::string path, std::optional<std::string> equals = std::nullopt,
                   std::optional<std::string> regex = std::nullopt) {
  config::Match m;
  m.property = config::PropertyMatch{std::move(path), std::move(equals), std::move(regex)};
  return m;
}

TEST(RuleSetTest, Matches) {
  config::Match native, amplitude, type, wrong_type, both;
  native.source = config::Source::kNative;
  amplitude.source = config::Source::kAmplitude;
  type.event_type = "Purchase";
  wrong_type.event_type = "purchase";
  both = Prop("$.event_properties.plan", "pro");
  both.source = config::Source::kNative;
  both.event_type = "Purchase";
  config::Match both_wrong = both;
  both_wrong.source = config::Source::kDify;
  const std::vector<MatchCase> cases = {
      {"empty match", config::Match{}, true},
      {"source", native, true},
      {"other source", amplitude, false},
      {"event type exact", type, true},
      {"event type is case-sensitive", wrong_type, false},
      {"all parts", both, true},
      {"one part fails", both_wrong, false},
      {"present", Prop("$.event_properties.user.id"), true},
      {"absent", Prop("$.event_properties.user.email"), false},
      {"absent object field", Prop("$.groups.x"), false},
      {"string field present", Prop("$.device_id"), true},
      {"empty string field is absent", Prop("$.user_id"), false},
      {"equals string", Prop("$.event_properties.plan", "pro"), true},
      {"equals is exact", Prop("$.event_properties.plan", "Pro"), false},
      {"equals number as text", Prop("$.event_properties.user.n", "7"), true},
      {"equals numeric field", Prop("$.time", "1700000000000"), true},
      {"equals object as compact JSON", Prop("$.event_properties.items[0]", R"({"sku":"a"})"),
       true},
      {"wildcard: some value equals", Prop("$.event_properties.items[*].sku", "b"), true},
      {"wildcard: none equals", Prop("$.event_properties.items[*].sku", "c"), false},
      {"object wildcard", Prop("$.user_properties.*.tier", "gold"), true},
      {"regex unanchored", Prop("$.event_properties.url", std::nullopt, "utm_[a-z]+="), true},
      {"regex anchored", Prop("$.event_properties.url", std::nullopt, "^utm"), false},
      {"regex on attribute", Prop("$.platform", std::nullopt, "(?i)^web$"), true},
      {"equals and regex both", Prop("$.event_properties.plan", "pro", "^p"), true},
      {"equals and regex, regex fails", Prop("$.event_properties.plan", "pro", "^x"), false},
      {"quoted names", Prop("$['event_properties']['plan']", "pro"), true},
      {"payload alias", Prop("$.payload.plan", "pro"), true},
  };
  // Twice: with an escape in event_properties' text (always parsed) and without one (the
  // Bloom-filter pre-filter decides first).
  Event unescaped = MakeEvent();
  std::string& props = unescaped.json_field(JsonField::kEventProperties);
  props.erase(props.find(R"(,"raw")"), props.find(R"(,"none")") - props.find(R"(,"raw")"));
  ASSERT_EQ(props.find('\\'), std::string::npos) << props;
  for (const Event& event : {MakeEvent(), unescaped}) {
    for (const MatchCase& c : cases) {
      SCOPED_TRACE(c.name);
      MappingRule rule = Set("insert_id", "matched");
      rule.match = c.match;
      const Event got = Applied({rule}, event);
      EXPECT_EQ(got.insert_id == "matched", c.matches);
    }
  }
}

TEST(RuleSetTest, RulesApplyInOrderAndSeeEarlierChanges) {
  MappingRule tag = Set("event_properties.stage", "one");
  MappingRule copy = Copy("event_properties.stage", "user_id");
  MappingRule rename = Rename("Renamed");
  MappingRule only_renamed = Set("device_id", "seen-rename");
  only_renamed.match.event_type = "Renamed";
  const Event got = Applied({tag, copy, rename, only_renamed});
  EXPECT_EQ(got.user_id, "one");
  EXPECT_EQ(got.event_type, "Renamed");
  EXPECT_EQ(got.device_id, "seen-rename");
  // Reversed: the matching rule runs before the rename and does not apply.
  const Event reversed = Applied({only_renamed, rename});
  EXPECT_EQ(reversed.device_id, "device-1");
  // A drop of a property then a copy from it copies nothing.
  const Event dropped =
      Applied({Drop("event_properties.user"), Copy("event_properties.user.id", "user_id")});
  EXPECT_EQ(dropped.user_id, "");
}

TEST(RuleSetTest, InvalidRulesNameTheRuleAndIndex) {
  struct Case {
    MappingRule rule;
    std::string error;
  };
  MappingRule bad_regex = WithProperty(Set("user_id", "x"), "$.event_type", std::nullopt, "(a");
  MappingRule no_group = ExtractRegex("event_properties.url", "utm", "user_id");
  MappingRule both = ExtractRegex("event_properties.url", "(u)", "user_id");
  both.json_path = "$.x";
  MappingRule no_value = Set("user_id", "");
  no_value.value.reset();
  const std::vector<Case> cases = {
      {Set("nope", "x"), "target: unknown field \"nope\""},
      {Set("project", "x"), "unknown field \"project\""},
      {Set("time", "1"), "target: numeric fields are read-only"},
      {Drop("session_id"), "numeric fields are read-only"},
      {Drop("event_type"), "event_type cannot be removed"},
      {Set("event_properties", "x"), "name a member"},
      {Set("user_id.x", "x"), "\"user_id\" has no members"},
      {Set("event_properties.", "x"), "target: at offset"},
      {Copy("event_properties.*", "user_id"), "from:"},
      {WithProperty(Set("user_id", "x"), "event_type", std::nullopt), "match.property.path"},
      {WithProperty(Set("user_id", "x"), "$[0]", std::nullopt), "must start with a field"},
      {bad_regex, "match.property.regex: invalid RE2"},
      {no_group, "regex: needs a capture group"},
      {both, "exactly one of jsonPath and regex"},
      {ExtractPath("event_properties", "$..x", "user_id"), "jsonPath:"},
      {Rename(""), "target: required by Rename"},
      {no_value, "value: required by Set"},
  };
  for (const Case& c : cases) {
    MappingRule named = c.rule;
    named.name = "the-rule";
    const absl::StatusOr<RuleSet> set = RuleSet::Compile({Rename("ok"), named});
    ASSERT_FALSE(set.ok()) << c.error;
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(set.status().message().find("mapping[1] (rule \"the-rule\")"), std::string::npos)
        << set.status();
    EXPECT_NE(set.status().message().find(c.error), std::string::npos) << set.status();
  }
}

TEST(RuleSetTest, MalformedJsonFieldsNeverCrashAndAreNotRewritten) {
  const std::vector<std::string> texts = {"{",
                                          "not json",
                                          R"({"plan":"pro")",
                                          "[1,2",
                                          "\xff\xfe",
                                          R"({"a":"\ud800"})",
                                          "{}{}",
                                          "null",
                                          "[]",
                                          "\"str\"",
                                          R"({"plan":)",
                                          std::string(1, '\0'),
                                          std::string(10000, '[')};
  for (const std::string& text : texts) {
    SCOPED_TRACE(text.substr(0, 20));
    Event e = MakeEvent();
    e.json_field(JsonField::kEventProperties) = text;
    MappingRule matched = WithProperty(Set("user_id", "m"), "$.event_properties.plan", "pro");
    const Event got = Applied(
        {matched, Set("event_properties.x", "1"), Copy("event_properties.plan", "device_id"),
         Drop("event_properties.plan"), ExtractPath("event_properties", "$.plan", "insert_id")},
        e);
    EXPECT_EQ(got.user_id, "");
    if (text == "null") {
      // Valid JSON, but not an object: nothing can be written into it.
      EXPECT_EQ(Props(got), "null");
    } else {
      EXPECT_EQ(Props(got), text);
    }
  }
}

TEST(RuleSetTest, UnicodeKeysAndValues) {
  Event e = MakeEvent();
  e.json_field(JsonField::kEventProperties) = R"({"план":"про","emoji😀":"✓","esc\u00e9":"é"})";
  MappingRule m = WithProperty(Copy("event_properties['emoji😀']", "user_id"),
                               "$.event_properties['план']", "про");
  const Event got = Applied(
      {m, Set("event_properties['ключ']", "значение"), Copy("event_properties['escé']", "ip")}, e);
  EXPECT_EQ(got.user_id, "✓");
  EXPECT_EQ(got.ip, "é");  // the escaped key is found after parsing (no pre-filter false miss)
  EXPECT_EQ(Props(got), R"({"план":"про","emoji😀":"✓","escé":"é","ключ":"значение"})");
}

TEST(RuleSetTest, Re2EdgeCases) {
  Event e = MakeEvent();
  e.json_field(JsonField::kEventProperties) = R"({"s":"a\nb","u":"日本語テキスト","e":""})";
  struct Case {
    std::string from, regex, want;
  };
  const std::vector<Case> cases = {
      {"event_properties.s", "(?s)a.(b)", "b"},  // dot matches newline only with (?s)
      {"event_properties.s", "a.(b)", ""},       // no match without it
      {"event_properties.s", "(?m)^(b)$", "b"},  // multi-line anchors
      {"event_properties.u", "^(.)", "日"},      // UTF-8: one character, not one byte
      {"event_properties.u", "(\\p{Katakana}+)", "テキスト"},
      {"event_properties.e", "^(.*)$", ""},            // empty value: absent? no, "" is a value
      {"event_properties.u", "(?:x)|(日本)", "日本"},  // first group after an alternation
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.regex);
    const Event got = Applied({ExtractRegex(c.from, c.regex, "event_properties.out")}, e);
    std::string want_props = Props(e);
    if (!c.want.empty() || c.from == "event_properties.e") {
      want_props.insert(want_props.size() - 1, ",\"out\":\"" + c.want + "\"");
    }
    EXPECT_EQ(Props(got), want_props);
  }
}

TEST(RuleSetTest, UntouchedEventsAreNotRewritten) {
  // Unusual but valid spacing is kept when no rule writes the field, even if a rule read it.
  Event e = MakeEvent();
  e.json_field(JsonField::kEventProperties) = R"({ "plan" : "pro" })";
  const Event got =
      Applied({WithProperty(Set("user_id", "x"), "$.event_properties.plan", "pro")}, e);
  EXPECT_EQ(Props(got), R"({ "plan" : "pro" })");
  EXPECT_EQ(got.user_id, "x");
}

TEST(RuleSetTest, NoParsePreFilterNeverMissesAMatch) {
  // The raw-text pre-filters (member names, `equals` strings) must not hide a real match: escaped
  // text, numbers and literals are always parsed.
  struct Case {
    std::string props;
    std::string path;
    std::string equals;
    bool matches;
  };
  const std::vector<Case> cases = {
      {R"({"c":"\u0045UR"})", "$.event_properties.c", "EUR", true},
      {R"({"\u0063":"EUR"})", "$.event_properties.c", "EUR", true},
      {R"({"c":"EUR"})", "$.event_properties.c", "EUR", true},
      {R"({"c":"USD","d":"EUR"})", "$.event_properties.c", "EUR", false},
      {R"({"c":1e2})", "$.event_properties.c", "100.0", true},
      {R"({"c":true})", "$.event_properties.c", "true", true},
      {R"({"c":{"a" : 1}})", "$.event_properties.c", R"({"a":1})", true},
      {R"({"c":""})", "$.event_properties.c", "", true},
      {R"({"cc":"EUR"})", "$.event_properties.c", "EUR", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.props);
    Event e = MakeEvent();
    e.json_field(JsonField::kEventProperties) = c.props;
    const Event got = Applied({WithProperty(Set("user_id", "hit"), c.path, c.equals)}, e);
    EXPECT_EQ(got.user_id == "hit", c.matches);
  }
}

TEST(RuleSetTest, ConcurrentApplyIsSafe) {
  const RuleSet set = MustCompile(
      {WithProperty(Copy("event_properties.user.id", "user_id"), "$.event_properties.plan",
                    std::nullopt, "^p"),
       ExtractRegex("event_properties.url", "utm_source=([^&]*)", "event_properties.src")});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&set] {
      for (int i = 0; i < 200; ++i) {
        Event e = MakeEvent();
        ASSERT_TRUE(set.Apply(e));
        ASSERT_EQ(e.user_id, "u-42");
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace cohort::ingest::mapping
