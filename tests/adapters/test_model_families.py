"""Model-agnostic explainers, PD/ALE and counterfactuals on XGBoost, LightGBM, CatBoost and
torch models, fitted on arrays and on frames (issue #19, items 22 and 25).

Every check is against the model library's own prediction (``predict_proba``,
``output_margin``, ``raw_score``, ``RawFormulaVal``, the torch module's forward):
SHAP values from brute-force enumeration of the interventional game on those
predictions, partial dependence and ALE recomputed from them, counterfactuals that flip
the library's own ``predict``. A torch module is explained as whybox documents it, as a
callable ``f(X) -> probabilities`` adapted with ``adapt_model(..., task="classification")``.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import whybox
from tests._requires import requires
from whybox import InputError
from whybox.adapters import adapt_model
from whybox.counterfactuals import CounterfactualExplainer
from whybox.inspection import accumulated_local_effects, partial_dependence
from whybox.shapley import ExactExplainer

N, P = 120, 5
NAMES = ["age", "income", "debt", "tenure", "score"]
OTHER = ["q", "r", "s", "t", "u"]  # names the model never saw
FAMILIES = ["xgboost", "lightgbm", "catboost", "torch"]
FITS = ["array", "frame"]


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, P))
    logit = 1.5 * X[:, 0] - X[:, 1] + X[:, 2] * X[:, 3] + 0.5 * np.sin(2 * X[:, 4])
    y = (logit + 0.3 * rng.normal(size=N) > 0).astype(int)
    return X, y


class Fitted:
    """A fitted binary classifier with its library's own outputs, on float arrays."""

    def __init__(self, family: str, fit: str):
        X, y = _data()
        self.family, self.fit, self.X, self.y = family, fit, X, y
        self.frame = fit == "frame"
        Xfit = pd.DataFrame(X, columns=NAMES) if self.frame else X
        if family == "xgboost":
            xgb = requires("xgboost")
            self.model = xgb.XGBClassifier(
                n_estimators=20, max_depth=3, learning_rate=0.3, n_jobs=1, random_state=0
            ).fit(Xfit, y)
        elif family == "lightgbm":
            lgb = requires("lightgbm")
            self.model = lgb.LGBMClassifier(
                n_estimators=20, num_leaves=8, min_child_samples=5, n_jobs=1, verbose=-1
            ).fit(Xfit, y)
        elif family == "catboost":
            cb = requires("catboost")
            self.model = cb.CatBoostClassifier(
                iterations=20, depth=3, random_seed=0, verbose=0, thread_count=1
            ).fit(Xfit, y)
        else:
            torch = requires("torch")
            torch.manual_seed(0)
            net = torch.nn.Sequential(
                torch.nn.Linear(P, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
            ).double()
            opt = torch.optim.Adam(net.parameters(), lr=0.02)
            xt, yt = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float64)
            for _ in range(40):
                opt.zero_grad()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt)
                loss.backward()
                opt.step()
            net.eval()
            self.net = net
            # |logit| <= sum |w2| + |b2| everywhere (tanh is bounded): below 12, whybox's
            # log-odds of the probabilities (logit(p), p from the callable) equal the
            # net's own logit to ~1e-11; a saturated net would lose them to rounding
            bound = (net[2].weight.abs().sum() + net[2].bias.abs().sum()).detach()
            assert float(bound) < 12

            def prob(Z):
                with torch.no_grad():
                    z = torch.as_tensor(np.array(Z, dtype=np.float64))
                    return torch.sigmoid(net(z)).numpy()

            def probs(Z):
                p1 = prob(Z)[:, 0]
                return np.column_stack([1 - p1, p1])

            # whybox's documented way to explain a torch module on tables: a callable
            # returning the probability of each class
            self.model = adapt_model(probs, task="classification", output_names=["0", "1"])

    @property
    def tol(self) -> float:
        """XGBoost predicts in float32, and its scikit-learn ``predict`` (in-place) and a
        Booster on a DMatrix (what whybox calls) round differently: a few float32 ulps,
        about 1e-7 here, bound the agreement. The other libraries predict in float64."""
        return 1e-6 if self.family == "xgboost" else 1e-9

    def _in(self, Z):
        Z = np.asarray(Z, dtype=np.float64)
        return pd.DataFrame(Z, columns=NAMES) if self.frame else Z

    def proba(self, Z) -> np.ndarray:
        """P(class 1) from the library itself."""
        if self.family == "torch":
            torch = requires("torch")
            with torch.no_grad():
                z = torch.as_tensor(np.array(Z, dtype=np.float64))
                return torch.sigmoid(self.net(z))[:, 0].numpy()
        return self.model.predict_proba(self._in(Z))[:, 1]

    def margin(self, Z) -> np.ndarray:
        """The library's own margin (log-odds)."""
        if self.family == "xgboost":
            return self.model.predict(self._in(Z), output_margin=True)
        if self.family == "lightgbm":
            return self.model.predict(self._in(Z), raw_score=True)
        if self.family == "catboost":
            return self.model.predict(self._in(Z), prediction_type="RawFormulaVal")
        torch = requires("torch")
        with torch.no_grad():
            return self.net(torch.as_tensor(np.array(Z, dtype=np.float64)))[:, 0].numpy()

    def label(self, Z) -> np.ndarray:
        """The library's own predicted class (torch: probability above 1/2)."""
        if self.family == "torch":
            return (self.proba(Z) > 0.5).astype(int)
        return np.asarray(self.model.predict(self._in(Z))).astype(int).ravel()

    def data(self, Z, names=None):
        """What a user passes: a frame with the model's columns when it was fitted on
        one (or ``names``), else the array."""
        Z = np.asarray(Z, dtype=np.float64)
        if names is not None:
            return pd.DataFrame(Z, columns=names)
        return pd.DataFrame(Z, columns=NAMES) if self.frame else Z


_CACHE: dict[tuple[str, str], Fitted] = {}


@pytest.fixture(params=[(f, k) for f in FAMILIES for k in FITS], ids=lambda p: f"{p[0]}-{p[1]}")
def fitted(request) -> Fitted:
    key = request.param
    if key not in _CACHE:
        _CACHE[key] = Fitted(*key)
    return _CACHE[key]


def brute_force_shap(f, X: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Interventional Shapley values of each row by enumerating every coalition, with
    v(S) = mean_b f(x_S, b_notS) on the library's own predictions f."""
    n, p = X.shape
    v = {}
    for S in itertools.product([0, 1], repeat=p):
        mask = np.array(S, dtype=bool)
        Z = np.repeat(bg[None, :, :], n, axis=0)
        Z[:, :, mask] = X[:, None, mask]
        v[S] = f(Z.reshape(-1, p)).reshape(n, len(bg)).mean(axis=1)
    phi = np.zeros((n, p))
    for S in v:
        s = sum(S)
        for j in range(p):
            if S[j]:
                continue
            T = S[:j] + (1,) + S[j + 1 :]
            w = math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p)
            phi[:, j] += w * (v[T] - v[S])
    return phi


# ---------------------------------------------------------------------- SHAP
@pytest.mark.parametrize("output", ["probability", "log_odds"])
def test_exact_shap_equals_brute_force_on_the_librarys_predictions(fitted, output):
    f = fitted.proba if output == "probability" else fitted.margin
    bg, X = fitted.X[:25], fitted.X[100:104]
    ex = whybox.explain(
        fitted.model, fitted.data(X), background=fitted.data(bg), method="exact", output=output
    )
    assert ex.method == "exact" and ex.output_space == output
    truth = brute_force_shap(f, X, bg)
    tol = fitted.tol
    np.testing.assert_allclose(ex.values[:, :, -1], truth, rtol=0, atol=tol)
    # local accuracy in the library's own output space
    np.testing.assert_allclose(ex.base_values[:, -1], f(bg).mean(), rtol=0, atol=tol)
    np.testing.assert_allclose(
        ex.values[:, :, -1].sum(axis=1) + ex.base_values[:, -1], f(X), rtol=0, atol=tol
    )
    if fitted.frame:
        assert ex.feature_names == tuple(NAMES)


def test_kernel_shap_with_every_coalition_equals_brute_force(fitted):
    bg, X = fitted.X[:25], fitted.X[104:107]
    ex = whybox.explain(
        fitted.model,
        fitted.data(X),
        background=fitted.data(bg),
        method="kernel",
        output="probability",
        max_evals=2**P - 2,
        random_state=0,
    )
    np.testing.assert_allclose(
        ex.values[:, :, -1],
        brute_force_shap(fitted.proba, X, bg),
        rtol=0,
        atol=max(fitted.tol, 1e-8),
    )


def test_permutation_shap_adds_up_to_the_librarys_margin(fitted):
    bg, X = fitted.X[:25], fitted.X[107:110]
    ex = whybox.explain(
        fitted.model,
        fitted.data(X),
        background=fitted.data(bg),
        method="permutation",
        output="log_odds",
        random_state=0,
    )
    assert ex.method.startswith("permutation")
    np.testing.assert_allclose(ex.base_values[:, -1], fitted.margin(bg).mean(), atol=fitted.tol)
    np.testing.assert_allclose(
        ex.values[:, :, -1].sum(axis=1) + ex.base_values[:, -1], fitted.margin(X), atol=fitted.tol
    )
    # the estimate is near the exact values (antithetic permutations of 5 players)
    truth = brute_force_shap(fitted.margin, X, bg)
    assert np.abs(ex.values[:, :, -1] - truth).max() < 0.5 * np.abs(truth).max()


# ---------------------------------------------------------------------- PD / ALE
def test_partial_dependence_is_the_mean_of_the_librarys_predictions(fitted):
    X = fitted.X
    feature = "income" if fitted.frame else 1
    pd_ = partial_dependence(
        fitted.model, fitted.data(X), feature, grid_resolution=6, output="probability"
    )
    grid = pd_.grid_values[0]
    assert len(grid) == 6
    expected = []
    for z in grid:
        Z = X.copy()
        Z[:, 1] = z
        expected.append(fitted.proba(Z).mean())
    np.testing.assert_allclose(pd_.average[-1], expected, rtol=0, atol=fitted.tol)


def test_ale_is_the_accumulated_mean_of_the_librarys_local_effects(fitted):
    X = fitted.X
    feature = "age" if fitted.frame else 0
    ale = accumulated_local_effects(
        fitted.model, fitted.data(X), feature, n_bins=5, output="log_odds"
    )
    edges = ale.grids[0]
    x = X[:, 0]
    # rows in (z_{k-1}, z_k]; the first bin includes z_0
    k = np.clip(np.searchsorted(edges, x, side="left"), 1, len(edges) - 1) - 1
    lo, hi = X.copy(), X.copy()
    lo[:, 0], hi[:, 0] = edges[k], edges[k + 1]
    local = fitted.margin(hi) - fitted.margin(lo)
    counts = np.bincount(k, minlength=len(edges) - 1)
    means = np.bincount(k, weights=local, minlength=len(edges) - 1) / np.maximum(counts, 1)
    g = np.concatenate([[0.0], np.cumsum(means)])
    g -= np.sum(counts * (g[:-1] + g[1:]) / 2) / counts.sum()  # ALEPlot's centring
    np.testing.assert_array_equal(ale.counts, counts)
    np.testing.assert_allclose(ale.effect[-1], g, rtol=0, atol=fitted.tol)


# ---------------------------------------------------------------------- counterfactuals
def test_counterfactuals_flip_the_librarys_prediction_and_keep_the_constraints(fitted):
    X = fitted.X
    rows = X[[110, 111, 112]]
    names = NAMES if fitted.frame else [f"x{j}" for j in range(P)]
    lo, hi = np.quantile(X[:, 1], [0.05, 0.95])
    ex = CounterfactualExplainer(
        fitted.model,
        fitted.data(X),
        immutable=[names[4]],
        ranges={names[1]: (lo, hi)},
        monotone={names[3]: "increase"},
        plausibility=None,
        random_state=0,
    )
    res = ex(fitted.data(rows), n_counterfactuals=2, max_evals=4000)
    before = fitted.label(rows)
    for i, x in enumerate(rows):
        cf = res.counterfactuals[i]
        # nothing found is a failure here: every row can be flipped within the constraints
        assert res.status[i] in ("found", "partial"), res.status[i]
        assert len(cf) >= 1
        Z = cf[list(res.feature_names)].to_numpy(np.float64)
        assert np.all(fitted.label(Z) != before[i])  # the library's own predict flips
        assert np.all(Z[:, 4] == x[4])  # immutable
        assert np.all((Z[:, 1] >= lo) & (Z[:, 1] <= hi) | (Z[:, 1] == x[1]))  # range
        assert np.all(Z[:, 3] >= x[3])  # monotone increase
        assert np.all((Z != x).any(axis=1))


# ---------------------------------------------------------------------- item 22
@pytest.fixture(scope="module")
def lgbm_on_array():
    lgb = requires("lightgbm")
    X, y = _data()
    model = lgb.LGBMClassifier(
        n_estimators=20, num_leaves=8, min_child_samples=5, n_jobs=1, verbose=-1
    ).fit(X, y)
    assert model.booster_.feature_name()[0] == "Column_0"  # LightGBM's own names
    return model, X, y


@pytest.mark.parametrize("given", ["array", "other names"])
def test_lightgbm_fitted_on_an_array_takes_arrays_and_frames_by_position(lgbm_on_array, given):
    model, X, y = lgbm_on_array

    def data(Z):
        return pd.DataFrame(Z, columns=OTHER) if given == "other names" else Z

    def proba(Z):
        return model.predict_proba(Z)[:, 1]

    bg, rows = X[:25], X[100:103]
    exact = ExactExplainer(model, data(bg), output="probability")(data(rows))
    truth = brute_force_shap(proba, rows, bg)
    np.testing.assert_allclose(exact.values[:, :, 0], truth, rtol=0, atol=1e-9)
    if given == "other names":
        assert exact.feature_names == tuple(OTHER)
    kernel = whybox.explain(
        model, data(rows), background=data(bg), method="kernel", output="probability",
        max_evals=2**P - 2, random_state=0,
    )  # fmt: skip
    np.testing.assert_allclose(kernel.values[:, :, 0], truth, rtol=0, atol=1e-8)

    pdp = partial_dependence(model, data(X), 2, grid_resolution=4, output="probability")
    for z, got in zip(pdp.grid_values[0], pdp.average[0], strict=True):
        Z = X.copy()
        Z[:, 2] = z
        assert got == pytest.approx(proba(Z).mean(), abs=1e-12)

    cf = CounterfactualExplainer(model, data(X), plausibility=None, random_state=0)
    res = cf(data(X[110:112]), n_counterfactuals=1, max_evals=2000)
    for i in range(2):
        assert res.status[i] == "found"
        Z = res.counterfactuals[i][list(res.feature_names)].to_numpy(np.float64)
        assert np.all(model.predict(Z) != model.predict(X[110 + i : 111 + i]))


@pytest.mark.parametrize("given", ["array", "other names"])
def test_lightgbm_fitted_on_an_array_is_audited(lgbm_on_array, given):
    model, X, y = lgbm_on_array
    data = pd.DataFrame(X, columns=OTHER) if given == "other names" else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = whybox.audit(model, data, y, rows=[0, 5], progress=False, random_state=0)
    ex = report.results["explanation"]
    np.testing.assert_allclose(
        ex.values[:, :, -1].sum(axis=1) + ex.base_values[:, -1],
        model.predict(X, raw_score=True),
        rtol=0,
        atol=1e-9,
    )


def test_lightgbm_booster_trained_on_an_array_and_int_named_frames_are_positional():
    lgb = requires("lightgbm")
    xgb = requires("xgboost")
    cb = requires("catboost")
    X, y = _data()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 8, "min_data_in_leaf": 5, "verbose": -1},
        lgb.Dataset(X, y),
        num_boost_round=10,
    )
    frame = pd.DataFrame(X)  # pandas' default column labels 0, 1, ... become "0", "1", ...
    xgb_model = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(frame, y)
    lgb_model = lgb.LGBMClassifier(n_estimators=10, num_leaves=8, verbose=-1, n_jobs=1)
    lgb_model.fit(frame, y)
    cb_model = cb.CatBoostClassifier(iterations=10, depth=3, verbose=0, thread_count=1)
    cb_model.fit(frame, y)
    models = [
        (booster, lambda Z: booster.predict(Z, raw_score=True)),
        (xgb_model, lambda Z: xgb_model.predict(pd.DataFrame(Z), output_margin=True)),
        (lgb_model, lambda Z: lgb_model.predict(pd.DataFrame(Z), raw_score=True)),
        (cb_model, lambda Z: cb_model.predict(pd.DataFrame(Z), prediction_type="RawFormulaVal")),
    ]
    bg, rows = X[:20], X[100:102]
    order = [3, 0, 4, 1, 2]
    for model, margin in models:
        own = adapt_model(model).feature_names  # the names the library made up
        assert own in (tuple(map(str, range(P))), tuple(f"Column_{j}" for j in range(P)))
        tol = 1e-6 if model is xgb_model else 1e-9  # XGBoost predicts in float32
        truth = brute_force_shap(margin, rows, bg)
        for data in (lambda Z: Z, lambda Z: pd.DataFrame(Z, columns=OTHER)):
            ex = ExactExplainer(model, data(bg), output="raw")(data(rows))
            np.testing.assert_allclose(ex.values[:, :, -1], truth, rtol=0, atol=tol)

        # the model's own names in another order are still matched by name
        def shuffled(Z, own=own):
            return pd.DataFrame(Z, columns=list(own))[[own[j] for j in order]]

        ex = ExactExplainer(model, shuffled(bg), output="raw")(shuffled(rows))
        assert ex.feature_names == own
        np.testing.assert_allclose(ex.values[:, :, -1], truth, rtol=0, atol=tol)


def test_names_a_model_was_given_are_still_checked():
    lgb = requires("lightgbm")
    X, y = _data()
    model = lgb.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(
        pd.DataFrame(X, columns=NAMES), y
    )
    assert adapt_model(model).feature_names == tuple(NAMES)
    with pytest.raises(InputError, match="missing 'age'"):
        partial_dependence(model, pd.DataFrame(X, columns=OTHER), 0)
    # the model's columns in another order are put back in the model's order
    shuffled = pd.DataFrame(X, columns=NAMES)[NAMES[::-1]]
    pdp = partial_dependence(model, shuffled, "age", grid_resolution=3, output="probability")
    Z = X.copy()
    Z[:, 0] = pdp.grid_values[0][0]
    assert pdp.average[0, 0] == pytest.approx(
        model.predict_proba(pd.DataFrame(Z, columns=NAMES))[:, 1].mean(), abs=1e-12
    )


# ---------------------------------------------------------------------- counterfactual property
def _flippable_by_x0(fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    """Rows whose library prediction flips by moving x0 alone inside the data's range:
    for them a counterfactual exists under any constraints on the other features."""
    grid = np.linspace(fitted.X[:, 0].min(), fitted.X[:, 0].max(), 401)
    Z = np.repeat(rows, len(grid), axis=0)
    Z[:, 0] = np.tile(grid, len(rows))
    flips = fitted.label(Z).reshape(len(rows), len(grid)) != fitted.label(rows)[:, None]
    return rows[flips.any(axis=1)]


@pytest.mark.parametrize("family", ["lightgbm", "torch"])  # tree search and genetic search
@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    roles=st.lists(
        st.sampled_from(["free", "immutable", "range", "up", "down"]), min_size=4, max_size=4
    ),
    width=st.floats(0.1, 1.5),
    pick=st.integers(0, 1000),
)
def test_counterfactual_property_on_tree_and_neural_models(family, roles, width, pick):
    key = (family, "array")
    if key not in _CACHE:
        _CACHE[key] = Fitted(*key)
    fitted = _CACHE[key]
    candidates = _flippable_by_x0(fitted, fitted.X[100:120])
    assert len(candidates) >= 5
    x = candidates[pick % len(candidates)]
    # x0 stays free (so a counterfactual exists); the other features get random roles
    immutable = [j + 1 for j, r in enumerate(roles) if r == "immutable"]
    ranges = {
        j + 1: (x[j + 1] - width, x[j + 1] + width) for j, r in enumerate(roles) if r == "range"
    }
    monotone = {j + 1: "increase" if r == "up" else "decrease" for j, r in enumerate(roles)
                if r in ("up", "down")}  # fmt: skip
    ex = CounterfactualExplainer(
        fitted.model,
        fitted.X,
        immutable=[f"x{j}" for j in immutable],
        ranges={f"x{j}": r for j, r in ranges.items()},
        monotone={f"x{j}": d for j, d in monotone.items()},
        plausibility=None,
        random_state=0,
    )
    res = ex(x[None, :], n_counterfactuals=2, max_evals=3000)
    # a counterfactual exists (x0 alone flips the prediction): not finding one fails
    assert res.status[0] in ("found", "partial"), res.status[0]
    Z = res.counterfactuals[0][list(res.feature_names)].to_numpy(np.float64)
    assert len(Z) >= 1
    assert np.all(fitted.label(Z) != fitted.label(x[None, :])[0])  # the library's own predict
    lo, hi = fitted.X.min(axis=0), fitted.X.max(axis=0)
    changed = Z != x
    assert np.all(changed.any(axis=1))
    for j in immutable:
        assert np.all(Z[:, j] == x[j])
    for j, (a, b) in ranges.items():
        assert np.all((Z[:, j] >= a) & (Z[:, j] <= b))
    for j, d in monotone.items():
        assert np.all(Z[:, j] >= x[j]) if d == "increase" else np.all(Z[:, j] <= x[j])
    # features without a given range stay within the data's range where they change
    free = [j for j in range(P) if j not in ranges and j not in immutable]
    for j in free:
        moved = changed[:, j]
        assert np.all((Z[moved, j] >= lo[j]) & (Z[moved, j] <= hi[j]))


def test_lightgbm_fitted_on_an_array_is_audited_with_a_sensitive_input_column():
    lgb = requires("lightgbm")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(160, 4))
    X[:, 3] = rng.integers(0, 2, 160)  # the sensitive attribute, a model input
    y = (X[:, 0] + X[:, 3] + 0.3 * rng.normal(size=160) > 0.5).astype(int)
    model = lgb.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1, n_jobs=1)
    model.fit(X, y)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "grp"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = whybox.audit(
            model, frame, y, sensitive_features="grp", progress=False, random_state=0
        )
    gm = report.results["fairness"]["group_metrics"]
    pred = model.predict(X)  # the library's own decisions on all four columns
    for g in (0.0, 1.0):
        rate = pred[X[:, 3] == g].mean()
        assert gm.by_group.loc[gm.by_group.index.astype(float) == g, "selection_rate"].item() == (
            pytest.approx(rate, abs=1e-12)
        )


# ---------------------------------------------------------------------- text categories
def _category_table(n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    """A frame with two category columns (one in an unsorted order) and a number."""
    rng = np.random.default_rng(21)
    colour = rng.choice(["red", "green", "blue", "violet"], n)
    size = rng.choice(["XL", "S", "M"], n)
    x = rng.normal(size=n)
    y = (2.0 * (colour == "red") + np.where(size == "S", x, -x) > 0.5).astype(int)
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(colour),
            "x": x,
            "size": pd.Categorical(size, categories=["XL", "S", "M"]),
        }
    )
    return frame, y


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Category columns as object columns of text, as read from a CSV."""
    cats = [c for c, dt in frame.dtypes.items() if isinstance(dt, pd.CategoricalDtype)]
    text = frame.astype(dict.fromkeys(cats, object))
    return text.where(text.notna(), None)


def test_xgboost_categorical_model_predicts_on_text_as_on_its_category_frame():
    xgb = requires("xgboost")
    from importlib.metadata import version

    if tuple(int(p) for p in version("xgboost").split(".")[:2]) < (3, 1):
        pytest.skip("XGBoost before 3.1 does not store categories")
    from whybox.adapters import adapt_data, library_prediction

    frame, y = _category_table()
    model = xgb.XGBClassifier(
        n_estimators=20, max_depth=3, enable_categorical=True, max_cat_to_onehot=1
    ).fit(frame, y)
    m = adapt_model(model)
    rows = frame.iloc[:50]
    text = _as_text(rows)
    margin = model.predict(rows, output_margin=True)
    data = m.check_data(adapt_data(text))
    np.testing.assert_array_equal(m.predict(data)[:, 0], margin)
    # the probability of XGBoost's float32 margin, in float64 (XGBoost rounds it to float32)
    proba = m.predict(text, "probability")[:, 0]
    np.testing.assert_array_equal(proba, 1.0 / (1.0 + np.exp(-margin.astype(np.float64))))
    np.testing.assert_allclose(proba, model.predict_proba(rows)[:, 1], rtol=2.0**-22, atol=0)
    np.testing.assert_array_equal(library_prediction(model, text).values[:, 0], margin)
    # an array of mixed rows: categories in the category columns, by the model's names
    np.testing.assert_array_equal(m.predict(text.to_numpy())[:, 0], margin)
    bad = text.copy()
    bad.loc[bad.index[7], "size"] = "XXL"
    with pytest.raises(InputError, match=r"column 'size' holds 'XXL' at row 7.*not trained on"):
        m.check_data(adapt_data(bad))
    with pytest.raises(InputError, match=r"'XXL' at row 7"):
        m.predict(bad)  # never a silent guess, even past check_data's probe rows


def test_catboost_categorical_model_predicts_on_text():
    cb = requires("catboost")
    from whybox.adapters import adapt_data, library_prediction

    frame, y = _category_table()
    text = _as_text(frame)
    model = cb.CatBoostClassifier(
        iterations=20, depth=3, verbose=0, random_seed=0, allow_writing_files=False,
        cat_features=["colour", "size"],
    ).fit(text, y)  # fmt: skip
    m = adapt_model(model)
    rows = text.iloc[:40]
    raw = model.predict(rows, prediction_type="RawFormulaVal")
    data = m.check_data(adapt_data(rows))
    np.testing.assert_array_equal(m.predict(data)[:, 0], raw)
    np.testing.assert_array_equal(
        m.predict(rows, "probability")[:, 0], model.predict_proba(rows)[:, 1]
    )
    np.testing.assert_array_equal(library_prediction(model, rows).values[:, 0], raw)


def test_xgboost_stored_categories_are_decoded_or_left_out():
    from whybox.adapters._model import xgboost_levels_of

    enc = [
        {"offsets": [0, 3, 5], "values": [114, 101, 100, 88, 76]},  # "red", "XL"
        {"offsets": [], "values": []},  # a number column
        {"type": 15, "values": [30, 10, 20]},  # integer categories, in the model's order
        {"offsets": [0, 1, 2], "values": [97, -61]},  # "a" and a cut "é" (XGBoost 3.2)
        {"offsets": [0, 9], "values": [97]},  # offsets past the bytes
        "not a column",
    ]
    levels = xgboost_levels_of({"enc": enc}, n_features=6)
    assert {j: v.tolist() for j, v in levels.items()} == {0: ["red", "XL"], 2: [30, 10, 20]}
    assert xgboost_levels_of(None, 3) == {} and xgboost_levels_of({"enc": "x"}, 3) == {}
