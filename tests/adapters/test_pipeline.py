"""The pipeline column map: which input column each transformed column comes from.

The groups are proved on the fitted pipeline itself: changing only input column p
changes only the transformed columns of group p, and every transformed column changes
for some change of its group's input column.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.feature_selection import (
    GenericUnivariateSelect,
    SelectKBest,
    SelectPercentile,
    VarianceThreshold,
    f_regression,
)
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.svm import LinearSVC

from whybox import InputError, UnsupportedModelError
from whybox.adapters import (
    ColumnMap,
    NotSeparableError,
    adapt_data,
    adapt_model,
    column_map,
    is_pipeline,
)

N = 120


def _numbers(rng, n=N, nan=True, names=("a", "b", "c")):
    frame = pd.DataFrame({k: rng.normal(size=n) * (i + 1) + i for i, k in enumerate(names)})
    if nan:
        for k in names[:-1]:  # the last column has no missing value
            frame.loc[rng.random(n) < 0.15, k] = np.nan
    return frame


def _texts(rng, n=N, nan=True):
    u = rng.choice(["red", "green", "blue", "grey"], n).astype(object)
    # "v" has two rare levels (infrequent categories) and a frequent third
    v = rng.choice(["s", "m", "l", "xl", "xxl"], n, p=[0.4, 0.3, 0.2, 0.06, 0.04]).astype(object)
    if nan:
        u[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"u": u, "v": v})


def _mixed(rng, n=N, nan=True):
    return pd.concat([_numbers(rng, n, nan), _texts(rng, n, nan)], axis=1)[
        ["a", "u", "b", "v", "c"]
    ]


class _Final(RegressorMixin, BaseEstimator):
    """A final step that takes any numbers, dense or sparse, NaN included."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.zeros(X.shape[0])


def _fit(pre, X, y=None, final=None, rng=None):
    rng = np.random.default_rng(1) if rng is None else rng
    y = rng.integers(0, 2, len(X)) if y is None else y
    final = HistGradientBoostingClassifier(max_iter=3) if final is None else final
    return Pipeline([("pre", pre), ("model", final)]).fit(X, y)


def _dense(T):
    return T.toarray() if sparse.issparse(T) else np.asarray(T, dtype=np.float64)


def _differs(A, B):
    """Cells that differ (two NaN are equal)."""
    return ~((A == B) | (np.isnan(A) & np.isnan(B)))


def _replace_column(X, p, rng):
    """``X`` with column ``p`` (only) changed: the column's values shuffled over the rows."""
    if isinstance(X, pd.DataFrame):
        out = X.copy()
        col = X.columns[p]
        out[col] = X[col].to_numpy()[rng.permutation(len(X))]
        return out
    out = X.copy()
    out[:, p] = X[rng.permutation(len(X)), p]
    return out


def check_groups(pipe, X, n_changes=4):
    """Prove the column map of ``pipe`` on the rows ``X`` (see the module docstring)."""
    m = column_map(pipe)
    assert isinstance(m, ColumnMap)
    pre = pipe[:-1]
    T = _dense(m.transform(X))
    expected = pre.transform(X)
    expected = expected.to_numpy() if isinstance(expected, pd.DataFrame) else _dense(expected)
    np.testing.assert_array_equal(T, expected)
    assert T.dtype == np.float64
    assert m.groups.dtype == np.int64 and m.groups.shape == (T.shape[1],)
    assert m.n_inputs == X.shape[1] == len(m.input_names)
    if hasattr(pre, "get_feature_names_out"):
        try:
            names = pre.get_feature_names_out()
        except AttributeError:
            names = None
        if names is not None:
            assert m.output_names == tuple(str(n) for n in names)
    assert len(m.output_names) == T.shape[1]
    rng = np.random.default_rng(7)
    seen = (T == T[:1]).all(axis=0)  # a constant column cannot change (nothing to prove)
    assert not seen.all()
    for p in range(X.shape[1]):
        for _ in range(n_changes):
            T2 = _dense(m.transform(_replace_column(X, p, rng)))
            changed = _differs(T, T2).any(axis=0)
            outside = np.flatnonzero(changed & (m.groups != p))
            assert outside.size == 0, (
                f"changing input {m.input_names[p]!r} changed {[m.output_names[j] for j in outside]}"
            )
            seen |= changed
    assert seen.all(), f"never changed: {[m.output_names[j] for j in np.flatnonzero(~seen)]}"
    return m


# ---------------------------------------------------------------------- each transformer alone
ALONE = {
    "standard": (StandardScaler, "numbers"),
    "minmax": (MinMaxScaler, "numbers"),
    "minmax_clip": (lambda: MinMaxScaler(clip=True), "numbers"),
    "maxabs": (MaxAbsScaler, "numbers"),
    "robust": (RobustScaler, "numbers"),
    "imputer_mean": (SimpleImputer, "numbers"),
    "imputer_indicator": (lambda: SimpleImputer(add_indicator=True), "numbers"),
    "imputer_median_all": (
        lambda: SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        "numbers",
    ),
    "imputer_text": (
        lambda: make_pipeline(
            SimpleImputer(strategy="most_frequent", add_indicator=True), OrdinalEncoder()
        ),
        "texts",
    ),
    "imputer_constant": (
        lambda: make_pipeline(
            SimpleImputer(strategy="constant", fill_value="none"), OneHotEncoder()
        ),
        "texts",
    ),
    "indicator_missing_only": (MissingIndicator, "numbers"),
    "indicator_all": (lambda: MissingIndicator(features="all"), "numbers"),
    "onehot": (lambda: OneHotEncoder(handle_unknown="ignore"), "texts"),
    "onehot_sparse": (lambda: OneHotEncoder(sparse_output=True), "texts"),
    "onehot_dense": (lambda: OneHotEncoder(sparse_output=False), "texts"),
    "onehot_drop_first": (lambda: OneHotEncoder(drop="first"), "texts"),
    "onehot_drop_list": (lambda: OneHotEncoder(drop=["green", "m"]), "texts_no_nan"),
    "onehot_infrequent": (
        lambda: OneHotEncoder(min_frequency=10, handle_unknown="infrequent_if_exist"),
        "texts",
    ),
    "onehot_infrequent_drop": (
        lambda: OneHotEncoder(max_categories=3, drop="first", sparse_output=False),
        "texts",
    ),
    "onehot_numbers": (lambda: OneHotEncoder(handle_unknown="ignore"), "integers"),
    "ordinal": (OrdinalEncoder, "texts"),
    "ordinal_unknown": (
        lambda: OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
        ),
        "texts",
    ),
    "target_binary": (lambda: TargetEncoder(), "texts"),
    "kbins_ordinal": (
        lambda: KBinsDiscretizer(4, encode="ordinal", quantile_method="averaged_inverted_cdf"),
        "numbers_no_nan",
    ),
    "kbins_onehot": (
        lambda: KBinsDiscretizer(3, encode="onehot", quantile_method="averaged_inverted_cdf"),
        "numbers_no_nan",
    ),
    "kbins_onehot_dense": (
        lambda: KBinsDiscretizer([2, 3, 4], encode="onehot-dense", strategy="uniform"),
        "numbers_no_nan",
    ),
    "function_identity": (FunctionTransformer, "numbers"),
    "function_one_to_one": (
        lambda: FunctionTransformer(np.tanh, feature_names_out="one-to-one"),
        "numbers",
    ),
    "variance_threshold": (lambda: VarianceThreshold(0.5), "numbers_constant"),
    "select_k_best": (lambda: SelectKBest(f_regression, k=2), "numbers_no_nan"),
    "select_percentile": (lambda: SelectPercentile(f_regression, percentile=50), "numbers_no_nan"),
    "generic_select": (
        lambda: GenericUnivariateSelect(f_regression, mode="k_best", param=1),
        "numbers_no_nan",
    ),
}


def _data(kind, rng):
    if kind == "numbers":
        return _numbers(rng)
    if kind == "numbers_no_nan":
        return _numbers(rng, nan=False)
    if kind == "numbers_constant":
        X = _numbers(rng)
        X.insert(1, "const", 3.0)
        return X
    if kind == "integers":
        return pd.DataFrame({"i": rng.integers(0, 4, N), "j": rng.integers(-2, 2, N)})
    if kind == "texts":
        return _texts(rng)
    if kind == "texts_no_nan":
        return _texts(rng, nan=False)
    raise AssertionError(kind)


@pytest.mark.parametrize("case", sorted(ALONE))
def test_each_transformer_alone(case):
    make, kind = ALONE[case]
    rng = np.random.default_rng(0)
    X = _data(kind, rng)
    y = X.iloc[:, -1].astype(str).str.len() + rng.normal(size=len(X))  # a number per row
    m = check_groups(_fit(make(), X, y=y, final=_Final()), X)
    assert m.input_names == tuple(X.columns)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_all_missing_column_is_dropped_or_kept_as_the_imputer_does():
    rng = np.random.default_rng(0)
    X = _numbers(rng)
    X.insert(1, "empty", np.nan)
    for keep in (False, True):
        imp = SimpleImputer(add_indicator=True, keep_empty_features=keep)
        m = check_groups(_fit(imp, X), X) if not keep else column_map(_fit(imp, X))
        kept = [m.input_names[g] for g in m.groups]
        assert ("empty" in kept) is keep or kept.count("empty") == 1  # its indicator
        if keep:  # the kept column is a constant fill: no change to prove, but it maps
            assert m.groups.tolist() == [0, 1, 2, 3, 0, 1, 2]


@pytest.mark.parametrize("target", ["binary", "continuous", "multiclass"])
def test_target_encoder(target):
    rng = np.random.default_rng(0)
    X = _texts(rng)
    y = {
        "binary": rng.integers(0, 2, N),
        "continuous": rng.normal(size=N),
        "multiclass": rng.integers(0, 3, N),
    }[target]
    final = HistGradientBoostingRegressor(max_iter=3)
    if target != "continuous":
        final = HistGradientBoostingClassifier(max_iter=3)
    m = check_groups(_fit(TargetEncoder(), X, y=y, final=final), X)
    per = 3 if target == "multiclass" else 1
    assert m.groups.tolist() == [0] * per + [1] * per


# ---------------------------------------------------------------------- ColumnTransformer
def test_column_transformer_core_with_text_and_numbers():
    rng = np.random.default_rng(0)
    X = _mixed(rng)
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), ["a", "b"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["u", "v"]),
        ],
        remainder="passthrough",
    )
    m = check_groups(_fit(ct, X), X)
    assert m.input_names == ("a", "u", "b", "v", "c")
    names = dict(zip(m.output_names, m.groups.tolist(), strict=True))
    assert names["num__missingindicator_a"] == 0
    assert names["cat__u_red"] == 1
    assert names["remainder__c"] == 4


COLUMN_SPECS = {
    "names": (["a", "b"], ["u", "v"]),
    "positions": ([0, 2], [1, 3]),
    "mask": (np.array([1, 0, 1, 0, 0], bool), np.array([0, 1, 0, 1, 0], bool)),
    "selector": (
        make_column_selector(dtype_include=np.number, pattern="^[ab]$"),
        make_column_selector(dtype_exclude=np.number),
    ),
    "negative": ([-5, 2], [-4, -2]),
}


@pytest.mark.parametrize("spec", sorted(COLUMN_SPECS))
@pytest.mark.parametrize("remainder", ["drop", "passthrough", "estimator"])
def test_column_transformer_column_specs(spec, remainder):
    rng = np.random.default_rng(1)
    X = _mixed(rng)
    num_cols, cat_cols = COLUMN_SPECS[spec]
    rem = MinMaxScaler() if remainder == "estimator" else remainder
    if remainder == "estimator":
        X["u"] = X["u"].fillna("red")  # remainder may hold u: make every leftover a number
        X["u"] = X["u"].map({"red": 0.0, "green": 1.0, "blue": 2.0, "grey": 3.0})
    ct = ColumnTransformer(
        [
            ("num", SimpleImputer(), num_cols),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cat_cols),
            ("gone", "drop", []),
        ],
        remainder=rem,
    )
    m = check_groups(_fit(ct, X), X)
    assert np.isin(m.groups, np.arange(5)).all()


def test_column_transformer_slices_drop_and_passthrough():
    rng = np.random.default_rng(2)
    X = _numbers(rng, names=("a", "b", "c", "d", "e"))
    ct = ColumnTransformer(
        [
            ("first", StandardScaler(), slice(0, 2)),
            ("by_name", "passthrough", slice("c", "d")),
            ("dropped", "drop", ["e"]),
        ]
    )
    m = check_groups(_fit(ct, X), X)
    assert m.groups.tolist() == [0, 1, 2, 3]


def test_nested_column_transformers_and_pipelines():
    rng = np.random.default_rng(3)
    X = _mixed(rng)
    X["w"] = rng.choice(["p", "q", "r"], N)
    inner_ct = ColumnTransformer(
        [
            ("imp", SimpleImputer(strategy="most_frequent"), ["u"]),
            ("scale", make_pipeline(SimpleImputer(add_indicator=True), RobustScaler()), ["b"]),
        ],
        remainder="passthrough",  # w
    )
    inner_pipe = Pipeline(
        [
            ("ct", inner_ct),
            ("nothing", "passthrough"),
            (
                "enc",
                ColumnTransformer(
                    [("oh", OneHotEncoder(drop="if_binary"), [0, 3])], remainder="passthrough"
                ),
            ),
            ("none", None),
        ]
    )
    outer = ColumnTransformer(
        [
            ("nested", inner_pipe, ["u", "b", "w"]),
            ("v", OrdinalEncoder(), ["v"]),
            ("a", make_pipeline(SimpleImputer(), MaxAbsScaler()), ["a"]),
        ],
        remainder=StandardScaler(),  # c
    )
    m = check_groups(_fit(make_pipeline(outer, "passthrough"), X), X)
    assert set(m.groups.tolist()) == set(range(6))


def test_set_output_pandas():
    rng = np.random.default_rng(4)
    X = _mixed(rng)
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), ["a", "b"]),
            ("cat", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["u", "v"]),
        ],
        remainder="passthrough",
    ).set_output(transform="pandas")
    pipe = _fit(ct, X)
    m = check_groups(pipe, X)
    assert isinstance(m.transform(X), np.ndarray)
    assert m.output_names == tuple(pipe[-1].feature_names_in_)


def test_sparse_output_stays_sparse():
    rng = np.random.default_rng(5)
    X = _texts(rng)
    m = check_groups(_fit(OneHotEncoder(), X, final=_Final()), X)
    T = m.transform(X)
    assert sparse.issparse(T) and T.dtype == np.float64


def test_array_input_without_names():
    rng = np.random.default_rng(6)
    X = _numbers(rng).to_numpy()
    ct = ColumnTransformer(
        [("s", StandardScaler(), [2]), ("i", SimpleImputer(add_indicator=True), [0, 1])]
    )
    m = check_groups(_fit(ct, X), X)
    assert m.input_names == ("x0", "x1", "x2")


def test_final_step_nested_pipeline():
    rng = np.random.default_rng(7)
    X = _mixed(rng)
    ct = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["u", "v"])], remainder=SimpleImputer()
    )
    y = rng.integers(0, 2, N)
    pipe = Pipeline(
        [
            ("pre", ct),
            ("model", make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=3))),
        ]
    ).fit(X, y)
    m = column_map(pipe)
    assert isinstance(m.final, HistGradientBoostingClassifier)
    T = m.transform(X)
    np.testing.assert_array_equal(T, pipe[-1][:-1].transform(pipe[:-1].transform(X)))
    assert m.groups.shape == (T.shape[1],)


# ---------------------------------------------------------------------- what transform is fed
def test_transform_takes_dataset_frame_and_array_like_the_model_adapter():
    rng = np.random.default_rng(8)
    X = _mixed(rng)
    ct = ColumnTransformer(
        [
            ("num", SimpleImputer(), ["a", "b", "c"]),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["u", "v"]),
        ]
    )
    pipe = _fit(ct, X)
    m = column_map(pipe)
    want = pipe[:-1].transform(X)
    data = adapt_data(X)
    assert data.values.dtype == object
    np.testing.assert_array_equal(m.transform(data), want)
    np.testing.assert_array_equal(m.transform(data.values), want)  # columns by position
    np.testing.assert_array_equal(m.transform(X[list(reversed(X.columns))]), want)
    # the final estimator on the map's output is the pipeline's prediction
    model = adapt_model(pipe)
    np.testing.assert_array_equal(
        pipe[-1].predict_proba(m.transform(data))[:, 1:], model.predict(data, "probability")
    )
    with pytest.raises(InputError, match="missing 'c'"):
        m.transform(X.drop(columns="c"))


def test_unknown_category_at_transform_time():
    rng = np.random.default_rng(9)
    X = _texts(rng, nan=False)
    pipe = _fit(OneHotEncoder(handle_unknown="ignore", sparse_output=False), X)
    new = X.iloc[:2].copy()
    new.loc[new.index[0], "u"] = "purple"
    T = column_map(pipe).transform(new)
    np.testing.assert_array_equal(T, pipe[:-1].transform(new))


def test_unknown_category_refused_as_the_encoder_does():
    rng = np.random.default_rng(9)
    X = _texts(rng, nan=False)
    pipe = _fit(OneHotEncoder(handle_unknown="error"), X, final=_Final())
    new = X.iloc[:2].copy()
    new.loc[new.index[0], "u"] = "purple"
    with pytest.raises(InputError, match="could not transform X.*purple"):
        column_map(pipe).transform(new)


def test_classifier_without_predict_proba_still_maps():
    rng = np.random.default_rng(10)
    X = _mixed(rng, nan=False)
    ct = ColumnTransformer([("cat", OneHotEncoder(), ["u", "v"])], remainder=StandardScaler())
    pipe = _fit(ct, X, final=LinearSVC())
    check_groups(pipe, X)


# ---------------------------------------------------------------------- is_pipeline
def test_is_pipeline():
    rng = np.random.default_rng(11)
    X = _numbers(rng, nan=False)
    pipe = _fit(StandardScaler(), X)
    assert is_pipeline(pipe)
    assert is_pipeline(adapt_model(pipe))
    assert not is_pipeline(pipe[-1])
    assert not is_pipeline(make_pipeline(StandardScaler(), HistGradientBoostingClassifier()))

    class MyPipeline(Pipeline):
        pass

    sub = MyPipeline([("s", StandardScaler()), ("m", HistGradientBoostingClassifier(max_iter=2))])
    sub.fit(X, np.arange(N) % 2)
    assert not is_pipeline(sub)
    with pytest.raises(UnsupportedModelError, match="Pipeline"):
        column_map(sub)
    with pytest.raises(InputError, match="not fitted"):
        column_map(make_pipeline(StandardScaler(), HistGradientBoostingClassifier()))


# ---------------------------------------------------------------------- not separable
class _Custom(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)


class _MyScaler(StandardScaler):
    def transform(self, X, copy=None):
        out = super().transform(X, copy=copy)
        return out + out[:, :1]  # mixes columns: why subclasses are refused


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (PCA(2), "'mix' (PCA)"),
        (PolynomialFeatures(2), "'mix' (PolynomialFeatures)"),
        (_Custom(), "'mix' (_Custom)"),
        (_MyScaler(), "'mix' (_MyScaler)"),
        (FunctionTransformer(lambda Z: Z + Z[:, :1]), "'mix' (FunctionTransformer)"),
    ],
)
def test_not_separable_step_is_named(step, text):
    rng = np.random.default_rng(12)
    X = _numbers(rng, nan=False)
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mix", step),
            ("model", HistGradientBoostingRegressor(max_iter=2)),
        ]
    ).fit(X, rng.normal(size=N))
    with pytest.raises(NotSeparableError) as info:
        column_map(pipe)
    assert info.value.step == text
    assert info.value.path == ("mix",)
    assert str(info.value).startswith(f"Pipeline step {text} mixes input columns")
    assert isinstance(info.value, UnsupportedModelError)
    if isinstance(step, FunctionTransformer):
        assert "feature_names_out='one-to-one'" in str(info.value)


def test_not_separable_step_nested_in_column_transformer():
    rng = np.random.default_rng(13)
    X = _mixed(rng, nan=False)
    ct = ColumnTransformer(
        [
            ("cat", OneHotEncoder(), ["u", "v"]),
            ("num", make_pipeline(StandardScaler(), PCA(1)), ["a", "b"]),
        ]
    )
    pipe = _fit(ct, X)
    with pytest.raises(NotSeparableError) as info:
        column_map(pipe)
    assert info.value.step == "'pca' (PCA)"
    assert info.value.path == ("pre", "num", "pca")
    assert "'pca' (PCA) inside 'pre' > 'num'" in str(info.value)


@pytest.mark.parametrize("case", sorted(ALONE))
def test_each_transformer_nested(case):
    """Each transformer inside a Pipeline inside a ColumnTransformer inside a Pipeline."""
    make, kind = ALONE[case]
    rng = np.random.default_rng(14)
    inner = _data(kind, rng)
    X = inner.copy()
    X.insert(0, "z", rng.normal(size=N))  # handled by another transformer
    X["t"] = rng.choice(["yes", "no"], N)  # passed through the remainder after encoding
    ct = ColumnTransformer(
        [
            ("scale_z", StandardScaler(), ["z"]),
            ("inner", Pipeline([("nothing", "passthrough"), ("t", make())]), list(inner.columns)),
            ("code_t", OrdinalEncoder(), ["t"]),
        ]
    )
    y = X["z"] + rng.normal(size=N)
    pipe = Pipeline([("pre", make_pipeline(ct, "passthrough")), ("model", _Final())]).fit(X, y)
    m = check_groups(pipe, X)
    assert m.groups[0] == 0 and m.groups[-1] == X.shape[1] - 1


def test_feature_union():
    rng = np.random.default_rng(15)
    X = _numbers(rng)
    union = FeatureUnion(
        [
            ("imputed", SimpleImputer()),
            ("flags", MissingIndicator()),
            ("same", "passthrough"),
            ("gone", "drop"),
            ("bins", make_pipeline(SimpleImputer(), KBinsDiscretizer(3, strategy="uniform"))),
        ],
        transformer_weights={"imputed": 2.0},
    )
    m = check_groups(_fit(union, X, final=_Final()), X)
    assert m.groups[:5].tolist() == [0, 1, 2, 0, 1]


def test_feature_union_with_a_mixing_transformer_is_named():
    rng = np.random.default_rng(16)
    X = _numbers(rng, nan=False)
    union = FeatureUnion([("scaled", StandardScaler()), ("pca", PCA(1))])
    with pytest.raises(NotSeparableError) as info:
        column_map(_fit(union, X, final=_Final()))
    assert info.value.path == ("pre", "pca")
