"""The model output's AUC for a group: the score's own rank AUC with DeLong's interval (#19 item 19)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from whybox import InputError
from whybox.datasets import load_credit
from whybox.fairness import proxy_detection
from whybox.fairness._proxy import rank_auc


def _oriented(a: float) -> float:
    return max(a, 1.0 - a)


def test_two_groups_equal_sklearn_with_ties_and_orientation():
    rng = np.random.default_rng(0)
    groups = rng.choice(np.array(["A", "B"]), size=300, p=[0.3, 0.7])
    scores = np.round(rng.normal(size=300) - 0.4 * (groups == "B"), 1)  # many ties, B low
    auc, _, by_group = rank_auc(scores, groups)
    want = roc_auc_score(groups == "B", scores)
    assert want < 0.5  # the score is low for B: it still reveals B
    assert auc == pytest.approx(1.0 - want, abs=1e-12)
    assert by_group == {"A": auc, "B": auc}


def test_more_groups_are_one_vs_rest_and_their_mean():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 3, size=400)
    scores = rng.normal(size=400) + np.array([0.0, 0.8, -0.5])[groups]
    auc, _, by_group = rank_auc(scores, groups)
    want = [_oriented(roc_auc_score(groups == g, scores)) for g in range(3)]
    np.testing.assert_allclose([by_group[str(g)] for g in range(3)], want, rtol=0, atol=1e-12)
    assert auc == pytest.approx(np.mean(want), abs=1e-12)


def test_interval_is_delongs_from_the_pairwise_kernel():
    rng = np.random.default_rng(2)
    groups = np.r_[np.zeros(37, int), np.ones(53, int)]
    scores = np.round(rng.normal(size=90) + 0.7 * groups, 1)
    pos, neg = scores[groups == 1], scores[groups == 0]
    # DeLong, DeLong & Clarke-Pearson (1988) from the n1 x n0 kernel psi(x_i, y_j)
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    theta = psi.mean()
    var = psi.mean(axis=1).var(ddof=1) / len(pos) + psi.mean(axis=0).var(ddof=1) / len(neg)
    z = norm.ppf(0.95)
    auc, (lo, hi), _ = rank_auc(scores, groups, confidence_level=0.9)
    assert auc == pytest.approx(theta, abs=1e-12)
    assert (lo, hi) == pytest.approx(
        (theta - z * np.sqrt(var), theta + z * np.sqrt(var)), abs=1e-12
    )


def test_interval_covers_the_true_auc():
    # binormal scores: the true AUC is Phi(delta / sqrt 2); 400 data sets of 80 + 120 rows
    rng = np.random.default_rng(3)
    delta, reps = 0.6, 400
    truth = norm.cdf(delta / np.sqrt(2))
    groups = np.r_[np.zeros(80, int), np.ones(120, int)]
    hits = 0
    for _ in range(reps):
        scores = rng.normal(size=200) + delta * groups
        _, (lo, hi), _ = rank_auc(scores, groups)
        hits += lo <= truth <= hi
    # 95% nominal; a binomial count of 400 lies within 3 sd (0.033) of its mean
    assert abs(hits / reps - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)


def test_three_group_interval_covers_the_true_mean_auc():
    rng = np.random.default_rng(4)
    sizes, means, reps = np.array([60, 90, 150]), np.array([0.0, 0.5, -0.4]), 300
    groups = np.repeat(np.arange(3), sizes)
    truth = []
    for g in range(3):  # group g against the mixture of the others, weighted by size
        rest = np.arange(3) != g
        w = sizes[rest] / sizes[rest].sum()
        truth.append(_oriented(float(w @ norm.cdf((means[g] - means[rest]) / np.sqrt(2)))))
    truth = float(np.mean(truth))
    hits = 0
    for _ in range(reps):
        _, (lo, hi), _ = rank_auc(rng.normal(size=300) + means[groups], groups)
        hits += lo <= truth <= hi
    assert abs(hits / reps - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)


def test_rank_auc_refuses_bad_input():
    with pytest.raises(InputError, match="confidence_level"):
        rank_auc([1.0, 2.0], ["a", "b"], confidence_level=1.5)
    with pytest.raises(InputError, match="same length"):
        rank_auc([1.0, 2.0, 3.0], ["a", "b"])


def test_proxy_detection_reports_the_scores_own_auc_on_the_credit_demo():
    case = load_credit(n_samples=4000)
    res = proxy_detection(case.model, case.X_test, case.group_test, random_state=0)
    score = case.model.decision_function(case.X_test)
    want = _oriented(roc_auc_score(case.group_test == "B", score))
    assert res.output_auc == pytest.approx(want, abs=1e-12)
    lo, hi = res.output_auc_interval
    assert lo < res.output_auc < hi
    assert res.to_dict()["output_auc_interval"] == [lo, hi]
