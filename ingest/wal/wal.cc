#include "ingest/wal/wal.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crc32c.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::wal {
namespace {

constexpr std::string_view kSinksDir = "sinks";
constexpr std::string_view kQuarantineDir = "quarantine";
constexpr std::string_view kSinkSuffix = ".pos";
constexpr size_t kReadChunk = 256 * 1024;
// Room an Append must leave per queued batch for one rotation (seal + next header), so rotations
// never push the directory past the cap.
constexpr uint64_t kRotationReserve = kSealRecordSize + kSegmentHeaderSize;

std::string Join(std::string_view dir, std::string_view name) {
  return absl::StrCat(std::string(dir), "/", std::string(name));
}

bool ValidSinkName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

// A sink position file: segment u64 | offset u64 | masked CRC32C of the 16 bytes before.
std::string EncodePosition(Lsn pos) {
  std::string out;
  for (uint64_t v : {pos.segment, pos.offset}) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  }
  const uint32_t crc = MaskCrc(Crc32c(out));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
  return out;
}

std::optional<Lsn> DecodePosition(std::string_view data) {
  if (data.size() != 20) return std::nullopt;
  auto get = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data[at + i]);
    return v;
  };
  if (UnmaskCrc(static_cast<uint32_t>(get(16, 4))) != Crc32c(data.substr(0, 16))) {
    return std::nullopt;
  }
  return Lsn{get(0, 8), get(8, 8)};
}

}  // namespace

void LogAndAbort(const absl::Status& status) {
  spdlog::critical("write-ahead log: fatal I/O error, crashing to recover from disk: {}",
                   status.ToString());
  spdlog::default_logger()->flush();
  std::abort();
}

std::string RecoveryReport::ToString() const {
  std::string out = absl::StrCat("scanned ", segments_scanned, " segments, ", records, " records, ",
                                 bytes, " bytes");
  if (torn_tail) {
    absl::StrAppend(&out, "; torn tail of segment ", torn_tail->segment, " truncated from ",
                    torn_tail->from_size, " to ", torn_tail->to_size, " bytes (", torn_tail->reason,
                    ")");
  }
  for (const Quarantine& q : quarantined) {
    absl::StrAppend(&out, "; segment ", q.segment, " quarantined to ", q.path, ": ", q.reason,
                    " at offset ", q.damage_offset, ", ", q.records_kept,
                    " records before it kept");
  }
  if (!removed_empty_segments.empty()) {
    absl::StrAppend(&out, "; removed empty segments ", absl::StrJoin(removed_empty_segments, ","));
  }
  if (sealed_on_open) absl::StrAppend(&out, "; sealed segment ", *sealed_on_open);
  absl::StrAppend(&out, "; ", sinks, " sinks");
  if (!sinks_reset.empty()) {
    absl::StrAppend(
        &out, " (unreadable positions reset to the start: ", absl::StrJoin(sinks_reset, ","), ")");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Group commit.

struct Wal::Writer {
  Wal* wal;
  std::string encoded;
  int64_t records = 0;
  bool done = false;
  absl::Status status;
  Lsn first;
  // With mu_ held: this caller's batch is written, or it is the leader (the previous leader has
  // finished with the writer state).
  bool Ready() const { return done || (wal->queue_.front() == this && !wal->leader_busy_); }
};

absl::StatusOr<Lsn> Wal::Append(absl::Span<const std::string_view> records) {
  if (records.empty()) return absl::InvalidArgumentError("Append: no records");
  Writer w{this};
  uint64_t size = 0;
  for (std::string_view r : records) {
    if (r.size() > options_.max_record_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("Append: a record of ", r.size(),
                                                     " bytes is over the limit of ",
                                                     options_.max_record_bytes));
    }
    size += EncodedRecordSize(r.size());
  }
  // Framing and CRCs are computed here, in parallel across callers, not by the leader.
  w.encoded.reserve(size);
  for (std::string_view r : records) AppendRecord(w.encoded, RecordType::kData, r);
  w.records = static_cast<int64_t>(records.size());

  mu_.Lock();
  for (bool refreshed = false;; refreshed = true) {
    // Every batch ahead of this one, and this one, may start a new segment.
    const uint64_t need = size + kRotationReserve * (queue_.size() + 1);
    if (failed_ || closed_) {
      const absl::Status s = failed_ ? absl::FailedPreconditionError(absl::StrCat(
                                           "write-ahead log failed: ", failure_.ToString()))
                                     : absl::FailedPreconditionError("write-ahead log closed");
      mu_.Unlock();
      return s;
    }
    if (total_bytes_ + queued_bytes_ + need > options_.max_total_bytes) {
      ++counters_.refused_appends;
      const uint64_t used = total_bytes_ + queued_bytes_;
      mu_.Unlock();
      return absl::ResourceExhaustedError(absl::StrCat("write-ahead log is at its disk cap: ", used,
                                                       " of ", options_.max_total_bytes,
                                                       " bytes used, ", size, " more requested"));
    }
    if (free_bytes_ >= queued_bytes_ + need + options_.min_free_bytes) break;
    if (refreshed) {
      ++counters_.refused_appends;
      const uint64_t free = free_bytes_;
      mu_.Unlock();
      return absl::ResourceExhaustedError(
          absl::StrCat("filesystem of the write-ahead log is nearly full: ", free,
                       " bytes free, reserve ", options_.min_free_bytes));
    }
    // The figure is refreshed after every commit; near the reserve, check the filesystem again
    // (space may have been freed by deletions or by others) before refusing.
    mu_.Unlock();
    absl::StatusOr<uint64_t> free = env_.FreeBytes(options_.dir);
    mu_.Lock();
    if (free.ok()) free_bytes_ = *free;
  }
  queued_bytes_ += size;
  queue_.push_back(&w);
  mu_.Await(absl::Condition(&w, &Writer::Ready));
  if (w.done) {
    mu_.Unlock();
    if (!w.status.ok()) return w.status;
    return w.first;
  }

  // The leader: take what is queued, up to max_batch_bytes (at least our own batch).
  std::vector<Writer*> batch;
  uint64_t batch_bytes = 0;
  for (Writer* q : queue_) {
    if (!batch.empty() && batch_bytes + q->encoded.size() > options_.max_batch_bytes) break;
    batch.push_back(q);
    batch_bytes += q->encoded.size();
  }
  absl::Status status;
  if (failed_) {
    status = absl::FailedPreconditionError(
        absl::StrCat("write-ahead log failed: ", failure_.ToString()));
  }
  mu_.Unlock();

  if (status.ok()) status = WriteBatch(batch);
  absl::StatusOr<uint64_t> free = env_.FreeBytes(options_.dir);

  mu_.Lock();
  if (free.ok()) free_bytes_ = *free;
  queued_bytes_ -= batch_bytes;
  if (status.ok()) {
    Segment& seg = segments_[active_seq_];
    seg.size = seg.readable_end = active_size_;
    durable_end_ = Lsn{active_seq_, active_size_};
    total_bytes_ += batch_bytes;
    for (Writer* q : batch) counters_.appended_records += q->records;
    counters_.appended_bytes += batch_bytes;
  } else if (status.code() == absl::StatusCode::kResourceExhausted) {
    ++counters_.refused_appends;
  }
  for (Writer* q : batch) {
    queue_.pop_front();
    q->status = status;
    q->done = true;
  }
  const Lsn first = w.first;
  // The batch is durable and its callers are released; the segment digest is brought up to date
  // before the next leader may touch the writer state.
  leader_busy_ = status.ok();
  mu_.Unlock();
  if (!status.ok()) return status;
  absl::Status hashed = sha_.Update(batch_);
  if (!hashed.ok()) Fatal(hashed);  // out of memory: the seal would be wrong
  mu_.Lock();
  leader_busy_ = false;
  mu_.Unlock();
  return first;
}

absl::Status Wal::WriteBatch(absl::Span<Writer* const> batch) {
  uint64_t bytes = 0;
  for (const Writer* q : batch) bytes += q->encoded.size();
  if (file_ != nullptr && active_size_ > kSegmentHeaderSize &&
      active_size_ + bytes > options_.segment_bytes) {
    if (absl::Status s = Seal(); !s.ok()) return s;
  }
  if (file_ == nullptr) {
    if (absl::Status s = OpenNewSegment(active_seq_ + 1); !s.ok()) return s;
  }
  batch_.clear();
  for (Writer* q : batch) {
    q->first = Lsn{active_seq_, active_size_ + batch_.size()};
    batch_.append(q->encoded);
  }
  if (absl::Status s = file_->Append(batch_); !s.ok()) {
    // Drop whatever part reached the file, so later records never follow garbage.
    if (absl::Status t = file_->Truncate(active_size_); !t.ok()) {
      Fatal(absl::InternalError(
          absl::StrCat("cannot truncate a failed write (", s.ToString(), "): ", t.ToString())));
      return absl::InternalError(absl::StrCat("write-ahead log failed: ", t.ToString()));
    }
    return s;
  }
  const absl::Time start = options_.clock->Now();
  if (absl::Status s = file_->SyncData(); !s.ok()) {
    Fatal(s);
    return absl::InternalError(absl::StrCat("write-ahead log failed: ", s.ToString()));
  }
  const absl::Duration took = options_.clock->Now() - start;
  active_size_ += batch_.size();  // sha_ is updated by the caller after releasing the batch
  absl::MutexLock lock(&mu_);
  ++counters_.data_syncs;
  counters_.sync_time += took;
  return absl::OkStatus();
}

absl::Status Wal::Seal() {
  absl::StatusOr<std::string> digest = sha_.Digest();
  if (!digest.ok()) return digest.status();
  std::string rec;
  AppendRecord(rec, RecordType::kSeal, *digest);
  if (absl::Status s = file_->Append(rec); !s.ok()) {
    if (absl::Status t = file_->Truncate(active_size_); !t.ok()) {
      Fatal(t);
      return t;
    }
    return s;
  }
  if (absl::Status s = file_->SyncData(); !s.ok()) {
    Fatal(s);
    return absl::InternalError(absl::StrCat("write-ahead log failed: ", s.ToString()));
  }
  if (absl::Status s = file_->Close(); !s.ok()) {
    spdlog::warn("write-ahead log: closing sealed segment {}: {}", active_seq_, s.ToString());
  }
  file_.reset();
  absl::MutexLock lock(&mu_);
  Segment& seg = segments_[active_seq_];
  seg.readable_end = active_size_;
  seg.size = active_size_ + rec.size();
  seg.final = true;
  total_bytes_ += rec.size();
  active_size_ += rec.size();
  return absl::OkStatus();
}

absl::Status Wal::OpenNewSegment(uint64_t seq) {
  const std::string path = Join(options_.dir, SegmentFileName(seq));
  absl::StatusOr<WritableFilePtr> file = env_.NewAppendableFile(path, /*truncate=*/true);
  if (!file.ok()) return file.status();
  const std::string header = EncodeSegmentHeader(seq);
  if (absl::Status s = (*file)->Append(header); !s.ok()) {
    (*file)->Close().IgnoreError();
    env_.RemoveFile(path).IgnoreError();
    return s;
  }
  absl::Status s = (*file)->SyncData();
  if (s.ok()) s = env_.SyncDir(options_.dir);
  if (!s.ok()) {
    Fatal(s);
    return absl::InternalError(absl::StrCat("write-ahead log failed: ", s.ToString()));
  }
  if (absl::Status r = sha_.Reset(); !r.ok()) return r;
  if (absl::Status u = sha_.Update(header); !u.ok()) return u;
  file_ = std::move(*file);
  active_seq_ = seq;
  active_size_ = header.size();
  absl::MutexLock lock(&mu_);
  segments_[seq] = Segment{path, header.size(), header.size(), false, false};
  durable_end_ = Lsn{seq, header.size()};
  total_bytes_ += header.size();
  return absl::OkStatus();
}

void Wal::Fatal(const absl::Status& status) {
  options_.on_fatal(status);
  // Only reached when a test's hook returns: the log is unusable from here on.
  absl::MutexLock lock(&mu_);
  failed_ = true;
  failure_ = status;
}

void Wal::Close() {
  mu_.Lock();
  closed_ = true;
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !leader_busy_; };
  mu_.Await(absl::Condition(&idle));
  mu_.Unlock();
  if (file_ != nullptr) {
    if (absl::Status s = file_->Close(); !s.ok()) {
      spdlog::warn("write-ahead log: closing segment {}: {}", active_seq_, s.ToString());
    }
    file_.reset();
  }
}

Wal::~Wal() { Close(); }

Wal::Stats Wal::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = counters_;
  s.total_bytes = total_bytes_;
  s.segments = static_cast<int>(segments_.size());
  s.begin = BeginLocked();
  s.durable_end = durable_end_;
  return s;
}

Lsn Wal::BeginLocked() const {
  if (segments_.empty()) return durable_end_;
  return Lsn{segments_.begin()->first, kSegmentHeaderSize};
}

bool Wal::HasNewData(Lsn pos) const { return durable_end_ > pos || closed_ || failed_; }

// ---------------------------------------------------------------------------------------------
// Open and recovery.

Wal::Wal(WalOptions options) : options_(std::move(options)), env_(*options_.env) {}

absl::StatusOr<std::unique_ptr<Wal>> Wal::Open(WalOptions options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("WalOptions.dir is empty");
  if (options.env == nullptr || options.clock == nullptr || !options.on_fatal) {
    return absl::InvalidArgumentError("WalOptions: env, clock and on_fatal are required");
  }
  if (options.max_record_bytes == 0 || options.max_record_bytes > kMaxRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("WalOptions.max_record_bytes must be in [1, ", kMaxRecordBytes, "]"));
  }
  if (options.segment_bytes < kSegmentHeaderSize + kSealRecordSize) {
    return absl::InvalidArgumentError("WalOptions.segment_bytes is too small");
  }
  std::unique_ptr<Wal> wal(new Wal(std::move(options)));
  if (absl::Status s = wal->Recover(); !s.ok()) return s;
  return wal;
}

absl::Status Wal::Recover() {
  const std::string& dir = options_.dir;
  for (const std::string& d : {dir, Join(dir, kSinksDir), Join(dir, kQuarantineDir)}) {
    if (absl::Status s = env_.CreateDir(d); !s.ok()) return s;
  }
  absl::StatusOr<FileLockPtr> lock = env_.LockFile(Join(dir, "LOCK"));
  if (!lock.ok()) return lock.status();
  dir_lock_ = *std::move(lock);
  if (absl::Status s = env_.SyncDir(dir); !s.ok()) return s;

  absl::StatusOr<std::vector<std::string>> names = env_.ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> seqs;
  for (const std::string& name : *names) {
    if (std::optional<uint64_t> seq = ParseSegmentFileName(name)) seqs.push_back(*seq);
  }
  std::sort(seqs.begin(), seqs.end());
  uint64_t max_seq = seqs.empty() ? 0 : seqs.back();

  absl::StatusOr<std::vector<std::string>> quarantined = env_.ListDir(Join(dir, kQuarantineDir));
  if (!quarantined.ok()) return quarantined.status();
  for (const std::string& name : *quarantined) {
    absl::StatusOr<uint64_t> size = env_.FileSize(Join(Join(dir, kQuarantineDir), name));
    if (size.ok()) recovery_.quarantine_bytes += *size;
    if (std::optional<uint64_t> seq = ParseSegmentFileName(name)) max_seq = std::max(max_seq, *seq);
  }

  std::optional<uint64_t> reseal;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (absl::Status s = RecoverSegment(seqs[i], i + 1 == seqs.size(), reseal); !s.ok()) return s;
  }
  if (reseal) {
    // Seal the previous run's last segment so the new run starts a fresh one (every segment but
    // the active one is then final).
    Segment& seg = segments_[*reseal];
    absl::StatusOr<std::string> bytes = ReadFileToString(env_, seg.path);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = sha_.Reset(); !s.ok()) return s;
    if (absl::Status s = sha_.Update(*bytes); !s.ok()) return s;
    absl::StatusOr<WritableFilePtr> file = env_.NewAppendableFile(seg.path, /*truncate=*/false);
    if (!file.ok()) return file.status();
    file_ = std::move(*file);
    active_seq_ = *reseal;
    active_size_ = bytes->size();
    if (absl::Status s = Seal(); !s.ok()) return s;
    recovery_.sealed_on_open = *reseal;
  }

  if (absl::Status s = LoadSinks(); !s.ok()) return s;
  {
    absl::MutexLock lock(&sinks_mu_);
    for (const auto& [name, pos] : sinks_) max_seq = std::max(max_seq, pos.segment);
  }
  absl::StatusOr<uint64_t> free = env_.FreeBytes(dir);
  if (!free.ok()) return free.status();
  {
    absl::MutexLock lock(&mu_);
    free_bytes_ = *free;
    total_bytes_ += recovery_.quarantine_bytes;
  }
  active_seq_ = max_seq;
  return OpenNewSegment(max_seq + 1);
}

absl::Status Wal::RecoverSegment(uint64_t seq, bool last, std::optional<uint64_t>& reseal) {
  const std::string name = SegmentFileName(seq);
  const std::string path = Join(options_.dir, name);
  absl::StatusOr<std::string> bytes = ReadFileToString(env_, path);
  if (!bytes.ok()) return bytes.status();
  const SegmentScan scan = ScanSegment(*bytes, seq);
  ++recovery_.segments_scanned;
  recovery_.bytes += bytes->size();
  recovery_.records += scan.records;

  Segment seg{path, bytes->size(), scan.data_end, true, false};
  std::optional<std::string> corrupt;
  uint64_t damage_offset = 0;
  if (scan.damage) {
    damage_offset = scan.damage->offset;
    if (last && !scan.sealed && !scan.damage->valid_after) {
      if (!scan.header_ok || scan.records == 0) {
        // A segment whose creation or first write was torn holds nothing acknowledged.
        if (absl::Status s = env_.RemoveFile(path); !s.ok()) return s;
        if (absl::Status s = env_.SyncDir(options_.dir); !s.ok()) return s;
        recovery_.removed_empty_segments.push_back(seq);
        return absl::OkStatus();
      }
      if (absl::Status s = env_.TruncateFile(path, scan.valid_end); !s.ok()) return s;
      if (absl::Status s = env_.SyncDir(options_.dir); !s.ok()) return s;
      recovery_.torn_tail =
          RecoveryReport::Truncation{seq, bytes->size(), scan.valid_end, scan.damage->reason};
      seg.size = scan.valid_end;
    } else {
      corrupt = scan.damage->reason;
    }
  } else if (!scan.sealed && !last) {
    corrupt = "unsealed segment that is not the last";
    damage_offset = scan.valid_end;
  }

  if (corrupt) {
    const std::string qpath = Join(Join(options_.dir, kQuarantineDir), name);
    if (absl::Status s = env_.Rename(path, qpath); !s.ok()) return s;
    if (absl::Status s = env_.SyncDir(Join(options_.dir, kQuarantineDir)); !s.ok()) return s;
    if (absl::Status s = env_.SyncDir(options_.dir); !s.ok()) return s;
    recovery_.quarantined.push_back(
        RecoveryReport::Quarantine{seq, damage_offset, *corrupt, scan.records, qpath});
    recovery_.quarantine_bytes += bytes->size();
    seg.path = qpath;
    seg.quarantined = true;
    seg.readable_end = scan.header_ok ? scan.data_end : kSegmentHeaderSize;
    absl::MutexLock lock(&mu_);
    if (scan.records > 0) segments_[seq] = seg;  // its valid prefix is still delivered
    return absl::OkStatus();
  }

  if (!scan.sealed) {
    if (scan.records == 0) {
      if (absl::Status s = env_.RemoveFile(path); !s.ok()) return s;
      if (absl::Status s = env_.SyncDir(options_.dir); !s.ok()) return s;
      recovery_.removed_empty_segments.push_back(seq);
      return absl::OkStatus();
    }
    reseal = seq;
  }
  absl::MutexLock lock(&mu_);
  segments_[seq] = seg;
  total_bytes_ += seg.size;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Sinks.

std::string Wal::SinkPath(std::string_view name) const {
  return Join(Join(options_.dir, kSinksDir),
              absl::StrCat(std::string(name), std::string(kSinkSuffix)));
}

absl::Status Wal::LoadSinks() {
  const std::string sinks_dir = Join(options_.dir, kSinksDir);
  absl::StatusOr<std::vector<std::string>> names = env_.ListDir(sinks_dir);
  if (!names.ok()) return names.status();
  absl::MutexLock lock(&sinks_mu_);
  for (const std::string& file : *names) {
    const std::string path = Join(sinks_dir, file);
    if (file.size() <= kSinkSuffix.size() ||
        file.substr(file.size() - kSinkSuffix.size()) != kSinkSuffix) {
      // An interrupted WriteFileAtomically leaves a .tmp; its rename never happened.
      if (absl::Status s = env_.RemoveFile(path); !s.ok()) return s;
      continue;
    }
    const std::string name = file.substr(0, file.size() - kSinkSuffix.size());
    if (!ValidSinkName(name)) continue;
    absl::StatusOr<std::string> data = ReadFileToString(env_, path);
    if (!data.ok()) return data.status();
    std::optional<Lsn> pos = DecodePosition(*data);
    if (!pos) {
      // Re-delivering from the start is safe (at-least-once); guessing a position is not.
      pos = Lsn{};
      recovery_.sinks_reset.push_back(name);
    }
    sinks_[name] = *pos;
  }
  recovery_.sinks = static_cast<int>(sinks_.size());
  return absl::OkStatus();
}

absl::StatusOr<Lsn> Wal::RegisterSink(std::string_view name) {
  if (!ValidSinkName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sink name \"", std::string(name), "\" must match [a-z0-9][a-z0-9._-]{0,62}"));
  }
  absl::MutexLock lock(&sinks_mu_);
  if (auto it = sinks_.find(name); it != sinks_.end()) return it->second;
  Lsn begin;
  {
    absl::MutexLock l(&mu_);
    begin = BeginLocked();
  }
  if (absl::Status s = WriteFileAtomically(env_, Join(options_.dir, kSinksDir), SinkPath(name),
                                           EncodePosition(begin));
      !s.ok()) {
    return s;
  }
  sinks_.emplace(std::string(name), begin);
  return begin;
}

absl::StatusOr<Lsn> Wal::SinkPosition(std::string_view name) const {
  absl::MutexLock lock(&sinks_mu_);
  auto it = sinks_.find(name);
  if (it == sinks_.end()) return absl::NotFoundError(absl::StrCat("no sink ", std::string(name)));
  return it->second;
}

absl::Status Wal::RemoveSink(std::string_view name) {
  {
    absl::MutexLock lock(&sinks_mu_);
    auto it = sinks_.find(name);
    if (it == sinks_.end()) {
      return absl::NotFoundError(absl::StrCat("no sink ", std::string(name)));
    }
    if (absl::Status s = env_.RemoveFile(SinkPath(name)); !s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
    if (absl::Status s = env_.SyncDir(Join(options_.dir, kSinksDir)); !s.ok()) return s;
    sinks_.erase(it);
  }
  return DeleteAckedSegments();
}

absl::Status Wal::Ack(std::string_view name, Lsn position) {
  {
    absl::MutexLock lock(&sinks_mu_);
    auto it = sinks_.find(name);
    if (it == sinks_.end()) {
      return absl::NotFoundError(absl::StrCat("no sink ", std::string(name)));
    }
    if (position <= it->second) return absl::OkStatus();
    {
      absl::MutexLock l(&mu_);
      if (position > durable_end_) {
        return absl::InvalidArgumentError(absl::StrCat("ack position ", position.ToString(),
                                                       " is past the durable end ",
                                                       durable_end_.ToString()));
      }
    }
    if (absl::Status s = WriteFileAtomically(env_, Join(options_.dir, kSinksDir), SinkPath(name),
                                             EncodePosition(position));
        !s.ok()) {
      return s;
    }
    it->second = position;
  }
  return DeleteAckedSegments();
}

absl::Status Wal::DeleteAckedSegments() {
  Lsn min_pos;
  {
    absl::MutexLock lock(&sinks_mu_);
    if (sinks_.empty()) return absl::OkStatus();
    min_pos = sinks_.begin()->second;
    for (const auto& [name, pos] : sinks_) min_pos = std::min(min_pos, pos);
  }
  std::vector<std::pair<uint64_t, Segment>> doomed;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = segments_.begin(); it != segments_.end() && it->first < min_pos.segment;) {
      if (!it->second.final) break;
      doomed.emplace_back(it->first, it->second);
      if (!it->second.quarantined) total_bytes_ -= it->second.size;
      it = segments_.erase(it);
    }
    counters_.deleted_segments += static_cast<int64_t>(doomed.size());
  }
  if (doomed.empty()) return absl::OkStatus();
  absl::Status status;
  for (const auto& [seq, seg] : doomed) {
    if (seg.quarantined) continue;  // left for an operator, and still counted
    if (absl::Status s = env_.RemoveFile(seg.path); !s.ok()) {
      absl::MutexLock lock(&mu_);
      total_bytes_ += seg.size;  // still on disk
      status.Update(s);
    }
  }
  status.Update(env_.SyncDir(options_.dir));
  return status;
}

// ---------------------------------------------------------------------------------------------
// Readers.

WalReaderPtr Wal::NewReader(Lsn from) { return WalReaderPtr(new WalReader(*this, from)); }

absl::Status WalReader::Fill(uint64_t offset, uint64_t need, uint64_t limit) {
  if (offset >= buf_offset_ && offset + need <= buf_offset_ + buf_.size()) return absl::OkStatus();
  const uint64_t n = std::max<uint64_t>(need, std::min<uint64_t>(kReadChunk, limit - offset));
  buf_.resize(n);
  absl::StatusOr<std::string_view> got = file_->Read(offset, n, buf_.data());
  if (!got.ok()) {
    buf_.clear();
    return got.status();
  }
  buf_.resize(got->size());
  buf_offset_ = offset;
  if (got->size() < need) {
    return absl::DataLossError(absl::StrCat("short read in ", file_path_, " at ", offset));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<WalRecord>> WalReader::Next(absl::Time deadline) {
  while (true) {
    std::string path;
    uint64_t limit = 0;
    {
      absl::MutexLock lock(&wal_.mu_);
      auto it = wal_.segments_.lower_bound(pos_.segment);
      if (it != wal_.segments_.end() && it->first != pos_.segment) {
        pos_ = Lsn{it->first, kSegmentHeaderSize};
      }
      pos_.offset = std::max(pos_.offset, kSegmentHeaderSize);
      const bool at_end = it == wal_.segments_.end() || pos_.offset >= it->second.readable_end;
      if (at_end) {
        if (it != wal_.segments_.end() && it->second.final &&
            std::next(it) != wal_.segments_.end()) {
          pos_ = Lsn{std::next(it)->first, kSegmentHeaderSize};
          continue;
        }
        if (wal_.closed_ || wal_.failed_) return absl::CancelledError("write-ahead log closed");
        const Lsn here = pos_;
        auto has_new_data = [this, &here]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wal_.mu_) {
          return wal_.HasNewData(here);
        };
        if (!wal_.options_.clock->AwaitWithDeadline(wal_.mu_, absl::Condition(&has_new_data),
                                                    deadline)) {
          return std::nullopt;
        }
        continue;
      }
      path = it->second.path;
      limit = it->second.readable_end;
    }
    if (file_ == nullptr || file_segment_ != pos_.segment || file_path_ != path) {
      absl::StatusOr<RandomAccessFilePtr> file = wal_.env_.NewRandomAccessFile(path);
      if (!file.ok()) return file.status();
      file_ = std::move(*file);
      file_segment_ = pos_.segment;
      file_path_ = path;
      buf_.clear();
      buf_offset_ = 0;
    }
    if (limit - pos_.offset < kRecordHeaderSize) {
      return absl::DataLossError(
          absl::StrCat("truncated record header at ", pos_.ToString(), " in ", path));
    }
    if (absl::Status s = Fill(pos_.offset, kRecordHeaderSize, limit); !s.ok()) return s;
    const char* h = buf_.data() + (pos_.offset - buf_offset_);
    uint64_t len = 0;
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(h[4 + i]);
    if (len > limit - pos_.offset - kRecordHeaderSize) {
      return absl::DataLossError(
          absl::StrCat("record at ", pos_.ToString(), " runs past the end in ", path));
    }
    if (absl::Status s = Fill(pos_.offset, kRecordHeaderSize + len, limit); !s.ok()) return s;
    std::optional<ParsedRecord> rec = ParseRecordAt(buf_, pos_.offset - buf_offset_);
    if (!rec || rec->type != RecordType::kData) {
      return absl::DataLossError(
          absl::StrCat("record at ", pos_.ToString(), " fails its CRC in ", path));
    }
    WalRecord out{pos_, Lsn{pos_.segment, pos_.offset + kRecordHeaderSize + len}, rec->payload};
    pos_ = out.next;
    return out;
  }
}

}  // namespace cohort::ingest::wal
