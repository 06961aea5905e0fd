#include "config/secret_files.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Key material that must never show up in an error message.
constexpr std::string_view kSentinel = "s3cr3t0key0material0abcdef";

TEST(ApiKeySet, ParsesTheLineFormat) {
  const std::string text = absl::StrCat(
      "\xEF\xBB\xBF# api keys of the web and backend teams\n"
      "\n",
      "0123456789abcdef0123456789abcdef  web  amplitude\r\n",
      "  fedcba9876543210fedcba9876543210\tbackend\tamplitude,native  \n",
      "QUJDREVGR0hJSktMTU5PUA==  mobile native\n", "# trailing comment");
  absl::StatusOr<ApiKeySet> keys = ApiKeySet::Parse(text);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 3);

  const ApiKeyGrant* web = keys->Find("0123456789abcdef0123456789abcdef");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(*web, (ApiKeyGrant{"web", true, false}));
  EXPECT_TRUE(web->Allows(Source::kAmplitude));
  EXPECT_FALSE(web->Allows(Source::kNative));
  EXPECT_FALSE(web->Allows(Source::kDify));
  EXPECT_EQ(*keys->Find("fedcba9876543210fedcba9876543210"), (ApiKeyGrant{"backend", true, true}));
  EXPECT_EQ(*keys->Find("QUJDREVGR0hJSktMTU5PUA=="), (ApiKeyGrant{"mobile", false, true}));

  EXPECT_EQ(keys->Find("0123456789abcdef0123456789abcdeF"), nullptr);
  EXPECT_EQ(keys->Find("0123456789abcdef0123456789abcde"), nullptr);
  EXPECT_EQ(keys->Find(""), nullptr);
  EXPECT_EQ(keys->Find("web"), nullptr);
}

TEST(ApiKeySet, ReportsEveryBadLineByNumber) {
  absl::StatusOr<ApiKeySet> keys = ApiKeySet::Parse(
      "0123456789abcdef0123456789abcdef web amplitude\n"  // 1: fine
      "short web amplitude\n"                             // 2
      "0123456789abcdef0123456789abcdef web native\n"     // 3: duplicate of 1
      "aaaaaaaaaaaaaaaa!aaaa web amplitude\n"             // 4
      "bbbbbbbbbbbbbbbbbbbb Web amplitude\n"              // 5
      "cccccccccccccccccccc web dify\n"                   // 6
      "dddddddddddddddddddd web amplitude,amplitude\n"    // 7
      "eeeeeeeeeeeeeeeeeeee web amplitude,segment\n"      // 8
      "ffffffffffffffffffff web\n");                      // 9
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(keys.status().message(),
            "api-keys line 2: key has 5 characters; want 16..512; "
            "api-keys line 3: duplicate key (same as line 1); "
            "api-keys line 4: key has a character outside [A-Za-z0-9._~+/=-] at position 17; "
            "api-keys line 5: project (column 2) must be [a-z0-9][a-z0-9_-]*, at most 63 "
            "characters; "
            "api-keys line 6: source 1 is dify, which authenticates with the Dify key pair "
            "(auth.difyKeys), not with an API key; "
            "api-keys line 7: source 2 is listed twice; "
            "api-keys line 8: source 2 in column 3 is not amplitude or native; "
            "api-keys line 9: expected 3 columns (<key> <project> <sources>), found 2");
}

TEST(ApiKeySet, RejectsAFileWithoutKeysOrTooLarge) {
  EXPECT_THAT(ApiKeySet::Parse("# nothing here\n\n").status().message(),
              HasSubstr("api-keys: no keys"));
  EXPECT_THAT(ApiKeySet::Parse("").status().message(), HasSubstr("api-keys: no keys"));
  EXPECT_THAT(ApiKeySet::Parse(std::string(kMaxSecretFileBytes + 1, '#')).status().message(),
              HasSubstr("larger than"));
}

TEST(QueryKeySet, ParsesProjectsOrStar) {
  absl::StatusOr<QueryKeySet> keys = QueryKeySet::Parse(
      "0123456789abcdef0123456789abcdef *\n"
      "fedcba9876543210fedcba9876543210 web,backend\n");
  ASSERT_TRUE(keys.ok()) << keys.status();
  const QueryKeyGrant* all = keys->Find("0123456789abcdef0123456789abcdef");
  ASSERT_NE(all, nullptr);
  EXPECT_TRUE(all->all_projects);
  EXPECT_TRUE(all->Allows("anything"));
  const QueryKeyGrant* some = keys->Find("fedcba9876543210fedcba9876543210");
  ASSERT_NE(some, nullptr);
  EXPECT_EQ(some->projects, (std::vector<std::string>{"web", "backend"}));
  EXPECT_TRUE(some->Allows("backend"));
  EXPECT_FALSE(some->Allows("mobile"));
  EXPECT_EQ(keys->Find("nope-nope-nope-nope"), nullptr);
}

TEST(QueryKeySet, ReportsBadLines) {
  EXPECT_EQ(std::string(QueryKeySet::Parse("0123456789abcdef0123456789abcdef web,Web,web\n"
                                           "0123456789abcdef0123456789abcdeX\n"
                                           "0123456789abcdef0123456789abcdeY a,a\n")
                            .status()
                            .message()),
            "query-keys line 1: project 2 in column 2 must be [a-z0-9][a-z0-9_-]*, at most 63 "
            "characters (or the column is *); "
            "query-keys line 1: project 3 is listed twice; "
            "query-keys line 2: expected 2 columns (<key> <projects>), found 1; "
            "query-keys line 3: project 2 is listed twice");
}

TEST(ParseSecretValue, TakesOneTrimmedLine) {
  absl::StatusOr<SecretValue> v = ParseSecretValue("  abc123==\n", "x");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Reveal(), "abc123==");
  EXPECT_EQ(ParseSecretValue("\n\t ", "destinations[0].amplitude.apiKeyFile").status().message(),
            "destinations[0].amplitude.apiKeyFile: the file is empty");
  EXPECT_THAT(ParseSecretValue("a\nb", "x").status().message(), HasSubstr("more than one line"));
  EXPECT_THAT(ParseSecretValue("a b", "x").status().message(), HasSubstr("at position 2"));
  EXPECT_THAT(ParseSecretValue(std::string(4097, 'a'), "x").status().message(),
              HasSubstr("longer than 4096"));
}

TEST(SecretValue, MovingLeavesNothingBehind) {
  SecretValue a{std::string(kSentinel)};
  SecretValue b(std::move(a));
  EXPECT_EQ(b.Reveal(), kSentinel);
  EXPECT_TRUE(a.Reveal().empty());  // NOLINT(bugprone-use-after-move): checking the wipe
  SecretValue c(std::string("other"));
  c = std::move(b);
  EXPECT_EQ(c.Reveal(), kSentinel);
  EXPECT_TRUE(b.Reveal().empty());  // NOLINT(bugprone-use-after-move)
}

TEST(DifyKeyPair, MatchesOnlyBothHalves) {
  absl::StatusOr<DifyKeyPair> pair = DifyKeyPair::Parse("pk-lf-1234abcd\n", "sk-lf-5678efgh\n");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_TRUE(pair->Matches("pk-lf-1234abcd", "sk-lf-5678efgh"));
  EXPECT_FALSE(pair->Matches("pk-lf-1234abcd", "sk-lf-5678efgX"));
  EXPECT_FALSE(pair->Matches("pk-lf-1234abcX", "sk-lf-5678efgh"));
  EXPECT_FALSE(pair->Matches("sk-lf-5678efgh", "pk-lf-1234abcd"));
  EXPECT_FALSE(pair->Matches("", ""));
}

TEST(DifyKeyPair, NamesTheBadHalf) {
  EXPECT_EQ(DifyKeyPair::Parse("", "short").status().message(),
            "auth.difyKeys.publicKeyFile: the file is empty; "
            "auth.difyKeys.secretKeyFile: value has 5 characters; want at least 8");
}

// Every error path, fed files that contain key material: no message may quote it, nor any
// recognisable part of it.
TEST(SecretFiles, ErrorMessagesNeverQuoteKeyMaterial) {
  const std::string k(kSentinel);
  const std::string upper = "S3CR3T0KEY0MATERIAL0ABCDEF";
  const std::vector<std::string> api_keys_files = {
      k,                                        // one column
      absl::StrCat(k, " web"),                  // two columns
      absl::StrCat(k, " web amplitude extra"),  // four columns
      absl::StrCat(k, "! web amplitude"),       // bad character
      absl::StrCat(k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, " web amplitude"),
      absl::StrCat(k, " web amplitude\n", k, " web native"),  // duplicate
      absl::StrCat(k, " ", upper, " amplitude"),              // key-like project
      absl::StrCat(k, " web ", upper),                        // key-like source
      absl::StrCat("web ", upper, " amplitude"),              // columns swapped
      absl::StrCat(k, " web amplitude,", upper),
  };
  auto check = [&](const absl::Status& status, const std::string& input) {
    ASSERT_FALSE(status.ok()) << input;
    const std::string m(status.message());
    for (const std::string& secret : {k, upper}) {
      for (size_t i = 0; i + 6 <= secret.size(); ++i) {
        ASSERT_THAT(m, Not(HasSubstr(secret.substr(i, 6)))) << input;
      }
    }
  };
  for (const std::string& f : api_keys_files) check(ApiKeySet::Parse(f).status(), f);
  const std::vector<std::string> query_keys_files = {k,
                                                     absl::StrCat(k, " ", upper),
                                                     absl::StrCat(k, " web,", upper),
                                                     absl::StrCat(k, " *\n", k, " *"),
                                                     absl::StrCat("*", k, " *"),
                                                     absl::StrCat(upper, "\t")};
  for (const std::string& f : query_keys_files) check(QueryKeySet::Parse(f).status(), f);
  for (const std::string& f : {absl::StrCat(k, " ", k), absl::StrCat(k, "\n", k),
                               absl::StrCat(k, "\x01"), std::string(5000, 'k')}) {
    check(ParseSecretValue(f, "destinations[0].amplitude.apiKeyFile").status(), f);
    check(DifyKeyPair::Parse(f, "pk-lf-ok-ok-ok").status(), f);
    check(DifyKeyPair::Parse("pk-lf-ok-ok-ok", f).status(), f);
  }
  check(DifyKeyPair::Parse("s3cr3t", "s3cr3t0").status(), "short halves");
}

}  // namespace
}  // namespace cohort::config
