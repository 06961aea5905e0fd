// Decodes the body of a Kubernetes watch response: newline-delimited JSON objects
// `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}` arriving in chunks cut anywhere
// (mid-line, mid-UTF-8 character, exactly at '\n').
//
// The informer owns one WatchDecoder per open watch, Feed()s it every chunk it reads and drains
// Next() after each Feed. Tracking bytes received and the time of the last activity (to notice a
// dead connection) is the caller's job; this class only turns bytes into events.
//
// Untrusted input never crashes it and never makes it grow without bound: a line that is not a
// watch event becomes an error event (kDataLoss) and decoding goes on with the next line; a line
// longer than `max_line_bytes` becomes one error event (kResourceExhausted), its bytes are dropped
// as they arrive (the partial-line buffer never holds more than `max_line_bytes`), and decoding
// resumes after its '\n'. JSON nested deeper than `max_depth` is rejected as malformed, so no later
// recursive walk of an event (copy, compare, dump) can overflow the stack. The events produced do
// not depend on where the chunks were cut.
//
// Not thread-safe: one thread at a time (the one reading the stream). Never throws.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace cohort::op {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

// "ADDED", "MODIFIED", ...: the wire names.
std::string_view WatchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kError;
  // The object (for kBookmark only metadata.resourceVersion is meaningful; for a server ERROR event
  // the metav1.Status; null for a line that could not be decoded).
  nlohmann::json object;
  // object.metadata.resourceVersion, for every type that has one (BOOKMARK included); else empty.
  std::string resource_version;
  // OK unless type == kError. A server ERROR event gives FromStatusObject(object) (so an in-stream
  // 410 satisfies IsGone() and HttpCode() is the Status's code); a line the decoder could not
  // decode gives kDataLoss, an over-long line kResourceExhausted (neither carries an HTTP code).
  absl::Status error;
};

struct WatchDecoderOptions {
  // Longest accepted line, in bytes, excluding the '\n' (a trailing '\r' counts).
  size_t max_line_bytes = size_t{16} << 20;
  // Deepest accepted JSON nesting (objects and arrays). Go's encoding/json in the API server allows
  // 10000, but no real object comes close; 1024 matches simdjson's default.
  int max_depth = 1024;
};

class WatchDecoder {
 public:
  explicit WatchDecoder(WatchDecoderOptions options = {});

  WatchDecoder(const WatchDecoder&) = delete;
  WatchDecoder& operator=(const WatchDecoder&) = delete;

  // Consumes the next bytes of the stream. Every line completed by `chunk` is decoded and queued
  // for Next(), so drain Next() after each Feed: the queue is bounded only by what was fed.
  void Feed(std::string_view chunk);

  // Declares the end of the stream. A final line without '\n' is decoded if it is a complete
  // event (queued for Next()); returns kDataLoss if the stream ended inside an event, OK otherwise.
  // The decoder is reset and can be fed a new stream afterwards.
  [[nodiscard]] absl::Status Finish();

  // The next decoded event, in stream order, or nullopt when none is complete yet.
  std::optional<WatchEvent> Next();

  // The first error the decoder itself found (malformed or over-long line) since construction or
  // the last Finish(); OK if none. Server ERROR events do not set it.
  absl::Status status() const { return status_; }

  // Bytes held for the current incomplete line; never more than options.max_line_bytes.
  size_t buffered_bytes() const { return partial_.size(); }
  // Events decoded and not yet taken by Next().
  size_t pending_events() const { return events_.size(); }

 private:
  // Appends a piece of the current line (no '\n' inside).
  void AppendToLine(std::string_view piece);
  // The current line ended at '\n'; `tail` is its part in the current chunk.
  void EndLine(std::string_view tail);
  void DecodeLine(std::string_view line);
  void EmitError(absl::Status error);

  const WatchDecoderOptions options_;
  std::string partial_;      // the current line's bytes so far, unless discarding_
  size_t line_bytes_ = 0;    // length of the current line so far (also while discarding)
  bool discarding_ = false;  // the current line is over-long; drop it up to its '\n'
  std::deque<WatchEvent> events_;
  absl::Status status_;
};

}  // namespace cohort::op
