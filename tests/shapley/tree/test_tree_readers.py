"""The tree readers: one per library behind supports/read, dispatched by parse_ensemble."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests._requires import lazy
from whybox import UnsupportedModelError
from whybox.adapters import adapt_model
from whybox.shapley.tree import parse_ensemble, reads_trees
from whybox.shapley.tree._ensemble import stack_trees
from whybox.shapley.tree._readers import READERS

xgboost = lazy("xgboost")
lightgbm = lazy("lightgbm")
catboost = lazy("catboost")


def _fitted(library: str):
    """A small fitted regressor of ``library``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X[:, 0] - X[:, 1]
    make = {
        "sklearn": lambda: RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0),
        "xgboost": lambda: xgboost.XGBRegressor(n_estimators=3, max_depth=2),
        "lightgbm": lambda: lightgbm.LGBMRegressor(n_estimators=3, verbose=-1),
        "catboost": lambda: catboost.CatBoostRegressor(
            iterations=3, depth=2, verbose=0, allow_writing_files=False
        ),
    }[library]
    return make().fit(X, y)


@pytest.mark.parametrize("library", ["sklearn", "xgboost", "lightgbm", "catboost"])
def test_exactly_one_reader_supports_each_library_and_parse_ensemble_is_its_read(library):
    model = _fitted(library)
    readers = [r for r in READERS if r.supports(model)]
    assert len(readers) == 1 and readers[0].__name__.endswith("_" + library)
    parsed = parse_ensemble(model)
    stacked = stack_trees(readers[0].read(model))
    for f in dataclasses.fields(parsed):
        a, b = getattr(parsed, f.name), getattr(stacked, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        elif isinstance(a, float) and np.isnan(a):
            assert np.isnan(b)
        elif not isinstance(a, dict):
            assert a == b, f.name


def test_reads_trees_is_a_type_check():
    assert reads_trees(RandomForestRegressor())  # not fitted: still a type it reads
    assert not reads_trees(LogisticRegression())
    assert not reads_trees(make_pipeline(StandardScaler(), RandomForestRegressor()))
    assert reads_trees(adapt_model(_fitted("sklearn")))  # a whybox Model wrapping one


def test_an_unfitted_or_unknown_model_is_refused_with_the_fix():
    with pytest.raises(UnsupportedModelError, match="not fitted; call fit"):
        parse_ensemble(RandomForestRegressor())
    with pytest.raises(UnsupportedModelError, match="Pipelines ending in one"):
        parse_ensemble(LogisticRegression())
