// File reading and digests for SecretWatch (secret_watch.h).
#include "ingest/server/secret_watch.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "config/secret_files.h"

namespace cohort::ingest {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot read ", path, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return absl::OutOfRangeError(absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace secret_watch_internal {

Digest DigestOf(const std::vector<std::string>& contents) {
  Digest digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const std::string& c : contents) {
    const uint64_t size = c.size();
    EVP_DigestUpdate(ctx, &size, sizeof(size));
    EVP_DigestUpdate(ctx, c.data(), c.size());
  }
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &length);
  EVP_MD_CTX_free(ctx);
  return digest;
}

absl::StatusOr<std::vector<std::string>> ReadAll(const std::vector<std::string>& paths) {
  std::vector<std::string> contents;
  contents.reserve(paths.size());
  for (const std::string& path : paths) {
    absl::StatusOr<std::string> text = ReadSmallFile(path, config::kMaxSecretFileBytes);
    if (!text.ok()) {
      Scrub(contents);
      return text.status();
    }
    contents.push_back(*std::move(text));
  }
  return contents;
}

void Scrub(std::vector<std::string>& contents) {
  for (std::string& c : contents) {
    volatile char* p = c.data();
    for (size_t i = 0; i < c.size(); ++i) p[i] = 0;
  }
  contents.clear();
}

}  // namespace secret_watch_internal
}  // namespace cohort::ingest
