// ChdbSession's failures without chdb (its work on a real chdb is in
// clickhouse_store_integration_test_chdb): a missing or failing interpreter is an error at Start.
#include "analytics/clickhouse/testing/chdb_session.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse::testing {
namespace {

TEST(ChdbSessionTest, StartFailsWithoutAnInterpreter) {
  ASSERT_EQ(unsetenv("COHORT_CHDB_PYTHON"), 0);
  absl::StatusOr<std::unique_ptr<ChdbSession>> s = ChdbSession::Start();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.status().message(), "COHORT_CHDB_PYTHON")) << s.status();
}

TEST(ChdbSessionTest, StartFailsWhenTheChildExits) {
  for (const char* python : {"/bin/false", "/nonexistent/python"}) {
    ASSERT_EQ(setenv("COHORT_CHDB_PYTHON", python, 1), 0);
    absl::StatusOr<std::unique_ptr<ChdbSession>> s = ChdbSession::Start(absl::Seconds(30));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << python;
    EXPECT_TRUE(absl::StrContains(s.status().message(), "exited")) << s.status();
  }
}

TEST(ChdbSessionTest, StartFailsOnAChildThatBreaksTheProtocol) {
  // A "python" that prints something else than an answer header, then waits.
  const std::string fake = ::testing::TempDir() + "/chdb_session_test_fake_python";
  {
    std::ofstream out(fake);
    out << "#!/bin/sh\necho 'Hello world'\nsleep 30\n";
  }
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  ASSERT_EQ(setenv("COHORT_CHDB_PYTHON", fake.c_str(), 1), 0);
  absl::StatusOr<std::unique_ptr<ChdbSession>> s = ChdbSession::Start(absl::Seconds(30));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.status().message(), "header")) << s.status();
}

}  // namespace
}  // namespace cohort::analytics::clickhouse::testing
