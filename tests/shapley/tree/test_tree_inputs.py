"""TreeSHAP on the inputs the libraries take: sparse matrices, bool columns, pandas
categories (issue #19, item 17). Every check is against the library's own call on the
same input: XGBoost ``pred_contribs`` on the CSR matrix, LightGBM ``pred_contrib`` on
the category DataFrame (also from a model reloaded from its text file)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests._requires import lazy
from whybox import InputError
from whybox.adapters import adapt_data
from whybox.shapley.tree import TreeExplainer, parse_ensemble

xgb = lazy("xgboost")
lgb = lazy("lightgbm")

EPS32 = float(np.finfo(np.float32).eps)


def _sparse_data(seed: int = 3):
    rng = np.random.default_rng(seed)
    n, p = 400, 6
    dense = rng.normal(size=(n, p)) * (rng.random((n, p)) < 0.4)
    dense[0, 1] = dense[1, 2] = 0.0
    rows, cols = np.nonzero(dense)
    # two explicit zeros: values, not missing, for XGBoost
    rows, cols = np.r_[rows, 0, 1], np.r_[cols, 1, 2]
    X = sp.csr_matrix((dense[rows, cols], (rows, cols)), shape=(n, p))
    assert X.nnz == np.count_nonzero(dense) + 2
    y = (dense[:, 0] - dense[:, 1] + (dense[:, 2] != 0) + rng.normal(0, 0.5, n)) > 0.3
    return X, y.astype(int)


def test_xgboost_on_csr_reads_absent_entries_as_missing():
    X, y = _sparse_data()
    model = xgb.XGBClassifier(n_estimators=20, max_depth=4).fit(X, y)
    n, p = X.shape
    ex = TreeExplainer(model)(X)
    ref = np.asarray(model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True))
    margin = model.predict(X, output_margin=True).astype(np.float64)
    tol = 21 * EPS32 * float(np.abs(ref).sum(axis=1).max())  # 20 float32 trees, derived
    np.testing.assert_allclose(ex.values[:, :, 0], ref[:, :p], rtol=0, atol=tol)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)), margin,
                               rtol=0, atol=tol)  # fmt: skip
    # absent entries are NaN (missing), stored zeros stay 0, as XGBoost reads them
    assert np.isnan(ex.data[2, np.flatnonzero(X[2].toarray() == 0)]).all()
    assert ex.data[0, 1] == 0.0 and ex.data[1, 2] == 0.0
    # the same matrix made dense with zeros is another input: XGBoost predicts differently
    dense_margin = model.predict(X.toarray(), output_margin=True)
    assert np.abs(dense_margin - margin).max() > 0.1


def test_lightgbm_and_sklearn_on_csr_read_absent_entries_as_zero():
    from sklearn.ensemble import RandomForestRegressor

    X, y = _sparse_data(4)
    n, p = X.shape
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1, n_jobs=1).fit(X, y)
    ex = TreeExplainer(model)(X)
    ref = np.asarray(model.predict(X, pred_contrib=True).toarray())
    scale = float(np.abs(ref).sum(axis=1).max())
    np.testing.assert_allclose(ex.values[:, :, 0], ref[:, :p], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)),
                               model.predict(X, raw_score=True), rtol=0, atol=1e-12 * scale)  # fmt: skip
    forest = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    ex = TreeExplainer(forest)(X)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)),
                               forest.predict(X), rtol=0, atol=1e-12)  # fmt: skip


def test_sparse_matrices_and_dmatrix_are_refused_with_the_fix_elsewhere():
    X, _ = _sparse_data()
    with pytest.raises(InputError, match=r"X is a SciPy sparse matrix .* pass X\.toarray\(\)"):
        adapt_data(X)
    with pytest.raises(InputError, match=r"X is an xgboost\.DMatrix.* pass the array or"):
        adapt_data(xgb.DMatrix(X))
    model = xgb.XGBRegressor(n_estimators=3).fit(X, np.arange(X.shape[0]) % 3)
    with pytest.raises(InputError, match=r"xgboost\.DMatrix"):
        TreeExplainer(model)(xgb.DMatrix(X))


def test_bool_columns_are_read_as_zero_and_one():
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "flag": rng.random(n) < 0.5, "b": rng.normal(size=n)}
    )
    y = frame["a"] + 2 * frame["flag"] + rng.normal(0, 0.3, n)
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(frame, y)
    ex = TreeExplainer(model)(frame)
    ref = np.asarray(model.get_booster().predict(xgb.DMatrix(frame), pred_contribs=True))
    tol = 11 * EPS32 * float(np.abs(ref).sum(axis=1).max())
    np.testing.assert_allclose(ex.values[:, :, 0], ref[:, :3], rtol=0, atol=tol)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)),
                               model.predict(frame, output_margin=True), rtol=0, atol=tol)  # fmt: skip
    data = adapt_data(frame)
    assert data.is_numeric and data.categorical.tolist() == [False, True, False]
    np.testing.assert_array_equal(data.values[:, 1], frame["flag"].to_numpy(dtype=float))


@pytest.fixture(scope="module")
def lgb_categorical():
    rng = np.random.default_rng(6)
    n = 600
    frame = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue", "grey"], n)),
            "size": pd.Categorical(rng.choice([10, 20, 30], n), categories=[30, 10, 20]),
        }
    )
    frame.loc[::17, "colour"] = np.nan
    y = (frame["num"] + (frame["colour"] == "green") * 1.5 - (frame["size"] == 20)
         + rng.normal(0, 0.3, n) > 0.3).astype(int)  # fmt: skip
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, min_child_samples=5,
                               cat_smooth=1, min_data_per_group=5, verbose=-1, n_jobs=1)  # fmt: skip
    return model.fit(frame, y), frame


def _check_lgb(model, frame, X) -> None:
    n, p = frame.shape
    ex = TreeExplainer(model)(X)
    ref = np.asarray(model.predict(frame, pred_contrib=True))
    scale = float(np.abs(ref).sum(axis=1).max())
    np.testing.assert_allclose(ex.values[:, :, 0], ref[:, :p], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ex.base_values[:, 0] + ex.values.sum(axis=(1, 2)),
                               model.predict(frame, raw_score=True), rtol=0, atol=1e-12 * scale)  # fmt: skip
    assert ex.model_output[:, 0] == pytest.approx(model.predict(frame, raw_score=True), abs=0)


def test_lightgbm_pandas_categories_are_mapped_to_its_codes(lgb_categorical, tmp_path):
    model, frame = lgb_categorical
    assert parse_ensemble(model).categorical_features.tolist() == [1, 2]  # category splits
    # the category frame, the same frame with the categories shuffled (LightGBM maps by
    # value, not by the frame's codes) and as text
    reordered = frame.assign(colour=frame["colour"].cat.reorder_categories(
        ["grey", "blue", "green", "red"]))  # fmt: skip
    as_text = frame.assign(colour=frame["colour"].astype(object))
    # one column as values, the other as codes
    mixed = frame.assign(size=frame["size"].cat.codes)
    for X in (frame, reordered, as_text, mixed):
        _check_lgb(model, frame, X)
    # codes are read as codes, as LightGBM's predict reads numeric columns
    codes = frame.assign(colour=frame["colour"].cat.codes.replace(-1, np.nan),
                         size=frame["size"].cat.codes)  # fmt: skip
    _check_lgb(model, frame, codes)
    # a model saved to its text file and loaded back keeps pandas_categorical
    path = tmp_path / "model.txt"
    model.booster_.save_model(path)
    booster = lgb.Booster(model_file=str(path))
    assert booster.pandas_categorical == model.booster_.pandas_categorical
    _check_lgb(booster, frame, frame)


def test_lightgbm_unseen_category_is_missing_as_in_lightgbm(lgb_categorical):
    model, frame = lgb_categorical
    rows = frame.iloc[:30].copy()
    rows["colour"] = rows["colour"].cat.add_categories(["violet"])
    rows.loc[rows.index[:10], "colour"] = "violet"
    _check_lgb(model, rows, rows)


def test_quality_compares_lightgbm_category_codes_with_lightgbm(lgb_categorical):
    from whybox.evaluate import quality

    model, frame = lgb_categorical
    mixed = frame.assign(size=frame["size"].cat.codes)
    for X in (frame, mixed):
        ex = quality(model, TreeExplainer(model)(X.iloc[:100]), random_state=0, max_samples=20)
        library = ex.quality["additivity"]["library"]
        assert library["judged"] and library["passes"], library
        assert library["call"] == "LGBMClassifier.predict(X, raw_score=True)"
        assert library["max_error"] <= 1e-12 * np.abs(ex.model_output).max()
        assert ex.data[1, 1] == frame["colour"].iloc[1]  # the categories, not codes


def test_lightgbm_adapter_maps_categories_as_lightgbm_predict(lgb_categorical):
    from whybox.adapters import adapt_model

    model, frame = lgb_categorical
    m = adapt_model(model)
    raw = model.predict(frame, raw_score=True)
    proba = model.predict_proba(frame)[:, 1]
    as_text = frame.assign(colour=frame["colour"].astype(object))
    for X in (frame, as_text, adapt_data(frame), m.check_data(adapt_data(as_text))):
        np.testing.assert_array_equal(m.predict(X, "raw")[:, 0], raw)
        np.testing.assert_array_equal(m.predict(X, "probability")[:, 0], proba)
