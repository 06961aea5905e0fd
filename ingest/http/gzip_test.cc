#include "ingest/http/gzip.h"

#include <zlib.h>

#include <string>

#include "gtest/gtest.h"

namespace cohort::ingest::http {
namespace {

std::string Compress(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(GunzipBoundedTest, RoundTrips) {
  std::string data;
  for (int i = 0; i < 50000; ++i) data += std::to_string(i * 7919 % 1000);
  absl::StatusOr<std::string> out = GunzipBounded(Compress(data), data.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, data);
}

TEST(GunzipBoundedTest, EmptyPayloadMember) {
  absl::StatusOr<std::string> out = GunzipBounded(Compress(""), 10);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "");
}

TEST(GunzipBoundedTest, ConcatenatedMembers) {
  absl::StatusOr<std::string> out = GunzipBounded(Compress("hello ") + Compress("world"), 100);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello world");
}

TEST(GunzipBoundedTest, LimitIsExactAndEnforced) {
  const std::string data(1000, 'a');
  EXPECT_TRUE(GunzipBounded(Compress(data), 1000).ok());
  EXPECT_EQ(GunzipBounded(Compress(data), 999).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(GunzipBoundedTest, BombStopsAtTheLimit) {
  // 1 GiB of zeros compresses to about 1 MB; decoding with a 1 MiB limit must stop early and
  // allocate about the limit, not the gigabyte.
  std::string bomb;
  {
    z_stream zs{};
    deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
    const std::string zeros(1 << 20, '\0');
    std::string chunk(1 << 16, '\0');
    for (int i = 0; i < 1024; ++i) {
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
      zs.avail_in = static_cast<uInt>(zeros.size());
      const int flush = i == 1023 ? Z_FINISH : Z_NO_FLUSH;
      do {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        deflate(&zs, flush);
        bomb.append(chunk.data(), chunk.size() - zs.avail_out);
      } while (zs.avail_out == 0);
    }
    deflateEnd(&zs);
  }
  ASSERT_LT(bomb.size(), 2u << 20);
  absl::StatusOr<std::string> out = GunzipBounded(bomb, 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(GunzipBoundedTest, RejectsCorruptTruncatedAndTrailingInput) {
  const std::string good = Compress(std::string(5000, 'x') + "tail");
  EXPECT_EQ(GunzipBounded("", 100).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipBounded("not gzip at all", 100).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipBounded(good.substr(0, good.size() / 2), 10000).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string flipped = good;
  flipped[flipped.size() - 6] ^= 0x55;  // CRC32 trailer
  EXPECT_EQ(GunzipBounded(flipped, 10000).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipBounded(good + "junk", 10000).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A zlib (not gzip) stream is refused.
  std::string zlib(compressBound(10), '\0');
  uLongf size = zlib.size();
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(zlib.data()), &size,
                     reinterpret_cast<const Bytef*>("0123456789"), 10),
            Z_OK);
  zlib.resize(size);
  EXPECT_EQ(GunzipBounded(zlib, 100).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cohort::ingest::http
