// The event store (analytics/engine/event_store.h: embedded or ClickHouse) as a sink of the
// write-ahead log: each batch is stored durably before the runner acknowledges it, so the WAL may
// then delete those records, and a replay after a crash is absorbed by the store's dedup. Between
// batches, in the delivering thread, the sink runs the store's upkeep (merging small segments)
// every few batches and enforces the retention period once an hour of clock time.
//
// Thread-safe: the runner may deliver several batches at once; the store serializes writes.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "analytics/engine/event_store.h"
#include "ingest/sinks/dead_letter.h"
#include "ingest/sinks/sink.h"

namespace cohort::ingest::sinks {

struct StoreSinkOptions {
  std::string name = "store";
  analytics::EventStore* store = nullptr;  // required; must outlive the sink
  DeadLetterFile* dead_letter = nullptr;   // required
  // EventStore::Maintain after this many batches (0: never, tests).
  int64_t maintain_every_batches = 64;
  // Events older than this leave the store (EventStore::ExpireBefore), checked on the first
  // batch and then once per `expire_every` of the delivery clock. Zero: keep everything.
  absl::Duration retention = absl::ZeroDuration();
  absl::Duration expire_every = absl::Hours(1);
};

class StoreSink final : public Sink {
 public:
  explicit StoreSink(StoreSinkOptions options) : options_(std::move(options)) {}

  // Events that cannot be converted (damaged JSON fields) go to the dead-letter file; a store
  // error is returned as is (the runner retries the whole batch; dedup makes that safe).
  absl::Status Deliver(const SinkBatch& batch, DeliveryControl& control) override;
  bool reads_records() const override { return true; }

 private:
  void Upkeep(absl::Time now);

  const StoreSinkOptions options_;
  std::atomic<int64_t> batches_{0};
  absl::Mutex expire_mu_;
  absl::Time last_expire_ ABSL_GUARDED_BY(expire_mu_) = absl::InfinitePast();
};

}  // namespace cohort::ingest::sinks
