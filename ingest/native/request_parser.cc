#include "ingest/native/request_parser.h"

#include <simdjson.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "ingest/amplitude/compact_json.h"
#include "ingest/amplitude/validation.h"
#include "ingest/event/json_text.h"

namespace cohort::ingest::native {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int64_t kMaxFutureMs = 60 * 60 * 1000;
constexpr int kMaxPayloadDepth = amplitude::kMaxPropertyDepth;

// Reads `n` ASCII digits at `s[*pos]`.
bool Digits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char a, char b = 0) {
  if (*pos >= s.size() || (s[*pos] != a && (b == 0 || s[*pos] != b))) return false;
  ++*pos;
  return true;
}

}  // namespace

// RFC 3339 date-time: YYYY-MM-DD "T" hh:mm:ss [.fraction] ("Z" | ±hh:mm); 't', 'z' accepted, a
// leap second (:60) is not. Milliseconds since the epoch, fractions truncated.
std::optional<int64_t> ParseRfc3339Ms(std::string_view s) {
  size_t p = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, &p, 4, &year) || !Expect(s, &p, '-') || !Digits(s, &p, 2, &month) ||
      !Expect(s, &p, '-') || !Digits(s, &p, 2, &day) || !Expect(s, &p, 'T', 't') ||
      !Digits(s, &p, 2, &hour) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &minute) ||
      !Expect(s, &p, ':') || !Digits(s, &p, 2, &second)) {
    return std::nullopt;
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return std::nullopt;  // 2026-02-30, 24:00:00, :60 ...
  }
  int64_t ms = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    const size_t start = p;
    int scale = 100;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      ms += (s[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (p == start) return std::nullopt;
  }
  int offset_minutes = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh, om;
    if (!Digits(s, &p, 2, &oh) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  const absl::Time t = absl::FromCivil(civil, absl::UTCTimeZone()) - absl::Minutes(offset_minutes) +
                       absl::Milliseconds(ms);
  return absl::ToUnixMillis(t);
}

namespace {

Rejection Reject(std::string field, std::string error, int status = 400) {
  return Rejection{status, std::move(error), std::move(field)};
}

// A required or optional string member with a byte limit.
std::optional<Rejection> ReadString(element value, const std::string& field, size_t max_bytes,
                                    std::string* out) {
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    return Reject(field, "must be a string");
  }
  if (s.size() > max_bytes) {
    return Reject(field, absl::StrCat("longer than ", max_bytes, " bytes"));
  }
  out->assign(s);
  return std::nullopt;
}

std::optional<Rejection> ParseEnvelope(element item, const std::string& prefix, int64_t received_ms,
                                       Event* event) {
  simdjson::dom::object object;
  if (item.get_object().get(object) != simdjson::SUCCESS) {
    return Reject(prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1),
                  "an event must be a JSON object");
  }
  // The last of duplicate members wins: remember each member's value, then read them.
  std::optional<element> id, type, timestamp, source, payload;
  for (simdjson::dom::key_value_pair field : object) {
    if (field.key == "eventId") {
      id = field.value;
    } else if (field.key == "eventType") {
      type = field.value;
    } else if (field.key == "timestamp") {
      timestamp = field.value;
    } else if (field.key == "source") {
      source = field.value;
    } else if (field.key == "payload") {
      payload = field.value;
    }
  }
  const auto name = [&prefix](std::string_view member) {
    return absl::StrCat(prefix, std::string(member));
  };
  event->source = EventSource::kNative;
  event->server_received_time_ms = received_ms;
  if (!id) return Reject(name("eventId"), "required");
  if (auto r = ReadString(*id, name("eventId"), kMaxIdBytes, &event->insert_id)) return r;
  if (event->insert_id.empty()) return Reject(name("eventId"), "must not be empty");
  if (!type) return Reject(name("eventType"), "required");
  if (auto r = ReadString(*type, name("eventType"), kMaxIdBytes, &event->event_type)) return r;
  if (event->event_type.empty()) return Reject(name("eventType"), "must not be empty");
  if (!timestamp) return Reject(name("timestamp"), "required");
  std::string_view text;
  if (timestamp->get_string().get(text) != simdjson::SUCCESS) {
    return Reject(name("timestamp"), "must be an RFC 3339 string");
  }
  const std::optional<int64_t> ms = ParseRfc3339Ms(text);
  if (!ms) {
    return Reject(name("timestamp"),
                  "is not RFC 3339 (e.g. \"2026-11-26T14:00:00.123Z\", with an offset)");
  }
  if (*ms < 0) return Reject(name("timestamp"), "is before 1970-01-01");
  if (*ms > received_ms + kMaxFutureMs) {
    return Reject(name("timestamp"), "is more than 1 hour in the future");
  }
  event->time_ms = *ms;
  if (source && !source->is_null()) {
    std::string name_text;
    if (auto r = ReadString(*source, name("source"), kMaxIdBytes, &name_text)) return r;
    std::string& meta = event->json_field(JsonField::kIngestionMetadata);
    meta = "{\"source_name\":";
    AppendJsonString(name_text, &meta);
    meta.push_back('}');
  }
  if (payload && !payload->is_null()) {
    if (payload->type() != element_type::OBJECT) {
      return Reject(name("payload"), "must be a JSON object");
    }
    std::string& props = event->json_field(JsonField::kEventProperties);
    if (!amplitude::AppendCompactJson(*payload, 1, &props)) {
      return Reject(name("payload"),
                    absl::StrCat("nested deeper than ", kMaxPayloadDepth, " levels"));
    }
  }
  return std::nullopt;
}

}  // namespace

std::string Rejection::Body() const {
  std::string body = "{\"code\":";
  AppendJsonInt(status, &body);
  body.append(",\"error\":");
  AppendJsonString(error, &body);
  body.append(",\"field\":");
  AppendJsonString(field, &body);
  body.push_back('}');
  return body;
}

struct RequestParser::Impl {
  simdjson::dom::parser parser;
};

RequestParser::RequestParser(ParserOptions options)
    : options_(options), impl_(std::make_unique<Impl>()) {}
RequestParser::~RequestParser() = default;

ParsedRequest RequestParser::Parse(std::string_view body, absl::Time received) {
  ParsedRequest result;
  const int64_t received_ms = absl::ToUnixMillis(received);
  auto reject = [&result](Rejection r) {
    result.events.clear();
    result.rejection = std::move(r);
    return std::move(result);
  };
  if (body.empty()) return reject(Reject("", "missing request body"));
  element doc;
  if (impl_->parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(doc) !=
      simdjson::SUCCESS) {
    return reject(Reject("", "the body is not valid JSON (UTF-8)"));
  }
  simdjson::dom::array array;
  bool batch = false;
  if (doc.type() == element_type::ARRAY) {
    array = doc.get_array().value_unsafe();
    batch = true;
  } else if (doc.type() == element_type::OBJECT) {
    element events;
    if (doc.get_object().value_unsafe().at_key("events").get(events) == simdjson::SUCCESS) {
      if (events.get_array().get(array) != simdjson::SUCCESS) {
        return reject(Reject("events", "must be an array of events"));
      }
      batch = true;
    }
  } else {
    return reject(
        Reject("", "the body must be an event object, an array of them, or {\"events\":[...]}"));
  }
  if (!batch) {
    Event event;
    if (auto r = ParseEnvelope(doc, "", received_ms, &event)) return reject(*std::move(r));
    result.events.push_back(std::move(event));
    result.single_envelope = true;
    return result;
  }
  const int64_t count = static_cast<int64_t>(array.size());
  if (count == 0) return reject(Reject("events", "no events"));
  if (count > options_.max_events_per_request) {
    return reject(Reject(
        "events", absl::StrCat("too many events: ", count, " > ", options_.max_events_per_request),
        413));
  }
  result.events.reserve(static_cast<size_t>(count));
  int64_t index = 0;
  for (element item : array) {
    Event event;
    if (auto r = ParseEnvelope(item, absl::StrCat("events[", index, "]."), received_ms, &event)) {
      return reject(*std::move(r));
    }
    result.events.push_back(std::move(event));
    ++index;
  }
  return result;
}

}  // namespace cohort::ingest::native
