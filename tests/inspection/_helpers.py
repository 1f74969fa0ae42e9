"""Helpers shared by the inspection tests."""

from __future__ import annotations

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
