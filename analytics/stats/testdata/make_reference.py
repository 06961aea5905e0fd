#!/usr/bin/env python3
"""Reference values for analytics/stats (stats_reference_test.cc), from scipy.

Computes the expected outputs of every function in analytics/stats for a few hundred cases drawn
with a fixed seed (small and large n, near-degenerate and degenerate counts, p-values far below
1e-12, unequal variances, 2..6 variants) and writes reference.json beside this script. The test
checks each case to analytics.md's tolerance: relative 1e-9, or absolute 1e-15 for p-values below
1e-6.

Independence from the C++: p-values and quantiles come from scipy.stats (norm, t, chi2,
ttest_ind_from_stats, chisquare); exact variances from Python's fractions. The delta-method lift
intervals and the mSPRT have no scipy function and are computed here in plain Python from the
formulas (proportion_ztest.h, welch_ttest.h, msprt.h), written independently of the C++.

Regenerate (the JSON is committed; CI needs no scipy):
  python3 -m venv ~/.cache/cohort-operator/venv-scipy
  ~/.cache/cohort-operator/venv-scipy/bin/pip install scipy
  ~/.cache/cohort-operator/venv-scipy/bin/python analytics/stats/testdata/make_reference.py
"""

import json
import math
import os
import random
from fractions import Fraction

import scipy
from scipy import stats

SEED = 20261126
CONFIDENCES = [0.5, 0.8, 0.9, 0.95, 0.95, 0.95, 0.99, 0.999]


def log_uniform_int(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def normal_critical(confidence):
    return float(stats.norm.isf((1 - confidence) / 2))


# ----------------------------------------------------------------------------------------------
# Two-proportion z-test.

def z_test(x1, n1, x2, n2, confidence):
    p1, p2 = x1 / n1, x2 / n2
    diff = p2 - p1
    pooled_x, pooled_n = x1 + x2, n1 + n2
    degenerate = pooled_x == 0 or pooled_x == pooled_n
    if degenerate:
        z, p = 0.0, 1.0
    else:
        pooled = pooled_x / pooled_n
        z = diff / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        p = min(1.0, 2 * float(stats.norm.sf(abs(z))))
    c = normal_critical(confidence)
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    case = dict(control=[x1, n1], treatment=[x2, n2], confidence=confidence,
                control_rate=p1, treatment_rate=p2, difference=diff, z=z, p_value=p,
                degenerate=degenerate, difference_ci=[diff - c * se, diff + c * se])
    if x1 > 0:
        # Delta method on g(p1, p2) = p2/p1 - 1: dg/dp1 = -p2/p1^2, dg/dp2 = 1/p1.
        lift = diff / p1
        var = (1 / p1) ** 2 * p2 * (1 - p2) / n2 + (p2 / p1 ** 2) ** 2 * p1 * (1 - p1) / n1
        case.update(relative_lift=lift,
                    relative_lift_ci=[lift - c * math.sqrt(var), lift + c * math.sqrt(var)])
    else:
        case.update(relative_lift=None, relative_lift_ci=None)
    return case


def z_test_cases(rng):
    cases = []
    for _ in range(50):  # small n
        n1, n2 = rng.randint(1, 60), rng.randint(1, 60)
        cases.append((rng.randint(0, n1), n1, rng.randint(0, n2), n2))
    for _ in range(50):  # large n, moderate effects
        n1, n2 = log_uniform_int(rng, 1e3, 1e9), log_uniform_int(rng, 1e3, 1e9)
        r = rng.uniform(0.001, 0.999)
        se = math.sqrt(r * (1 - r) * (1 / n1 + 1 / n2))
        r2 = min(0.999, max(0.001, r + rng.uniform(-6, 6) * se))
        cases.append((round(r * n1), n1, round(r2 * n2), n2))
    for _ in range(30):  # extreme tails: 1e-300 < p < 1e-12 (|z| from 7.5 to 37)
        n = log_uniform_int(rng, 1e5, 1e8)
        r = rng.uniform(0.02, 0.5)
        z = rng.uniform(7.5, 37)
        cases.append((round(r * n), n, round((r + z * math.sqrt(2 * r * (1 - r) / n)) * n), n))
    for _ in range(20):  # near-degenerate
        n1, n2 = log_uniform_int(rng, 2, 1e7), log_uniform_int(rng, 2, 1e7)
        cases += [(0, n1, 1, n2), (n1, n1, n2 - 1, n2), (1, n1, 0, n2), (0, n1, n2, n2)]
    for n1, n2 in [(1, 1), (10, 20), (1000, 1000), (123456789, 987654321)]:  # degenerate
        cases += [(0, n1, 0, n2), (n1, n1, n2, n2)]
    return [z_test(x1, n1, x2, n2, rng.choice(CONFIDENCES)) for x1, n1, x2, n2 in cases]


# ----------------------------------------------------------------------------------------------
# Welch t-test.

def welch(arm1, arm2, confidence):
    (n1, m1, s1), (n2, m2, s2) = arm1, arm2
    diff = m2 - m1
    v1, v2 = s1 / n1, s2 / n2
    case = dict(control=[n1, m1, s1], treatment=[n2, m2, s2], confidence=confidence,
                difference=diff)
    if v1 + v2 == 0:
        case.update(t=0.0, df=0.0, p_value=1.0, degenerate=True, difference_ci=[diff, diff])
    else:
        res = stats.ttest_ind_from_stats(m2, math.sqrt(s2), n2, m1, math.sqrt(s1), n1,
                                         equal_var=False)
        df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
        half = float(stats.t.isf((1 - confidence) / 2, df)) * math.sqrt(v1 + v2)
        case.update(t=float(res.statistic), df=df, p_value=float(res.pvalue), degenerate=False,
                    difference_ci=[diff - half, diff + half])
    if m1 != 0:
        lift = diff / m1
        c = normal_critical(confidence)
        se = math.sqrt((1 / m1) ** 2 * v2 + (m2 / m1 ** 2) ** 2 * v1)
        case.update(relative_lift=lift, relative_lift_ci=[lift - c * se, lift + c * se])
    else:
        case.update(relative_lift=None, relative_lift_ci=None)
    return case


def welch_cases(rng):
    def arm(n, mean, sd):
        return (n, mean, sd * sd)

    cases = []
    for _ in range(50):  # small n, unequal variances
        cases.append((arm(rng.randint(2, 40), rng.gauss(10, 5), math.exp(rng.uniform(-3, 3))),
                      arm(rng.randint(2, 40), rng.gauss(10, 5), math.exp(rng.uniform(-3, 3)))))
    for _ in range(50):  # large n, small effects, variance ratios up to 1e4
        m = rng.uniform(-100, 100)
        sd = math.exp(rng.uniform(-2, 4))
        cases.append((arm(log_uniform_int(rng, 1e3, 1e8), m, sd),
                      arm(log_uniform_int(rng, 1e3, 1e8), m + rng.gauss(0, 0.01) * sd,
                          sd * math.exp(rng.uniform(-4.6, 4.6)))))
    for _ in range(25):  # extreme tails, small and large df
        n1, n2 = rng.choice([(3, 4), (5, 5), (2, 30), (10, 8)]) if rng.random() < 0.5 else (
            log_uniform_int(rng, 1e3, 1e6), log_uniform_int(rng, 1e3, 1e6))
        sd = math.exp(rng.uniform(-2, 2))
        t = rng.uniform(8, 37) if n1 > 100 else rng.uniform(20, 1e4)
        cases.append((arm(n1, 0.5, sd), arm(n2, 0.5 + t * sd * math.sqrt(1 / n1 + 1 / n2), sd)))
    cases += [  # one constant arm, both constant (degenerate), zero control mean
        (arm(10, 3.0, 0.0), arm(12, 3.5, 1.0)), (arm(50, 0.0, 0.0), arm(40, 0.2, 0.5)),
        (arm(5, 2.0, 0.0), arm(7, 2.0, 0.0)), (arm(5, 2.0, 0.0), arm(7, 3.0, 0.0)),
        (arm(100, 0.0, 2.0), arm(100, 0.3, 2.0)), (arm(2, -4.0, 1.0), arm(2, 4.0, 1.0)),
    ]
    return [welch(a, b, rng.choice(CONFIDENCES)) for a, b in cases]


# ----------------------------------------------------------------------------------------------
# Moments from sums: the exact value for the given (rounded) sums, rounded once.

def moments_case(values):
    n = len(values)
    s, ss = 0.0, 0.0
    for v in values:  # a store's floating-point accumulation
        s += v
        ss += v * v
    exact_m2 = Fraction(ss) - Fraction(s) ** 2 / n
    return dict(n=n, sum=s, sum_of_squares=ss, mean=s / n,
                variance=float(max(exact_m2, Fraction(0)) / (n - 1)))


def moments_cases(rng):
    cases = []
    for _ in range(15):  # integers near a large offset: the textbook formula loses ~all digits
        offset = rng.choice([1e6, 3e6, 1e7])
        n = rng.randint(2, 60)
        cases.append(moments_case([offset + rng.randint(-5, 5) for _ in range(n)]))
    for _ in range(15):  # arbitrary floats
        n = rng.randint(2, 500)
        mu, sd = rng.uniform(-1e3, 1e3), math.exp(rng.uniform(-5, 5))
        cases.append(moments_case([rng.gauss(mu, sd) for _ in range(n)]))
    cases.append(moments_case([7.0] * 9))  # constant
    return cases


# ----------------------------------------------------------------------------------------------
# Sample ratio mismatch.

def srm_cases(rng):
    cases = []
    for i in range(70):
        k = 2 + i % 5
        weights = None if rng.random() < 0.5 else [rng.uniform(0.5, 5) for _ in range(k)]
        total = log_uniform_int(rng, 20, 1e8)
        w = weights or [1.0] * k
        shares = [x / sum(w) for x in w]
        if i % 7 == 0:  # a broken split: p far below 1e-12
            shares[0] *= 1.05
        observed = [max(0, round(total * s * rng.uniform(0.995, 1.005))) for s in shares]
        if sum(observed) == 0:
            observed[0] = 1
        n = sum(observed)
        expected = [n / k for _ in range(k)] if weights is None else [
            n * (x / sum(weights)) for x in weights]
        res = stats.chisquare(observed, expected)
        p = float(res.pvalue)
        cases.append(dict(observed=observed, weights=weights or [], expected=expected,
                          chi_squared=float(res.statistic), df=k - 1, p_value=p,
                          mismatch=p < 0.001))
    return cases


# ----------------------------------------------------------------------------------------------
# mSPRT (msprt.h), in the paper's two-stream form generalized to V = Var(estimate).

def msprt_log_lambda(estimate, variance, tau2, theta0):
    if variance == 0:
        return 0.0
    d = estimate - theta0
    return 0.5 * (math.log(variance) - math.log(variance + tau2)) + \
        tau2 * d * d / (2 * variance * (variance + tau2))


def msprt_sequence(kind, looks, tau2, theta0):
    running, out = 1.0, []
    for look in looks:
        if kind == "proportions":
            (x1, n1), (x2, n2) = look
            p1, p2 = x1 / n1, x2 / n2
            est, var = p2 - p1, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        else:
            (n1, m1, s1), (n2, m2, s2) = look
            est, var = m2 - m1, s1 / n1 + s2 / n2
        log_lambda = msprt_log_lambda(est, var, tau2, theta0)
        p = min(1.0, math.exp(-log_lambda))
        running = min(running, p)
        out.append(dict(look=look, estimate=est, variance=var, log_likelihood_ratio=log_lambda,
                        p_value=p, always_valid_p_value=running))
    return dict(kind=kind, tau_squared=tau2, null_value=theta0, looks=out)


def msprt_cases(rng):
    cases = []
    for i in range(16):  # daily cumulative conversion counts
        r1 = rng.uniform(0.02, 0.3)
        r2 = r1 * (1 + rng.choice([0, 0, 0.02, 0.1, 0.3]))
        x1 = n1 = x2 = n2 = 0
        looks = []
        for _ in range(rng.randint(5, 20)):
            d1, d2 = rng.randint(50, 5000), rng.randint(50, 5000)
            n1, n2 = n1 + d1, n2 + d2
            x1 += sum(rng.random() < r1 for _ in range(d1))
            x2 += sum(rng.random() < r2 for _ in range(d2))
            looks.append([[x1, n1], [x2, n2]])
        cases.append(msprt_sequence("proportions", looks, rng.choice([1e-4, 1e-3, 1e-2]),
                                    0.0 if i % 4 else 0.01))
    for i in range(12):  # daily cumulative means
        mu, sd = rng.uniform(1, 50), rng.uniform(1, 20)
        effect = rng.choice([0.0, 0.0, 0.05, 0.2]) * sd
        arms = [[0, 0.0, 0.0], [0, 0.0, 0.0]]  # n, sum, sum of squares
        looks = []
        for _ in range(rng.randint(5, 15)):
            for a, shift in ((0, 0.0), (1, effect)):
                for _ in range(rng.randint(20, 300)):
                    v = rng.gauss(mu + shift, sd)
                    arms[a][0] += 1
                    arms[a][1] += v
                    arms[a][2] += v * v
            look = []
            for n, s, ss in arms:
                m = s / n
                look.append([n, m, (ss - s * m) / (n - 1)])
            looks.append(look)
        cases.append(msprt_sequence("means", looks, sd * sd * rng.choice([0.01, 0.1, 1.0]),
                                    0.0 if i % 3 else 0.5))
    return cases


def main():
    rng = random.Random(SEED)
    doc = {
        "generated_by": "analytics/stats/testdata/make_reference.py (seed %d, scipy %s)"
                        % (SEED, scipy.__version__),
        "z_test": z_test_cases(rng),
        "welch": welch_cases(rng),
        "moments_from_sums": moments_cases(rng),
        "sample_ratio": srm_cases(rng),
        "msprt": msprt_cases(rng),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    print("wrote %s (%d bytes): %s" % (path, os.path.getsize(path), counts))


if __name__ == "__main__":
    main()
