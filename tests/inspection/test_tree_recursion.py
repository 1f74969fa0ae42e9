"""The PD recursion's trees: read through whybox.shapley.tree, walked by the numba kernel."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeRegressor

from whybox.adapters import adapt_data, adapt_model
from whybox.inspection._tree_recursion import recursion_average, tree_ensemble
from whybox.shapley.tree import parse_ensemble

MODELS = {
    "tree": lambda: DecisionTreeRegressor(max_depth=4, random_state=0),
    "forest": lambda: RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0),
    "gbr": lambda: GradientBoostingRegressor(n_estimators=6, random_state=0),
    "gbc-multiclass": lambda: GradientBoostingClassifier(n_estimators=4, random_state=0),
    "hgbr": lambda: HistGradientBoostingRegressor(max_iter=6, random_state=0),
}


@pytest.mark.parametrize("case", list(MODELS))
def test_setting_every_feature_walks_one_path_to_the_raw_prediction(case):
    # With every feature in S no weight is shared: the walk is the model's own prediction.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5]) if case.startswith("gbc") else X[:, 0] - X[:, 1] ** 2
    model = MODELS[case]().fit(X, y)
    adapted = adapt_model(model)
    trees = tree_ensemble(adapted, adapt_data(X))
    assert not isinstance(trees, str), trees
    ensemble = parse_ensemble(model)  # the one reader of scikit-learn trees
    assert trees.roots.size == ensemble.n_trees
    assert trees.value.shape[1] == ensemble.n_outputs == adapted.n_outputs
    rows = X[:20]
    raw = adapted.predict(adapt_data(rows), "raw")
    np.testing.assert_allclose(recursion_average(trees, [0, 1, 2], rows), raw, rtol=1e-9, atol=1e-9)


def test_a_log_link_is_refused_with_its_reason():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=4).fit(X, np.exp(X[:, 0]))
    reason = tree_ensemble(adapt_model(model), adapt_data(X))
    assert isinstance(reason, str) and "not a constant plus the sum of its leaves" in reason
