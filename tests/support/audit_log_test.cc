#include "tests/support/audit_log.h"

#include <fstream>

#include "gtest/gtest.h"

namespace cohort::testing {
namespace {

constexpr char kCreate[] =
    R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1",)"
    R"("stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns1/configmaps","verb":"create",)"
    R"("user":{"username":"cohort-admin","groups":["system:masters"]},"userAgent":"kubectl/v1.36.3",)"
    R"("objectRef":{"resource":"configmaps","namespace":"ns1","name":"cm1","apiVersion":"v1"},)"
    R"("responseStatus":{"metadata":{},"code":201}})";

constexpr char kStatusPatch[] =
    R"({"auditID":"a2","stage":"ResponseComplete","verb":"patch","user":{"username":"op"},)"
    R"("objectRef":{"resource":"deployments","subresource":"status","apiGroup":"apps",)"
    R"("namespace":"ns1","name":"d"},"responseStatus":{"code":200}})";

TEST(ParseAuditLineTest, ReadsTheFieldsTestsUse) {
  absl::StatusOr<AuditEvent> e = ParseAuditLine(kCreate);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->audit_id, "a1");
  EXPECT_EQ(e->verb, "create");
  EXPECT_EQ(e->user, "cohort-admin");
  EXPECT_EQ(e->resource, "configmaps");
  EXPECT_EQ(e->api_group, "");
  EXPECT_EQ(e->namespace_, "ns1");
  EXPECT_EQ(e->name, "cm1");
  EXPECT_EQ(e->code, 201);
  EXPECT_EQ(e->user_agent, "kubectl/v1.36.3");
}

TEST(ParseAuditLineTest, SubresourceAndGroup) {
  absl::StatusOr<AuditEvent> e = ParseAuditLine(kStatusPatch);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->subresource, "status");
  EXPECT_EQ(e->api_group, "apps");
}

TEST(ParseAuditLineTest, MissingFieldsAreEmpty) {
  absl::StatusOr<AuditEvent> e = ParseAuditLine(R"({"verb":"get","objectRef":7})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->verb, "get");
  EXPECT_EQ(e->resource, "");
  EXPECT_EQ(e->code, 0);
}

TEST(ParseAuditLineTest, RejectsNonObjects) {
  EXPECT_FALSE(ParseAuditLine("not json").ok());
  EXPECT_FALSE(ParseAuditLine("[1,2]").ok());
}

TEST(ReadAuditLogTest, SkipsTornTailAndEarlierStages) {
  const std::string path = ::testing::TempDir() + "/audit.log";
  {
    std::ofstream out(path, std::ios::trunc);
    out << kCreate << "\n"
        << R"({"auditID":"a0","stage":"ResponseStarted","verb":"watch"})"
        << "\n"
        << kStatusPatch << "\n"
        << R"({"auditID":"a3","stage":"Respon)";  // torn: the server is mid-write
  }
  absl::StatusOr<std::vector<AuditEvent>> events = ReadAuditLog(path);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].audit_id, "a1");
  EXPECT_EQ((*events)[1].audit_id, "a2");
}

TEST(ReadAuditLogTest, CorruptCompleteLineIsDataLoss) {
  const std::string path = ::testing::TempDir() + "/audit-bad.log";
  {
    std::ofstream out(path, std::ios::trunc);
    out << kCreate << "\n"
        << "garbage\n";
  }
  absl::StatusOr<std::vector<AuditEvent>> events = ReadAuditLog(path);
  EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss);
}

TEST(ReadAuditLogTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadAuditLog("/nonexistent/audit.log").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cohort::testing
