#include "ingest/sinks/store_event.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cohort::ingest::sinks {

absl::StatusOr<analytics::Event> ToStoreEvent(const Event& event, const wal::Lsn& position) {
  return ToStoreEvent(ViewOf(event), position);
}

absl::StatusOr<analytics::Event> ToStoreEvent(const EventView& event, const wal::Lsn& position) {
  analytics::Event out;
  out.project = event.project;
  out.event_type = event.event_type;
  out.user_id = event.user_id;
  out.device_id = event.device_id;
  out.time_ms = event.time_ms;
  out.insert_id = event.insert_id.empty()
                      ? absl::StrCat("wal:", position.segment, ":", position.offset)
                      : std::string(event.insert_id);
  if (event.source == EventSource::kAmplitude || event.session_id >= 0) {
    out.session_id = event.session_id;
  }
  absl::StatusOr<analytics::Properties> properties =
      analytics::ParseProperties(event.json_field(JsonField::kEventProperties));
  if (!properties.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_properties: ", properties.status().message()));
  }
  out.event_properties = *std::move(properties);
  absl::StatusOr<analytics::Properties> user =
      analytics::ParseProperties(event.json_field(JsonField::kUserProperties));
  if (!user.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("user_properties: ", user.status().message()));
  }
  out.user_properties = *std::move(user);
  size_t attributes = 0;
  for (std::string_view value : event.attributes) attributes += value.empty() ? 0 : 1;
  out.user_properties.reserve(out.user_properties.size() + attributes);
  for (size_t a = 0; a < kAttributeCount; ++a) {
    const std::string_view value = event.attributes[a];
    if (value.empty()) continue;
    out.user_properties.try_emplace(std::string(AttributeKey(static_cast<Attribute>(a))),
                                    analytics::PropertyValue::String(std::string(value)));
  }
  if (event.price) {
    out.event_properties.try_emplace("$price", analytics::PropertyValue::Number(*event.price));
  }
  if (event.quantity) {
    out.event_properties.try_emplace(
        "$quantity", analytics::PropertyValue::Number(static_cast<double>(*event.quantity)));
  }
  if (event.revenue) {
    out.event_properties.try_emplace("$revenue", analytics::PropertyValue::Number(*event.revenue));
  }
  return out;
}

}  // namespace cohort::ingest::sinks
