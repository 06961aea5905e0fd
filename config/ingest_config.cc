// The ingest configuration: defaults, validation, YAML/JSON decoding and canonical JSON rendering.
// See ingest_config.h for the contract and docs/ingest-config.md for the field reference.
#include "config/ingest_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/config_version.h"
#include "config/json_path.h"
#include "config/units.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace cohort::config {

std::string SecretFilePath(std::string_view dir, std::string_view key) {
  return absl::StrCat(std::string(kSecretsDir), "/", std::string(dir), "/", std::string(key));
}

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kAmplitude:
      return "amplitude";
    case Source::kDify:
      return "dify";
    case Source::kNative:
      return "native";
  }
  return "?";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kRename:
      return "Rename";
    case Action::kDrop:
      return "Drop";
    case Action::kSet:
      return "Set";
    case Action::kCopy:
      return "Copy";
    case Action::kExtract:
      return "Extract";
  }
  return "?";
}

std::string_view RegionName(AmplitudeRegion region) {
  return region == AmplitudeRegion::kEU ? "EU" : "US";
}

std::string_view TlsVersionName(TlsVersion version) {
  return version == TlsVersion::k1_2 ? "1.2" : "1.3";
}

std::string AmplitudeBaseUrl(const AmplitudeDestination& destination) {
  if (!destination.endpoint.empty()) return destination.endpoint;
  return std::string(destination.region == AmplitudeRegion::kEU ? kAmplitudeEuBaseUrl
                                                                : kAmplitudeUsBaseUrl);
}

std::string WalDir(const Paths& paths) {
  return absl::StrCat(paths.data_dir, "/", std::string(kWalSubdir));
}
std::string StoreDir(const Paths& paths) {
  return absl::StrCat(paths.data_dir, "/", std::string(kStoreSubdir));
}

IngestConfig Defaults() { return IngestConfig{}; }

namespace {

// The enums' spellings, shared by the decoder and the renderer.
constexpr std::array<std::pair<std::string_view, Source>, 3> kSources{
    {{"amplitude", Source::kAmplitude}, {"dify", Source::kDify}, {"native", Source::kNative}}};
constexpr std::array<std::pair<std::string_view, Action>, 5> kActions{
    {{"Rename", Action::kRename},
     {"Drop", Action::kDrop},
     {"Set", Action::kSet},
     {"Copy", Action::kCopy},
     {"Extract", Action::kExtract}}};
constexpr std::array<std::pair<std::string_view, AmplitudeRegion>, 2> kRegions{
    {{"US", AmplitudeRegion::kUS}, {"EU", AmplitudeRegion::kEU}}};
constexpr std::array<std::pair<std::string_view, TlsVersion>, 2> kTlsVersions{
    {{"1.2", TlsVersion::k1_2}, {"1.3", TlsVersion::k1_3}}};

std::string Join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(std::string(path), ".", std::string(key));
}
std::string Index(std::string_view path, size_t i) {
  return absl::StrCat(std::string(path), "[", i, "]");
}

// Collects "<path>: <message>" problems; the Status lists them all.
class Problems {
 public:
  void Add(std::string_view path, std::string_view message) {
    list_.emplace_back(std::string(path), std::string(message));
  }
  // Adds every problem of `other`, each message followed by `suffix`.
  void AddAll(const Problems& other, std::string_view suffix) {
    for (const auto& [path, message] : other.list_) {
      Add(path, absl::StrCat(message, std::string(suffix)));
    }
  }
  bool empty() const { return list_.empty(); }
  absl::Status ToStatus() const {
    if (list_.empty()) return absl::OkStatus();
    constexpr size_t kShown = 50;
    std::vector<std::string> shown;
    for (size_t i = 0; i < list_.size() && i < kShown; ++i) {
      shown.push_back(absl::StrCat(list_[i].first, ": ", list_[i].second));
    }
    if (list_.size() > kShown) {
      shown.push_back(absl::StrCat("and ", list_.size() - kShown, " more"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(shown, "; "));
  }

 private:
  std::vector<std::pair<std::string, std::string>> list_;
};

// ---------------------------------------------------------------------------------------------
// Validation.

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

bool HasControlCharacter(std::string_view s, bool allow_whitespace) {
  return std::any_of(s.begin(), s.end(), [allow_whitespace](char c) {
    if (allow_whitespace && (c == '\t' || c == '\n' || c == '\r')) return false;
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
}

// Free text: valid UTF-8, no control characters (but tabs and line breaks where
// `allow_whitespace`: values compared with or written into events), at most `max` bytes. Returns
// whether it passed.
bool CheckText(Problems& p, std::string_view path, std::string_view s, size_t max,
               bool allow_whitespace = false) {
  if (s.size() > max) {
    p.Add(path, absl::StrCat("longer than ", max, " bytes"));
    return false;
  }
  if (!IsValidUtf8(s)) {
    p.Add(path, "not valid UTF-8");
    return false;
  }
  if (HasControlCharacter(s, allow_whitespace)) {
    p.Add(path, "contains a control character");
    return false;
  }
  return true;
}

void CheckFile(Problems& p, std::string_view path, std::string_view file) {
  if (file.empty()) {
    p.Add(path, "required");
    return;
  }
  if (!CheckText(p, path, file, kMaxFilePathLength)) return;
  if (file[0] != '/')
    p.Add(path, absl::StrCat("\"", std::string(file), "\" is not an absolute path"));
}

void CheckRange(Problems& p, std::string_view path, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    p.Add(path, absl::StrCat(v, " is out of range [", lo, ", ", hi, "]"));
  }
}

void CheckDuration(Problems& p, std::string_view path, absl::Duration d, absl::Duration lo,
                   absl::Duration hi) {
  if (!IsRepresentableDuration(d)) {
    p.Add(path, "must be a non-negative whole number of milliseconds, at most 36500d");
  } else if (d < lo || d > hi) {
    p.Add(path, absl::StrCat(FormatConfigDuration(d), " is out of range [",
                             FormatConfigDuration(lo), ", ", FormatConfigDuration(hi), "]"));
  }
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  auto ok = [](char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-'; };
  return std::all_of(s.begin(), s.end(), ok) && s.front() != '-' && s.back() != '-';
}

void CheckName(Problems& p, std::string_view path, std::string_view name) {
  if (name.empty()) {
    p.Add(path, "required");
  } else if (!IsDnsLabel(name)) {
    p.Add(path,
          "must be a DNS label: lower-case letters, digits and '-', starting and ending with "
          "a letter or digit, at most 63 characters");
  }
}

// http(s)://host[:port][/path]. Messages never quote the URL (it might carry credentials).
void CheckUrl(Problems& p, std::string_view path, std::string_view url) {
  if (url.size() > kMaxUrlLength) {
    p.Add(path, absl::StrCat("longer than ", kMaxUrlLength, " bytes"));
    return;
  }
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
  } else {
    p.Add(path, "must start with http:// or https://");
    return;
  }
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      p.Add(path, "must be printable ASCII without spaces");
      return;
    }
  }
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    p.Add(path, "must not carry credentials (user:password@); name them in credential files");
    return;
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    p.Add(path, "must not have a query or a fragment");
    return;
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      p.Add(path, "unterminated IPv6 address");
      return;
    }
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port[0] != ':') {
      p.Add(path, "unexpected characters after the IPv6 address");
      return;
    }
    if (!port.empty()) port.remove_prefix(1);
  } else if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty() || host == "[]") {
    p.Add(path, "has no host");
    return;
  }
  if (authority.find(':') != std::string_view::npos && (host[0] != '[' || !port.empty())) {
    int64_t n = 0;
    if (port.empty() || port.size() > 5 || !absl::SimpleAtoi(std::string(port), &n) || n < 1 ||
        n > 65535 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      p.Add(path, "invalid port (want 1..65535)");
    }
  }
}

void CheckCidr(Problems& p, std::string_view path, std::string_view cidr) {
  const std::string quoted = absl::StrCat("\"", std::string(cidr.substr(0, 64)), "\"");
  const size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) {
    p.Add(path, absl::StrCat(quoted, " is not a CIDR (want e.g. 10.0.0.0/8 or fd00::/8)"));
    return;
  }
  const std::string address(cidr.substr(0, slash));
  const std::string_view prefix = cidr.substr(slash + 1);
  unsigned char bytes[16] = {};
  int64_t bits = 0;
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    bits = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    bits = 128;
  } else {
    p.Add(path, absl::StrCat(quoted, " does not start with an IPv4 or IPv6 address"));
    return;
  }
  int64_t length = -1;
  if (prefix.empty() || prefix.size() > 3 ||
      prefix.find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(std::string(prefix), &length) || length > bits) {
    p.Add(path, absl::StrCat(quoted, " has an invalid prefix length (want 0..", bits, ")"));
    return;
  }
}

bool CheckRegex(Problems& p, std::string_view path, const std::string& pattern,
                bool needs_capture_group) {
  if (!CheckText(p, path, pattern, kMaxValueLength)) return false;
  RE2::Options options;
  options.set_log_errors(false);
  const RE2 re(pattern, options);
  if (!re.ok()) {
    p.Add(path, absl::StrCat("invalid RE2: ", re.error()));
    return false;
  }
  if (needs_capture_group && re.NumberOfCapturingGroups() < 1) {
    p.Add(path, "needs a capture group: Extract keeps the first one");
    return false;
  }
  return true;
}

void CheckPath(Problems& p, std::string_view path, std::string_view value, bool property) {
  if (!CheckText(p, path, value, kMaxPathLength)) return;
  const absl::StatusOr<JsonPath> parsed =
      property ? ParsePropertyPath(value) : ParseJsonPath(value);
  if (!parsed.ok()) {
    p.Add(path, absl::StrCat(property ? "invalid property path: " : "invalid JSONPath: ",
                             std::string(parsed.status().message())));
  }
}

// Rule-level checks. Problems name the rule, e.g. `mapping[2].regex: ... (rule "plan")`.
void CheckRule(Problems& outer, std::string_view path, const MappingRule& rule) {
  Problems p;
  CheckName(p, Join(path, "name"), rule.name);
  const std::string match = Join(path, "match");
  if (rule.match.event_type) {
    if (rule.match.event_type->empty()) {
      p.Add(Join(match, "eventType"), "must not be empty (leave it out to match every type)");
    } else {
      CheckText(p, Join(match, "eventType"), *rule.match.event_type, kMaxValueLength);
    }
  }
  if (rule.match.property) {
    const std::string property = Join(match, "property");
    const PropertyMatch& pm = *rule.match.property;
    if (pm.path.empty()) {
      p.Add(Join(property, "path"), "required");
    } else {
      CheckPath(p, Join(property, "path"), pm.path, /*property=*/false);
    }
    if (pm.equals) {
      CheckText(p, Join(property, "equals"), *pm.equals, kMaxValueLength,
                /*allow_whitespace=*/true);
    }
    if (pm.regex) CheckRegex(p, Join(property, "regex"), *pm.regex, false);
  }

  // Which fields the action uses; every other one must be empty.
  const Action a = rule.action;
  const std::string by = absl::StrCat("required by ", std::string(ActionName(a)));
  const std::string unused = absl::StrCat("not used by ", std::string(ActionName(a)));
  const JsonPath event_type = ParsePropertyPath("event_type").value();
  if (rule.target.empty()) {
    if (a != Action::kDrop) p.Add(Join(path, "target"), by);
  } else if (a == Action::kRename) {
    CheckText(p, Join(path, "target"), rule.target, kMaxValueLength);
  } else {
    CheckPath(p, Join(path, "target"), rule.target, /*property=*/true);
    if (a == Action::kDrop && ParsePropertyPath(rule.target).value_or(JsonPath{}) == event_type) {
      p.Add(Join(path, "target"),
            "event_type cannot be removed; leave target out to drop the event");
    }
  }
  if (!rule.value.has_value()) {
    if (a == Action::kSet) p.Add(Join(path, "value"), by);
  } else if (a != Action::kSet) {
    p.Add(Join(path, "value"), unused);
  } else {
    CheckText(p, Join(path, "value"), *rule.value, kMaxSetValueLength, /*allow_whitespace=*/true);
  }
  const bool uses_from = a == Action::kCopy || a == Action::kExtract;
  if (rule.from.empty()) {
    if (uses_from) p.Add(Join(path, "from"), by);
  } else if (!uses_from) {
    p.Add(Join(path, "from"), unused);
  } else {
    CheckPath(p, Join(path, "from"), rule.from, /*property=*/true);
  }
  if (a != Action::kExtract) {
    if (!rule.json_path.empty()) p.Add(Join(path, "jsonPath"), unused);
    if (!rule.regex.empty()) p.Add(Join(path, "regex"), unused);
  } else if (rule.json_path.empty() == rule.regex.empty()) {
    p.Add(path, "Extract needs exactly one of jsonPath and regex");
  } else if (!rule.json_path.empty()) {
    CheckPath(p, Join(path, "jsonPath"), rule.json_path, /*property=*/false);
  } else {
    CheckRegex(p, Join(path, "regex"), rule.regex, /*needs_capture_group=*/true);
  }
  outer.AddAll(p, IsDnsLabel(rule.name) ? absl::StrCat(" (rule \"", rule.name, "\")") : "");
}

void CheckAmplitudeDestination(Problems& p, std::string_view path, const AmplitudeDestination& d) {
  CheckFile(p, Join(path, "apiKeyFile"), d.api_key_file);
  if (!d.endpoint.empty()) CheckUrl(p, Join(path, "endpoint"), d.endpoint);
  CheckRange(p, Join(path, "batchSize"), d.batch_size, 1, 2000);
  CheckDuration(p, Join(path, "flushInterval"), d.flush_interval, absl::Milliseconds(1),
                absl::Hours(1));
  CheckRange(p, Join(path, "maxRetries"), d.max_retries, 0, 1000);
}

}  // namespace

absl::Status ValidateIngestConfig(const IngestConfig& c) {
  Problems p;

  const DifySource& dify = c.sources.dify;
  if (dify.path_prefix.size() > kMaxPathPrefixLength) {
    p.Add("sources.dify.pathPrefix", absl::StrCat("longer than ", kMaxPathPrefixLength, " bytes"));
  } else {
    // ^/([a-z0-9_-]+(/[a-z0-9_-]+)*)?$ : "/" or "/a/b", no empty segment, no trailing '/'.
    bool ok = !dify.path_prefix.empty() && dify.path_prefix[0] == '/';
    for (size_t i = 1; ok && i < dify.path_prefix.size(); ++i) {
      const char ch = dify.path_prefix[i];
      ok = absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '_' || ch == '-' ||
           (ch == '/' && dify.path_prefix[i - 1] != '/' && i + 1 < dify.path_prefix.size());
    }
    if (!ok) {
      p.Add("sources.dify.pathPrefix",
            "must be \"/\" or \"/\"-separated segments of [a-z0-9_-] such as \"/dify\" (no empty "
            "segment, no trailing '/')");
    }
  }

  const bool needs_api_keys = c.sources.amplitude.enabled || c.sources.native.enabled;
  if (needs_api_keys || !c.auth.api_keys_file.empty()) {
    if (c.auth.api_keys_file.empty()) {
      p.Add("auth.apiKeysFile", "required while sources.amplitude or sources.native is enabled");
    } else {
      CheckFile(p, "auth.apiKeysFile", c.auth.api_keys_file);
    }
  }
  if (c.auth.query_keys_file) CheckFile(p, "auth.queryKeysFile", *c.auth.query_keys_file);
  if (c.auth.dify_keys) {
    CheckFile(p, "auth.difyKeys.publicKeyFile", c.auth.dify_keys->public_key_file);
    CheckFile(p, "auth.difyKeys.secretKeyFile", c.auth.dify_keys->secret_key_file);
  } else if (dify.enabled) {
    p.Add("auth.difyKeys", "required while sources.dify.enabled is true");
  }

  const Identity& id = c.identity;
  CheckRange(p, "identity.minIdLength", id.min_id_length, 1, 64);
  CheckDuration(p, "identity.sessionTimeout", id.session_timeout, absl::Seconds(1),
                absl::Hours(24 * 7));
  if (id.trusted_proxies.size() > kMaxTrustedProxies) {
    p.Add("identity.trustedProxies",
          absl::StrCat(id.trusted_proxies.size(), " entries; at most ", kMaxTrustedProxies));
  }
  for (size_t i = 0; i < id.trusted_proxies.size(); ++i) {
    CheckCidr(p, Index("identity.trustedProxies", i), id.trusted_proxies[i]);
  }

  const Limits& l = c.limits;
  CheckRange(p, "limits.maxRequestBytes", l.max_request_bytes, 1024, int64_t{1} << 30);
  CheckRange(p, "limits.maxEventsPerRequest", l.max_events_per_request, 1, 100000);
  CheckRange(p, "limits.eventsPerSecondPerDevice", l.events_per_second_per_device, 1, 100000);
  CheckRange(p, "limits.eventsPerSecondPerUser", l.events_per_second_per_user, 1, 100000);
  CheckRange(p, "limits.maxConnections", l.max_connections, 1, 1000000);
  CheckDuration(p, "limits.dedupWindow", l.dedup_window, absl::ZeroDuration(), absl::Hours(24 * 7));

  if (c.mapping.size() > kMaxMappingRules) {
    p.Add("mapping", absl::StrCat(c.mapping.size(), " rules; at most ", kMaxMappingRules));
  }
  absl::flat_hash_map<std::string, size_t> rule_names;
  for (size_t i = 0; i < c.mapping.size(); ++i) {
    const std::string path = Index("mapping", i);
    CheckRule(p, path, c.mapping[i]);
    if (c.mapping[i].name.empty()) continue;
    auto [it, inserted] = rule_names.emplace(c.mapping[i].name, i);
    if (!inserted) {
      p.Add(Join(path, "name"), absl::StrCat("duplicate name \"", c.mapping[i].name,
                                             "\" (also mapping[", it->second, "])"));
    }
  }

  if (const auto* e = std::get_if<EmbeddedStorage>(&c.storage)) {
    CheckRange(p, "storage.embedded.size", e->size_bytes, int64_t{1} << 20,
               std::numeric_limits<int64_t>::max());
    CheckDuration(p, "storage.embedded.retention", e->retention, absl::Hours(1), kMaxDuration);
  } else {
    const auto& ch = std::get<ClickHouseStorage>(c.storage);
    if (ch.url.empty()) {
      p.Add("storage.clickhouse.url", "required");
    } else {
      CheckUrl(p, "storage.clickhouse.url", ch.url);
    }
    const bool database_ok = !ch.database.empty() && ch.database.size() <= kMaxNameLength &&
                             (absl::ascii_isalpha(ch.database[0]) || ch.database[0] == '_') &&
                             std::all_of(ch.database.begin(), ch.database.end(),
                                         [](char x) { return absl::ascii_isalnum(x) || x == '_'; });
    if (!database_ok) {
      p.Add("storage.clickhouse.database",
            "must match [A-Za-z_][A-Za-z0-9_]* and be at most 63 characters");
    }
    if (!ch.cluster.empty() &&
        (ch.cluster.size() > 255 || !std::all_of(ch.cluster.begin(), ch.cluster.end(), [](char x) {
           return absl::ascii_isalnum(x) || x == '_' || x == '-' || x == '.';
         }))) {
      p.Add("storage.clickhouse.cluster",
            "must match [A-Za-z0-9_.-]+ and be at most 255 characters");
    }
    if (ch.credentials) {
      CheckFile(p, "storage.clickhouse.credentials.usernameFile", ch.credentials->username_file);
      CheckFile(p, "storage.clickhouse.credentials.passwordFile", ch.credentials->password_file);
    }
    CheckRange(p, "storage.clickhouse.batchSize", ch.batch_size, 1, 1000000);
    CheckDuration(p, "storage.clickhouse.flushInterval", ch.flush_interval, absl::Milliseconds(1),
                  absl::Hours(1));
  }

  if (c.destinations.size() > kMaxDestinations) {
    p.Add("destinations",
          absl::StrCat(c.destinations.size(), " destinations; at most ", kMaxDestinations));
  }
  absl::flat_hash_map<std::string, size_t> destination_names;
  for (size_t i = 0; i < c.destinations.size(); ++i) {
    const std::string path = Index("destinations", i);
    const Destination& d = c.destinations[i];
    CheckName(p, Join(path, "name"), d.name);
    if (!d.name.empty()) {
      auto [it, inserted] = destination_names.emplace(d.name, i);
      if (!inserted) {
        p.Add(Join(path, "name"), absl::StrCat("duplicate name \"", d.name,
                                               "\" (also destinations[", it->second, "])"));
      }
    }
    if (!d.amplitude) {
      p.Add(path, "exactly one destination kind must be set: amplitude");
    } else {
      CheckAmplitudeDestination(p, Join(path, "amplitude"), *d.amplitude);
    }
  }

  if (c.tls) {
    CheckFile(p, "tls.certFile", c.tls->cert_file);
    CheckFile(p, "tls.keyFile", c.tls->key_file);
  }

  const Listeners& ls = c.listeners;
  {
    unsigned char buf[16];
    if (ls.address.size() > 64 || (inet_pton(AF_INET, ls.address.c_str(), buf) != 1 &&
                                   inet_pton(AF_INET6, ls.address.c_str(), buf) != 1)) {
      p.Add("listeners.address",
            "must be an IPv4 or IPv6 address such as 0.0.0.0, :: or 127.0.0.1");
    }
  }
  const std::array<std::pair<std::string_view, int64_t>, 3> ports{
      {{"ingestPort", ls.ingest_port},
       {"queryPort", ls.query_port},
       {"metricsPort", ls.metrics_port}}};
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string path = Join("listeners", ports[i].first);
    CheckRange(p, path, ports[i].second, 0, 65535);
    for (size_t k = 0; k < i; ++k) {
      if (ports[i].second != 0 && ports[i].second == ports[k].second) {
        p.Add(path, absl::StrCat("same port as listeners.", std::string(ports[k].first)));
      }
    }
  }

  CheckFile(p, "paths.dataDir", c.paths.data_dir);
  return p.ToStatus();
}

namespace {

// ---------------------------------------------------------------------------------------------
// Decoding YAML (and JSON, which is YAML) into the types. Type errors, unknown and duplicate keys
// here; value constraints in ValidateIngestConfig.

// A present, non-null node.
bool Present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

class Decoder {
 public:
  explicit Decoder(Problems& p) : p_(p) {}

  // `node` must be a mapping whose keys are among `keys`, each once. False when it is no mapping.
  bool Fields(const YAML::Node& node, std::string_view path,
              std::initializer_list<std::string_view> keys) {
    if (!node.IsMap()) {
      p_.Add(path.empty() ? "(top level)" : path, "expected a mapping");
      return false;
    }
    absl::flat_hash_set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        p_.Add(path.empty() ? "(top level)" : path, "keys must be strings");
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        p_.Add(Join(path, key), "unknown field");
      } else if (!seen.insert(key).second) {
        p_.Add(Join(path, key), "duplicate key");
      }
    }
    return true;
  }

  // Calls `decode(node, path)` for map[key] when present and a mapping with only `keys`.
  template <typename F>
  bool Object(const YAML::Node& map, std::string_view path, std::string_view key,
              std::initializer_list<std::string_view> keys, F decode) {
    const YAML::Node node = map[std::string(key)];
    if (!Present(node)) return false;
    const std::string here = Join(path, key);
    if (!Fields(node, here, keys)) return false;
    decode(node, here);
    return true;
  }

  void Bool(const YAML::Node& map, std::string_view path, std::string_view key, bool& out) {
    const YAML::Node node = map[std::string(key)];
    if (!Present(node)) return;
    if (node.IsScalar() && node.Tag() != "!" &&
        (node.Scalar() == "true" || node.Scalar() == "false")) {
      out = node.Scalar() == "true";
    } else {
      p_.Add(Join(path, key), "expected true or false");
    }
  }

  void Int(const YAML::Node& map, std::string_view path, std::string_view key, int64_t& out) {
    const YAML::Node node = map[std::string(key)];
    if (!Present(node)) return;
    const std::string& s = node.IsScalar() ? node.Scalar() : std::string();
    const bool digits =
        !s.empty() && s.size() <= 20 &&
        s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) == std::string::npos && s != "-";
    if (!node.IsScalar() || node.Tag() == "!" || !digits || !absl::SimpleAtoi(s, &out)) {
      p_.Add(Join(path, key), "expected an integer");
    }
  }

  // Any scalar is a string (YAML `value: 123` is the text "123"); mappings and lists are not.
  bool String(const YAML::Node& map, std::string_view path, std::string_view key,
              std::string& out) {
    const YAML::Node node = map[std::string(key)];
    if (!Present(node)) return false;
    if (!node.IsScalar()) {
      p_.Add(Join(path, key), "expected a string");
      return false;
    }
    out = node.Scalar();
    return true;
  }

  void String(const YAML::Node& map, std::string_view path, std::string_view key,
              std::optional<std::string>& out) {
    std::string s;
    if (String(map, path, key, s)) out = std::move(s);
  }

  void Duration(const YAML::Node& map, std::string_view path, std::string_view key,
                absl::Duration& out) {
    std::string s;
    if (!String(map, path, key, s)) return;
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(s);
    if (d.ok()) {
      out = *d;
    } else {
      p_.Add(Join(path, key), absl::StrCat("invalid duration \"", s.substr(0, 64),
                                           "\": ", std::string(d.status().message())));
    }
  }

  void ByteSize(const YAML::Node& map, std::string_view path, std::string_view key, int64_t& out) {
    std::string s;
    if (!String(map, path, key, s)) return;
    absl::StatusOr<int64_t> bytes = ParseByteSize(s);
    if (bytes.ok()) {
      out = *bytes;
    } else {
      p_.Add(Join(path, key), absl::StrCat("invalid size \"", s.substr(0, 64),
                                           "\": ", std::string(bytes.status().message())));
    }
  }

  template <typename E, size_t N>
  bool Enum(const YAML::Node& map, std::string_view path, std::string_view key,
            const std::array<std::pair<std::string_view, E>, N>& values, E& out) {
    std::string s;
    if (!String(map, path, key, s)) return false;
    for (const auto& [name, value] : values) {
      if (name == s) {
        out = value;
        return true;
      }
    }
    std::vector<std::string> names;
    for (const auto& v : values) names.push_back(absl::StrCat("\"", std::string(v.first), "\""));
    p_.Add(Join(path, key),
           absl::StrCat("\"", s.substr(0, 64), "\" is not one of ", absl::StrJoin(names, ", ")));
    return false;
  }

  // Calls `decode(element, element_path)` for each element of the list map[key].
  template <typename F>
  void List(const YAML::Node& map, std::string_view path, std::string_view key, F decode) {
    const YAML::Node node = map[std::string(key)];
    if (!Present(node)) return;
    const std::string here = Join(path, key);
    if (!node.IsSequence()) {
      p_.Add(here, "expected a list");
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) decode(node[i], Index(here, i));
  }

  Problems& problems() { return p_; }

 private:
  Problems& p_;
};

void DecodeRule(Decoder& d, const YAML::Node& node, const std::string& path, MappingRule& rule) {
  if (!d.Fields(node, path,
                {"name", "match", "action", "target", "value", "from", "jsonPath", "regex"})) {
    return;
  }
  d.String(node, path, "name", rule.name);
  d.Object(node, path, "match", {"source", "eventType", "property"},
           [&](const YAML::Node& m, const std::string& mp) {
             Source source;
             if (d.Enum(m, mp, "source", kSources, source)) rule.match.source = source;
             d.String(m, mp, "eventType", rule.match.event_type);
             d.Object(m, mp, "property", {"path", "equals", "regex"},
                      [&](const YAML::Node& pn, const std::string& pp) {
                        PropertyMatch pm;
                        d.String(pn, pp, "path", pm.path);
                        d.String(pn, pp, "equals", pm.equals);
                        d.String(pn, pp, "regex", pm.regex);
                        rule.match.property = std::move(pm);
                      });
           });
  if (!Present(node["action"])) {
    d.problems().Add(Join(path, "action"), "required (one of Rename, Drop, Set, Copy, Extract)");
  } else {
    d.Enum(node, path, "action", kActions, rule.action);
  }
  d.String(node, path, "target", rule.target);
  d.String(node, path, "value", rule.value);
  d.String(node, path, "from", rule.from);
  d.String(node, path, "jsonPath", rule.json_path);
  d.String(node, path, "regex", rule.regex);
}

void DecodeStorage(Decoder& d, const YAML::Node& top, IngestConfig& c) {
  const YAML::Node node = top["storage"];
  if (!Present(node)) return;
  if (!d.Fields(node, "storage", {"embedded", "clickhouse"})) return;
  const bool embedded = Present(node["embedded"]);
  const bool clickhouse = Present(node["clickhouse"]);
  if (embedded == clickhouse) {
    d.problems().Add("storage", "exactly one of embedded and clickhouse must be set");
    return;
  }
  if (embedded) {
    EmbeddedStorage e;
    d.Object(node, "storage", "embedded", {"size", "retention"},
             [&](const YAML::Node& n, const std::string& p) {
               d.ByteSize(n, p, "size", e.size_bytes);
               d.Duration(n, p, "retention", e.retention);
             });
    c.storage = e;
    return;
  }
  ClickHouseStorage ch;
  d.Object(node, "storage", "clickhouse",
           {"url", "database", "cluster", "credentials", "batchSize", "flushInterval"},
           [&](const YAML::Node& n, const std::string& p) {
             d.String(n, p, "url", ch.url);
             d.String(n, p, "database", ch.database);
             d.String(n, p, "cluster", ch.cluster);
             d.Object(n, p, "credentials", {"usernameFile", "passwordFile"},
                      [&](const YAML::Node& cn, const std::string& cp) {
                        ch.credentials.emplace();
                        d.String(cn, cp, "usernameFile", ch.credentials->username_file);
                        d.String(cn, cp, "passwordFile", ch.credentials->password_file);
                      });
             d.Int(n, p, "batchSize", ch.batch_size);
             d.Duration(n, p, "flushInterval", ch.flush_interval);
           });
  c.storage = std::move(ch);
}

void DecodeBody(Decoder& d, const YAML::Node& top, IngestConfig& c) {
  d.Object(top, "", "sources", {"amplitude", "dify", "native"},
           [&](const YAML::Node& n, const std::string& p) {
             d.Object(n, p, "amplitude", {"enabled"},
                      [&](const YAML::Node& s, const std::string& sp) {
                        d.Bool(s, sp, "enabled", c.sources.amplitude.enabled);
                      });
             d.Object(n, p, "dify", {"enabled", "pathPrefix", "captureContent"},
                      [&](const YAML::Node& s, const std::string& sp) {
                        d.Bool(s, sp, "enabled", c.sources.dify.enabled);
                        d.String(s, sp, "pathPrefix", c.sources.dify.path_prefix);
                        d.Bool(s, sp, "captureContent", c.sources.dify.capture_content);
                      });
             d.Object(n, p, "native", {"enabled"}, [&](const YAML::Node& s, const std::string& sp) {
               d.Bool(s, sp, "enabled", c.sources.native.enabled);
             });
           });
  d.Object(top, "", "auth", {"apiKeysFile", "queryKeysFile", "difyKeys"},
           [&](const YAML::Node& n, const std::string& p) {
             d.String(n, p, "apiKeysFile", c.auth.api_keys_file);
             d.String(n, p, "queryKeysFile", c.auth.query_keys_file);
             d.Object(n, p, "difyKeys", {"publicKeyFile", "secretKeyFile"},
                      [&](const YAML::Node& k, const std::string& kp) {
                        c.auth.dify_keys.emplace();
                        d.String(k, kp, "publicKeyFile", c.auth.dify_keys->public_key_file);
                        d.String(k, kp, "secretKeyFile", c.auth.dify_keys->secret_key_file);
                      });
           });
  d.Object(top, "", "identity",
           {"minIdLength", "sessionTimeout", "resolveDeviceToUser", "trustedProxies", "truncateIp"},
           [&](const YAML::Node& n, const std::string& p) {
             d.Int(n, p, "minIdLength", c.identity.min_id_length);
             d.Duration(n, p, "sessionTimeout", c.identity.session_timeout);
             d.Bool(n, p, "resolveDeviceToUser", c.identity.resolve_device_to_user);
             d.List(n, p, "trustedProxies", [&](const YAML::Node& e, const std::string& ep) {
               if (e.IsScalar()) {
                 c.identity.trusted_proxies.push_back(e.Scalar());
               } else {
                 d.problems().Add(ep, "expected a string");
               }
             });
             d.Bool(n, p, "truncateIp", c.identity.truncate_ip);
           });
  d.Object(top, "", "limits",
           {"maxRequestBytes", "maxEventsPerRequest", "eventsPerSecondPerDevice",
            "eventsPerSecondPerUser", "maxConnections", "dedupWindow"},
           [&](const YAML::Node& n, const std::string& p) {
             d.Int(n, p, "maxRequestBytes", c.limits.max_request_bytes);
             d.Int(n, p, "maxEventsPerRequest", c.limits.max_events_per_request);
             d.Int(n, p, "eventsPerSecondPerDevice", c.limits.events_per_second_per_device);
             d.Int(n, p, "eventsPerSecondPerUser", c.limits.events_per_second_per_user);
             d.Int(n, p, "maxConnections", c.limits.max_connections);
             d.Duration(n, p, "dedupWindow", c.limits.dedup_window);
           });
  d.List(top, "", "mapping", [&](const YAML::Node& e, const std::string& ep) {
    DecodeRule(d, e, ep, c.mapping.emplace_back());
  });
  DecodeStorage(d, top, c);
  d.List(top, "", "destinations", [&](const YAML::Node& e, const std::string& ep) {
    Destination& dest = c.destinations.emplace_back();
    if (!d.Fields(e, ep, {"name", "amplitude"})) return;
    d.String(e, ep, "name", dest.name);
    d.Object(e, ep, "amplitude",
             {"apiKeyFile", "region", "endpoint", "batchSize", "flushInterval", "maxRetries"},
             [&](const YAML::Node& n, const std::string& p) {
               AmplitudeDestination& a = dest.amplitude.emplace();
               d.String(n, p, "apiKeyFile", a.api_key_file);
               d.Enum(n, p, "region", kRegions, a.region);
               d.String(n, p, "endpoint", a.endpoint);
               d.Int(n, p, "batchSize", a.batch_size);
               d.Duration(n, p, "flushInterval", a.flush_interval);
               d.Int(n, p, "maxRetries", a.max_retries);
             });
  });
  d.Object(top, "", "tls", {"certFile", "keyFile", "minVersion"},
           [&](const YAML::Node& n, const std::string& p) {
             Tls& tls = c.tls.emplace();
             d.String(n, p, "certFile", tls.cert_file);
             d.String(n, p, "keyFile", tls.key_file);
             d.Enum(n, p, "minVersion", kTlsVersions, tls.min_version);
           });
  d.Object(top, "", "listeners", {"address", "ingestPort", "queryPort", "metricsPort"},
           [&](const YAML::Node& n, const std::string& p) {
             d.String(n, p, "address", c.listeners.address);
             d.Int(n, p, "ingestPort", c.listeners.ingest_port);
             d.Int(n, p, "queryPort", c.listeners.query_port);
             d.Int(n, p, "metricsPort", c.listeners.metrics_port);
           });
  d.Object(top, "", "paths", {"dataDir"}, [&](const YAML::Node& n, const std::string& p) {
    d.String(n, p, "dataDir", c.paths.data_dir);
  });
}

// `version` and `revision`; false (with a problem) when the rest must not be read.
bool DecodeVersion(Decoder& d, const YAML::Node& top) {
  Problems& p = d.problems();
  const YAML::Node version = top["version"];
  const std::string want = absl::StrCat("this cohort-ingest reads ", std::string(kConfigVersion));
  if (!Present(version)) {
    p.Add("version", absl::StrCat("required; ", want));
    return false;
  }
  if (!version.IsScalar() || version.Scalar() != kConfigVersion) {
    const std::string got = version.IsScalar() ? version.Scalar().substr(0, 128) : "(not a string)";
    p.Add("version", absl::StrCat("\"", got, "\" is not supported; ", want));
    return false;
  }
  int64_t revision = 0;
  d.Int(top, "", "revision", revision);
  if (!p.empty()) return false;
  if (revision < 0) {
    p.Add("revision", absl::StrCat(revision, " is negative"));
    return false;
  }
  if (revision > kConfigRevision) {
    p.Add("revision",
          absl::StrCat(revision, " is newer than this cohort-ingest reads (up to ", kConfigRevision,
                       "): run a newer image, or stop using fields added after "
                       "revision ",
                       kConfigRevision));
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<IngestConfig> ParseIngestConfig(std::string_view text) {
  if (text.size() > kMaxConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("config is ", text.size(), " bytes; at most ", kMaxConfigBytes));
  }
  Problems problems;
  Decoder d(problems);
  IngestConfig config = Defaults();
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected one YAML document, found ", docs.size()));
    }
    const YAML::Node top = docs.empty() ? YAML::Node() : docs[0];
    if (!Present(top)) {
      problems.Add("version", absl::StrCat("required; the config is empty (want at least version: ",
                                           std::string(kConfigVersion), ")"));
      return problems.ToStatus();
    }
    if (!top.IsMap()) {
      problems.Add("(top level)", "expected a mapping");
      return problems.ToStatus();
    }
    // First the version: a newer revision may carry keys this build does not know, and a
    // different major anything at all, so report only that.
    if (!DecodeVersion(d, top)) return problems.ToStatus();
    if (!d.Fields(top, "",
                  {"version", "revision", "sources", "auth", "identity", "limits", "mapping",
                   "storage", "destinations", "tls", "listeners", "paths"})) {
      return problems.ToStatus();
    }
    DecodeBody(d, top, config);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.msg));
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML at line ", e.mark.line + 1,
                                                   ", column ", e.mark.column + 1, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
  if (!problems.empty()) return problems.ToStatus();
  if (absl::Status status = ValidateIngestConfig(config); !status.ok()) return status;
  return config;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Rendering. Keys in a fixed order; strings whose default is non-empty always written (leaving
// them out would read back as the default); empty optional strings left out.

using Json = nlohmann::ordered_json;

template <typename E, size_t N>
std::string NameOf(const std::array<std::pair<std::string_view, E>, N>& values, E value) {
  for (const auto& [name, v] : values) {
    if (v == value) return std::string(name);
  }
  return "?";
}

Json RuleJson(const MappingRule& r) {
  Json j;
  j["name"] = r.name;
  Json match = Json::object();
  if (r.match.source) match["source"] = NameOf(kSources, *r.match.source);
  if (r.match.event_type) match["eventType"] = *r.match.event_type;
  if (r.match.property) {
    Json property;
    property["path"] = r.match.property->path;
    if (r.match.property->equals) property["equals"] = *r.match.property->equals;
    if (r.match.property->regex) property["regex"] = *r.match.property->regex;
    match["property"] = std::move(property);
  }
  j["match"] = std::move(match);
  j["action"] = NameOf(kActions, r.action);
  if (!r.target.empty()) j["target"] = r.target;
  if (r.value) j["value"] = *r.value;
  if (!r.from.empty()) j["from"] = r.from;
  if (!r.json_path.empty()) j["jsonPath"] = r.json_path;
  if (!r.regex.empty()) j["regex"] = r.regex;
  return j;
}

Json ToJson(const IngestConfig& c) {
  Json j;
  j["version"] = std::string(kConfigVersion);
  j["revision"] = kConfigRevision;

  Json& sources = j["sources"];
  sources["amplitude"]["enabled"] = c.sources.amplitude.enabled;
  sources["dify"]["enabled"] = c.sources.dify.enabled;
  sources["dify"]["pathPrefix"] = c.sources.dify.path_prefix;
  sources["dify"]["captureContent"] = c.sources.dify.capture_content;
  sources["native"]["enabled"] = c.sources.native.enabled;

  Json& auth = j["auth"];
  auth["apiKeysFile"] = c.auth.api_keys_file;
  if (c.auth.query_keys_file) auth["queryKeysFile"] = *c.auth.query_keys_file;
  if (c.auth.dify_keys) {
    auth["difyKeys"]["publicKeyFile"] = c.auth.dify_keys->public_key_file;
    auth["difyKeys"]["secretKeyFile"] = c.auth.dify_keys->secret_key_file;
  }

  Json& identity = j["identity"];
  identity["minIdLength"] = c.identity.min_id_length;
  identity["sessionTimeout"] = FormatConfigDuration(c.identity.session_timeout);
  identity["resolveDeviceToUser"] = c.identity.resolve_device_to_user;
  identity["trustedProxies"] = c.identity.trusted_proxies;
  identity["truncateIp"] = c.identity.truncate_ip;

  Json& limits = j["limits"];
  limits["maxRequestBytes"] = c.limits.max_request_bytes;
  limits["maxEventsPerRequest"] = c.limits.max_events_per_request;
  limits["eventsPerSecondPerDevice"] = c.limits.events_per_second_per_device;
  limits["eventsPerSecondPerUser"] = c.limits.events_per_second_per_user;
  limits["maxConnections"] = c.limits.max_connections;
  limits["dedupWindow"] = FormatConfigDuration(c.limits.dedup_window);

  Json& mapping = j["mapping"] = Json::array();
  for (const MappingRule& r : c.mapping) mapping.push_back(RuleJson(r));

  Json& storage = j["storage"];
  if (const auto* e = std::get_if<EmbeddedStorage>(&c.storage)) {
    storage["embedded"]["size"] = FormatByteSize(e->size_bytes);
    storage["embedded"]["retention"] = FormatConfigDuration(e->retention);
  } else {
    const auto& ch = std::get<ClickHouseStorage>(c.storage);
    Json& out = storage["clickhouse"];
    out["url"] = ch.url;
    out["database"] = ch.database;
    if (!ch.cluster.empty()) out["cluster"] = ch.cluster;
    if (ch.credentials) {
      out["credentials"]["usernameFile"] = ch.credentials->username_file;
      out["credentials"]["passwordFile"] = ch.credentials->password_file;
    }
    out["batchSize"] = ch.batch_size;
    out["flushInterval"] = FormatConfigDuration(ch.flush_interval);
  }

  Json& destinations = j["destinations"] = Json::array();
  for (const Destination& d : c.destinations) {
    Json out;
    out["name"] = d.name;
    if (d.amplitude) {
      Json& a = out["amplitude"];
      a["apiKeyFile"] = d.amplitude->api_key_file;
      a["region"] = NameOf(kRegions, d.amplitude->region);
      if (!d.amplitude->endpoint.empty()) a["endpoint"] = d.amplitude->endpoint;
      a["batchSize"] = d.amplitude->batch_size;
      a["flushInterval"] = FormatConfigDuration(d.amplitude->flush_interval);
      a["maxRetries"] = d.amplitude->max_retries;
    }
    destinations.push_back(std::move(out));
  }

  if (c.tls) {
    j["tls"]["certFile"] = c.tls->cert_file;
    j["tls"]["keyFile"] = c.tls->key_file;
    j["tls"]["minVersion"] = NameOf(kTlsVersions, c.tls->min_version);
  }

  j["listeners"]["address"] = c.listeners.address;
  j["listeners"]["ingestPort"] = c.listeners.ingest_port;
  j["listeners"]["queryPort"] = c.listeners.query_port;
  j["listeners"]["metricsPort"] = c.listeners.metrics_port;
  j["paths"]["dataDir"] = c.paths.data_dir;
  return j;
}

}  // namespace

absl::StatusOr<std::string> RenderIngestConfig(const IngestConfig& config, int max_revision) {
  if (absl::Status status = ValidateIngestConfig(config); !status.ok()) return status;
  Json doc = ToJson(config);
  absl::StatusOr<int> revision = LowerToRevision(doc, max_revision, FieldIntroductions());
  if (!revision.ok()) return revision.status();
  // Validation admitted only valid UTF-8, so strict dumping cannot throw.
  std::string text = doc.dump(2, ' ', /*ensure_ascii=*/false);
  text.push_back('\n');
  return text;
}

}  // namespace cohort::config
