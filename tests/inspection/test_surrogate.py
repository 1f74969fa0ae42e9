"""Global surrogate: recovers a tree model, fidelity equals scikit-learn's metrics."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.tree import DecisionTreeClassifier

from whybox import plots
from whybox._exceptions import InputError
from whybox.inspection import global_surrogate


def test_a_depth_two_tree_is_recovered_with_fidelity_one():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(1000, 4))
    y = ((X[:, 0] > 0.5) & (X[:, 2] > 0.3)).astype(int)
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    res = global_surrogate(model, X, max_depth=2, X_test=rng.uniform(0, 1, size=(300, 4)))
    assert res.fidelity == 1.0 and res.test_fidelity == 1.0
    assert "x0" in res.rules and "x2" in res.rules
    assert "fidelity accuracy 1.000" in repr(res)


def test_fidelity_equals_the_metric_computed_directly():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    model = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(X, y)
    res = global_surrogate(model, X[:400], max_depth=1, X_test=X[400:])
    pred = model.predict(X[:400])
    assert res.fidelity == pytest.approx(r2_score(pred, res.tree.predict(X[:400])), abs=1e-12)
    assert res.fidelity < 0.6 and res.test_fidelity is not None
    assert res.to_frame()["fidelity"].iloc[0] == res.fidelity


def test_categorical_columns_and_probability_output_and_plot():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=400), "c": rng.choice(["u", "v"], size=400)})
    y = ((frame["a"] > 0) | (frame["c"] == "v")).astype(int)
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    pre = ColumnTransformer([("oh", OneHotEncoder(), ["c"])], remainder="passthrough")
    model = make_pipeline(pre, RandomForestClassifier(n_estimators=20, random_state=0))
    model.fit(frame, y)
    res = global_surrogate(model, frame, max_depth=2)
    labels = model.predict(frame).astype(str)
    assert res.fidelity == pytest.approx(accuracy_score(labels, res.tree.predict(res_input(frame))))
    assert "c=v" in res.feature_names
    prob = global_surrogate(model, frame, output="probability")
    assert prob.fidelity_metric == "r2" and "probability" in prob.target
    fig = plots.surrogate_tree(res)
    assert "fidelity (accuracy)" in fig.axes[0].get_title()
    with pytest.raises(InputError, match="max_depth"):
        global_surrogate(model, frame, max_depth=0)
    with pytest.raises(InputError, match="GlobalSurrogate"):
        plots.surrogate_tree(model)


def res_input(frame):
    """The surrogate's encoding of the test frame: a then c one-hot (u, v)."""
    return np.column_stack(
        [frame["a"], (frame["c"] == "u").astype(float), (frame["c"] == "v").astype(float)]
    )
