// The filesystem as durable storage code sees it (like leveldb's Env): a few calls, so tests can
// inject faults (fault_env.h) and the write-ahead log, the sinks and the event store never touch
// POSIX directly. Errors are
// absl::Status: ENOSPC and EDQUOT map to kResourceExhausted, ENOENT to kNotFound, everything
// else to kInternal with the path and strerror in the message.
//
// Thread safety: an Env is thread-safe. A file object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cohort {

// A file open for appending. Writes go to the end of the file.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` (retrying short writes and EINTR). On error some prefix of `data` may have
  // reached the file: the caller truncates back if it keeps using the file.
  [[nodiscard]] virtual absl::Status Append(std::string_view data) = 0;
  // fdatasync: the data written so far (and the size) is durable when this returns OK. An error
  // means the state of the written data is unknown (the page cache may have dropped it).
  [[nodiscard]] virtual absl::Status SyncData() = 0;
  // fsync: data and all metadata.
  [[nodiscard]] virtual absl::Status Sync() = 0;
  // ftruncate to `size` bytes (used to drop a partially written batch).
  [[nodiscard]] virtual absl::Status Truncate(uint64_t size) = 0;
  [[nodiscard]] virtual absl::Status Close() = 0;
};
using WritableFilePtr = std::unique_ptr<WritableFile>;

// A file open for positional reads. Safe to call Read from several threads at once.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `scratch` (at least `n` bytes) and returns the bytes
  // read, fewer than `n` only at the end of the file.
  [[nodiscard]] virtual absl::StatusOr<std::string_view> Read(uint64_t offset, size_t n,
                                                              char* scratch) const = 0;
};
using RandomAccessFilePtr = std::unique_ptr<RandomAccessFile>;

// A read-only memory map of a whole file, unmapped when destroyed; safe to read from several
// threads. The file must not shrink or be rewritten in place while mapped (a read past a shrunk
// end raises SIGBUS): replace it by rename, which leaves the mapping on the old contents.
class ReadOnlyMapping {
 public:
  virtual ~ReadOnlyMapping() = default;
  virtual std::string_view data() const = 0;
};
using ReadOnlyMappingPtr = std::unique_ptr<ReadOnlyMapping>;

// An exclusive advisory lock on a file (flock), held until this object is destroyed or the
// process dies (so a crash never leaves a stale lock behind).
class FileLock {
 public:
  virtual ~FileLock() = default;
};
using FileLockPtr = std::unique_ptr<FileLock>;

class Env {
 public:
  virtual ~Env() = default;

  // Opens `path` for appending, creating it (mode 0644) if missing; `truncate` empties it first.
  [[nodiscard]] virtual absl::StatusOr<WritableFilePtr> NewAppendableFile(const std::string& path,
                                                                          bool truncate) = 0;
  [[nodiscard]] virtual absl::StatusOr<RandomAccessFilePtr> NewRandomAccessFile(
      const std::string& path) = 0;

  // Maps all of `path` read-only (an empty file maps to no bytes).
  [[nodiscard]] virtual absl::StatusOr<ReadOnlyMappingPtr> MapReadOnly(const std::string& path) = 0;

  // mkdir (mode 0755); OK if it exists as a directory.
  [[nodiscard]] virtual absl::Status CreateDir(const std::string& path) = 0;
  // fsync on the directory itself, making creates, renames and removes in it durable.
  [[nodiscard]] virtual absl::Status SyncDir(const std::string& path) = 0;
  // rename(2): atomic replacement of `to`.
  [[nodiscard]] virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // The names (not paths) in a directory, without "." and "..", in no particular order.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) = 0;
  [[nodiscard]] virtual absl::Status RemoveFile(const std::string& path) = 0;
  [[nodiscard]] virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Truncates the file at `path` to `size` bytes and fsyncs it.
  [[nodiscard]] virtual absl::Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Bytes available to an unprivileged writer on the filesystem holding `path` (statvfs f_bavail).
  [[nodiscard]] virtual absl::StatusOr<uint64_t> FreeBytes(const std::string& path) = 0;
  // Creates `path` if missing and locks it exclusively without waiting: the guard of a data
  // directory against a second process (or a second open in this one). Errors:
  // kFailedPrecondition when the lock is held elsewhere; I/O errors.
  [[nodiscard]] virtual absl::StatusOr<FileLockPtr> LockFile(const std::string& path) = 0;
};

// The real filesystem. Process-wide; never deleted.
Env& PosixEnv();

// Reads a whole (small) file.
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(Env& env, const std::string& path);

// Writes `data` to `path` atomically and durably: `path`.tmp is written and fsynced, renamed over
// `path`, and the directory `dir` (which holds `path`) is fsynced. On error `path` holds either
// its old or its new contents.
[[nodiscard]] absl::Status WriteFileAtomically(Env& env, const std::string& dir,
                                               const std::string& path, std::string_view data);
// As above, with the contents appended by `write` to the open temporary file (in as many pieces
// as it likes, so that large contents need not be in memory at once); an error from `write`
// leaves `path` as it was.
[[nodiscard]] absl::Status WriteFileAtomically(
    Env& env, const std::string& dir, const std::string& path,
    absl::FunctionRef<absl::Status(WritableFile&)> write);

}  // namespace cohort
