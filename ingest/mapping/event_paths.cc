#include "ingest/mapping/event_paths.h"

#include <string.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace cohort::ingest::mapping {
namespace {

using config::PathSegment;
using Segments = absl::Span<const PathSegment>;

constexpr std::array<std::string_view, 5> kStringNames = {"event_type", "user_id", "device_id",
                                                          "insert_id", "ip"};
constexpr std::array<std::string_view, 8> kNumberNames = {"time",         "session_id",  "event_id",
                                                          "price",        "quantity",    "revenue",
                                                          "location_lat", "location_lng"};

std::optional<FieldRef> FindField(std::string_view name) {
  for (size_t i = 0; i < kStringNames.size(); ++i) {
    if (name == kStringNames[i]) return FieldRef{FieldRef::Kind::kString, static_cast<uint8_t>(i)};
  }
  for (size_t i = 0; i < kAttributeCount; ++i) {
    if (name == AttributeKey(static_cast<Attribute>(i))) {
      return FieldRef{FieldRef::Kind::kString, static_cast<uint8_t>(kStringNames.size() + i)};
    }
  }
  for (size_t i = 0; i < kNumberNames.size(); ++i) {
    if (name == kNumberNames[i]) return FieldRef{FieldRef::Kind::kNumber, static_cast<uint8_t>(i)};
  }
  if (name == "payload") {
    return FieldRef{FieldRef::Kind::kJson, static_cast<uint8_t>(JsonField::kEventProperties)};
  }
  for (size_t i = 0; i < kJsonFieldCount; ++i) {
    if (name == JsonFieldKey(static_cast<JsonField>(i))) {
      return FieldRef{FieldRef::Kind::kJson, static_cast<uint8_t>(i)};
    }
  }
  return std::nullopt;
}

// The node `segment` selects in `node` (names on objects, indexes on arrays), or nullptr.
template <typename J>
J* Child(J& node, const PathSegment& segment) {
  if (segment.kind == PathSegment::Kind::kName) {
    if (!node.is_object()) return nullptr;
    auto it = node.find(segment.name);
    return it == node.end() ? nullptr : &*it;
  }
  if (segment.kind == PathSegment::Kind::kIndex) {
    if (!node.is_array()) return nullptr;
    const int64_t size = static_cast<int64_t>(node.size());
    const int64_t i = segment.index < 0 ? size + segment.index : segment.index;
    if (i < 0 || i >= size) return nullptr;
    return &node[static_cast<size_t>(i)];
  }
  return nullptr;
}

bool Visit(const Json& node, Segments segments, absl::FunctionRef<bool(const Json&)> visit) {
  if (segments.empty()) return visit(node);
  const PathSegment& segment = segments.front();
  if (segment.kind == PathSegment::Kind::kWildcard) {
    if (!node.is_object() && !node.is_array()) return false;
    for (const Json& child : node) {
      if (Visit(child, segments.subspan(1), visit)) return true;
    }
    return false;
  }
  const Json* child = Child(node, segment);
  return child != nullptr && Visit(*child, segments.subspan(1), visit);
}

}  // namespace

uint64_t StringDigest(std::string_view content) {
  // Length and the first and last 8 bytes, mixed (murmur3's finalizer): cheap, and a collision only
  // costs a parse.
  const size_t n = content.size();
  uint64_t head = 0, tail = 0;
  memcpy(&head, content.data(), std::min<size_t>(n, 8));
  if (n > 8) memcpy(&tail, content.data() + n - 8, 8);
  uint64_t h = (n + 1) * 0x9E3779B97F4A7C15ull ^ head;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= tail;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

absl::StatusOr<EventPath> ResolveEventPath(const config::JsonPath& path) {
  if (path.segments.empty() || path.segments.front().kind != PathSegment::Kind::kName) {
    return absl::InvalidArgumentError("a path must start with a field name (\"$.user_id\")");
  }
  const std::string& name = path.segments.front().name;
  const std::optional<FieldRef> field = FindField(name);
  if (!field) {
    return absl::InvalidArgumentError(absl::StrCat("unknown field \"", name, "\""));
  }
  EventPath out;
  out.field = *field;
  out.inside.assign(path.segments.begin() + 1, path.segments.end());
  if (field->kind != FieldRef::Kind::kJson && !out.inside.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" has no members"));
  }
  for (const PathSegment& segment : out.inside) {
    if (segment.kind == PathSegment::Kind::kName) {
      out.name_digests.push_back(StringDigest(segment.name));
    }
  }
  return out;
}

std::string JsonText(const Json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>();
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const std::string* EventView::StringField(uint8_t index) {
  switch (index) {
    case 0:
      return &event_.event_type;
    case 1:
      return &event_.user_id;
    case 2:
      return &event_.device_id;
    case 3:
      return &event_.insert_id;
    case 4:
      return &event_.ip;
    default:
      return &event_.attributes[index - kStringNames.size()];
  }
}

std::optional<Json> EventView::Number(uint8_t index) const {
  auto optional = [](const auto& v) -> std::optional<Json> {
    if (!v) return std::nullopt;
    return Json(*v);
  };
  switch (index) {
    case 0:
      return Json(event_.time_ms);
    case 1:
      if (event_.session_id == kNoSession) return std::nullopt;
      return Json(event_.session_id);
    case 2:
      return optional(event_.event_id);
    case 3:
      return optional(event_.price);
    case 4:
      return optional(event_.quantity);
    case 5:
      return optional(event_.revenue);
    case 6:
      return optional(event_.location_lat);
    default:
      return optional(event_.location_lng);
  }
}

Json* EventView::Doc(JsonField field, bool create) {
  const size_t f = static_cast<size_t>(field);
  if (state_[f] == State::kUnread) {
    const std::string& text = event_.json[f];
    if (text.empty()) {
      state_[f] = State::kAbsent;
    } else {
      docs_[f] = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      state_[f] = docs_[f].is_discarded() ? State::kMalformed : State::kParsed;
    }
  }
  if (state_[f] == State::kAbsent && create) {
    docs_[f] = Json::object();
    state_[f] = State::kParsed;
    dirty_[f] = true;
  }
  return state_[f] == State::kParsed ? &docs_[f] : nullptr;
}

bool EventView::AnyValue(const EventPath& path, absl::FunctionRef<bool(const Json&)> visit,
                         std::optional<uint64_t> string_digest) {
  switch (path.field.kind) {
    case FieldRef::Kind::kString: {
      const std::string* s = StringField(path.field.index);
      if (s->empty()) return false;
      scratch_ = *s;
      return visit(scratch_);
    }
    case FieldRef::Kind::kNumber: {
      std::optional<Json> n = Number(path.field.index);
      if (!n) return false;
      scratch_ = std::move(*n);
      return visit(scratch_);
    }
    case FieldRef::Kind::kJson:
      break;
  }
  const size_t f = path.field.index;
  if (state_[f] == State::kUnread) {
    // Without escapes in the text, quotes pair up exactly around every member name and string
    // value: one the Bloom filter has not seen is not there, and the field need not be parsed.
    const std::string& text = event_.json[f];
    if (text.empty()) return false;
    for (const uint64_t digest : path.name_digests) {
      if (!MayHold(f, digest)) return false;
    }
    if (string_digest && !MayHold(f, *string_digest)) return false;
  }
  const Json* doc = Doc(static_cast<JsonField>(f), /*create=*/false);
  return doc != nullptr && Visit(*doc, path.inside, visit);
}

bool EventView::MayHold(size_t f, uint64_t digest) {
  if (scan_[f] == Scan::kNotYet) {
    const std::string& text = event_.json[f];
    scan_[f] = text.find('\\') == std::string::npos ? Scan::kNoEscapes : Scan::kEscapes;
    if (scan_[f] == Scan::kNoEscapes) {
      std::array<uint64_t, 4>& bloom = bloom_[f];
      const char* p = text.data();
      const char* const end = p + text.size();
      while (true) {
        const char* open = static_cast<const char*>(memchr(p, '"', end - p));
        if (open == nullptr) break;
        const char* close = static_cast<const char*>(memchr(open + 1, '"', end - open - 1));
        if (close == nullptr) break;
        const uint64_t h = StringDigest(std::string_view(open + 1, close - open - 1));
        bloom[(h >> 6) & 3] |= uint64_t{1} << (h & 63);
        bloom[(h >> 14) & 3] |= uint64_t{1} << ((h >> 8) & 63);
        p = close + 1;
      }
    }
  }
  if (scan_[f] == Scan::kEscapes) return true;
  const std::array<uint64_t, 4>& bloom = bloom_[f];
  return (bloom[(digest >> 6) & 3] >> (digest & 63) & 1) != 0 &&
         (bloom[(digest >> 14) & 3] >> ((digest >> 8) & 63) & 1) != 0;
}

std::optional<Json> EventView::First(const EventPath& path) {
  std::optional<Json> out;
  AnyValue(path, [&out](const Json& value) {
    out = value;
    return true;
  });
  return out;
}

bool EventView::Write(const EventPath& path, Json value) {
  if (path.field.kind == FieldRef::Kind::kString) {
    if (value.is_null()) return false;  // never the text "null" (a forbidden id)
    std::string text = JsonText(value);
    std::string* s = const_cast<std::string*>(StringField(path.field.index));
    if (*s == text) return false;
    *s = std::move(text);
    return true;
  }
  if (path.field.kind != FieldRef::Kind::kJson || path.inside.empty()) return false;
  const JsonField field = static_cast<JsonField>(path.field.index);
  // Check the way before creating anything, so a failed write leaves the event as it was.
  Json* doc = Doc(field, /*create=*/false);
  if (doc == nullptr && state_[path.field.index] == State::kMalformed) return false;
  Json* node = doc;
  size_t i = 0;
  for (; node != nullptr && i + 1 < path.inside.size(); ++i) {
    Json* child = Child(*node, path.inside[i]);
    if (child == nullptr) {
      if (path.inside[i].kind != PathSegment::Kind::kName || !node->is_object()) return false;
      break;
    }
    node = child;
  }
  // From here on, every remaining segment but the last is a name to create as an object.
  for (size_t j = i + 1; j < path.inside.size(); ++j) {
    if (path.inside[j - 1].kind != PathSegment::Kind::kName) return false;
  }
  const PathSegment& last = path.inside.back();
  if (node != nullptr && i + 1 == path.inside.size()) {
    if (last.kind == PathSegment::Kind::kIndex) {
      Json* slot = Child(*node, last);
      if (slot == nullptr) return false;
      *slot = std::move(value);
    } else {
      if (!node->is_object()) return false;
      (*node)[last.name] = std::move(value);
    }
    dirty_[path.field.index] = true;
    return true;
  }
  if (last.kind != PathSegment::Kind::kName) return false;
  if (node == nullptr) node = Doc(field, /*create=*/true);
  if (node == nullptr || !node->is_object()) return false;
  for (; i + 1 < path.inside.size(); ++i) {
    node = &((*node)[path.inside[i].name] = Json::object());
  }
  (*node)[last.name] = std::move(value);
  dirty_[path.field.index] = true;
  return true;
}

bool EventView::Remove(const EventPath& path) {
  switch (path.field.kind) {
    case FieldRef::Kind::kNumber:
      return false;
    case FieldRef::Kind::kString: {
      std::string* s = const_cast<std::string*>(StringField(path.field.index));
      if (s->empty()) return false;
      s->clear();
      return true;
    }
    case FieldRef::Kind::kJson:
      break;
  }
  const size_t f = path.field.index;
  if (path.inside.empty()) {
    if (event_.json[f].empty() && state_[f] != State::kParsed) return false;
    event_.json[f].clear();
    docs_[f] = Json();
    state_[f] = State::kAbsent;
    dirty_[f] = false;
    return true;
  }
  Json* node = Doc(static_cast<JsonField>(f), /*create=*/false);
  for (size_t i = 0; node != nullptr && i + 1 < path.inside.size(); ++i) {
    node = Child(*node, path.inside[i]);
  }
  if (node == nullptr) return false;
  const PathSegment& last = path.inside.back();
  if (last.kind == PathSegment::Kind::kName) {
    if (!node->is_object() || node->erase(last.name) == 0) return false;
  } else {
    if (Child(*node, last) == nullptr) return false;
    const int64_t size = static_cast<int64_t>(node->size());
    node->erase(static_cast<size_t>(last.index < 0 ? size + last.index : last.index));
  }
  dirty_[f] = true;
  return true;
}

void EventView::Commit() {
  for (size_t f = 0; f < kJsonFieldCount; ++f) {
    if (!dirty_[f]) continue;
    event_.json[f] = docs_[f].dump(-1, ' ', false, Json::error_handler_t::replace);
    dirty_[f] = false;
  }
}

}  // namespace cohort::ingest::mapping
