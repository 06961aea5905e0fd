// The skew policy between an operator and the cohort-ingest image a pipeline runs (which may be
// pinned older or newer than the operator). docs/ingest-config.md states it for users:
//
//  * `version` is the major format (kConfigVersion). A reader accepts only its own major.
//  * `revision` counts additions within the major. A revision only adds optional fields whose
//    absence keeps the previous behaviour. A reader accepts every revision up to its own and
//    rejects newer ones; unknown keys are always errors (it never guesses whether a field it does
//    not know was safe to ignore: dropping e.g. a privacy setting silently is worse than refusing).
//  * A writer stamps the *lowest* revision that expresses the config and leaves out fields newer
//    than that (they are at their defaults by definition). So a pipeline that uses nothing new
//    renders byte-identically across operator upgrades and stays readable by older images.
//  * The operator learns what an image reads from its semver tag (IngestReleases()); when the
//    config needs more, RenderIngestConfig fails with kFailedPrecondition naming the field, and the
//    reconciler reports it in a condition instead of rolling pods that cannot start. An image with
//    no semver tag (a digest, "latest") is assumed to read this build's revision; if it cannot, it
//    refuses the config at startup with the revision error and the rollout stalls visibly.
//
// Pure functions over JSON documents and tables; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort::config {

// A field added by a revision after 0.
struct FieldIntroduction {
  // Key path in the rendered JSON: keys joined by '.', "[]" after a list's key for each element,
  // e.g. "identity.truncateIp", "mapping[].caseInsensitive".
  std::string_view path;
  int revision;  // >= 1: the revision that added it
  // The JSON text of the value that means "as before the field existed"; empty: the field is left
  // out when unused (an optional block).
  std::string_view default_json;
};

// This build's additions since revision 0, oldest first. Empty while kConfigRevision is 0; when a
// revision adds fields, they are listed here and ingest_config.cc writes them.
std::span<const FieldIntroduction> FieldIntroductions();

// Stamps `doc` (a rendered config with every field of this build, and a "revision" key) with the
// lowest revision that expresses it given `table`, and erases the fields newer than that.
// Returns the stamped revision. Errors: kFailedPrecondition when that revision exceeds
// `max_revision`, naming the first such field by its concrete path ("mapping[3].caseInsensitive");
// kInvalidArgument for a negative `max_revision`. On error `doc` is unchanged.
[[nodiscard]] absl::StatusOr<int> LowerToRevision(nlohmann::ordered_json& doc, int max_revision,
                                                  std::span<const FieldIntroduction> table);

// A cohort-ingest release and the newest revision it reads, e.g. {"0.4.0", 2}: from 0.4.0 on,
// images read revision 2 (until the next row).
struct IngestRelease {
  std::string_view first_version;  // MAJOR.MINOR.PATCH
  int max_revision;
};

// Every release that changed the revision it reads, in ascending version order. Starts with
// {"0.0.0", 0}: every image ever built reads revision 0.
std::span<const IngestRelease> IngestReleases();

// The newest revision `image` reads. The tag (after the last ':' of the last path component;
// "@sha256:..." ignored) is read as [v]MAJOR.MINOR.PATCH[-pre][+build], a pre-release counting as
// its release; the answer is the max_revision of the last row at or below it. An image with no
// such tag is assumed to read kConfigRevision. Errors: kFailedPrecondition when the version is
// older than the first row (it reads no revision this build can write).
[[nodiscard]] absl::StatusOr<int> MaxRevisionForImage(
    std::string_view image, std::span<const IngestRelease> releases = IngestReleases());

}  // namespace cohort::config
