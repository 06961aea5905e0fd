#include "analytics/store/segment_codec.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"

namespace cohort::analytics::store {
namespace {

constexpr std::string_view kMagic = "COHSEG01";
constexpr std::string_view kMagicPrefix = "COHSEG";
constexpr uint8_t kEndTag = 0xFF;

enum Tag : uint8_t {
  kProject = 1,
  kGroups,
  kTimes,
  kEventTypes,
  kInsertIds,
  kSessions,
  kDevices,
  kEventTypeDict,
  kDeviceDict,
  kEventProperties,
  kUserProperties,
  kValues,
};

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

class Writer {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Fixed32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void String(std::string_view s) {
    Varint(s.size());
    out_.append(s);
  }
  void Strings(const std::vector<std::string>& v) {
    Varint(v.size());
    for (const std::string& s : v) String(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Fail();
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  // A count of items that each take at least one byte: bounded by the bytes left.
  uint64_t Count() {
    uint64_t n = Varint();
    if (n > in_.size() - pos_) return Fail();
    return n;
  }
  uint8_t Byte() {
    if (pos_ >= in_.size()) return static_cast<uint8_t>(Fail());
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t Fixed64() {
    if (in_.size() - pos_ < 8) return Fail();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  uint32_t Fixed32() {
    if (in_.size() - pos_ < 4) return static_cast<uint32_t>(Fail());
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  std::string_view Bytes(uint64_t n) {
    if (n > in_.size() - pos_) {
      Fail();
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string String() { return std::string(Bytes(Varint())); }
  std::vector<std::string> Strings() {
    uint64_t n = Count();
    std::vector<std::string> v;
    for (uint64_t i = 0; i < n && ok_; ++i) v.push_back(String());
    return v;
  }
  size_t pos() const { return pos_; }

 private:
  uint64_t Fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void Section(Writer& file, uint8_t tag, const std::string& payload) {
  file.Byte(tag);
  file.String(payload);
  file.Fixed32(MaskCrc(Crc32c(payload)));
}

void EncodeProperties(Writer& w, const std::vector<std::string>& keys,
                      const std::vector<PropertyColumn>& columns) {
  w.Strings(keys);
  for (const PropertyColumn& c : columns) {
    w.Varint(c.events.size());
    uint32_t previous = 0;
    for (size_t i = 0; i < c.events.size(); ++i) {
      w.Varint(c.events[i] - (i == 0 ? 0 : previous));
      previous = c.events[i];
      w.Varint(c.values[i]);
    }
  }
}

absl::Status DataLoss(std::string_view what) {
  return absl::DataLossError(absl::StrCat("segment: ", std::string(what)));
}

bool DecodeProperties(Reader& r, size_t event_count, std::vector<std::string>* keys,
                      std::vector<PropertyColumn>* columns) {
  *keys = r.Strings();
  for (size_t k = 1; k < keys->size(); ++k) {
    if (!((*keys)[k - 1] < (*keys)[k])) return false;
  }
  columns->resize(keys->size());
  for (PropertyColumn& c : *columns) {
    uint64_t n = r.Count();
    if (n > event_count) return false;
    c.events.reserve(n);
    c.values.reserve(n);
    uint64_t previous = 0;
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      uint64_t delta = r.Varint();
      uint64_t e = (i == 0 ? 0 : previous) + delta;
      if ((i > 0 && delta == 0) || e >= event_count) return false;
      previous = e;
      c.events.push_back(static_cast<uint32_t>(e));
      c.values.push_back(static_cast<uint32_t>(std::min<uint64_t>(r.Varint(), UINT32_MAX)));
    }
  }
  return r.ok() && r.done();
}

}  // namespace

std::string SegmentCodec::Encode(const Segment& s) {
  Writer file;
  file.out().append(kMagic);
  size_t n = s.event_count();
  {
    Writer w;
    w.String(s.project_);
    Section(file, kProject, w.out());
  }
  {
    Writer w;
    w.Varint(s.groups_.size());
    for (size_t g = 0; g < s.groups_.size(); ++g) {
      w.Byte(s.groups_[g].is_user ? 1 : 0);
      w.String(s.groups_[g].id);
      w.Varint(s.group_offsets_[g + 1] - s.group_offsets_[g]);
    }
    Section(file, kGroups, w.out());
  }
  {
    Writer w;
    w.Varint(n);
    int64_t previous = 0;
    for (size_t e = 0; e < n; ++e) {
      w.Varint(ZigZag(static_cast<int64_t>(static_cast<uint64_t>(s.time_ms_[e]) -
                                           static_cast<uint64_t>(previous))));
      previous = s.time_ms_[e];
    }
    Section(file, kTimes, w.out());
  }
  {
    Writer w;
    for (uint32_t t : s.event_type_) w.Varint(t);
    Section(file, kEventTypes, w.out());
  }
  {
    Writer w;
    for (size_t e = 0; e < n; ++e) w.String(s.insert_id(e));
    Section(file, kInsertIds, w.out());
  }
  {
    Writer w;
    for (int64_t v : s.session_) w.Varint(ZigZag(v));
    Section(file, kSessions, w.out());
  }
  {
    Writer w;
    for (uint32_t d : s.device_) w.Varint(d == kNoCode ? 0 : uint64_t{d} + 1);
    Section(file, kDevices, w.out());
  }
  {
    Writer w;
    w.Strings(s.event_types_);
    Section(file, kEventTypeDict, w.out());
  }
  {
    Writer w;
    w.Strings(s.devices_);
    Section(file, kDeviceDict, w.out());
  }
  {
    Writer w;
    EncodeProperties(w, s.event_keys_, s.event_columns_);
    Section(file, kEventProperties, w.out());
  }
  {
    Writer w;
    EncodeProperties(w, s.user_keys_, s.user_columns_);
    Section(file, kUserProperties, w.out());
  }
  {
    Writer w;
    w.Varint(s.values_.size());
    for (const PropertyValue& v : s.values_) {
      w.Byte(static_cast<uint8_t>(v.kind()));
      switch (v.kind()) {
        case PropertyValue::Kind::kNull:
          break;
        case PropertyValue::Kind::kBool:
          w.Byte(v.boolean() ? 1 : 0);
          break;
        case PropertyValue::Kind::kNumber: {
          uint64_t bits;
          double d = v.number();
          std::memcpy(&bits, &d, sizeof bits);
          w.Fixed64(bits);
          break;
        }
        case PropertyValue::Kind::kString:
        case PropertyValue::Kind::kJson:
          w.String(v.text());
          break;
      }
    }
    Section(file, kValues, w.out());
  }
  uint32_t whole = MaskCrc(Crc32c(file.out()));
  Writer end;
  end.Fixed32(whole);
  Section(file, kEndTag, end.out());
  return std::move(file.out());
}

absl::StatusOr<SegmentPtr> SegmentCodec::Decode(std::string_view bytes) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagicPrefix.size()) != kMagicPrefix) {
    return DataLoss("not a segment file (bad magic)");
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::UnimplementedError(absl::StrCat("segment format ", std::string(bytes.substr(6, 2)),
                                                 " is newer than this build reads (01)"));
  }
  Reader file(bytes.substr(kMagic.size()));
  std::vector<std::string_view> sections;
  bool ended = false;
  while (!file.done() && file.ok()) {
    size_t section_start = kMagic.size() + file.pos();
    uint8_t tag = file.Byte();
    std::string_view payload = file.Bytes(file.Varint());
    uint32_t crc = file.Fixed32();
    if (!file.ok()) return DataLoss("truncated section");
    if (UnmaskCrc(crc) != Crc32c(payload)) {
      return DataLoss(absl::StrCat("checksum mismatch in section ", int{tag}));
    }
    if (tag == kEndTag) {
      Reader end(payload);
      uint32_t whole = end.Fixed32();
      if (!end.ok() || UnmaskCrc(whole) != Crc32c(bytes.substr(0, section_start))) {
        return DataLoss("checksum mismatch over the file");
      }
      ended = file.done();
      break;
    }
    if (tag != sections.size() + 1) return DataLoss(absl::StrCat("unexpected section ", int{tag}));
    sections.push_back(payload);
  }
  if (!ended || sections.size() != kValues) return DataLoss("truncated file");

  auto segment = std::shared_ptr<Segment>(new Segment());
  Segment& s = *segment;
  auto section = [&](Tag tag) { return Reader(sections[tag - 1]); };
  {
    Reader r = section(kProject);
    s.project_ = r.String();
    if (!r.ok() || !r.done()) return DataLoss("bad project section");
  }
  size_t n = 0;
  {
    Reader r = section(kTimes);
    n = r.Count();
    s.time_ms_.reserve(n);
    int64_t previous = 0;
    for (size_t e = 0; e < n && r.ok(); ++e) {
      previous = static_cast<int64_t>(static_cast<uint64_t>(previous) +
                                      static_cast<uint64_t>(UnZigZag(r.Varint())));
      s.time_ms_.push_back(previous);
    }
    if (!r.ok() || !r.done()) return DataLoss("bad time column");
  }
  {
    Reader r = section(kGroups);
    uint64_t groups = r.Count();
    s.group_offsets_.push_back(0);
    uint64_t total = 0;
    for (uint64_t g = 0; g < groups && r.ok(); ++g) {
      uint8_t is_user = r.Byte();
      std::string id = r.String();
      uint64_t size = r.Varint();
      total += size;
      if (is_user > 1 || size == 0 || total > n) return DataLoss("bad groups section");
      s.groups_.push_back(GroupKey{is_user == 1, std::move(id)});
      s.group_offsets_.push_back(static_cast<uint32_t>(total));
      if (g > 0 && !(s.groups_[g - 1] < s.groups_[g])) return DataLoss("groups out of order");
    }
    if (!r.ok() || !r.done() || total != n) return DataLoss("bad groups section");
  }
  {
    Reader dict = section(kEventTypeDict);
    s.event_types_ = dict.Strings();
    if (!dict.ok() || !dict.done()) return DataLoss("bad event type dictionary");
    Reader r = section(kEventTypes);
    s.event_type_.reserve(n);
    for (size_t e = 0; e < n && r.ok(); ++e) {
      uint64_t code = r.Varint();
      if (code >= s.event_types_.size()) return DataLoss("event type code out of range");
      s.event_type_.push_back(static_cast<uint32_t>(code));
    }
    if (!r.ok() || !r.done()) return DataLoss("bad event type column");
  }
  {
    Reader r = section(kInsertIds);
    s.insert_id_offsets_.reserve(n + 1);
    s.insert_id_offsets_.push_back(0);
    for (size_t e = 0; e < n && r.ok(); ++e) {
      s.insert_id_bytes_ += r.Bytes(r.Varint());
      s.insert_id_offsets_.push_back(static_cast<uint32_t>(s.insert_id_bytes_.size()));
    }
    if (!r.ok() || !r.done()) return DataLoss("bad insert id column");
  }
  {
    Reader r = section(kSessions);
    s.session_.reserve(n);
    for (size_t e = 0; e < n && r.ok(); ++e) s.session_.push_back(UnZigZag(r.Varint()));
    if (!r.ok() || !r.done()) return DataLoss("bad session column");
  }
  {
    Reader dict = section(kDeviceDict);
    s.devices_ = dict.Strings();
    if (!dict.ok() || !dict.done()) return DataLoss("bad device dictionary");
    Reader r = section(kDevices);
    s.device_.reserve(n);
    for (size_t e = 0; e < n && r.ok(); ++e) {
      uint64_t code = r.Varint();
      if (code > s.devices_.size()) return DataLoss("device code out of range");
      s.device_.push_back(code == 0 ? kNoCode : static_cast<uint32_t>(code - 1));
    }
    if (!r.ok() || !r.done()) return DataLoss("bad device column");
  }
  {
    Reader r = section(kValues);
    uint64_t count = r.Count();
    for (uint64_t i = 0; i < count && r.ok(); ++i) {
      uint8_t kind = r.Byte();
      switch (kind) {
        case static_cast<uint8_t>(PropertyValue::Kind::kNull):
          s.values_.push_back(PropertyValue::Null());
          break;
        case static_cast<uint8_t>(PropertyValue::Kind::kBool):
          s.values_.push_back(PropertyValue::Bool(r.Byte() != 0));
          break;
        case static_cast<uint8_t>(PropertyValue::Kind::kNumber): {
          uint64_t bits = r.Fixed64();
          double d;
          std::memcpy(&d, &bits, sizeof d);
          s.values_.push_back(PropertyValue::Number(d));
          break;
        }
        case static_cast<uint8_t>(PropertyValue::Kind::kString):
          s.values_.push_back(PropertyValue::String(r.String()));
          break;
        case static_cast<uint8_t>(PropertyValue::Kind::kJson):
          s.values_.push_back(PropertyValue::Json(r.String()));
          break;
        default:
          return DataLoss("unknown value kind");
      }
    }
    if (!r.ok() || !r.done()) return DataLoss("bad value dictionary");
  }
  for (bool user_scope : {false, true}) {
    Reader r = section(user_scope ? kUserProperties : kEventProperties);
    std::vector<std::string>& keys = user_scope ? s.user_keys_ : s.event_keys_;
    std::vector<PropertyColumn>& columns = user_scope ? s.user_columns_ : s.event_columns_;
    if (!DecodeProperties(r, n, &keys, &columns)) return DataLoss("bad property columns");
    for (const PropertyColumn& c : columns) {
      for (uint32_t v : c.values) {
        if (v >= s.values_.size()) return DataLoss("property value code out of range");
      }
    }
  }
  return segment;
}

}  // namespace cohort::analytics::store
