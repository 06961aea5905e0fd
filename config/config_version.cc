// The skew policy: revision gating of rendered configs and image → revision. See config_version.h.
#include "config/config_version.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "config/ingest_config.h"

namespace cohort::config {
namespace {

// (absl::StrSplit wants absl::string_view, which Debian's abseil keeps distinct from std's.)
std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(separator, start)) != std::string_view::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// Calls `visit(parent, key, concrete_path)` for every place `segments` names in `node` where the
// parent object exists (whether or not it holds the key).
template <typename Visit>
void ForEachLocation(nlohmann::ordered_json& node, const std::vector<std::string_view>& segments,
                     size_t i, const std::string& concrete, const Visit& visit) {
  if (!node.is_object()) return;
  std::string key(segments[i]);
  const bool each = key.size() > 2 && key.ends_with("[]");
  if (each) key.resize(key.size() - 2);
  const std::string here = concrete.empty() ? key : absl::StrCat(concrete, ".", key);
  if (i + 1 == segments.size()) {
    if (!each) visit(node, key, here);
    return;
  }
  auto it = node.find(key);
  if (it == node.end()) return;
  if (!each) {
    ForEachLocation(*it, segments, i + 1, here, visit);
    return;
  }
  if (!it->is_array()) return;
  for (size_t k = 0; k < it->size(); ++k) {
    ForEachLocation((*it)[k], segments, i + 1, absl::StrCat(here, "[", k, "]"), visit);
  }
}

constexpr std::array<IngestRelease, 1> kReleases{{{"0.0.0", 0}}};

struct Version {
  int64_t major = 0, minor = 0, patch = 0;
  auto operator<=>(const Version&) const = default;
};

std::optional<Version> ParseVersion(std::string_view text) {
  if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
  text = text.substr(0, text.find_first_of("-+"));
  const std::vector<std::string_view> parts = Split(text, '.');
  if (parts.size() != 3) return std::nullopt;
  Version v;
  int64_t* fields[] = {&v.major, &v.minor, &v.patch};
  for (size_t i = 0; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 9 ||
        parts[i].find_first_not_of("0123456789") != std::string_view::npos ||
        !absl::SimpleAtoi(std::string(parts[i]), fields[i])) {
      return std::nullopt;
    }
  }
  return v;
}

}  // namespace

std::span<const FieldIntroduction> FieldIntroductions() { return {}; }

absl::StatusOr<int> LowerToRevision(nlohmann::ordered_json& doc, int max_revision,
                                    std::span<const FieldIntroduction> table) {
  if (max_revision < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative revision ", max_revision));
  }
  // The lowest revision that expresses `doc`, and the first field that forces it above max.
  int needed = 0;
  std::optional<std::pair<std::string, int>> first_too_new;
  for (const FieldIntroduction& field : table) {
    const std::vector<std::string_view> segments = Split(field.path, '.');
    nlohmann::ordered_json default_value;
    if (!field.default_json.empty()) {
      default_value = nlohmann::ordered_json::parse(field.default_json, nullptr,
                                                    /*allow_exceptions=*/false);
      if (default_value.is_discarded()) {
        // A bad table entry is a bug in this library, not bad input.
        std::fprintf(stderr, "config_version: default of %s is not JSON\n",
                     std::string(field.path).c_str());
        std::abort();
      }
    }
    ForEachLocation(
        doc, segments, 0, "",
        [&](nlohmann::ordered_json& parent, const std::string& key, const std::string& concrete) {
          auto it = parent.find(key);
          if (it == parent.end()) return;
          if (!field.default_json.empty() && *it == default_value) return;
          needed = std::max(needed, field.revision);
          if (field.revision > max_revision && !first_too_new) {
            first_too_new.emplace(concrete, field.revision);
          }
        });
  }
  if (first_too_new) {
    return absl::FailedPreconditionError(absl::StrCat(
        first_too_new->first, " is set, which needs ingest-config revision ", first_too_new->second,
        "; the target cohort-ingest reads up to revision ", max_revision,
        " (upgrade the pipeline's image or leave the field at its default)"));
  }
  for (const FieldIntroduction& field : table) {
    if (field.revision <= needed) continue;
    const std::vector<std::string_view> segments = Split(field.path, '.');
    ForEachLocation(doc, segments, 0, "",
                    [](nlohmann::ordered_json& parent, const std::string& key, const std::string&) {
                      parent.erase(key);
                    });
  }
  doc["revision"] = needed;
  return needed;
}

std::span<const IngestRelease> IngestReleases() { return kReleases; }

absl::StatusOr<int> MaxRevisionForImage(std::string_view image,
                                        std::span<const IngestRelease> releases) {
  std::string_view ref = image.substr(0, image.find('@'));
  const size_t slash = ref.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? ref : ref.substr(slash + 1);
  const size_t colon = last.rfind(':');
  std::optional<Version> version;
  if (colon != std::string_view::npos) version = ParseVersion(last.substr(colon + 1));
  if (!version) return kConfigRevision;
  std::optional<int> answer;
  for (const IngestRelease& release : releases) {
    const std::optional<Version> first = ParseVersion(release.first_version);
    if (first && *first <= *version) answer = release.max_revision;
  }
  if (!answer) {
    return absl::FailedPreconditionError(
        absl::StrCat("image ", std::string(image),
                     " predates every cohort-ingest release this operator can configure"));
  }
  return *answer;
}

}  // namespace cohort::config
