"""Counterfactual explanations and recourse: closed forms, brute force, properties, DiCE."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from tests._requires import requires
from whybox._exceptions import InputError, UnsupportedModelError
from whybox.counterfactuals import CounterfactualExplainer, Counterfactuals, Recourse
from whybox.counterfactuals._constraints import _same
from whybox.counterfactuals._recourse import action_sentence
from whybox.counterfactuals._search import Target, sparsify


def mad(X: np.ndarray) -> np.ndarray:
    """The MAD of each column, computed here independently of whybox."""
    return np.median(np.abs(X - np.median(X, axis=0)), axis=0)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def linear_case():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)) * [1.0, 2.0, 0.5, 1.0]
    y = (X @ np.array([1.0, -0.8, 1.5, 0.0]) + 0.3 * rng.normal(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    return model, X


def closed_form_cost(model, x, scale, costs=None):
    """min over features of the weighted change that puts x on the decision boundary.

    Minimising sum_j w_j |d_j| subject to beta . d = -margin is a linear programme
    whose optimum is a vertex: one feature, the one with the smallest w_j / |beta_j|.
    """
    beta = model.coef_[0]
    margin = float(x @ beta + model.intercept_[0])
    w = 1.0 / scale if costs is None else costs
    with np.errstate(divide="ignore"):
        per_feature = np.where(beta != 0, w * abs(margin) / np.abs(beta), np.inf)
    return per_feature.min(), int(per_feature.argmin()), margin


# ---------------------------------------------------------------------- closed forms
def test_logistic_closed_form_single_feature_flip(linear_case):
    model, X = linear_case
    scale = mad(X)
    rows = X[:4]
    ex = CounterfactualExplainer(model, X, random_state=0)
    res = ex(rows, n_counterfactuals=3)
    for i, x in enumerate(rows):
        best, j, _ = closed_form_cost(model, x, scale)
        cf = res.counterfactuals[i]
        assert res.status[i] in ("found", "partial") and len(cf) >= 1
        Z = cf[list(res.feature_names)].to_numpy(np.float64)
        # every returned row is valid (checked with scikit-learn itself)
        assert np.all(model.predict(Z) != model.predict(x[None, :])[0])
        cost = (np.abs(Z - x) / scale).sum(axis=1)
        # no valid row can beat the linear programme's optimum
        assert cost.min() >= best * (1 - 1e-9)
        # the genetic search reaches it within 1%, changing that feature only
        assert cost.min() <= best * 1.01 + 1e-9
        k = int(cost.argmin())
        assert np.flatnonzero(Z[k] != x).tolist() == [j]


def test_recourse_with_costs_matches_closed_form(linear_case):
    model, X = linear_case
    costs = np.array([3.0, 0.5, 1.0, 2.0])
    ex = CounterfactualExplainer(model, X, random_state=1)
    x = X[7]
    best, j, margin = closed_form_cost(model, x, None, costs)
    rec = ex.recourse(x, costs={f"x{i}": c for i, c in enumerate(costs)})
    assert isinstance(rec, Recourse) and rec.status == "found"
    z = rec.counterfactual.to_numpy(np.float64)
    assert model.predict(z[None, :])[0] != model.predict(x[None, :])[0]
    assert rec.cost == pytest.approx(float((costs * np.abs(z - x)).sum()), rel=1e-12)
    assert best * (1 - 1e-9) <= rec.cost <= best * 1.01
    assert rec.changes["feature"].tolist() == [f"x{j}"]
    verb = "increase" if z[j] > x[j] else "decrease"
    assert rec.actions[0].startswith(f"{verb} x{j} from ")
    json.dumps(rec.to_dict())


def test_action_sentences():
    assert action_sentence("income", 32000.0, 41500.0, False) == (
        "increase income from 32,000 to 41,500"
    )
    assert action_sentence("debt", 1.5, 0.25, False) == "decrease debt from 1.5 to 0.25"
    assert action_sentence("job", "clerk", "manager", True) == (
        "change job from 'clerk' to 'manager'"
    )


def _thresholds(model) -> list[np.ndarray]:
    """Per feature, every split threshold, read from scikit-learn's tree arrays."""
    trees = [model] if hasattr(model, "tree_") else [e for e in np.ravel(model.estimators_)]
    out = [[] for _ in range(model.n_features_in_)]
    for t in trees:
        tr = t.tree_
        for f, th in zip(tr.feature, tr.threshold, strict=True):
            if f >= 0:
                out[f].append(th)
    return [np.unique(v) for v in out]


def _brute_force_tree(model, X, x, scale):
    """The exact cheapest (MAD-scaled L1) valid point, over every region of 2 features.

    Regions of a tree model on two features are rectangles; the cheapest point of a
    rectangle is the projection of x, whose coordinates are x's own or a region edge.
    Edges are taken 1e-7 (relative) inside each side of every threshold.
    """
    lo, hi = X.min(axis=0), X.max(axis=0)
    axes = []
    for j, t in enumerate(_thresholds(model)):
        eps = 1e-7 * (1 + np.abs(t))
        v = np.concatenate([[x[j]], t - eps, t + eps])
        axes.append(v[(v >= lo[j]) & (v <= hi[j])])
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(axes), -1).T
    valid = model.predict(grid) != model.predict(x[None, :])[0]
    cost = (np.abs(grid - x) / scale).sum(axis=1)
    return cost[valid].min()


@pytest.mark.parametrize("kind", ["tree", "boosting"])
def test_tree_path_exact_against_brute_force(kind):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    y = ((X[:, 0] + X[:, 1] ** 2 > 0.5) ^ (X[:, 0] * X[:, 1] > 0.3)).astype(int)
    if kind == "tree":
        model = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, y)
    else:
        model = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(X, y)
    scale = mad(X)
    tree = CounterfactualExplainer(model, X, random_state=0, plausibility=None)
    genetic = CounterfactualExplainer(model, X, random_state=0, plausibility=None, method="genetic")
    assert tree.method == "tree" and genetic.method == "genetic"
    for x in X[:3]:
        truth = _brute_force_tree(model, X, x, scale)
        got = tree.recourse(x).cost  # costs=None: one per MAD, the same objective
        assert got == pytest.approx(truth, rel=1e-5, abs=1e-6)
        # the genetic search comes within 5% of the exact optimum
        g = genetic.recourse(x).cost
        assert truth * (1 - 1e-5) - 1e-6 <= g <= truth * 1.05 + 1e-6


# ---------------------------------------------------------------------- properties
def _check_constraints(res, X_rows, model, *, immutable, ranges, monotone, integer):
    names = list(res.feature_names)
    for i, x in enumerate(X_rows):
        cf = res.counterfactuals[i]
        status = res.status[i]
        assert status in ("found", "partial") or status.startswith("not found: ")
        if len(cf) == 0:
            continue
        Z = cf[names].to_numpy(np.float64)
        pred = model.predict(Z)
        assert np.all(pred != model.predict(x[None, :])[0])  # validity: a real model call
        assert np.array_equal(pred, cf["prediction"].to_numpy())
        assert res.metrics["validity"][i] == 1.0
        for j in immutable:
            assert np.all(Z[:, j] == x[j])
        for j, (lo, hi) in ranges.items():
            assert np.all((Z[:, j] >= lo) & (Z[:, j] <= hi))
        for j, d in monotone.items():
            assert np.all(Z[:, j] >= x[j]) if d == "increase" else np.all(Z[:, j] <= x[j])
        for j in integer:
            changed = Z[:, j] != x[j]
            assert np.all(Z[changed, j] == np.round(Z[changed, j]))
        assert len(np.unique(Z, axis=0)) == len(Z)  # distinct
        assert np.all((Z != x).any(axis=1))


@pytest.fixture(scope="module")
def small_case():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 5))
    X[:, 4] = rng.integers(0, 6, size=200)  # an integer column (auto-detected)
    y = (X @ np.array([1.0, -1.0, 0.7, 0.5, 0.4]) - 0.8 + 0.2 * rng.normal(size=200) > 0).astype(
        int
    )
    return LogisticRegression().fit(X, y), X


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    roles=st.lists(
        st.sampled_from(["free", "immutable", "range", "up", "down"]), min_size=4, max_size=4
    ),  # fmt: skip
    width=st.floats(0.2, 2.0),
    shift=st.floats(-1.5, 1.5),
    integer_x3=st.booleans(),
)
def test_validity_and_constraints_property(small_case, roles, width, shift, integer_x3):
    model, X = small_case
    immutable = [j for j, r in enumerate(roles) if r == "immutable"]
    ranges = {j: (shift - width, shift + width) for j, r in enumerate(roles) if r == "range"}
    monotone = {j: ("increase" if r == "up" else "decrease") for j, r in enumerate(roles)
                if r in ("up", "down")}  # fmt: skip
    integer = [4] + ([3] if integer_x3 and roles[3] not in ("range",) else [])
    ex = CounterfactualExplainer(
        model,
        X,
        immutable=immutable,
        ranges={f"x{j}": r for j, r in ranges.items()},
        monotone={f"x{j}": d for j, d in monotone.items()},
        integer=["x3"] if 3 in integer else None,
        plausibility=None,
        random_state=0,
    )
    rows = X[:3]
    res = ex(rows, n_counterfactuals=3, max_evals=3000)
    _check_constraints(
        res, rows, model, immutable=immutable, ranges=ranges, monotone=monotone, integer=integer
    )


def test_sparsify_never_adds_changes_and_keeps_validity(small_case):
    model, X = small_case
    ex = CounterfactualExplainer(model, X, plausibility=None)
    x = ex.space.encode(X[:1])[0]
    rs = ex.space.row_space(x)
    label = int(model.predict(X[:1])[0])
    t = Target(ex.model, ex.space, class_index=1 - label)
    rng = np.random.default_rng(0)
    Z = x + rng.normal(size=(400, 5)) * 2.0
    Z[:, 4] = np.round(Z[:, 4])
    ex.space.project(Z, rs)
    Z = Z[t(Z)[0]]
    assert len(Z) > 10
    S = sparsify(ex.space, rs, Z, t)
    before = (~_same(Z, x)).sum(axis=1)
    after = (~_same(S, x)).sum(axis=1)
    assert np.all(after <= before) and np.any(after < before)
    assert np.all(model.predict(S) == 1 - label)


def test_deterministic_with_seed(linear_case):
    model, X = linear_case
    a = CounterfactualExplainer(model, X, random_state=4)(X[:2])
    b = CounterfactualExplainer(model, X, random_state=4)(X[:2])
    for fa, fb in zip(a.counterfactuals, b.counterfactuals, strict=True):
        pd.testing.assert_frame_equal(fa, fb)


# ---------------------------------------------------------------------- infeasible
def test_infeasible_constraints_give_not_found_with_reason(linear_case):
    model, X = linear_case
    x = X[:1].copy()
    x[0, 0] = 1.0
    ex = CounterfactualExplainer(model, X, monotone={"x0": "increase"}, ranges={"x0": (-3.0, 0.0)})
    res = ex(x)
    assert res.status[0].startswith("not found: ") and "'x0'" in res.status[0]
    assert "below" in res.status[0]
    assert len(res.counterfactuals[0]) == 0 and np.isnan(res.metrics["validity"][0])
    # only a feature the model ignores may change: nothing can flip the decision
    ex = CounterfactualExplainer(model, X, immutable=["x0", "x1", "x2"])
    res = ex(X[:1], max_evals=1000)
    assert res.status[0].startswith("not found: no counterfactual found within the budget")


def test_already_desired_row(linear_case):
    model, X = linear_case
    label = model.predict(X[:1])[0]
    res = CounterfactualExplainer(model, X)(X[:1], desired_class=label)
    assert res.status[0].startswith("not found: the model already")


# ---------------------------------------------------------------------- tasks
def test_regression_desired_range_closed_form():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3)) * [1.0, 3.0, 0.5]
    y = X @ np.array([2.0, 1.0, -4.0]) + 1.0
    model = LinearRegression().fit(X, y)
    scale = mad(X)
    ex = CounterfactualExplainer(model, X, random_state=0)
    x = X[:2]
    pred = model.predict(x)
    lo, hi = pred[0] + 2.0, pred[0] + 4.0
    res = ex(x[:1], desired_range=(lo, hi), n_counterfactuals=3)
    Z = res.counterfactuals[0][list(res.feature_names)].to_numpy(np.float64)
    out = model.predict(Z)
    assert np.all((out >= lo) & (out <= hi))
    np.testing.assert_allclose(res.counterfactuals[0]["prediction"], out)
    cost = (np.abs(Z - x[0]) / scale).sum(axis=1)
    best = (2.0 / (np.abs(model.coef_) * scale)).min()  # reach the low end, one feature
    assert best * (1 - 1e-9) <= cost.min() <= best * 1.01
    with pytest.raises(InputError, match="desired_range is required"):
        ex(x)
    with pytest.raises(InputError, match="low <= high"):
        ex(x, desired_range=(3.0, 1.0))


def test_multiclass_desired_class():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)), axis=1)
    model = LogisticRegression().fit(X, y)
    ex = CounterfactualExplainer(model, X, random_state=0)
    rows = X[model.predict(X) != 2][:2]
    res = ex(rows, desired_class=2, n_counterfactuals=2)
    for cf in res.counterfactuals:
        assert len(cf) >= 1
        Z = cf[list(res.feature_names)].to_numpy(np.float64)
        assert np.all(model.predict(Z) == 2)
        np.testing.assert_allclose(cf["probability"], model.predict_proba(Z)[:, 2])
    with pytest.raises(InputError, match=r"binary classifier.*\[0, 1, 2\]"):
        ex(rows)
    with pytest.raises(InputError, match=r"not a class of the model.*\[0, 1, 2\]"):
        ex(rows, desired_class=7)


def test_pandas_categorical_pipeline():
    rng = np.random.default_rng(6)
    n = 300
    frame = pd.DataFrame(
        {
            "income": rng.normal(40_000, 10_000, n).round(),
            "age": rng.integers(20, 70, n).astype(float),
            "job": pd.Categorical(rng.choice(["clerk", "manager", "owner"], n)),
            "city": rng.choice(["north", "south"], n),
        }
    )
    score = (frame["income"] - 40_000) / 10_000 + (frame["job"] == "manager") * 1.5 - 0.5
    y = (score + 0.3 * rng.normal(size=n) > 0).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["income", "age"]), ("cat", OneHotEncoder(), ["job", "city"])]
    )
    model = make_pipeline(pre, LogisticRegression()).fit(frame, y)
    with pytest.raises(UnsupportedModelError):
        CounterfactualExplainer(model, frame, method="tree")
    ex = CounterfactualExplainer(
        model,
        frame,
        immutable=["city"],
        monotone={"age": "increase"},
        ranges={"job": ["clerk", "manager"]},
        random_state=0,
    )
    rows = frame[model.predict(frame) == 0].iloc[:2]
    res = ex(rows, n_counterfactuals=3)
    for i, cf in enumerate(res.counterfactuals):
        assert res.status[i] in ("found", "partial")
        feats = cf[list(res.feature_names)]
        assert np.all(model.predict(feats) == 1)  # the pipeline itself
        assert set(feats["job"]) <= {"clerk", "manager"}
        assert np.all(feats["city"] == rows["city"].iloc[i])
        assert np.all(feats["age"] >= rows["age"].iloc[i])
        assert np.all(feats["age"] == np.round(feats["age"]))  # auto-detected integer
    assert res.params["categorical"] == ["job", "city"]
    tidy = res.to_frame()
    assert list(tidy.columns) == ["row", "cf", "feature", "original", "new"]
    assert "city" not in set(tidy["feature"])
    json.dumps(res.to_dict())


# ---------------------------------------------------------------------- metrics
def test_metrics_and_tidy_frame_against_recomputation(linear_case):
    model, X = linear_case
    scale = mad(X)
    ex = CounterfactualExplainer(model, X, n_neighbors=4, random_state=0)
    res = ex(X[:2], n_counterfactuals=3)
    assert isinstance(res, Counterfactuals)
    desired_rows_cache = {}
    tidy = res.to_frame()
    for i in range(2):
        cf = res.counterfactuals[i]
        Z = cf[list(res.feature_names)].to_numpy(np.float64)
        x = X[i]
        dist = (np.abs(Z - x) / scale).sum(axis=1)
        changed = (Z != x).sum(axis=1)
        m = res.metrics.iloc[i]
        assert m["proximity_continuous"] == pytest.approx(dist.mean())
        assert m["proximity_categorical"] == 0.0
        assert m["sparsity"] == pytest.approx(changed.mean())
        pair = [
            (np.abs(Z[a] - Z[b]) / scale).sum() for a in range(len(Z)) for b in range(a + 1, len(Z))
        ]
        assert m["diversity"] == pytest.approx(np.mean(pair))
        for k in range(len(Z)):
            lines = tidy[(tidy["row"] == i) & (tidy["cf"] == k)]
            assert len(lines) == changed[k]
            for _, line in lines.iterrows():
                j = int(line["feature"][1:])
                assert line["original"] == x[j] and line["new"] == Z[k, j]
        # plausibility against scikit-learn's nearest neighbours (manhattan on X / MAD)
        desired = 1 - model.predict(x[None, :])[0]
        if desired not in desired_rows_cache:
            ref = X[model.predict(X) == desired] / scale
            nn = NearestNeighbors(n_neighbors=5, metric="manhattan").fit(ref)
            own = nn.kneighbors(ref)[0][:, 1:].mean(axis=1)  # leave itself out
            desired_rows_cache[desired] = (nn, np.median(own), np.quantile(own, 0.95))
        nn, typical, cut = desired_rows_cache[desired]
        knn = nn.kneighbors(Z / scale, n_neighbors=4)[0].mean(axis=1)
        got = res.details[res.details["row"] == i]
        np.testing.assert_allclose(got["plausibility"], knn / typical, rtol=1e-9)
        assert got["implausible"].tolist() == (knn > cut).tolist()
    d = json.loads(json.dumps(res.to_dict()))
    assert d["status"] == list(res.status) and len(d["counterfactuals"][0]["data"]) == 3


# ---------------------------------------------------------------------- errors
def test_errors(linear_case):
    model, X = linear_case
    with pytest.raises(InputError, match=r"'x9'.*did you mean"):
        CounterfactualExplainer(model, X, immutable=["x9"])
    with pytest.raises(InputError, match="both immutable and in ranges"):
        CounterfactualExplainer(model, X, immutable=["x0"], ranges={"x0": (0, 1)})
    with pytest.raises(InputError, match="both immutable and in monotone"):
        CounterfactualExplainer(model, X, immutable=["x0"], monotone={"x0": "increase"})
    with pytest.raises(InputError, match="low <= high"):
        CounterfactualExplainer(model, X, ranges={"x1": (2, 1)})
    with pytest.raises(InputError, match="'increase' or 'decrease'"):
        CounterfactualExplainer(model, X, monotone={"x1": "up"})
    with pytest.raises(InputError, match="every feature"):
        CounterfactualExplainer(model, X, immutable=["x0", "x1", "x2", "x3"])
    with pytest.raises(InputError, match="method must be one of"):
        CounterfactualExplainer(model, X, method="dice")
    with pytest.raises(UnsupportedModelError):
        CounterfactualExplainer(model, X, method="tree")
    ex = CounterfactualExplainer(model, X, immutable=["x3"])
    with pytest.raises(InputError, match="n_counterfactuals"):
        ex(X[:1], n_counterfactuals=0)
    with pytest.raises(InputError, match="desired_range is for regressors"):
        ex(X[:1], desired_range=(0, 1))
    with pytest.raises(InputError, match="immutable feature 'x3'"):
        ex.recourse(X[0], costs={"x3": 1.0})
    with pytest.raises(InputError, match="positive finite"):
        ex.recourse(X[0], costs={"x1": -1.0})
    with pytest.raises(InputError, match="one row"):
        ex.recourse(X[:2])


# ---------------------------------------------------------------------- plot
def test_plot_gids(linear_case):
    from whybox.plots._counterfactuals import counterfactuals as plot

    model, X = linear_case
    res = CounterfactualExplainer(model, X, random_state=0)(X[:1], n_counterfactuals=3)
    fig = plot(res, row=0)
    gids = {a.get_gid() for a in fig.axes[0].get_children() if a.get_gid()}
    gids |= {t.get_gid() for t in fig.axes[0].texts if t.get_gid()}
    tidy = res.to_frame()
    cells = {f"cell:{k}:{f}" for k, f in zip(tidy["cf"], tidy["feature"], strict=True)}
    assert cells == {g for g in gids if g.startswith("cell:")}
    assert {f"original:{f}" for f in tidy["feature"]} <= gids
    with pytest.raises(InputError, match="row must be"):
        plot(res, row=3)
    x = X[:1].copy()
    x[0, 0] = 1.0
    none = CounterfactualExplainer(
        model, X, monotone={"x0": "increase"}, ranges={"x0": (-3.0, 0.0)}
    )(x)
    fig = plot(none)
    assert any(t.get_gid() == "status" for t in fig.axes[0].texts)


# ---------------------------------------------------------------------- DiCE
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # DiCE 0.12 on pandas 3
def test_dice_reference_both_valid():
    """DiCE (random) and whybox on one model: both valid, metrics computed alike."""
    dice_ml = requires("dice_ml")
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    X = data.data.iloc[:, :6]
    model = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(
        X, data.target
    )
    rows = X.iloc[:2]
    frame = X.assign(target=data.target)
    dice = dice_ml.Dice(
        dice_ml.Data(dataframe=frame, continuous_features=list(X.columns), outcome_name="target"),
        dice_ml.Model(model=model, backend="sklearn"),
        method="random",
    )
    out = dice.generate_counterfactuals(
        rows, total_CFs=2, desired_class="opposite", random_seed=0, verbose=False
    )
    ours = CounterfactualExplainer(model, X, random_state=0, plausibility=None)(
        rows, n_counterfactuals=2
    )
    scale = mad(X.to_numpy())
    for i in range(2):
        theirs = out.cf_examples_list[i].final_cfs_df[list(X.columns)]
        mine = ours.counterfactuals[i][list(X.columns)]
        want = 1 - model.predict(rows.iloc[[i]])[0]
        for cfs in (theirs, mine):
            assert len(cfs) >= 1
            assert np.all(model.predict(cfs) == want)
            dist = (np.abs(cfs.to_numpy(np.float64) - rows.iloc[i].to_numpy()) / scale).sum(1)
            assert np.all(np.isfinite(dist)) and np.all(dist > 0)
