// The embedded event store as a sink of the write-ahead log: each batch becomes one durable
// segment of the store (analytics/store/segment_store.h) before the runner acknowledges it, so
// the WAL may then delete those records, and a replay after a crash is absorbed by the store's
// dedup. Small segments are merged once enough of them pile up (in the delivering thread, between
// batches).
//
// Thread-safe: the runner may deliver several batches at once; the store serializes writes.
#pragma once

#include <cstdint>
#include <string>

#include "analytics/store/segment_store.h"
#include "ingest/sinks/dead_letter.h"
#include "ingest/sinks/sink.h"

namespace cohort::ingest::sinks {

struct StoreSinkOptions {
  std::string name = "store";
  analytics::store::SegmentStore* store = nullptr;  // required; must outlive the sink
  DeadLetterFile* dead_letter = nullptr;            // required
  // Merge small segments after this many batches (0: never, tests).
  int64_t merge_every_batches = 64;
};

class StoreSink final : public Sink {
 public:
  explicit StoreSink(StoreSinkOptions options) : options_(std::move(options)) {}

  // Events that cannot be converted (damaged JSON fields) go to the dead-letter file; a store
  // error is returned as is (the runner retries the whole batch; dedup makes that safe).
  absl::Status Deliver(const SinkBatch& batch, DeliveryControl& control) override;

 private:
  const StoreSinkOptions options_;
  std::atomic<int64_t> batches_{0};
};

}  // namespace cohort::ingest::sinks
