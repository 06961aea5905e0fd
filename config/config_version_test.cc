#include "config/config_version.h"

#include "absl/strings/str_cat.h"
#include "config/ingest_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::config {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

// A made-up history: revision 1 added identity.truncateIp (default false), revision 2 added
// mapping[].caseInsensitive (default false) and an optional tls.ocsp block.
constexpr FieldIntroduction kTable[] = {{"identity.truncateIp", 1, "false"},
                                        {"mapping[].caseInsensitive", 2, "false"},
                                        {"tls.ocsp", 2, ""}};

Json Doc(bool truncate_ip, bool second_rule_case_insensitive) {
  return Json::parse(absl::StrCat(R"({"version": "v", "revision": 0,
    "identity": {"minIdLength": 5, "truncateIp": )",
                                  truncate_ip ? "true" : "false", R"(},
    "mapping": [{"name": "a", "caseInsensitive": false},
                {"name": "b", "caseInsensitive": )",
                                  second_rule_case_insensitive ? "true" : "false", R"(}]})"));
}

TEST(LowerToRevision, NothingNewUsedRendersTheOldestRevisionWithoutNewFields) {
  Json doc = Doc(false, false);
  ASSERT_EQ(*LowerToRevision(doc, 2, kTable), 0);
  EXPECT_EQ(doc, Json::parse(R"({"version": "v", "revision": 0, "identity": {"minIdLength": 5},
                                 "mapping": [{"name": "a"}, {"name": "b"}]})"));
}

TEST(LowerToRevision, StampsTheNewestRevisionUsedAndKeepsFieldsUpToIt) {
  Json doc = Doc(true, false);
  ASSERT_EQ(*LowerToRevision(doc, 2, kTable), 1);
  EXPECT_EQ(doc["revision"], 1);
  EXPECT_EQ(doc["identity"]["truncateIp"], true);
  EXPECT_FALSE(doc["mapping"][1].contains("caseInsensitive"));

  doc = Doc(false, true);
  ASSERT_EQ(*LowerToRevision(doc, 5, kTable), 2);
  // Fields up to the stamped revision stay, also at their defaults: the text is explicit.
  EXPECT_EQ(doc["identity"]["truncateIp"], false);
  EXPECT_EQ(doc["mapping"][0]["caseInsensitive"], false);
  EXPECT_EQ(doc["mapping"][1]["caseInsensitive"], true);
}

TEST(LowerToRevision, RefusesWhenTheTargetIsTooOldNamingTheField) {
  Json doc = Doc(true, true);
  const Json before = doc;
  absl::StatusOr<int> r = LowerToRevision(doc, 1, kTable);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "mapping[1].caseInsensitive is set, which needs ingest-config revision 2; the target "
            "cohort-ingest reads up to revision 1 (upgrade the pipeline's image or leave the field "
            "at its default)");
  EXPECT_EQ(doc, before);

  r = LowerToRevision(doc, 0, kTable);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("identity.truncateIp is set"));
}

TEST(LowerToRevision, AnOptionalBlockCountsAsUsedWhenPresent) {
  Json doc = Doc(false, false);
  doc["tls"]["certFile"] = "/c";
  ASSERT_EQ(*LowerToRevision(doc, 2, kTable), 0);
  doc["tls"]["ocsp"] = Json::object();
  EXPECT_THAT(LowerToRevision(doc, 1, kTable).status().message(), HasSubstr("tls.ocsp is set"));
  EXPECT_EQ(*LowerToRevision(doc, 2, kTable), 2);
}

TEST(LowerToRevision, RejectsANegativeTarget) {
  Json doc = Doc(false, false);
  EXPECT_EQ(LowerToRevision(doc, -1, kTable).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FieldIntroductions, ThisBuildsTableIsConsistent) {
  for (const FieldIntroduction& f : FieldIntroductions()) {
    EXPECT_GE(f.revision, 1) << f.path;
    EXPECT_LE(f.revision, kConfigRevision) << f.path;
  }
  // Rendering a config that uses nothing new stamps revision 0 (and thus reads everywhere).
  Json doc = Json::parse(*RenderIngestConfig(Defaults()));
  EXPECT_EQ(doc["revision"], 0);
  EXPECT_EQ(doc["version"], std::string(kConfigVersion));
}

constexpr IngestRelease kReleases[] = {{"0.0.0", 0}, {"0.4.0", 1}, {"1.2.0", 3}};

TEST(MaxRevisionForImage, ReadsTheSemverTag) {
  EXPECT_EQ(*MaxRevisionForImage("ghcr.io/cohort/cohort-ingest:0.3.9", kReleases), 0);
  EXPECT_EQ(*MaxRevisionForImage("ghcr.io/cohort/cohort-ingest:v0.4.0", kReleases), 1);
  EXPECT_EQ(*MaxRevisionForImage("cohort-ingest:0.4.0-rc.1", kReleases), 1);
  EXPECT_EQ(*MaxRevisionForImage("cohort-ingest:1.1.99+build.5", kReleases), 1);
  EXPECT_EQ(*MaxRevisionForImage("cohort-ingest:1.10.0", kReleases), 3);
  EXPECT_EQ(*MaxRevisionForImage("registry:5000/cohort-ingest:1.2.0@sha256:abcd", kReleases), 3);
}

TEST(MaxRevisionForImage, AssumesThisBuildsRevisionWithoutASemverTag) {
  for (const char* image :
       {"cohort-ingest", "localhost:5000/cohort-ingest", "cohort-ingest:latest",
        "cohort-ingest@sha256:0123", "cohort-ingest:1.2", "cohort-ingest:main-4f2a1c",
        "localhost:5000/cohort-ingest@sha256:0123"}) {
    EXPECT_EQ(*MaxRevisionForImage(image, kReleases), kConfigRevision) << image;
  }
}

TEST(MaxRevisionForImage, RefusesImagesOlderThanEveryRelease) {
  constexpr IngestRelease kLater[] = {{"0.2.0", 0}};
  absl::StatusOr<int> r = MaxRevisionForImage("cohort-ingest:0.1.5", kLater);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("cohort-ingest:0.1.5 predates"));
}

TEST(MaxRevisionForImage, EveryImageReadsRevisionZeroWithThisBuildsTable) {
  ASSERT_FALSE(IngestReleases().empty());
  EXPECT_EQ(IngestReleases()[0].first_version, "0.0.0");
  // The image built with this code reads what this code writes: a revision bump needs a row.
  EXPECT_EQ(IngestReleases().back().max_revision, kConfigRevision);
  EXPECT_EQ(*MaxRevisionForImage("cohort-ingest:0.0.1"), 0);
  EXPECT_LE(*MaxRevisionForImage("cohort-ingest:99.0.0"), kConfigRevision);
}

}  // namespace
}  // namespace cohort::config
