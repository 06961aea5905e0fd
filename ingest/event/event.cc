#include "ingest/event/event.h"

namespace cohort::ingest {
namespace {

constexpr std::array<std::string_view, kAttributeCount> kAttributeKeys = {
    "app_version",  "platform",     "os_name",
    "os_version",   "device_brand", "device_manufacturer",
    "device_model", "carrier",      "country",
    "region",       "city",         "dma",
    "language",     "productId",    "revenueType",
    "idfa",         "idfv",         "adid",
    "android_id",   "library",      "user_agent",
    "version_name", "partner_id",
};

constexpr std::array<std::string_view, kJsonFieldCount> kJsonFieldKeys = {
    "event_properties",   "user_properties", "groups", "group_properties", "plan",
    "ingestion_metadata",
};

}  // namespace

std::string_view EventSourceName(EventSource source) {
  switch (source) {
    case EventSource::kAmplitude:
      return "amplitude";
    case EventSource::kDify:
      return "dify";
    case EventSource::kNative:
      return "native";
  }
  return "unknown";
}

std::string_view AttributeKey(Attribute attribute) {
  return kAttributeKeys[static_cast<size_t>(attribute)];
}

std::string_view JsonFieldKey(JsonField field) {
  return kJsonFieldKeys[static_cast<size_t>(field)];
}

}  // namespace cohort::ingest
