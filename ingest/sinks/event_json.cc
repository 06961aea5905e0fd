#include "ingest/sinks/event_json.h"

#include <string_view>

#include "ingest/event/json_text.h"

namespace cohort::ingest::sinks {
namespace {

void Key(std::string_view key, bool& first, std::string* dst) {
  if (!first) dst->push_back(',');
  first = false;
  AppendJsonString(key, dst);
  dst->push_back(':');
}

void StringField(std::string_view key, const std::string& value, bool& first, std::string* dst) {
  if (value.empty()) return;
  Key(key, first, dst);
  AppendJsonString(value, dst);
}

}  // namespace

void AppendEventJson(const Event& event, const EventJsonOptions& options, std::string* dst) {
  bool first = true;
  dst->push_back('{');
  StringField("user_id", event.user_id, first, dst);
  StringField("device_id", event.device_id, first, dst);
  Key("event_type", first, dst);
  AppendJsonString(event.event_type, dst);
  Key("time", first, dst);
  AppendJsonInt(event.time_ms, dst);
  StringField("insert_id", event.insert_id, first, dst);
  if (event.session_id != kNoSession) {
    Key("session_id", first, dst);
    AppendJsonInt(event.session_id, dst);
  }
  if (event.event_id) {
    Key("event_id", first, dst);
    AppendJsonInt(*event.event_id, dst);
  }
  StringField("ip", event.ip, first, dst);
  for (size_t i = 0; i < kAttributeCount; ++i) {
    StringField(AttributeKey(static_cast<Attribute>(i)), event.attributes[i], first, dst);
  }
  const auto number = [&](std::string_view key, const std::optional<double>& v) {
    if (!v) return;
    Key(key, first, dst);
    AppendJsonDouble(*v, dst);
  };
  number("price", event.price);
  if (event.quantity) {
    Key("quantity", first, dst);
    AppendJsonInt(*event.quantity, dst);
  }
  number("revenue", event.revenue);
  number("location_lat", event.location_lat);
  number("location_lng", event.location_lng);
  for (size_t i = 0; i < kJsonFieldCount; ++i) {
    const std::string& text = event.json[i];
    if (text.empty()) continue;
    Key(JsonFieldKey(static_cast<JsonField>(i)), first, dst);
    dst->append(text);  // already compact, valid JSON (event.h)
  }
  if (options.cohort_fields) {
    StringField("project", event.project, first, dst);
    Key("source", first, dst);
    AppendJsonString(EventSourceName(event.source), dst);
    Key("server_received_time", first, dst);
    AppendJsonInt(event.server_received_time_ms, dst);
  }
  dst->push_back('}');
}

}  // namespace cohort::ingest::sinks
