// Every function of analytics/stats against testdata/reference.json (scipy; see
// testdata/make_reference.py), to analytics.md's tolerance: relative 1e-9, or absolute 1e-15 for
// p-values below 1e-6.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "analytics/stats/msprt.h"
#include "analytics/stats/proportion_ztest.h"
#include "analytics/stats/sample_moments.h"
#include "analytics/stats/sample_ratio.h"
#include "analytics/stats/welch_ttest.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort::analytics::stats {
namespace {

using nlohmann::json;

constexpr double kRelative = 1e-9;
constexpr double kAbsoluteSmallP = 1e-15;
constexpr double kSmallP = 1e-6;

const json& Reference() {
  static const json* doc = [] {
    std::ifstream in(COHORT_STATS_TESTDATA "/reference.json");
    return new json(json::parse(in));
  }();
  return *doc;
}

// |actual − expected| ≤ 1e-9·max(|expected|, scale). `scale` is the size of the quantity the value
// is a difference of (an interval's half-width), so an end near 0 is not held to a relative
// tolerance of its own cancellation.
::testing::AssertionResult Close(double actual, double expected, double scale = 0) {
  const double tolerance = kRelative * std::max(std::fabs(expected), std::fabs(scale));
  if (std::fabs(actual - expected) <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "actual " << actual << " expected " << expected << " (relative error "
         << std::fabs(actual - expected) / std::fabs(expected) << ")";
}

::testing::AssertionResult CloseP(double actual, double expected) {
  if (expected < kSmallP && std::fabs(actual - expected) <= kAbsoluteSmallP) {
    return ::testing::AssertionSuccess();
  }
  return Close(actual, expected);
}

void ExpectInterval(const Interval& actual, const json& expected, const std::string& what) {
  const double lower = expected[0].get<double>();
  const double upper = expected[1].get<double>();
  const double half = (upper - lower) / 2;
  EXPECT_TRUE(Close(actual.lower, lower, half)) << what << ".lower";
  EXPECT_TRUE(Close(actual.upper, upper, half)) << what << ".upper";
}

void ExpectLift(const std::optional<double>& lift, const std::optional<Interval>& ci,
                const json& c) {
  if (c["relative_lift"].is_null()) {
    EXPECT_FALSE(lift.has_value());
    EXPECT_FALSE(ci.has_value());
    return;
  }
  ASSERT_TRUE(lift.has_value());
  ASSERT_TRUE(ci.has_value());
  const json& expected_ci = c["relative_lift_ci"];
  EXPECT_TRUE(Close(*lift, c["relative_lift"].get<double>(),
                    (expected_ci[1].get<double>() - expected_ci[0].get<double>()) / 2))
      << "relative_lift";
  ExpectInterval(*ci, expected_ci, "relative_lift_ci");
}

TEST(StatsReferenceTest, CoversTheCasesTheBriefAsksFor) {
  const json& doc = Reference();
  EXPECT_GE(doc["z_test"].size(), 100u);
  EXPECT_GE(doc["welch"].size(), 100u);
  EXPECT_GE(doc["sample_ratio"].size(), 50u);
  EXPECT_GE(doc["msprt"].size(), 20u);
  int tails = 0;
  for (const char* kind : {"z_test", "welch", "sample_ratio"}) {
    for (const json& c : doc[kind]) tails += c["p_value"].get<double>() < 1e-12;
  }
  EXPECT_GE(tails, 50);
}

TEST(StatsReferenceTest, TwoProportionZTest) {
  double worst_tail_error = 0;
  for (const json& c : Reference()["z_test"]) {
    SCOPED_TRACE(c.dump());
    absl::StatusOr<ProportionTestResult> r =
        TwoProportionZTest({c["control"][0].get<int64_t>(), c["control"][1].get<int64_t>()},
                           {c["treatment"][0].get<int64_t>(), c["treatment"][1].get<int64_t>()},
                           c["confidence"].get<double>());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(Close(r->control_rate, c["control_rate"].get<double>()));
    EXPECT_TRUE(Close(r->treatment_rate, c["treatment_rate"].get<double>()));
    EXPECT_TRUE(Close(r->difference, c["difference"].get<double>()));
    EXPECT_TRUE(Close(r->z, c["z"].get<double>())) << "z";
    EXPECT_TRUE(CloseP(r->p_value, c["p_value"].get<double>())) << "p_value";
    EXPECT_EQ(r->degenerate, c["degenerate"].get<bool>());
    ExpectInterval(r->difference_ci, c["difference_ci"], "difference_ci");
    ExpectLift(r->relative_lift, r->relative_lift_ci, c);
    const double p = c["p_value"].get<double>();
    if (p > 0) worst_tail_error = std::max(worst_tail_error, std::fabs(r->p_value - p) / p);
  }
  std::cout << "z-test: worst relative p-value error " << worst_tail_error << "\n";
}

TEST(StatsReferenceTest, WelchTTest) {
  double worst_tail_error = 0;
  for (const json& c : Reference()["welch"]) {
    SCOPED_TRACE(c.dump());
    const json& a = c["control"];
    const json& b = c["treatment"];
    absl::StatusOr<WelchTestResult> r =
        WelchTTest({a[0].get<int64_t>(), a[1].get<double>(), a[2].get<double>()},
                   {b[0].get<int64_t>(), b[1].get<double>(), b[2].get<double>()}, c["confidence"]);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(Close(r->difference, c["difference"].get<double>()));
    EXPECT_TRUE(Close(r->t, c["t"].get<double>())) << "t";
    EXPECT_TRUE(Close(r->df, c["df"].get<double>())) << "df";
    EXPECT_TRUE(CloseP(r->p_value, c["p_value"].get<double>())) << "p_value";
    EXPECT_EQ(r->degenerate, c["degenerate"].get<bool>());
    ExpectInterval(r->difference_ci, c["difference_ci"], "difference_ci");
    ExpectLift(r->relative_lift, r->relative_lift_ci, c);
    const double p = c["p_value"].get<double>();
    if (p > 0) worst_tail_error = std::max(worst_tail_error, std::fabs(r->p_value - p) / p);
  }
  std::cout << "Welch: worst relative p-value error " << worst_tail_error << "\n";
}

TEST(StatsReferenceTest, SampleMomentsFromSums) {
  for (const json& c : Reference()["moments_from_sums"]) {
    SCOPED_TRACE(c.dump());
    absl::StatusOr<SampleMoments> m = SampleMomentsFromSums(
        c["n"].get<int64_t>(), c["sum"].get<double>(), c["sum_of_squares"].get<double>());
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->n, c["n"].get<int64_t>());
    EXPECT_TRUE(Close(m->mean, c["mean"].get<double>()));
    // The sums are exact inputs, so the variance is held to the exact value, correctly rounded.
    EXPECT_TRUE(Close(m->variance, c["variance"].get<double>())) << "variance";
  }
}

TEST(StatsReferenceTest, SampleRatioMismatch) {
  for (const json& c : Reference()["sample_ratio"]) {
    SCOPED_TRACE(c.dump());
    const std::vector<int64_t> observed = c["observed"].get<std::vector<int64_t>>();
    const std::vector<double> weights = c["weights"].get<std::vector<double>>();
    absl::StatusOr<SampleRatioResult> r = SampleRatioMismatch(observed, weights);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(Close(r->chi_squared, c["chi_squared"].get<double>())) << "chi_squared";
    EXPECT_EQ(r->df, c["df"].get<int>());
    EXPECT_TRUE(CloseP(r->p_value, c["p_value"].get<double>())) << "p_value";
    EXPECT_EQ(r->mismatch, c["mismatch"].get<bool>());
    const std::vector<double> expected = c["expected"].get<std::vector<double>>();
    ASSERT_EQ(r->expected.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(Close(r->expected[i], expected[i]));
  }
}

TEST(StatsReferenceTest, MixtureSprt) {
  for (const json& c : Reference()["msprt"]) {
    SCOPED_TRACE(c["kind"].get<std::string>());
    const double tau2 = c["tau_squared"].get<double>();
    const double theta0 = c["null_value"].get<double>();
    std::vector<DifferenceEstimate> looks;
    for (const json& l : c["looks"]) {
      SCOPED_TRACE(l.dump());
      const json& a = l["look"][0];
      const json& b = l["look"][1];
      absl::StatusOr<DifferenceEstimate> d =
          c["kind"] == "proportions"
              ? DifferenceOfProportions({a[0].get<int64_t>(), a[1].get<int64_t>()},
                                        {b[0].get<int64_t>(), b[1].get<int64_t>()})
              : DifferenceOfMeans({a[0].get<int64_t>(), a[1].get<double>(), a[2].get<double>()},
                                  {b[0].get<int64_t>(), b[1].get<double>(), b[2].get<double>()});
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_TRUE(Close(d->estimate, l["estimate"].get<double>()));
      EXPECT_TRUE(Close(d->variance, l["variance"].get<double>()));
      absl::StatusOr<MixtureSprtLook> one = MixtureSprt(*d, tau2, theta0);
      ASSERT_TRUE(one.ok()) << one.status();
      EXPECT_TRUE(Close(one->log_likelihood_ratio, l["log_likelihood_ratio"].get<double>(),
                        1e-6))  // ln Λ crosses 0: there the tolerance is 1e-15 absolute
          << "log_likelihood_ratio";
      EXPECT_TRUE(CloseP(one->p_value, l["p_value"].get<double>())) << "p_value";
      looks.push_back(*d);
    }
    absl::StatusOr<std::vector<double>> p = AlwaysValidPValues(looks, tau2, theta0);
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_EQ(p->size(), c["looks"].size());
    for (size_t i = 0; i < p->size(); ++i) {
      EXPECT_TRUE(CloseP((*p)[i], c["looks"][i]["always_valid_p_value"].get<double>()))
          << "always_valid_p_value[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace cohort::analytics::stats
