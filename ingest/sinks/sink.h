// The sink interface: what reads accepted events back from the write-ahead log and delivers them
// somewhere (a JSON-lines file, Amplitude, and for the analytics issue the embedded event store
// and a ClickHouse writer). A SinkRunner (sink_runner.h) owns the reading, batching, concurrency,
// acknowledgement and shutdown; a Sink only delivers one batch at a time per calling thread.
//
// Delivery is at-least-once: a batch may be delivered again after a crash or a cancelled Stop, so
// a Sink must tolerate duplicates (Amplitude and the store deduplicate by insert_id).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ingest/event/event.h"
#include "ingest/event/event_codec.h"
#include "ingest/wal/segment_format.h"

namespace cohort::ingest::sinks {

// Consecutive events of the log. Records that could not be decoded are not in `events` (the
// runner sends them to the dead-letter file) but are inside [begin, end).
struct SinkBatch {
  uint64_t sequence = 0;  // 0, 1, 2, ... in log order, per SinkRunner::Start
  wal::Lsn begin;         // the position of the first record of the batch
  wal::Lsn end;           // the position after its last record (what is acknowledged)
  // The batch's events: decoded in `events`, or, for a sink that reads records
  // (Sink::reads_records()), still encoded in `records` (each one checked by DecodeEventView).
  std::vector<Event> events;
  EncodedRecords records;
  std::vector<wal::Lsn> positions;  // positions[i]: where event i starts in the log
  uint64_t record_bytes = 0;        // the encoded size of the records read

  size_t size() const { return positions.size(); }
};

// What a Sink may ask the runner while it delivers. Thread-safe.
class DeliveryControl {
 public:
  virtual ~DeliveryControl() = default;
  // True once the runner gives up on in-flight batches (Stop's deadline passed): Deliver should
  // return kCancelled promptly; the batch is not acknowledged and comes back after a restart.
  virtual bool cancelled() const = 0;
  // Waits on the runner's clock until `until` or cancellation; returns !cancelled(). Use it for
  // backoff so Stop is never held up by a sleeping sink.
  virtual bool WaitUntil(absl::Time until) = 0;
  virtual absl::Time Now() const = 0;
  // Bytes of the log the sink has not acknowledged yet (a backlog hint, e.g. to use a bulk API).
  virtual uint64_t lag_bytes() const = 0;
  // Counts one retry of an attempt (for the sink's retries metric).
  virtual void CountRetry() = 0;
  // Counts events the sink handed to the dead-letter file itself (e.g. rejected by Amplitude).
  virtual void CountDeadLettered(const std::string& reason, int64_t events) = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;

  // Delivers `batch` (never empty) and returns OK once the destination has it durably. Called
  // from up to SinkRunnerOptions::concurrency threads at once, each with its own batch; batches
  // may complete out of order. A sink that retries internally should wait with
  // control.WaitUntil. Returning kCancelled after control.cancelled() abandons the batch; any
  // other error is transient: the runner retries the whole batch with backoff (never a drop).
  // An event the destination will never take belongs in the dead-letter file, not in an error.
  virtual absl::Status Deliver(const SinkBatch& batch, DeliveryControl& control) = 0;

  // True: the runner leaves the events encoded (SinkBatch::records), for a sink that reads a few
  // fields of each (EventView) and would pay for building Events it does not need.
  virtual bool reads_records() const { return false; }
};

}  // namespace cohort::ingest::sinks
