"""Proxy detection against planted truths, and the model output's own AUC for a group."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from tests.evaluate._helpers import assert_round_trip
from whybox import InputError, explain
from whybox.datasets import load_credit, make_credit_data
from whybox.fairness import proxy_detection
from whybox.fairness._proxy import predictability, rank_auc


def test_planted_proxy_is_flagged_and_the_control_flags_nothing(credit):
    biased = proxy_detection(
        credit[True].model, credit[True].X_test, credit[True].group_test, random_state=0
    )
    assert biased.flagged == ("zip_region",)
    assert "'zip_region' predicts 'group'" in biased.findings[0]
    # the proxy pushes group B's mean output down, and B's mean output is below A's
    assert biased.table.loc["zip_region", "gap_B"] < 0 < biased.table.loc["zip_region", "gap_A"]
    assert biased.output_gap["B"] < 0
    control = proxy_detection(
        credit[False].model, credit[False].X_test, credit[False].group_test, random_state=0
    )
    assert control.flagged == () and control.findings == ()
    # the proxy is in the control data too (strong), but the model has no use for it
    assert control.table.loc["zip_region", "strength"] > 0.5
    assert control.table.loc["zip_region", "reliance"] < 0.05


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_proxy_verdicts_hold_across_seeds(seed):
    for biased, want in ((True, ("zip_region",)), (False, ())):
        case = load_credit(biased=biased, n_samples=4000, random_state=seed)
        res = proxy_detection(case.model, case.X_test, case.group_test, random_state=seed)
        assert res.flagged == want


def test_gaps_add_up_to_the_groups_output_gap(credit):
    case = credit[True]
    ex = explain(case.model, case.X_test)
    res = proxy_detection(case.model, case.X_test, case.group_test, shap_values=ex)
    out = ex.values[:, :, 0].sum(axis=1) + ex.base_values[:, 0]
    for g in ("A", "B"):
        want = out[case.group_test == g].mean() - out.mean()
        assert res.output_gap[g] == pytest.approx(want, abs=1e-12)
        assert res.table[f"gap_{g}"].sum() == pytest.approx(want, abs=1e-9)  # local accuracy
    share = np.abs(ex.values[:, :, 0]).mean(axis=0)
    np.testing.assert_allclose(
        res.table.loc[list(ex.feature_names), "reliance"], share / share.sum(), atol=1e-12
    )


def test_predictability_of_the_attribute_itself_and_of_noise():
    rng = np.random.default_rng(0)
    g = np.where(rng.random(2000) < 0.4, "x", "y")
    assert (
        predictability((g == "x").astype(float), g, categorical=False, cv=5, random_state=0) == 1.0
    )
    noise = predictability(rng.normal(size=2000), g, categorical=False, cv=5, random_state=0)
    assert abs(noise - 0.5) < 0.05
    # a categorical column whose levels mix the groups in a non-monotone order
    levels = rng.choice(list("pqrs"), 2000)
    g2 = np.where(np.isin(levels, ["p", "s"]), "x", "y")
    assert predictability(levels, g2, categorical=True, cv=5, random_state=0) == 1.0
    three = np.array(["a", "b", "c"] * 400)
    codes = (np.arange(1200) % 3).astype(float)  # the group's own code: fully predictive
    assert predictability(codes, three, categorical=False, cv=5, random_state=0) == 1.0


def test_bad_input(credit):
    case = credit[True]
    with pytest.raises(InputError, match="single value"):
        proxy_detection(case.model, case.X_test, np.repeat("A", len(case.X_test)))
    with pytest.raises(InputError, match="missing values"):
        proxy_detection(case.model, case.X_test, case.group_test.where(case.group_test == "A"))
    with pytest.raises(InputError, match="one group per row"):
        proxy_detection(case.model, case.X_test, case.group_test[:10])
    with pytest.raises(InputError, match="n_samples must be an integer >= 200"):
        make_credit_data(10)


# ---------------------------------------------------------------------- the output's AUC
# the score's own rank AUC with DeLong's interval (#19 item 19)
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


def test_result_round_trips_through_strict_json(credit):
    case = credit[True]
    res = proxy_detection(case.model, case.X_test[:400], case.group_test[:400], random_state=0)
    back = assert_round_trip(res)
    assert back.table.index.name == "feature" and back.flagged == res.flagged
