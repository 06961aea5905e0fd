#include "operator/subset_diff.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "operator/quantity.h"

namespace cohort::op {
namespace {

using nlohmann::json;

const json& Null() {
  static const json* const kNull = new json();
  return *kNull;
}

bool IsZero(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return true;
    case json::value_t::string:
      return v.get_ref<const std::string&>().empty();
    case json::value_t::boolean:
      return !v.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return v == 0;
    case json::value_t::object:
    case json::value_t::array:
      return v.empty();
    default:
      return false;
  }
}

// A scalar as quantity text, if it could be one.
std::optional<std::string> QuantityText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return absl::StrCat(v.get<int64_t>());
  if (v.is_number_unsigned()) return absl::StrCat(v.get<uint64_t>());
  if (v.is_number_float()) return v.dump();
  return std::nullopt;
}

bool ScalarsMatch(const json& desired, const json& live) {
  if (desired == live) return true;
  std::optional<std::string> d = QuantityText(desired);
  std::optional<std::string> l = QuantityText(live);
  return d.has_value() && l.has_value() && QuantitiesEqual(*d, *l);
}

std::string KeySegment(const std::string& key) {
  const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '-';
  });
  return plain ? absl::StrCat(".", key) : absl::StrCat("[\"", key, "\"]");
}

// The merge key of a list of objects: the field every desired element has as a distinct string,
// or "" for a positional comparison.
std::string MergeKey(const json& desired, const std::string& list_name) {
  const std::string key = list_name == "ownerReferences" ? "uid" : "name";
  absl::flat_hash_set<std::string> seen;
  for (const json& element : desired) {
    if (!element.is_object()) return "";
    auto it = element.find(key);
    if (it == element.end() || !it->is_string()) return "";
    if (!seen.insert(it->get<std::string>()).second) return "";
  }
  return key;
}

class Differ {
 public:
  // Appends the failing path's segments in reverse order.
  bool Match(const json& desired, const json& live, const std::string& name) {
    if (desired.is_null()) return true;
    if (live.is_null() && IsZero(desired)) return true;
    if (desired.is_object()) return MatchObject(desired, live);
    if (desired.is_array()) return MatchArray(desired, live, name);
    return ScalarsMatch(desired, live);
  }

  std::string Path() const {
    std::string path;
    for (auto it = reversed_path_.rbegin(); it != reversed_path_.rend(); ++it) {
      absl::StrAppend(&path, *it);
    }
    if (!path.empty() && path.front() == '.') path.erase(0, 1);
    return path;
  }

 private:
  bool MatchObject(const json& desired, const json& live) {
    if (!live.is_null() && !live.is_object()) return false;
    for (const auto& [key, value] : desired.items()) {
      const json* l = &Null();
      if (live.is_object()) {
        if (auto it = live.find(key); it != live.end()) l = &*it;
      }
      if (!Match(value, *l, key)) {
        reversed_path_.push_back(KeySegment(key));
        return false;
      }
    }
    return true;
  }

  bool MatchArray(const json& desired, const json& live, const std::string& name) {
    if (!live.is_null() && !live.is_array()) return false;
    const json empty = json::array();
    const json& l = live.is_null() ? empty : live;
    if (desired.empty()) return l.empty();
    if (const std::string key = MergeKey(desired, name); !key.empty()) {
      for (const json& element : desired) {
        const std::string& id = element[key].get_ref<const std::string&>();
        const json* match = nullptr;
        for (const json& candidate : l) {
          if (candidate.is_object() && candidate.value(key, json()) == id) {
            match = &candidate;
            break;
          }
        }
        if (match == nullptr || !Match(element, *match, "")) {
          reversed_path_.push_back(absl::StrCat("[", key, "=", id, "]"));
          return false;
        }
      }
      return true;
    }
    if (desired.size() != l.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i) {
      if (!Match(desired[i], l[i], "")) {
        reversed_path_.push_back(absl::StrCat("[", i, "]"));
        return false;
      }
    }
    return true;
  }

  std::vector<std::string> reversed_path_;
};

}  // namespace

std::optional<std::string> SubsetDiff(const json& desired, const json& live) {
  Differ differ;
  if (differ.Match(desired, live, "")) return std::nullopt;
  std::string path = differ.Path();
  return path.empty() ? std::string("(root)") : path;
}

bool SemanticEqual(const json& a, const json& b) {
  return !SubsetDiff(a, b).has_value() && !SubsetDiff(b, a).has_value();
}

}  // namespace cohort::op
