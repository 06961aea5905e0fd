// The pipeline's mapping rules (config::MappingRule, docs/ingest-config.md "mapping"), compiled
// once and applied to every accepted event, in order: the EventMapper of
// ingest/server/event_intake.h is
//
//   std::shared_ptr<const mapping::RuleSet> rules = ...;
//   options.mapper = [rules](Event& e) { return rules->Apply(e); };
//
// What rules see: the Event as an Amplitude-shaped object (event_paths.h lists the addressable
// top-level names; `payload` is another name of `event_properties`, where the native envelope's
// payload is kept). Semantics, per action:
//   Rename   event_type = target.
//   Drop     no target: the event is dropped (Apply returns false). A target is removed: a string
//            field becomes "" (absent), a JSON object member or array element is erased, a whole
//            JSON field (`event_properties`) becomes absent. Removing what is absent does nothing.
//   Set      the string `value` is written at target.
//   Copy     the value at `from` is written at target (a JSON number stays a number inside a JSON
//            field; a string field receives the value as text: strings as they are, other JSON
//            values as compact JSON text; a JSON null is not written there, so an id never
//            becomes "null"). `from` absent: nothing happens.
//   Extract  the value at `from`; with jsonPath, a string value is parsed as JSON first (not JSON:
//            no match) and the first node jsonPath selects is copied as by Copy; with regex, the
//            first capture group over the value as text is written as a string (no match, or a
//            group that did not take part: nothing happens; an empty group writes "").
// Writing into a JSON field creates the field and missing intermediate objects; an array index
// must exist. When something else is in the way (a string where an object is needed, an index
// out of range, the field's text is not a JSON object) the write does nothing: rules never fail an
// event. Numeric fields (time, session_id, price, ...) can be read (as JSON numbers) and matched
// but are not rule targets; neither are `project` and `source` (not addressable at all).
//
// Matching: source and eventType compare exactly; a property match selects with a JSONPath (which
// may contain wildcards below the top-level name): `equals` holds when some selected value's text
// (a string's content, other values as compact JSON) equals it, `regex` when RE2 finds it in some
// selected value's text (unanchored), neither when something is selected. A field whose JSON text
// is malformed reads as absent and is never rewritten (a Drop of the whole field clears it).
//
// Cost: the JSON fields are parsed (nlohmann, key order kept) only when a rule reads or writes
// inside them, at most once per Apply, and written back compactly once at the end, only when a
// rule changed them. Before parsing, a property match consults a Bloom filter of the strings in the
// field's raw text (built once per event and field, when the text has no escapes): a member name,
// or an `equals` string, that is not there fails the match without a parse. mapping_bench measures
// it.
//
// Immutable after Compile: Apply is thread-safe (RE2 matching is const).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/ingest_config.h"
#include "config/json_path.h"
#include "ingest/event/event.h"
#include "ingest/mapping/event_paths.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace cohort::ingest::mapping {

class RuleSet {
 public:
  // Parses every path and compiles every regex. Errors: kInvalidArgument naming the rule,
  // `mapping[<index>] (rule "<name>"): <field>: <problem>`, for anything config validation
  // should already have rejected and for paths naming no addressable field or a read-only one.
  [[nodiscard]] static absl::StatusOr<RuleSet> Compile(
      const std::vector<config::MappingRule>& rules);

  RuleSet(RuleSet&&) noexcept;
  RuleSet& operator=(RuleSet&&) noexcept;
  ~RuleSet();

  // Applies the rules in order to `event` (in place). Returns false when a Drop rule without a
  // target dropped it (the rules after it do not run). Never fails; never throws.
  bool Apply(Event& event) const;

  size_t size() const;

  struct Rule;  // a compiled rule (rule_set.cc)

 private:
  explicit RuleSet(std::vector<Rule> rules);
  std::vector<Rule> rules_;
};

}  // namespace cohort::ingest::mapping
