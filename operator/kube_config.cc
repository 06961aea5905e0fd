// Kubeconfig and in-cluster loading. yaml-cpp throws; every call into it happens below
// ParseKubeconfig's try block, so no exception leaves this file. Error messages name files,
// entries and fields, never a value read from a secret field.
#include "operator/kube_config.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/base/config.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace cohort::op {
namespace {

// Larger files are not credentials or kubeconfigs; refusing them also keeps a mistaken path such
// as /dev/zero from eating memory.
constexpr size_t kMaxFileBytes = 16 << 20;

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("reading ", what, " ", path));
  std::string out;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out.append(buf, n);
    if (out.size() > kMaxFileBytes) {
      std::fclose(f);
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", path, " is larger than ", kMaxFileBytes, " bytes"));
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return absl::ErrnoToStatus(err, absl::StrCat("reading ", what, " ", path));
  return out;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path, "token file");
  if (!bytes.ok()) return bytes.status();
  std::string token(absl::StripAsciiWhitespace(*bytes));
  if (token.empty())
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  return token;
}

absl::Status Prefix(const absl::Status& s, absl::string_view prefix) {
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

// `p` as kubectl resolves a file reference: relative to the kubeconfig's directory.
std::string ResolvePath(const std::filesystem::path& dir, const std::string& p) {
  if (p.empty()) return p;
  std::filesystem::path path(p);
  if (path.is_absolute()) return p;
  return (dir / path).lexically_normal().string();
}

// ---- YAML accessors. Callers run inside ParseKubeconfig's try block. ----

bool Present(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n.IsDefined() && !n.IsNull();
}

// A scalar field as a string; "" when absent or null.
absl::StatusOr<std::string> GetString(const YAML::Node& map, const char* key,
                                      absl::string_view where) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return std::string();
  if (!n.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, " must be a string"));
  }
  return n.Scalar();
}

absl::StatusOr<bool> GetBool(const YAML::Node& map, const char* key, absl::string_view where) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) return false;
  bool value = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, " must be true or false"));
  }
  return value;
}

// Decodes a `*-data` field. The message never echoes the value: it may be a private key.
absl::StatusOr<std::string> GetBase64(const YAML::Node& map, const char* key,
                                      absl::string_view where) {
  absl::StatusOr<std::string> encoded = GetString(map, key, where);
  if (!encoded.ok()) return encoded.status();
  std::string decoded;
  if (!absl::Base64Unescape(*encoded, &decoded)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, " is not valid base64"));
  }
  return decoded;
}

// Finds the entry called `name` in the list `list_key` (clusters, contexts, users) and returns
// its `body_key` mapping (an empty map if the entry has none). Duplicate names are an error, as
// in client-go.
absl::StatusOr<YAML::Node> FindEntry(const YAML::Node& root, const char* list_key,
                                     const char* body_key, const std::string& name) {
  const YAML::Node list = root[list_key];
  absl::string_view kind(body_key);
  if (!list.IsDefined() || list.IsNull()) {
    return absl::NotFoundError(
        absl::StrCat(kind, " ", Quote(name), " not found (no ", list_key, " in the kubeconfig)"));
  }
  if (!list.IsSequence()) {
    return absl::InvalidArgumentError(absl::StrCat(list_key, " must be a list"));
  }
  std::optional<YAML::Node> found;
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    const std::string where = absl::StrCat(list_key, "[", i, "]");
    if (!item.IsMap()) return absl::InvalidArgumentError(absl::StrCat(where, " must be a mapping"));
    absl::StatusOr<std::string> item_name = GetString(item, "name", where);
    if (!item_name.ok()) return item_name.status();
    if (item_name->empty()) return absl::InvalidArgumentError(absl::StrCat(where, " has no name"));
    if (!seen.insert(*item_name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate ", kind, " name ", Quote(*item_name), " in ", list_key));
    }
    if (*item_name != name) continue;
    const YAML::Node body = item[body_key];
    if (!body.IsDefined() || body.IsNull()) {
      found = YAML::Node(YAML::NodeType::Map);
    } else if (body.IsMap()) {
      found = body;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(kind, " ", Quote(name), ": ", body_key, " must be a mapping"));
    }
  }
  if (!found) return absl::NotFoundError(absl::StrCat(kind, " ", Quote(name), " not found"));
  return *found;
}

absl::Status ApplyCluster(const YAML::Node& cluster, absl::string_view where,
                          const std::filesystem::path& dir, RestConfig& config) {
  if (Present(cluster, "proxy-url")) {
    return absl::UnimplementedError(absl::StrCat(where, ": proxy-url is not supported"));
  }
  absl::StatusOr<std::string> server = GetString(cluster, "server", where);
  if (!server.ok()) return server.status();
  if (server->empty()) return absl::InvalidArgumentError(absl::StrCat(where, " has no server"));
  if (!absl::StartsWith(*server, "https://") && !absl::StartsWith(*server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": server must start with https:// or http://"));
  }
  config.server = *std::move(server);

  absl::StatusOr<std::string> tls_server_name = GetString(cluster, "tls-server-name", where);
  if (!tls_server_name.ok()) return tls_server_name.status();
  config.tls_server_name = *std::move(tls_server_name);

  absl::StatusOr<bool> insecure = GetBool(cluster, "insecure-skip-tls-verify", where);
  if (!insecure.ok()) return insecure.status();
  config.insecure_skip_tls_verify = *insecure;

  absl::StatusOr<std::string> ca_data = GetBase64(cluster, "certificate-authority-data", where);
  if (!ca_data.ok()) return ca_data.status();
  absl::StatusOr<std::string> ca_path = GetString(cluster, "certificate-authority", where);
  if (!ca_path.ok()) return ca_path.status();
  if (config.insecure_skip_tls_verify && (!ca_data->empty() || !ca_path->empty())) {
    // client-go refuses the combination too: which one did the user mean?
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": insecure-skip-tls-verify and a certificate authority are mutually exclusive"));
  }
  if (!ca_data->empty()) {
    config.ca_pem = *std::move(ca_data);
  } else if (!ca_path->empty()) {
    config.ca_path = ResolvePath(dir, *ca_path);
    absl::StatusOr<std::string> pem = ReadFile(config.ca_path, "certificate-authority");
    if (!pem.ok()) return Prefix(pem.status(), where);
    config.ca_pem = *std::move(pem);
  }
  return absl::OkStatus();
}

// Reads one PEM from `<key>-data` (base64) or `<key>` (a path); data wins.
absl::Status LoadPem(const YAML::Node& user, const std::string& key, absl::string_view where,
                     const std::filesystem::path& dir, std::string& pem, std::string& path) {
  const std::string data_key = key + "-data";
  absl::StatusOr<std::string> data = GetBase64(user, data_key.c_str(), where);
  if (!data.ok()) return data.status();
  absl::StatusOr<std::string> file = GetString(user, key.c_str(), where);
  if (!file.ok()) return file.status();
  if (!data->empty()) {
    pem = *std::move(data);
  } else if (!file->empty()) {
    path = ResolvePath(dir, *file);
    absl::StatusOr<std::string> bytes = ReadFile(path, key);
    if (!bytes.ok()) return Prefix(bytes.status(), where);
    pem = *std::move(bytes);
  }
  return absl::OkStatus();
}

absl::Status ApplyUser(const YAML::Node& user, absl::string_view where,
                       const std::filesystem::path& dir, Clock& clock, RestConfig& config) {
  if (Present(user, "exec")) {
    std::string command;
    const YAML::Node exec = user["exec"];
    if (exec.IsMap() && exec["command"].IsScalar()) {
      command = absl::StrCat(" (command ", Quote(exec["command"].Scalar()), ")");
    }
    return absl::UnimplementedError(
        absl::StrCat(where, " uses an exec credential plugin", command,
                     "; exec and auth-provider plugins are not supported, use a token, "
                     "tokenFile or client certificate"));
  }
  if (Present(user, "auth-provider")) {
    std::string provider;
    const YAML::Node ap = user["auth-provider"];
    if (ap.IsMap() && ap["name"].IsScalar()) {
      provider = absl::StrCat(" (", Quote(ap["name"].Scalar()), ")");
    }
    return absl::UnimplementedError(
        absl::StrCat(where, " uses an auth-provider plugin", provider,
                     "; exec and auth-provider plugins are not supported, use a token, "
                     "tokenFile or client certificate"));
  }
  if (Present(user, "username") || Present(user, "password")) {
    return absl::UnimplementedError(
        absl::StrCat(where, ": basic auth (username/password) is not supported"));
  }
  for (const char* key : {"as", "as-uid", "as-groups", "as-user-extra"}) {
    if (Present(user, key)) {
      return absl::UnimplementedError(
          absl::StrCat(where, ": impersonation (", key, ") is not supported"));
    }
  }

  absl::Status s = LoadPem(user, "client-certificate", where, dir, config.client_cert_pem,
                           config.client_cert_path);
  if (!s.ok()) return s;
  s = LoadPem(user, "client-key", where, dir, config.client_key_pem, config.client_key_path);
  if (!s.ok()) return s;
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, config.client_cert_pem.empty() ? " has a client key but no client certificate"
                                              : " has a client certificate but no client key"));
  }

  absl::StatusOr<std::string> token_file = GetString(user, "tokenFile", where);
  if (!token_file.ok()) return token_file.status();
  absl::StatusOr<std::string> token = GetString(user, "token", where);
  if (!token.ok()) return token.status();
  if (!token_file->empty()) {
    absl::StatusOr<std::unique_ptr<TokenSource>> source =
        TokenSource::FromFile(ResolvePath(dir, *token_file), clock);
    if (!source.ok()) return Prefix(source.status(), where);
    config.token = *std::move(source);
  } else if (!token->empty()) {
    config.token = TokenSource::Static(*std::move(token));
  }
  return absl::OkStatus();
}

absl::StatusOr<RestConfig> ParseKubeconfig(const std::string& text,
                                           const std::filesystem::path& dir,
                                           absl::string_view context_flag, Clock& clock) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap() && !root.IsNull()) {
      return absl::InvalidArgumentError("the document is not a YAML mapping");
    }
    std::string context_name(context_flag);
    if (context_name.empty()) {
      absl::StatusOr<std::string> current = GetString(root, "current-context", "top level");
      if (!current.ok()) return current.status();
      if (current->empty()) {
        return absl::NotFoundError("no current-context is set and no context was given");
      }
      context_name = *std::move(current);
    }
    absl::StatusOr<YAML::Node> context = FindEntry(root, "contexts", "context", context_name);
    if (!context.ok()) return context.status();
    const std::string context_where = absl::StrCat("context ", Quote(context_name));
    absl::StatusOr<std::string> cluster_name = GetString(*context, "cluster", context_where);
    if (!cluster_name.ok()) return cluster_name.status();
    if (cluster_name->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(context_where, " names no cluster"));
    }
    absl::StatusOr<std::string> user_name = GetString(*context, "user", context_where);
    if (!user_name.ok()) return user_name.status();
    absl::StatusOr<std::string> ns = GetString(*context, "namespace", context_where);
    if (!ns.ok()) return ns.status();

    RestConfig config;
    if (!ns->empty()) config.default_namespace = *std::move(ns);

    absl::StatusOr<YAML::Node> cluster = FindEntry(root, "clusters", "cluster", *cluster_name);
    if (!cluster.ok()) return Prefix(cluster.status(), context_where);
    absl::Status s =
        ApplyCluster(*cluster, absl::StrCat("cluster ", Quote(*cluster_name)), dir, config);
    if (!s.ok()) return s;

    // A context without a user talks to the server anonymously.
    if (!user_name->empty()) {
      absl::StatusOr<YAML::Node> user = FindEntry(root, "users", "user", *user_name);
      if (!user.ok()) return Prefix(user.status(), context_where);
      s = ApplyUser(*user, absl::StrCat("user ", Quote(*user_name)), dir, clock, config);
      if (!s.ok()) return s;
    }
    config.origin = absl::StrCat("context ", Quote(context_name));
    return config;
  } catch (const YAML::Exception& e) {
    // yaml-cpp's messages describe syntax and name keys, not values, so they are safe to pass on.
    if (e.mark.is_null()) {
      return absl::InvalidArgumentError(absl::StrCat("malformed YAML: ", e.msg));
    }
    return absl::InvalidArgumentError(absl::StrCat("malformed YAML at line ", e.mark.line + 1,
                                                   ", column ", e.mark.column + 1, ": ", e.msg));
  }
}

std::string Describe(const std::string& pem, const std::string& path) {
  if (pem.empty()) return "<none>";
  if (path.empty()) return absl::StrCat("<", pem.size(), " bytes inline>");
  return absl::StrCat("<", pem.size(), " bytes from ", path, ">");
}

}  // namespace

// ---- TokenSource ----

TokenSource::TokenSource(std::string token, std::string path, Clock* clock,
                         absl::Duration refresh_period, absl::Time read_at)
    : path_(std::move(path)),
      clock_(clock),
      refresh_period_(refresh_period),
      token_(std::move(token)),
      last_attempt_(read_at) {}

std::unique_ptr<TokenSource> TokenSource::Static(std::string token) {
  return std::unique_ptr<TokenSource>(new TokenSource(
      std::move(token), "", nullptr, absl::InfiniteDuration(), absl::InfinitePast()));
}

absl::StatusOr<std::unique_ptr<TokenSource>> TokenSource::FromFile(std::string path, Clock& clock,
                                                                   absl::Duration refresh_period) {
  const absl::Time now = clock.Now();
  absl::StatusOr<std::string> token = ReadToken(path);
  if (!token.ok()) return token.status();
  return std::unique_ptr<TokenSource>(
      new TokenSource(*std::move(token), std::move(path), &clock, refresh_period, now));
}

absl::StatusOr<std::string> TokenSource::Token() {
  absl::MutexLock lock(&mu_);
  if (clock_ != nullptr) {
    const absl::Time now = clock_->Now();
    if (now - last_attempt_ >= refresh_period_) {
      // Read under the lock: concurrent callers wait for one read instead of all reading.
      last_attempt_ = now;
      absl::StatusOr<std::string> token = ReadToken(path_);
      if (token.ok()) {
        token_ = *std::move(token);
        last_refresh_status_ = absl::OkStatus();
      } else {
        last_refresh_status_ = token.status();
      }
    }
  }
  return token_;
}

absl::Status TokenSource::last_refresh_status() const {
  absl::MutexLock lock(&mu_);
  return last_refresh_status_;
}

// ---- RestConfig ----

std::string RestConfig::DebugString() const {
  std::string token_desc = "<none>";
  if (token != nullptr) {
    token_desc = token->path().empty() ? "<redacted, static>"
                                       : absl::StrCat("<redacted, from ", token->path(), ">");
  }
  std::string key_desc = "<none>";
  if (!client_key_pem.empty()) {
    key_desc = client_key_path.empty() ? "<redacted, inline>"
                                       : absl::StrCat("<redacted, from ", client_key_path, ">");
  }
  return absl::StrCat("server=", server, " tls_server_name=", tls_server_name,
                      " insecure_skip_tls_verify=", insecure_skip_tls_verify ? "true" : "false",
                      " ca=", ca_pem.empty() ? "<system roots>" : Describe(ca_pem, ca_path),
                      " client_cert=", Describe(client_cert_pem, client_cert_path),
                      " client_key=", key_desc, " token=", token_desc,
                      " namespace=", default_namespace, " origin=", origin);
}

// ---- Environment ----

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::string {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::string() : std::string(v);
  };
}

EnvLookup MapEnv(absl::flat_hash_map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::string {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
}

// ---- Loaders ----

absl::StatusOr<RestConfig> LoadKubeconfig(const std::string& path, std::string_view context,
                                          Clock& clock) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) abs = path;
  abs = abs.lexically_normal();
  absl::StatusOr<std::string> text = ReadFile(abs.string(), "kubeconfig");
  if (!text.ok()) return text.status();
  absl::StatusOr<RestConfig> config = ParseKubeconfig(
      *text, abs.parent_path(), absl::string_view(context.data(), context.size()), clock);
  if (!config.ok()) return Prefix(config.status(), absl::StrCat("kubeconfig ", abs.string()));
  config->origin = absl::StrCat("kubeconfig ", abs.string(), ", ", config->origin);
  return config;
}

absl::StatusOr<RestConfig> LoadInCluster(const InClusterPaths& paths, const EnvLookup& env,
                                         Clock& clock) {
  std::string host = env("KUBERNETES_SERVICE_HOST");
  const std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    std::vector<absl::string_view> missing;
    if (host.empty()) missing.push_back("KUBERNETES_SERVICE_HOST");
    if (port.empty()) missing.push_back("KUBERNETES_SERVICE_PORT");
    return absl::FailedPreconditionError(
        absl::StrCat("not running in a cluster: ", absl::StrJoin(missing, " and "),
                     missing.size() == 1 ? " is" : " are", " not set"));
  }
  int port_number = 0;
  if (!absl::c_all_of(port, absl::ascii_isdigit) || !absl::SimpleAtoi(port, &port_number) ||
      port_number < 1 || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("KUBERNETES_SERVICE_PORT ", Quote(port), " is not a port number"));
  }
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    host = absl::StrCat("[", host, "]");  // an IPv6 address, as net.JoinHostPort does
  }

  RestConfig config;
  config.server = absl::StrCat("https://", host, ":", port);
  config.origin = "in-cluster";
  absl::StatusOr<std::unique_ptr<TokenSource>> token =
      TokenSource::FromFile(paths.token_file, clock);
  if (!token.ok()) return Prefix(token.status(), "in-cluster service-account token");
  config.token = *std::move(token);
  absl::StatusOr<std::string> ca = ReadFile(paths.ca_file, "CA file");
  if (!ca.ok()) return Prefix(ca.status(), "in-cluster service-account CA");
  if (ca->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("in-cluster service-account CA file ", paths.ca_file, " is empty"));
  }
  config.ca_pem = *std::move(ca);
  config.ca_path = paths.ca_file;

  std::string ns(absl::StripAsciiWhitespace(env("POD_NAMESPACE")));
  if (ns.empty()) {
    // Optional: outside a pod (or with automount tweaks) it may be missing.
    absl::StatusOr<std::string> file = ReadFile(paths.namespace_file, "namespace file");
    if (file.ok()) ns = std::string(absl::StripAsciiWhitespace(*file));
  }
  if (!ns.empty()) config.default_namespace = std::move(ns);
  return config;
}

absl::StatusOr<RestConfig> LoadDefault(std::string_view kubeconfig_flag,
                                       std::string_view context_flag, const EnvLookup& env,
                                       const InClusterPaths& in_cluster_paths, Clock& clock) {
  if (!kubeconfig_flag.empty()) {
    return LoadKubeconfig(std::string(kubeconfig_flag), context_flag, clock);
  }
  const std::vector<std::string> kubeconfigs =
      absl::StrSplit(env("KUBECONFIG"), ':', absl::SkipEmpty());
  if (!kubeconfigs.empty()) return LoadKubeconfig(kubeconfigs.front(), context_flag, clock);
  absl::Status in_cluster_error;
  if (context_flag.empty() && !env("KUBERNETES_SERVICE_HOST").empty()) {
    absl::StatusOr<RestConfig> config = LoadInCluster(in_cluster_paths, env, clock);
    if (config.ok()) return config;
    in_cluster_error = config.status();
  }
  const std::string home = env("HOME");
  if (home.empty()) {
    if (!in_cluster_error.ok()) return in_cluster_error;
    return absl::FailedPreconditionError(
        "no kubeconfig: --kubeconfig, $KUBECONFIG and $HOME are unset and "
        "KUBERNETES_SERVICE_HOST is not set");
  }
  const std::string path = absl::StrCat(home, "/.kube/config");
  std::error_code ec;
  if (!in_cluster_error.ok() && !std::filesystem::exists(path, ec)) {
    return absl::Status(in_cluster_error.code(), absl::StrCat(in_cluster_error.message(), "; and ",
                                                              path, " does not exist"));
  }
  return LoadKubeconfig(path, context_flag, clock);
}

}  // namespace cohort::op
