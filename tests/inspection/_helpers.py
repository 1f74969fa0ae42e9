"""Helpers shared by the inspection tests."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd


def additive(X):
    """An additive model of the first three columns: sin(x0) + x1^2 + 0.5 x2."""
    X = np.asarray(X, dtype=np.float64)
    return np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2]


def colour_pipeline(seed, n, levels, columns, n_trees):
    """A random forest behind a one-hot ColumnTransformer, fitted on a text column "color"
    (``levels``) and two numeric ``columns``; the label is colour == ``levels[0]`` XOR
    ``columns[0] > 0``, and the last column is dropped by the pipeline.

    Returns the fitted pipeline, the frame, the labels and the generator drawn from.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "color": rng.choice(levels, size=n),
            columns[0]: rng.normal(size=n),
            columns[1]: rng.normal(size=n),
        }
    )
    y = ((df["color"] == levels[0]) ^ (df[columns[0]] > 0)).astype(int)
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(), ["color"]), ("num", "passthrough", [columns[0]])],
        remainder="drop",
    )
    pipe = Pipeline([("pre", pre), ("rf", RandomForestClassifier(n_trees, random_state=0))])
    return pipe.fit(df, y), df, y, rng


def assert_same_fields(a, b, skip=()):
    """Equal fields, recursively: arrays with ``assert_array_equal`` (NaN equals NaN),
    floats NaN-aware, nested results field by field."""
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        if f.name not in skip:
            _assert_same(getattr(a, f.name), getattr(b, f.name), f.name)


def _assert_same(x, y, where):
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        assert_same_fields(x, y)
    elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=where)
        assert np.shape(x) == np.shape(y), where
    elif isinstance(x, dict):
        assert isinstance(y, dict) and list(x) == list(y), where
        for k in x:
            _assert_same(x[k], y[k], f"{where}[{k!r}]")
    elif isinstance(x, (tuple, list)):
        assert type(x) is type(y) and len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            _assert_same(u, v, f"{where}[{i}]")
    elif isinstance(x, (float, np.floating)) and math.isnan(x):
        assert isinstance(y, (float, np.floating)) and math.isnan(y), (where, y)
    else:
        assert x == y, (where, x, y)


def assert_round_trip(result, skip=()):
    """``from_dict(json.loads(to_json()))`` gives back equal fields, and the notebook view
    is a non-empty HTML string."""
    back = type(result).from_dict(json.loads(result.to_json()))
    assert_same_fields(result, back, skip)
    html = result._repr_html_()
    assert isinstance(html, str) and html.strip()
    return back
