// libFuzzer target for WatchDecoder (and, through it, FromStatusObject; FromApiResponse directly).
//
// Input layout: 4 header bytes, then the watch stream.
//   [0] line cap: one of 16, 64, 256, 1 KiB, 4 KiB, 64 KiB, 1 MiB, the 16 MiB default (byte % 8)
//   [1] nesting cap: 0 → the default; else 1 + byte % 64
//   [2] chunking: 0 → one byte at a time; 1 → the whole stream at once; else chunks of 1..byte
//       bytes, lengths drawn from a generator seeded with [3]
//   [3] generator seed; also the HTTP code (400 + byte) for FromApiResponse
// Seeds in operator/testdata/watch_decoder_corpus/ start with a printable header ("0z7k" ...) so
// they stay readable. Build and run: docs/development.md, "Fuzzing".
//
// Invariants (abort on violation, so libFuzzer reports a crash):
//   - the partial-line buffer never exceeds the line cap, after any Feed;
//   - the chunked decode gives exactly the events, status() and Finish() result of decoding the
//     stream in one Feed;
//   - an event is either a non-error with an OK status and a JSON object, or kError with a non-OK
//     status; resource_version is the object's metadata.resourceVersion;
//   - no more events than lines;
//   - FromApiResponse never returns OK for a non-2xx code, and keeps that code.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "operator/api_error.h"
#include "operator/watch_decoder.h"

namespace {

using cohort::op::WatchDecoder;
using cohort::op::WatchDecoderOptions;
using cohort::op::WatchEvent;
using cohort::op::WatchEventType;

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

struct Result {
  std::vector<WatchEvent> events;
  absl::Status status;  // status() before Finish
  absl::Status finish;
};

void Drain(WatchDecoder& d, std::vector<WatchEvent>& out) {
  while (std::optional<WatchEvent> e = d.Next()) out.push_back(std::move(*e));
}

Result Decode(std::string_view stream, const WatchDecoderOptions& options, uint8_t chunking,
              uint8_t seed) {
  WatchDecoder d(options);
  Result r;
  uint32_t state = 0x9e3779b9u ^ seed;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t len;
    if (chunking == 0) {
      len = 1;
    } else if (chunking == 1) {
      len = stream.size();
    } else {
      state ^= state << 13;  // xorshift32
      state ^= state >> 17;
      state ^= state << 5;
      len = 1 + state % chunking;
    }
    const std::string_view chunk = stream.substr(pos, len);
    pos += chunk.size();
    d.Feed(chunk);
    FUZZ_CHECK(d.buffered_bytes() <= options.max_line_bytes);
    Drain(d, r.events);
  }
  r.status = d.status();
  r.finish = d.Finish();
  FUZZ_CHECK(d.buffered_bytes() == 0);
  Drain(d, r.events);
  return r;
}

void CheckEvent(const WatchEvent& e) {
  if (e.type == WatchEventType::kError) {
    FUZZ_CHECK(!e.error.ok());
    return;
  }
  FUZZ_CHECK(e.error.ok());
  FUZZ_CHECK(e.object.is_object());
  std::string rv;
  if (auto m = e.object.find("metadata"); m != e.object.end() && m->is_object()) {
    if (auto v = m->find("resourceVersion"); v != m->end() && v->is_string()) {
      rv = v->get<std::string>();
    }
  }
  FUZZ_CHECK(e.resource_version == rv);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  static constexpr size_t kCaps[] = {16, 64, 256, 1024, 4096, 65536, size_t{1} << 20, 0};
  WatchDecoderOptions options;
  if (const size_t cap = kCaps[data[0] % 8]; cap != 0) options.max_line_bytes = cap;
  if (data[1] != 0) options.max_depth = 1 + data[1] % 64;
  const uint8_t chunking = data[2];
  const uint8_t seed = data[3];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  const Result chunked = Decode(stream, options, chunking, seed);
  const Result whole = Decode(stream, options, /*chunking=*/1, seed);

  FUZZ_CHECK(chunked.events.size() == whole.events.size());
  size_t lines = 1;
  for (char c : stream) lines += c == '\n';
  FUZZ_CHECK(chunked.events.size() <= lines);
  for (size_t i = 0; i < chunked.events.size(); ++i) {
    const WatchEvent& a = chunked.events[i];
    const WatchEvent& b = whole.events[i];
    CheckEvent(a);
    FUZZ_CHECK(a.type == b.type);
    FUZZ_CHECK(a.resource_version == b.resource_version);
    FUZZ_CHECK(a.error == b.error);
    FUZZ_CHECK(a.object == b.object);
  }
  FUZZ_CHECK(chunked.status == whole.status);
  FUZZ_CHECK(chunked.finish == whole.finish);

  const int http_code = 400 + seed;  // 400..655: client and server errors and beyond
  const absl::Status api =
      cohort::op::FromApiResponse(http_code, stream, stream.substr(0, seed % 16));
  FUZZ_CHECK(!api.ok());
  FUZZ_CHECK(cohort::op::apierrors::HttpCode(api) == http_code);
  (void)cohort::op::apierrors::Causes(api);
  (void)cohort::op::apierrors::RetryAfter(api);
  return 0;
}
