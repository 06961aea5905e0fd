// Segment files: version 2 written, versions 1 and 2 read (segment_codec.h).
#include "analytics/store/segment_codec.h"

#include <bit>
#include <cstring>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"

namespace cohort::analytics::store {
namespace {

static_assert(std::endian::native == std::endian::little,
              "version-2 segment files hold little-endian columns read in place");

constexpr std::string_view kMagicPrefix = "COHSEG";
constexpr std::string_view kMagicV1 = "COHSEG01";
constexpr std::string_view kMagicV2 = "COHSEG02";
constexpr uint8_t kEndTag = 0xFF;

// Version 1's sections.
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
    c.events.owned().reserve(n);
    c.values.owned().reserve(n);
    uint64_t previous = 0;
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      uint64_t delta = r.Varint();
      uint64_t e = (i == 0 ? 0 : previous) + delta;
      if ((i > 0 && delta == 0) || e >= event_count) return false;
      previous = e;
      c.events.owned().push_back(static_cast<uint32_t>(e));
      c.values.owned().push_back(static_cast<uint32_t>(std::min<uint64_t>(r.Varint(), UINT32_MAX)));
    }
  }
  return r.ok() && r.done();
}

// Version 2's sections, in file order.
enum class V2 : uint32_t {
  kProject = 1,
  kGroups,
  kGroupOffsets,
  kTimes,
  kEventTypes,
  kInsertIdOffsets,
  kInsertIdBytes,
  kSessions,
  kDevices,
  kEventTypeDict,
  kDeviceDict,
  kEventKeys,
  kEventColumns,
  kUserKeys,
  kUserColumns,
  kValues,
};
constexpr uint32_t kV2Sections = static_cast<uint32_t>(V2::kValues);
constexpr size_t kV2HeaderBytes = 16;  // u32 tag, u32 zero, u64 payload length

size_t PaddingAfter(size_t n) { return (8 - n % 8) % 8; }

// A version-2 file as it is written: pieces go to `write` (small ones gathered into one buffer,
// column-sized ones passed through without a copy) while the file's CRC32C accumulates. The
// first error of `write` stops the output and is kept.
class FileOut {
 public:
  explicit FileOut(absl::FunctionRef<absl::Status(std::string_view)> write) : write_(write) {}

  void Append(std::string_view bytes) {
    crc_ = Crc32cExtend(crc_, bytes.data(), bytes.size());
    if (bytes.size() < kDirectBytes) {
      buffer_.append(bytes);
      if (buffer_.size() >= kDirectBytes) Flush();
      return;
    }
    Flush();
    if (status_.ok()) status_ = write_(bytes);
  }
  // Header, then the payload's pieces (whose sizes add up to `length`), then the padding.
  void BeginSection(uint32_t tag, uint64_t length) {
    char header[kV2HeaderBytes] = {};
    std::memcpy(header, &tag, 4);
    std::memcpy(header + 8, &length, 8);
    Append(std::string_view(header, sizeof header));
    padding_ = PaddingAfter(length);
  }
  void EndSection() { Append(std::string_view("\0\0\0\0\0\0\0", padding_)); }
  void Section(uint32_t tag, std::string_view payload) {
    BeginSection(tag, payload.size());
    Append(payload);
    EndSection();
  }
  void Section(V2 tag, std::string_view payload) { Section(static_cast<uint32_t>(tag), payload); }
  uint32_t crc() const { return crc_; }
  absl::Status Finish() {
    Flush();
    return status_;
  }

 private:
  static constexpr size_t kDirectBytes = 256 * 1024;
  void Flush() {
    if (status_.ok() && !buffer_.empty()) status_ = write_(buffer_);
    buffer_.clear();
  }
  absl::FunctionRef<absl::Status(std::string_view)> write_;
  std::string buffer_;
  uint32_t crc_ = 0;
  size_t padding_ = 0;
  absl::Status status_;
};

template <typename T>
std::string_view Raw(const Column<T>& c) {
  return std::string_view(reinterpret_cast<const char*>(c.data()), c.size() * sizeof(T));
}

std::string StringsPayload(const std::vector<std::string>& v) {
  Writer w;
  w.Strings(v);
  return std::move(w.out());
}

// Per key: u32 m, then the m event indexes, then the m value codes.
void ColumnsSection(FileOut& out, V2 tag, const std::vector<PropertyColumn>& columns) {
  uint64_t length = 0;
  for (const PropertyColumn& c : columns) length += 4 + 8 * uint64_t{c.events.size()};
  out.BeginSection(static_cast<uint32_t>(tag), length);
  for (const PropertyColumn& c : columns) {
    const uint32_t m = static_cast<uint32_t>(c.events.size());
    out.Append(std::string_view(reinterpret_cast<const char*>(&m), 4));
    out.Append(Raw(c.events));
    out.Append(Raw(c.values));
  }
  out.EndSection();
}

std::string ValuesPayload(const std::vector<PropertyValue>& values) {
  Writer w;
  w.Varint(values.size());
  for (const PropertyValue& v : values) {
    w.Byte(static_cast<uint8_t>(v.kind()));
    switch (v.kind()) {
      case PropertyValue::Kind::kNull:
        break;
      case PropertyValue::Kind::kBool:
        w.Byte(v.boolean() ? 1 : 0);
        break;
      case PropertyValue::Kind::kNumber:
        w.Fixed64(std::bit_cast<uint64_t>(v.number()));
        break;
      case PropertyValue::Kind::kString:
      case PropertyValue::Kind::kJson:
        w.String(v.text());
        break;
    }
  }
  return std::move(w.out());
}

// Returns false on a bad dictionary.
bool DecodeValues(Reader& r, std::vector<PropertyValue>* values) {
  uint64_t count = r.Count();
  values->reserve(count);
  for (uint64_t i = 0; i < count && r.ok(); ++i) {
    switch (r.Byte()) {
      case static_cast<uint8_t>(PropertyValue::Kind::kNull):
        values->push_back(PropertyValue::Null());
        break;
      case static_cast<uint8_t>(PropertyValue::Kind::kBool):
        values->push_back(PropertyValue::Bool(r.Byte() != 0));
        break;
      case static_cast<uint8_t>(PropertyValue::Kind::kNumber):
        values->push_back(PropertyValue::Number(std::bit_cast<double>(r.Fixed64())));
        break;
      case static_cast<uint8_t>(PropertyValue::Kind::kString):
        values->push_back(PropertyValue::String(r.String()));
        break;
      case static_cast<uint8_t>(PropertyValue::Kind::kJson):
        values->push_back(PropertyValue::Json(r.String()));
        break;
      default:
        return false;
    }
  }
  return r.ok() && r.done();
}

bool DecodeStrings(std::string_view payload, std::vector<std::string>* out) {
  Reader r(payload);
  *out = r.Strings();
  return r.ok() && r.done();
}

bool StrictlyAscending(const std::vector<std::string>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (!(v[i - 1] < v[i])) return false;
  }
  return true;
}

// Fills `column` with the `count` values `bytes` holds: viewed in place when `view` (the caller
// keeps the bytes alive) and they are aligned, else copied. False when the size does not match.
template <typename T>
bool LoadColumn(std::string_view bytes, size_t count, bool view, Column<T>* column) {
  if (bytes.size() / sizeof(T) != count || bytes.size() % sizeof(T) != 0) return false;
  if (view && reinterpret_cast<uintptr_t>(bytes.data()) % alignof(T) == 0) {
    column->View(reinterpret_cast<const T*>(bytes.data()), count);
  } else {
    column->owned().resize(count);
    if (count > 0) std::memcpy(column->owned().data(), bytes.data(), bytes.size());
    column->Seal();
  }
  return true;
}

// Splits a version-2 file into its sections' payloads (after checking the file's checksum).
absl::StatusOr<std::vector<std::string_view>> SplitV2(std::string_view bytes) {
  std::vector<std::string_view> sections;
  size_t pos = kMagicV2.size();
  while (true) {
    if (bytes.size() - pos < kV2HeaderBytes) return DataLoss("truncated file");
    uint32_t tag, zero;
    uint64_t length;
    std::memcpy(&tag, bytes.data() + pos, 4);
    std::memcpy(&zero, bytes.data() + pos + 4, 4);
    std::memcpy(&length, bytes.data() + pos + 8, 8);
    const size_t body = pos + kV2HeaderBytes;
    if (zero != 0) return DataLoss("bad section header");
    if (length > bytes.size() - body || PaddingAfter(length) > bytes.size() - body - length) {
      return DataLoss("truncated section");
    }
    const std::string_view payload = bytes.substr(body, length);
    for (char c : bytes.substr(body + length, PaddingAfter(length))) {
      if (c != 0) return DataLoss("bad section padding");
    }
    const size_t next = body + length + PaddingAfter(length);
    if (tag == kEndTag) {
      uint32_t crc;
      if (length != 4) return DataLoss("bad end section");
      std::memcpy(&crc, payload.data(), 4);
      if (UnmaskCrc(crc) != Crc32c(bytes.substr(0, pos))) {
        return DataLoss("checksum mismatch over the file");
      }
      if (next != bytes.size()) return DataLoss("bytes after the end section");
      break;
    }
    if (tag != sections.size() + 1 || tag > kV2Sections) {
      return DataLoss(absl::StrCat("unexpected section ", tag));
    }
    sections.push_back(payload);
    pos = next;
  }
  if (sections.size() != kV2Sections) return DataLoss("truncated file");
  return sections;
}

}  // namespace

std::string SegmentCodec::Encode(const Segment& segment) {
  std::string out;
  absl::Status status = EncodeTo(segment, [&out](std::string_view piece) {
    out.append(piece);
    return absl::OkStatus();
  });
  (void)status;  // appending to a string does not fail
  return out;
}

absl::Status SegmentCodec::EncodeTo(const Segment& s,
                                    absl::FunctionRef<absl::Status(std::string_view)> write) {
  FileOut out(write);
  out.Append(kMagicV2);
  {
    Writer w;
    w.String(s.project_);
    out.Section(V2::kProject, w.out());
  }
  {
    Writer w;
    w.Varint(s.groups_.size());
    for (const GroupKey& g : s.groups_) {
      w.Byte(g.is_user ? 1 : 0);
      w.String(g.id);
    }
    out.Section(V2::kGroups, w.out());
  }
  out.Section(V2::kGroupOffsets, Raw(s.group_offsets_));
  out.Section(V2::kTimes, Raw(s.time_ms_));
  out.Section(V2::kEventTypes, Raw(s.event_type_));
  out.Section(V2::kInsertIdOffsets, Raw(s.insert_id_offsets_));
  out.Section(V2::kInsertIdBytes, Raw(s.insert_id_bytes_));
  out.Section(V2::kSessions, Raw(s.session_));
  out.Section(V2::kDevices, Raw(s.device_));
  out.Section(V2::kEventTypeDict, StringsPayload(s.event_types_));
  out.Section(V2::kDeviceDict, StringsPayload(s.devices_));
  out.Section(V2::kEventKeys, StringsPayload(s.event_keys_));
  ColumnsSection(out, V2::kEventColumns, s.event_columns_);
  out.Section(V2::kUserKeys, StringsPayload(s.user_keys_));
  ColumnsSection(out, V2::kUserColumns, s.user_columns_);
  out.Section(V2::kValues, ValuesPayload(s.values_));
  const uint32_t crc = MaskCrc(out.crc());
  out.Section(kEndTag, std::string_view(reinterpret_cast<const char*>(&crc), 4));
  return out.Finish();
}

absl::StatusOr<SegmentPtr> SegmentCodec::Decode(std::string_view bytes) {
  return DecodeAny(bytes, nullptr);
}

absl::StatusOr<SegmentPtr> SegmentCodec::Decode(std::shared_ptr<const ReadOnlyMapping> file) {
  const std::string_view bytes = file->data();
  return DecodeAny(bytes, std::move(file));
}

absl::StatusOr<SegmentPtr> SegmentCodec::DecodeAny(std::string_view bytes,
                                                   std::shared_ptr<const ReadOnlyMapping> file) {
  if (bytes.size() < kMagicV1.size() || bytes.substr(0, kMagicPrefix.size()) != kMagicPrefix) {
    return DataLoss("not a segment file (bad magic)");
  }
  const std::string_view magic = bytes.substr(0, kMagicV1.size());
  if (magic == kMagicV1) return DecodeV1(bytes);
  if (magic != kMagicV2) {
    return absl::UnimplementedError(absl::StrCat("segment format ", std::string(bytes.substr(6, 2)),
                                                 " is newer than this build reads (01, 02)"));
  }
  absl::StatusOr<std::vector<std::string_view>> split = SplitV2(bytes);
  if (!split.ok()) return split.status();
  const std::vector<std::string_view>& sections = *split;
  auto section = [&](V2 tag) { return sections[static_cast<uint32_t>(tag) - 1]; };
  const bool view = file != nullptr;

  auto segment = std::shared_ptr<Segment>(new Segment());
  Segment& s = *segment;
  {
    Reader r(section(V2::kProject));
    s.project_ = r.String();
    if (!r.ok() || !r.done()) return DataLoss("bad project section");
  }
  const size_t n = section(V2::kTimes).size() / sizeof(int64_t);
  if (!LoadColumn(section(V2::kTimes), n, view, &s.time_ms_)) return DataLoss("bad time column");
  {
    Reader r(section(V2::kGroups));
    const uint64_t groups = r.Count();
    s.groups_.reserve(groups);
    for (uint64_t g = 0; g < groups && r.ok(); ++g) {
      const uint8_t is_user = r.Byte();
      std::string id = r.String();
      if (is_user > 1) return DataLoss("bad groups section");
      s.groups_.push_back(GroupKey{is_user == 1, std::move(id)});
      if (g > 0 && !(s.groups_[g - 1] < s.groups_[g])) return DataLoss("groups out of order");
    }
    if (!r.ok() || !r.done()) return DataLoss("bad groups section");
    if (!LoadColumn(section(V2::kGroupOffsets), s.groups_.size() + 1, view, &s.group_offsets_) ||
        s.group_offsets_[0] != 0 || s.group_offsets_[s.groups_.size()] != n) {
      return DataLoss("bad group offsets");
    }
    for (size_t g = 0; g < s.groups_.size(); ++g) {
      if (s.group_offsets_[g] >= s.group_offsets_[g + 1]) return DataLoss("bad group offsets");
    }
  }
  if (!DecodeStrings(section(V2::kEventTypeDict), &s.event_types_)) {
    return DataLoss("bad event type dictionary");
  }
  if (!LoadColumn(section(V2::kEventTypes), n, view, &s.event_type_)) {
    return DataLoss("bad event type column");
  }
  for (uint32_t code : s.event_type_) {
    if (code >= s.event_types_.size()) return DataLoss("event type code out of range");
  }
  const std::string_view ids = section(V2::kInsertIdBytes);
  if (!LoadColumn(section(V2::kInsertIdOffsets), n + 1, view, &s.insert_id_offsets_) ||
      !LoadColumn(ids, ids.size(), view, &s.insert_id_bytes_) || s.insert_id_offsets_[0] != 0 ||
      s.insert_id_offsets_[n] != ids.size()) {
    return DataLoss("bad insert id column");
  }
  for (size_t e = 0; e < n; ++e) {
    if (s.insert_id_offsets_[e] > s.insert_id_offsets_[e + 1]) {
      return DataLoss("bad insert id column");
    }
  }
  if (!LoadColumn(section(V2::kSessions), n, view, &s.session_)) {
    return DataLoss("bad session column");
  }
  if (!DecodeStrings(section(V2::kDeviceDict), &s.devices_)) {
    return DataLoss("bad device dictionary");
  }
  if (!LoadColumn(section(V2::kDevices), n, view, &s.device_)) {
    return DataLoss("bad device column");
  }
  for (uint32_t code : s.device_) {
    if (code != kNoCode && code >= s.devices_.size()) {
      return DataLoss("device code out of range");
    }
  }
  {
    Reader r(section(V2::kValues));
    if (!DecodeValues(r, &s.values_)) return DataLoss("bad value dictionary");
  }
  for (bool user_scope : {false, true}) {
    std::vector<std::string>& keys = user_scope ? s.user_keys_ : s.event_keys_;
    if (!DecodeStrings(section(user_scope ? V2::kUserKeys : V2::kEventKeys), &keys) ||
        !StrictlyAscending(keys)) {
      return DataLoss("bad property keys");
    }
    std::vector<PropertyColumn>& columns = user_scope ? s.user_columns_ : s.event_columns_;
    columns.resize(keys.size());
    std::string_view rest = section(user_scope ? V2::kUserColumns : V2::kEventColumns);
    for (PropertyColumn& c : columns) {
      uint32_t m;
      if (rest.size() < 4) return DataLoss("bad property columns");
      std::memcpy(&m, rest.data(), 4);
      rest.remove_prefix(4);
      if (m > n || rest.size() < uint64_t{m} * 8) return DataLoss("bad property columns");
      if (!LoadColumn(rest.substr(0, uint64_t{m} * 4), m, view, &c.events) ||
          !LoadColumn(rest.substr(uint64_t{m} * 4, uint64_t{m} * 4), m, view, &c.values)) {
        return DataLoss("bad property columns");
      }
      rest.remove_prefix(uint64_t{m} * 8);
      for (uint32_t i = 0; i < m; ++i) {
        if (c.events[i] >= n || (i > 0 && c.events[i] <= c.events[i - 1])) {
          return DataLoss("bad property columns");
        }
        if (c.values[i] >= s.values_.size()) return DataLoss("property value code out of range");
      }
    }
    if (!rest.empty()) return DataLoss("bad property columns");
  }
  if (view) {
    s.mapped_bytes_ = bytes.size();
    s.file_ = std::move(file);
  }
  s.Finish();
  return segment;
}

// Version 1, read only: varint columns decoded onto the heap.
absl::StatusOr<SegmentPtr> SegmentCodec::DecodeV1(std::string_view bytes) {
  Reader file(bytes.substr(kMagicV1.size()));
  std::vector<std::string_view> sections;
  bool ended = false;
  while (!file.done() && file.ok()) {
    size_t section_start = kMagicV1.size() + file.pos();
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
    s.time_ms_.owned().reserve(n);
    int64_t previous = 0;
    for (size_t e = 0; e < n && r.ok(); ++e) {
      previous = static_cast<int64_t>(static_cast<uint64_t>(previous) +
                                      static_cast<uint64_t>(UnZigZag(r.Varint())));
      s.time_ms_.owned().push_back(previous);
    }
    if (!r.ok() || !r.done()) return DataLoss("bad time column");
  }
  {
    Reader r = section(kGroups);
    uint64_t groups = r.Count();
    s.group_offsets_.owned().push_back(0);
    uint64_t total = 0;
    for (uint64_t g = 0; g < groups && r.ok(); ++g) {
      uint8_t is_user = r.Byte();
      std::string id = r.String();
      uint64_t size = r.Varint();
      total += size;
      if (is_user > 1 || size == 0 || total > n) return DataLoss("bad groups section");
      s.groups_.push_back(GroupKey{is_user == 1, std::move(id)});
      s.group_offsets_.owned().push_back(static_cast<uint32_t>(total));
      if (g > 0 && !(s.groups_[g - 1] < s.groups_[g])) return DataLoss("groups out of order");
    }
    if (!r.ok() || !r.done() || total != n) return DataLoss("bad groups section");
  }
  {
    Reader dict = section(kEventTypeDict);
    s.event_types_ = dict.Strings();
    if (!dict.ok() || !dict.done()) return DataLoss("bad event type dictionary");
    Reader r = section(kEventTypes);
    s.event_type_.owned().reserve(n);
    for (size_t e = 0; e < n && r.ok(); ++e) {
      uint64_t code = r.Varint();
      if (code >= s.event_types_.size()) return DataLoss("event type code out of range");
      s.event_type_.owned().push_back(static_cast<uint32_t>(code));
    }
    if (!r.ok() || !r.done()) return DataLoss("bad event type column");
  }
  {
    Reader r = section(kInsertIds);
    s.insert_id_offsets_.owned().reserve(n + 1);
    s.insert_id_offsets_.owned().push_back(0);
    for (size_t e = 0; e < n && r.ok(); ++e) {
      const std::string_view id = r.Bytes(r.Varint());
      std::vector<char>& bytes_out = s.insert_id_bytes_.owned();
      bytes_out.insert(bytes_out.end(), id.begin(), id.end());
      s.insert_id_offsets_.owned().push_back(static_cast<uint32_t>(bytes_out.size()));
    }
    if (!r.ok() || !r.done()) return DataLoss("bad insert id column");
  }
  {
    Reader r = section(kSessions);
    s.session_.owned().reserve(n);
    for (size_t e = 0; e < n && r.ok(); ++e) s.session_.owned().push_back(UnZigZag(r.Varint()));
    if (!r.ok() || !r.done()) return DataLoss("bad session column");
  }
  {
    Reader dict = section(kDeviceDict);
    s.devices_ = dict.Strings();
    if (!dict.ok() || !dict.done()) return DataLoss("bad device dictionary");
    Reader r = section(kDevices);
    s.device_.owned().reserve(n);
    for (size_t e = 0; e < n && r.ok(); ++e) {
      uint64_t code = r.Varint();
      if (code > s.devices_.size()) return DataLoss("device code out of range");
      s.device_.owned().push_back(code == 0 ? kNoCode : static_cast<uint32_t>(code - 1));
    }
    if (!r.ok() || !r.done()) return DataLoss("bad device column");
  }
  {
    Reader r = section(kValues);
    if (!DecodeValues(r, &s.values_)) return DataLoss("bad value dictionary");
  }
  for (bool user_scope : {false, true}) {
    Reader r = section(user_scope ? kUserProperties : kEventProperties);
    std::vector<std::string>& keys = user_scope ? s.user_keys_ : s.event_keys_;
    std::vector<PropertyColumn>& columns = user_scope ? s.user_columns_ : s.event_columns_;
    if (!DecodeProperties(r, n, &keys, &columns)) return DataLoss("bad property columns");
    for (PropertyColumn& c : columns) {
      for (uint32_t v : c.values.owned()) {
        if (v >= s.values_.size()) return DataLoss("property value code out of range");
      }
    }
  }
  s.Seal();
  return segment;
}

}  // namespace cohort::analytics::store
