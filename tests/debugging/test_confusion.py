"""confusion_analysis: hand-computed counts and metrics, scikit-learn agreement (a property
test), JSON, bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from whybox import InputError
from whybox.debugging import ConfusionAnalysis, confusion_analysis


def test_confusion_hand_computed():
    y_true = ["cat", "cat", "cat", "dog", "dog", "bird", "bird", "bird", "bird", "cat"]
    y_pred = ["cat", "dog", "cat", "dog", "cat", "bird", "dog", "dog", "bird", "dog"]
    ca = confusion_analysis(y_true, y_pred)
    assert isinstance(ca, ConfusionAnalysis)
    assert ca.labels == ("bird", "cat", "dog")  # sorted
    # rows: true bird, cat, dog; columns: predicted bird, cat, dog
    expected = np.array([[2, 0, 2], [0, 2, 2], [0, 1, 1]])
    np.testing.assert_array_equal(ca.matrix, expected)
    np.testing.assert_allclose(ca.normalized, expected / expected.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(ca.support, [4, 4, 2])
    # precision = TP / column sum: bird 2/2, cat 2/3, dog 1/5
    np.testing.assert_allclose(ca.precision, [1.0, 2 / 3, 1 / 5])
    # recall = TP / row sum: 2/4, 2/4, 1/2
    np.testing.assert_allclose(ca.recall, [0.5, 0.5, 0.5])
    np.testing.assert_allclose(ca.f1, [2 / 3, 4 / 7, 2 / 7])
    assert ca.accuracy == pytest.approx(5 / 10)
    pairs = [(p.true, p.predicted, p.count, p.share) for p in ca.confused_pairs]
    # counts 2, 2 (bird->dog share 0.5, cat->dog share 0.5), then dog->cat (1, share 0.5)
    assert pairs == [("bird", "dog", 2, 0.5), ("cat", "dog", 2, 0.5), ("dog", "cat", 1, 0.5)]
    assert ca.n_samples == 10


def test_confusion_pair_ranking_uses_share_on_ties():
    # a->b: 2 of 4 a's (0.5); c->b: 2 of 2 c's (1.0) -> c->b first
    ca = confusion_analysis(list("aaaacc"), list("aabbbb"))
    assert [(p.true, p.predicted) for p in ca.confused_pairs] == [("c", "b"), ("a", "b")]


def test_confusion_labels_with_unseen_class_gives_zeros_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ca = confusion_analysis([0, 1, 1], [0, 0, 1], labels=[1, 0, 2])
    assert ca.labels == ("1", "0", "2")
    np.testing.assert_array_equal(ca.matrix, [[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(ca.normalized[2], [0, 0, 0])
    assert ca.precision[2] == 0 and ca.recall[2] == 0 and ca.f1[2] == 0
    ref = metrics.precision_recall_fscore_support(
        [0, 1, 1], [0, 0, 1], labels=[1, 0, 2], zero_division=0
    )
    for got, want in zip((ca.precision, ca.recall, ca.f1, ca.support), ref, strict=True):
        np.testing.assert_allclose(got, want)


def test_confusion_agrees_with_sklearn_on_series():
    rng = np.random.default_rng(3)
    y_true = pd.Series(rng.integers(0, 5, size=200))
    y_pred = pd.Series(np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 5, size=200)))
    ca = confusion_analysis(y_true, y_pred)
    np.testing.assert_array_equal(ca.matrix, metrics.confusion_matrix(y_true, y_pred))
    ref = metrics.precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    for got, want in zip((ca.precision, ca.recall, ca.f1, ca.support), ref, strict=True):
        np.testing.assert_allclose(got, want)
    assert ca.accuracy == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    frame = ca.to_frame()
    assert list(frame.index) == ["0", "1", "2", "3", "4"]
    np.testing.assert_allclose(frame["recall"], ref[1])


@pytest.mark.filterwarnings("ignore:A single label")
@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=1, max_size=40)
)
def test_confusion_matches_sklearn_property(pairs):
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    ca = confusion_analysis(y_true, y_pred)
    labels = sorted(set(y_true) | set(y_pred))
    np.testing.assert_array_equal(
        ca.matrix, metrics.confusion_matrix(y_true, y_pred, labels=labels)
    )
    ref = metrics.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for got, want in zip((ca.precision, ca.recall, ca.f1, ca.support), ref, strict=True):
        np.testing.assert_allclose(got, want)
    assert ca.matrix.sum() == len(pairs)
    assert sum(p.count for p in ca.confused_pairs) == len(pairs) - np.trace(ca.matrix)


def test_confusion_to_dict_is_json():
    ca = confusion_analysis([True, False, True], [True, True, True])
    d = json.loads(json.dumps(ca.to_dict()))
    assert d["labels"] == ["False", "True"]
    assert d["matrix"] == [[0, 1], [0, 2]]
    assert d["confused_pairs"] == [{"true": "False", "predicted": "True", "count": 1, "share": 1.0}]
    assert ca.pairs_frame().shape == (1, 4)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "kwargs", "match"),
    [
        ([0, 1], [0], {}, "y_true has 2 labels but y_pred has 1"),
        ([], [], {}, "y_true is empty"),
        ([0, np.nan], [0, 1], {}, "y_true has 1 missing"),
        ([[0, 1], [1, 0]], [0, 1], {}, "must be 1-D"),
        ([0, 1], [0, 2], {"labels": [0, 1]}, r"y_pred holds labels \[2\]"),
        ([0, 1], [0, 1], {"labels": [0, 0, 1]}, "repeats"),
        ([0, 1], [0, 1], {"labels": []}, "labels is empty"),
        ([0, "a"], [0, "a"], {}, "cannot be ordered"),
    ],
)
def test_confusion_bad_input(y_true, y_pred, kwargs, match):
    with pytest.raises(InputError, match=match):
        confusion_analysis(y_true, y_pred, **kwargs)
