#include "ingest/sinks/dead_letter.h"

#include "absl/strings/escaping.h"
#include "ingest/event/json_text.h"
#include "ingest/sinks/event_json.h"

namespace cohort::ingest::sinks {

void AppendDeadLetterJson(const DeadLetter& letter, absl::Time now, std::string* dst) {
  dst->append("{\"time\":");
  AppendJsonInt(absl::ToUnixMillis(now), dst);
  dst->append(",\"sink\":");
  AppendJsonString(letter.sink, dst);
  dst->append(",\"reason\":");
  AppendJsonString(letter.reason, dst);
  dst->append(",\"position\":");
  AppendJsonString(letter.position.ToString(), dst);
  if (letter.event) {
    dst->append(",\"event\":");
    AppendEventJson(*letter.event, EventJsonOptions{.cohort_fields = true}, dst);
  } else {
    dst->append(",\"record_base64\":");
    AppendJsonString(absl::Base64Escape(letter.record), dst);
  }
  if (!letter.response.empty()) {
    dst->append(",\"response\":");
    AppendJsonString(letter.response, dst);
  }
  dst->append("}\n");
}

absl::Status DeadLetterFile::Write(const std::vector<DeadLetter>& letters, absl::Time now) {
  if (letters.empty()) return absl::OkStatus();
  std::string lines;
  for (const DeadLetter& letter : letters) AppendDeadLetterJson(letter, now, &lines);
  return file_->Append(lines);
}

}  // namespace cohort::ingest::sinks
