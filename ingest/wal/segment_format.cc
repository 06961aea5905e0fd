#include "ingest/wal/segment_format.h"

#include <openssl/evp.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"

namespace cohort::ingest::wal {
namespace {

void PutU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
void PutU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The CRC of a record: over type, length (as stored) and payload.
uint32_t RecordCrc(const char* length_and_type, std::string_view payload) {
  const uint32_t crc = Crc32cExtend(0, length_and_type, 5);
  return Crc32cExtend(crc, payload.data(), payload.size());
}

std::optional<std::string> CheckHeader(std::string_view bytes, uint64_t expected_sequence) {
  if (bytes.size() < kSegmentHeaderSize) return "truncated segment header";
  if (bytes.substr(0, kSegmentMagic.size()) != kSegmentMagic) return "bad segment magic";
  const uint32_t stored_crc = UnmaskCrc(GetU32(bytes.data() + 20));
  if (Crc32cExtend(0, bytes.data(), 20) != stored_crc) return "segment header CRC mismatch";
  const uint32_t version = GetU32(bytes.data() + 8);
  if (version != kFormatVersion)
    return absl::StrCat("unsupported segment format version ", version);
  const uint64_t sequence = GetU64(bytes.data() + 12);
  if (sequence != expected_sequence) {
    return absl::StrCat("header sequence ", sequence, " does not match file name ",
                        expected_sequence);
  }
  return std::nullopt;
}

// How many payload bytes the search for a valid record after damage may checksum. Each offset
// whose type byte and length look plausible costs a CRC over that length, so adversarial bytes
// (say, a run of 0x01) could make the search quadratic; past the budget the answer is "maybe",
// which is treated as corruption (the segment is quarantined, nothing is lost).
constexpr uint64_t kResyncBudget = uint64_t{256} << 20;

// Whether a valid record (data or seal) starts at some offset >= `from`.
bool ValidRecordAfter(std::string_view bytes, uint64_t from) {
  uint64_t budget = kResyncBudget;
  for (uint64_t q = from; q + kRecordHeaderSize <= bytes.size(); ++q) {
    const auto type = static_cast<uint8_t>(bytes[q + 8]);
    if (type != 1 && type != 2) continue;
    const uint32_t len = GetU32(bytes.data() + q + 4);
    if (len > kMaxRecordBytes || bytes.size() - q - kRecordHeaderSize < len) continue;
    if (len > budget) return true;
    budget -= len;
    if (ParseRecordAt(bytes, q).has_value()) return true;
  }
  return false;
}

}  // namespace

std::string Lsn::ToString() const { return absl::StrCat(segment, ":", offset); }

std::string SegmentFileName(uint64_t sequence) { return absl::StrFormat("%020u.wal", sequence); }

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".wal") return std::nullopt;
  uint64_t seq = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (seq > (UINT64_MAX - digit) / 10) return std::nullopt;  // overflow
    seq = seq * 10 + digit;
  }
  return seq;
}

std::string EncodeSegmentHeader(uint64_t sequence) {
  std::string out(kSegmentMagic);
  PutU32(out, kFormatVersion);
  PutU64(out, sequence);
  PutU32(out, MaskCrc(Crc32cExtend(0, out.data(), out.size())));
  return out;
}

void AppendRecord(std::string& out, RecordType type, std::string_view payload) {
  char head[kRecordHeaderSize];
  const uint32_t len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) head[4 + i] = static_cast<char>(len >> (8 * i));
  head[8] = static_cast<char>(type);
  const uint32_t crc = MaskCrc(RecordCrc(head + 4, payload));
  for (int i = 0; i < 4; ++i) head[i] = static_cast<char>(crc >> (8 * i));
  out.append(head, kRecordHeaderSize);
  out.append(payload);
}

std::optional<ParsedRecord> ParseRecordAt(std::string_view bytes, uint64_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < kRecordHeaderSize) return std::nullopt;
  const char* p = bytes.data() + offset;
  const uint32_t len = GetU32(p + 4);
  const auto type = static_cast<uint8_t>(p[8]);
  if (type != static_cast<uint8_t>(RecordType::kData) &&
      type != static_cast<uint8_t>(RecordType::kSeal)) {
    return std::nullopt;
  }
  if (len > kMaxRecordBytes || bytes.size() - offset - kRecordHeaderSize < len) return std::nullopt;
  if (type == static_cast<uint8_t>(RecordType::kSeal) && len != kSha256Size) return std::nullopt;
  const std::string_view payload(p + kRecordHeaderSize, len);
  if (UnmaskCrc(GetU32(p)) != RecordCrc(p + 4, payload)) return std::nullopt;
  return ParsedRecord{static_cast<RecordType>(type), payload};
}

SegmentScan ScanSegment(std::string_view bytes, uint64_t expected_sequence,
                        const std::function<void(uint64_t, std::string_view)>& on_record) {
  SegmentScan scan;
  scan.file_size = bytes.size();
  if (std::optional<std::string> bad = CheckHeader(bytes, expected_sequence)) {
    scan.damage = SegmentScan::Damage{0, *bad, ValidRecordAfter(bytes, kSegmentHeaderSize)};
    return scan;
  }
  scan.header_ok = true;
  uint64_t pos = kSegmentHeaderSize;
  scan.data_end = scan.valid_end = pos;
  while (pos < bytes.size()) {
    std::optional<ParsedRecord> rec = ParseRecordAt(bytes, pos);
    if (!rec.has_value()) {
      std::string reason;
      if (bytes.size() - pos < kRecordHeaderSize) {
        reason = "truncated record header";
      } else {
        const uint32_t len = GetU32(bytes.data() + pos + 4);
        const auto type = static_cast<uint8_t>(bytes[pos + 8]);
        if (type != 1 && type != 2) {
          reason = absl::StrCat("invalid record type ", type);
        } else if (len > kMaxRecordBytes) {
          reason = absl::StrCat("record length ", len, " over the format limit");
        } else if (bytes.size() - pos - kRecordHeaderSize < len) {
          reason = "truncated record";
        } else {
          reason = "record CRC mismatch";
        }
      }
      // Any valid record after the damage (found by trying every offset: a damaged length field
      // gives no way to skip) makes it corruption rather than a torn tail.
      scan.damage = SegmentScan::Damage{pos, std::move(reason), ValidRecordAfter(bytes, pos + 1)};
      return scan;
    }
    const uint64_t end = pos + kRecordHeaderSize + rec->payload.size();
    if (rec->type == RecordType::kSeal) {
      scan.sealed = true;
      scan.valid_end = end;
      scan.seal_digest = HexDigest(rec->payload);
      absl::StatusOr<std::string> digest = Sha256Digest(bytes.substr(0, pos));
      scan.seal_digest_ok = digest.ok() && *digest == rec->payload;
      if (!scan.seal_digest_ok) {
        scan.damage = SegmentScan::Damage{
            pos, digest.ok() ? "segment SHA-256 mismatch" : digest.status().ToString(), true};
      } else if (end != bytes.size()) {
        scan.damage = SegmentScan::Damage{end, "bytes after the seal", false};
      }
      return scan;
    }
    if (on_record) on_record(pos, rec->payload);
    ++scan.records;
    scan.payload_bytes += rec->payload.size();
    pos = end;
    scan.data_end = scan.valid_end = pos;
  }
  return scan;
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) { ctx_->md = EVP_MD_CTX_new(); }
Sha256::~Sha256() = default;

absl::Status Sha256::Reset() {
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256: EVP_DigestInit_ex failed");
  }
  return absl::OkStatus();
}

absl::Status Sha256::Update(std::string_view data) {
  if (ctx_->md == nullptr || EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) {
    return absl::InternalError("SHA-256: EVP_DigestUpdate failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Sha256::Digest() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  if (copy == nullptr || EVP_MD_CTX_copy_ex(copy, ctx_->md) != 1) {
    EVP_MD_CTX_free(copy);
    return absl::InternalError("SHA-256: EVP_MD_CTX_copy_ex failed");
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const int rc = EVP_DigestFinal_ex(copy, out, &n);
  EVP_MD_CTX_free(copy);
  if (rc != 1 || n != kSha256Size) return absl::InternalError("SHA-256: EVP_DigestFinal_ex failed");
  return std::string(reinterpret_cast<const char*>(out), n);
}

absl::StatusOr<std::string> Sha256Digest(std::string_view data) {
  Sha256 sha;
  if (absl::Status s = sha.Reset(); !s.ok()) return s;
  if (absl::Status s = sha.Update(data); !s.ok()) return s;
  return sha.Digest();
}

std::string HexDigest(std::string_view raw) {
  return absl::BytesToHexString(absl::string_view(raw.data(), raw.size()));
}

}  // namespace cohort::ingest::wal
