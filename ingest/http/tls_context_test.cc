#include "ingest/http/tls_context.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "ingest/http/test_client.h"

namespace cohort::ingest::http {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    tls_.cert_file = dir_ + "/tls.crt";
    tls_.key_file = dir_ + "/tls.key";
    ASSERT_TRUE(
        testing::GenerateSelfSignedCertificate("first", tls_.cert_file, tls_.key_file).ok());
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
  config::Tls tls_;
  SimulatedClock clock_;
};

TEST_F(TlsContextTest, LoadsAndBuildsContexts) {
  absl::StatusOr<std::unique_ptr<TlsContextProvider>> provider =
      TlsContextProvider::Create(tls_, clock_, absl::Seconds(10));
  ASSERT_TRUE(provider.ok()) << provider.status();
  EXPECT_NE((*provider)->Current(), nullptr);
  EXPECT_EQ((*provider)->reloads(), 0);
  // Unchanged files: a reload is a no-op.
  EXPECT_TRUE((*provider)->Reload().ok());
  EXPECT_EQ((*provider)->reloads(), 0);
}

TEST_F(TlsContextTest, MissingOrBadFilesAreErrors) {
  config::Tls missing = tls_;
  missing.cert_file = dir_ + "/nope.crt";
  EXPECT_EQ(TlsContextProvider::Create(missing, clock_, absl::Seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
  config::Tls garbage = tls_;
  garbage.cert_file = dir_ + "/garbage.crt";
  WriteAll(garbage.cert_file, "not a certificate");
  EXPECT_EQ(TlsContextProvider::Create(garbage, clock_, absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A key of another certificate.
  config::Tls mismatched = tls_;
  mismatched.cert_file = dir_ + "/other.crt";
  ASSERT_TRUE(
      testing::GenerateSelfSignedCertificate("other", mismatched.cert_file, dir_ + "/other.key")
          .ok());
  absl::Status status = TlsContextProvider::Create(mismatched, clock_, absl::Seconds(1)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("private key"), std::string::npos) << status;
}

TEST_F(TlsContextTest, ReloadsWhenFilesChangeAfterTheInterval) {
  std::unique_ptr<TlsContextProvider> provider =
      *TlsContextProvider::Create(tls_, clock_, absl::Seconds(10));
  const auto first = provider->Current();
  ASSERT_TRUE(testing::GenerateSelfSignedCertificate("second", tls_.cert_file, tls_.key_file).ok());
  // Not due yet: the old context stays.
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(provider->Current(), first);
  clock_.Advance(absl::Seconds(6));
  const auto second = provider->Current();
  EXPECT_NE(second, first);
  EXPECT_EQ(provider->reloads(), 1);
}

TEST_F(TlsContextTest, BadNewPairKeepsTheOldOne) {
  std::unique_ptr<TlsContextProvider> provider =
      *TlsContextProvider::Create(tls_, clock_, absl::Seconds(10));
  const auto first = provider->Current();
  const std::string good_key = ReadAll(tls_.key_file);
  // A new certificate with the old key: mismatched pair (a half-updated Secret).
  ASSERT_TRUE(
      testing::GenerateSelfSignedCertificate("second", tls_.cert_file, dir_ + "/new.key").ok());
  absl::Status status = provider->Reload();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(provider->Current(), first);
  EXPECT_EQ(provider->reload_failures(), 1);
  // The key arrives: the next reload succeeds.
  WriteAll(tls_.key_file, ReadAll(dir_ + "/new.key"));
  EXPECT_TRUE(provider->Reload().ok());
  EXPECT_NE(provider->Current(), first);
  EXPECT_EQ(provider->reloads(), 1);
}

}  // namespace
}  // namespace cohort::ingest::http
