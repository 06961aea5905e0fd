#include "ingest/event/event_codec.h"

#include <bit>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cohort::ingest {
namespace {

enum Flag : uint8_t {
  kHasEventId = 1 << 0,
  kHasPrice = 1 << 1,
  kHasQuantity = 1 << 2,
  kHasRevenue = 1 << 3,
  kHasLocationLat = 1 << 4,
  kHasLocationLng = 1 << 5,
};
constexpr uint8_t kKnownFlags = 0x3f;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

// The writers below fill a buffer the caller sized with EncodedSizeBound and return the end.
char* PutVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* PutDouble(double d, char* p) {
  const uint64_t bits = std::bit_cast<uint64_t>(d);
  for (int i = 0; i < 8; ++i) *p++ = static_cast<char>((bits >> (8 * i)) & 0xff);
  return p;
}

char* PutString(std::string_view s, char* p) {
  p = PutVarint(s.size(), p);
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool Byte(uint8_t* out) {
    if (pos_ >= data_.size()) return false;
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }

  bool Varint(uint64_t* out) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      if (!Byte(&b)) return false;
      // The 10th byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return false;
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = result;
        return true;
      }
    }
    return false;
  }

  bool Signed(int64_t* out) {
    uint64_t v;
    if (!Varint(&v)) return false;
    *out = UnZigZag(v);
    return true;
  }

  bool Double(double* out) {
    if (data_.size() - pos_ < 8) return false;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) {
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += 8;
    *out = std::bit_cast<double>(bits);
    return true;
  }

  bool String(std::string_view* out) {
    uint64_t n;
    if (!Varint(&n)) return false;
    if (n > data_.size() - pos_) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  bool String(std::string* out) {
    std::string_view view;
    if (!String(&view)) return false;
    out->assign(view);
    return true;
  }

  bool AtEnd() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

absl::Status Malformed(std::string_view what, const Reader& r) {
  return absl::DataLossError(
      absl::StrCat("malformed event record: ", std::string(what), " at byte ", r.pos()));
}

}  // namespace

void AppendEncodedEvent(const Event& e, std::string* dst) {
  uint8_t flags = 0;
  if (e.event_id) flags |= kHasEventId;
  if (e.price) flags |= kHasPrice;
  if (e.quantity) flags |= kHasQuantity;
  if (e.revenue) flags |= kHasRevenue;
  if (e.location_lat) flags |= kHasLocationLat;
  if (e.location_lng) flags |= kHasLocationLng;
  // Written through a pointer into room made up front: ~40 appends, each checking capacity,
  // cost more than the zero-fill of the bound.
  const size_t start = dst->size();
  dst->resize(start + EncodedSizeBound(e));
  char* p = dst->data() + start;
  *p++ = static_cast<char>(kEventRecordVersion);
  *p++ = static_cast<char>(e.source);
  *p++ = static_cast<char>(flags);
  p = PutVarint(ZigZag(e.time_ms), p);
  p = PutVarint(ZigZag(e.server_received_time_ms), p);
  p = PutVarint(ZigZag(e.session_id), p);
  if (e.event_id) p = PutVarint(ZigZag(*e.event_id), p);
  if (e.quantity) p = PutVarint(ZigZag(*e.quantity), p);
  if (e.price) p = PutDouble(*e.price, p);
  if (e.revenue) p = PutDouble(*e.revenue, p);
  if (e.location_lat) p = PutDouble(*e.location_lat, p);
  if (e.location_lng) p = PutDouble(*e.location_lng, p);
  for (const std::string* s :
       {&e.project, &e.event_type, &e.user_id, &e.device_id, &e.insert_id, &e.ip}) {
    p = PutString(*s, p);
  }
  for (const std::string& s : e.attributes) p = PutString(s, p);
  for (const std::string& s : e.json) p = PutString(s, p);
  dst->resize(static_cast<size_t>(p - dst->data()));
}

size_t EncodedSizeBound(const Event& event) {
  size_t bound = 3 + 5 * 10 + 4 * 8;  // header, varints, doubles
  for (const std::string* s : {&event.project, &event.event_type, &event.user_id, &event.device_id,
                               &event.insert_id, &event.ip}) {
    bound += 10 + s->size();
  }
  for (const std::string& s : event.attributes) bound += 10 + s.size();
  for (const std::string& s : event.json) bound += 10 + s.size();
  return bound;
}

std::string EncodeEvent(const Event& event) {
  std::string out;
  AppendEncodedEvent(event, &out);
  return out;
}

// One decoder for both targets: E is Event (strings copied) or EventView (strings viewed).
template <typename E>
absl::Status Decode(std::string_view record, E& e) {
  Reader r(record);
  uint8_t version, source, flags;
  if (!r.Byte(&version)) return Malformed("empty record", r);
  if (version == 0) return Malformed("version 0", r);
  if (version > kEventRecordVersion) {
    return absl::UnimplementedError(absl::StrCat("event record version ", version,
                                                 " is newer than this build reads (",
                                                 kEventRecordVersion, ")"));
  }
  if (!r.Byte(&source)) return Malformed("truncated header", r);
  if (source >= kEventSourceCount) return Malformed("unknown source", r);
  if (!r.Byte(&flags)) return Malformed("truncated header", r);
  if ((flags & ~kKnownFlags) != 0) return Malformed("unknown presence flags", r);

  // Every string and integer is written below; the optional fields are reset here, so `e` may be
  // a reused event.
  e.event_id.reset();
  e.quantity.reset();
  e.price.reset();
  e.revenue.reset();
  e.location_lat.reset();
  e.location_lng.reset();
  e.source = static_cast<EventSource>(source);
  if (!r.Signed(&e.time_ms) || !r.Signed(&e.server_received_time_ms) || !r.Signed(&e.session_id)) {
    return Malformed("bad integer", r);
  }
  int64_t i;
  if (flags & kHasEventId) {
    if (!r.Signed(&i)) return Malformed("bad event_id", r);
    e.event_id = i;
  }
  if (flags & kHasQuantity) {
    if (!r.Signed(&i)) return Malformed("bad quantity", r);
    e.quantity = i;
  }
  double d;
  for (auto [flag, field] :
       {std::pair{kHasPrice, &e.price}, std::pair{kHasRevenue, &e.revenue},
        std::pair{kHasLocationLat, &e.location_lat}, std::pair{kHasLocationLng, &e.location_lng}}) {
    if (flags & flag) {
      if (!r.Double(&d)) return Malformed("truncated number", r);
      *field = d;
    }
  }
  for (auto* s : {&e.project, &e.event_type, &e.user_id, &e.device_id, &e.insert_id, &e.ip}) {
    if (!r.String(s)) return Malformed("bad string", r);
  }
  for (auto& s : e.attributes) {
    if (!r.String(&s)) return Malformed("bad attribute", r);
  }
  for (auto& s : e.json) {
    if (!r.String(&s)) return Malformed("bad JSON field", r);
  }
  if (!r.AtEnd()) return Malformed("trailing bytes", r);
  return absl::OkStatus();
}

absl::Status DecodeEventInto(std::string_view record, Event& event) {
  return Decode(record, event);
}

absl::Status DecodeEventView(std::string_view record, EventView& view) {
  return Decode(record, view);
}

EventView ViewOf(const Event& e) {
  EventView v;
  v.project = e.project;
  v.source = e.source;
  v.event_type = e.event_type;
  v.user_id = e.user_id;
  v.device_id = e.device_id;
  v.time_ms = e.time_ms;
  v.insert_id = e.insert_id;
  v.session_id = e.session_id;
  v.event_id = e.event_id;
  v.server_received_time_ms = e.server_received_time_ms;
  v.ip = e.ip;
  for (size_t i = 0; i < kAttributeCount; ++i) v.attributes[i] = e.attributes[i];
  v.price = e.price;
  v.quantity = e.quantity;
  v.revenue = e.revenue;
  v.location_lat = e.location_lat;
  v.location_lng = e.location_lng;
  for (size_t i = 0; i < kJsonFieldCount; ++i) v.json[i] = e.json[i];
  return v;
}

std::vector<std::string_view> EncodedRecords::Views() const {
  std::vector<std::string_view> views;
  views.reserve(ends.size());
  size_t begin = 0;
  for (size_t end : ends) {
    views.push_back(std::string_view(data).substr(begin, end - begin));
    begin = end;
  }
  return views;
}

std::string_view EncodedRecords::record(size_t i) const {
  const size_t begin = i == 0 ? 0 : ends[i - 1];
  return std::string_view(data).substr(begin, ends[i] - begin);
}

absl::StatusOr<Event> DecodeEvent(std::string_view record) {
  Event e;
  if (absl::Status status = DecodeEventInto(record, e); !status.ok()) return status;
  return e;
}

}  // namespace cohort::ingest
