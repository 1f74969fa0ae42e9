"""Linear SHAP through a pipeline's column map, in the pipeline's input columns.

The ground truth is ExactExplainer on the whole pipeline (every coalition of input
columns, the same background) and the pipeline's own decision_function / predict.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
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
from whybox import ExactExplainer, InputError, UnsupportedModelError
from whybox.adapters import NotSeparableError
from whybox.shapley import LinearExplainer

N = 300


def credit(seed=0, n=N):
    """A table with text and number columns, missing values in one of each."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income": rng.lognormal(3, 0.5, n),
            "purpose": rng.choice(["car", "house", "study", "other"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "age": rng.integers(18, 80, n).astype(float),
            "job": rng.choice(["a", "b", "c"], n).astype(object),
            "debt": rng.normal(2, 1, n),
        }
    )
    X.loc[rng.random(n) < 0.1, "age"] = np.nan
    X.loc[rng.random(n) < 0.1, "job"] = np.nan
    score = (
        0.02 * X["income"]
        + X["purpose"].map({"car": 0.5, "house": -1.0, "study": 1.0, "other": 0.0})
        - 0.03 * X["age"].fillna(40)
        + X["job"].map({"a": 1.0, "b": 0.0, "c": -1.0}).fillna(0.3)
        + 0.5 * X["debt"]
    )
    return X, score.to_numpy() + rng.normal(0, 0.3, n)


def preprocessing(kind="core"):
    text = ["purpose", "job"]
    numbers = ["income", "age", "debt"]
    if kind == "core":
        return ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), text),
                (
                    "num",
                    make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                    numbers,
                ),
            ]
        )
    if kind == "varied":
        return ColumnTransformer(
            [
                ("purpose", OneHotEncoder(drop="first", sparse_output=False), ["purpose"]),
                (
                    "job",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="?"), OrdinalEncoder()
                    ),
                    ["job"],
                ),
                ("income", MinMaxScaler(clip=True), ["income"]),
                (
                    "age",
                    make_pipeline(
                        SimpleImputer(strategy="median"),
                        KBinsDiscretizer(
                            4, encode="onehot", quantile_method="averaged_inverted_cdf"
                        ),
                    ),
                    ["age"],
                ),
            ],
            remainder=RobustScaler(),
        )
    if kind == "target":
        return ColumnTransformer(
            [
                ("cat", TargetEncoder(), make_column_selector(dtype_exclude=np.number)),
                ("num", SimpleImputer(), make_column_selector(dtype_include=np.number)),
            ]
        )
    if kind == "others":
        numbers = FeatureUnion(
            [
                ("imputed", make_pipeline(SimpleImputer(), MaxAbsScaler())),
                ("missing", MissingIndicator()),
                (
                    "logged",
                    make_pipeline(
                        SimpleImputer(),
                        FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                    ),
                ),
            ]
        )
        return ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(max_categories=3, handle_unknown="infrequent_if_exist"),
                    ["purpose"],
                ),
                ("num", make_pipeline(numbers, SelectKBest(f_regression, k=4)), ["income", "age"]),
                ("job", OrdinalEncoder(encoded_missing_value=-1), ["job"]),
            ],
            remainder=FunctionTransformer(feature_names_out="one-to-one"),
        )
    raise AssertionError(kind)


def fitted(final, kind="core", target="binary"):
    X, score = credit()
    y = {
        "binary": (score > np.median(score)).astype(int),
        "multiclass": np.digitize(score, np.quantile(score, [0.33, 0.66])),
        "regression": score,
    }[target]
    return Pipeline([("pre", preprocessing(kind)), ("model", final)]).fit(X, y), X


def library_margin(pipe, X):
    out = pipe.decision_function(X) if hasattr(pipe, "decision_function") else pipe.predict(X)
    return np.asarray(out, dtype=np.float64).reshape(len(X), -1)


def check_against_exact(pipe, X, background, rows, **kwargs):
    ex = LinearExplainer(pipe, background, **kwargs)(rows)
    ref = ExactExplainer(pipe, background, output="raw", max_background=None, **kwargs)(rows)
    np.testing.assert_allclose(ex.values, ref.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ex.base_values, ref.base_values, rtol=0, atol=1e-9)
    # additivity against the pipeline's own decision_function / predict
    total = ex.values.sum(axis=1) + ex.base_values
    np.testing.assert_allclose(total, library_margin(pipe, rows), rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        ex.base_values[0], library_margin(pipe, background).mean(axis=0), rtol=0, atol=1e-12
    )
    assert ex.method == "linear_interventional"
    return ex


CASES = [
    ("binary_logistic", LogisticRegression(max_iter=2000), "core", "binary"),
    ("multiclass_logistic", LogisticRegression(max_iter=2000), "core", "multiclass"),
    ("ridge", Ridge(alpha=0.3), "core", "regression"),
    ("linear_regression", LinearRegression(), "core", "regression"),
    ("varied_ridge", Ridge(), "varied", "regression"),
    ("varied_logistic", LogisticRegression(max_iter=2000), "varied", "multiclass"),
    ("target_encoder", Ridge(), "target", "regression"),
    ("others_ridge", Ridge(), "others", "regression"),
    ("others_logistic", LogisticRegression(max_iter=2000), "others", "binary"),
]


@pytest.mark.parametrize(
    ("final", "kind", "target"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_equals_exact_explainer_on_the_whole_pipeline(final, kind, target):
    pipe, X = fitted(final, kind, target)
    ex = check_against_exact(pipe, X, X.iloc[:60], X.iloc[200:215])
    assert ex.feature_names == tuple(X.columns)
    assert ex.values.shape == (15, 5, 3 if target == "multiclass" else 1)
    assert ex.data.dtype == object and ex.data[0, 1] == X.iloc[200]["purpose"]
    assert ex.params["transformed_columns"] == len(pipe[:-1].get_feature_names_out())


def test_unknown_category_at_explain_time():
    pipe, X = fitted(LogisticRegression(max_iter=2000))
    rows = X.iloc[200:206].copy()
    rows.loc[rows.index[0], "purpose"] = "boat"  # never seen at fit: all its dummies 0
    rows.loc[rows.index[1], "job"] = "zzz"
    ex = check_against_exact(pipe, X, X.iloc[:50], rows)
    assert ex.data[0, 1] == "boat"


def test_infrequent_categories_at_explain_time():
    X, score = credit(1)
    ct = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(min_frequency=40, handle_unknown="infrequent_if_exist"),
                ["purpose"],
            )
        ],
        remainder=make_pipeline(SimpleImputer(), StandardScaler(), "passthrough"),
    )
    ct.set_params(remainder__simpleimputer__strategy="most_frequent")
    pipe = Pipeline([("pre", ct), ("m", Ridge())])
    X = X.assign(job=X["job"].map({"a": 0.0, "b": 1.0, "c": 2.0}))
    pipe.fit(X, score)
    rows = X.iloc[250:256].copy()
    rows.loc[rows.index[0], "purpose"] = "boat"  # unknown: read as infrequent
    check_against_exact(pipe, X, X.iloc[:40], rows)


def test_feature_groups_sum_the_input_columns():
    pipe, X = fitted(Ridge(), "core", "regression")
    groups = {"money": ["income", "debt"], "who": ["age", "job"], "why": ["purpose"]}
    ex = check_against_exact(pipe, X, X.iloc[:40], X.iloc[100:108], feature_groups=groups)
    assert ex.feature_names == ("money", "who", "why")


def test_explain_auto_picks_linear_for_such_pipelines():
    pipe, X = fitted(LogisticRegression(max_iter=2000), "core", "multiclass")
    ex = whybox.explain(pipe, X.iloc[200:205], background=X.iloc[:50])
    assert ex.params["explain_method"] == "linear"
    assert ex.method == "linear_interventional"
    ref = ExactExplainer(pipe, X.iloc[:50], output="raw")(X.iloc[200:205])
    np.testing.assert_allclose(ex.values, ref.values, rtol=0, atol=1e-9)


def test_supports():
    pipe, _ = fitted(Ridge(), "core", "regression")
    assert LinearExplainer.supports(pipe)
    assert LinearExplainer.supports(fitted(LogisticRegression(max_iter=2000), "varied")[0])
    mixing = make_pipeline(preprocessing(), PCA(3), Ridge())
    X, score = credit()
    assert not LinearExplainer.supports(mixing.fit(X, score))
    trees = make_pipeline(preprocessing(), HistGradientBoostingClassifier(max_iter=2))
    assert not LinearExplainer.supports(trees.fit(X, score > 0))


def test_refusals():
    X, score = credit()
    mixing = Pipeline([("pre", preprocessing()), ("pca", PCA(3)), ("ridge", Ridge())]).fit(X, score)
    with pytest.raises(NotSeparableError, match=r"'pca' \(PCA\)") as info:
        LinearExplainer(mixing, X.iloc[:20])
    assert info.value.step == "'pca' (PCA)"
    pipe, X = fitted(Ridge(), "core", "regression")
    with pytest.raises(InputError, match="correlation_dependent.*interventional"):
        LinearExplainer(pipe, X.iloc[:20], feature_perturbation="correlation_dependent")
    trees = make_pipeline(preprocessing(), HistGradientBoostingClassifier(max_iter=2))
    with pytest.raises(UnsupportedModelError, match="HistGradientBoostingClassifier"):
        LinearExplainer(trees.fit(X, score > 0), X.iloc[:20])


def test_clipping_scaler_is_explained_through_the_column_map():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    pipe = make_pipeline(MinMaxScaler(clip=True), Ridge()).fit(X[:60], X[:60] @ [1.0, -2.0, 0.5])
    explainer = LinearExplainer(pipe, X[:40])
    assert explainer.column_map is not None
    check_against_exact(pipe, X, X[:40], X[60:80])  # rows outside the fitted range: clipped


def test_pandas_output_of_the_preprocessing():
    X, score = credit(2)
    ct = ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
                ["purpose", "job"],
            ),
            (
                "num",
                make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
                ["income", "age", "debt"],
            ),
        ]
    ).set_output(transform="pandas")
    pipe = Pipeline([("pre", ct), ("model", LogisticRegression(max_iter=2000))])
    pipe.fit(X, score > np.median(score))
    check_against_exact(pipe, X, X.iloc[:50], X.iloc[150:160])
