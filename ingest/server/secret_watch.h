// Keeps a value parsed from mounted secret files current. Kubernetes updates a mounted Secret in
// place (an atomic symlink swap) some time after it changes, and the ingest must follow a rotated
// API key without a restart: Check() rereads the files and, when their bytes changed, parses them
// again and publishes the new value. A file that no longer parses keeps the old value in service
// (a half-edited Secret must not lock every client out) and reports the error.
//
// Only a SHA-256 of the files' bytes is kept to notice changes, never the bytes themselves (what
// the parser keeps is its business: config/secret_files.h keeps digests of keys).
//
// Thread-safe: Get() from any thread (a shared_ptr copy under a short lock), Check() from one
// thread at a time.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace cohort::ingest {

// Reads a whole file of at most `max_bytes`. Errors: kNotFound, kPermissionDenied, kOutOfRange
// (too large), kInternal; messages name the path, never the contents.
[[nodiscard]] absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

namespace secret_watch_internal {
using Digest = std::array<unsigned char, 32>;
// SHA-256 over every content's length and bytes, in order.
Digest DigestOf(const std::vector<std::string>& contents);
// The files' contents, in order (at most config::kMaxSecretFileBytes each).
absl::StatusOr<std::vector<std::string>> ReadAll(const std::vector<std::string>& paths);
// Overwrites the strings' bytes (best effort: the plaintext does not linger in freed memory).
void Scrub(std::vector<std::string>& contents);
}  // namespace secret_watch_internal

template <typename T>
class SecretWatch {
 public:
  // Parses the files' contents (in the order of `paths`) into a T.
  using Parser = std::function<absl::StatusOr<T>(const std::vector<std::string>& contents)>;

  // Reads and parses the files now. Errors: the read or parse error (a server must not start
  // with keys it cannot read).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SecretWatch>> Create(
      std::vector<std::string> paths, Parser parser) {
    absl::StatusOr<std::vector<std::string>> contents = secret_watch_internal::ReadAll(paths);
    if (!contents.ok()) return contents.status();
    const secret_watch_internal::Digest digest = secret_watch_internal::DigestOf(*contents);
    absl::StatusOr<T> value = parser(*contents);
    secret_watch_internal::Scrub(*contents);
    if (!value.ok()) return value.status();
    return std::unique_ptr<SecretWatch>(new SecretWatch(
        std::move(paths), std::move(parser), digest, std::make_shared<const T>(*std::move(value))));
  }

  std::shared_ptr<const T> Get() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return value_;
  }

  // Rereads the files. OK when unchanged or reloaded (`*reloaded` says which, if given); the read
  // or parse error otherwise, with the previous value kept.
  absl::Status Check(bool* reloaded = nullptr) ABSL_LOCKS_EXCLUDED(mu_) {
    if (reloaded != nullptr) *reloaded = false;
    absl::StatusOr<std::vector<std::string>> contents = secret_watch_internal::ReadAll(paths_);
    if (!contents.ok()) return contents.status();
    const secret_watch_internal::Digest digest = secret_watch_internal::DigestOf(*contents);
    if (digest == digest_) {
      secret_watch_internal::Scrub(*contents);
      return absl::OkStatus();
    }
    absl::StatusOr<T> value = parser_(*contents);
    secret_watch_internal::Scrub(*contents);
    if (!value.ok()) return value.status();  // digest_ unchanged: the next Check retries
    digest_ = digest;
    auto fresh = std::make_shared<const T>(*std::move(value));
    {
      absl::MutexLock lock(&mu_);
      value_ = std::move(fresh);
    }
    if (reloaded != nullptr) *reloaded = true;
    return absl::OkStatus();
  }

 private:
  SecretWatch(std::vector<std::string> paths, Parser parser, secret_watch_internal::Digest digest,
              std::shared_ptr<const T> value)
      : paths_(std::move(paths)),
        parser_(std::move(parser)),
        digest_(digest),
        value_(std::move(value)) {}

  const std::vector<std::string> paths_;
  const Parser parser_;
  secret_watch_internal::Digest digest_;  // of the files behind value_ (Check's thread only)
  mutable absl::Mutex mu_;
  std::shared_ptr<const T> value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::ingest
