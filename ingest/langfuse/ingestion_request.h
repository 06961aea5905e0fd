// The body of Langfuse's POST /api/public/ingestion: {"batch":[{id, timestamp, type, body,
// metadata?}, ...]} with camelCase keys. ParseIngestion splits a request into the items that are
// valid and per-item errors (Langfuse's 207 model: a bad item is an entry in `errors`, never a 4xx
// for the whole request); only a body that is not that shape at all is a whole-request error.
//
// Checked per item: the envelope (id a non-empty string, timestamp an ISO 8601 date-time, a
// known type, body an object) and the body's fields by type (types of the fields Langfuse
// defines, timestamps parseable, level one of DEBUG/DEFAULT/WARNING/ERROR, usage numbers,
// required ids). Unknown keys are ignored. Messages name the offending field ("body.startTime:
// ..."). Stateless, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::langfuse {

enum class ItemType {
  kTraceCreate,
  kSpanCreate,
  kSpanUpdate,
  kGenerationCreate,
  kGenerationUpdate,
  kEventCreate,
  kScoreCreate,
  kSdkLog,
  kObservationCreate,  // legacy: body.type is SPAN, GENERATION or EVENT
  kObservationUpdate,  // legacy
};
std::string_view ItemTypeName(ItemType type);  // the wire name, e.g. "trace-create"

// What an item's body describes; creates and updates of one kind merge (upserts).
enum class Family { kTrace, kSpan, kGeneration, kEvent, kScore, kLog };
std::string_view FamilyName(Family family);  // "trace", "span", ...

struct Item {
  std::string id;  // the envelope id: Langfuse's dedup key for the item
  int64_t timestamp_ms = 0;
  ItemType type = ItemType::kTraceCreate;
  Family family = Family::kTrace;  // for observation-*: from body.type
  bool is_update = false;          // *-update: the entity must already exist somewhere
  nlohmann::json body;             // a JSON object
  // body.id, or the envelope id when a create has none (Langfuse then generates one; we need a
  // stable one to merge and dedup).
  std::string body_id;
};

struct ItemError {
  std::string id;  // the envelope id as sent ("" when missing or not a string)
  int status = 400;
  std::string message;  // names the field
  // The item's type when it declared a known one ("span-create", ...), else "unknown" (metrics).
  std::string_view type = "unknown";
};

struct ParsedIngestion {
  std::vector<Item> items;        // the valid items, in request order
  std::vector<ItemError> errors;  // one per invalid item, in request order
  int64_t batch_size = 0;         // items in the request, valid or not
};

struct ParseLimits {
  int64_t max_items = 1000;  // a larger batch is a whole-request error (400)
  int max_depth = 64;        // JSON nesting; deeper is a whole-request error
};

// kInvalidArgument (the message is fit for the client) when `body` is not JSON, nested deeper
// than limits.max_depth, not an object with a "batch" array, or the batch holds more than
// limits.max_items entries.
absl::StatusOr<ParsedIngestion> ParseIngestion(std::string_view body, const ParseLimits& limits);

}  // namespace cohort::ingest::langfuse
