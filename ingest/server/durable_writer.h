// Runs write-ahead-log appends off the HTTP I/O threads. Wal::Append blocks until its records are
// fdatasynced; a handler must not block an I/O thread, so it hands the encoded records here and
// answers from the completion. Each writer thread takes everything queued (up to
// max_group_bytes) and appends it as one batch: one write, one fdatasync, and one thread wake-up
// for a whole group of requests rather than one per request. A request's records stay contiguous
// in the log. A group the WAL refuses as a whole (a record over its size limit, or the disk cap)
// is retried request by request, so only the requests that cannot be stored fail.
//
// Memory is bounded: Submit refuses (the handler answers 503, nothing stored) once the queued
// records exceed max_queued_bytes.
//
// Thread-safe. The Wal must outlive the writer. The destructor finishes every queued write
// (calling each completion) before returning.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ingest/event/event_codec.h"
#include "ingest/wal/wal.h"

namespace cohort::ingest {

struct DurableWriterOptions {
  // >= 1. Two: one group is written while the next gathers and waits for the WAL's fdatasync.
  int threads = 2;
  int64_t max_queued_bytes = int64_t{64} << 20;  // > 0
  int64_t max_group_bytes = int64_t{8} << 20;    // > 0; a larger request is a group alone
};

class DurableWriter {
 public:
  // The write's outcome: OK once durable, else Wal::Append's error.
  using Done = std::function<void(absl::Status)>;

  DurableWriter(wal::Wal& wal, DurableWriterOptions options);
  ~DurableWriter();
  DurableWriter(const DurableWriter&) = delete;
  DurableWriter& operator=(const DurableWriter&) = delete;

  // Queues `records` (contiguous in the log); `done` runs on a writer thread with the result.
  // False, without calling `done`, when the queue is full or the writer is stopping.
  [[nodiscard]] bool Submit(EncodedRecords records, Done done) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t queued_bytes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Job {
    EncodedRecords records;
    int64_t bytes = 0;
    Done done;
  };
  void Loop();

  wal::Wal& wal_;
  const DurableWriterOptions options_;
  mutable absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cohort::ingest
