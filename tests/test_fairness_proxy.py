"""Proxy detection, flip test and reason codes against planted truths and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from whybox import InputError, explain
from whybox.datasets import load_credit, make_credit_data
from whybox.fairness import flip_test, proxy_detection, reason_codes
from whybox.fairness._proxy import predictability


@pytest.fixture(scope="module")
def credit():
    return {b: load_credit(biased=b, n_samples=4000) for b in (True, False)}


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


def test_flip_test_counts_changed_decisions_by_brute_force():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"score": rng.normal(size=500), "sex": rng.choice(["F", "M"], 500)})
    y = ((X.score + 0.8 * (X.sex == "M")) > 0.4).astype(int)
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["sex"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(X, y)
    res = flip_test(model, X, "sex")
    flipped = X.assign(sex=np.where(X.sex == "F", "M", "F"))
    changed = model.predict(flipped) != model.predict(X)
    assert res.overall == pytest.approx(changed.mean(), abs=1e-15)
    f = (X.sex == "F").to_numpy()
    assert res.flip_rate.loc["F", "M"] == pytest.approx(changed[f].mean(), abs=1e-15)
    assert res.flip_rate.loc["M", "F"] == pytest.approx(changed[~f].mean(), abs=1e-15)
    assert np.isnan(res.flip_rate.loc["F", "F"])
    np.testing.assert_array_equal(res.changed_rows, np.flatnonzero(changed))
    assert res.overall > 0.1  # the model uses sex directly


def test_flip_test_regression_and_a_model_that_ignores_the_attribute():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=300), rng.integers(0, 2, 300)])
    y = 2 * X[:, 0] + 3 * X[:, 1]
    reg = flip_test(LinearRegression().fit(X, y), X, 1)
    np.testing.assert_allclose(reg.flip_rate.to_numpy()[[0, 1], [1, 0]], 3.0, atol=1e-9)
    assert reg.overall == pytest.approx(3.0, abs=1e-9)
    blind = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[:, :1], (y > 0))
    res = flip_test(lambda A: blind.predict_proba(np.asarray(A)[:, :1])[:, 1], X, 1)
    assert res.overall == 0.0


def test_reason_codes_of_a_logistic_model_in_closed_form():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(400, 5)), columns=list("abcde"))
    y = (X @ [1.5, -1.0, 0.5, 0.0, 2.0] + rng.logistic(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    ex = explain(model, X, background=X)
    denied = np.flatnonzero(model.predict(X) == 0)[:10]
    codes = reason_codes(ex, rows=denied, top_k=3)
    # linear SHAP: phi_j = coef_j * (x_j - mean x_j); reasons = the 3 most negative
    phi = model.coef_[0] * (X.to_numpy() - X.to_numpy().mean(axis=0))
    for r in denied:
        got = codes.table[codes.table.row == r]
        neg = [j for j in np.argsort(phi[r]) if phi[r, j] < 0][:3]
        assert got.feature.tolist() == [X.columns[j] for j in neg]
        np.testing.assert_allclose(got.shap_value, phi[r, neg], atol=1e-9)
        assert got["rank"].tolist() == list(range(1, len(neg) + 1))
    sentence = codes.for_row(int(denied[0]))[0]
    assert "lowered the score for '1'" in sentence and "(raw)" in sentence


def test_bad_input(credit):
    case = credit[True]
    with pytest.raises(InputError, match="single value"):
        proxy_detection(case.model, case.X_test, np.repeat("A", len(case.X_test)))
    with pytest.raises(InputError, match="missing values"):
        proxy_detection(case.model, case.X_test, case.group_test.where(case.group_test == "A"))
    with pytest.raises(InputError, match="one group per row"):
        proxy_detection(case.model, case.X_test, case.group_test[:10])
    with pytest.raises(InputError, match="not a column of X"):
        flip_test(case.model, case.X_test, "group")
    with pytest.raises(InputError, match="too many for a sensitive attribute"):
        flip_test(case.model, case.X_test, "income")
    ex = explain(case.model, case.X_test[:20])
    with pytest.raises(InputError, match="top_k must be an integer in 1..8"):
        reason_codes(ex, top_k=9)
    with pytest.raises(InputError, match="rows must be positions"):
        reason_codes(ex, rows=[25])
    with pytest.raises(InputError, match="n_samples must be an integer >= 200"):
        make_credit_data(10)
