// Property objects as the ingest stores them: a simdjson DOM value re-serialized as compact JSON
// text with Amplitude's limits (validation.h) — strings and keys truncated to
// kMaxStringCodePoints, containers at most kMaxPropertyDepth deep. Shared by the Amplitude and the
// native parsers, so both store the same bytes for the same properties.
#pragma once

#include <simdjson.h>

#include <string>

namespace cohort::ingest::amplitude {

// Appends `value` to `*out`. False (and `*out` partly written) when a container sits deeper than
// kMaxPropertyDepth; `depth` is the level of `value` if it is a container (1 for a top-level
// property object). Never throws.
bool AppendCompactJson(simdjson::dom::element value, int depth, std::string* out);

}  // namespace cohort::ingest::amplitude
