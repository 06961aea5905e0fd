// The formats of the secret files the ingest config names (mounted from Secrets under
// /etc/cohort/secrets/<volume>/<key>), and their parsers. docs/ingest-config.md documents them for
// users. The ingest reads each file at start (and again when it changes) and keeps what it needs in
// memory only: for the keys it checks (API keys, query keys, the Dify pair) only their SHA-256
// digests; the plaintext of a value it must send (a destination's API key, ClickHouse credentials)
// in a SecretValue.
//
// Error messages never contain file contents, not even the parts that are not keys (a line with
// its columns swapped would put a key where a project is expected): they name the file kind, the
// line and the column.
//
// Thread-safety: the parsed types are immutable after Parse; their const methods may be called
// from any number of threads.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "config/ingest_config.h"

namespace cohort::config {

// Files larger than this are refused.
inline constexpr size_t kMaxSecretFileBytes = 1 << 20;
// API and query keys: 16..512 characters of [A-Za-z0-9._~+/=-] (hex, base64, UUIDs, Amplitude
// keys).
inline constexpr size_t kMinKeyLength = 16;
inline constexpr size_t kMaxKeyLength = 512;

// A secret the process must send somewhere, held only in memory. Move-only; the bytes are
// overwritten when it is destroyed or moved from (best effort: copies the allocator made are out of
// reach). Has no operator<< and no DebugString on purpose.
class SecretValue {
 public:
  explicit SecretValue(std::string value) : value_(std::move(value)) {}
  SecretValue(SecretValue&& other) noexcept;
  SecretValue& operator=(SecretValue&& other) noexcept;
  SecretValue(const SecretValue&) = delete;
  SecretValue& operator=(const SecretValue&) = delete;
  ~SecretValue();

  // The bytes, for the one place that sends them. Never log them.
  std::string_view Reveal() const { return value_; }
  size_t size() const { return value_.size(); }

 private:
  std::string value_;
};

// A single-value secret file (a destination's API key, a ClickHouse username or password, either
// half of the Dify pair): the whole file with surrounding whitespace (a trailing newline) removed;
// it must be one non-empty line of printable ASCII without spaces, at most 4096 bytes. `what`
// names the file in errors ("destinations[0].amplitude.apiKeyFile").
[[nodiscard]] absl::StatusOr<SecretValue> ParseSecretValue(std::string_view text,
                                                           std::string_view what);

using KeyDigest = std::array<unsigned char, 32>;  // SHA-256

// The api-keys file: which keys may send events, to which project, through which sources.
//
//   # comment; blank lines are ignored
//   <key> <project> <sources>
//   0123456789abcdef0123456789abcdef  web      amplitude
//   fedcba9876543210fedcba9876543210  backend  amplitude,native
//
// Columns are separated by spaces or tabs. <project>: [a-z0-9][a-z0-9_-]*, at most 63. <sources>:
// a comma-separated list (no spaces) of amplitude and native, each at most once; dify traffic
// authenticates with the Dify key pair instead. A key appears at most once; at least one key.
struct ApiKeyGrant {
  std::string project;
  bool amplitude = false;
  bool native = false;
  bool Allows(Source source) const {
    return (source == Source::kAmplitude && amplitude) || (source == Source::kNative && native);
  }
  friend bool operator==(const ApiKeyGrant&, const ApiKeyGrant&) = default;
};

class ApiKeySet {
 public:
  // Errors: kInvalidArgument "api-keys line N: ..." (several problems joined by "; ").
  [[nodiscard]] static absl::StatusOr<ApiKeySet> Parse(std::string_view text);

  // The grant of `presented`, or nullptr. Looks the key up by its SHA-256 digest, so the time
  // taken tells nothing about how much of a stored key matched. The caller still checks Allows().
  const ApiKeyGrant* Find(std::string_view presented) const;
  size_t size() const { return grants_.size(); }

 private:
  absl::flat_hash_map<KeyDigest, ApiKeyGrant> grants_;
};

// The query-keys file: read credentials for the query API and the projects each may read.
//
//   <key> <projects>
//   0123456789abcdef0123456789abcdef  *             (every project)
//   fedcba9876543210fedcba9876543210  web,backend
//
// Same key and project rules as api-keys.
struct QueryKeyGrant {
  bool all_projects = false;
  std::vector<std::string> projects;  // when !all_projects; no duplicates
  bool Allows(std::string_view project) const;
  friend bool operator==(const QueryKeyGrant&, const QueryKeyGrant&) = default;
};

class QueryKeySet {
 public:
  // Errors: kInvalidArgument "query-keys line N: ...".
  [[nodiscard]] static absl::StatusOr<QueryKeySet> Parse(std::string_view text);
  const QueryKeyGrant* Find(std::string_view presented) const;  // as ApiKeySet::Find
  size_t size() const { return grants_.size(); }

 private:
  absl::flat_hash_map<KeyDigest, QueryKeyGrant> grants_;
};

// The Dify (Langfuse) key pair: two single-value files (public key, secret key), each as
// ParseSecretValue, at least 8 characters. Dify sends them as HTTP Basic credentials.
class DifyKeyPair {
 public:
  // Errors: kInvalidArgument naming auth.difyKeys.publicKeyFile or .secretKeyFile.
  [[nodiscard]] static absl::StatusOr<DifyKeyPair> Parse(std::string_view public_key_text,
                                                         std::string_view secret_key_text);
  // Whether both match. Compares digests in constant time and always both halves.
  bool Matches(std::string_view public_key, std::string_view secret_key) const;

 private:
  KeyDigest public_digest_{};
  KeyDigest secret_digest_{};
};

}  // namespace cohort::config
