"""Helpers shared by the tests of whybox.evaluate, whybox.fairness and
whybox.counterfactuals: the round trip of a result through strict JSON."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier


def assert_same(a, b, where="result"):
    """Equal values, recursively: results field by field, arrays with
    ``assert_array_equal`` (NaN equals NaN), frames and series exactly (dtypes too,
    but for frames without rows)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, pd.DataFrame):
        # an empty column holds no value to type: its dtype does not survive JSON
        pd.testing.assert_frame_equal(a, b, obj=where, check_dtype=len(a) > 0)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert np.shape(a) == np.shape(b), where
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), (where, a, b)
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, (float, np.floating)) and math.isnan(a):
        assert isinstance(b, (float, np.floating)) and math.isnan(b), (where, b)
    else:
        assert a == b, (where, a, b)


def _not_strict(token):
    raise AssertionError(f"the JSON holds {token}, which strict JSON does not allow")


def assert_round_trip(result):
    """``from_dict(json.loads(to_json()))`` gives back equal fields, the JSON is strict,
    and the notebook view is a non-empty HTML string. Returns the result read back."""
    text = result.to_json()
    back = type(result).from_dict(json.loads(text, parse_constant=_not_strict))
    assert_same(result, back)
    html = result._repr_html_()
    assert isinstance(html, str) and html.strip()
    return back


def cancer_case(n_rows):
    """(X, y, model): the first ``n_rows`` rows of breast cancer and a gradient-boosted
    classifier fitted on them."""
    d = load_breast_cancer(as_frame=True)
    X, y = d.data.iloc[:n_rows], d.target.iloc[:n_rows]
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    return X, y, model
