// The JSON-lines file sink (local runs and tests): one JSON object per event, Amplitude field
// names plus "project", "source" and "server_received_time" (event_json.h), appended and
// fdatasynced before a batch counts as delivered; rotated by size when max_bytes is set
// (json_lines_file.h). At-least-once: after a crash or a failed sync a batch may appear twice.
//
// Thread-safe (concurrent batches are appended one at a time, each contiguous).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "ingest/sinks/json_lines_file.h"
#include "ingest/sinks/sink.h"

namespace cohort::ingest::sinks {

class FileSink final : public Sink {
 public:
  // Errors: those of JsonLinesFile::Open.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<FileSink>> Open(JsonLinesFileOptions options);

  // Errors: I/O errors (the runner retries the batch).
  absl::Status Deliver(const SinkBatch& batch, DeliveryControl& control) override;

 private:
  explicit FileSink(std::unique_ptr<JsonLinesFile> file) : file_(std::move(file)) {}
  const std::unique_ptr<JsonLinesFile> file_;
};

}  // namespace cohort::ingest::sinks
