// The binary record encoding of an Event: what the write-ahead log stores (one record per event;
// the log frames and checksums records, this layer does not).
//
// Compact and versioned. Layout of version 1 (kEventRecordVersion), all integers little-endian:
//   u8      version (1)
//   u8      source (EventSource)
//   u8      presence flags: bit 0 event_id, 1 price, 2 quantity, 3 revenue, 4 location_lat,
//           5 location_lng; the other bits must be 0
//   varint  zigzag time_ms, server_received_time_ms, session_id, then event_id and quantity
//           when present
//   f64     IEEE-754 bits of price, revenue, location_lat, location_lng, each when present
//   string  (varint length, bytes) project, event_type, user_id, device_id, insert_id, ip, the
//           kAttributeCount attributes, the kJsonFieldCount JSON fields, in enum order
// Adding a field means a new version; DecodeEvent keeps reading every older version.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/event/event.h"

namespace cohort::ingest {

inline constexpr uint8_t kEventRecordVersion = 1;

// Appends the record of `event` to `*dst` (which may already hold other records). Never fails.
void AppendEncodedEvent(const Event& event, std::string* dst);
// The record of `event` alone.
std::string EncodeEvent(const Event& event);

// At least the size of `event`'s record: reserve it before appending to avoid regrowing.
size_t EncodedSizeBound(const Event& event);

// Decodes exactly one record: `record` must hold the whole record and nothing else. Untrusted
// bytes are safe: a truncated, over-long, unknown-version or otherwise malformed record gives
// kDataLoss (kUnimplemented for a version newer than this build reads), never a crash or an
// allocation larger than `record`.
absl::StatusOr<Event> DecodeEvent(std::string_view record);

// The same into `event` (any event: every field is overwritten), so a batch can decode in place
// instead of moving a large Event. On an error `event` holds a partial record: discard it.
absl::Status DecodeEventInto(std::string_view record, Event& event);

// An Event whose strings are views: of a record (DecodeEventView) or of an Event (ViewOf). It
// must not outlive what it views. Decoding a view allocates nothing, so a consumer that only
// reads a few fields (the store sink) need not build an Event.
struct EventView {
  std::string_view project;
  EventSource source = EventSource::kAmplitude;
  std::string_view event_type;
  std::string_view user_id;
  std::string_view device_id;
  int64_t time_ms = 0;
  std::string_view insert_id;
  int64_t session_id = kNoSession;
  std::optional<int64_t> event_id;
  int64_t server_received_time_ms = 0;
  std::string_view ip;
  std::array<std::string_view, kAttributeCount> attributes;
  std::optional<double> price;
  std::optional<int64_t> quantity;
  std::optional<double> revenue;
  std::optional<double> location_lat;
  std::optional<double> location_lng;
  std::array<std::string_view, kJsonFieldCount> json;

  std::string_view json_field(JsonField f) const { return json[static_cast<size_t>(f)]; }
};

// DecodeEvent's checks and errors, into views of `record` (which must outlive `view`).
absl::Status DecodeEventView(std::string_view record, EventView& view);

EventView ViewOf(const Event& event);

// Encoded records back to back in one buffer (one allocation for a request's or a batch's
// records, not one per record): record i is data[ends[i - 1], ends[i]), with ends[-1] = 0.
struct EncodedRecords {
  std::string data;
  std::vector<size_t> ends;

  // Call after appending a record's bytes to `data`.
  void EndRecord() { ends.push_back(data.size()); }
  size_t size() const { return ends.size(); }
  bool empty() const { return ends.empty(); }
  std::string_view record(size_t i) const;  // i < size()
  std::vector<std::string_view> Views() const;
};

}  // namespace cohort::ingest
