#include "ingest/sinks/file_sink.h"

#include <string>
#include <utility>

#include "ingest/sinks/event_json.h"

namespace cohort::ingest::sinks {

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Open(JsonLinesFileOptions options) {
  absl::StatusOr<std::unique_ptr<JsonLinesFile>> file = JsonLinesFile::Open(std::move(options));
  if (!file.ok()) return file.status();
  return std::unique_ptr<FileSink>(new FileSink(*std::move(file)));
}

absl::Status FileSink::Deliver(const SinkBatch& batch, DeliveryControl& /*control*/) {
  std::string lines;
  for (const Event& event : batch.events) {
    AppendEventJson(event, EventJsonOptions{.cohort_fields = true}, &lines);
    lines.push_back('\n');
  }
  return file_->Append(lines);
}

}  // namespace cohort::ingest::sinks
