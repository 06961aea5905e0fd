// User properties as of each event in ClickHouse (docs/metrics.md, "User properties as of an
// event"): the SQL that folds an actor's $identify operations in the total order and gives every
// event the user properties it sees — the folded state with the event's own user_properties over
// it; an $identify event sees the state after its own operations. 18.16 has no arrayFold, so the
// fold is written in closed form over the per-key operations the writer stores
// (clickhouse_event_row.h, "User properties"): after the last reset of a key (an unset, a set,
// $clearAll) the key is present from the reset if it was a set, else from the first $setOnce or
// $add after it; its value is that set's or $setOnce's value, or — once $adds follow — a number
// summed in order from it (arrayCumSum, so doubles agree with the embedded store to the bit).
//
// Pure string building, like clickhouse_events_sql.h.
#pragma once

#include <string>
#include <vector>

#include "analytics/model/query.h"

namespace cohort::analytics::clickhouse {

// The columns that hold one user property of an event in WithUserPropertiesSql's output.
struct UserPropertyColumns {
  std::string set;     // UInt8: 1 when the event sees the key
  std::string kind;    // UInt8: the value's prop_kinds code (0 when not set)
  std::string text;    // String: as prop_strings
  std::string number;  // Float64: as prop_numbers
};
UserPropertyColumns UserPropertyColumnsOf(const std::string& key);

// The user-property keys `selectors` filter on and `group_by` names, sorted, each once.
std::vector<std::string> UserPropertyKeys(const std::vector<const EventSelector*>& selectors,
                                          const std::optional<PropertyRef>& group_by);

// A parenthesised subquery over `events` — a subquery with the columns of DedupedEventsSql plus
// the uop_* columns — giving the same rows and columns plus UserPropertyColumnsOf(key) for each
// of `keys` (not empty). Every event goes through its actor's sorted array: use it only for queries
// that read user properties.
std::string WithUserPropertiesSql(const std::string& events, const std::vector<std::string>& keys);

}  // namespace cohort::analytics::clickhouse
