"""Loading model files safely: native formats, skops without trust, pickle only when trusted."""

import os

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tests._requires import lazy, requires
from whybox import InputError
from whybox.io import load_model

lgb = lazy("lightgbm")
xgb = lazy("xgboost")


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_round_trip_predicts_the_same(xy, tmp_path, suffix):
    X, y = xy
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    model.save_model(tmp_path / f"m{suffix}")
    loaded = load_model(tmp_path / f"m{suffix}")
    assert isinstance(loaded, xgb.XGBClassifier)  # the estimator it was saved from
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)
    booster = model.get_booster()  # a file saved from a Booster loads as one
    booster.save_model(tmp_path / f"b{suffix}")
    assert isinstance(load_model(tmp_path / f"b{suffix}"), xgb.Booster)


def test_xgboost_file_of_an_early_stopped_model_predicts_with_its_best_iteration(xy, tmp_path):
    """A Booster's predict uses every round; the saved XGBClassifier's used best_iteration."""
    from whybox.shapley.tree import TreeExplainer

    X, y = xy
    model = xgb.XGBClassifier(n_estimators=100, learning_rate=0.5, early_stopping_rounds=2)
    model.fit(X[:50], y[:50], eval_set=[(X[50:], y[50:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    model.save_model(tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    margin = model.predict(X, output_margin=True)
    np.testing.assert_array_equal(loaded.predict(X, output_margin=True), margin)
    ex = TreeExplainer(loaded)(X)
    total = ex.base_values[:, 0] + ex.values.sum(axis=(1, 2))
    n_trees = model.best_iteration + 1
    np.testing.assert_allclose(total, margin, rtol=0,
                               atol=(n_trees + 1) * 2.0**-23 * np.abs(margin).max())  # fmt: skip


def test_lightgbm_round_trip_predicts_the_same(xy, tmp_path):
    X, y = xy
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, y)
    model.booster_.save_model(tmp_path / "m.txt")
    loaded = load_model(tmp_path / "m.txt")
    np.testing.assert_allclose(loaded.predict(X), model.predict_proba(X)[:, 1])


def test_catboost_round_trip_keeps_the_task(xy, tmp_path):
    catboost = requires("catboost")
    X, y = xy
    clf = catboost.CatBoostClassifier(
        iterations=5, depth=2, verbose=0, allow_writing_files=False
    ).fit(X, y)
    clf.save_model(str(tmp_path / "c.cbm"))
    loaded = load_model(tmp_path / "c.cbm")
    assert isinstance(loaded, catboost.CatBoostClassifier)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    reg = catboost.CatBoostRegressor(
        iterations=5, depth=2, verbose=0, allow_writing_files=False
    ).fit(X, X.a)
    reg.save_model(str(tmp_path / "r.cbm"))
    loaded = load_model(tmp_path / "r.cbm")
    assert isinstance(loaded, catboost.CatBoostRegressor)
    np.testing.assert_allclose(loaded.predict(X), reg.predict(X))


def test_skops_loads_scikit_learn_types_without_trust(xy, tmp_path):
    X, y = xy
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    sio.dump(model, tmp_path / "m.skops")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m.skops").predict_proba(X), model.predict_proba(X)
    )


def test_skops_with_a_builtin_function_needs_trust(xy, tmp_path):
    # FunctionTransformer(eval) would evaluate the data's strings at predict time.
    X, y = xy
    sio.dump(make_pipeline(FunctionTransformer(eval), LogisticRegression()), tmp_path / "e.skops")
    with pytest.raises(InputError, match=r"builtins\.eval.*--trust-model-file"):
        load_model(tmp_path / "e.skops")
    assert load_model(tmp_path / "e.skops", trust=True).steps[0][1].func is eval


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_pickle_is_refused_unless_trusted(xy, tmp_path, suffix):
    X, y = xy
    model = LogisticRegression().fit(X, y)
    joblib.dump(model, tmp_path / f"m{suffix}")
    with pytest.raises(InputError, match="runs code when loaded; pass --trust-model-file"):
        load_model(tmp_path / f"m{suffix}")
    assert np.array_equal(load_model(tmp_path / f"m{suffix}", trust=True).coef_, model.coef_)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.json", b'{"learner": ', "could not be read as an XGBoost model"),
        ("m.ubj", b"\x00\x01garbage", "could not be read as an XGBoost model"),
        ("m.txt", b"not a model\n", "could not be read as a LightGBM text model"),
        ("m.skops", b"PK not a zip", "could not be read as a skops file"),
        ("m.joblib", b"\x80\x04truncated", "could not be read as joblib"),
        ("m.cbm", b"CBM1 truncated", "could not be read as a CatBoost model"),
        ("m.onnx", b"\x08\x01", "unknown suffix '.onnx'"),
    ],
)
def test_corrupt_or_unknown_model_file_is_one_clear_error(tmp_path, name, content, message):
    # the library's own reader is what fails on the corrupt file
    library = {".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm", ".cbm": "catboost"}
    suffix = os.path.splitext(name)[1]
    if suffix in library:
        requires(library[suffix])
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_model(tmp_path / name, trust=True)
    assert "\n" not in str(info.value)


def test_missing_model_file(tmp_path):
    with pytest.raises(InputError, match="does not exist; check the path given to --model"):
        load_model(tmp_path / "nope.skops")
