// libFuzzer target: any bytes as a Langfuse ingestion body, through the parser, the assembler
// (with a small state, so eviction runs) and the event mapping. Nothing may crash, leak or read
// out of bounds; every item is either valid or an error; the answer body and every event's
// properties are valid JSON; each event carries the dify project and an lf- insert id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/clock.h"
#include "ingest/langfuse/ingestion_request.h"
#include "ingest/langfuse/ingestion_response.h"
#include "ingest/langfuse/trace_assembler.h"
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
  using cohort::ingest::langfuse::Assembly;
  using cohort::ingest::langfuse::Item;
  using cohort::ingest::langfuse::MultiStatusBody;
  using cohort::ingest::langfuse::ParsedIngestion;
  using cohort::ingest::langfuse::ParseIngestion;
  using cohort::ingest::langfuse::TraceAssembler;
  static cohort::SimulatedClock* clock = new cohort::SimulatedClock(absl::FromUnixSeconds(1));
  static TraceAssembler* assembler = new TraceAssembler(
      {.max_entities = 64, .max_bytes = 1 << 16, .capture_content = size % 2 == 1, .clock = clock});
  std::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ParsedIngestion> parsed = ParseIngestion(body, {.max_items = 100});
  if (!parsed.ok()) {
    Check(absl::IsInvalidArgument(parsed.status()));
    return 0;
  }
  Check(static_cast<int64_t>(parsed->items.size() + parsed->errors.size()) == parsed->batch_size);
  std::vector<std::string> ids;
  for (const Item& item : parsed->items) ids.push_back(item.id);
  Check(ValidJson(MultiStatusBody(ids, parsed->errors)));
  Assembly a = assembler->Apply(parsed->items, 0);
  Check(a.dispositions.size() == parsed->items.size());
  Check(a.events.size() == a.entity_keys.size());
  for (const cohort::ingest::Event& e : a.events) {
    Check(e.project == "dify");
    Check(e.insert_id.size() == 35 && e.insert_id.starts_with("lf-"));
    Check(!e.user_id.empty() || !e.device_id.empty());
    Check(ValidJson(e.json_field(cohort::ingest::JsonField::kEventProperties)));
  }
  if (size % 3 == 0) assembler->MarkEmitted(a.entity_keys);
  clock->Advance(absl::Minutes(1));
  return 0;
}
