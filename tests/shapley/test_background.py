"""Background summaries: WeightedBackground and summarize_background."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from whybox import InputError, WeightedBackground, summarize_background


def test_summarize_background_kmeans_and_sample():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(
        {
            "x": np.concatenate([rng.normal(0, 0.1, 150), rng.normal(10, 0.1, 50)]),
            "flag": np.repeat([0, 1], [150, 50]),
            "color": np.repeat(["blue", "red"], [150, 50]),
        }
    )
    summary = summarize_background(frame, 2, random_state=0)
    assert list(summary.data.columns) == ["x", "flag", "color"]
    assert summary.data.dtypes.tolist() == frame.dtypes.tolist()
    np.testing.assert_allclose(np.sort(summary.weights), [0.25, 0.75])
    # the two clusters sit at the two modes; values are ones the data takes
    assert set(np.round(np.sort(summary.data["x"].to_numpy()))) == {0.0, 10.0}
    assert set(summary.data["x"]) <= set(frame["x"])
    assert set(summary.data["flag"]) <= {0, 1}
    sample = summarize_background(frame.to_numpy(), 5, method="sample", random_state=0)
    assert sample.data.shape == (5, 3)
    np.testing.assert_allclose(sample.weights, 0.2)
    small = summarize_background(frame[:3], 10)
    assert small.data.shape == (3, 3)


def test_background_errors():
    bg = np.random.default_rng(0).normal(size=(30, 8))
    with pytest.raises(InputError, match="weights must be 4 finite non-negative"):
        WeightedBackground(bg[:4], [1, -1, 0, 1])
    with pytest.raises(InputError, match="n_rows must be a positive integer"):
        summarize_background(bg, 0)
    with pytest.raises(InputError, match="method must be one of"):
        summarize_background(bg, 5, method="medoids")


@pytest.mark.parametrize("as_frame", [False, True])
def test_weighted_background_round_trips_through_strict_json(as_frame):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 3))
    X[0, 1] = np.nan
    data = pd.DataFrame(X, columns=["a", "b", "c"]) if as_frame else X
    summary = summarize_background(data, 6, random_state=0)
    back = WeightedBackground.from_dict(json.loads(summary.to_json()))
    assert type(back.data) is type(summary.data)
    np.testing.assert_array_equal(np.asarray(back.data), np.asarray(summary.data))
    np.testing.assert_array_equal(back.weights, summary.weights)
    if as_frame:
        assert list(back.data.columns) == ["a", "b", "c"]
    frame = summary.to_frame()
    assert frame.shape == (6, 4) and frame.columns[-1] == "weight"
    html = summary._repr_html_()
    assert isinstance(html, str) and "WeightedBackground" in html
