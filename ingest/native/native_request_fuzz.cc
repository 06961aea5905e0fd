// libFuzzer target: any bytes as a native POST /v1/events body. Nothing may crash, leak or read
// out of bounds; a request is either rejected with a 400/413 naming a field (and no events) or
// accepted whole, each event with its id, type, a time not after the receive time + 1 h, and
// valid compact JSON properties.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "absl/time/time.h"
#include "ingest/event/event.h"
#include "ingest/native/request_parser.h"
#include "nlohmann/json.hpp"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

bool ValidJson(std::string_view text) {
  return !nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false).is_discarded();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cohort::ingest::EventSource;
  using cohort::ingest::JsonField;
  static auto* parser = new cohort::ingest::native::RequestParser({.max_events_per_request = 50});
  const absl::Time received = absl::FromUnixMillis(1'764'000'000'000);
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const cohort::ingest::native::ParsedRequest parsed = parser->Parse(body, received);
  if (parsed.rejection.has_value()) {
    Check(parsed.events.empty());
    Check(parsed.rejection->status == 400 || parsed.rejection->status == 413);
    Check(ValidJson(parsed.rejection->Body()));
    return 0;
  }
  Check(parsed.events.size() <= 50);
  for (const cohort::ingest::Event& e : parsed.events) {
    Check(e.source == EventSource::kNative);
    Check(!e.insert_id.empty() && !e.event_type.empty());
    Check(e.time_ms >= 0 && e.time_ms <= absl::ToUnixMillis(received + absl::Hours(1)));
    const std::string& props = e.json_field(JsonField::kEventProperties);
    Check(props.empty() || ValidJson(props));
  }
  return 0;
}
