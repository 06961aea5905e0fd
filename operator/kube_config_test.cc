// Kubeconfig parsing for every auth form, in-cluster loading, the default lookup order, and the
// rotating token source. Files live in a per-test temp dir; the environment is injected and time
// is simulated, so nothing touches the process environment or sleeps.
#include "operator/kube_config.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::op {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

// Everything secret in these tests contains this marker, so one assertion catches a leak.
constexpr char kSecretMarker[] = "SEKRET";
constexpr char kToken[] = "tok-SEKRET-0123456789";
constexpr char kKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\nkey-SEKRET-bytes\n-----END PRIVATE KEY-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\ncert-bytes\n-----END CERTIFICATE-----\n";
constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nca-bytes\n-----END CERTIFICATE-----\n";

std::string B64(absl::string_view s) { return absl::Base64Escape(s); }

// Replaces the file in one step, as the kubelet does, so concurrent readers never see a torn file.
void WriteFile(const fs::path& path, absl::string_view content) {
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << tmp;
  }
  fs::rename(tmp, path);
}

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / "kube_config_test" /
           absl::StrCat(info->test_suite_name(), ".", info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes a kubeconfig with one context "main" -> cluster "c" / user "u" (current), using the
  // given YAML bodies (indented by the caller at 4 spaces).
  std::string WriteKubeconfig(absl::string_view cluster_body, absl::string_view user_body,
                              absl::string_view file = "config") {
    const std::string text = absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: main
clusters:
- name: c
  cluster:
)",
                                          cluster_body, R"(
contexts:
- name: main
  context:
    cluster: c
    user: u
users:
- name: u
  user:
)",
                                          user_body, "\n");
    const fs::path path = dir_ / std::string(file);
    WriteFile(path, text);
    return path.string();
  }

  fs::path dir_;
};

constexpr char kServer[] = "    server: https://api.example.test:6443";

// ---- Cluster: CA forms, TLS options ----

TEST_F(KubeConfigTest, CertificateAuthorityRelativePathResolvesAgainstKubeconfigDir) {
  WriteFile(dir_ / "sub/certs/ca.crt", kCaPem);
  const std::string path =
      WriteKubeconfig(absl::StrCat(kServer, "\n    certificate-authority: certs/ca.crt"),
                      "    token: t", "sub/config");
  absl::StatusOr<RestConfig> config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://api.example.test:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->ca_path, (dir_ / "sub/certs/ca.crt").string());
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->default_namespace, "default");
  EXPECT_THAT(config->origin, AllOf(HasSubstr(path), HasSubstr("\"main\"")));
}

TEST_F(KubeConfigTest, CertificateAuthorityAbsolutePath) {
  const fs::path ca = dir_ / "elsewhere/ca.pem";
  WriteFile(ca, kCaPem);
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer, "\n    certificate-authority: ", ca.string()), "    token: t"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->ca_path, ca.string());
}

TEST_F(KubeConfigTest, CertificateAuthorityMissingFileNamesIt) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer, "\n    certificate-authority: nope/ca.crt"), "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr((dir_ / "nope/ca.crt").string()), HasSubstr("cluster \"c\"")));
}

TEST_F(KubeConfigTest, CertificateAuthorityData) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer, "\n    certificate-authority-data: ", B64(kCaPem)), "    token: t"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->ca_path, "");
}

TEST_F(KubeConfigTest, CertificateAuthorityDataWinsOverPath) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(
      WriteKubeconfig(absl::StrCat(kServer, "\n    certificate-authority: does-not-exist.crt",
                                   "\n    certificate-authority-data: ", B64(kCaPem)),
                      "    token: t"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCaPem);
}

TEST_F(KubeConfigTest, InsecureSkipTlsVerifyAndServerName) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer,
                   "\n    insecure-skip-tls-verify: true\n    tls-server-name: kubernetes"),
      "    token: t"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->tls_server_name, "kubernetes");
  EXPECT_EQ(config->ca_pem, "");
}

TEST_F(KubeConfigTest, InsecureWithCertificateAuthorityIsRejected) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(
      WriteKubeconfig(absl::StrCat(kServer, "\n    insecure-skip-tls-verify: true",
                                   "\n    certificate-authority-data: ", B64(kCaPem)),
                      "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("insecure-skip-tls-verify"));
}

TEST_F(KubeConfigTest, InsecureSkipTlsVerifyMustBeBoolean) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer, "\n    insecure-skip-tls-verify: maybe"), "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("insecure-skip-tls-verify"));
}

TEST_F(KubeConfigTest, MissingOrBadServer) {
  absl::StatusOr<RestConfig> config =
      LoadKubeconfig(WriteKubeconfig("    insecure-skip-tls-verify: true", "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("cluster \"c\" has no server"));

  config = LoadKubeconfig(WriteKubeconfig("    server: api.example.test:6443", "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("https://"));
}

TEST_F(KubeConfigTest, ProxyUrlIsUnimplemented) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(
      WriteKubeconfig(absl::StrCat(kServer, "\n    proxy-url: http://proxy:3128"), "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(config.status().message(), HasSubstr("proxy-url"));
}

// ---- User: client certificates and tokens ----

TEST_F(KubeConfigTest, ClientCertificateAndKeyPaths) {
  WriteFile(dir_ / "pki/client.crt", kCertPem);
  WriteFile(dir_ / "pki/client.key", kKeyPem);
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      kServer, "    client-certificate: pki/client.crt\n    client-key: pki/client.key"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
  EXPECT_EQ(config->client_cert_path, (dir_ / "pki/client.crt").string());
  EXPECT_EQ(config->client_key_path, (dir_ / "pki/client.key").string());
  EXPECT_EQ(config->token, nullptr);
}

TEST_F(KubeConfigTest, ClientCertificateAndKeyData) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(
      WriteKubeconfig(kServer, absl::StrCat("    client-certificate-data: ", B64(kCertPem),
                                            "\n    client-key-data: ", B64(kKeyPem))));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
  EXPECT_EQ(config->client_cert_path, "");
  EXPECT_EQ(config->client_key_path, "");
}

TEST_F(KubeConfigTest, ClientCertificateWithoutKeyIsRejected) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(
      WriteKubeconfig(kServer, absl::StrCat("    client-certificate-data: ", B64(kCertPem))));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("no client key"));

  config =
      LoadKubeconfig(WriteKubeconfig(kServer, absl::StrCat("    client-key-data: ", B64(kKeyPem))));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("no client certificate"), Not(HasSubstr(kSecretMarker))));
}

TEST_F(KubeConfigTest, BadBase64IsAnErrorThatDoesNotEchoTheValue) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(
      WriteKubeconfig(kServer, absl::StrCat("    client-certificate-data: ", B64(kCertPem),
                                            "\n    client-key-data: \"!!", kSecretMarker, "!!\"")));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("user \"u\""), HasSubstr("client-key-data"), HasSubstr("base64"),
                    Not(HasSubstr(kSecretMarker))));

  config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer, "\n    certificate-authority-data: not*base64"), "    token: t"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("certificate-authority-data"));
}

TEST_F(KubeConfigTest, StaticToken) {
  absl::StatusOr<RestConfig> config =
      LoadKubeconfig(WriteKubeconfig(kServer, absl::StrCat("    token: ", kToken)));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_NE(config->token, nullptr);
  EXPECT_EQ(config->token->path(), "");
  absl::StatusOr<std::string> token = config->token->Token();
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, kToken);
}

TEST_F(KubeConfigTest, TokenFileIsReadRelativeToKubeconfigAndRefreshed) {
  WriteFile(dir_ / "secrets/token", absl::StrCat("  ", kToken, "\n"));
  SimulatedClock clock;
  absl::StatusOr<RestConfig> config =
      LoadKubeconfig(WriteKubeconfig(kServer, "    tokenFile: secrets/token"), "", clock);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_NE(config->token, nullptr);
  EXPECT_EQ(config->token->path(), (dir_ / "secrets/token").string());
  EXPECT_EQ(*config->token->Token(), kToken);

  WriteFile(dir_ / "secrets/token", "rotated");
  clock.Advance(TokenSource::kDefaultRefreshPeriod);
  EXPECT_EQ(*config->token->Token(), "rotated");
}

TEST_F(KubeConfigTest, TokenFileWinsOverToken) {
  WriteFile(dir_ / "token", "from-file");
  absl::StatusOr<RestConfig> config =
      LoadKubeconfig(WriteKubeconfig(kServer, "    token: inline\n    tokenFile: token"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config->token->Token(), "from-file");
}

TEST_F(KubeConfigTest, MissingTokenFileNamesIt) {
  absl::StatusOr<RestConfig> config =
      LoadKubeconfig(WriteKubeconfig(kServer, "    tokenFile: gone/token"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr((dir_ / "gone/token").string()), HasSubstr("user \"u\"")));
}

TEST_F(KubeConfigTest, PluginsAndOtherUnsupportedAuthAreUnimplemented) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(kServer, R"(    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, x])"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("exec"), HasSubstr("\"aws\""), HasSubstr("user \"u\"")));

  config = LoadKubeconfig(WriteKubeconfig(kServer, R"(    auth-provider:
      name: oidc
      config:
        id-token: SEKRET)"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("auth-provider"), HasSubstr("oidc"), Not(HasSubstr(kSecretMarker))));

  config = LoadKubeconfig(WriteKubeconfig(kServer, "    username: admin\n    password: SEKRET"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("basic auth"), Not(HasSubstr(kSecretMarker))));

  config = LoadKubeconfig(WriteKubeconfig(kServer, "    token: t\n    as: someone-else"));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(config.status().message(), HasSubstr("impersonation"));
}

// ---- Context selection ----

constexpr char kTwoContexts[] = R"(apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: cluster-a
  cluster:
    server: https://a.example.test
- name: cluster-b
  cluster:
    server: https://b.example.test:8443
contexts:
- name: alpha
  context:
    cluster: cluster-a
    user: user-a
- name: beta
  context:
    cluster: cluster-b
    user: user-b
    namespace: team-b
- name: no-cluster
  context:
    cluster: cluster-zzz
    user: user-a
- name: no-user
  context:
    cluster: cluster-a
    user: user-zzz
- name: anonymous
  context:
    cluster: cluster-b
users:
- name: user-a
  user:
    token: token-a
- name: user-b
  user:
    token: token-b
)";

TEST_F(KubeConfigTest, CurrentContextVersusContextFlag) {
  const fs::path path = dir_ / "config";
  WriteFile(path, kTwoContexts);

  absl::StatusOr<RestConfig> config = LoadKubeconfig(path.string());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://a.example.test");
  EXPECT_EQ(*config->token->Token(), "token-a");
  EXPECT_EQ(config->default_namespace, "default");

  config = LoadKubeconfig(path.string(), "beta");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://b.example.test:8443");
  EXPECT_EQ(*config->token->Token(), "token-b");
  EXPECT_EQ(config->default_namespace, "team-b");
  EXPECT_THAT(config->origin, HasSubstr("\"beta\""));

  config = LoadKubeconfig(path.string(), "anonymous");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token, nullptr);
  EXPECT_EQ(config->client_cert_pem, "");
}

TEST_F(KubeConfigTest, MissingContextClusterOrUserIsNamed) {
  const fs::path path = dir_ / "config";
  WriteFile(path, kTwoContexts);

  absl::StatusOr<RestConfig> config = LoadKubeconfig(path.string(), "gamma");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("context \"gamma\" not found"), HasSubstr(path.string())));

  config = LoadKubeconfig(path.string(), "no-cluster");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("cluster \"cluster-zzz\" not found"));

  config = LoadKubeconfig(path.string(), "no-user");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("user \"user-zzz\" not found"));
}

TEST_F(KubeConfigTest, NoCurrentContext) {
  const fs::path path = dir_ / "config";
  WriteFile(path, absl::StrReplaceAll(kTwoContexts, {{"current-context: alpha\n", ""}}));
  absl::StatusOr<RestConfig> config = LoadKubeconfig(path.string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("current-context"));
  // A context flag still works.
  EXPECT_TRUE(LoadKubeconfig(path.string(), "beta").ok());
}

TEST_F(KubeConfigTest, DuplicateNamesAreRejected) {
  const fs::path path = dir_ / "config";
  WriteFile(path, absl::StrReplaceAll(kTwoContexts, {{"name: cluster-b", "name: cluster-a"}}));
  absl::StatusOr<RestConfig> config = LoadKubeconfig(path.string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("duplicate cluster name \"cluster-a\""));
}

TEST_F(KubeConfigTest, MissingKubeconfigFile) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig((dir_ / "absent").string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr((dir_ / "absent").string()));
}

// ---- Malformed documents: an error, never a crash or an exception ----

TEST_F(KubeConfigTest, MalformedYamlIsAnError) {
  const std::vector<std::string> docs = {
      absl::StrCat("current-context: main\nusers: [{name: u, user: {token: ", kToken, "}\n"),
      absl::StrCat("{{{ token: ", kToken),
      absl::StrCat("- just\n- a list\n- ", kToken),
      absl::StrCat("\"", kToken, "\""),
      "clusters: not-a-list\ncurrent-context: main\ncontexts: [{name: main, context: {cluster: "
      "c}}]",
      "current-context: [a, b]",
      "current-context: main\ncontexts: [{name: {x: 1}, context: {cluster: c}}]",
      "current-context: main\ncontexts: [{name: main, context: [1, 2]}]",
      "current-context: main\ncontexts: [42]",
      absl::StrCat(
          "current-context: main\ncontexts: [{name: main, context: {cluster: c, user: u}}]\n"
          "clusters: [{name: c, cluster: {server: {a: b}}}]\n"
          "users: [{name: u, user: {token: ",
          kToken, "}}]"),
      absl::StrCat(
          "current-context: main\ncontexts: [{name: main, context: {cluster: c, user: u}}]\n"
          "clusters: [{name: c, cluster: {server: https://x}}]\n"
          "users: [{name: u, user: {token: [",
          kToken, "]}}]"),
      "a: b\n\tc: d\n",
      "key: \"\\q SEKRET\"\n",
      "&a [*a, *b]",
  };
  for (const std::string& doc : docs) {
    const fs::path path = dir_ / "config";
    WriteFile(path, doc);
    absl::StatusOr<RestConfig> config = LoadKubeconfig(path.string());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << doc << "\n"
                                                                          << config.status();
    EXPECT_THAT(config.status().message(), Not(HasSubstr(kSecretMarker))) << doc;
  }
}

TEST_F(KubeConfigTest, EmptyFileHasNoContext) {
  const fs::path path = dir_ / "config";
  WriteFile(path, "");
  absl::StatusOr<RestConfig> config = LoadKubeconfig(path.string());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  config = LoadKubeconfig(path.string(), "x");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("context \"x\""));
}

// ---- Secrets stay out of DebugString ----

TEST_F(KubeConfigTest, DebugStringRedactsKeyAndToken) {
  absl::StatusOr<RestConfig> config = LoadKubeconfig(WriteKubeconfig(
      absl::StrCat(kServer, "\n    certificate-authority-data: ", B64(kCaPem)),
      absl::StrCat("    client-certificate-data: ", B64(kCertPem),
                   "\n    client-key-data: ", B64(kKeyPem), "\n    token: ", kToken)));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(*config->token->Token(), kToken);
  ASSERT_EQ(config->client_key_pem, kKeyPem);
  const std::string debug = config->DebugString();
  EXPECT_THAT(debug,
              AllOf(HasSubstr("https://api.example.test:6443"), HasSubstr("client_key=<redacted"),
                    HasSubstr("token=<redacted"), Not(HasSubstr(kSecretMarker)),
                    Not(HasSubstr(B64(kKeyPem))), Not(HasSubstr("PRIVATE KEY"))));

  WriteFile(dir_ / "key.pem", kKeyPem);
  WriteFile(dir_ / "cert.pem", kCertPem);
  WriteFile(dir_ / "tok", kToken);
  config = LoadKubeconfig(WriteKubeconfig(
      kServer, "    client-certificate: cert.pem\n    client-key: key.pem\n    tokenFile: tok"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->DebugString(),
              AllOf(HasSubstr((dir_ / "key.pem").string()), HasSubstr((dir_ / "tok").string()),
                    Not(HasSubstr(kSecretMarker))));
}

// ---- In-cluster ----

class InClusterTest : public KubeConfigTest {
 protected:
  InClusterPaths Paths() {
    return {.token_file = (dir_ / "sa/token").string(),
            .ca_file = (dir_ / "sa/ca.crt").string(),
            .namespace_file = (dir_ / "sa/namespace").string()};
  }
  void WriteServiceAccount() {
    WriteFile(dir_ / "sa/token", kToken);
    WriteFile(dir_ / "sa/ca.crt", kCaPem);
    WriteFile(dir_ / "sa/namespace", "cohort-system\n");
  }
};

TEST_F(InClusterTest, Ipv4) {
  WriteServiceAccount();
  SimulatedClock clock;
  absl::StatusOr<RestConfig> config = LoadInCluster(
      Paths(),
      MapEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      clock);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->ca_path, Paths().ca_file);
  EXPECT_EQ(config->default_namespace, "cohort-system");
  EXPECT_EQ(config->origin, "in-cluster");
  ASSERT_NE(config->token, nullptr);
  EXPECT_EQ(*config->token->Token(), kToken);
  EXPECT_THAT(config->DebugString(), Not(HasSubstr(kSecretMarker)));

  // The token is re-read about every minute.
  WriteFile(dir_ / "sa/token", "rotated");
  EXPECT_EQ(*config->token->Token(), kToken);
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(*config->token->Token(), "rotated");
}

TEST_F(InClusterTest, Ipv6HostIsBracketed) {
  WriteServiceAccount();
  absl::StatusOr<RestConfig> config = LoadInCluster(
      Paths(),
      MapEnv({{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://[fd00:10:96::1]:6443");
}

TEST_F(InClusterTest, NamespaceFromEnvOrDefault) {
  WriteServiceAccount();
  absl::StatusOr<RestConfig> config =
      LoadInCluster(Paths(), MapEnv({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                     {"KUBERNETES_SERVICE_PORT", "443"},
                                     {"POD_NAMESPACE", "from-env"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_namespace, "from-env");

  fs::remove(dir_ / "sa/namespace");
  config = LoadInCluster(Paths(), MapEnv({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                          {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_namespace, "default");
}

TEST_F(InClusterTest, MissingEnvironmentIsNamed) {
  WriteServiceAccount();
  absl::StatusOr<RestConfig> config = LoadInCluster(Paths(), MapEnv({}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("KUBERNETES_SERVICE_HOST"), HasSubstr("KUBERNETES_SERVICE_PORT")));

  config = LoadInCluster(Paths(), MapEnv({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(), AllOf(HasSubstr("KUBERNETES_SERVICE_PORT"),
                                               Not(HasSubstr("KUBERNETES_SERVICE_HOST"))));

  config = LoadInCluster(Paths(), MapEnv({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                          {"KUBERNETES_SERVICE_PORT", "https"}}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("KUBERNETES_SERVICE_PORT"));
}

TEST_F(InClusterTest, MissingFilesAreNamed) {
  const EnvLookup env =
      MapEnv({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  absl::StatusOr<RestConfig> config = LoadInCluster(Paths(), env);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), AllOf(HasSubstr("token"), HasSubstr(Paths().token_file)));

  WriteFile(dir_ / "sa/token", kToken);
  config = LoadInCluster(Paths(), env);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("CA"), HasSubstr(Paths().ca_file), Not(HasSubstr(kSecretMarker))));
}

// ---- LoadDefault lookup order ----

TEST_F(InClusterTest, LoadDefaultOrder) {
  WriteServiceAccount();
  WriteFile(dir_ / "flag/config",
            absl::StrReplaceAll(kTwoContexts, {{"a.example", "flag.example"}}));
  WriteFile(dir_ / "env/config", absl::StrReplaceAll(kTwoContexts, {{"a.example", "env.example"}}));
  WriteFile(dir_ / "home/.kube/config",
            absl::StrReplaceAll(kTwoContexts, {{"a.example", "home.example"}}));
  const std::string flag = (dir_ / "flag/config").string();
  const std::string kubeconfig_env =
      absl::StrCat(":", (dir_ / "env/config").string(), ":", (dir_ / "absent").string());
  const std::string home = (dir_ / "home").string();
  const InClusterPaths paths = Paths();
  auto server = [&](std::string_view flag_value, std::string_view context,
                    absl::flat_hash_map<std::string, std::string> vars) -> std::string {
    absl::StatusOr<RestConfig> c = LoadDefault(flag_value, context, MapEnv(std::move(vars)), paths);
    return c.ok() ? c->server : c.status().ToString();
  };
  const std::pair<std::string, std::string> in_cluster_host = {"KUBERNETES_SERVICE_HOST",
                                                               "10.0.0.1"};
  const std::pair<std::string, std::string> in_cluster_port = {"KUBERNETES_SERVICE_PORT", "443"};

  // The flag beats everything.
  EXPECT_EQ(
      server(flag, "",
             {{"KUBECONFIG", kubeconfig_env}, in_cluster_host, in_cluster_port, {"HOME", home}}),
      "https://flag.example.test");
  // Then the first entry of $KUBECONFIG, with the context flag applied.
  EXPECT_EQ(
      server("", "",
             {{"KUBECONFIG", kubeconfig_env}, in_cluster_host, in_cluster_port, {"HOME", home}}),
      "https://env.example.test");
  EXPECT_EQ(server("", "beta", {{"KUBECONFIG", kubeconfig_env}}), "https://b.example.test:8443");
  // Then in-cluster.
  EXPECT_EQ(server("", "", {in_cluster_host, in_cluster_port, {"HOME", home}}),
            "https://10.0.0.1:443");
  // A context flag means a kubeconfig: in-cluster is skipped for ~/.kube/config.
  EXPECT_EQ(server("", "alpha", {in_cluster_host, in_cluster_port, {"HOME", home}}),
            "https://home.example.test");
  // Then ~/.kube/config.
  EXPECT_EQ(server("", "", {{"HOME", home}}), "https://home.example.test");

  // In-cluster failing falls back to ~/.kube/config when it exists, else reports why.
  fs::remove(dir_ / "sa/token");
  EXPECT_EQ(server("", "", {in_cluster_host, in_cluster_port, {"HOME", home}}),
            "https://home.example.test");
  absl::StatusOr<RestConfig> c = LoadDefault(
      "", "", MapEnv({in_cluster_host, in_cluster_port, {"HOME", (dir_ / "nohome").string()}}),
      paths);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), AllOf(HasSubstr(paths.token_file), HasSubstr("nohome")));

  c = LoadDefault("", "", MapEnv({}), paths);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
}

// ---- TokenSource ----

class TokenSourceTest : public KubeConfigTest {};

TEST_F(TokenSourceTest, StaticToken) {
  std::unique_ptr<TokenSource> source = TokenSource::Static("abc");
  EXPECT_EQ(*source->Token(), "abc");
  EXPECT_EQ(source->path(), "");
  EXPECT_TRUE(source->last_refresh_status().ok());
}

TEST_F(TokenSourceTest, RereadsOnlyAfterRefreshPeriodAndKeepsLastGoodToken) {
  const fs::path path = dir_ / "token";
  WriteFile(path, "first-SEKRET\n");
  SimulatedClock clock;
  absl::StatusOr<std::unique_ptr<TokenSource>> source = TokenSource::FromFile(path.string(), clock);
  ASSERT_TRUE(source.ok()) << source.status();
  TokenSource& ts = **source;
  EXPECT_EQ(*ts.Token(), "first-SEKRET");

  WriteFile(path, "second-SEKRET");
  EXPECT_EQ(*ts.Token(), "first-SEKRET");
  clock.Advance(absl::Seconds(59));
  EXPECT_EQ(*ts.Token(), "first-SEKRET");
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(*ts.Token(), "second-SEKRET");
  EXPECT_TRUE(ts.last_refresh_status().ok());

  // The file vanishes: the last good token is served and the failure is reported.
  fs::remove(path);
  clock.Advance(absl::Minutes(1));
  absl::StatusOr<std::string> token = ts.Token();
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "second-SEKRET");
  EXPECT_EQ(ts.last_refresh_status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ts.last_refresh_status().message(),
              AllOf(HasSubstr(path.string()), Not(HasSubstr(kSecretMarker))));

  // An empty file is a failure too, not an empty token.
  WriteFile(path, "  \n");
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(*ts.Token(), "second-SEKRET");
  EXPECT_EQ(ts.last_refresh_status().code(), absl::StatusCode::kInvalidArgument);

  // A failed read is retried after another period, not on every call.
  WriteFile(path, "third");
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(*ts.Token(), "second-SEKRET");
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(*ts.Token(), "third");
  EXPECT_TRUE(ts.last_refresh_status().ok());
}

TEST_F(TokenSourceTest, CustomRefreshPeriod) {
  const fs::path path = dir_ / "token";
  WriteFile(path, "a");
  SimulatedClock clock;
  absl::StatusOr<std::unique_ptr<TokenSource>> source =
      TokenSource::FromFile(path.string(), clock, absl::Seconds(5));
  ASSERT_TRUE(source.ok()) << source.status();
  WriteFile(path, "b");
  clock.Advance(absl::Seconds(4));
  EXPECT_EQ(*(*source)->Token(), "a");
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(*(*source)->Token(), "b");
}

TEST_F(TokenSourceTest, InitialReadFailures) {
  SimulatedClock clock;
  absl::StatusOr<std::unique_ptr<TokenSource>> source =
      TokenSource::FromFile((dir_ / "missing").string(), clock);
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr((dir_ / "missing").string()));

  WriteFile(dir_ / "empty", "\n");
  source = TokenSource::FromFile((dir_ / "empty").string(), clock);
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(source.status().message(), HasSubstr("empty"));
}

// Readers on several threads while the file rotates and time advances: every token seen is one
// that was written (TSan checks the locking).
TEST_F(TokenSourceTest, ConcurrentReadersDuringRotation) {
  const fs::path path = dir_ / "token";
  WriteFile(path, "token-0");
  SimulatedClock clock;
  absl::StatusOr<std::unique_ptr<TokenSource>> source =
      TokenSource::FromFile(path.string(), clock, absl::Seconds(1));
  ASSERT_TRUE(source.ok()) << source.status();
  TokenSource& ts = **source;

  constexpr int kRotations = 50;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!done.load()) {
        absl::StatusOr<std::string> t = ts.Token();
        if (!t.ok() || t->rfind("token-", 0) != 0) bad.fetch_add(1);
        (void)ts.last_refresh_status();
      }
    });
  }
  for (int i = 1; i <= kRotations; ++i) {
    WriteFile(path, absl::StrCat("token-", i));
    clock.Advance(absl::Seconds(1));
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(*ts.Token(), absl::StrCat("token-", kRotations));
}

}  // namespace
}  // namespace cohort::op
