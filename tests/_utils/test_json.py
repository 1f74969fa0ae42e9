"""The one JSON rule: strict JSON, NaN as null, infinities as "inf"/"-inf", read back exactly."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from whybox import _utils as wu


@pytest.mark.parametrize(
    ("value", "written"),
    [(1.5, 1.5), (math.nan, None), (math.inf, "inf"), (-math.inf, "-inf"), (np.float32(2), 2.0)],
)
def test_numbers_follow_the_rule_and_read_back(value, written):
    assert wu.json_number(value) == written
    back = wu.from_json_number(json.loads(json.dumps(wu.json_number(value))))
    assert back == value or (math.isnan(back) and math.isnan(value))


def test_nested_values_become_strict_json():
    value = {
        1: np.array([[1.0, np.nan], [np.inf, -np.inf]]),
        "ints": np.arange(3),
        "flag": np.bool_(True),
        "pair": (np.int64(2), "a"),
        "estimator": object,
    }
    out = wu.json_value(value)
    text = json.dumps(out, allow_nan=False)  # raises on any NaN or infinity left
    assert out["1"] == [[1.0, None], ["inf", "-inf"]]
    assert out["ints"] == [0, 1, 2] and out["flag"] is True and out["pair"] == [2, "a"]
    assert out["estimator"] == repr(object)
    assert wu.json_dumps(value) == text


def test_arrays_read_back_with_their_kind():
    floats = np.array([[1.0, np.nan], [np.inf, -2.5]])
    back = wu.from_json_array(json.loads(wu.json_dumps(floats)))
    np.testing.assert_array_equal(back, floats)
    assert back.dtype == np.float64
    assert wu.from_json_array([[1, 2], [3, 4]]).dtype == np.int64
    assert wu.from_json_array(["a", "b"]).tolist() == ["a", "b"]
    assert wu.from_json_array([1, 2], np.float64).dtype == np.float64
    assert wu.from_json_array([]).shape == (0,)


def test_frames_and_series_read_back_column_by_column():
    frame = pd.DataFrame(
        {"n": [1, 2], "name": ["x", "y"], "rate": [np.nan, np.inf], "small": [True, False]},
        index=pd.Index(["g1", "g2"], name="group"),
    )
    back = wu.from_json_frame(json.loads(wu.json_dumps(frame)))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert back["n"].dtype == np.int64 and back["small"].dtype == bool
    series = pd.Series([0.5, np.nan], index=["a", "b"], name="share")
    pd.testing.assert_series_equal(wu.from_json_series(json.loads(wu.json_dumps(series))), series)
