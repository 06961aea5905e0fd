// An Env wrapper that injects the failures a disk can produce, for tests of the write-ahead log:
// failing fdatasync/fsync, failing writes, torn writes (a prefix reaches the file, then an error),
// ENOSPC, a fake free-space figure (the write-ahead log and the event store use it). Everything
// else passes through to the wrapped Env.
//
// Thread-safe. The wrapped Env must outlive this object, and this object every file it opened.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/file_env.h"

namespace cohort {

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env& base) : base_(base) {}

  // SyncData/Sync on files and SyncDir fail with kInternal ("EIO") while set.
  void set_fail_sync(bool fail) { fail_sync_ = fail; }
  // SyncDir alone fails with kInternal while set.
  void set_fail_dir_sync(bool fail) { fail_dir_sync_ = fail; }
  // WritableFile::Append fails with kInternal while set; nothing reaches the file.
  void set_fail_write(bool fail) { fail_write_ = fail; }
  // The next WritableFile::Append writes only its first `n` bytes, then fails with kInternal.
  void TearNextWrite(uint64_t n) {
    torn_bytes_ = n;
    tear_next_ = true;
  }
  // WritableFile::Append fails with kResourceExhausted (ENOSPC) while set.
  void set_no_space(bool no_space) { no_space_ = no_space; }
  // FreeBytes answers this instead of the real figure (negative: the real figure).
  void set_free_bytes(int64_t bytes) { free_bytes_ = bytes; }

  // Counters, for assertions.
  int64_t data_syncs() const { return data_syncs_; }
  int64_t dir_syncs() const { return dir_syncs_; }

  absl::StatusOr<WritableFilePtr> NewAppendableFile(const std::string& path,
                                                    bool truncate) override;
  absl::StatusOr<RandomAccessFilePtr> NewRandomAccessFile(const std::string& path) override {
    return base_.NewRandomAccessFile(path);
  }
  absl::StatusOr<ReadOnlyMappingPtr> MapReadOnly(const std::string& path) override {
    return base_.MapReadOnly(path);
  }
  absl::Status CreateDir(const std::string& path) override { return base_.CreateDir(path); }
  absl::Status SyncDir(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return base_.Rename(from, to);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_.ListDir(path);
  }
  absl::Status RemoveFile(const std::string& path) override { return base_.RemoveFile(path); }
  absl::StatusOr<FileLockPtr> LockFile(const std::string& path) override {
    return base_.LockFile(path);
  }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    return base_.FileSize(path);
  }
  absl::Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_.TruncateFile(path, size);
  }
  absl::StatusOr<uint64_t> FreeBytes(const std::string& path) override;

 private:
  friend class FaultWritableFile;

  Env& base_;
  std::atomic<bool> fail_sync_{false};
  std::atomic<bool> fail_dir_sync_{false};
  std::atomic<bool> fail_write_{false};
  std::atomic<bool> no_space_{false};
  std::atomic<bool> tear_next_{false};
  std::atomic<uint64_t> torn_bytes_{0};
  std::atomic<int64_t> free_bytes_{-1};
  std::atomic<int64_t> data_syncs_{0};
  std::atomic<int64_t> dir_syncs_{0};
};

}  // namespace cohort
