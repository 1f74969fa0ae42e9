"""Group fairness metrics: per-group values and disparities against fairlearn, bootstrap, plots."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
)

from tests._requires import lazy
from tests.evaluate._helpers import assert_round_trip
from whybox._exceptions import InputError
from whybox.fairness._group_metrics import GroupMetrics, group_metrics
from whybox.plots._fairness import disparities as plot_disparities
from whybox.plots._fairness import fairness as plot_fairness

ATOL = 1e-12
# fairlearn is the reference of the tests that compare with it; the others run without it
fm = lazy("fairlearn.metrics")
METRICS = ("count", "selection_rate", "tpr", "fpr", "fnr", "tnr", "accuracy", "precision")


def _metric_functions():
    """Our column -> fairlearn/sklearn metric function."""
    return {
        "count": fm.count,
        "selection_rate": fm.selection_rate,
        "tpr": fm.true_positive_rate,
        "fpr": fm.false_positive_rate,
        "fnr": fm.false_negative_rate,
        "tnr": fm.true_negative_rate,
        "accuracy": accuracy_score,
        "precision": precision_score,
    }


def _base_rate(y_true, y_pred, pos_label=1):
    return float(np.mean(np.asarray(y_true) == pos_label))


def _frame(y_true, y_pred, sf, pos_label=None):
    fns = _metric_functions()
    fns["base_rate"] = _base_rate
    if pos_label is not None:
        for k in ("selection_rate", "tpr", "fpr", "fnr", "tnr", "precision", "base_rate"):
            fns[k] = functools.partial(fns[k], pos_label=pos_label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fm.MetricFrame(metrics=fns, y_true=y_true, y_pred=y_pred, sensitive_features=sf)


def _binary_data(n, seed, groups=("a", "b", "c"), p=(0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    g = rng.choice(np.asarray(groups), size=n, p=p).astype(object)
    shift = pd.Series(np.linspace(-0.15, 0.15, len(groups)), index=list(groups))[g].to_numpy()
    y_true = (rng.random(n) < 0.4 + shift).astype(int)
    y_pred = np.where(rng.random(n) < 0.75 + shift / 2, y_true, 1 - y_true)
    return y_true, y_pred, g


def _assert_by_group(result, mf, index):
    """Every per-group value of ``result`` equals fairlearn's for the same group."""
    ours = result.by_group.copy()
    ours.index = index
    theirs = mf.by_group.dropna(how="all")  # fairlearn lists absent intersections as NaN
    assert sorted(map(str, theirs.index)) == sorted(map(str, ours.index))
    for col in [*METRICS, "base_rate"]:
        a = ours[col].astype(float)
        b = theirs.loc[ours.index, col].astype(float)
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=ATOL, err_msg=col)


# ---------------------------------------------------------------------- vs fairlearn
def test_one_feature_matches_metric_frame():
    y_true, y_pred, g = _binary_data(3000, 0)
    sf = pd.Series(g, name="grp")
    res = group_metrics(y_true, y_pred, sf, n_bootstrap=0)
    mf = _frame(y_true, y_pred, sf)
    _assert_by_group(res, mf, res.group_levels["grp"].to_numpy())
    for col in [*METRICS, "base_rate"]:
        assert res.overall[col] == pytest.approx(float(mf.overall[col]), abs=ATOL)
    np.testing.assert_allclose(res.by_group["share"], res.by_group["count"] / 3000, atol=ATOL)
    assert res.sensitive_names == ("grp",) and res.task == "classification"
    assert res.pos_label == 1 and res.marginals == {} and res.warnings == ()


def test_two_features_intersections_and_marginals_match_metric_frame():
    rng = np.random.default_rng(1)
    n = 4000
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["A", "B", "C"], n)
    race[(sex == "F") & (race == "C")] = "B"  # an intersection absent from the data
    y_true, y_pred, _ = _binary_data(n, 2)
    sf = pd.DataFrame({"sex": sex, "race": race})
    res = group_metrics(y_true, y_pred, sf, n_bootstrap=0)
    assert len(res.by_group) == 5
    assert "sex=F, race=A" in res.by_group.index and "sex=F, race=C" not in res.by_group.index
    mf = _frame(y_true, y_pred, sf)
    index = pd.MultiIndex.from_frame(res.group_levels)
    _assert_by_group(res, mf, index)
    # each feature's marginal groups equal a MetricFrame on that feature alone
    for name in ("sex", "race"):
        mf1 = _frame(y_true, y_pred, sf[name])
        marg = res.marginals[name]
        for col in [*METRICS, "base_rate"]:
            np.testing.assert_allclose(
                marg[col].astype(float), mf1.by_group.loc[marg.index, col].astype(float), atol=ATOL
            )
        dp = fm.demographic_parity_difference(y_true, y_pred, sensitive_features=sf[name])
        got = res.marginal_disparities[name].set_index("metric")
        assert got.loc["demographic_parity", "difference"] == pytest.approx(dp, abs=ATOL)


def test_small_group_matches_and_is_flagged():
    y_true, y_pred, g = _binary_data(2000, 3)
    g[:12] = "tiny"
    y_true[:12] = [1, 0] * 6
    y_pred[:12] = [1, 1, 0, 0] * 3
    res = group_metrics(y_true, y_pred, g, n_bootstrap=0, min_group_size=30)
    mf = _frame(y_true, y_pred, g)
    _assert_by_group(res, mf, res.group_levels["sensitive_feature_0"].to_numpy())
    assert res.by_group.loc["tiny", "small_group"]
    assert not res.by_group.drop("tiny")["small_group"].any()
    assert [w for w in res.warnings if "'tiny'" in w and "12 rows" in w and "unreliable" in w]


def test_string_labels_with_pos_label_match_metric_frame():
    y_true, y_pred, g = _binary_data(2000, 4)
    names = np.array(["deny", "grant"])
    yt, yp = names[y_true], names[y_pred]
    res = group_metrics(yt, yp, g, pos_label="grant", n_bootstrap=0)
    mf = _frame(yt, yp, g, pos_label="grant")
    _assert_by_group(res, mf, res.group_levels.iloc[:, 0].to_numpy())
    with pytest.raises(InputError, match="pos_label"):
        group_metrics(yt, yp, g)  # no default positive label for strings


def test_multiclass_is_pos_label_versus_rest():
    rng = np.random.default_rng(5)
    n = 1500
    g = rng.choice(["a", "b"], n)
    yt = rng.choice(["x", "y", "z"], n)
    yp = np.where(rng.random(n) < 0.7, yt, rng.choice(["x", "y", "z"], n))
    res = group_metrics(yt, yp, g, pos_label="y", n_bootstrap=0)
    mf = _frame((yt == "y").astype(int), (yp == "y").astype(int), g)
    _assert_by_group(res, mf, res.group_levels.iloc[:, 0].to_numpy())
    assert any("3 labels" in w and "versus the rest" in w for w in res.warnings)


@pytest.mark.parametrize("two_features", [False, True])
def test_disparities_equal_fairlearn_functions(two_features):
    y_true, y_pred, g = _binary_data(3000, 6)
    sf = (
        pd.DataFrame({"g": g, "h": np.random.default_rng(7).choice(["u", "v"], 3000)})
        if two_features
        else g
    )
    res = group_metrics(y_true, y_pred, sf, n_bootstrap=0)
    d = res.disparities.set_index("metric")
    kw = {"sensitive_features": sf}
    expected = {
        ("demographic_parity", "difference"): fm.demographic_parity_difference(
            y_true, y_pred, **kw
        ),
        ("demographic_parity", "ratio"): fm.demographic_parity_ratio(y_true, y_pred, **kw),
        ("equal_opportunity", "difference"): fm.equal_opportunity_difference(y_true, y_pred, **kw),
        ("equal_opportunity", "ratio"): fm.equal_opportunity_ratio(y_true, y_pred, **kw),
        ("equalized_odds", "difference"): fm.equalized_odds_difference(y_true, y_pred, **kw),
        ("equalized_odds", "ratio"): fm.equalized_odds_ratio(y_true, y_pred, **kw),
    }
    mf = _frame(y_true, y_pred, sf)
    for ours, col in [("accuracy", "accuracy"), ("fpr", "fpr"), ("fnr", "fnr")]:
        expected[(ours, "difference")] = mf.difference()[col]
        expected[(ours, "ratio")] = mf.ratio()[col]
    expected[("precision", "difference")] = mf.difference()["precision"]
    for (metric, kind), value in expected.items():
        assert d.loc[metric, kind] == pytest.approx(float(value), abs=ATOL), (metric, kind)
    # the groups named are those holding the extreme selection rates
    sr = mf.by_group["selection_rate"].dropna()
    by_levels = {
        tuple(row): name
        for name, row in zip(res.by_group.index, res.group_levels.to_numpy(), strict=True)
    }

    def key(k):
        return k if isinstance(k, tuple) else (k,)

    assert d.loc["demographic_parity", "min_group"] == by_levels[key(sr.idxmin())]
    assert d.loc["demographic_parity", "max_group"] == by_levels[key(sr.idxmax())]
    ff = res.four_fifths
    assert ff["ratio"] == pytest.approx(float(expected[("demographic_parity", "ratio")]), abs=ATOL)
    assert ff["passed"] == (ff["ratio"] >= 0.8) and ff["threshold"] == 0.8
    assert ff["lowest_rate"] == pytest.approx(sr.min(), abs=ATOL)
    assert ff["highest_rate"] == pytest.approx(sr.max(), abs=ATOL)


def test_four_fifths_fails_for_a_low_selection_group():
    rng = np.random.default_rng(8)
    g = np.repeat(["a", "b"], 1000)
    y_pred = np.concatenate([rng.random(1000) < 0.6, rng.random(1000) < 0.3]).astype(int)
    y_true = rng.integers(0, 2, 2000)
    res = group_metrics(y_true, y_pred, g, n_bootstrap=0)
    ff = res.four_fifths
    assert ff["passed"] is False and ff["lowest_group"] == "b" and ff["highest_group"] == "a"
    ratio = fm.demographic_parity_ratio(y_true, y_pred, sensitive_features=g)
    assert ff["ratio"] == pytest.approx(ratio, abs=ATOL) and ratio < 0.8


def test_undefined_cells_are_nan_with_a_note():
    y_true, y_pred, g = _binary_data(1200, 9)
    y_true[g == "c"] = 0  # group c has no positives: TPR and FNR undefined
    y_pred[g == "b"] = 0  # group b has no predicted positives: precision undefined
    res = group_metrics(y_true, y_pred, g, n_bootstrap=50, random_state=0)
    bg = res.by_group
    assert np.isnan(bg.loc["c", "tpr"]) and np.isnan(bg.loc["c", "fnr"])
    assert np.isnan(bg.loc["b", "precision"]) and np.isfinite(bg.loc["a", "precision"])
    assert any("'c'" in w and "no positive rows" in w for w in res.warnings)
    assert any("'b'" in w and "no predicted positives" in w for w in res.warnings)
    # fairlearn reports 0 for these cells; over the groups where they are defined the
    # disparities agree with fairlearn's
    mf = _frame(y_true, y_pred, g)
    defined = mf.by_group.drop("c")
    d = res.disparities.set_index("metric")
    tpr = defined["tpr"]
    assert d.loc["equal_opportunity", "difference"] == pytest.approx(tpr.max() - tpr.min())
    prec = mf.by_group.drop("b")["precision"]
    assert d.loc["precision", "ratio"] == pytest.approx(prec.min() / prec.max(), abs=ATOL)
    eo = max(tpr.max() - tpr.min(), mf.difference()["fpr"])
    assert d.loc["equalized_odds", "difference"] == pytest.approx(eo, abs=ATOL)


def test_probability_metrics_match_groupby():
    y_true, y_pred, g = _binary_data(2000, 10)
    rng = np.random.default_rng(11)
    prob = np.clip(0.5 * y_pred + 0.25 + rng.normal(0, 0.1, 2000), 0, 1)
    res = group_metrics(y_true, y_pred, g, y_prob=prob, n_bootstrap=0)
    df = pd.DataFrame({"g": g, "t": y_true, "p": prob})
    for name, sub in df.groupby("g"):
        row = res.by_group.loc[name]
        assert row["mean_probability"] == pytest.approx(sub["p"].mean(), abs=ATOL)
        assert row["calibration_in_the_large"] == pytest.approx(
            sub["p"].mean() - sub["t"].mean(), abs=ATOL
        )
        assert row["brier"] == pytest.approx(brier_score_loss(sub["t"], sub["p"]), abs=ATOL)
    assert res.overall["brier"] == pytest.approx(brier_score_loss(y_true, prob), abs=ATOL)


# ---------------------------------------------------------------------- regression
def test_regression_metrics_match_pandas_and_sklearn():
    rng = np.random.default_rng(12)
    n = 3000
    g = rng.choice(["p", "q", "r"], n)
    y = rng.normal(5, 2, n)
    f = y + rng.normal(0, 1, n) + (g == "p") * 0.5
    res = group_metrics(y, f, pd.Series(g, name="site"), n_bootstrap=0)
    assert res.task == "regression" and res.four_fifths is None
    df = pd.DataFrame({"g": g, "y": y, "f": f})
    expected = {}
    for name, sub in df.groupby("g"):
        row = res.by_group.loc[name]
        vals = {
            "count": len(sub),
            "mean_prediction": sub["f"].mean(),
            "mean_true": sub["y"].mean(),
            "mean_residual": (sub["f"] - sub["y"]).mean(),
            "mae": mean_absolute_error(sub["y"], sub["f"]),
            "rmse": np.sqrt(mean_squared_error(sub["y"], sub["f"])),
            "r2": r2_score(sub["y"], sub["f"]),
        }
        expected[name] = vals
        for k, v in vals.items():
            assert row[k] == pytest.approx(v, abs=1e-10), (name, k)
    exp = pd.DataFrame(expected).T
    d = res.disparities.set_index("metric")
    for metric in ("mean_prediction", "mae", "mean_residual"):
        assert d.loc[metric, "difference"] == pytest.approx(
            exp[metric].max() - exp[metric].min(), abs=1e-10
        )
        assert d.loc[metric, "max_group"] == exp[metric].astype(float).idxmax()
    assert d.loc["mae", "ratio"] == pytest.approx(exp["mae"].min() / exp["mae"].max())
    assert d.loc["mean_prediction", "ratio"] == pytest.approx(
        exp["mean_prediction"].min() / exp["mean_prediction"].max()
    )
    assert np.isnan(d.loc["mean_residual", "ratio"])  # a ratio of signed biases is undefined
    assert res.overall["r2"] == pytest.approx(r2_score(y, f), abs=1e-10)


def test_regression_constant_target_group_has_nan_r2():
    rng = np.random.default_rng(13)
    g = np.repeat(["a", "b"], 100)
    y = np.where(g == "a", 0.1, rng.normal(size=200))  # constant target in group a
    f = y + rng.normal(0, 0.1, 200)
    res = group_metrics(y, f, g, n_bootstrap=20, random_state=0)
    assert np.isnan(res.by_group.loc["a", "r2"]) and np.isfinite(res.by_group.loc["b", "r2"])
    assert any("'a'" in w and "r2" in w for w in res.warnings)


def test_dict_2d_array_and_categorical_inputs_agree_with_a_dataframe():
    y_true, y_pred, g = _binary_data(900, 25)
    h = np.random.default_rng(26).choice(["u", "v"], 900)
    ref = group_metrics(y_true, y_pred, pd.DataFrame({"g": g, "h": h}), n_bootstrap=0)
    as_dict = group_metrics(y_true, y_pred, {"g": list(g), "h": h}, n_bootstrap=0)
    pd.testing.assert_frame_equal(ref.by_group, as_dict.by_group)
    arr = group_metrics(y_true, y_pred, np.column_stack([g, h]), n_bootstrap=0)
    np.testing.assert_array_equal(arr.by_group.to_numpy(), ref.by_group.to_numpy())
    assert arr.sensitive_names == ("sensitive_feature_0", "sensitive_feature_1")
    # a categorical keeps its category order (unused categories are no group)
    cat = pd.Series(pd.Categorical(g, categories=["c", "b", "a", "z"]), name="g")
    res = group_metrics(y_true, y_pred, cat, n_bootstrap=0)
    assert res.groups == ("c", "b", "a")
    pd.testing.assert_frame_equal(res.by_group.loc[["a", "b", "c"]], ref.marginals["g"])


def test_task_detection():
    rng = np.random.default_rng(14)
    g = rng.choice(["a", "b"], 200)
    y = rng.normal(size=200)
    assert group_metrics(y, y + 0.1, g, n_bootstrap=0).task == "regression"
    yb = rng.integers(0, 2, 200)
    assert group_metrics(yb, yb, g, n_bootstrap=0).task == "classification"
    assert group_metrics(yb, np.ones(200), g, n_bootstrap=0).task == "classification"
    yl = np.where(yb == 1, "yes", "no")
    assert group_metrics(yl, yl, g, pos_label="yes", n_bootstrap=0).task == "classification"
    assert group_metrics(yb.astype(bool), yb.astype(bool), g, n_bootstrap=0).pos_label is True


# ---------------------------------------------------------------------- bootstrap
def test_bootstrap_interval_contains_estimate_and_shrinks_with_n():
    widths = []
    for n in (800, 12800):
        rng = np.random.default_rng(15)
        g = np.repeat(["a", "b"], n // 2)
        y_pred = (rng.random(n) < np.where(g == "a", 0.6, 0.4)).astype(int)
        y_true = rng.integers(0, 2, n)
        res = group_metrics(y_true, y_pred, g, n_bootstrap=300, random_state=0)
        d = res.disparities
        finite = d[["difference_ci_low", "difference_ci_high"]].notna().all(axis=1)
        assert finite.all()
        assert (d["difference_ci_low"] <= d["difference"]).all()
        assert (d["difference"] <= d["difference_ci_high"]).all()
        assert (d["ratio_ci_low"] <= d["ratio"]).all() and (d["ratio"] <= d["ratio_ci_high"]).all()
        dp = d.set_index("metric").loc["demographic_parity"]
        widths.append(dp["difference_ci_high"] - dp["difference_ci_low"])
    # 16 times the rows: the interval of a difference of proportions shrinks about 4 times
    assert widths[1] < widths[0] / 2.5


def test_bootstrap_is_reproducible_from_random_state():
    y_true, y_pred, g = _binary_data(1000, 16)
    a = group_metrics(y_true, y_pred, g, n_bootstrap=100, random_state=3)
    b = group_metrics(y_true, y_pred, g, n_bootstrap=100, random_state=3)
    c = group_metrics(y_true, y_pred, g, n_bootstrap=100, random_state=4)
    pd.testing.assert_frame_equal(a.disparities, b.disparities)
    assert not a.disparities["difference_ci_low"].equals(c.disparities["difference_ci_low"])
    none = group_metrics(y_true, y_pred, g, n_bootstrap=0)
    assert none.disparities["difference_ci_low"].isna().all()


def test_bootstrap_interval_covers_the_true_disparity():
    # Two groups of 300 rows; predictions positive with probability 0.35 in group a and
    # 0.55 in group b, so the true demographic parity difference is 0.20 (ratio 0.35/0.55).
    # Over 200 simulated data sets, a 95% interval should cover the truth ~190 times.
    # If the level is exact the count is Binomial(200, 0.95): sd 3.1 hits, 0.0154 as a
    # share. We accept [0.90, 1], i.e. 0.95 minus 3.2 sds (chance of a false alarm
    # < 0.1%), leaving room for the slight under-coverage of percentile intervals at
    # n=300 (they use the plug-in variance); an interval at a nominal 90% level would
    # sit at the edge and anything narrower (e.g. 80%: ~160 hits) fails clearly.
    truth_d, truth_r = 0.20, 0.35 / 0.55
    hits_d = hits_r = 0
    reps = 200
    rng = np.random.default_rng(17)
    g = np.repeat(["a", "b"], 300)
    p = np.where(g == "a", 0.35, 0.55)
    for rep in range(reps):
        y_pred = (rng.random(600) < p).astype(int)
        y_true = rng.integers(0, 2, 600)
        d = group_metrics(y_true, y_pred, g, n_bootstrap=200, random_state=rep).disparities
        dp = d.set_index("metric").loc["demographic_parity"]
        hits_d += dp["difference_ci_low"] <= truth_d <= dp["difference_ci_high"]
        hits_r += dp["ratio_ci_low"] <= truth_r <= dp["ratio_ci_high"]
    assert 0.90 <= hits_d / reps <= 1.0
    assert 0.90 <= hits_r / reps <= 1.0


def test_bootstrap_spread_is_that_of_a_stratified_row_resample():
    # Resampling n_g rows with replacement inside each group gives a difference of two
    # proportions the variance sum(p_g (1 - p_g) / n_g) (plug-in p_g), and a difference of
    # two means the variance sum(var_g / n_g) (ddof=0). With groups far apart max - min is
    # that difference, nearly normal, so the 95% percentile interval is 2 * 1.96 sds wide.
    # With 4000 resamples each 2.5%/97.5% quantile has an sd of ~0.04 (in sds), so the
    # width has a relative sd of ~1.5% (measured over 20 seeds: mean 0.995, sd 0.0145 of
    # the expected width); we allow 6%, about 4 sds.
    rng = np.random.default_rng(24)
    g = np.repeat(["a", "b"], [600, 900])
    y_pred = (rng.random(1500) < np.where(g == "a", 0.3, 0.6)).astype(int)
    res = group_metrics(rng.integers(0, 2, 1500), y_pred, g, n_bootstrap=4000, random_state=1)
    p = res.by_group["selection_rate"].to_numpy()
    sd = np.sqrt(np.sum(p * (1 - p) / np.array([600, 900])))
    dp = res.disparities.set_index("metric").loc["demographic_parity"]
    width = dp["difference_ci_high"] - dp["difference_ci_low"]
    assert width == pytest.approx(2 * 1.959964 * sd, rel=0.06)

    f = rng.normal(size=1500) * np.where(g == "a", 1.0, 2.0) + 3.0 * (g == "b")
    res = group_metrics(f + 1.0, f, g, n_bootstrap=4000, random_state=2)
    var = pd.Series(f).groupby(g).var(ddof=0).to_numpy()
    sd = np.sqrt(np.sum(var / np.array([600, 900])))
    mp = res.disparities.set_index("metric").loc["mean_prediction"]
    width = mp["difference_ci_high"] - mp["difference_ci_low"]
    assert width == pytest.approx(2 * 1.959964 * sd, rel=0.06)


def test_regression_bootstrap_interval_covers_the_true_gap():
    # Mean predictions N(0, 1) in group a and N(0.3, 1) in group b, 200 rows each: the true
    # difference of mean predictions is 0.3. Same tolerance argument as above.
    hits = 0
    reps = 200
    rng = np.random.default_rng(18)
    g = np.repeat(["a", "b"], 200)
    for rep in range(reps):
        f = rng.normal(size=400) + 0.3 * (g == "b")
        y = f + rng.normal(size=400)
        d = group_metrics(y, f, g, n_bootstrap=200, random_state=rep).disparities
        mp = d.set_index("metric").loc["mean_prediction"]
        hits += mp["difference_ci_low"] <= 0.3 <= mp["difference_ci_high"]
    assert 0.90 <= hits / reps <= 1.0


# ---------------------------------------------------------------------- result object
def test_to_dict_is_json_and_to_frame_is_by_group():
    y_true, y_pred, g = _binary_data(500, 19)
    y_true[g == "c"] = 0
    res = group_metrics(y_true, y_pred, g, n_bootstrap=20, random_state=np.random.default_rng(0))
    assert isinstance(res, GroupMetrics)
    out = json.loads(json.dumps(res.to_dict()))
    assert out["task"] == "classification" and out["pos_label"] == 1
    rec = {r["group"]: r for r in out["by_group"]}
    assert rec["c"]["tpr"] is None  # NaN -> None
    assert rec["a"]["count"] == int(res.by_group.loc["a", "count"])
    assert out["four_fifths"]["passed"] in (True, False)
    assert out["params"]["n_bootstrap"] == 20
    pd.testing.assert_frame_equal(res.to_frame(), res.by_group)
    assert res.groups == tuple(res.by_group.index)


def test_params_reproduce_the_result():
    y_true, y_pred, g = _binary_data(600, 20)
    res = group_metrics(y_true, y_pred, g, n_bootstrap=30, random_state=5, min_group_size=10)
    p = res.params
    again = group_metrics(
        y_true,
        y_pred,
        g,
        task=p["task"],
        pos_label=p["pos_label"],
        n_bootstrap=p["n_bootstrap"],
        confidence_level=p["confidence_level"],
        min_group_size=p["min_group_size"],
        random_state=p["random_state"],
    )
    pd.testing.assert_frame_equal(res.disparities, again.disparities)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sensitive_features": np.array(["a"] * 10)}, "one value"),
        ({"sensitive_features": np.array(["a", "b"] * 4)}, "8 values but y_true has 10"),
        ({"y_pred": np.zeros(9, int)}, "y_pred has 9 values"),
        ({"sensitive_features": np.array(["a", None] * 5, dtype=object)}, "fill them"),
        ({"y_prob": np.linspace(0, 1.2, 10)}, "y_prob must be probabilities in"),
        ({"y_prob": np.full(10, np.nan)}, "y_prob must be probabilities in"),
        ({"pos_label": 7}, "pos_label=7 is not among the labels"),
        ({"n_bootstrap": -1}, "n_bootstrap must be a non-negative integer"),
        ({"n_bootstrap": 2.5}, "n_bootstrap must be a non-negative integer"),
        ({"confidence_level": 1.0}, "confidence_level must be a probability"),
        ({"confidence_level": 0}, "confidence_level must be a probability"),
        ({"min_group_size": -3}, "min_group_size must be a non-negative integer"),
        ({"task": "ranking"}, "task must be None"),
        ({"task": "regression", "y_prob": np.full(10, 0.5)}, "y_prob was given for a regr"),
    ],
)
def test_bad_input_raises_one_sentence(kwargs, match):
    args = {
        "y_true": np.array([0, 1] * 5),
        "y_pred": np.array([1, 1, 0, 0, 1] * 2),
        "sensitive_features": np.array(["a", "b"] * 5),
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=match) as info:
        group_metrics(
            args.pop("y_true"), args.pop("y_pred"), args.pop("sensitive_features"), **args
        )
    msg = str(info.value)
    assert msg.endswith(".") and ". " not in msg.rstrip(".").replace("e.g. ", "")


# ---------------------------------------------------------------------- plots
def test_fairness_plot_bars_equal_the_metrics():
    y_true, y_pred, g = _binary_data(800, 21)
    g[:8] = "tiny"
    y_true[:8] = 0  # no positives in the small group: its TPR is drawn as n/a
    res = group_metrics(y_true, y_pred, g, n_bootstrap=0)
    fig = plot_fairness(res)
    ax = fig.axes[0]
    bars = {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith("bar:")}
    for metric in ("selection_rate", "tpr", "fpr"):
        for group in res.groups:
            value = res.by_group.loc[group, metric]
            if np.isnan(value):
                assert f"bar:{metric}:{group}" not in bars
                assert any(t.get_gid() == f"na:{metric}:{group}" for t in ax.texts)
                continue
            bar = bars[f"bar:{metric}:{group}"]
            assert bar.get_width() == pytest.approx(value, abs=ATOL)
            assert bool(bar.get_hatch()) == bool(res.by_group.loc[group, "small_group"])
    lines = {ln.get_gid(): ln for ln in ax.lines if ln.get_gid()}
    for metric in ("selection_rate", "tpr", "fpr"):
        assert lines[f"overall:{metric}"].get_xdata()[0] == pytest.approx(res.overall[metric])
    assert any("tiny (n=8)" in t.get_text() for t in ax.get_yticklabels())
    with pytest.raises(InputError, match="not per-group metrics"):
        plot_fairness(res, metrics=("nope",))
    with pytest.raises(InputError, match="GroupMetrics"):
        plot_fairness(res.by_group)


def test_regression_fairness_plot_defaults():
    rng = np.random.default_rng(22)
    g = rng.choice(["a", "b"], 300)
    y = rng.normal(5, 1, 300)
    res = group_metrics(y, y + rng.normal(size=300), g, n_bootstrap=0)
    ax = plot_fairness(res, metrics="mae").axes[0]
    for group in res.groups:
        bar = next(p for p in ax.patches if p.get_gid() == f"bar:mae:{group}")
        assert bar.get_width() == pytest.approx(res.by_group.loc[group, "mae"], abs=ATOL)
    ax = plot_disparities(res).axes[0]
    assert not [ln for ln in ax.lines if ln.get_gid() == "four_fifths"]


def test_disparities_plot_bars_whiskers_and_four_fifths():
    rng = np.random.default_rng(23)
    g = np.repeat(["a", "b"], 400)
    y_pred = (rng.random(800) < np.where(g == "a", 0.6, 0.3)).astype(int)
    res = group_metrics(rng.integers(0, 2, 800), y_pred, g, n_bootstrap=100, random_state=0)
    ax = plot_disparities(res).axes[0]
    bars = {p.get_gid(): p for p in ax.patches if p.get_gid()}
    lines = {ln.get_gid(): ln for ln in ax.lines if ln.get_gid()}
    for _, row in res.disparities.iterrows():
        name = row["metric"]
        assert bars[f"difference:{name}"].get_width() == pytest.approx(row["difference"])
        x = lines[f"ci:{name}"].get_xdata()
        assert x[0] == pytest.approx(row["difference_ci_low"])
        assert x[1] == pytest.approx(row["difference_ci_high"])
    assert set(lines["four_fifths"].get_xdata()) == {0.8}
    assert lines["ratio:demographic_parity"].get_xdata()[0] == pytest.approx(
        res.four_fifths["ratio"]
    )
    assert res.four_fifths["passed"] is False
    with pytest.raises(InputError, match="GroupMetrics"):
        plot_disparities(None)


def test_results_round_trip_through_strict_json():
    y_true, y_pred, g = _binary_data(400, 5)
    prob = np.clip(y_pred * 0.6 + 0.2, 0, 1)
    sf = pd.DataFrame({"g": g, "h": np.where(np.arange(400) % 3 == 0, "x", "y")})
    classification = group_metrics(y_true, y_pred, sf, y_prob=prob, n_bootstrap=20)
    back = assert_round_trip(classification)
    assert back.to_dict() == classification.to_dict()  # the audit's JSON form is kept
    rng = np.random.default_rng(1)
    regression = group_metrics(rng.normal(size=200), rng.normal(size=200), g[:200], n_bootstrap=0)
    assert_round_trip(regression)
