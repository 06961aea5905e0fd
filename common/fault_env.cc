#include "common/fault_env.h"

#include <algorithm>

namespace cohort {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultEnv& env, WritableFilePtr base) : env_(env), base_(std::move(base)) {}

  absl::Status Append(std::string_view data) override {
    if (env_.no_space_) return absl::ResourceExhaustedError("injected: No space left on device");
    if (env_.fail_write_) return absl::InternalError("injected: write failed (EIO)");
    if (env_.tear_next_.exchange(false)) {
      const size_t n = std::min<uint64_t>(env_.torn_bytes_, data.size());
      absl::Status status = base_->Append(data.substr(0, n));
      if (!status.ok()) return status;
      return absl::InternalError("injected: torn write (EIO)");
    }
    return base_->Append(data);
  }
  absl::Status SyncData() override {
    if (env_.fail_sync_) return absl::InternalError("injected: fdatasync failed (EIO)");
    ++env_.data_syncs_;
    return base_->SyncData();
  }
  absl::Status Sync() override {
    if (env_.fail_sync_) return absl::InternalError("injected: fsync failed (EIO)");
    ++env_.data_syncs_;
    return base_->Sync();
  }
  absl::Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  absl::Status Close() override { return base_->Close(); }

 private:
  FaultEnv& env_;
  WritableFilePtr base_;
};

absl::StatusOr<WritableFilePtr> FaultEnv::NewAppendableFile(const std::string& path,
                                                            bool truncate) {
  absl::StatusOr<WritableFilePtr> base = base_.NewAppendableFile(path, truncate);
  if (!base.ok()) return base.status();
  return std::make_unique<FaultWritableFile>(*this, std::move(*base));
}

absl::Status FaultEnv::SyncDir(const std::string& path) {
  if (fail_sync_ || fail_dir_sync_) {
    return absl::InternalError("injected: directory fsync failed (EIO)");
  }
  ++dir_syncs_;
  return base_.SyncDir(path);
}

absl::StatusOr<uint64_t> FaultEnv::FreeBytes(const std::string& path) {
  const int64_t fake = free_bytes_;
  if (fake >= 0) return static_cast<uint64_t>(fake);
  return base_.FreeBytes(path);
}

}  // namespace cohort
