// The fixture of the ClickHouse query executors' agreement tests: one engine per test binary —
// Debian's ClickHouse 18.16 (ClickHouseServer) by default, a current engine in a chdb session
// (ChdbSession) when $COHORT_CLICKHOUSE_ENGINE is "chdb" — with the store's schema (MigrateSchema,
// database query_test). Tests insert datasets (one project each) into its events table through
// EventRowsJson in several inserts, with arrival numbers increasing across the whole run.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "analytics/clickhouse/sql_executor.h"
#include "analytics/model/event.h"
#include "analytics/model/query.h"
#include "analytics/reference/reference_engine.h"
#include "gtest/gtest.h"

namespace cohort::analytics::clickhouse::testing {

class ClickHouseQueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // The engine of this run; valid between SetUpTestSuite and TearDownTestSuite.
  static SqlExecutor& Sql();
  // "18.16" or "chdb", for messages.
  static const char* EngineName();
  // The table the executors read.
  static const std::string& Table();
  // Inserts `events_in_arrival_order` in `inserts` (>= 1) consecutive inserts; their arrival
  // numbers continue the run's counter, so a later event (a resend) arrives later. Fails the test
  // on an error.
  static void Insert(const std::vector<Event>& events_in_arrival_order, int inserts);
  // Drill-down agreement (analytics/testing/drill_down_agreement.h) of DrillDown
  // (clickhouse_query_executor.h) on this engine for one random cell, pages of 1..16 actors.
  // Returns 1 when the cell exists (and was compared), else 0.
  static int ExpectDrillDownAgrees(const Query& query, const ReferenceEngine& reference,
                                   std::mt19937& rng);
};

}  // namespace cohort::analytics::clickhouse::testing
