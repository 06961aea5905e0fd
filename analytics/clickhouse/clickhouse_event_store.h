// The ClickHouse backend of EventStore (analytics/engine/event_store.h), for pipelines that
// outgrow one node: events go to the schema of clickhouse_schema.h through ClickHouseWriter,
// queries run as SQL (clickhouse_*_query.h) with dedup and identity resolved at query time,
// deletion is a waited-for mutation, retention drops whole months (partitions).
//
// Not yet on this backend (answered kUnimplemented with the field, never a wrong number): filters
// and group-bys on user properties (docs/metrics.md, "ClickHouse backend").
//
// Thread-safe when the executors are (ClickHouseClient is).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "analytics/clickhouse/clickhouse_schema.h"
#include "analytics/clickhouse/clickhouse_writer.h"
#include "analytics/clickhouse/sql_executor.h"
#include "analytics/engine/event_store.h"
#include "common/clock.h"

namespace cohort::analytics::clickhouse {

struct ClickHouseEventStoreOptions {
  ClickHouseSchemaOptions schema;
  // With a cluster: every shard's server, for migrations, deletion mutations and partition drops
  // (18.16 has no ON CLUSTER without ZooKeeper). Empty: the main executor is the only server.
  // Each must outlive the store.
  std::vector<SqlExecutor*> shards;
  size_t max_batch_rows = 10'000;  // rows per insert
  Clock* clock = nullptr;          // arrival numbers and waits; nullptr: RealClock
};

class ClickHouseEventStore final : public EventStore {
 public:
  // The store over `sql` (the server queries and inserts go to; must outlive it). No I/O here:
  // the first call that needs the server brings the schema up to date (MigrateSchema on every
  // shard) and later calls skip that once it succeeded, so a server that is down at start only
  // delays (the store sink retries; queries answer kUnavailable). Errors: kInvalidArgument for
  // bad schema options.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseEventStore>> Create(
      SqlExecutor& sql, ClickHouseEventStoreOptions options);

  // Durable when the server acknowledged the insert (ClickHouse's MergeTree writes a part before
  // it answers). `stored` counts the rows sent; duplicates are dropped at query time.
  absl::StatusOr<AppendCounts> Append(std::vector<Event> events) override;
  absl::StatusOr<EngineAnswer> Run(const Query& query) override;
  absl::StatusOr<ActorsPage> Actors(const Query& query, CellRef cell, const std::string& after,
                                    int limit) override;
  // A digest of the project's row count and newest arrival number: changes with every insert,
  // deletion and dropped partition.
  absl::StatusOr<uint64_t> DataVersion(const std::string& project) override;
  absl::StatusOr<int64_t> DeleteUser(const std::string& project,
                                     const std::string& user_id) override;
  // Drops the months strictly before the cutoff's UTC month on every shard.
  absl::Status ExpireBefore(int64_t cutoff_ms) override;
  // Nothing to do: ClickHouse merges parts itself.
  absl::Status Maintain() override { return absl::OkStatus(); }

 private:
  ClickHouseEventStore(SqlExecutor& sql, ClickHouseEventStoreOptions options);
  std::vector<SqlExecutor*> Shards() const;
  absl::Status EnsureSchema();

  SqlExecutor& sql_;
  const ClickHouseEventStoreOptions options_;
  const std::string table_;
  ClickHouseWriter writer_;
  absl::Mutex schema_mu_;
  bool schema_ready_ ABSL_GUARDED_BY(schema_mu_) = false;
};

}  // namespace cohort::analytics::clickhouse
