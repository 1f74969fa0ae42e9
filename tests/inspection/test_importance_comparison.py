"""importance_comparison: MDI, permutation and SHAP importance against their definitions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tests._requires import requires
from tests.inspection._helpers import colour_pipeline
from whybox import InputError
from whybox.inspection._importance_comparison import ImportanceComparison, importance_comparison
from whybox.inspection._permutation_importance import permutation_importance
from whybox.plots._importance_comparison import importance_comparison as plot_comparison


def _data(seed, n=1600, noise=True):
    """One strong continuous feature, three informative features with 2-4 levels
    and, with ``noise``, a random continuous column (as many values as rows)."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n)
    b1, b2 = rng.integers(0, 2, size=(2, n))
    c = rng.integers(0, 4, size=n)
    logit = 1.5 * x0 + 1.2 * b1 - 1.2 * b2 + 0.6 * (c - 1.5)
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    cols = [x0, b1, b2, c] + ([rng.normal(size=n)] if noise else [])
    return np.column_stack(cols).astype(float), y


@pytest.fixture(scope="module")
def noisy():
    X, y = _data(0)
    rf = RandomForestClassifier(n_estimators=40, random_state=0).fit(X[:800], y[:800])
    res = importance_comparison(rf, X[800:], y[800:], scoring="accuracy", random_state=0)
    return rf, X[800:], y[800:], res


def test_random_high_cardinality_column_is_flagged(noisy):
    rf, X, y, res = noisy
    assert isinstance(res, ImportanceComparison)
    # each importance is its definition
    np.testing.assert_array_equal(res.mdi, rf.feature_importances_)
    perm = permutation_importance(rf, X, y, scoring="accuracy", n_repeats=5, random_state=0)
    np.testing.assert_array_equal(res.permutation.importances, perm.importances)
    # the noise column: second by MDI, not above 0 by permutation on held-out rows
    assert np.argsort(-res.mdi)[1] == 4
    assert res.permutation.importances_lower[4] <= 0 <= res.permutation.importances_upper[4]
    assert res.permutation.importances_lower[:4].min() > 0
    assert len(res.warnings) == 1
    assert "'x4'" in res.warnings[0] and "Strobl" in res.warnings[0]
    assert "high cardinality (800 distinct values in 800 rows)" in res.warnings[0]
    assert "mdi" in res.mdi_source.lower() or "impurity" in res.mdi_source


def test_default_score_is_log_loss_for_classifiers_and_r2_for_regressors(noisy):
    rf, X, y, _ = noisy
    shap = np.ones((3, X.shape[1]))
    res = importance_comparison(rf, X, y, n_repeats=2, random_state=0, shap_values=shap)
    want = permutation_importance(rf, X, y, scoring="neg_log_loss", n_repeats=2, random_state=0)
    assert res.permutation.scoring == "neg_log_loss"
    np.testing.assert_array_equal(res.permutation.importances, want.importances)
    lr = LinearRegression().fit(X, y)
    reg = importance_comparison(lr, X, y, n_repeats=2, random_state=0, shap_values=shap)
    assert reg.permutation.scoring == "r2"


@pytest.mark.parametrize("seed", [1, 2])
def test_no_warning_on_clean_data(seed):
    X, y = _data(seed, noise=False)
    rf = RandomForestClassifier(n_estimators=40, random_state=0).fit(X[:800], y[:800])
    res = importance_comparison(rf, X[800:], y[800:], random_state=0)
    assert res.warnings == ()
    Xn, yn = _data(seed)
    rfn = RandomForestClassifier(n_estimators=40, random_state=0).fit(Xn[:800], yn[:800])
    assert len(importance_comparison(rfn, Xn[800:], yn[800:], random_state=0).warnings) == 1


def test_id_like_column_is_named_as_such():
    rng = np.random.default_rng(3)
    X, y = _data(3)
    X[:, 4] = rng.permutation(len(y))  # a row number: distinct integers
    rf = RandomForestClassifier(n_estimators=40, random_state=0).fit(X[:800], y[:800])
    res = importance_comparison(rf, X[800:], y[800:], random_state=0)
    assert any("identifier" in w and "'x4'" in w for w in res.warnings)


def test_shap_is_mean_absolute_shap_of_the_shap_library():
    shap = requires("shap")
    X, y = _data(4, n=950)
    rf = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(X[:800], y[:800])
    Xt, yt = X[800:], y[800:]  # 150 rows: all explained
    res = importance_comparison(rf, Xt, yt, random_state=0)
    sv = np.asarray(shap.TreeExplainer(rf).shap_values(Xt))
    sv1 = sv[:, :, 1] if sv.ndim == 3 and sv.shape[2] == 2 else sv[1]  # the positive class
    np.testing.assert_allclose(res.shap, np.abs(sv1).mean(axis=0), rtol=1e-9, atol=1e-12)
    assert res.shap_source == "tree_path_dependent"
    assert res.params["shap_output_space"] == "probability"
    # given values are used as they are, in X's column order
    given = importance_comparison(rf, Xt, yt, random_state=0, shap_values=sv1)
    np.testing.assert_allclose(given.shap, res.shap, rtol=1e-12)
    assert given.shap_source == "given"


def test_rank_correlation_and_frame(noisy):
    *_, res = noisy
    mean = res.permutation.importances_mean
    for key, (a, b) in {
        "mdi vs permutation": (res.mdi, mean),
        "mdi vs shap": (res.mdi, res.shap),
        "permutation vs shap": (mean, res.shap),
    }.items():
        expected = np.corrcoef(stats.rankdata(a), stats.rankdata(b))[0, 1]
        assert res.rank_correlation[key] == pytest.approx(expected, abs=1e-12)
    frame = res.to_frame()
    assert list(frame.index) == [res.feature_names[i] for i in np.argsort(-mean, kind="stable")]
    for col in ("mdi", "shap"):
        assert frame[col].sum() == pytest.approx(1.0)
    assert frame["permutation"].clip(lower=0).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(frame.loc["x0", "mdi_raw"], res.mdi[0])
    scale = np.clip(mean, 0, None).sum()
    assert frame.loc["x0", "permutation_lower"] == pytest.approx(
        res.permutation.importances_lower[0] / scale
    )
    json.dumps(res.to_dict(), allow_nan=False)


def test_pipelines_map_mdi_to_the_input_columns():
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (df["a"] + 0.3 * df["c"] > 0).astype(int)
    scaled = Pipeline([("s", StandardScaler()), ("rf", RandomForestClassifier(10, random_state=0))])
    scaled.fit(df[:200], y[:200])
    res = importance_comparison(scaled, df[200:], y[200:], random_state=0)
    np.testing.assert_array_equal(res.mdi, scaled[-1].feature_importances_)
    # a ColumnTransformer that reorders the columns: MDI goes back to the input's order
    reorder = ColumnTransformer([("p", "passthrough", ["c", "a", "b"])])
    pipe = Pipeline([("ct", reorder), ("rf", RandomForestClassifier(10, random_state=0))])
    pipe.fit(df[:200], y[:200])
    res = importance_comparison(pipe, df[200:], y[200:], random_state=0)
    fi = pipe[-1].feature_importances_  # in the order c, a, b
    np.testing.assert_array_equal(res.mdi, fi[[1, 2, 0]])
    assert res.feature_names == ("a", "b", "c")


def test_models_without_mdi():
    pipe, df, y, rng = colour_pipeline(6, 300, ["r", "g", "b"], ["x", "z"], n_trees=10)
    res = importance_comparison(pipe, df, y, random_state=0, n_repeats=2)
    assert res.mdi is None and "turn 3 columns into 4" in res.mdi_source
    # the dropped column "z": no permutation importance and no SHAP value
    assert res.permutation.importances_mean[2] == 0.0
    assert res.shap[2] < 1e-12  # zero up to the rounding of the SHAP solve
    assert res.shap[0] > 0 and res.shap[1] > 0
    assert res.warnings == ()
    assert "mdi vs shap" not in res.rank_correlation
    X = rng.normal(size=(200, 3))
    hgb = HistGradientBoostingClassifier(max_iter=10).fit(X, X[:, 0] > 0)
    res = importance_comparison(hgb, X, X[:, 0] > 0, random_state=0, n_repeats=2)
    assert res.mdi is None and "no feature_importances_" in res.mdi_source
    assert res.to_frame()["mdi"].isna().all()


def test_plot_bars_are_the_shares(noisy):
    *_, res = noisy
    fig = plot_comparison(res, max_display=3)
    ax = fig.axes[0]
    bars = {p.get_gid(): p for p in ax.patches if p.get_gid()}
    s = res.shares()
    top = np.argsort(-res.permutation.importances_mean, kind="stable")[:3]
    assert len(bars) == 9
    for i in top:
        name = res.feature_names[i]
        for kind in ("mdi", "permutation", "shap"):
            assert bars[f"bar:{kind}:{name}"].get_width() == pytest.approx(s[kind][i])
        ci = next(ln for ln in ax.lines if ln.get_gid() == f"ci:{name}")
        np.testing.assert_allclose(
            ci.get_xdata(), [s["permutation_lower"][i], s["permutation_upper"][i]]
        )
    title = ax.get_title(loc="left")
    assert "2 not shown" in title and "Warning: 'x4'" in title


def test_bad_input(noisy):
    rf, X, y, _ = noisy
    with pytest.raises(InputError, match="shap_values"):
        importance_comparison(rf, X, y, shap_values=np.ones((len(y), 3)))
    with pytest.raises(InputError, match="n_repeats"):
        importance_comparison(rf, X, y, n_repeats=0)
    with pytest.raises(InputError, match="ImportanceComparison"):
        plot_comparison(permutation_importance(LinearRegression().fit(X, y), X, y))
    with pytest.raises(InputError, match="max_display"):
        plot_comparison(noisy[3], max_display=0)


def test_a_given_permutation_importance_is_used_as_it_is(noisy):
    rf, X, y, res = noisy
    perm = permutation_importance(rf, X, y, scoring="accuracy", n_repeats=5, random_state=0)
    shap = np.abs(np.random.default_rng(0).normal(size=(10, X.shape[1])))
    given = importance_comparison(rf, X, y, permutation=perm, shap_values=shap)
    assert given.permutation is perm
    assert given.warnings == res.warnings  # the same permutations: the same verdict
    np.testing.assert_array_equal(given.shap, shap.mean(axis=0))
    assert given.params["permutation"] == "given"
    grouped = permutation_importance(
        rf, X, y, n_repeats=2, random_state=0, feature_groups={"pair": [0, 1]}
    )
    with pytest.raises(InputError, match="permutation must be a PermutationImportance"):
        importance_comparison(rf, X, y, permutation=grouped, shap_values=shap)
