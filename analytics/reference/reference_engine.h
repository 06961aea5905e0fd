// The brute-force reference implementation of every metric query (issue 6, "Correctness"): the
// oracle the embedded store and the ClickHouse backend are compared with on randomized data.
// Written straight from analytics.md for clarity, not speed; the choices it leaves open are in
// README.md (and docs/metrics.md).
//
// Each call deduplicates nothing (the constructor did), resolves identities for the query's
// scope, builds every actor's timeline, and computes the answer from it.
//
// Thread-safe to share: const methods only.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/model/event.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"

namespace cohort::analytics {

class ReferenceEngine {
 public:
  // `events_in_arrival_order`: every event as stored, duplicates included; the first copy of a
  // (project, device_id or user_id, insert_id) wins.
  explicit ReferenceEngine(std::vector<Event> events_in_arrival_order);

  // Errors (queries the engine cannot answer; empty data gives zero results): kInvalidArgument
  // naming the field for an unknown time zone ("time_zone"), a formula that does not parse
  // ("formulas"), or statistics parameters the tests reject ("confidence", "expected_split",
  // "msprt_tau2").
  [[nodiscard]] absl::StatusOr<Result> Run(const Query& query) const;

  // The actors behind one number of Run(query)'s result (query.h, CellRef): sorted by id bytes,
  // at most `limit` after `after`. Errors: as Run's, and kInvalidArgument naming "cell" when the
  // result has no such cell or "limit" when limit < 1.
  [[nodiscard]] absl::StatusOr<ActorsPage> Actors(const Query& query, CellRef cell,
                                                  const std::string& after, int limit) const;

 private:
  std::vector<Event> events_;  // deduplicated, in arrival order
};

}  // namespace cohort::analytics
