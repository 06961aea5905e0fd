#include "ingest/amplitude/request_parser.h"

#include <simdjson.h>

#include <array>
#include <limits>
#include <utility>

#include "ingest/amplitude/compact_json.h"
#include "ingest/amplitude/validation.h"
#include "ingest/event/json_text.h"

namespace cohort::ingest::amplitude {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int64_t kMaxFutureMs = 60 * 60 * 1000;  // time may be at most 1 hour ahead
constexpr std::string_view kRemoteIp = "$remote";

// What an event key means to the parser.
enum class Kind : uint8_t {
  kUserId,
  kDeviceId,
  kEventType,
  kTime,
  kInsertId,
  kSessionId,
  kEventId,
  kIp,
  kAttribute,
  kPrice,
  kQuantity,
  kRevenue,
  kLocationLat,
  kLocationLng,
  kJson,
};

struct FieldSpec {
  Kind kind;
  uint8_t index = 0;  // Attribute or JsonField
};

// The event keys we read, bucketed by length: a lookup is a short scan of same-length keys
// (at most 6), cheaper than hashing on the hot path.
class FieldTable {
 public:
  FieldTable() {
    Add("user_id", {Kind::kUserId});
    Add("device_id", {Kind::kDeviceId});
    Add("event_type", {Kind::kEventType});
    Add("time", {Kind::kTime});
    Add("insert_id", {Kind::kInsertId});
    Add("session_id", {Kind::kSessionId});
    Add("event_id", {Kind::kEventId});
    Add("ip", {Kind::kIp});
    Add("price", {Kind::kPrice});
    Add("quantity", {Kind::kQuantity});
    Add("revenue", {Kind::kRevenue});
    Add("location_lat", {Kind::kLocationLat});
    Add("location_lng", {Kind::kLocationLng});
    for (size_t i = 0; i < kAttributeCount; ++i) {
      Add(AttributeKey(static_cast<Attribute>(i)), {Kind::kAttribute, static_cast<uint8_t>(i)});
    }
    for (size_t i = 0; i < kJsonFieldCount; ++i) {
      Add(JsonFieldKey(static_cast<JsonField>(i)), {Kind::kJson, static_cast<uint8_t>(i)});
    }
  }

  // Null for keys we ignore.
  const FieldSpec* Find(std::string_view key) const {
    if (key.size() >= kMaxKeyLength) return nullptr;
    for (const auto& [name, spec] : by_length_[key.size()]) {
      if (name == key) return &spec;
    }
    return nullptr;
  }

 private:
  static constexpr size_t kMaxKeyLength = 24;
  void Add(std::string_view key, FieldSpec spec) {
    by_length_.at(key.size()).emplace_back(key, spec);
  }
  std::array<std::vector<std::pair<std::string_view, FieldSpec>>, kMaxKeyLength> by_length_;
};

const FieldTable& EventFields() {
  static const FieldTable* table = new FieldTable();
  return *table;
}

// Writes a scalar as text (strings truncated). False for objects and arrays.
bool ScalarText(element value, std::string* out) {
  out->clear();
  switch (value.type()) {
    case element_type::STRING: {
      std::string_view s = value.get_string().value_unsafe();
      out->assign(TruncateToCodePoints(s, kMaxStringCodePoints));
      return true;
    }
    case element_type::INT64:
      AppendJsonInt(value.get_int64().value_unsafe(), out);
      return true;
    case element_type::UINT64:
      AppendJsonUint(value.get_uint64().value_unsafe(), out);
      return true;
    case element_type::DOUBLE:
      AppendJsonDouble(value.get_double().value_unsafe(), out);
      return true;
    case element_type::BOOL:
      out->assign(value.get_bool().value_unsafe() ? "true" : "false");
      return true;
    case element_type::NULL_VALUE:  // callers treat null as absent before getting here
    case element_type::ARRAY:
    case element_type::OBJECT:
      return false;
  }
  return false;
}

bool AsNumber(element value, double* out) {
  switch (value.type()) {
    case element_type::INT64:
      *out = static_cast<double>(value.get_int64().value_unsafe());
      return true;
    case element_type::UINT64:
      *out = static_cast<double>(value.get_uint64().value_unsafe());
      return true;
    case element_type::DOUBLE:
      *out = value.get_double().value_unsafe();
      return true;
    default:
      return false;
  }
}

// One event's presence bits and problems, gathered while walking its keys.
struct EventState {
  bool has_user_id = false;
  bool has_device_id = false;
  std::vector<std::string_view> invalid;  // names of invalid fields (the last duplicate decides)
};

void AddIndex(std::map<std::string, std::vector<int64_t>>& map, std::string_view field,
              int64_t index) {
  std::vector<int64_t>& v = map[std::string(field)];
  if (v.empty() || v.back() != index) v.push_back(index);
}

}  // namespace

int64_t DefaultMaxEvents(Endpoint endpoint) {
  return endpoint == Endpoint::kBatch ? kMaxEventsBatch : kMaxEventsHttpApi;
}

struct RequestParser::Impl {
  simdjson::dom::parser parser;
  std::string scratch;
};

RequestParser::RequestParser(ParserOptions options)
    : options_(options), impl_(std::make_unique<Impl>()) {}

RequestParser::~RequestParser() = default;

ParsedRequest RequestParser::Parse(std::string_view body, const RequestContext& context) {
  ParsedRequest result;
  result.payload_size_bytes = static_cast<int64_t>(body.size());
  const int64_t upload_ms = absl::ToUnixMillis(context.upload_time);
  result.server_upload_time_ms = upload_ms;
  auto reject = [&result](Response response) {
    result.events.clear();
    result.rejection = std::move(response);
    return std::move(result);
  };

  if (body.empty()) return reject(ErrorResponse(400, kMissingRequestBody));
  element doc;
  // realloc_if_needed: copies into the parser's reusable padded buffer.
  if (impl_->parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(doc) !=
          simdjson::SUCCESS ||
      doc.type() != element_type::OBJECT) {
    return reject(ErrorResponse(400, kInvalidJsonBody));
  }

  // Top level: the last of duplicate keys wins.
  element events;  // valid while has_events
  bool has_events = false;
  int64_t min_id_length = options_.default_min_id_length;
  const simdjson::dom::object top = doc.get_object().value_unsafe();
  for (simdjson::dom::key_value_pair field : top) {
    if (field.key == "api_key") {
      std::string_view key;
      result.api_key.clear();
      if (field.value.get_string().get(key) == simdjson::SUCCESS) result.api_key.assign(key);
    } else if (field.key == "events") {
      events = field.value;
      has_events = !field.value.is_null();
    } else if (field.key == "options") {
      if (field.value.is_null()) continue;
      simdjson::dom::object options;
      if (field.value.get_object().get(options) != simdjson::SUCCESS) {
        return reject(ErrorResponse(400, kInvalidJsonBody));
      }
      for (simdjson::dom::key_value_pair option : options) {
        if (option.key != "min_id_length" || option.value.is_null()) continue;
        int64_t n;
        if (option.value.type() != element_type::INT64 ||
            option.value.get_int64().get(n) != simdjson::SUCCESS || n < 0) {
          return reject(ErrorResponse(400, kInvalidJsonBody));
        }
        min_id_length = n;
      }
    }
  }
  if (result.api_key.empty()) return reject(MissingFieldResponse("api_key"));
  if (!has_events) return reject(MissingFieldResponse("events"));
  simdjson::dom::array array;
  if (events.get_array().get(array) != simdjson::SUCCESS) {
    return reject(ErrorResponse(400, kInvalidEventJson));
  }
  const size_t count = array.size();  // saturates at 0xffffff, far above any limit
  if (count == 0) return reject(MissingFieldResponse("events"));
  const int64_t max_events =
      options_.max_events_per_request.value_or(DefaultMaxEvents(context.endpoint));
  if (static_cast<int64_t>(count) > max_events) return reject(PayloadTooLargeResponse());
  for (element item : array) {
    if (item.type() != element_type::OBJECT) return reject(ErrorResponse(400, kInvalidEventJson));
  }

  const auto& fields = EventFields();
  EventErrors errors;
  result.events.reserve(count);
  int64_t index = -1;
  for (element item : array) {
    ++index;
    Event& event = result.events.emplace_back();
    event.source = EventSource::kAmplitude;
    event.server_received_time_ms = upload_ms;
    event.time_ms = upload_ms;
    EventState state;
    const simdjson::dom::object object = item.get_object().value_unsafe();
    for (simdjson::dom::key_value_pair field : object) {
      const FieldSpec* found = fields.Find(field.key);
      if (found == nullptr) continue;  // unknown keys are ignored
      const FieldSpec spec = *found;
      element value = field.value;
      const bool is_null = value.is_null();
      if (!state.invalid.empty()) std::erase(state.invalid, field.key);
      bool ok = true;
      switch (spec.kind) {
        case Kind::kUserId:
          state.has_user_id = !is_null;
          event.user_id.clear();
          ok = is_null || ScalarText(value, &event.user_id);
          break;
        case Kind::kDeviceId:
          state.has_device_id = !is_null;
          event.device_id.clear();
          ok = is_null || ScalarText(value, &event.device_id);
          break;
        case Kind::kEventType:
          event.event_type.clear();
          ok = is_null || ScalarText(value, &event.event_type);
          break;
        case Kind::kInsertId:
          event.insert_id.clear();
          ok = is_null || ScalarText(value, &event.insert_id);
          break;
        case Kind::kIp:
          event.ip.clear();
          ok = is_null || ScalarText(value, &event.ip);
          if (ok && event.ip == kRemoteIp) event.ip.assign(context.client_ip);
          break;
        case Kind::kAttribute: {
          std::string& text = event.attributes[spec.index];
          text.clear();
          ok = is_null || ScalarText(value, &text);
          break;
        }
        case Kind::kTime: {
          event.time_ms = upload_ms;
          if (is_null) break;
          int64_t t;
          ok = value.type() == element_type::INT64 &&
               value.get_int64().get(t) == simdjson::SUCCESS && t <= upload_ms + kMaxFutureMs;
          if (ok) event.time_ms = t;
          break;
        }
        case Kind::kSessionId:
        case Kind::kEventId:
        case Kind::kQuantity: {
          std::optional<int64_t> v;
          if (!is_null) {
            int64_t n;
            ok = value.type() == element_type::INT64 &&
                 value.get_int64().get(n) == simdjson::SUCCESS;
            if (ok) v = n;
          }
          if (spec.kind == Kind::kSessionId) event.session_id = v.value_or(kNoSession);
          if (spec.kind == Kind::kEventId) event.event_id = v;
          if (spec.kind == Kind::kQuantity) event.quantity = v;
          break;
        }
        case Kind::kPrice:
        case Kind::kRevenue:
        case Kind::kLocationLat:
        case Kind::kLocationLng: {
          std::optional<double> v;
          double d;
          if (!is_null) {
            ok = AsNumber(value, &d);
            if (ok) v = d;
          }
          if (spec.kind == Kind::kPrice) event.price = v;
          if (spec.kind == Kind::kRevenue) event.revenue = v;
          if (spec.kind == Kind::kLocationLat) event.location_lat = v;
          if (spec.kind == Kind::kLocationLng) event.location_lng = v;
          break;
        }
        case Kind::kJson: {
          std::string& text = event.json[spec.index];
          text.clear();
          if (is_null) break;
          // Built in a reused buffer, then copied once at its final size.
          impl_->scratch.clear();
          ok = value.type() == element_type::OBJECT && AppendCompactJson(value, 1, &impl_->scratch);
          if (ok) text.assign(impl_->scratch);
          break;
        }
      }
      if (!ok) state.invalid.push_back(field.key);
    }

    // Whole-event rules, after the last of any duplicate keys has been applied.
    for (std::string_view name : state.invalid) AddIndex(errors.invalid_fields, name, index);
    if (event.event_type.empty()) AddIndex(errors.missing_fields, "event_type", index);
    if (!state.has_user_id && !state.has_device_id) {
      AddIndex(errors.missing_fields, "user_id", index);
      AddIndex(errors.missing_fields, "device_id", index);
    }
    for (auto [present, id, name] :
         {std::tuple{state.has_user_id, &event.user_id, std::string_view("user_id")},
          std::tuple{state.has_device_id, &event.device_id, std::string_view("device_id")}}) {
      if (!present) continue;
      if (IsForbiddenId(*id)) {
        AddIndex(errors.invalid_fields, name, index);
      } else if (static_cast<int64_t>(id->size() / 4) < min_id_length &&  // >= size/4 points
                 static_cast<int64_t>(CodePointCount(*id)) < min_id_length) {
        AddIndex(errors.invalid_id_lengths, name, index);
      }
    }
  }
  if (!errors.empty()) return reject(EventErrorsResponse(errors));
  return result;
}

}  // namespace cohort::ingest::amplitude
