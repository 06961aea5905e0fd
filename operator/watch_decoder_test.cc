#include "operator/watch_decoder.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"

namespace cohort::op {
namespace {

using ::testing::HasSubstr;

// A watch on ConfigMaps as kube-apiserver streams it (one JSON object per line), with non-ASCII
// data so chunk cuts can fall inside multi-byte characters.
const std::string kAdded =
    R"({"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app",)"
    R"("namespace":"default","uid":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","resourceVersion":"1001",)"
    R"("creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web"}},)"
    R"("data":{"greeting":"你好, 世界","rocket":"🚀","json":"{\"a\":[1,{\"b\":\"}\"}]}"}}})";
const std::string kModified =
    R"({"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app",)"
    R"("namespace":"default","resourceVersion":"1002"},"data":{"greeting":"héllo"}}})";
const std::string kDeleted =
    R"({"type":"DELETED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app",)"
    R"("namespace":"default","resourceVersion":"1003"}}})";
const std::string kBookmark =
    R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":)"
    R"({"resourceVersion":"1050","creationTimestamp":null,"annotations":)"
    R"({"k8s.io/initial-events-end":"true"}}}})";
const std::string kError410 =
    R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)"
    R"j("status":"Failure","message":"too old resource version: 1001 (1050)","reason":"Expired",)j"
    R"("code":410}})";

const std::string kStream =
    kAdded + "\n" + kModified + "\n" + kDeleted + "\n" + kBookmark + "\n" + kError410 + "\n";

std::vector<WatchEvent> Drain(WatchDecoder& d) {
  std::vector<WatchEvent> out;
  while (std::optional<WatchEvent> e = d.Next()) out.push_back(std::move(*e));
  return out;
}

std::vector<WatchEvent> DecodeChunks(const std::vector<std::string_view>& chunks,
                                     WatchDecoderOptions options = {}) {
  WatchDecoder d(options);
  std::vector<WatchEvent> out;
  for (std::string_view c : chunks) {
    d.Feed(c);
    EXPECT_LE(d.buffered_bytes(), options.max_line_bytes);
    for (WatchEvent& e : Drain(d)) out.push_back(std::move(e));
  }
  EXPECT_TRUE(d.Finish().ok());
  for (WatchEvent& e : Drain(d)) out.push_back(std::move(e));
  return out;
}

std::vector<WatchEvent> DecodeAll(std::string_view stream, WatchDecoderOptions options = {}) {
  return DecodeChunks({stream}, options);
}

void ExpectSameEvents(const std::vector<WatchEvent>& got, const std::vector<WatchEvent>& want,
                      const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i].type) << where << " event " << i;
    EXPECT_EQ(got[i].object, want[i].object) << where << " event " << i;
    EXPECT_EQ(got[i].resource_version, want[i].resource_version) << where << " event " << i;
    EXPECT_EQ(got[i].error, want[i].error) << where << " event " << i;
  }
}

TEST(WatchDecoderTest, DecodesEveryEventType) {
  const std::vector<WatchEvent> events = DecodeAll(kStream);
  ASSERT_EQ(events.size(), 5u);

  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[0].resource_version, "1001");
  EXPECT_EQ(events[0].object["metadata"]["name"], "app");
  EXPECT_EQ(events[0].object["data"]["greeting"], "你好, 世界");
  EXPECT_EQ(events[0].object["data"]["rocket"], "🚀");
  EXPECT_TRUE(events[0].error.ok());

  EXPECT_EQ(events[1].type, WatchEventType::kModified);
  EXPECT_EQ(events[1].resource_version, "1002");
  EXPECT_EQ(events[1].object["data"]["greeting"], "héllo");

  EXPECT_EQ(events[2].type, WatchEventType::kDeleted);
  EXPECT_EQ(events[2].resource_version, "1003");

  EXPECT_EQ(events[3].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[3].resource_version, "1050");
  EXPECT_TRUE(events[3].error.ok());

  EXPECT_EQ(events[4].type, WatchEventType::kError);
  EXPECT_TRUE(events[4].resource_version.empty());
}

TEST(WatchDecoderTest, InStreamExpiredIsGone) {
  WatchDecoder d;
  d.Feed(kError410 + "\n");
  std::optional<WatchEvent> e = d.Next();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, WatchEventType::kError);
  EXPECT_TRUE(apierrors::IsGone(e->error)) << e->error;
  EXPECT_EQ(apierrors::HttpCode(e->error), 410);
  EXPECT_EQ(e->error.message(), "too old resource version: 1001 (1050)");
  EXPECT_EQ(e->object["reason"], "Expired");
  // A server ERROR event is the server's news, not a decoding fault.
  EXPECT_TRUE(d.status().ok());
  EXPECT_FALSE(d.Next().has_value());
}

TEST(WatchDecoderTest, InStreamInternalError) {
  const std::vector<WatchEvent> events = DecodeAll(
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)"
      R"("status":"Failure","message":"an error on the server (\"unable to decode an event from )"
      R"(the watch stream: context canceled\") has prevented the request from succeeding",)"
      R"("reason":"InternalError","details":{"causes":[{"reason":"UnexpectedServerResponse",)"
      R"("message":"unable to decode an event from the watch stream: context canceled"},)"
      R"({"reason":"ClientWatchDecoding","message":"unable to decode an event from the watch )"
      R"(stream: context canceled"}]},"code":500}})"
      "\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(apierrors::IsGone(events[0].error));
  EXPECT_TRUE(apierrors::IsRetryable(events[0].error, "watch"));
  EXPECT_EQ(apierrors::Causes(events[0].error).size(), 2u);
}

TEST(WatchDecoderTest, SplitAtEveryOffsetGivesIdenticalEvents) {
  const std::vector<WatchEvent> want = DecodeAll(kStream);
  ASSERT_EQ(want.size(), 5u);
  const std::string_view s = kStream;
  for (size_t i = 0; i <= s.size(); ++i) {
    ExpectSameEvents(DecodeChunks({s.substr(0, i), s.substr(i)}), want,
                     "split at " + std::to_string(i));
    if (HasFailure()) return;
  }
}

TEST(WatchDecoderTest, ThreeWaySplitsGiveIdenticalEvents) {
  const std::vector<WatchEvent> want = DecodeAll(kStream);
  const std::string_view s = kStream;
  for (size_t i = 0; i <= s.size(); i += 5) {
    for (size_t j = i; j <= s.size(); j += 11) {
      ExpectSameEvents(DecodeChunks({s.substr(0, i), s.substr(i, j - i), s.substr(j)}), want,
                       "split at " + std::to_string(i) + "," + std::to_string(j));
      if (HasFailure()) return;
    }
  }
}

TEST(WatchDecoderTest, OneByteAtATime) {
  std::vector<std::string_view> bytes;
  const std::string_view s = kStream;
  for (size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
  ExpectSameEvents(DecodeChunks(bytes), DecodeAll(kStream), "byte by byte");
}

TEST(WatchDecoderTest, SplitInsideMultibyteCharacter) {
  const size_t rocket = kStream.find("🚀");
  ASSERT_NE(rocket, std::string::npos);
  const std::string_view s = kStream;
  for (size_t k = 1; k < 4; ++k) {  // the rocket is 4 bytes: cut after its 1st, 2nd, 3rd byte
    WatchDecoder d;
    d.Feed(s.substr(0, rocket + k));
    EXPECT_FALSE(d.Next().has_value()) << "an event before its line is complete";
    d.Feed(s.substr(rocket + k));
    std::optional<WatchEvent> e = d.Next();
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->error.ok()) << e->error;
    EXPECT_EQ(e->object["data"]["rocket"], "🚀");
  }
}

TEST(WatchDecoderTest, SplitExactlyAtNewline) {
  WatchDecoder d;
  d.Feed(kAdded);
  EXPECT_FALSE(d.Next().has_value());
  EXPECT_EQ(d.buffered_bytes(), kAdded.size());
  d.Feed("\n");
  ASSERT_TRUE(d.Next().has_value());
  EXPECT_EQ(d.buffered_bytes(), 0u);
  d.Feed("\n" + kModified);  // a blank line, then a partial one
  EXPECT_FALSE(d.Next().has_value());
  d.Feed("\n");
  std::optional<WatchEvent> e = d.Next();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->type, WatchEventType::kModified);
}

TEST(WatchDecoderTest, CrlfAndBlankLines) {
  const std::string stream = "\r\n\n  \r\n" + kAdded + "\r\n\r\n\t\n" + kBookmark + "\r\n\n";
  const std::vector<WatchEvent> events = DecodeAll(stream);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[1].type, WatchEventType::kBookmark);
  EXPECT_EQ(events[1].resource_version, "1050");
  // \r\n split between \r and \n.
  const size_t cr = stream.find('\r', stream.find(kAdded));
  ExpectSameEvents(DecodeChunks({std::string_view(stream).substr(0, cr + 1),
                                 std::string_view(stream).substr(cr + 1)}),
                   events, "split between CR and LF");
}

TEST(WatchDecoderTest, MalformedLinesBecomeErrorEventsAndDecodingGoesOn) {
  const std::vector<std::string> bad = {
      "not json at all",
      R"({"type":"ADDED","object":{"metadata":{}})",  // truncated
      R"([1,2,3])",
      R"({"type":"ADDED"})",
      R"({"type":"ADDED","object":"a string"})",
      R"({"type":"SOMETHING","object":{}})",
      R"({"type":7,"object":{}})",
      R"({"object":{}})",
      "{\"type\":\"ADDED\",\"object\":{\"data\":\"\xff\xfe\"}}",  // invalid UTF-8
      R"({"type":"ADDED","object":{}} {"type":"ADDED","object":{}})",
  };
  for (const std::string& line : bad) {
    WatchDecoder d;
    d.Feed(kAdded + "\n" + line + "\n" + kDeleted + "\n");
    const std::vector<WatchEvent> events = Drain(d);
    ASSERT_EQ(events.size(), 3u) << line;
    EXPECT_EQ(events[0].type, WatchEventType::kAdded);
    EXPECT_EQ(events[1].type, WatchEventType::kError) << line;
    EXPECT_EQ(events[1].error.code(), absl::StatusCode::kDataLoss) << line;
    EXPECT_TRUE(events[1].object.is_null());
    EXPECT_EQ(apierrors::HttpCode(events[1].error), 0);
    EXPECT_EQ(events[2].type, WatchEventType::kDeleted);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(WatchDecoderTest, ErrorMessagesNeverQuoteTheLine) {
  WatchDecoder d;
  d.Feed(R"({"type":"ADDED","object":{"kind":"Secret","data":{"password":"aHVudGVyMg=="}})"
         "\n");
  std::optional<WatchEvent> e = d.Next();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(e->error.message(), ::testing::Not(HasSubstr("aHVudGVyMg")));
}

TEST(WatchDecoderTest, ErrorEventWithoutStatusObject) {
  const std::vector<WatchEvent> events =
      DecodeAll(R"({"type":"ERROR","object":null})"
                "\n"
                R"({"type":"ERROR","object":{"status":"Success"}})"
                "\n");
  ASSERT_EQ(events.size(), 2u);
  for (const WatchEvent& e : events) {
    EXPECT_EQ(e.type, WatchEventType::kError);
    EXPECT_EQ(e.error.code(), absl::StatusCode::kUnknown);
  }
}

TEST(WatchDecoderTest, OversizeLineIsOneErrorAndMemoryStaysBounded) {
  WatchDecoderOptions options;
  options.max_line_bytes = 80;
  const std::string small = R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}})";
  ASSERT_LE(small.size() + 1, 80u);  // with its \r
  const std::string big =
      R"({"type":"ADDED","object":{"data":{"x":")" + std::string(300, 'x') + R"("}}})";
  const std::string stream = small + "\n" + big + "\n" + small + "\r\n";

  const std::vector<WatchEvent> whole = DecodeAll(stream, options);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(whole[0].resource_version, "7");
  EXPECT_EQ(whole[1].type, WatchEventType::kError);
  EXPECT_EQ(whole[1].error.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(whole[1].error.message(), HasSubstr("limit of 80 bytes"));
  EXPECT_EQ(whole[2].resource_version, "7");

  // Fed a byte at a time the buffer never exceeds the cap, and the events are the same.
  WatchDecoder d(options);
  std::vector<WatchEvent> got;
  for (char c : stream) {
    d.Feed(std::string_view(&c, 1));
    ASSERT_LE(d.buffered_bytes(), options.max_line_bytes);
    for (WatchEvent& e : Drain(d)) got.push_back(std::move(e));
  }
  ExpectSameEvents(got, whole, "byte by byte");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kResourceExhausted);
  const std::string_view s = stream;
  for (size_t i = 0; i <= s.size(); ++i) {
    ExpectSameEvents(DecodeChunks({s.substr(0, i), s.substr(i)}, options), whole,
                     "split at " + std::to_string(i));
    if (HasFailure()) return;
  }
}

TEST(WatchDecoderTest, LineOfExactlyTheCapIsAccepted) {
  const std::string line = R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}})";
  WatchDecoderOptions options;
  options.max_line_bytes = line.size();
  std::vector<WatchEvent> events = DecodeAll(line + "\n", options);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].error.ok());
  // With CRLF the '\r' counts, so the same line is one byte over.
  events = DecodeAll(line + "\r\n", options);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error.code(), absl::StatusCode::kResourceExhausted);
}

TEST(WatchDecoderTest, DefaultCapIs16MiBAndLargeEventsPass) {
  EXPECT_EQ(WatchDecoderOptions{}.max_line_bytes, size_t{16} << 20);
  const std::string big = R"({"type":"MODIFIED","object":{"metadata":{"resourceVersion":"9"},)"
                          R"("data":{"blob":")" +
                          std::string(3 << 20, 'z') + R"("}}})" + "\n";
  WatchDecoder d;
  for (size_t i = 0; i < big.size(); i += 65536) d.Feed(std::string_view(big).substr(i, 65536));
  std::optional<WatchEvent> e = d.Next();
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->error.ok()) << e->error;
  EXPECT_EQ(e->resource_version, "9");
  EXPECT_EQ(e->object["data"]["blob"].get<std::string>().size(), size_t{3} << 20);
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(WatchDecoderTest, TooDeepNestingIsRejected) {
  WatchDecoderOptions options;
  options.max_depth = 10;
  auto nested = [](int depth) {
    std::string inner = "1";
    for (int i = 0; i < depth; ++i) inner = "[" + inner + "]";
    return R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"1"},"x":)" + inner + "}}";
  };
  // The envelope and object take 2 levels.
  std::vector<WatchEvent> events = DecodeAll(nested(8) + "\n" + nested(9) + "\n", options);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].error.ok());
  EXPECT_EQ(events[1].error.code(), absl::StatusCode::kDataLoss);
  // Brackets inside strings, escaped quotes included, do not count.
  events = DecodeAll(
      R"({"type":"ADDED","object":{"s":"[[[[[[[[[[[[[[[[\"[[[[[[[[[[{{{{{{{{{{{{","t":"\\"}})"
      "\n",
      options);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].error.ok()) << events[0].error;
}

TEST(WatchDecoderTest, FinishDecodesACompleteLastLineAndReportsATruncatedOne) {
  {
    WatchDecoder d;
    d.Feed(kAdded + "\n" + kBookmark);  // no final newline
    ASSERT_EQ(Drain(d).size(), 1u);
    EXPECT_TRUE(d.Finish().ok());
    const std::vector<WatchEvent> rest = Drain(d);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].type, WatchEventType::kBookmark);
  }
  {
    WatchDecoder d;
    d.Feed(kAdded + "\n" + kModified.substr(0, 40));
    ASSERT_EQ(Drain(d).size(), 1u);
    const absl::Status s = d.Finish();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_TRUE(Drain(d).empty());
    // Reset: a new stream decodes from scratch.
    EXPECT_EQ(d.buffered_bytes(), 0u);
    d.Feed(kDeleted + "\n");
    const std::vector<WatchEvent> next = Drain(d);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].type, WatchEventType::kDeleted);
  }
  {
    WatchDecoder d;
    d.Feed("\r\n  ");
    EXPECT_TRUE(d.Finish().ok());
    EXPECT_TRUE(Drain(d).empty());
  }
  {
    WatchDecoderOptions options;
    options.max_line_bytes = 8;
    WatchDecoder d(options);
    d.Feed(kAdded);  // over the cap and unfinished
    EXPECT_EQ(Drain(d).size(), 1u);
    EXPECT_EQ(d.Finish().code(), absl::StatusCode::kDataLoss);
    EXPECT_TRUE(d.status().ok()) << "Finish resets the decoder";
  }
}

TEST(WatchDecoderTest, EventTypeNames) {
  EXPECT_EQ(WatchEventTypeName(WatchEventType::kAdded), "ADDED");
  EXPECT_EQ(WatchEventTypeName(WatchEventType::kModified), "MODIFIED");
  EXPECT_EQ(WatchEventTypeName(WatchEventType::kDeleted), "DELETED");
  EXPECT_EQ(WatchEventTypeName(WatchEventType::kBookmark), "BOOKMARK");
  EXPECT_EQ(WatchEventTypeName(WatchEventType::kError), "ERROR");
}

}  // namespace
}  // namespace cohort::op
