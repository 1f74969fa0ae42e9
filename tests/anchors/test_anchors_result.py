"""The Anchor result: frozen, strict JSON, read back by from_dict, a one-row frame."""

import json

import numpy as np
import pandas as pd
import pytest

from whybox.adapters import adapt_model
from whybox.anchors import Anchor, AnchorTabular, AnchorText


def _anchor(**fields):
    base = dict(
        conditions=(),
        features=(),
        feature_names=(),
        prediction="a",
        precision=1.0,
        precision_bounds=(0.9, 1.0),
        n_precision_samples=10,
        coverage=1.0,
        meets_threshold=False,
        instance=np.array([np.nan, np.inf]),
        examples_same=np.empty((0, 2)),
        examples_different=np.empty((0, 2)),
        columns=("a", "b"),
        params={"threshold": 0.95},
    )
    return Anchor(**{**base, **fields})


def _assert_same(a, b):
    """Every field of two anchors equal; arrays NaN-aware, with their dtype and shape."""
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape
            if x.dtype == object:
                assert pd.isna(x).tolist() == pd.isna(y).tolist()
                np.testing.assert_array_equal(x[~pd.isna(x)], y[~pd.isna(y)])
            else:
                np.testing.assert_array_equal(x, y)
        else:
            assert x == y, name


def test_anchor_is_frozen_and_strict_json():
    a = _anchor()
    with pytest.raises(AttributeError):
        a.precision = 0.5
    assert str(a).endswith("; below the precision threshold 0.95")
    assert str(a).startswith("IF (always) THEN 'a'")
    assert json.loads(a.to_json())["instance"] == [None, "inf"]
    back = Anchor.from_dict(json.loads(a.to_json()))
    _assert_same(a, back)
    assert back.instance.dtype == np.float64 and np.isnan(back.instance[0])
    assert back.examples_same.shape == (0, 2)


def test_tabular_anchor_round_trips_through_json():
    X = np.random.default_rng(0).normal(size=(200, 3))
    X[5, 1] = np.nan
    model = adapt_model(
        lambda Z: (np.asarray(Z, dtype=float)[:, 0] > 0).astype(float)[:, None],
        task="classification",
        output_names=["pos"],
    )
    [a] = AnchorTabular(model, X, random_state=0)(X[5])
    assert len(a.examples_same) > 0
    back = Anchor.from_dict(json.loads(a.to_json()))
    _assert_same(a, back)
    assert back.to_dict() == a.to_dict()


def test_mixed_frame_anchor_round_trips_through_json(colour_pipeline):
    frame, _, pipe = colour_pipeline
    explainer = AnchorTabular(pipe, frame, n_examples=3, random_state=0)
    [a] = explainer(frame.iloc[[0]])
    assert a.instance.dtype == object
    back = Anchor.from_dict(json.loads(a.to_json()))
    _assert_same(a, back)
    np.testing.assert_array_equal(explainer.holds(back, frame), explainer.holds(a, frame))


def test_text_anchor_round_trips_through_json():
    def predict(texts):
        return np.array([int("bad" in t.split()) for t in texts])

    [a] = AnchorText(predict, n_examples=4, random_state=0)("a bad day")
    back = Anchor.from_dict(json.loads(a.to_json()))
    _assert_same(a, back)
    assert back.instance == "a bad day" and back.examples_same.dtype == object


def test_to_frame_is_a_one_row_summary_that_stacks():
    a = _anchor(
        conditions=("x > 1", "y <= 2"),
        features=(0, 1),
        feature_names=("x", "y"),
        bins=((1, 3), (0, 2)),
        meets_threshold=True,
        precision=0.97,
        coverage=0.25,
    )
    frame = a.to_frame()
    assert frame.shape == (1, 10)
    assert frame.loc[0, "rule"] == "x > 1 AND y <= 2" == a.rule
    assert frame.loc[0, "precision_lower"] == 0.9 and frame.loc[0, "n_conditions"] == 2
    both = pd.concat([a.to_frame(), _anchor().to_frame()], ignore_index=True)
    assert both["rule"].tolist() == ["x > 1 AND y <= 2", "(always)"]
    html = a._repr_html_()
    assert isinstance(html, str) and "Anchor" in html and "x &gt; 1 AND y &lt;= 2" in html
