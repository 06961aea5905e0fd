// The dead-letter file: events a sink can never deliver (records that do not decode, events the
// destination rejects as invalid) with the reason, as JSON lines, durable before Write returns.
// One line per event:
//   {"time":<ms>,"sink":"<name>","reason":"<why>","position":"<segment>:<offset>",
//    "event":{...Amplitude fields + project/source...} | "record_base64":"<undecodable bytes>",
//    "response":"<the destination's answer, when there is one>"}
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ingest/event/event.h"
#include "ingest/sinks/json_lines_file.h"
#include "ingest/wal/segment_format.h"

namespace cohort::ingest::sinks {

struct DeadLetter {
  std::string sink;
  std::string reason;
  wal::Lsn position;
  std::optional<Event> event;  // unset: `record` holds the raw record
  std::string record;
  std::string response;  // empty: none
};

// Appends one JSON line for `letter` to `*dst`.
void AppendDeadLetterJson(const DeadLetter& letter, absl::Time now, std::string* dst);

class DeadLetterFile {
 public:
  // `file` is owned.
  explicit DeadLetterFile(std::unique_ptr<JsonLinesFile> file) : file_(std::move(file)) {}
  // Writes every letter durably (one append + fdatasync). Errors: I/O errors from the file.
  [[nodiscard]] absl::Status Write(const std::vector<DeadLetter>& letters, absl::Time now);
  const std::string& path() const { return file_->path(); }

 private:
  const std::unique_ptr<JsonLinesFile> file_;
};

}  // namespace cohort::ingest::sinks
