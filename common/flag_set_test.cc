#include "common/flag_set.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Vars {
  std::string s = "def";
  bool b = false;
  int i = 7;
  double d = 50;
  absl::Duration t = absl::Seconds(15);
  std::vector<std::string> list;
};

FlagSet MakeSet(Vars& v) {
  FlagSet set("prog");
  set.Add("a-string", &v.s, "A string.");
  set.Add("leader-elect", &v.b, "A bool.");
  set.Add("kube-api-burst", &v.i, "An int.");
  set.Add("kube-api-qps", &v.d, "A float.");
  set.Add("lease-duration", &v.t, "A duration.");
  set.Add("namespaces", &v.list, "A list.");
  return set;
}

absl::StatusOr<std::vector<std::string>> Parse(FlagSet& set, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return set.Parse(static_cast<int>(args.size()), args.data());
}

TEST(FlagSetTest, ParsesEveryTypeAndBothSpellings) {
  Vars v;
  FlagSet set = MakeSet(v);
  auto rest =
      Parse(set, {"--a-string=x=y", "--leader-elect", "--kube-api-burst", "3", "-kube-api-qps=2.5",
                  "--lease-duration=1m30s", "--namespaces=a, b,,c", "pos", "--", "--not-a-flag"});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(v.s, "x=y");
  EXPECT_TRUE(v.b);
  EXPECT_EQ(v.i, 3);
  EXPECT_EQ(v.d, 2.5);
  EXPECT_EQ(v.t, absl::Seconds(90));
  EXPECT_THAT(v.list, ElementsAre("a", "b", "c"));
  EXPECT_THAT(*rest, ElementsAre("pos", "--not-a-flag"));
  EXPECT_FALSE(set.help_requested());
}

TEST(FlagSetTest, BoolTakesExplicitValuesOnlyAfterEquals) {
  Vars v;
  v.b = true;
  FlagSet set = MakeSet(v);
  auto rest = Parse(set, {"--leader-elect=false", "positional"});
  ASSERT_TRUE(rest.ok());
  EXPECT_FALSE(v.b);
  EXPECT_THAT(*rest, ElementsAre("positional"));
}

TEST(FlagSetTest, ErrorsNameTheFlag) {
  Vars v;
  FlagSet set = MakeSet(v);
  EXPECT_THAT(Parse(set, {"--nope=1"}).status().message(), HasSubstr("unknown flag --nope"));
  EXPECT_THAT(Parse(set, {"--kube-api-burst=many"}).status().message(),
              HasSubstr("--kube-api-burst: invalid value \"many\": want an integer"));
  EXPECT_THAT(Parse(set, {"--kube-api-qps=inf"}).status().message(), HasSubstr("--kube-api-qps"));
  EXPECT_THAT(Parse(set, {"--lease-duration=15"}).status().message(),
              HasSubstr("--lease-duration"));
  EXPECT_THAT(Parse(set, {"--leader-elect=maybe"}).status().message(), HasSubstr("true or false"));
  EXPECT_THAT(Parse(set, {"--a-string"}).status().message(), HasSubstr("needs a value"));
}

TEST(FlagSetTest, HelpStopsParsingAndUsageShowsDefaults) {
  Vars v;
  FlagSet set = MakeSet(v);
  ASSERT_TRUE(Parse(set, {"--help", "--nope"}).ok());
  EXPECT_TRUE(set.help_requested());
  const std::string usage = set.Usage("Does things.");
  EXPECT_THAT(usage, HasSubstr("Usage: prog [flags]\n\nDoes things.\n"));
  EXPECT_THAT(usage, HasSubstr("  --kube-api-qps float\n      A float. (default 50)\n"));
  EXPECT_THAT(usage, HasSubstr("  --kube-api-burst int\n      An int. (default 7)\n"));
  EXPECT_THAT(usage, HasSubstr("  --leader-elect\n      A bool. (default false)\n"));
  EXPECT_THAT(usage, HasSubstr("  --lease-duration duration\n      A duration. (default 15s)\n"));
  EXPECT_THAT(usage, HasSubstr("  --a-string string\n      A string. (default \"def\")\n"));
}

TEST(ParseGoDurationTest, MatchesGoSyntax) {
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration("300ms"), absl::Milliseconds(300));
  EXPECT_EQ(*ParseGoDuration("2h45m"), absl::Hours(2) + absl::Minutes(45));
  EXPECT_EQ(*ParseGoDuration("-1.5h"), -absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("1us"), absl::Microseconds(1));
  EXPECT_EQ(*ParseGoDuration("1\xC2\xB5s"), absl::Microseconds(1));
  for (const char* bad : {"", "15", "s", "1d", "1.2.3s", "--1s", "1s2"}) {
    EXPECT_FALSE(ParseGoDuration(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cohort
