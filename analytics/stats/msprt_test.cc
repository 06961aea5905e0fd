#include "analytics/stats/msprt.h"

#include <cmath>
#include <iostream>
#include <random>
#include <vector>

#include "analytics/stats/distributions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::analytics::stats {
namespace {

using ::testing::HasSubstr;

TEST(MixtureSprtTest, HandCheckedTwoStreamExample) {
  // The paper's two-stream form with σ² = 1, n = 100 per arm, Ȳ − X̄ = 0.3, τ² = 0.01, θ₀ = 0:
  // Λ = sqrt(2/(2 + 1)) · exp(100²·0.01·0.09 / (4·(2 + 1))) = 0.8164966 · e^0.75 = 1.7285233...,
  // p = 1/Λ = 0.5785285...; here V = 2σ²/n = 0.02.
  absl::StatusOr<MixtureSprtLook> r = MixtureSprt({.estimate = 0.3, .variance = 0.02}, 0.01);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->log_likelihood_ratio, 0.5 * std::log(2.0 / 3) + 0.75, 1e-15);
  EXPECT_NEAR(std::exp(r->log_likelihood_ratio), 1.7285233, 1e-7);
  EXPECT_NEAR(r->p_value, 0.5785285, 1e-7);
  EXPECT_FALSE(r->degenerate);
}

TEST(MixtureSprtTest, OneSampleFormOfThePaper) {
  // Λ_n = sqrt(σ²/(σ² + nτ²)) · exp(n²τ²(X̄ − θ₀)²/(2σ²(σ² + nτ²))), σ² = 4, n = 50, τ² = 0.5,
  // X̄ = 1.2, θ₀ = 0.4; V = σ²/n.
  const double s2 = 4, n = 50, tau2 = 0.5, d = 1.2 - 0.4;
  const double log_lambda =
      0.5 * std::log(s2 / (s2 + n * tau2)) + n * n * tau2 * d * d / (2 * s2 * (s2 + n * tau2));
  absl::StatusOr<MixtureSprtLook> r = MixtureSprt({.estimate = 1.2, .variance = s2 / n}, tau2, 0.4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->log_likelihood_ratio, log_lambda, 1e-13);
  EXPECT_NEAR(r->p_value, std::min(1.0, std::exp(-log_lambda)), 1e-15);
}

TEST(MixtureSprtTest, FarTailDoesNotOverflow) {
  absl::StatusOr<MixtureSprtLook> r = MixtureSprt({.estimate = 1, .variance = 1e-6}, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->log_likelihood_ratio, 1e5);
  EXPECT_EQ(r->p_value, 0);
}

TEST(MixtureSprtTest, ZeroVarianceIsDegenerateAndCarriesNoEvidence) {
  absl::StatusOr<MixtureSprtLook> r = MixtureSprt({.estimate = 0.5, .variance = 0}, 0.1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->degenerate);
  EXPECT_EQ(r->log_likelihood_ratio, 0);
  EXPECT_EQ(r->p_value, 1);
}

TEST(MixtureSprtTest, RunningMinimumOverLooks) {
  const std::vector<DifferenceEstimate> looks = {
      {0.3, 0.02}, {0.6, 0.01}, {0.0, 0.005}, {0.4, 0}, {0.5, 0.004}};
  absl::StatusOr<std::vector<double>> p = AlwaysValidPValues(looks, 0.01);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), looks.size());
  double running = 1;
  for (size_t i = 0; i < looks.size(); ++i) {
    running = std::min(running, MixtureSprt(looks[i], 0.01)->p_value);
    EXPECT_EQ((*p)[i], running) << i;
  }
  EXPECT_LT((*p)[1], (*p)[0]);  // look 1 is strong evidence ...
  EXPECT_EQ((*p)[2], (*p)[1]);  // ... which a later null-looking day does not take back
  EXPECT_TRUE(AlwaysValidPValues({}, 0.01)->empty());
}

TEST(MixtureSprtTest, DifferenceEstimates) {
  absl::StatusOr<DifferenceEstimate> d = DifferenceOfProportions({200, 1000}, {250, 1000});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_NEAR(d->estimate, 0.05, 1e-16);
  EXPECT_NEAR(d->variance, 0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000, 1e-18);
  d = DifferenceOfMeans({10, 5, 4}, {20, 6.5, 9});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->estimate, 1.5);
  EXPECT_NEAR(d->variance, 0.4 + 0.45, 1e-15);
  EXPECT_THAT(DifferenceOfProportions({1, 0}, {1, 2}).status().message(), HasSubstr("control.n"));
  EXPECT_THAT(DifferenceOfMeans({5, 0, 1}, {5, 0, -1}).status().message(),
              HasSubstr("treatment.variance"));
}

TEST(MixtureSprtTest, InvalidArgumentsNameTheField) {
  EXPECT_THAT(MixtureSprt({NAN, 1}, 1).status().message(), HasSubstr("estimate"));
  EXPECT_THAT(MixtureSprt({0, -1}, 1).status().message(), HasSubstr("variance"));
  EXPECT_THAT(MixtureSprt({0, 1}, 0).status().message(), HasSubstr("tau_squared"));
  EXPECT_THAT(MixtureSprt({0, 1}, INFINITY).status().message(), HasSubstr("tau_squared"));
  EXPECT_THAT(MixtureSprt({0, 1}, 1, NAN).status().message(), HasSubstr("null_value"));
  absl::StatusOr<std::vector<double>> p = AlwaysValidPValues({{0, 1}, {0, -1}}, 1);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("looks[1].variance"));
  EXPECT_THAT(AlwaysValidPValues({{0, 1}}, -1).status().message(), HasSubstr("tau_squared"));
}

// The point of the method: under the null, looking after every batch and stopping at the first
// p ≤ α rejects at most α of the time, where the fixed-horizon test peeked at as often does not.
TEST(MixtureSprtTest, ContinuousMonitoringKeepsTheTypeOneErrorRate) {
  constexpr int kSequences = 1000, kLooks = 50, kBatch = 20;
  constexpr double kAlpha = 0.05;
  std::mt19937_64 rng(20261126);
  std::normal_distribution<double> noise(10, 3);
  int msprt_rejections = 0, peeking_rejections = 0;
  for (int s = 0; s < kSequences; ++s) {
    double sum[2] = {0, 0}, squares[2] = {0, 0};
    int64_t n = 0;
    std::vector<DifferenceEstimate> looks;
    bool peeked = false;
    for (int l = 0; l < kLooks; ++l) {
      for (int i = 0; i < kBatch; ++i) {
        for (int arm = 0; arm < 2; ++arm) {
          const double x = noise(rng);
          sum[arm] += x;
          squares[arm] += x * x;
        }
      }
      n += kBatch;
      absl::StatusOr<DifferenceEstimate> d =
          DifferenceOfMeans(*SampleMomentsFromSums(n, sum[0], squares[0]),
                            *SampleMomentsFromSums(n, sum[1], squares[1]));
      ASSERT_TRUE(d.ok()) << d.status();
      looks.push_back(*d);
      peeked |= NormalTwoSidedPValue(d->estimate / std::sqrt(d->variance)) <= kAlpha;
    }
    absl::StatusOr<std::vector<double>> p = AlwaysValidPValues(looks, 9.0 * 0.1);
    ASSERT_TRUE(p.ok()) << p.status();
    msprt_rejections += p->back() <= kAlpha;
    peeking_rejections += peeked;
  }
  std::cout << "rejected at alpha " << kAlpha << ": mSPRT " << msprt_rejections
            << ", peeking z-test " << peeking_rejections << " of " << kSequences << "\n";
  const double sd = std::sqrt(kAlpha * (1 - kAlpha) / kSequences);
  EXPECT_LE(msprt_rejections, kSequences * (kAlpha + 3 * sd));
  EXPECT_GT(peeking_rejections, kSequences * 2 * kAlpha);  // the test can tell the difference
}

}  // namespace
}  // namespace cohort::analytics::stats
