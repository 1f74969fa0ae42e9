"""Fixtures shared by the anchor tests."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def colour_pipeline():
    """A frame with a text column ``color`` and a numeric ``size``, whether the colour is
    red, and a one-hot + decision tree pipeline that predicts exactly that."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"color": rng.choice(["red", "green", "blue"], size=300), "size": rng.normal(size=300)}
    )
    y = frame["color"] == "red"
    pipe = make_pipeline(
        ColumnTransformer([("c", OneHotEncoder(), ["color"])], remainder="passthrough"),
        DecisionTreeClassifier(random_state=0),
    ).fit(frame, y)
    return frame, y, pipe
