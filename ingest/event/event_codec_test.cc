#include "ingest/event/event_codec.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::ingest {
namespace {

Event FullEvent() {
  Event e;
  e.project = "shop";
  e.source = EventSource::kNative;
  e.event_type = "Checkout \"done\"";
  e.user_id = "user-12345";
  e.device_id = "device-\xe4\xb8\xad";
  e.time_ms = 1'700'000'000'123;
  e.insert_id = "ins-1";
  e.session_id = 1'699'999'000'000;
  e.event_id = 42;
  e.server_received_time_ms = 1'700'000'000'456;
  e.ip = "10.0.0.1";
  for (size_t i = 0; i < kAttributeCount; ++i) e.attributes[i] = "attr" + std::to_string(i);
  e.price = 9.99;
  e.quantity = -3;
  e.revenue = 29.97;
  e.location_lat = -33.8688;
  e.location_lng = 151.2093;
  e.json_field(JsonField::kEventProperties) = R"({"a":[1,2,{"b":null}]})";
  e.json_field(JsonField::kUserProperties) = R"({"$set":{"plan":"pro"}})";
  return e;
}

TEST(EventCodecTest, DecodingIntoAReusedEventOverwritesEveryField) {
  Event minimal;
  minimal.event_type = FullEvent().event_type;
  minimal.device_id = FullEvent().device_id;
  Event reused = FullEvent();  // every optional set, every string non-empty
  ASSERT_TRUE(DecodeEventInto(EncodeEvent(minimal), reused).ok());
  EXPECT_EQ(reused, minimal);
  ASSERT_TRUE(DecodeEventInto(EncodeEvent(FullEvent()), reused).ok());
  EXPECT_EQ(reused, FullEvent());
  EXPECT_EQ(DecodeEventInto("", reused).code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, TheSizeBoundHoldsTheRecord) {
  Event minimal;
  for (const Event& e : {minimal, FullEvent()}) {
    EXPECT_GE(EncodedSizeBound(e), EncodeEvent(e).size());
  }
  Event big = FullEvent();
  big.time_ms = big.server_received_time_ms = big.session_id = INT64_MIN;  // 10-byte varints
  big.event_id = big.quantity = INT64_MIN;
  big.json_field(JsonField::kPlan) = std::string(300, 'x');  // a 2-byte length
  EXPECT_GE(EncodedSizeBound(big), EncodeEvent(big).size());
}

TEST(EventCodecTest, RoundTripsAFullEvent) {
  Event e = FullEvent();
  absl::StatusOr<Event> back = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
}

TEST(EventCodecTest, RoundTripsADefaultEvent) {
  Event e;
  std::string record = EncodeEvent(e);
  EXPECT_LT(record.size(), 50u);  // compact: empty strings cost one byte each
  absl::StatusOr<Event> back = DecodeEvent(record);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
}

TEST(EventCodecTest, RoundTripsExtremeIntegers) {
  Event e;
  e.time_ms = std::numeric_limits<int64_t>::min();
  e.server_received_time_ms = std::numeric_limits<int64_t>::max();
  e.session_id = -1;
  e.event_id = std::numeric_limits<int64_t>::min();
  e.quantity = std::numeric_limits<int64_t>::max();
  absl::StatusOr<Event> back = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
}

TEST(EventCodecTest, AppendsRecordsBackToBack) {
  Event a = FullEvent();
  Event b;
  b.event_type = "second";
  std::string buf;
  AppendEncodedEvent(a, &buf);
  size_t first = buf.size();
  AppendEncodedEvent(b, &buf);
  ASSERT_TRUE(DecodeEvent(std::string_view(buf).substr(0, first)).ok());
  EXPECT_EQ(*DecodeEvent(std::string_view(buf).substr(first)), b);
}

TEST(EventCodecTest, EveryTruncationIsAnError) {
  std::string record = EncodeEvent(FullEvent());
  for (size_t n = 0; n < record.size(); ++n) {
    absl::StatusOr<Event> back = DecodeEvent(std::string_view(record).substr(0, n));
    EXPECT_FALSE(back.ok()) << "prefix of " << n << " bytes decoded";
    if (!back.ok()) {
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

TEST(EventCodecTest, TrailingBytesAreAnError) {
  std::string record = EncodeEvent(FullEvent()) + "x";
  EXPECT_EQ(DecodeEvent(record).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, RejectsBadHeaders) {
  std::string record = EncodeEvent(FullEvent());
  std::string newer = record;
  newer[0] = static_cast<char>(kEventRecordVersion + 1);
  EXPECT_EQ(DecodeEvent(newer).status().code(), absl::StatusCode::kUnimplemented);
  std::string zero = record;
  zero[0] = 0;
  EXPECT_EQ(DecodeEvent(zero).status().code(), absl::StatusCode::kDataLoss);
  std::string source = record;
  source[1] = static_cast<char>(kEventSourceCount);
  EXPECT_EQ(DecodeEvent(source).status().code(), absl::StatusCode::kDataLoss);
  std::string flags = record;
  flags[2] = static_cast<char>(0x40 | flags[2]);
  EXPECT_EQ(DecodeEvent(flags).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, HugeStringLengthIsAnErrorNotAnAllocation) {
  Event e;
  std::string record = EncodeEvent(e);
  // Header (3 bytes) + three one-byte varints, then project's length: make it 2^63.
  std::string bad = record.substr(0, 6);
  bad += std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9);
  EXPECT_EQ(DecodeEvent(bad).status().code(), absl::StatusCode::kDataLoss);
  // An 11-byte varint overflows 64 bits.
  std::string overflow = record.substr(0, 3) + std::string(10, '\xff') + "\x01";
  EXPECT_EQ(DecodeEvent(overflow).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, RandomBytesAndBitFlipsNeverCrash) {
  std::mt19937_64 rng(20261126);
  std::string record = EncodeEvent(FullEvent());
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = record;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
    if (DecodeEvent(bytes).ok()) ++decoded;  // a flip inside string contents still decodes
    std::string garbage(rng() % 64, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    (void)DecodeEvent(garbage);
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace cohort::ingest
