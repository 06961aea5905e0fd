// Secret-file formats: see secret_files.h.
#include "config/secret_files.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cohort::config {
namespace {

// Small string helpers over std::string_view (Debian's absl::string_view is a distinct type).
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(separator, start)) != std::string_view::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// Runs of non-space characters.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

void Wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

KeyDigest Digest(std::string_view text) {
  KeyDigest digest;
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    // Only a broken libcrypto fails here; carrying on would accept or reject keys at random.
    std::fprintf(stderr, "secret_files: SHA-256 failed\n");
    std::abort();
  }
  return digest;
}

bool IsKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("._~+/=-").find(c) != std::string_view::npos;
}

// Problems found in a key; never includes the key.
std::optional<std::string> KeyProblem(std::string_view key) {
  if (key.size() < kMinKeyLength || key.size() > kMaxKeyLength) {
    return absl::StrCat("key has ", key.size(), " characters; want ", kMinKeyLength, "..",
                        kMaxKeyLength);
  }
  for (size_t i = 0; i < key.size(); ++i) {
    if (!IsKeyChar(key[i])) {
      return absl::StrCat("key has a character outside [A-Za-z0-9._~+/=-] at position ", i + 1);
    }
  }
  return std::nullopt;
}

bool IsProject(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  if (!absl::ascii_islower(s[0]) && !absl::ascii_isdigit(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

constexpr char kProjectRule[] = "[a-z0-9][a-z0-9_-]*, at most 63 characters";

struct Line {
  int number;
  std::vector<std::string_view> fields;
};

// The non-blank, non-comment lines of a key file, split into fields.
absl::StatusOr<std::vector<Line>> Lines(std::string_view text, std::string_view kind) {
  if (text.size() > kMaxSecretFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(kind), ": file is larger than ", kMaxSecretFileBytes, " bytes"));
  }
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";  // from some editors
  if (text.substr(0, kByteOrderMark.size()) == kByteOrderMark) text.remove_prefix(3);
  std::vector<Line> lines;
  int number = 0;
  for (std::string_view raw : Split(text, '\n')) {
    ++number;
    const std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    lines.push_back({number, Fields(line)});
  }
  return lines;
}

// Collects "<kind> line N: ..." problems.
class LineProblems {
 public:
  explicit LineProblems(std::string_view kind) : kind_(kind) {}
  void Add(int line, std::string_view message) {
    list_.push_back(absl::StrCat(kind_, " line ", line, ": ", std::string(message)));
  }
  void AddFile(std::string_view message) {
    list_.push_back(absl::StrCat(kind_, ": ", std::string(message)));
  }
  absl::Status ToStatus() const {
    if (list_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(list_, "; "));
  }

 private:
  std::string kind_;
  std::vector<std::string> list_;
};

// Checks the key in `line.fields[0]` and that it is new; returns its digest when both hold.
std::optional<KeyDigest> CheckKey(const Line& line, LineProblems& problems,
                                  absl::flat_hash_map<KeyDigest, int>& seen) {
  if (std::optional<std::string> problem = KeyProblem(line.fields[0])) {
    problems.Add(line.number, *problem);
    return std::nullopt;
  }
  const KeyDigest digest = Digest(line.fields[0]);
  auto [it, inserted] = seen.emplace(digest, line.number);
  if (!inserted) {
    problems.Add(line.number, absl::StrCat("duplicate key (same as line ", it->second, ")"));
    return std::nullopt;
  }
  return digest;
}

}  // namespace

SecretValue::SecretValue(SecretValue&& other) noexcept : value_(other.value_) {
  Wipe(other.value_);
}

SecretValue& SecretValue::operator=(SecretValue&& other) noexcept {
  if (this != &other) {
    Wipe(value_);
    value_ = other.value_;
    Wipe(other.value_);
  }
  return *this;
}

SecretValue::~SecretValue() { Wipe(value_); }

absl::StatusOr<SecretValue> ParseSecretValue(std::string_view text, std::string_view what) {
  constexpr size_t kMax = 4096;
  const std::string w(what);
  if (text.size() > kMaxSecretFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(w, ": file is larger than ", kMaxSecretFileBytes, " bytes"));
  }
  const std::string_view value = Trim(text);
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(w, ": the file is empty"));
  if (value.size() > kMax) {
    return absl::InvalidArgumentError(absl::StrCat(w, ": value longer than ", kMax, " bytes"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = value[i];
    if (c == '\n') {
      return absl::InvalidArgumentError(
          absl::StrCat(w, ": more than one line (the file holds one value)"));
    }
    if (c <= 0x20 || c >= 0x7F) {
      return absl::InvalidArgumentError(absl::StrCat(
          w, ": value has a space or a character outside printable ASCII at position ", i + 1));
    }
  }
  return SecretValue(std::string(value));
}

absl::StatusOr<ApiKeySet> ApiKeySet::Parse(std::string_view text) {
  constexpr std::string_view kKind = "api-keys";
  absl::StatusOr<std::vector<Line>> lines = Lines(text, kKind);
  if (!lines.ok()) return lines.status();
  LineProblems problems(kKind);
  absl::flat_hash_map<KeyDigest, int> seen;
  ApiKeySet set;
  for (const Line& line : *lines) {
    if (line.fields.size() != 3) {
      problems.Add(line.number,
                   absl::StrCat("expected 3 columns (<key> <project> <sources>), found ",
                                line.fields.size()));
      continue;
    }
    const std::optional<KeyDigest> digest = CheckKey(line, problems, seen);
    ApiKeyGrant grant;
    bool ok = digest.has_value();
    if (!IsProject(line.fields[1])) {
      problems.Add(line.number, absl::StrCat("project (column 2) must be ", kProjectRule));
      ok = false;
    } else {
      grant.project = std::string(line.fields[1]);
    }
    int position = 0;
    for (std::string_view source : Split(line.fields[2], ',')) {
      ++position;
      bool* flag = source == "amplitude" ? &grant.amplitude
                   : source == "native"  ? &grant.native
                                         : nullptr;
      if (source == "dify") {
        problems.Add(line.number, absl::StrCat("source ", position,
                                               " is dify, which authenticates with the Dify key "
                                               "pair (auth.difyKeys), not with an API key"));
        ok = false;
      } else if (flag == nullptr) {
        problems.Add(line.number,
                     absl::StrCat("source ", position, " in column 3 is not amplitude or native"));
        ok = false;
      } else if (*flag) {
        problems.Add(line.number, absl::StrCat("source ", position, " is listed twice"));
        ok = false;
      } else {
        *flag = true;
      }
    }
    if (ok) set.grants_.emplace(*digest, std::move(grant));
  }
  if (lines->empty()) problems.AddFile("no keys (every line is blank or a comment)");
  if (absl::Status status = problems.ToStatus(); !status.ok()) return status;
  return set;
}

const ApiKeyGrant* ApiKeySet::Find(std::string_view presented) const {
  auto it = grants_.find(Digest(presented));
  return it == grants_.end() ? nullptr : &it->second;
}

bool QueryKeyGrant::Allows(std::string_view project) const {
  if (all_projects) return true;
  for (const std::string& p : projects) {
    if (p == project) return true;
  }
  return false;
}

absl::StatusOr<QueryKeySet> QueryKeySet::Parse(std::string_view text) {
  constexpr std::string_view kKind = "query-keys";
  absl::StatusOr<std::vector<Line>> lines = Lines(text, kKind);
  if (!lines.ok()) return lines.status();
  LineProblems problems(kKind);
  absl::flat_hash_map<KeyDigest, int> seen;
  QueryKeySet set;
  for (const Line& line : *lines) {
    if (line.fields.size() != 2) {
      problems.Add(line.number, absl::StrCat("expected 2 columns (<key> <projects>), found ",
                                             line.fields.size()));
      continue;
    }
    const std::optional<KeyDigest> digest = CheckKey(line, problems, seen);
    QueryKeyGrant grant;
    bool ok = digest.has_value();
    if (line.fields[1] == "*") {
      grant.all_projects = true;
    } else {
      absl::flat_hash_set<std::string_view> listed;
      int position = 0;
      for (std::string_view project : Split(line.fields[1], ',')) {
        ++position;
        if (!IsProject(project)) {
          problems.Add(line.number, absl::StrCat("project ", position, " in column 2 must be ",
                                                 kProjectRule, " (or the column is *)"));
          ok = false;
        } else if (!listed.insert(project).second) {
          problems.Add(line.number, absl::StrCat("project ", position, " is listed twice"));
          ok = false;
        } else {
          grant.projects.emplace_back(project);
        }
      }
    }
    if (ok) set.grants_.emplace(*digest, std::move(grant));
  }
  if (lines->empty()) problems.AddFile("no keys (every line is blank or a comment)");
  if (absl::Status status = problems.ToStatus(); !status.ok()) return status;
  return set;
}

const QueryKeyGrant* QueryKeySet::Find(std::string_view presented) const {
  auto it = grants_.find(Digest(presented));
  return it == grants_.end() ? nullptr : &it->second;
}

absl::StatusOr<DifyKeyPair> DifyKeyPair::Parse(std::string_view public_key_text,
                                               std::string_view secret_key_text) {
  constexpr size_t kMin = 8;
  std::vector<std::string> problems;
  DifyKeyPair pair;
  const std::pair<std::string_view, std::string_view> halves[] = {
      {public_key_text, "auth.difyKeys.publicKeyFile"},
      {secret_key_text, "auth.difyKeys.secretKeyFile"}};
  KeyDigest* digests[] = {&pair.public_digest_, &pair.secret_digest_};
  for (size_t i = 0; i < 2; ++i) {
    absl::StatusOr<SecretValue> value = ParseSecretValue(halves[i].first, halves[i].second);
    if (!value.ok()) {
      problems.emplace_back(value.status().message());
    } else if (value->size() < kMin) {
      problems.push_back(absl::StrCat(std::string(halves[i].second), ": value has ", value->size(),
                                      " characters; want at least ", kMin));
    } else {
      *digests[i] = Digest(value->Reveal());
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  return pair;
}

bool DifyKeyPair::Matches(std::string_view public_key, std::string_view secret_key) const {
  const KeyDigest p = Digest(public_key);
  const KeyDigest s = Digest(secret_key);
  const int public_differs = CRYPTO_memcmp(p.data(), public_digest_.data(), p.size());
  const int secret_differs = CRYPTO_memcmp(s.data(), secret_digest_.data(), s.size());
  return (public_differs | secret_differs) == 0;
}

}  // namespace cohort::config
