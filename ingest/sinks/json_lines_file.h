// An append-only file of JSON lines, made durable (fdatasync) before Append returns, optionally
// rotated by size: what the JSON-lines file sink and the dead-letter file write.
//
// Rotation: when an append would grow the file past max_bytes (and it is not empty), the file is
// renamed to "<path>.<n>" (n = 1 + the highest existing suffix), the directory fsynced, and a new
// file started. Rotated files are never deleted here.
//
// Thread-safe (appends are serialized).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file_env.h"

namespace cohort::ingest::sinks {

struct JsonLinesFileOptions {
  std::string path;  // its directory must exist
  Env* env = &PosixEnv();
  uint64_t max_bytes = 0;  // 0: never rotate
};

class JsonLinesFile {
 public:
  // Opens (creating) the file for appending. Errors: kInvalidArgument for an empty path, I/O
  // errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JsonLinesFile>> Open(
      JsonLinesFileOptions options);
  ~JsonLinesFile();
  JsonLinesFile(const JsonLinesFile&) = delete;
  JsonLinesFile& operator=(const JsonLinesFile&) = delete;

  // Appends `lines` (each line ends with '\n', written by the caller) and fdatasyncs. OK means
  // durable. On a write error the file is truncated back (nothing of `lines` stays, as far as the
  // file system lets us); on a sync error the lines may or may not be durable (a retry may
  // duplicate them).
  [[nodiscard]] absl::Status Append(std::string_view lines);

  const std::string& path() const { return options_.path; }
  int rotations() const;

 private:
  explicit JsonLinesFile(JsonLinesFileOptions options) : options_(std::move(options)) {}
  absl::Status OpenFile() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Rotate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JsonLinesFileOptions options_;
  mutable absl::Mutex mu_;
  WritableFilePtr file_ ABSL_GUARDED_BY(mu_);  // null after an error: reopened next time
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  int rotations_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::ingest::sinks
