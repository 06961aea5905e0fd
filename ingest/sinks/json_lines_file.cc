#include "ingest/sinks/json_lines_file.h"

#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cohort::ingest::sinks {
namespace {

std::string DirOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JsonLinesFile>> JsonLinesFile::Open(JsonLinesFileOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("JSON-lines file: empty path");
  if (options.env == nullptr) return absl::InvalidArgumentError("JSON-lines file: null env");
  std::unique_ptr<JsonLinesFile> file(new JsonLinesFile(std::move(options)));
  absl::MutexLock lock(&file->mu_);
  if (absl::Status s = file->OpenFile(); !s.ok()) return s;
  return file;
}

JsonLinesFile::~JsonLinesFile() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) (void)file_->Close();
}

int JsonLinesFile::rotations() const {
  absl::MutexLock lock(&mu_);
  return rotations_;
}

absl::Status JsonLinesFile::OpenFile() {
  absl::StatusOr<uint64_t> size = options_.env->FileSize(options_.path);
  absl::StatusOr<WritableFilePtr> file =
      options_.env->NewAppendableFile(options_.path, /*truncate=*/false);
  if (!file.ok()) return file.status();
  file_ = *std::move(file);
  size_ = size.ok() ? *size : 0;
  if (!size.ok()) {
    // A new file: make its directory entry durable.
    if (absl::Status s = options_.env->SyncDir(DirOf(options_.path)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status JsonLinesFile::Rotate() {
  const std::string dir = DirOf(options_.path);
  const std::string base = std::filesystem::path(options_.path).filename().string();
  absl::StatusOr<std::vector<std::string>> names = options_.env->ListDir(dir);
  if (!names.ok()) return names.status();
  uint64_t highest = 0;
  const std::string prefix = base + ".";
  for (const std::string& name : *names) {
    uint64_t n = 0;
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        absl::SimpleAtoi(absl::string_view(name).substr(prefix.size()), &n)) {
      highest = std::max(highest, n);
    }
  }
  if (file_ != nullptr) {
    absl::Status closed = file_->Close();
    file_.reset();
    if (!closed.ok()) return closed;
  }
  if (absl::Status s =
          options_.env->Rename(options_.path, absl::StrCat(options_.path, ".", highest + 1));
      !s.ok()) {
    return s;
  }
  ++rotations_;
  if (absl::Status s = options_.env->SyncDir(dir); !s.ok()) return s;
  return OpenFile();
}

absl::Status JsonLinesFile::Append(std::string_view lines) {
  absl::MutexLock lock(&mu_);
  if (file_ == nullptr) {
    if (absl::Status s = OpenFile(); !s.ok()) return s;
  }
  if (options_.max_bytes > 0 && size_ > 0 && size_ + lines.size() > options_.max_bytes) {
    if (absl::Status s = Rotate(); !s.ok()) {
      file_.reset();
      return s;
    }
  }
  if (absl::Status s = file_->Append(lines); !s.ok()) {
    if (!file_->Truncate(size_).ok()) file_.reset();
    return s;
  }
  if (absl::Status s = file_->SyncData(); !s.ok()) {
    // The page cache state is unknown; the caller retries (and may duplicate: at-least-once).
    size_ += lines.size();
    file_.reset();
    return s;
  }
  size_ += lines.size();
  return absl::OkStatus();
}

}  // namespace cohort::ingest::sinks
