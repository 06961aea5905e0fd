#include "ingest/sinks/sink_runner.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ingest/event/event_codec.h"
#include "spdlog/spdlog.h"

namespace cohort::ingest::sinks {
namespace {

constexpr const char* kStates[] = {"starting", "running", "retrying", "stopping", "stopped"};

// Bytes of the log between `from` and `to` (from <= to): exact within a segment, estimated with
// the segment size across segments.
uint64_t Distance(wal::Lsn from, wal::Lsn to, uint64_t segment_bytes) {
  if (to <= from) return 0;
  if (from.segment == to.segment) return to.offset - from.offset;
  const uint64_t rest = segment_bytes > from.offset ? segment_bytes - from.offset : 0;
  return rest + (to.segment - from.segment - 1) * segment_bytes + to.offset;
}

}  // namespace

class SinkRunner::Control final : public DeliveryControl {
 public:
  explicit Control(SinkRunner& runner) : runner_(runner) {}
  bool cancelled() const override {
    absl::MutexLock lock(&runner_.mu_);
    return runner_.cancelled_;
  }
  bool WaitUntil(absl::Time until) override {
    absl::MutexLock lock(&runner_.mu_);
    runner_.clock_.AwaitWithDeadline(runner_.mu_, absl::Condition(&runner_.cancelled_), until);
    return !runner_.cancelled_;
  }
  absl::Time Now() const override { return runner_.clock_.Now(); }
  uint64_t lag_bytes() const override {
    return static_cast<uint64_t>(std::max(0.0, runner_.lag_bytes_->Value()));
  }
  void CountRetry() override {
    runner_.retries_->Inc();
    absl::MutexLock lock(&runner_.mu_);
    ++runner_.stats_.retries;
  }
  void CountDeadLettered(const std::string& reason, int64_t events) override {
    runner_.dead_lettered_->WithLabels({runner_.options_.name, reason})
        .Inc(static_cast<double>(events));
    absl::MutexLock lock(&runner_.mu_);
    runner_.stats_.dead_lettered += events;
  }

 private:
  SinkRunner& runner_;
};

SinkRunner::SinkRunner(wal::Wal& wal, Sink& sink, SinkRunnerOptions options)
    : wal_(wal),
      sink_(sink),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()),
      control_(std::make_unique<Control>(*this)),
      rng_(std::random_device{}()) {}

SinkRunner::~SinkRunner() { (void)Stop(clock_.Now()); }

absl::Status SinkRunner::Start() {
  if (options_.registry == nullptr || options_.dead_letter == nullptr) {
    return absl::InvalidArgumentError("sink runner: registry and dead_letter are required");
  }
  if (options_.max_batch_events < 1 || options_.max_batch_bytes < 1 || options_.concurrency < 1 ||
      options_.flush_interval <= absl::ZeroDuration() ||
      options_.poll_interval <= absl::ZeroDuration() ||
      options_.retry_base <= absl::ZeroDuration() || options_.retry_cap < options_.retry_base ||
      options_.segment_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sink runner ", options_.name, ": invalid options"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("sink runner: already started");
  }
  absl::StatusOr<wal::Lsn> start = wal_.RegisterSink(options_.name);
  if (!start.ok()) return start.status();

  Registry& r = *options_.registry;
  const std::string& n = options_.name;
  lag_bytes_ =
      &r.AddGaugeFamily("cohort_sink_lag_bytes",
                        "Bytes of the write-ahead log the sink has not acknowledged.", {"sink"})
           .WithLabels({n});
  lag_records_ = &r.AddGaugeFamily("cohort_sink_lag_records",
                                   "Records the sink has not acknowledged (the unread part "
                                   "estimated from bytes).",
                                   {"sink"})
                      .WithLabels({n});
  delivered_ = &r.AddCounterFamily("cohort_sink_delivered_events_total",
                                   "Events the sink delivered.", {"sink"})
                    .WithLabels({n});
  retries_ = &r.AddCounterFamily("cohort_sink_retries_total",
                                 "Delivery attempts retried after an error.", {"sink"})
                  .WithLabels({n});
  dead_lettered_ =
      &r.AddCounterFamily("cohort_sink_dead_lettered_total",
                          "Events written to the dead-letter file, by reason.", {"sink", "reason"});
  in_flight_gauge_ = &r.AddGaugeFamily("cohort_sink_batches_in_flight",
                                       "Batches queued or being delivered.", {"sink"})
                          .WithLabels({n});
  state_ = &r.AddGaugeFamily("cohort_sink_state", "1 for the sink runner's current state.",
                             {"sink", "state"});

  absl::MutexLock lock(&mu_);
  started_ = true;
  acked_ = *start;
  SetState("running");
  completed_end_ = *start;
  reader_ = std::thread([this] { ReadLoop(); });
  for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { DeliverLoop(); });
  return absl::OkStatus();
}

void SinkRunner::SetState(const char* state) {
  state_name_ = state;
  for (const char* s : kStates) {
    state_->WithLabels({options_.name, s}).Set(std::string_view(s) == state ? 1 : 0);
  }
}

bool SinkRunner::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

absl::Duration SinkRunner::Backoff(int attempt) {
  absl::Duration d = options_.retry_base;
  for (int i = 1; i < attempt && d < options_.retry_cap; ++i) d *= 2;
  d = std::min(d, options_.retry_cap);
  // Equal jitter: somewhere in [d/2, d], so concurrent retries spread out.
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return d * jitter(rng_);
}

void SinkRunner::UpdateLag(wal::Lsn read_position) {
  const wal::Lsn end = wal_.stats().durable_end;
  absl::MutexLock lock(&mu_);
  const uint64_t lag = Distance(acked_, end, options_.segment_bytes);
  const uint64_t unread = Distance(read_position, end, options_.segment_bytes);
  lag_bytes_->Set(static_cast<double>(lag));
  double records = static_cast<double>(unacked_records_);
  if (avg_record_bytes_ > 0) records += std::floor(static_cast<double>(unread) / avg_record_bytes_);
  lag_records_->Set(records);
}

void SinkRunner::DeadLetterRecords(std::vector<DeadLetter> letters) {
  // The dead-letter file must not hold the log back forever: a few attempts, then the records
  // are logged (they could never have been delivered anyway) and reading goes on.
  constexpr int kAttempts = 5;
  absl::Status s;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    s = options_.dead_letter->Write(letters, clock_.Now());
    if (s.ok()) break;
    spdlog::warn("sink {}: writing the dead-letter file: {}", options_.name, s.ToString());
    absl::MutexLock lock(&mu_);
    if (stopping_) break;
    clock_.AwaitWithDeadline(mu_, absl::Condition(&stopping_), clock_.Now() + Backoff(attempt));
  }
  for (const DeadLetter& letter : letters) {
    if (!s.ok()) {
      spdlog::error("sink {}: record at {} lost to the dead-letter path ({}): {}", options_.name,
                    letter.position.ToString(), letter.reason, s.ToString());
    }
    dead_lettered_->WithLabels({options_.name, letter.reason}).Inc();
  }
  absl::MutexLock lock(&mu_);
  stats_.dead_lettered += static_cast<int64_t>(letters.size());
}

void SinkRunner::ReadLoop() {
  wal::Lsn from;
  {
    absl::MutexLock lock(&mu_);
    from = acked_;
  }
  wal::WalReaderPtr reader = wal_.NewReader(from);
  std::unique_ptr<SinkBatch> batch;
  absl::Time batch_deadline = absl::InfiniteFuture();
  uint64_t sequence = 0;
  int64_t batch_records = 0;
  int read_errors = 0;
  uint64_t total_records = 0, total_bytes = 0;
  int64_t uncounted_records = 0;  // read but not yet added to unacked_records_
  const bool reads_records = sink_.reads_records();
  EventView view;

  // Publishes the read counters for the lag estimate; the caller holds mu_. Done per batch and
  // before a lag update rather than per record, to keep the lock off the per-record path.
  const auto count_read = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    unacked_records_ += uncounted_records;
    uncounted_records = 0;
    if (total_records > 0) {
      avg_record_bytes_ = static_cast<double>(total_bytes) / static_cast<double>(total_records);
    }
  };
  const auto flush = [&] {
    if (batch == nullptr) return;
    {
      absl::MutexLock lock(&mu_);
      count_read();
      batch_records_[batch->sequence] = batch_records;
    }
    batch_records = 0;
    batch_deadline = absl::InfiniteFuture();
    Dispatch(std::move(batch));
  };

  while (!Stopping()) {
    if (batch != nullptr && clock_.Now() >= batch_deadline) {
      flush();
      continue;
    }
    absl::StatusOr<std::optional<wal::WalRecord>> next = reader->Next(absl::InfinitePast());
    if (!next.ok()) {
      if (absl::IsCancelled(next.status())) break;  // the log is closed: nothing more comes
      spdlog::error("sink {}: reading the write-ahead log at {}: {}", options_.name,
                    reader->position().ToString(), next.status().ToString());
      absl::MutexLock lock(&mu_);
      SetState("retrying");
      clock_.AwaitWithDeadline(mu_, absl::Condition(&stopping_),
                               clock_.Now() + Backoff(++read_errors));
      reader = wal_.NewReader(reader->position());
      continue;
    }
    if (read_errors > 0) {
      read_errors = 0;
      absl::MutexLock lock(&mu_);
      SetState("running");
    }
    if (!next->has_value()) {
      const wal::Lsn pos = reader->position();
      {
        absl::MutexLock lock(&mu_);
        count_read();
      }
      UpdateLag(pos);
      const absl::Time until = std::min(clock_.Now() + options_.poll_interval, batch_deadline);
      absl::MutexLock lock(&mu_);
      const auto ready = [this, pos] { return stopping_ || wal_.stats().durable_end > pos; };
      clock_.AwaitWithDeadline(mu_, absl::Condition(&ready), until);
      continue;
    }
    const wal::WalRecord& record = **next;
    if (batch == nullptr) {
      batch = std::make_unique<SinkBatch>();
      batch->sequence = sequence++;
      batch->begin = record.lsn;
      batch_deadline = clock_.Now() + options_.flush_interval;
    }
    batch->end = record.next;
    batch->record_bytes += record.payload.size();
    ++batch_records;
    ++total_records;
    total_bytes += record.payload.size() + wal::EncodedRecordSize(0);
    absl::Status decoded;
    if (reads_records) {
      decoded = DecodeEventView(record.payload, view);  // checked here, read by the sink
      if (decoded.ok()) {
        batch->records.data.append(record.payload);
        batch->records.EndRecord();
      }
    } else {
      // Decoded in place: an Event is over a kilobyte of string headers, too big to move around.
      decoded = DecodeEventInto(record.payload, batch->events.emplace_back());
      if (!decoded.ok()) batch->events.pop_back();
    }
    if (decoded.ok()) {
      batch->positions.push_back(record.lsn);
    } else {
      std::vector<DeadLetter> letters(1);
      letters[0].sink = options_.name;
      letters[0].reason =
          absl::IsUnimplemented(decoded) ? "unsupported_record_version" : "undecodable_record";
      letters[0].position = record.lsn;
      letters[0].record = std::string(record.payload);
      letters[0].response = decoded.ToString();
      DeadLetterRecords(std::move(letters));
    }
    ++uncounted_records;
    if (static_cast<int64_t>(batch->size()) >= options_.max_batch_events ||
        batch->record_bytes >= options_.max_batch_bytes) {
      flush();
    }
  }
  flush();  // what was read is delivered too when stopping (Stop's deadline still applies)
  absl::MutexLock lock(&mu_);
  reader_done_ = true;
}

void SinkRunner::Dispatch(std::unique_ptr<SinkBatch> batch) {
  if (batch->size() == 0) {  // only dead letters: done already
    Complete(*batch);
    return;
  }
  absl::MutexLock lock(&mu_);
  const auto slot = [this] { return cancelled_ || in_flight_ < options_.concurrency; };
  clock_.AwaitWithDeadline(mu_, absl::Condition(&slot), absl::InfiniteFuture());
  if (cancelled_) return;  // never delivered, never acknowledged: comes back after a restart
  queue_.push_back(std::move(batch));
  ++in_flight_;
  in_flight_gauge_->Set(in_flight_);
}

void SinkRunner::DeliverLoop() {
  while (true) {
    std::unique_ptr<SinkBatch> batch;
    {
      absl::MutexLock lock(&mu_);
      const auto ready = [this] { return cancelled_ || reader_done_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (cancelled_ || queue_.empty()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    for (int attempt = 1;; ++attempt) {
      absl::Status s = sink_.Deliver(*batch, *control_);
      if (s.ok()) {
        delivered_->Inc(static_cast<double>(batch->size()));
        Complete(*batch);
        break;
      }
      if (control_->cancelled()) break;
      spdlog::warn("sink {}: delivering batch {} ({} events, attempt {}): {}", options_.name,
                   batch->sequence, batch->size(), attempt, s.ToString());
      control_->CountRetry();
      absl::Duration wait;
      {
        absl::MutexLock lock(&mu_);
        SetState("retrying");
        wait = Backoff(attempt);
      }
      if (!control_->WaitUntil(clock_.Now() + wait)) break;
    }
    absl::MutexLock lock(&mu_);
    --in_flight_;
    in_flight_gauge_->Set(in_flight_);
  }
}

void SinkRunner::Complete(const SinkBatch& batch) {
  std::optional<wal::Lsn> to_ack;
  {
    absl::MutexLock lock(&mu_);
    completed_[batch.sequence] = batch.end;
    ++stats_.batches;
    stats_.delivered_events += static_cast<int64_t>(batch.size());
    if (state_name_ == std::string_view("retrying")) SetState(stopping_ ? "stopping" : "running");
    for (auto it = completed_.find(next_ack_sequence_); it != completed_.end();
         it = completed_.find(next_ack_sequence_)) {
      to_ack = it->second;
      completed_.erase(it);
      if (auto records = batch_records_.find(next_ack_sequence_); records != batch_records_.end()) {
        unacked_records_ -= records->second;
        batch_records_.erase(records);
      }
      ++next_ack_sequence_;
    }
    if (to_ack) completed_end_ = std::max(completed_end_, *to_ack);
  }
  if (to_ack) (void)AckTo(*to_ack);
}

absl::Status SinkRunner::AckTo(wal::Lsn position) {
  absl::MutexLock ack_lock(&ack_mu_);
  absl::Status s = wal_.Ack(options_.name, position);
  last_ack_status_ = s;
  if (!s.ok()) {
    // The older position stays persisted: a restart re-delivers, nothing is lost. The next
    // completion acknowledges again (Stop does too).
    spdlog::warn("sink {}: acknowledging {}: {}", options_.name, position.ToString(), s.ToString());
    return s;
  }
  absl::MutexLock lock(&mu_);
  acked_ = std::max(acked_, position);
  return s;
}

absl::Status SinkRunner::Stop(absl::Time deadline) {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  bool drained = true;
  {
    absl::MutexLock lock(&mu_);
    if (!started_) return absl::OkStatus();
    stopping_ = true;
    SetState("stopping");
    const auto idle = [this] { return reader_done_ && in_flight_ == 0; };
    drained = clock_.AwaitWithDeadline(mu_, absl::Condition(&idle), deadline);
    if (!drained) cancelled_ = true;
  }
  reader_.join();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  absl::Status ack;
  {
    absl::MutexLock lock(&ack_mu_);
    ack = last_ack_status_;
  }
  wal::Lsn want;
  {
    absl::MutexLock lock(&mu_);
    want = completed_end_;
    if (acked_ >= want) want = wal::Lsn{};
  }
  // A failed acknowledgement is retried once more now (the next run would re-deliver otherwise).
  if (want != wal::Lsn{}) ack = AckTo(want);
  absl::MutexLock lock(&mu_);
  SetState("stopped");
  if (!drained) {
    return absl::DeadlineExceededError(
        absl::StrCat("sink ", options_.name,
                     ": stopped with batches in flight; acknowledged up to ", acked_.ToString()));
  }
  return ack;
}

wal::Lsn SinkRunner::acked() const {
  absl::MutexLock lock(&mu_);
  return acked_;
}

SinkRunner::Stats SinkRunner::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace cohort::ingest::sinks
