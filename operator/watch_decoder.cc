#include "operator/watch_decoder.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "operator/api_error.h"

namespace cohort::op {
namespace {

using nlohmann::json;

// Above this, the partial-line buffer's memory is released after each line, so one large event
// does not pin its size for the life of the watch.
constexpr size_t kKeepCapacity = size_t{1} << 20;

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// Whether the JSON text nests objects/arrays deeper than `max_depth`. Brackets inside strings do
// not count. Runs before parsing so no deep tree is ever built.
bool TooDeep(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) return true;
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

std::optional<WatchEventType> ParseType(const std::string& name) {
  if (name == "ADDED") return WatchEventType::kAdded;
  if (name == "MODIFIED") return WatchEventType::kModified;
  if (name == "DELETED") return WatchEventType::kDeleted;
  if (name == "BOOKMARK") return WatchEventType::kBookmark;
  if (name == "ERROR") return WatchEventType::kError;
  return std::nullopt;
}

std::string ResourceVersionOf(const json& object) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto rv = meta->find("resourceVersion");
  if (rv == meta->end() || !rv->is_string()) return "";
  return rv->get<std::string>();
}

}  // namespace

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

WatchDecoder::WatchDecoder(WatchDecoderOptions options) : options_(options) {}

void WatchDecoder::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      AppendToLine(chunk);
      return;
    }
    EndLine(chunk.substr(0, nl));
    chunk.remove_prefix(nl + 1);
  }
}

absl::Status WatchDecoder::Finish() {
  absl::Status result;
  if (discarding_) {
    result = absl::DataLossError(
        absl::StrCat("watch stream ended inside an over-long line of ", line_bytes_, " bytes"));
  } else if (!IsBlank(partial_)) {
    // Servers end every event with '\n', but a complete object at the end is still an event; a
    // truncated one is never valid JSON, so it cannot be mistaken for one.
    const json probe =
        TooDeep(partial_, options_.max_depth)
            ? json(json::value_t::discarded)
            : json::parse(partial_.begin(), partial_.end(), nullptr, /*allow_exceptions=*/false);
    if (probe.is_discarded()) {
      result = absl::DataLossError(
          absl::StrCat("watch stream ended inside an event (", partial_.size(), " bytes)"));
    } else {
      DecodeLine(partial_);
    }
  }
  std::string().swap(partial_);
  line_bytes_ = 0;
  discarding_ = false;
  status_ = absl::OkStatus();
  return result;
}

std::optional<WatchEvent> WatchDecoder::Next() {
  if (events_.empty()) return std::nullopt;
  WatchEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void WatchDecoder::AppendToLine(std::string_view piece) {
  line_bytes_ += piece.size();
  if (discarding_) return;
  if (line_bytes_ > options_.max_line_bytes) {
    EmitError(absl::ResourceExhaustedError(absl::StrCat(
        "watch event line longer than the limit of ", options_.max_line_bytes, " bytes")));
    discarding_ = true;
    std::string().swap(partial_);
    return;
  }
  partial_.append(piece);
}

void WatchDecoder::EndLine(std::string_view tail) {
  // Route the tail through AppendToLine so the length check is the same wherever the cuts fell.
  if (!discarding_ && partial_.empty() && line_bytes_ + tail.size() <= options_.max_line_bytes) {
    DecodeLine(tail);  // the whole line is in this chunk: no copy
  } else {
    AppendToLine(tail);
    if (!discarding_) DecodeLine(partial_);
  }
  line_bytes_ = 0;
  discarding_ = false;
  if (partial_.capacity() > kKeepCapacity) {
    std::string().swap(partial_);
  } else {
    partial_.clear();
  }
}

void WatchDecoder::DecodeLine(std::string_view line) {
  if (IsBlank(line)) return;
  if (TooDeep(line, options_.max_depth)) {
    EmitError(absl::DataLossError(absl::StrCat("watch event line of ", line.size(),
                                               " bytes nests deeper than ", options_.max_depth)));
    return;
  }
  // The message never quotes the line: a watch on Secrets carries secret values.
  try {
    json doc = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      EmitError(absl::DataLossError(
          absl::StrCat("watch event line of ", line.size(), " bytes is not valid JSON")));
      return;
    }
    if (!doc.is_object()) {
      EmitError(absl::DataLossError("watch event is not a JSON object"));
      return;
    }
    auto type_it = doc.find("type");
    std::optional<WatchEventType> type;
    if (type_it != doc.end() && type_it->is_string()) {
      type = ParseType(type_it->get<std::string>());
    }
    if (!type.has_value()) {
      EmitError(absl::DataLossError("watch event without a known \"type\""));
      return;
    }
    auto object_it = doc.find("object");
    if (object_it == doc.end() || (*type != WatchEventType::kError && !object_it->is_object())) {
      EmitError(absl::DataLossError(absl::StrCat(
          "watch event ", std::string(WatchEventTypeName(*type)), " without an \"object\"")));
      return;
    }
    WatchEvent event;
    event.type = *type;
    event.object = std::move(*object_it);
    event.resource_version = ResourceVersionOf(event.object);
    if (event.type == WatchEventType::kError) {
      event.error = FromStatusObject(event.object);
      if (event.error.ok()) {
        event.error = absl::UnknownError("watch ERROR event with a Success status");
      }
    }
    events_.push_back(std::move(event));
  } catch (const std::exception& e) {
    // nlohmann throws only for misuse or allocation failure; keep both inside this module.
    EmitError(absl::DataLossError(absl::StrCat("watch event could not be decoded: ", e.what())));
  }
}

void WatchDecoder::EmitError(absl::Status error) {
  if (status_.ok()) status_ = error;
  WatchEvent event;
  event.type = WatchEventType::kError;
  event.error = std::move(error);
  events_.push_back(std::move(event));
}

}  // namespace cohort::op
