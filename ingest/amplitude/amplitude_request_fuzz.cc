// libFuzzer target: any bytes as an Amplitude HTTP V2 request body. The parser must never crash,
// leak or read out of bounds, and its result must be self-consistent: a rejection has no events
// and a JSON body whose code is its status; accepted events carry valid compact JSON objects and
// re-encode and decode to themselves.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/amplitude/request_parser.h"
#include "ingest/event/event_codec.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cohort::ingest::amplitude::Endpoint;
  using cohort::ingest::amplitude::RequestParser;
  static RequestParser* parser = new RequestParser({.max_events_per_request = 50});
  std::string_view body(reinterpret_cast<const char*>(data), size);
  cohort::ingest::amplitude::ParsedRequest r =
      parser->Parse(body, {.endpoint = size % 2 ? Endpoint::kBatch : Endpoint::kHttpApi,
                           .upload_time = absl::FromUnixMillis(1'700'000'000'000),
                           .client_ip = "192.0.2.1"});
  if (r.rejection) {
    Check(r.events.empty());
    Check(r.rejection->status == 400 || r.rejection->status == 413);
    Check(r.rejection->body.starts_with("{\"code\":" + std::to_string(r.rejection->status)));
    return 0;
  }
  Check(!r.api_key.empty() && !r.events.empty());
  static simdjson::dom::parser* json_checker = new simdjson::dom::parser();
  for (const cohort::ingest::Event& event : r.events) {
    for (const std::string& text : event.json) {
      if (text.empty()) continue;
      simdjson::dom::element element;
      Check(json_checker->parse(text).get(element) == simdjson::SUCCESS);  // valid JSON out
      Check(element.is_object());
    }
    Check(!event.event_type.empty());
    Check(!event.user_id.empty() || !event.device_id.empty());
    absl::StatusOr<cohort::ingest::Event> back =
        cohort::ingest::DecodeEvent(cohort::ingest::EncodeEvent(event));
    Check(back.ok());
    // NaN cannot come from JSON, so equality must hold.
    Check(*back == event);
  }
  return 0;
}
