// The write-ahead log of cohort-ingest: accepted events are appended here, durably, before the
// HTTP layer answers 2xx; sinks (the event store, Amplitude, files) read them back at least once
// from their own persisted positions. Records are opaque byte strings (the event encoding is the
// caller's). Format: segment_format.h.
//
// Durability. Append returns OK only once its records are written and fdatasynced (group commit:
// the first queued caller becomes the leader, writes every queued batch up to max_batch_bytes in
// one write, issues one fdatasync and releases them all). Segment creation, rename and removal
// are followed by an fsync of the directory. A failed fdatasync/fsync of log data, or of the
// directory after a segment is created, is fatal: after it the page cache state is unknown, so
// the only safe continuation is a crash and recovery from what is on disk. WalOptions::on_fatal is
// called (default: log and std::abort()); if it returns (tests), the log is failed: the batch's
// callers and every later call get an error, never OK.
//
// Recovery (Open). Every segment is scanned (each CRC, each seal's SHA-256):
//   - a torn tail (an incomplete or CRC-failing record with no valid record after it, at the
//     end of the LAST segment) is truncated away and the file fsynced: it was never
//     acknowledged, because its batch's fdatasync did not complete;
//   - anything else (a bad CRC followed by a valid record, any damage in a sealed segment, a
//     seal whose SHA-256 mismatches, an unsealed segment that is not the last) is corruption:
//     the segment is moved to `quarantine/` (both directories fsynced) and reported. The valid
//     records before the damage are still delivered to readers (each passed its CRC, and sinks
//     are at-least-once, so delivering them is safe; dropping them would lose acknowledged
//     events); the damaged part and everything after it is not. Quarantined files are never
//     deleted by the log: an operator inspects them (`cohort-wal dump`) and removes them.
//     A torn multi-page batch whose later page reached the disk before an earlier one is
//     indistinguishable from corruption and is quarantined too (conservative: nothing is lost).
//   - the last segment, if it holds records, is then sealed and a new segment started, so every
//     segment but the active one is sealed or quarantined.
// RecoveryReport says what was done; the server logs it and exports it as metrics. Open reads
// every byte of the log once (CRC32C and SHA-256 at disk speed), so its time grows with the
// backlog the sinks have not acknowledged; the server is not ready until it returns.
//
// Disk cap policy. The bytes of the WAL directory (segments and quarantined files; sink
// positions are negligible) never exceed max_total_bytes, and the filesystem keeps at least
// min_free_bytes free: an Append whose records, plus room for one rotation, would cross either
// limit is refused with kResourceExhausted before anything is written (the HTTP layer answers
// 503 and the client resends). Space comes back when every sink has acknowledged past a sealed
// segment, which is then deleted. With no sink registered nothing is ever deleted (a sink that
// registers later must see everything). A write that fails with ENOSPC anyway is truncated away
// and its callers get kResourceExhausted; nothing of it is acknowledged.
//
// Sinks. A sink is a name with a position (the next record it needs), persisted atomically
// (temp file, fsync, rename, directory fsync) by Ack, so after a restart it resumes from its last
// acknowledged position: at-least-once. A failed fsync there is not fatal: the rename does not
// happen and the older persisted position stays, which only re-delivers. A sealed segment is
// deleted once every registered sink's position is past it.
//
// One process per directory: Open takes an exclusive lock on `LOCK` in it (flock, released when
// the Wal is destroyed or the process dies), so a second server pointed at the same volume by
// mistake fails to start instead of interleaving segments.
//
// Thread safety: Wal is thread-safe. A WalReader is used by one thread at a time; the Wal must
// outlive its readers.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "common/file_env.h"
#include "ingest/wal/segment_format.h"

namespace cohort::ingest::wal {

// The default fatal handler: logs `status` at critical level and calls std::abort().
[[noreturn]] void LogAndAbort(const absl::Status& status);

struct WalOptions {
  std::string dir;  // created if missing; holds segments, sinks/ and quarantine/
  Env* env = &PosixEnv();
  Clock* clock = &RealClock::Get();     // readers' deadlines
  uint64_t segment_bytes = 64 << 20;    // rotate once a segment would grow past this
  uint64_t max_record_bytes = 4 << 20;  // larger records are refused (<= kMaxRecordBytes)
  uint64_t max_batch_bytes = 4 << 20;   // one group commit writes at most about this much
  // The disk cap (see above). The server sets it from the config: the embedded storage size
  // minus what the store needs, or a dedicated WAL size.
  uint64_t max_total_bytes = uint64_t{8} << 30;
  uint64_t min_free_bytes = 256 << 20;
  // Called on a failed fdatasync/fsync of log data; must not return in production.
  std::function<void(const absl::Status&)> on_fatal = LogAndAbort;
};

// What Open found and did.
struct RecoveryReport {
  int segments_scanned = 0;
  int64_t records = 0;  // valid data records found in the log (quarantined prefixes too)
  uint64_t bytes = 0;   // segment bytes scanned
  struct Truncation {
    uint64_t segment = 0;
    uint64_t from_size = 0;
    uint64_t to_size = 0;
    std::string reason;
  };
  std::optional<Truncation> torn_tail;
  struct Quarantine {
    uint64_t segment = 0;
    uint64_t damage_offset = 0;
    std::string reason;
    int64_t records_kept = 0;  // valid records before the damage, still delivered
    std::string path;          // where the file is now
  };
  std::vector<Quarantine> quarantined;
  std::vector<uint64_t> removed_empty_segments;  // a segment with no record (torn creation)
  std::optional<uint64_t> sealed_on_open;        // the previous run's last segment
  int sinks = 0;
  std::vector<std::string> sinks_reset;  // unreadable position files: restarted from the start
  uint64_t quarantine_bytes = 0;         // all of quarantine/, counted against the cap

  bool clean() const { return !torn_tail && quarantined.empty() && sinks_reset.empty(); }
  std::string ToString() const;  // one line for the log
};

// One record read back. `payload` stays valid until the reader's next call.
struct WalRecord {
  Lsn lsn;   // where it starts
  Lsn next;  // the position after it (what a sink acknowledges once it has consumed it)
  std::string_view payload;
};

class Wal;

// Reads durable records in log order from a position, following appends as they become durable.
class WalReader {
 public:
  WalReader(const WalReader&) = delete;
  WalReader& operator=(const WalReader&) = delete;

  // The next durable record at or after position(), waiting (on the Wal's clock) until
  // `deadline` for one to be appended. nullopt: none by the deadline (absl::InfinitePast() polls).
  // Errors: kCancelled once the Wal is closed or failed and every durable record was read;
  // kDataLoss when a record fails its CRC on the way back (damage after recovery); I/O errors.
  // A position inside a deleted segment moves to the oldest segment still in the log.
  [[nodiscard]] absl::StatusOr<std::optional<WalRecord>> Next(absl::Time deadline);

  // The position of the next record Next will look at.
  Lsn position() const { return pos_; }

 private:
  friend class Wal;
  WalReader(Wal& wal, Lsn from) : wal_(wal), pos_(from) {}
  absl::Status Fill(uint64_t offset, uint64_t need, uint64_t limit);

  Wal& wal_;
  Lsn pos_;
  uint64_t file_segment_ = 0;
  std::string file_path_;
  RandomAccessFilePtr file_;
  std::string buf_;
  uint64_t buf_offset_ = 0;
};
using WalReaderPtr = std::unique_ptr<WalReader>;

class Wal {
 public:
  // Opens (creating if needed) the log in options.dir and recovers it (see above). Errors: I/O
  // errors, kInvalidArgument for bad options, kFailedPrecondition when another Wal (in any
  // process) has the directory open. Until this returns, the server is not ready.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Wal>> Open(WalOptions options);

  // Close()s.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  const RecoveryReport& recovery() const { return recovery_; }

  // Appends `records` (in order, contiguous in the log; another caller's batch never interleaves)
  // and returns once they are durable, with the position of the first. Errors:
  // kInvalidArgument (no records, or one over max_record_bytes), kResourceExhausted (the disk
  // cap or the free-space reserve would be crossed, or the disk is full: nothing was stored),
  // kFailedPrecondition (closed, or failed after a fatal error), other I/O errors (nothing of the
  // batch is acknowledged; it may be on disk and then is delivered: at-least-once).
  [[nodiscard]] absl::StatusOr<Lsn> Append(absl::Span<const std::string_view> records);

  // A reader from `from` (Lsn{} = the oldest record in the log).
  [[nodiscard]] WalReaderPtr NewReader(Lsn from = Lsn{});

  // Registers a sink named `name` ([a-z0-9][a-z0-9._-]{0,62}) and returns its position: the
  // persisted one if it exists, else the oldest record in the log (persisted now).
  [[nodiscard]] absl::StatusOr<Lsn> RegisterSink(std::string_view name);
  // Records that sink `name` has consumed everything before `position` (a WalRecord::next) and
  // persists it; then deletes sealed segments every sink is past. An older position than the
  // current one is ignored. Errors: kNotFound (unknown sink), kInvalidArgument (position past
  // the durable end), I/O errors (the previous position stays persisted).
  [[nodiscard]] absl::Status Ack(std::string_view name, Lsn position);
  [[nodiscard]] absl::StatusOr<Lsn> SinkPosition(std::string_view name) const;
  // Forgets a sink (its file is removed): it no longer holds segments back.
  [[nodiscard]] absl::Status RemoveSink(std::string_view name);

  // Refuses further appends, waits for the batch in flight, closes the active segment and wakes
  // readers. Idempotent.
  void Close();

  struct Stats {
    uint64_t total_bytes = 0;  // the bytes counted against max_total_bytes
    int segments = 0;          // in the log (quarantined ones included)
    Lsn begin;                 // the oldest position in the log
    Lsn durable_end;           // the position after the last durable record
    int64_t appended_records = 0;
    uint64_t appended_bytes = 0;  // encoded
    int64_t data_syncs = 0;       // fdatasyncs of log data (one per group commit)
    absl::Duration sync_time;     // their total duration
    int64_t refused_appends = 0;  // kResourceExhausted answers
    int64_t deleted_segments = 0;
  };
  Stats stats() const;

 private:
  friend class WalReader;
  struct Writer;
  struct Segment {
    std::string path;
    uint64_t size = 0;          // bytes on disk (counted in total_bytes_ unless quarantined)
    uint64_t readable_end = 0;  // readers stop here
    bool final = false;         // sealed or quarantined: readable_end never moves
    bool quarantined = false;
  };

  explicit Wal(WalOptions options);
  absl::Status Recover();
  absl::Status RecoverSegment(uint64_t seq, bool last, std::optional<uint64_t>& reseal);
  absl::Status LoadSinks();
  absl::Status OpenNewSegment(uint64_t seq);                 // leader or Open only
  absl::Status Seal();                                       // leader only
  absl::Status WriteBatch(absl::Span<Writer* const> batch);  // leader only
  void Fatal(const absl::Status& status);
  absl::Status DeleteAckedSegments();
  Lsn BeginLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasNewData(Lsn pos) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string SinkPath(std::string_view name) const;

  const WalOptions options_;
  Env& env_;
  FileLockPtr dir_lock_;  // `LOCK`, held for the Wal's life
  RecoveryReport recovery_;

  mutable absl::Mutex mu_;
  std::map<uint64_t, Segment> segments_ ABSL_GUARDED_BY(mu_);
  Lsn durable_end_ ABSL_GUARDED_BY(mu_);
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t free_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Writer*> queue_ ABSL_GUARDED_BY(mu_);
  bool leader_busy_ ABSL_GUARDED_BY(mu_) = false;  // a released leader is still hashing
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  Stats counters_ ABSL_GUARDED_BY(mu_);

  // Sinks: Ack and registration are serialized by sinks_mu_ (taken before mu_, never after).
  mutable absl::Mutex sinks_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<std::string, Lsn, std::less<>> sinks_ ABSL_GUARDED_BY(sinks_mu_);

  // Writer state: touched only by the current leader (the front of queue_, or the previous one
  // while leader_busy_), by Open, and by Close once the queue is empty and no leader is busy, so
  // it needs no lock.
  WritableFilePtr file_;
  uint64_t active_seq_ = 0;
  uint64_t active_size_ = 0;
  Sha256 sha_;
  std::string batch_;
};

}  // namespace cohort::ingest::wal
