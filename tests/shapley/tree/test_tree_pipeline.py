"""TreeSHAP through a scikit-learn Pipeline, in the pipeline's input columns.

The players are the input columns: each transformed column's splits are credited to
the input column it comes from. Proved against brute-force enumeration of the
input-column game (the path-dependent value function with column groups), against
``ExactExplainer`` on the whole pipeline (interventional), and against the pipeline's
own ``decision_function`` / ``predict_proba`` (additivity).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

import whybox
from tests._requires import requires
from tests.shapley.tree._bruteforce import ensemble_value, shapley_by_enumeration
from whybox import InputError
from whybox.adapters import NotSeparableError, column_map
from whybox.shapley import ExactExplainer, TreeExplainer
from whybox.shapley.tree._ensemble import parse_ensemble
from whybox.shapley.tree._path_dependent import prepare_rows

CATS = ["colour", "size"]
NUMS = ["income", "age"]


def _table(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Two text columns, two numbers and ``debt`` (10% missing); a binary and a
    continuous target with planted effects."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "grey"], n, p=[0.4, 0.3, 0.25, 0.05]),
            "size": rng.choice(["S", "M", "L"], n),
            "income": rng.lognormal(3.0, 0.5, n),
            "age": rng.normal(40.0, 10.0, n).round(),
            "debt": rng.normal(5.0, 2.0, n),
        }
    )
    X.loc[rng.random(n) < 0.1, "debt"] = np.nan
    score = (
        1.2 * (X.colour == "red")
        - 0.8 * (X["size"] == "L")
        + 0.05 * (X.age - 40)
        + 0.04 * X.income * (X.colour == "blue")
        + 0.2 * X.debt.fillna(8.0)
    )
    y_cont = score.to_numpy() + rng.normal(0, 0.3, n)
    y = (y_cont > np.median(y_cont)).astype(int)
    return X, y, y_cont


def _ct(*transformers, remainder="drop", **kwargs) -> ColumnTransformer:
    return ColumnTransformer(list(transformers), remainder=remainder, **kwargs)


ONE_HOT = ("cat", OneHotEncoder(handle_unknown="ignore"), CATS)

# name -> (preprocessing, input columns)
CASES = {
    "onehot_passthrough": (lambda: _ct(ONE_HOT, remainder="passthrough"), CATS + NUMS),
    "onehot_drop_first": (
        lambda: _ct(("cat", OneHotEncoder(drop="first"), CATS), ("num", "passthrough", NUMS)),
        CATS + NUMS,
    ),
    "onehot_infrequent": (
        lambda: _ct(
            (
                "cat",
                OneHotEncoder(min_frequency=0.1, handle_unknown="infrequent_if_exist"),
                CATS,
            ),
            remainder="passthrough",
        ),
        CATS + NUMS,
    ),
    "ordinal": (
        lambda: _ct(
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATS,
            ),
            remainder="passthrough",
        ),
        CATS + NUMS,
    ),
    "target_encoder": (
        lambda: _ct(("cat", TargetEncoder(cv=KFold(5)), CATS), remainder="passthrough"),
        CATS + NUMS,
    ),
    "standard_minmax": (
        lambda: _ct(ONE_HOT, ("s", StandardScaler(), ["income"]), ("m", MinMaxScaler(), ["age"])),
        CATS + NUMS,
    ),
    "robust_maxabs": (
        lambda: _ct(ONE_HOT, ("r", RobustScaler(), ["income"]), ("a", MaxAbsScaler(), ["age"])),
        CATS + NUMS,
    ),
    "kbins_onehot": (
        lambda: _ct(
            ONE_HOT,
            (
                "bins",
                KBinsDiscretizer(
                    n_bins=4, encode="onehot-dense", quantile_method="averaged_inverted_cdf"
                ),
                NUMS,
            ),  # noqa: E501
        ),
        CATS + NUMS,
    ),
    "kbins_ordinal": (
        lambda: _ct(
            ONE_HOT,
            (
                "bins",
                KBinsDiscretizer(
                    n_bins=5, encode="ordinal", quantile_method="averaged_inverted_cdf"
                ),
                NUMS,
            ),  # noqa: E501
        ),
        CATS + NUMS,
    ),
    "imputer_indicator": (
        lambda: _ct(
            ONE_HOT,
            ("num", SimpleImputer(strategy="median", add_indicator=True), ["debt", "age"]),
        ),
        CATS + ["debt", "age"],
    ),
    "function_elementwise": (
        lambda: _ct(
            ONE_HOT,
            ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one"), ["income"]),
            remainder="passthrough",
        ),
        CATS + NUMS,
    ),
    "nested_pandas": (
        lambda: make_pipeline(
            _ct(
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ),
                    make_column_selector(dtype_exclude="number"),
                ),
                (
                    "num",
                    make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                    ["debt"],
                ),
                remainder=RobustScaler(),
            ),
            FunctionTransformer(feature_names_out="one-to-one"),
        ).set_output(transform="pandas"),
        CATS + NUMS + ["debt"],
    ),
}


def _fit(case: str, final=None, target: str = "binary"):
    make, columns = CASES[case]
    X, y, y_cont = _table()
    X = X[columns]
    final = (
        final
        if final is not None
        else GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=0)
    )
    pipe = Pipeline([("pre", make()), ("model", final)])
    pipe.fit(X, y_cont if target == "regression" else y)
    return pipe, X


def _transformed(pipe: Pipeline, X: pd.DataFrame) -> np.ndarray:
    out = pipe[:-1].transform(X)
    out = out.toarray() if hasattr(out, "toarray") else out
    return np.asarray(out, dtype=np.float64)


def _brute_force_groups(e, row: np.ndarray, groups: np.ndarray, n_players: int) -> np.ndarray:
    """Shapley values of the input-column game: coalition S of input columns means every
    transformed column of S follows the row (every split on one of them), the rest are
    averaged by cover."""
    columns = {p: frozenset(np.flatnonzero(groups == p).tolist()) for p in range(n_players)}

    def v(S):
        return ensemble_value(e, row, frozenset().union(*(columns[p] for p in S)))

    return shapley_by_enumeration(v, n_players, e.n_outputs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_path_dependent_is_the_input_column_game(case):
    pipe, X = _fit(case)
    rows = X.iloc[:4]
    ex = TreeExplainer(pipe)(rows)
    assert ex.feature_names == tuple(X.columns)
    assert ex.values.shape == (4, X.shape[1], 1)
    # additivity against the pipeline's own decision function
    np.testing.assert_allclose(
        ex.values.sum(axis=1)[:, 0] + ex.base_values[:, 0],
        pipe.decision_function(rows),
        rtol=0,
        atol=1e-9,
    )
    cmap = column_map(pipe)
    e = parse_ensemble(pipe[-1])
    kernel_rows = prepare_rows(e, _transformed(pipe, rows))
    for r in range(len(rows)):
        expected = _brute_force_groups(e, kernel_rows[r], cmap.groups, cmap.n_inputs)
        np.testing.assert_allclose(ex.values[r], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_interventional_equals_exact_on_the_whole_pipeline(case):
    pipe, X = _fit(case)
    background = X.iloc[100:130]
    tree = TreeExplainer(pipe, background=background, feature_perturbation="interventional")
    ex = tree(X.iloc[:5])
    exact = ExactExplainer(pipe, background)(X.iloc[:5])
    assert exact.output_space == ex.output_space == "raw"
    np.testing.assert_allclose(ex.values, exact.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ex.base_values, exact.base_values, rtol=0, atol=1e-9)


def _brute_force_interactions(e, row, groups, n_players):
    columns = {p: frozenset(np.flatnonzero(groups == p).tolist()) for p in range(n_players)}

    def v(S):
        cols = frozenset().union(*(columns[p] for p in S)) if S else frozenset()
        return ensemble_value(e, row, cols)

    out = np.zeros((n_players, n_players, e.n_outputs))
    for i in range(n_players):
        for j in range(n_players):
            if i == j:
                continue
            rest = [k for k in range(n_players) if k not in (i, j)]
            for size in range(n_players - 1):
                w = math.factorial(size) * math.factorial(n_players - size - 2)
                w /= math.factorial(n_players - 1)
                for S in combinations(rest, size):
                    S = set(S)
                    delta = v(S | {i, j}) - v(S | {i}) - v(S | {j}) + v(S)
                    out[i, j] += w * delta / 2
    return out


@pytest.mark.parametrize("case", ["onehot_passthrough", "imputer_indicator", "kbins_onehot"])
def test_interaction_values_between_input_columns_equal_brute_force(case):
    pipe, X = _fit(case)
    rows = X.iloc[:3]
    inter = TreeExplainer(pipe).interaction_values(rows)
    shap_values = TreeExplainer(pipe)(rows).values
    np.testing.assert_allclose(inter.values.sum(axis=2), shap_values, rtol=0, atol=1e-12)
    cmap = column_map(pipe)
    e = parse_ensemble(pipe[-1])
    kernel_rows = prepare_rows(e, _transformed(pipe, rows))
    off = ~np.eye(cmap.n_inputs, dtype=bool)
    for r in range(len(rows)):
        expected = _brute_force_interactions(e, kernel_rows[r], cmap.groups, cmap.n_inputs)
        np.testing.assert_allclose(inter.values[r][off], expected[off], rtol=0, atol=1e-12)


def test_not_the_sum_of_the_dummies_values():
    """The input-column game differs from adding up each one-hot column's SHAP value."""
    pipe, X = _fit("onehot_passthrough")
    rows = X.iloc[:20]
    grouped = TreeExplainer(pipe)(rows).values
    dummies = TreeExplainer(pipe[-1])(_transformed(pipe, rows)).values
    summed = np.zeros_like(grouped)
    np.add.at(summed, (slice(None), column_map(pipe).groups), dummies)
    np.testing.assert_allclose(summed.sum(axis=1), grouped.sum(axis=1), atol=1e-9)
    assert np.abs(summed - grouped).max() > 1e-6


@pytest.mark.parametrize(
    "final",
    [
        pytest.param(
            lambda: RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0),
            id="forest",
        ),  # noqa: E501
        pytest.param(lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0), id="hgb"),  # noqa: E501
    ],
)
def test_other_sklearn_final_steps(final):
    pipe, X = _fit("onehot_passthrough", final=final())
    rows = X.iloc[:30]
    ex = TreeExplainer(pipe)(rows)
    if isinstance(pipe[-1], RandomForestClassifier):
        own = pipe.predict_proba(rows)[:, 1]
        assert ex.output_space == "probability"
    else:
        own = pipe.decision_function(rows)
        assert ex.output_space == "raw"
    np.testing.assert_allclose(ex.values.sum(1)[:, 0] + ex.base_values[:, 0], own, atol=1e-9)


def test_regression_and_multiclass():
    pipe, X = _fit("standard_minmax", GradientBoostingRegressor(n_estimators=10), "regression")
    ex = TreeExplainer(pipe)(X.iloc[:10])
    np.testing.assert_allclose(
        ex.values.sum(1)[:, 0] + ex.base_values[:, 0], pipe.predict(X.iloc[:10]), atol=1e-9
    )
    X, _, y_cont = _table()
    y3 = np.digitize(y_cont, np.quantile(y_cont, [1 / 3, 2 / 3]))
    pipe = Pipeline(
        [("pre", CASES["ordinal"][0]()), ("model", GradientBoostingClassifier(n_estimators=8))]
    ).fit(X[CATS + NUMS], y3)
    rows = X[CATS + NUMS].iloc[:10]
    ex = TreeExplainer(pipe)(rows)
    assert ex.values.shape == (10, 4, 3)
    np.testing.assert_allclose(
        ex.values.sum(1) + ex.base_values, pipe.decision_function(rows), atol=1e-9
    )


def _libraries_final(name: str):
    if name == "xgboost":
        import xgboost

        return xgboost.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1)
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=15, num_leaves=8, verbose=-1, n_jobs=1)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_xgboost_and_lightgbm_final_steps(library):
    requires(library)
    pipe, X = _fit("onehot_passthrough", final=_libraries_final(library))
    rows = X.iloc[:20]
    ex = TreeExplainer(pipe)(rows)
    transformed = pipe[:-1].transform(rows)  # sparse: XGBoost reads absent entries as missing
    if library == "xgboost":
        own = pipe[-1].predict(transformed, output_margin=True)
    else:
        own = pipe[-1].predict(transformed, raw_score=True)
    # the library's margin is float32: equal to its rounding
    np.testing.assert_allclose(ex.values.sum(1)[:, 0] + ex.base_values[:, 0], own, atol=1e-5)
    background = X.iloc[100:116]
    inter = TreeExplainer(pipe, background=background, feature_perturbation="interventional")
    ex_int = inter(rows[:3])
    # the pipeline has no decision_function: brute force over the library's own margin
    final = pipe[-1]

    def margin(frame: pd.DataFrame) -> np.ndarray:
        out = pipe[:-1].transform(frame)
        if library == "xgboost":
            return final.predict(out, output_margin=True).astype(np.float64)
        return final.predict(out, raw_score=True).astype(np.float64)

    for r in range(len(ex_int.values)):
        expected = _interventional_brute_force(margin, rows.iloc[[r]], background)
        np.testing.assert_allclose(ex_int.values[r, :, 0], expected, atol=1e-5)
    # the pipeline's margin is the final step's own margin (no decision_function):
    # whybox's adapter, ExactExplainer and the library check read that space
    adapted = whybox.adapters.adapt_model(pipe)
    assert adapted.native_space == "raw"
    np.testing.assert_allclose(adapted.predict(rows, "raw")[:, 0], margin(rows), rtol=0, atol=0)
    exact = ExactExplainer(pipe, background)(rows[:3])
    assert exact.output_space == "raw"
    np.testing.assert_allclose(exact.values, ex_int.values, atol=1e-5)
    own = whybox.adapters.library_prediction(pipe, rows, "raw")
    assert "pipeline[:-1].transform(X)" in own.call
    np.testing.assert_allclose(own.values[:, 0], margin(rows), rtol=0, atol=0)


def _interventional_brute_force(f, row: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    """Shapley values of ``v(S) = mean_z f(x_S, z_rest)`` by enumerating coalitions."""
    names = list(background.columns)
    d = len(names)

    def v(S):
        hybrid = background.copy()
        for j in S:
            hybrid[names[j]] = row.iloc[0, j]
        return f(hybrid).mean()

    phi = np.zeros(d)
    for i in range(d):
        rest = [j for j in range(d) if j != i]
        for size in range(d):
            w = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for S in combinations(rest, size):
                phi[i] += w * (v(set(S) | {i}) - v(set(S)))
    return phi


def test_unknown_categories_follow_the_encoder():
    X, y, _ = _table()
    X = X[CATS + NUMS]
    new = X.iloc[:3].copy()
    new.loc[:, "colour"] = "purple"  # never seen in training
    for case in ("onehot_passthrough", "onehot_infrequent", "ordinal"):
        pipe, _ = _fit(case)
        ex = TreeExplainer(pipe)(new)
        np.testing.assert_allclose(
            ex.values.sum(1)[:, 0] + ex.base_values[:, 0], pipe.decision_function(new), atol=1e-9
        )
    strict = Pipeline(
        [
            (
                "pre",
                _ct(("cat", OneHotEncoder(handle_unknown="error"), CATS), remainder="passthrough"),
            ),  # noqa: E501
            ("model", GradientBoostingClassifier(n_estimators=5)),
        ]
    ).fit(X, y)
    with pytest.raises(InputError, match="could not predict on X"):
        TreeExplainer(strict)(new)


def test_a_step_that_mixes_columns_is_refused_and_explain_falls_back():
    X, y, _ = _table()
    X = X[NUMS].assign(debt=X.debt.fillna(0.0))
    pipe = make_pipeline(
        StandardScaler(), PCA(n_components=2), GradientBoostingClassifier(n_estimators=5)
    )
    pipe.fit(X, y)
    with pytest.raises(NotSeparableError, match="'pca' \\(PCA\\)"):
        TreeExplainer(pipe)
    ex = whybox.explain(pipe, X.iloc[:3], background=X.iloc[50:70])
    assert ex.params["explain_method"] == "exact"
    assert "'pca' (PCA) mixes input columns" in ex.params["chosen_by"]
    assert ex.additivity_error.max() < 1e-9
    with pytest.raises(InputError, match=r"\(a Pipeline whose step 'pca' \(PCA\) mixes"):
        whybox.explain(pipe, X.iloc[:3])


def test_explain_picks_the_tree_method_for_a_pipeline():
    pipe, X = _fit("nested_pandas")
    ex = whybox.explain(pipe, X.iloc[:5])
    assert ex.params["explain_method"] == "tree"
    assert ex.params["chosen_by"] == "auto: tree model"
    assert ex.feature_names == tuple(X.columns)
    assert ex.data[0, 0] == X.iloc[0, 0]  # the input's own text values
    ex = whybox.explain(pipe, X.iloc[:5], background=X.iloc[100:120])
    assert ex.method == "tree_interventional"
    np.testing.assert_allclose(
        ex.values, ExactExplainer(pipe, X.iloc[100:120])(X.iloc[:5]).values, atol=1e-9
    )


def test_categorical_final_step_and_array_input():
    """HistGradientBoosting splitting on an ordinal-encoded column by category, and a
    pipeline fitted on an array (columns named by position)."""
    X, y, y_cont = _table()
    X = X[CATS + NUMS]
    pre = _ct(("cat", OrdinalEncoder(), CATS), remainder="passthrough")
    model = HistGradientBoostingClassifier(categorical_features=[0, 1], max_iter=15)
    pipe = Pipeline([("pre", pre), ("model", model)]).fit(X, y)
    rows, background = X.iloc[:5], X.iloc[100:125]
    ex = TreeExplainer(pipe)(rows)
    np.testing.assert_allclose(
        ex.values.sum(1)[:, 0] + ex.base_values[:, 0], pipe.decision_function(rows), atol=1e-9
    )
    tree = TreeExplainer(pipe, background=background, feature_perturbation="interventional")
    exact = ExactExplainer(pipe, background)(rows)
    np.testing.assert_allclose(tree(rows).values, exact.values, rtol=0, atol=1e-9)
    numbers = X[NUMS].to_numpy()
    pipe = make_pipeline(StandardScaler(), GradientBoostingRegressor(n_estimators=10))
    pipe.fit(numbers, y_cont)
    ex = TreeExplainer(pipe)(numbers[:5])
    assert ex.feature_names == ("x0", "x1")
    np.testing.assert_allclose(
        ex.values.sum(1)[:, 0] + ex.base_values[:, 0], pipe.predict(numbers[:5]), atol=1e-9
    )
