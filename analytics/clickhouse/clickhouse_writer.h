// Writes events into the store's ClickHouse table (clickhouse_schema.h) as JSONEachRow inserts,
// numbering each row's `arrival`: the order in which copies reached the store, by which the
// query-time dedup keeps the first copy of an (group, insert_id).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/event.h"
#include "common/clock.h"

namespace cohort::analytics::clickhouse {

struct ClickHouseWriterOptions {
  // The table inserts go to, "db.events" (EventsTable(schema options); with a cluster the
  // Distributed table — give the client insert_distributed_sync=1 to read rows back at once).
  std::string table;
  // Rows per InsertJsonEachRow call (the client splits a call further by bytes).
  size_t max_batch_rows = 10'000;
  // Arrival numbers come from this clock; nullptr: RealClock. Must outlive the writer.
  Clock* clock = nullptr;
};

// Thread-safe: Append calls are serialized (one insert at a time per writer), so arrival numbers
// also follow the order in which rows were sent.
class ClickHouseWriter {
 public:
  // `executor` must outlive the writer; retries are the executor's (ClickHouseClient retries
  // transient failures, clickhouse_client.h).
  ClickHouseWriter(SqlExecutor& executor, ClickHouseWriterOptions options);

  // Inserts `events` in order, max_batch_rows per insert. Arrival numbers: unix_ms(clock) * 2^20 +
  // a counter, strictly increasing over the writer's life even when the clock steps back or more
  // than 2^20 rows arrive in a millisecond (they borrow from the next milliseconds), so a copy
  // sent later always gets a larger arrival than an earlier one from this writer.
  //
  // Not atomic: on an error the batches before the failing one are stored. Resending the same
  // events is safe (the dedup keeps the first copy).
  //
  // Errors: kInvalidArgument (nothing sent) for an event without an insert_id or with neither a
  // user_id nor a device_id; the executor's errors.
  [[nodiscard]] absl::Status Append(const std::vector<Event>& events);

  // The last arrival number given (0 before any).
  uint64_t last_arrival() const;

 private:
  SqlExecutor& executor_;
  const ClickHouseWriterOptions options_;
  Clock& clock_;
  mutable absl::Mutex mu_;
  uint64_t last_arrival_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::analytics::clickhouse
