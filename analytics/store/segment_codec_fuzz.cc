// libFuzzer target for the segment file decoder (segment_codec.h), which reads files from disk:
// any bytes must decode to a segment or fail with kDataLoss / kUnimplemented, never crash, and a
// decoded segment must read back every event and re-encode to a file that decodes again to the
// same bytes.
//
// A version-2 file ends with a CRC32C of everything before it, which random bytes never match,
// so the target writes that end section itself: the input's first byte picks what the rest is —
//   even: a file body (magic and sections) to which the correct end section is appended;
//   odd:  patches (offset: 2 bytes, XOR mask: 1 byte, repeated) applied to a valid body, which
//         reaches the checks behind a well-formed header quickly.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "analytics/store/segment.h"
#include "analytics/store/segment_codec.h"
#include "common/crc32c.h"

namespace {

using cohort::analytics::Event;
using cohort::analytics::PropertyValue;
using cohort::analytics::store::Segment;
using cohort::analytics::store::SegmentCodec;
using cohort::analytics::store::SegmentPtr;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr size_t kEndSectionBytes = 16 + 8;  // header, CRC, padding

// A valid version-2 file of a few events, without its end section.
const std::string& ValidBody() {
  static const std::string body = [] {
    std::vector<Event> events;
    for (int i = 0; i < 6; ++i) {
      Event e;
      e.user_id = i % 3 ? "user-" + std::to_string(i % 2) : "";
      e.device_id = "device-" + std::to_string(i % 4);
      e.event_type = i % 2 ? "click" : "view";
      e.time_ms = 1000 + 7 * i;
      e.insert_id = "id-" + std::to_string(i);
      if (i % 2) e.session_id = 500 + i;
      e.event_properties["n"] = PropertyValue::Number(i);
      if (i == 3) e.user_properties["$set"] = PropertyValue::Json(R"({"plan":"pro"})");
      events.push_back(std::move(e));
    }
    std::string file = SegmentCodec::Encode(**Segment::Build("p", std::move(events)));
    return file.substr(0, file.size() - kEndSectionBytes);
  }();
  return body;
}

std::string WithEnd(std::string body) {
  const uint32_t crc = cohort::MaskCrc(cohort::Crc32c(body));
  char end[kEndSectionBytes] = {};
  end[0] = static_cast<char>(0xFF);
  end[8] = 4;
  std::memcpy(end + 16, &crc, 4);
  body.append(end, sizeof end);
  return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string body;
  if (data[0] % 2 == 0) {
    body = std::string(rest);
  } else {
    body = ValidBody();
    for (size_t i = 0; i + 3 <= rest.size(); i += 3) {
      const size_t at =
          (static_cast<uint8_t>(rest[i]) | static_cast<uint8_t>(rest[i + 1]) << 8) % body.size();
      body[at] = static_cast<char>(body[at] ^ rest[i + 2]);
    }
  }
  for (const std::string& file : {WithEnd(body), body}) {
    absl::StatusOr<SegmentPtr> decoded = SegmentCodec::Decode(file);
    if (!decoded.ok()) {
      Check(decoded.status().code() == absl::StatusCode::kDataLoss ||
            decoded.status().code() == absl::StatusCode::kUnimplemented);
      continue;
    }
    const Segment& s = **decoded;
    for (size_t e = 0; e < s.event_count(); ++e) {
      const Event event = s.ToEvent(e);
      Check(event.time_ms == s.time_ms(e));
    }
    for (size_t g = 0; g < s.group_count(); ++g) Check(s.group_of_event(s.group_begin(g)) == g);
    const std::string again = SegmentCodec::Encode(s);
    absl::StatusOr<SegmentPtr> redecoded = SegmentCodec::Decode(again);
    Check(redecoded.ok());
    Check(SegmentCodec::Encode(**redecoded) == again);
  }
  return 0;
}
