// A bounded queue and a pool of threads calling Wal::Append (durable_writer.h).
#include "ingest/server/durable_writer.h"

#include <string_view>
#include <utility>

namespace cohort::ingest {

DurableWriter::DurableWriter(wal::Wal& wal, DurableWriterOptions options)
    : wal_(wal), options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

DurableWriter::~DurableWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool DurableWriter::Submit(EncodedRecords records, Done done) {
  const auto bytes = static_cast<int64_t>(records.data.size());
  absl::MutexLock lock(&mu_);
  if (stopping_ || (queued_bytes_ > 0 && queued_bytes_ + bytes > options_.max_queued_bytes)) {
    return false;
  }
  queued_bytes_ += bytes;
  queue_.push_back({std::move(records), bytes, std::move(done)});
  return true;
}

int64_t DurableWriter::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

void DurableWriter::Loop() {
  std::vector<Job> group;
  std::vector<std::string_view> views;
  while (true) {
    group.clear();
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything queued is written
      int64_t bytes = 0;
      do {
        bytes += queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() && bytes + queue_.front().bytes <= options_.max_group_bytes);
    }
    views.clear();
    for (const Job& job : group) {
      for (size_t i = 0; i < job.records.size(); ++i) views.push_back(job.records.record(i));
    }
    const absl::Status status = wal_.Append(views).status();
    const bool retry_alone =
        group.size() > 1 && (absl::IsInvalidArgument(status) || absl::IsResourceExhausted(status));
    for (Job& job : group) {
      // Refused as a whole before anything was written: each request on its own.
      const absl::Status result = retry_alone ? wal_.Append(job.records.Views()).status() : status;
      {
        absl::MutexLock lock(&mu_);
        queued_bytes_ -= job.bytes;
      }
      job.done(result);
    }
  }
}

}  // namespace cohort::ingest
