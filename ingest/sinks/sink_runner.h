// Runs one Sink over the write-ahead log: reads from the sink's persisted position, decodes,
// batches, delivers with bounded concurrency and acknowledges the log (Wal::Ack) only up to the
// contiguous prefix of completed batches, so after a crash the sink resumes from the first batch
// not known to be delivered: at-least-once, in log order per batch.
//
// Batching: a batch is closed when it holds max_batch_events events, or max_batch_bytes of
// records, or flush_interval (on the injected clock) after its first record was read.
// At most `concurrency` batches are being delivered (or waiting to be) at once; the reader waits
// for a free slot before it starts the next one.
//
// Records that do not decode (DecodeEvent kDataLoss / kUnimplemented) go to the dead-letter file
// with the reason and are acknowledged with their batch: they never block the sink. A failed
// Deliver (other than kCancelled after Stop's deadline) is retried with exponential backoff and
// jitter between retry_base and retry_cap, forever: events are never dropped.
//
// Metrics (labels sink=<name>): cohort_sink_lag_bytes, cohort_sink_lag_records (records read and
// not acknowledged, plus the unread bytes at the observed average record size),
// cohort_sink_delivered_events_total, cohort_sink_retries_total,
// cohort_sink_dead_lettered_total{reason}, cohort_sink_batches_in_flight, and
// cohort_sink_state{state} (1 for the current one of "starting", "running", "retrying",
// "stopping", "stopped").
//
// Thread safety: Start and Stop from one controlling thread; the rest is internal.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "ingest/sinks/dead_letter.h"
#include "ingest/sinks/sink.h"
#include "ingest/wal/wal.h"

namespace cohort::ingest::sinks {

struct SinkRunnerOptions {
  std::string name;  // the WAL sink name ([a-z0-9][a-z0-9._-]{0,62}) and the metrics label
  int64_t max_batch_events = 100;
  uint64_t max_batch_bytes = 1 << 20;  // encoded records per batch
  absl::Duration flush_interval = absl::Seconds(1);
  int concurrency = 1;  // batches in flight, >= 1
  // How often the reader looks for new records and for Stop when the log is idle.
  absl::Duration poll_interval = absl::Milliseconds(10);
  absl::Duration retry_base = absl::Milliseconds(100);
  absl::Duration retry_cap = absl::Seconds(30);
  // The WAL's segment size (WalOptions::segment_bytes): the lag across segments is estimated with
  // it.
  uint64_t segment_bytes = 64 << 20;
  Clock* clock = &RealClock::Get();
  Registry* registry = nullptr;           // required
  DeadLetterFile* dead_letter = nullptr;  // required
};

class SinkRunner {
 public:
  // `wal`, `sink` and everything in `options` must outlive the runner.
  SinkRunner(wal::Wal& wal, Sink& sink, SinkRunnerOptions options);
  // Stop(now) if still running.
  ~SinkRunner();
  SinkRunner(const SinkRunner&) = delete;
  SinkRunner& operator=(const SinkRunner&) = delete;

  // Registers the sink with the log (RegisterSink) and starts the reader and `concurrency`
  // delivery threads from its persisted position. Errors: kInvalidArgument (options),
  // kFailedPrecondition (already started), errors of RegisterSink.
  [[nodiscard]] absl::Status Start();

  // Graceful shutdown: stops reading, hands the batch being assembled to delivery, lets in-flight
  // batches finish until `deadline` (on the clock), then cancels the rest, acknowledges the
  // contiguous prefix of completed batches and joins the threads. OK when everything read was
  // delivered and acknowledged; kDeadlineExceeded when batches were cancelled (they are delivered
  // again after a restart); the Ack error if the last Ack failed. Idempotent.
  absl::Status Stop(absl::Time deadline);

  // The position acknowledged so far.
  wal::Lsn acked() const;

  struct Stats {
    int64_t delivered_events = 0;
    int64_t dead_lettered = 0;
    int64_t retries = 0;
    int64_t batches = 0;  // completed
  };
  Stats stats() const;

 private:
  class Control;

  void ReadLoop();
  void DeliverLoop();
  // Waits for a free slot and queues `batch` (dropped, unacknowledged, once cancelled).
  void Dispatch(std::unique_ptr<SinkBatch> batch);
  void Complete(const SinkBatch& batch);
  absl::Status AckTo(wal::Lsn position);
  void SetState(const char* state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateLag(wal::Lsn read_position) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes undecodable records to the dead-letter file (retrying a few times; see .cc).
  void DeadLetterRecords(std::vector<DeadLetter> letters);
  absl::Duration Backoff(int attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Stopping() const;

  wal::Wal& wal_;
  Sink& sink_;
  const SinkRunnerOptions options_;
  Clock& clock_;
  std::unique_ptr<Control> control_;

  // Metrics.
  Gauge* lag_bytes_ = nullptr;
  Gauge* lag_records_ = nullptr;
  Counter* delivered_ = nullptr;
  Counter* retries_ = nullptr;
  CounterFamily* dead_lettered_ = nullptr;
  Gauge* in_flight_gauge_ = nullptr;
  GaugeFamily* state_ = nullptr;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;   // no more reading
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;  // in-flight deliveries give up
  bool reader_done_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::unique_ptr<SinkBatch>> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;                       // queued + being delivered
  std::map<uint64_t, wal::Lsn> completed_ ABSL_GUARDED_BY(mu_);  // out-of-order completions
  uint64_t next_ack_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  wal::Lsn acked_ ABSL_GUARDED_BY(mu_);          // persisted by Wal::Ack
  wal::Lsn completed_end_ ABSL_GUARDED_BY(mu_);  // the end of the completed prefix
  int64_t unacked_records_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, int64_t> batch_records_ ABSL_GUARDED_BY(mu_);  // sequence -> records
  double avg_record_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  const char* state_name_ ABSL_GUARDED_BY(mu_) = "";

  // Serializes Wal::Ack calls; taken before mu_, never after.
  absl::Mutex ack_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Status last_ack_status_ ABSL_GUARDED_BY(ack_mu_);

  std::thread reader_;
  std::vector<std::thread> workers_;
  bool stopped_ = false;  // controlling thread only
};

}  // namespace cohort::ingest::sinks
