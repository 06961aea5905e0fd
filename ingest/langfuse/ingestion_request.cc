// Parsing and per-item validation of Langfuse ingestion batches (ingestion_request.h).
#include "ingest/langfuse/ingestion_request.h"

#include <array>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ingest/langfuse/timestamp.h"

namespace cohort::ingest::langfuse {
namespace {

using nlohmann::json;

enum class Kind {
  kString,
  kTimestamp,
  kObject,
  kStringArray,
  kBool,
  kLevel,
  kUsage,       // object of numbers (and "unit": string)
  kNumberMap,   // object of numbers
  kScoreValue,  // number or string
  kInteger,
  kAny,
};

struct Field {
  std::string_view key;
  Kind kind;
  bool required = false;
};

constexpr std::array kTraceFields = {
    Field{"id", Kind::kString},        Field{"timestamp", Kind::kTimestamp},
    Field{"name", Kind::kString},      Field{"userId", Kind::kString},
    Field{"sessionId", Kind::kString}, Field{"release", Kind::kString},
    Field{"version", Kind::kString},   Field{"tags", Kind::kStringArray},
    Field{"public", Kind::kBool},      Field{"environment", Kind::kString},
    Field{"metadata", Kind::kAny},
};

constexpr std::array kObservationFields = {
    Field{"id", Kind::kString},
    Field{"traceId", Kind::kString},
    Field{"name", Kind::kString},
    Field{"startTime", Kind::kTimestamp},
    Field{"endTime", Kind::kTimestamp},
    Field{"completionStartTime", Kind::kTimestamp},
    Field{"level", Kind::kLevel},
    Field{"statusMessage", Kind::kString},
    Field{"parentObservationId", Kind::kString},
    Field{"version", Kind::kString},
    Field{"environment", Kind::kString},
    Field{"model", Kind::kString},
    Field{"modelParameters", Kind::kObject},
    Field{"usage", Kind::kUsage},
    Field{"usageDetails", Kind::kNumberMap},
    Field{"costDetails", Kind::kNumberMap},
    Field{"promptName", Kind::kString},
    Field{"promptVersion", Kind::kInteger},
    Field{"metadata", Kind::kAny},
};

constexpr std::array kScoreFields = {
    Field{"id", Kind::kString},
    Field{"traceId", Kind::kString, true},
    Field{"name", Kind::kString, true},
    Field{"value", Kind::kScoreValue, true},
    Field{"observationId", Kind::kString},
    Field{"comment", Kind::kString},
    Field{"dataType", Kind::kString},
    Field{"sessionId", Kind::kString},
};

constexpr std::array kLogFields = {Field{"log", Kind::kAny, true}};

struct TypeInfo {
  std::string_view name;
  ItemType type;
  Family family;
  bool is_update;
};

constexpr std::array kTypes = {
    TypeInfo{"trace-create", ItemType::kTraceCreate, Family::kTrace, false},
    TypeInfo{"span-create", ItemType::kSpanCreate, Family::kSpan, false},
    TypeInfo{"span-update", ItemType::kSpanUpdate, Family::kSpan, true},
    TypeInfo{"generation-create", ItemType::kGenerationCreate, Family::kGeneration, false},
    TypeInfo{"generation-update", ItemType::kGenerationUpdate, Family::kGeneration, true},
    TypeInfo{"event-create", ItemType::kEventCreate, Family::kEvent, false},
    TypeInfo{"score-create", ItemType::kScoreCreate, Family::kScore, false},
    TypeInfo{"sdk-log", ItemType::kSdkLog, Family::kLog, false},
    TypeInfo{"observation-create", ItemType::kObservationCreate, Family::kSpan, false},
    TypeInfo{"observation-update", ItemType::kObservationUpdate, Family::kSpan, true},
};

std::optional<std::string> CheckValue(const json& v, Kind kind) {
  switch (kind) {
    case Kind::kString:
      if (!v.is_string()) return "must be a string";
      return std::nullopt;
    case Kind::kTimestamp: {
      if (!v.is_string()) return "must be an ISO 8601 date-time string";
      absl::StatusOr<int64_t> t = ParseTimestampMs(v.get_ref<const std::string&>());
      if (!t.ok()) return std::string(t.status().message());
      return std::nullopt;
    }
    case Kind::kObject:
      if (!v.is_object()) return "must be an object";
      return std::nullopt;
    case Kind::kStringArray:
      if (!v.is_array()) return "must be an array of strings";
      for (const json& e : v) {
        if (!e.is_string()) return "must be an array of strings";
      }
      return std::nullopt;
    case Kind::kBool:
      if (!v.is_boolean()) return "must be a boolean";
      return std::nullopt;
    case Kind::kLevel:
      if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        if (s == "DEBUG" || s == "DEFAULT" || s == "WARNING" || s == "ERROR") return std::nullopt;
      }
      return "must be one of DEBUG, DEFAULT, WARNING, ERROR";
    case Kind::kUsage:
    case Kind::kNumberMap:
      if (!v.is_object()) return "must be an object";
      for (const auto& [key, e] : v.items()) {
        if (e.is_null() || e.is_number()) continue;
        if (kind == Kind::kUsage && key == "unit" && e.is_string()) continue;
        return absl::StrCat(key, " must be a number");
      }
      return std::nullopt;
    case Kind::kScoreValue:
      if (!v.is_number() && !v.is_string()) return "must be a number or a string";
      return std::nullopt;
    case Kind::kInteger:
      if (!v.is_number_integer()) return "must be an integer";
      return std::nullopt;
    case Kind::kAny:
      return std::nullopt;
  }
  return std::nullopt;
}

template <size_t N>
std::optional<std::string> CheckFields(const json& body, const std::array<Field, N>& fields) {
  for (const Field& f : fields) {
    auto it = body.find(f.key);
    if (it == body.end() || it->is_null()) {
      if (f.required) return absl::StrCat("body.", std::string(f.key), ": required");
      continue;
    }
    if (std::optional<std::string> why = CheckValue(*it, f.kind)) {
      return absl::StrCat("body.", std::string(f.key), ": ", *why);
    }
  }
  return std::nullopt;
}

// Validates one batch entry; on success fills `item`, otherwise returns the message.
std::optional<std::string> ParseItem(json& entry, Item& item) {
  if (!entry.is_object()) return "item: must be an object";
  auto id = entry.find("id");
  if (id == entry.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return "id: required, a non-empty string";
  }
  item.id = id->get<std::string>();
  auto ts = entry.find("timestamp");
  if (ts == entry.end() || !ts->is_string()) return "timestamp: required, an ISO 8601 date-time";
  absl::StatusOr<int64_t> t = ParseTimestampMs(ts->get_ref<const std::string&>());
  if (!t.ok()) return absl::StrCat("timestamp: ", std::string(t.status().message()));
  item.timestamp_ms = *t;
  auto type = entry.find("type");
  if (type == entry.end() || !type->is_string()) return "type: required, a string";
  const TypeInfo* info = nullptr;
  for (const TypeInfo& ti : kTypes) {
    if (ti.name == type->get_ref<const std::string&>()) info = &ti;
  }
  if (info == nullptr) {
    const std::string& name = type->get_ref<const std::string&>();
    if (name.size() > 64) return "type: unknown type";  // not cut: it could split UTF-8
    return absl::StrCat("type: unknown type \"", name, "\"");
  }
  item.type = info->type;
  item.family = info->family;
  item.is_update = info->is_update;
  auto body = entry.find("body");
  if (body == entry.end() || !body->is_object()) return "body: required, an object";
  std::optional<std::string> why;
  switch (info->family) {
    case Family::kTrace:
      why = CheckFields(*body, kTraceFields);
      break;
    case Family::kSpan:
    case Family::kGeneration:
    case Family::kEvent:
      why = CheckFields(*body, kObservationFields);
      break;
    case Family::kScore:
      why = CheckFields(*body, kScoreFields);
      break;
    case Family::kLog:
      why = CheckFields(*body, kLogFields);
      break;
  }
  if (why.has_value()) return why;
  if (info->type == ItemType::kObservationCreate || info->type == ItemType::kObservationUpdate) {
    auto kind = body->find("type");
    const std::string k = kind != body->end() && kind->is_string() ? kind->get<std::string>() : "";
    if (k == "SPAN") {
      item.family = Family::kSpan;
    } else if (k == "GENERATION") {
      item.family = Family::kGeneration;
    } else if (k == "EVENT" && !info->is_update) {
      item.family = Family::kEvent;
    } else {
      return "body.type: must be SPAN, GENERATION or EVENT";
    }
  }
  auto body_id = body->find("id");
  const bool has_body_id = body_id != body->end() && body_id->is_string() &&
                           !body_id->get_ref<const std::string&>().empty();
  if (item.is_update && !has_body_id) return "body.id: required for an update";
  item.body_id = has_body_id ? body_id->get<std::string>() : item.id;
  item.body = std::move(*body);
  return std::nullopt;
}

// The deepest nesting of arrays and objects in `text`, scanning past strings; stops counting
// past `limit`. Done before parsing so that no recursive walk ever meets a deep document.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > limit) return max_depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

std::string_view ItemTypeName(ItemType type) {
  for (const TypeInfo& ti : kTypes) {
    if (ti.type == type) return ti.name;
  }
  return "unknown";
}

std::string_view FamilyName(Family family) {
  switch (family) {
    case Family::kTrace:
      return "trace";
    case Family::kSpan:
      return "span";
    case Family::kGeneration:
      return "generation";
    case Family::kEvent:
      return "event";
    case Family::kScore:
      return "score";
    case Family::kLog:
      return "log";
  }
  return "unknown";
}

absl::StatusOr<ParsedIngestion> ParseIngestion(std::string_view body, const ParseLimits& limits) {
  if (NestingDepth(body, limits.max_depth) > limits.max_depth) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid request body: JSON nested deeper than ", limits.max_depth));
  }
  json doc = json::parse(body, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("Invalid request body: not JSON");
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("Invalid request body: expected an object with \"batch\"");
  }
  auto batch = doc.find("batch");
  if (batch == doc.end() || !batch->is_array()) {
    return absl::InvalidArgumentError("Invalid request body: batch: required, an array");
  }
  if (static_cast<int64_t>(batch->size()) > limits.max_items) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid request body: batch: more than ", limits.max_items, " items"));
  }
  ParsedIngestion out;
  out.batch_size = static_cast<int64_t>(batch->size());
  for (json& entry : *batch) {
    Item item;
    if (std::optional<std::string> why = ParseItem(entry, item)) {
      ItemError error;
      if (entry.is_object()) {
        auto id = entry.find("id");
        if (id != entry.end() && id->is_string()) error.id = id->get<std::string>();
        auto type = entry.find("type");
        if (type != entry.end() && type->is_string()) {
          for (const TypeInfo& ti : kTypes) {
            if (ti.name == type->get_ref<const std::string&>()) error.type = ti.name;
          }
        }
      }
      error.message = std::move(*why);
      out.errors.push_back(std::move(error));
      continue;
    }
    out.items.push_back(std::move(item));
  }
  return out;
}

}  // namespace cohort::ingest::langfuse
