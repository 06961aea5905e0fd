// The embedded store's query engine: answers a typed Query (model/query.h) from the current
// snapshot of the query's project. The actor view of a (project, data version, identity mode) is
// built once and shared by the queries that follow until the data changes.
//
// Thread-safe: queries may run concurrently with each other and with appends.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "analytics/engine/event_store.h"
#include "analytics/model/query.h"
#include "analytics/model/result.h"
#include "analytics/store/actor_view.h"
#include "analytics/store/segment_store.h"

namespace cohort::analytics::store {

class EmbeddedEngine {
 public:
  // `store` must outlive the engine.
  explicit EmbeddedEngine(const SegmentStore& store) : store_(store) {}

  // Errors: kInvalidArgument (a time zone not in the tz database, a funnel of more than 16
  // steps).
  [[nodiscard]] absl::StatusOr<EngineAnswer> Run(const Query& query);

  // Drill-down: the actors behind one number of Run(query)'s result (query.h, CellRef), sorted
  // by id bytes, at most `limit` after `after` — exactly the actors the number counted (the
  // same executor computes both). Errors: as Run's; kInvalidArgument naming "cell" when the
  // result has no such cell, "limit" when limit < 1.
  [[nodiscard]] absl::StatusOr<ActorsPage> Actors(const Query& query, CellRef cell,
                                                  const std::string& after, int limit);

 private:
  std::shared_ptr<const ActorView> ViewFor(const std::string& project, IdentityMerge identity,
                                           uint64_t* version);

  const SegmentStore& store_;
  absl::Mutex mu_;
  struct Cached {
    uint64_t generation = 0;  // Snapshot::generation the view was built from
    std::shared_ptr<const ActorView> view;
  };
  absl::flat_hash_map<std::pair<std::string, IdentityMerge>, Cached> views_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::analytics::store
