#include "analytics/clickhouse/clickhouse_writer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "analytics/clickhouse/clickhouse_event_row.h"

namespace cohort::analytics::clickhouse {

ClickHouseWriter::ClickHouseWriter(SqlExecutor& executor, ClickHouseWriterOptions options)
    : executor_(executor),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock::Get()) {}

uint64_t ClickHouseWriter::last_arrival() const {
  absl::MutexLock lock(&mu_);
  return last_arrival_;
}

absl::Status ClickHouseWriter::Append(const std::vector<Event>& events) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].insert_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has no insert_id"));
    }
    if (events[i].user_id.empty() && events[i].device_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("event ", i, " has neither a user_id nor a device_id"));
    }
  }
  const size_t batch = std::max<size_t>(options_.max_batch_rows, 1);
  absl::MutexLock lock(&mu_);
  for (size_t begin = 0; begin < events.size(); begin += batch) {
    const size_t end = std::min(events.size(), begin + batch);
    const int64_t now_ms = std::max<int64_t>(absl::ToUnixMillis(clock_.Now()), 0);
    const uint64_t first = std::max(last_arrival_ + 1, static_cast<uint64_t>(now_ms) << 20);
    std::vector<std::string> rows;
    rows.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) rows.push_back(EventRowJson(events[i], first + i - begin));
    // Numbers are used up even if the insert fails: a resend gets larger ones, as a later copy.
    last_arrival_ = first + (end - begin) - 1;
    if (absl::Status st = executor_.InsertJsonEachRow(options_.table, rows); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace cohort::analytics::clickhouse
