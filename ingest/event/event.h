// The one normalized event of cohort-ingest. Every ingest API (Amplitude, Dify, native) produces
// Events; mapping rules, dedup, the write-ahead log (through event_codec.h), the sinks and the
// event store consume them.
//
// Built for the hot path: plain strings and integers, no JSON library types. The JSON objects an
// event carries (event_properties, user_properties, groups, group_properties, plan,
// ingestion_metadata) are kept as compact, valid JSON text (empty = absent), so that a sink
// forwarding to Amplitude copies them verbatim and only a consumer that looks inside parses them.
//
// A plain value type: thread-compatible, copyable, movable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cohort::ingest {

// Which API an event came in through. The numeric values are part of the record encoding
// (event_codec.h): never renumber, only append.
enum class EventSource : uint8_t { kAmplitude = 0, kDify = 1, kNative = 2 };
inline constexpr int kEventSourceCount = 3;
std::string_view EventSourceName(EventSource source);  // "amplitude", "dify", "native"

// The Amplitude common string fields, by their Amplitude key (AttributeKey below). Order is part
// of the record encoding: never reorder, only append (and bump kEventRecordVersion).
enum class Attribute : uint8_t {
  kAppVersion,
  kPlatform,
  kOsName,
  kOsVersion,
  kDeviceBrand,
  kDeviceManufacturer,
  kDeviceModel,
  kCarrier,
  kCountry,
  kRegion,
  kCity,
  kDma,
  kLanguage,
  kProductId,
  kRevenueType,
  kIdfa,
  kIdfv,
  kAdid,
  kAndroidId,
  kLibrary,
  kUserAgent,
  kVersionName,
  kPartnerId,
};
inline constexpr size_t kAttributeCount = 23;
// The Amplitude JSON key: "app_version", ..., "productId", "revenueType", ..., "partner_id".
std::string_view AttributeKey(Attribute attribute);

// The JSON-object fields, kept as compact JSON text. Same ordering rule as Attribute.
enum class JsonField : uint8_t {
  kEventProperties,
  kUserProperties,
  kGroups,
  kGroupProperties,
  kPlan,
  kIngestionMetadata,
};
inline constexpr size_t kJsonFieldCount = 6;
// "event_properties", "user_properties", "groups", "group_properties", "plan",
// "ingestion_metadata".
std::string_view JsonFieldKey(JsonField field);

// No session: Amplitude's session_id -1.
inline constexpr int64_t kNoSession = -1;

struct Event {
  std::string project;  // set by the server from the API key (or kDifyProject)
  EventSource source = EventSource::kAmplitude;
  std::string event_type;
  std::string user_id;    // empty: none
  std::string device_id;  // empty: none
  int64_t time_ms = 0;    // when the event happened, ms since the Unix epoch
  // As sent; empty when the client sent none (dedup then treats the event as unique).
  std::string insert_id;
  int64_t session_id = kNoSession;  // ms at session start, kept as sent; kNoSession = none
  std::optional<int64_t> event_id;
  int64_t server_received_time_ms = 0;  // when this server received the request
  std::string ip;                       // empty: unknown

  std::array<std::string, kAttributeCount> attributes;  // empty: absent
  std::optional<double> price;
  std::optional<int64_t> quantity;
  std::optional<double> revenue;
  std::optional<double> location_lat;
  std::optional<double> location_lng;

  std::array<std::string, kJsonFieldCount> json;  // compact JSON objects; empty: absent

  std::string& attribute(Attribute a) { return attributes[static_cast<size_t>(a)]; }
  const std::string& attribute(Attribute a) const { return attributes[static_cast<size_t>(a)]; }
  std::string& json_field(JsonField f) { return json[static_cast<size_t>(f)]; }
  const std::string& json_field(JsonField f) const { return json[static_cast<size_t>(f)]; }

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace cohort::ingest
