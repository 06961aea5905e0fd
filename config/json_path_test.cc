#include "config/json_path.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::config {
namespace {

using ::testing::HasSubstr;
using Kind = PathSegment::Kind;

PathSegment Name(std::string n) { return {Kind::kName, std::move(n), 0}; }
PathSegment Idx(int64_t i) { return {Kind::kIndex, "", i}; }
PathSegment Any() { return {Kind::kWildcard, "", 0}; }

TEST(ParseJsonPath, ParsesTheSubset) {
  EXPECT_EQ(ParseJsonPath("$")->segments, std::vector<PathSegment>{});
  EXPECT_EQ(ParseJsonPath("$.event_properties.plan")->segments,
            (std::vector<PathSegment>{Name("event_properties"), Name("plan")}));
  EXPECT_EQ(ParseJsonPath("$['plan type'][\"$set\"]")->segments,
            (std::vector<PathSegment>{Name("plan type"), Name("$set")}));
  EXPECT_EQ(ParseJsonPath("$.items[0][-1][*].*")->segments,
            (std::vector<PathSegment>{Name("items"), Idx(0), Idx(-1), Any(), Any()}));
  EXPECT_EQ(ParseJsonPath(R"($['a\'b\\c\u00e9\ud83d\ude00'])")->segments,
            (std::vector<PathSegment>{Name("a'b\\c\xC3\xA9\xF0\x9F\x98\x80")}));
  EXPECT_TRUE(ParseJsonPath("$.a[0]")->singular());
  EXPECT_FALSE(ParseJsonPath("$.a[*]")->singular());
}

TEST(ParseJsonPath, RejectsWithOffset) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "at offset 0: a path starts with '$'"},
        Case{"a.b", "at offset 0: a path starts with '$'"},
        Case{"$.", "at offset 2: expected a name or '*'"},
        Case{"$..a", "at offset 1: descendant segments"},
        Case{"$.1a", "at offset 2: expected a name"},
        Case{"$[?(@.a)]", "at offset 2: filters and slices"},
        Case{"$[1:2]", "at offset 3: expected ']'"}, Case{"$['a'", "at offset 5: expected ']'"},
        Case{"$['a", "at offset 4: unterminated quoted name"},
        Case{"$[01]", "at offset 2: an index has no leading zeros"},
        Case{"$[-0]", "at offset 2: an index has no leading zeros"},
        Case{"$[99999999999]", "index out of range"},
        Case{"$['\\x']", "at offset 4: unknown escape"},
        Case{"$['\\ud83d']", "high surrogate without a low surrogate"},
        Case{"$['a','b']", "at offset 5: expected ']'"},
        Case{"$a", "at offset 1: expected '.' or '['"}}) {
    absl::StatusOr<JsonPath> p = ParseJsonPath(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_THAT(p.status().message(), HasSubstr(c.reason)) << c.text;
  }
  EXPECT_THAT(ParseJsonPath("$." + std::string(kMaxPathLength, 'a')).status().message(),
              HasSubstr("longer than 256"));
}

TEST(ParsePropertyPath, AllowsTheShorthandAndNamesOnePlace) {
  EXPECT_EQ(*ParsePropertyPath("event_type"), *ParseJsonPath("$.event_type"));
  EXPECT_EQ(*ParsePropertyPath("event_properties.plan"), *ParseJsonPath("$.event_properties.plan"));
  EXPECT_EQ(*ParsePropertyPath("event_properties['plan type']"),
            *ParseJsonPath("$.event_properties['plan type']"));
  EXPECT_EQ(*ParsePropertyPath("$.groups[0]"), *ParseJsonPath("$.groups[0]"));

  EXPECT_THAT(ParsePropertyPath("$").status().message(), HasSubstr("root"));
  EXPECT_THAT(ParsePropertyPath("a[*]").status().message(), HasSubstr("no wildcards"));
  EXPECT_THAT(ParsePropertyPath("['a']").status().message(),
              HasSubstr("at offset 0: a property path starts with a name"));
  // Offsets refer to the text as written, without the implied "$.".
  EXPECT_THAT(ParsePropertyPath("a..b").status().message(), HasSubstr("at offset 1: descendant"));
}

}  // namespace
}  // namespace cohort::config
