// Bounded gzip decoding over zlib (gzip.h).
#include "ingest/http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"

namespace cohort::ingest::http {
namespace {

constexpr size_t kChunk = 64 * 1024;

// Owns a z_stream set up for gzip decoding.
class Inflater {
 public:
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() {
    if (initialised_) inflateEnd(&stream_);
  }
  bool Init() {
    initialised_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK;  // 16: gzip wrapper only
    return initialised_;
  }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool initialised_ = false;
};

}  // namespace

absl::StatusOr<std::string> GunzipBounded(std::string_view compressed, size_t max_decoded_bytes) {
  if (compressed.empty()) return absl::InvalidArgumentError("gzip body is empty");
  Inflater inflater;
  if (!inflater.Init()) return absl::InternalError("zlib inflateInit2 failed");
  z_stream& zs = inflater.stream();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  std::string out;
  size_t consumed_total = 0;
  // zlib's avail_in is 32 bits; feed the input in slices.
  auto refill = [&] {
    if (zs.avail_in == 0 && consumed_total < compressed.size()) {
      const size_t n = std::min<size_t>(compressed.size() - consumed_total, UINT_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + consumed_total));
      zs.avail_in = static_cast<uInt>(n);
      consumed_total += n;
    }
  };
  refill();
  while (true) {
    // Room for at most one byte past the limit, which is how an overflow is seen.
    if (out.size() > max_decoded_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("decoded body exceeds ", max_decoded_bytes, " bytes"));
    }
    const size_t room = std::min(kChunk, max_decoded_bytes + 1 - out.size());
    const size_t before = out.size();
    out.resize(before + room);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(before + (room - zs.avail_out));
    refill();
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Another member follows (RFC 1952 allows several).
      if (inflateReset(&zs) != Z_OK) return absl::InternalError("zlib inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && (zs.avail_in == 0 || out.size() == before)) {
      return absl::InvalidArgumentError("gzip body is truncated");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InvalidArgumentError(
          absl::StrCat("gzip body is corrupt: ", zs.msg != nullptr ? zs.msg : "inflate error"));
    }
  }
  if (out.size() > max_decoded_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("decoded body exceeds ", max_decoded_bytes, " bytes"));
  }
  return out;
}

}  // namespace cohort::ingest::http
