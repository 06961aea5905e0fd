// The configuration of cohort-ingest: the one contract between the operator, which renders it from
// an AnalyticsPipeline, and the ingest server, which reads it (from the mounted ConfigMap, or from
// any file with `cohort-ingest --config FILE`). docs/ingest-config.md is the user-facing reference;
// this header is the definition. Field names and defaults follow the AnalyticsPipeline spec.
//
// The config holds no secret values: it names files (mounted Secrets) that hold them; their formats
// are in secret_files.h. Spec fields that shape the pod rather than the server (replicas, image,
// resources, storageClassName, reclaimPolicy, autoscaling, networkPolicy, placement) are not here.
//
// The text is YAML or JSON (JSON is YAML). It carries `version` (the major format, kConfigVersion)
// and `revision` (what was added within that major); the skew policy between operator and ingest
// versions is in config_version.h and docs/ingest-config.md.
//
// All types are plain values: thread-compatible, comparable, cheap enough to copy at load time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::config {

// ---------------------------------------------------------------------------------------------
// Version.

// The major version of the format. A reader rejects any other value of `version`.
inline constexpr std::string_view kConfigVersion = "cohort.dev/ingest-config/v1";
// The newest revision of kConfigVersion this build reads and writes. Revisions only add optional
// fields whose absence keeps the behaviour of the previous revision (config_version.h).
inline constexpr int kConfigRevision = 0;

// ---------------------------------------------------------------------------------------------
// The pod contract: ports, probe paths and mount paths, shared by the operator's pod template and
// the ingest's defaults.

inline constexpr int kIngestPort = 8080;  // Amplitude, Dify (Langfuse) and native APIs
inline constexpr std::string_view kIngestPortName = "http";
inline constexpr int kQueryPort = 8081;  // the query API (dashboards, alerts)
inline constexpr std::string_view kQueryPortName = "query";
inline constexpr int kMetricsPort = 9090;  // metrics and health, plain HTTP, never TLS
inline constexpr std::string_view kMetricsPortName = "metrics";

// On kMetricsPort. /livez answers 200 as soon as the process serves HTTP (liveness and startup
// probes); /readyz answers 200 once WAL recovery is done and until shutdown starts (readiness);
// /healthz is both together, for people and load balancers.
inline constexpr std::string_view kMetricsPath = "/metrics";
inline constexpr std::string_view kHealthzPath = "/healthz";
inline constexpr std::string_view kLivezPath = "/livez";
inline constexpr std::string_view kReadyzPath = "/readyz";

inline constexpr std::string_view kConfigDir = "/etc/cohort/config";  // the ConfigMap volume
inline constexpr std::string_view kConfigFileName = "config.yaml";    // its one key
inline constexpr std::string_view kConfigFilePath = "/etc/cohort/config/config.yaml";
inline constexpr std::string_view kSecretsDir = "/etc/cohort/secrets";  // <dir>/<key> below
inline constexpr std::string_view kTlsDir = "/etc/cohort/tls";  // a kubernetes.io/tls Secret
inline constexpr std::string_view kTlsCertPath = "/etc/cohort/tls/tls.crt";
inline constexpr std::string_view kTlsKeyPath = "/etc/cohort/tls/tls.key";
inline constexpr std::string_view kDataDir = "/var/lib/cohort";  // the data volume
inline constexpr std::string_view kWalSubdir = "wal";            // write-ahead log segments
inline constexpr std::string_view kStoreSubdir = "store";        // the embedded event store

// Directories under kSecretsDir, one per referenced Secret, each holding the Secret's keys as
// files. Destination directories are kDestinationSecretDirPrefix + the destination's name. (These
// are mount paths; the pod's volume names are the operator's choice and limited to 63 characters,
// which "destination-" + a 63-character name would exceed.)
inline constexpr std::string_view kApiKeysSecretDir = "api-keys";
inline constexpr std::string_view kQueryKeysSecretDir = "query-keys";
inline constexpr std::string_view kDifyKeysSecretDir = "dify-keys";
inline constexpr std::string_view kClickHouseCredentialsSecretDir = "clickhouse-credentials";
inline constexpr std::string_view kDestinationSecretDirPrefix = "destination-";

// Default keys inside the referenced Secrets (the CRD's defaults for the *SecretRef key fields).
inline constexpr std::string_view kDefaultApiKeysKey = "api-keys";
inline constexpr std::string_view kDefaultQueryKeysKey = "query-keys";
inline constexpr std::string_view kDefaultDifyPublicKeyKey = "public-key";
inline constexpr std::string_view kDefaultDifySecretKeyKey = "secret-key";
inline constexpr std::string_view kDefaultClickHouseUsernameKey = "username";
inline constexpr std::string_view kDefaultClickHousePasswordKey = "password";
inline constexpr std::string_view kDefaultDestinationApiKeyKey = "api-key";

// The file a Secret key is mounted at: kSecretsDir/<dir>/<key>.
std::string SecretFilePath(std::string_view dir, std::string_view key);

// Events received through the Dify (Langfuse) API are stored under this project; API keys map
// Amplitude and native traffic to projects (secret_files.h).
inline constexpr std::string_view kDifyProject = "dify";

// Amplitude's HTTP API base URLs by region; the sink appends /2/httpapi or /batch.
inline constexpr std::string_view kAmplitudeUsBaseUrl = "https://api2.amplitude.com";
inline constexpr std::string_view kAmplitudeEuBaseUrl = "https://api.eu.amplitude.com";

// Length limits shared with the CRD schema (maxLength there).
inline constexpr size_t kMaxNameLength = 63;        // rule and destination names (DNS labels)
inline constexpr size_t kMaxValueLength = 1024;     // eventType, equals, regex, Rename's target
inline constexpr size_t kMaxSetValueLength = 4096;  // Set's value
inline constexpr size_t kMaxFilePathLength = 4096;
inline constexpr size_t kMaxUrlLength = 2048;
inline constexpr size_t kMaxPathPrefixLength = 64;
inline constexpr size_t kMaxMappingRules = 100;
inline constexpr size_t kMaxDestinations = 8;
inline constexpr size_t kMaxTrustedProxies = 32;
// A rendered config must fit in a ConfigMap (1 MiB); a reader refuses larger text.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// ---------------------------------------------------------------------------------------------
// The configuration. Member defaults are the CRD defaults (Defaults() below).

enum class Source { kAmplitude, kDify, kNative };
std::string_view SourceName(Source source);  // "amplitude", "dify", "native"

struct AmplitudeSource {
  bool enabled = true;
  friend bool operator==(const AmplitudeSource&, const AmplitudeSource&) = default;
};

struct DifySource {
  bool enabled = false;
  std::string path_prefix = "/dify";  // ^/[a-z0-9/_-]*$, <= 64; the Langfuse API lives under it
  bool capture_content = false;       // keep prompt and answer text
  friend bool operator==(const DifySource&, const DifySource&) = default;
};

struct NativeSource {
  bool enabled = true;
  friend bool operator==(const NativeSource&, const NativeSource&) = default;
};

struct Sources {
  AmplitudeSource amplitude;
  DifySource dify;
  NativeSource native;
  friend bool operator==(const Sources&, const Sources&) = default;
};

// Absolute paths of mounted secret files; formats in secret_files.h. Every file path in the config
// must be absolute.
struct DifyKeyFiles {
  std::string public_key_file = SecretFilePath(kDifyKeysSecretDir, kDefaultDifyPublicKeyKey);
  std::string secret_key_file = SecretFilePath(kDifyKeysSecretDir, kDefaultDifySecretKeyKey);
  friend bool operator==(const DifyKeyFiles&, const DifyKeyFiles&) = default;
};

struct Auth {
  // Required while the amplitude or native source is on.
  std::string api_keys_file = SecretFilePath(
      kApiKeysSecretDir, kDefaultApiKeysKey);  // /etc/cohort/secrets/api-keys/api-keys
  // Unset: the query API is off (its port is not opened).
  std::optional<std::string> query_keys_file;
  // Required while the dify source is on.
  std::optional<DifyKeyFiles> dify_keys;
  friend bool operator==(const Auth&, const Auth&) = default;
};

struct Identity {
  int64_t min_id_length = 5;                           // 1..64
  absl::Duration session_timeout = absl::Minutes(30);  // > 0
  bool resolve_device_to_user = true;
  std::vector<std::string> trusted_proxies;  // CIDRs, <= 32 (host bits are ignored)
  bool truncate_ip = false;
  friend bool operator==(const Identity&, const Identity&) = default;
};

struct Limits {
  int64_t max_request_bytes = 20971520;             // after decompression; 1024..1 GiB
  int64_t max_events_per_request = 2000;            // 1..100000
  int64_t events_per_second_per_device = 30;        // 1..100000, per replica
  int64_t events_per_second_per_user = 30;          // 1..100000, per replica
  int64_t max_connections = 1024;                   // 1..1000000
  absl::Duration dedup_window = absl::Minutes(10);  // 0 (off)..7d
  friend bool operator==(const Limits&, const Limits&) = default;
};

struct PropertyMatch {
  std::string path;                   // JSONPath (json_path.h), required
  std::optional<std::string> equals;  // some selected value, as text, equals this
  std::optional<std::string> regex;   // RE2; some selected value matches (unanchored)
  friend bool operator==(const PropertyMatch&, const PropertyMatch&) = default;
};

// All set parts must hold (AND); an empty match matches every event.
struct Match {
  std::optional<Source> source;
  std::optional<std::string> event_type;  // exact
  std::optional<PropertyMatch> property;
  friend bool operator==(const Match&, const Match&) = default;
};

enum class Action { kRename, kDrop, kSet, kCopy, kExtract };
std::string_view ActionName(Action action);  // "Rename", "Drop", "Set", "Copy", "Extract"

// Which fields each action uses (the others must be empty):
//   Rename   target: the new event type (text, not a path)
//   Drop     no target: the event is dropped (acknowledged, never stored or forwarded);
//            target: that property is removed (event_type cannot be)
//   Set      target = value (a string, may be empty)
//   Copy     from → target
//   Extract  target = the first node json_path selects in the value at `from` (parsed as JSON when
//            it is a string), or the first capture group of regex over that value as text; no
//            match leaves target untouched. Exactly one of json_path and regex.
// target (but for Rename) and from are property paths (json_path.h); "event_type" is one.
struct MappingRule {
  std::string name;  // DNS label, unique in the list
  Match match;
  Action action = Action::kSet;
  std::string target;
  std::optional<std::string> value;  // Set: may be the empty string
  std::string from;
  std::string json_path;
  std::string regex;  // Extract: RE2 with at least one capture group
  friend bool operator==(const MappingRule&, const MappingRule&) = default;
};

struct EmbeddedStorage {
  int64_t size_bytes = int64_t{10} << 30;            // 10Gi; the WAL and store share it
  absl::Duration retention = absl::Hours(24 * 395);  // 1h..36500d
  friend bool operator==(const EmbeddedStorage&, const EmbeddedStorage&) = default;
};

struct ClickHouseCredentialFiles {
  std::string username_file =
      SecretFilePath(kClickHouseCredentialsSecretDir, kDefaultClickHouseUsernameKey);
  std::string password_file =
      SecretFilePath(kClickHouseCredentialsSecretDir, kDefaultClickHousePasswordKey);
  friend bool operator==(const ClickHouseCredentialFiles&,
                         const ClickHouseCredentialFiles&) = default;
};

struct ClickHouseStorage {
  std::string url;                  // required; http(s)://host[:port][/path], no user:password@
  std::string database = "cohort";  // [A-Za-z_][A-Za-z0-9_]*, <= 63
  std::string cluster;  // empty: one server; else [A-Za-z0-9_.-]+ <= 255, Distributed tables
  std::optional<ClickHouseCredentialFiles> credentials;
  int64_t batch_size = 10000;                        // 1..1000000
  absl::Duration flush_interval = absl::Seconds(1);  // 1ms..1h
  friend bool operator==(const ClickHouseStorage&, const ClickHouseStorage&) = default;
};

// Exactly one backend; the default is embedded with its defaults.
using Storage = std::variant<EmbeddedStorage, ClickHouseStorage>;

enum class AmplitudeRegion { kUS, kEU };
std::string_view RegionName(AmplitudeRegion region);  // "US", "EU"

struct AmplitudeDestination {
  std::string api_key_file;  // required: one line, the project's Amplitude API key
  AmplitudeRegion region = AmplitudeRegion::kUS;
  std::string endpoint;                               // base URL; when set it overrides region
  int64_t batch_size = 100;                           // 1..2000
  absl::Duration flush_interval = absl::Seconds(10);  // 1ms..1h
  // Attempts per batch before the destination reports itself failing (health, metrics); it keeps
  // retrying at the longest backoff and never drops events on 5xx or timeouts. 0..1000.
  int64_t max_retries = 10;
  friend bool operator==(const AmplitudeDestination&, const AmplitudeDestination&) = default;
};

struct Destination {
  std::string name;  // DNS label, unique in the list
  // Exactly one kind; amplitude is the only one so far.
  std::optional<AmplitudeDestination> amplitude;
  friend bool operator==(const Destination&, const Destination&) = default;
};

// The base URL the destination sends to: endpoint if set, else the region's.
std::string AmplitudeBaseUrl(const AmplitudeDestination& destination);

enum class TlsVersion { k1_2, k1_3 };
std::string_view TlsVersionName(TlsVersion version);  // "1.2", "1.3"

// Present: the ingest and query listeners serve TLS (reloaded when the files change).
struct Tls {
  std::string cert_file = std::string(kTlsCertPath);
  std::string key_file = std::string(kTlsKeyPath);
  TlsVersion min_version = TlsVersion::k1_3;
  friend bool operator==(const Tls&, const Tls&) = default;
};

struct Listeners {
  std::string address = "0.0.0.0";  // an IPv4 or IPv6 literal; all listeners bind it
  // 0..65535, pairwise distinct unless 0 (0: any free port, for tests and local runs).
  int64_t ingest_port = kIngestPort;
  int64_t query_port = kQueryPort;
  int64_t metrics_port = kMetricsPort;
  friend bool operator==(const Listeners&, const Listeners&) = default;
};

struct Paths {
  std::string data_dir = std::string(kDataDir);  // absolute; WAL and store below it
  friend bool operator==(const Paths&, const Paths&) = default;
};
std::string WalDir(const Paths& paths);    // <data_dir>/wal
std::string StoreDir(const Paths& paths);  // <data_dir>/store

struct IngestConfig {
  Sources sources;
  Auth auth;
  Identity identity;
  Limits limits;
  std::vector<MappingRule> mapping;  // applied in order
  Storage storage;
  std::vector<Destination> destinations;
  std::optional<Tls> tls;
  Listeners listeners;
  Paths paths;
  friend bool operator==(const IngestConfig&, const IngestConfig&) = default;
};

// The CRD defaults everywhere: what `version: cohort.dev/ingest-config/v1` alone parses to. Valid.
IngestConfig Defaults();

// ---------------------------------------------------------------------------------------------
// Validation, parsing, rendering.

// Every constraint of this header on `config`. Errors: kInvalidArgument listing every problem as
// "<field path>: <what is wrong>", joined by "; ", e.g.
// "mapping[2].regex: invalid RE2: missing ): (a; limits.maxConnections: 0 is out of range [1,
// 1000000]". Paths use the config's (camelCase) key names. Messages never contain file contents.
[[nodiscard]] absl::Status ValidateIngestConfig(const IngestConfig& config);

// Reads YAML or JSON text. Absent fields take their defaults; `null` counts as absent. Unknown
// keys, duplicate keys, wrong types, a `version` other than kConfigVersion and a `revision` newer
// than kConfigRevision are errors; then ValidateIngestConfig. Errors: kInvalidArgument in the
// format above (YAML syntax errors give line and column).
[[nodiscard]] absl::StatusOr<IngestConfig> ParseIngestConfig(std::string_view text);

// Canonical JSON: every field of the revision written (defaults included, unset optional fields
// left out), keys in a fixed order, two-space indent, a final newline. Equal configs give equal
// bytes, so the operator can name the ConfigMap by its hash; ParseIngestConfig(*Render(x)) == x.
// The text is stamped with the lowest revision that can express `config` (config_version.h), so
// an operator upgrade changes no rendered config unless a pipeline uses something new.
// Errors: kInvalidArgument from ValidateIngestConfig; kFailedPrecondition when `config` needs a
// revision above `max_revision` (the revision the target image reads), naming the first field
// that does.
[[nodiscard]] absl::StatusOr<std::string> RenderIngestConfig(const IngestConfig& config,
                                                             int max_revision = kConfigRevision);

}  // namespace cohort::config
