// How the operator reaches the Kubernetes API server: the server URL, the TLS material and the
// credentials, loaded from a kubeconfig file or from the pod's service account (in-cluster), plus
// the bearer-token source that re-reads a rotating token file. The HTTP client takes a RestConfig
// and knows nothing of kubeconfig files.
//
// Supported kubeconfig auth forms: certificate-authority(-data), insecure-skip-tls-verify,
// tls-server-name, client-certificate/client-key(-data), token, tokenFile. Exec and auth-provider
// plugins, basic auth, impersonation and proxy-url are refused with kUnimplemented rather than
// silently ignored (ignoring them would talk to the server as someone else, or not at all).
//
// Secrets: the client key and the bearer token are never put into an error message or a
// DebugString, and this module never logs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace cohort::op {

// Supplies bearer tokens: either a fixed token, or the contents of a file re-read when the cached
// copy is older than a refresh period (bound service-account tokens are rotated by the kubelet;
// a client that reads the file once starts failing with 401 after about an hour).
//
// Thread-safe. A file-backed source borrows `clock`, which must outlive it. A failed re-read keeps
// serving the last good token and is retried after another refresh period; the failure is
// reported by last_refresh_status(), never logged.
class TokenSource {
 public:
  static constexpr absl::Duration kDefaultRefreshPeriod = absl::Minutes(1);

  // A token that never changes.
  static std::unique_ptr<TokenSource> Static(std::string token);

  // Reads `path` now (surrounding whitespace trimmed) and fails if it cannot be read or is
  // empty; afterwards Token() re-reads it once `refresh_period` of `clock` time has passed since
  // the last read attempt.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenSource>> FromFile(
      std::string path, Clock& clock, absl::Duration refresh_period = kDefaultRefreshPeriod);

  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  // The current token. Never fails once constructed (a failed re-read serves the last good
  // token); the StatusOr leaves room for sources that can.
  [[nodiscard]] absl::StatusOr<std::string> Token() ABSL_LOCKS_EXCLUDED(mu_);

  // OK, or the error of the most recent re-read if it failed. The message names the file, never
  // the token.
  absl::Status last_refresh_status() const ABSL_LOCKS_EXCLUDED(mu_);

  // The token file, or empty for a static token. For diagnostics.
  const std::string& path() const { return path_; }

 private:
  TokenSource(std::string token, std::string path, Clock* clock, absl::Duration refresh_period,
              absl::Time read_at);

  const std::string path_;  // empty: static
  Clock* const clock_;      // null for a static token
  const absl::Duration refresh_period_;

  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time last_attempt_ ABSL_GUARDED_BY(mu_);
  absl::Status last_refresh_status_ ABSL_GUARDED_BY(mu_);
};

// Everything needed to open a connection to one API server as one identity. Copyable; copies
// share the token source. PEM fields hold bytes read at load time (files are not re-read, except
// the token file through `token`); the *_path fields say where they came from, for diagnostics,
// and are empty for inline data. No crypto validation happens at this layer.
struct RestConfig {
  std::string server;           // "https://host:port" (http:// is accepted too)
  std::string tls_server_name;  // SNI / verification name override; empty: the server's host
  bool insecure_skip_tls_verify = false;
  std::string ca_pem;  // empty: the system trust store
  std::string ca_path;
  std::string client_cert_pem;  // empty: no client certificate
  std::string client_cert_path;
  std::string client_key_pem;  // SECRET
  std::string client_key_path;
  std::shared_ptr<TokenSource> token;         // null: no bearer token. SECRET values inside
  std::string default_namespace = "default";  // the context's namespace
  std::string origin;  // e.g. `kubeconfig /home/u/.kube/config, context "kind"` or `in-cluster`

  // One line for logs: server, names, sizes and paths. The key and the token are "<redacted>".
  std::string DebugString() const;
};

// Looks up an environment variable; returns "" when it is unset (empty and unset mean the same
// here, as in client-go). Injected so tests never touch the process environment.
using EnvLookup = std::function<std::string(const std::string& name)>;
// The process environment (std::getenv).
EnvLookup ProcessEnv();
// A fixed environment, for tests.
EnvLookup MapEnv(absl::flat_hash_map<std::string, std::string> vars);

// Loads `context` (empty: the file's current-context) from the kubeconfig at `path`. Relative
// file references inside it resolve against the kubeconfig's directory, as kubectl does. When
// both a path and inline -data are given, the data wins; when both token and tokenFile are
// given, the file wins (both as client-go). A tokenFile is read now and then re-read through
// the returned config's TokenSource, timed by `clock` (which must outlive the config).
// Errors: the file's read error; kInvalidArgument for malformed YAML or bad fields (naming the
// entry and field, never a secret value); kNotFound for a missing context, cluster or user;
// kUnimplemented for exec/auth-provider plugins, basic auth, impersonation and proxy-url.
[[nodiscard]] absl::StatusOr<RestConfig> LoadKubeconfig(const std::string& path,
                                                        std::string_view context = "",
                                                        Clock& clock = RealClock::Get());

// Where the pod's service-account credentials are mounted. Injectable so tests need no root.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// The in-cluster config: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host
// is bracketed), the service-account CA and a token re-read every minute by `clock`. The
// namespace is $POD_NAMESPACE, else the namespace file, else "default".
// Errors: kFailedPrecondition naming the unset variable (not in a cluster); kInvalidArgument
// for a malformed port; the read error naming the token or CA file.
[[nodiscard]] absl::StatusOr<RestConfig> LoadInCluster(const InClusterPaths& paths,
                                                       const EnvLookup& env,
                                                       Clock& clock = RealClock::Get());

// The operator's usual lookup, as controller-runtime's GetConfig:
//   1. `kubeconfig_flag` if not empty;
//   2. $KUBECONFIG — only its first non-empty entry: colon-separated lists are not merged;
//   3. in-cluster, if $KUBERNETES_SERVICE_HOST is set and `context_flag` is empty;
//   4. $HOME/.kube/config.
// `context_flag` selects the context in 1, 2 and 4. If in-cluster loading fails, 4 is tried when
// that file exists; otherwise the in-cluster error is returned.
[[nodiscard]] absl::StatusOr<RestConfig> LoadDefault(std::string_view kubeconfig_flag,
                                                     std::string_view context_flag,
                                                     const EnvLookup& env,
                                                     const InClusterPaths& in_cluster_paths = {},
                                                     Clock& clock = RealClock::Get());

}  // namespace cohort::op
