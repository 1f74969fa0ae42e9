"""LIME for text: closed forms on toy classifiers, the masking, the lime package."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests._requires import requires
from whybox import Explanation, InputError
from whybox.lime import LimeTextExplainer

DOC = "A good film, a good plot; but the ending was weak."


def _words(text):
    return re.findall(r"\w+", text.lower())


def linear_in_presence(weights, base=0.1):
    """p(positive) = base + sum of the weights of the words present: LIME's own form."""

    def predict_proba(texts):
        p = np.array([base + sum(w for k, w in weights.items() if k in _words(t)) for t in texts])
        return np.c_[1 - p, p]

    return predict_proba


def test_closed_form_when_the_model_is_linear_in_word_presence():
    weights = {"good": 0.4, "weak": -0.25, "plot": 0.05}
    ex = LimeTextExplainer(
        linear_in_presence(weights), ridge=0.0, feature_selection="none", n_perturbations=400,
        random_state=0,
    )(DOC)  # fmt: skip
    names = ["A", "good", "film", "a", "plot", "but", "the", "ending", "was", "weak"]
    assert list(ex.feature_names) == names
    expected = [weights.get(n.lower(), 0.0) for n in names]
    # "A" and "a" are different features; the toy lowercases, so each alone does nothing
    np.testing.assert_allclose(ex.values[0, :, 0], expected, atol=1e-10)
    np.testing.assert_allclose(ex.base_values, [[0.1]], atol=1e-10)
    np.testing.assert_allclose(ex.quality["local_r2"], [[1.0]], atol=1e-12)
    np.testing.assert_allclose(ex.model_output, [[0.1 + 0.4 - 0.25 + 0.05]])
    assert ex.additivity_error[0] < 1e-10
    assert ex.output_space == "probability" and ex.output_names == ("class_1",)
    assert ex.params["spans"][1] == [[2, 6], [15, 19]]  # both "good"s


def test_finds_the_one_word_a_classifier_keys_on():
    def predict_proba(texts):
        p = np.array([0.9 if "good" in _words(t) else 0.2 for t in texts])
        return np.c_[1 - p, p]

    ex = LimeTextExplainer(predict_proba, max_features=3, random_state=0)(DOC)
    assert ex.feature_names[int(np.argmax(np.abs(ex.values[0, :, 0])))] == "good"
    assert ex.values[0, 1, 0] == pytest.approx(0.7, abs=0.02)  # ridge shrinks a little
    assert (ex.values[0, :, 0] != 0).sum() <= 3


def test_positions_instead_of_words_and_a_mask_string():
    seen = []

    def predict_proba(texts):
        seen.extend(texts)
        p = np.array([0.1 + 0.2 * _words(t).count("good") for t in texts])
        return np.c_[1 - p, p]

    ex = LimeTextExplainer(
        predict_proba, bow=False, mask_string="UNK", ridge=0.0, feature_selection="none",
        n_perturbations=300, random_state=0,
    )(DOC)  # fmt: skip
    assert ex.feature_names[1] == "good@2" and ex.feature_names[4] == "good@15"
    expected = np.zeros(len(ex.feature_names))
    expected[[1, 4]] = 0.2  # each occurrence counts on its own
    np.testing.assert_allclose(ex.values[0, :, 0], expected, atol=1e-10)
    assert seen[0] == DOC  # the document itself comes first
    # a perturbation keeps the punctuation and puts UNK where words were removed
    for t in seen[1:20]:
        assert t.count("UNK") + len(re.findall(r"\w+", t.replace("UNK", ""))) == 11
        assert re.sub(r"\w+", "W", t) == re.sub(r"\w+", "W", DOC)


def test_removal_counts_are_uniform_and_words_removed_entirely_in_bow_mode():
    seen = []

    def predict_proba(texts):
        seen.extend(texts)
        return np.tile([0.5, 0.5], (len(texts), 1))

    LimeTextExplainer(predict_proba, n_perturbations=3001, random_state=0)(DOC)
    # bow: 'good' is one feature, so both occurrences go together
    assert all(len(re.findall(r"\bgood\b", t)) in (0, 2) for t in seen)
    # 1..10 of the 10 distinct words removed, each count equally likely: 300 expected
    removed = np.array([10 - len(set(re.findall(r"\w+", t))) for t in seen[1:]])
    counts = np.bincount(removed, minlength=11)
    assert counts[0] == 0 and counts.sum() == 3000
    sigma = np.sqrt(3000 * 0.1 * 0.9)
    assert np.all(np.abs(counts[1:] - 300) < 5 * sigma)


def test_custom_tokenizer_deterministic_and_batch_size_invariant():
    proba = linear_in_presence({"good": 0.4, "weak": -0.2})

    def explain(**kw):
        return LimeTextExplainer(
            proba, tokenizer=str.split, n_perturbations=500, random_state=3, **kw
        )

    a = explain()(DOC)
    b = explain(batch_size=7)(DOC)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.base_values, b.base_values)
    assert a.feature_names[:3] == ("A", "good", "film,")
    assert a.params["spans"][2] == [[7, 12]]
    c = LimeTextExplainer(proba, tokenizer=str.split, n_perturbations=500, random_state=4)(DOC)
    assert not np.array_equal(a.values, c.values)
    # the default seed is 0, and one model call for everything changes nothing
    d = LimeTextExplainer(proba, tokenizer=str.split, n_perturbations=500, batch_size=None)(DOC)
    e = LimeTextExplainer(proba, tokenizer=str.split, n_perturbations=500, random_state=0)(DOC)
    np.testing.assert_array_equal(d.values, e.values)
    assert d.params["random_state"] == 0 and d.params["n_perturbations"] == 500


def test_multiclass_surrogates_add_up_and_class_names():
    def predict_proba(texts):
        g = np.array([float("good" in _words(t)) for t in texts])
        w = np.array([float("weak" in _words(t)) for t in texts])
        p = np.c_[0.2 + 0.3 * g, 0.5 - 0.3 * g + 0.2 * w, 0.3 - 0.2 * w]
        return p

    ex = LimeTextExplainer(
        predict_proba, class_names=["pos", "neu", "neg"], feature_selection="none",
        n_perturbations=500, random_state=0,
    )(DOC)  # fmt: skip
    assert ex.shape == (1, 10, 3) and ex.output_names == ("pos", "neu", "neg")
    np.testing.assert_allclose(ex.values.sum(axis=2), 0.0, atol=1e-10)
    np.testing.assert_allclose(ex.base_values.sum(axis=1), 1.0, atol=1e-10)


def test_json_round_trip_keeps_the_text_and_spans():
    ex = LimeTextExplainer(linear_in_presence({"good": 0.3}), n_perturbations=200, random_state=0)(
        DOC
    )
    back = Explanation.from_dict(json.loads(ex.to_json()))
    assert back.params["text"] == DOC and back.params["spans"] == ex.params["spans"]
    np.testing.assert_array_equal(back.values, ex.values)
    assert list(back.data[0]) == list(ex.feature_names)


def test_agrees_with_the_lime_package_on_the_top_word():
    Reference = requires("lime.lime_text").LimeTextExplainer

    proba = linear_in_presence({"good": 0.35, "weak": -0.3, "ending": 0.1})
    ours = LimeTextExplainer(proba, max_features=3, n_perturbations=1000, random_state=0)(DOC)
    ref = Reference(random_state=0).explain_instance(DOC, proba, num_features=3, num_samples=1000)
    theirs = dict(ref.as_list())
    mine = {n: v for n, v in zip(ours.feature_names, ours.values[0, :, 0], strict=True) if v}
    assert set(mine) == set(theirs) == {"good", "weak", "ending"}
    for word in mine:
        assert mine[word] == pytest.approx(theirs[word], abs=0.03)


def test_bad_input_is_named():
    proba = linear_in_presence({"good": 0.3})
    with pytest.raises(InputError, match="model must be a callable"):
        LimeTextExplainer("model")
    with pytest.raises(InputError, match="tokenizer must be a callable"):
        LimeTextExplainer(proba, tokenizer="split")
    with pytest.raises(InputError, match="kernel_width must be a finite number > 0"):
        LimeTextExplainer(proba, kernel_width=0)
    with pytest.raises(InputError, match="n_perturbations must be an integer >= 2"):
        LimeTextExplainer(proba, n_perturbations=1)
    with pytest.raises(InputError, match="max_features must be a positive integer"):
        LimeTextExplainer(proba, max_features=0)
    ex = LimeTextExplainer(proba, n_perturbations=20)
    with pytest.raises(InputError, match="text must be a str"):
        ex(["a list", "of texts"])
    with pytest.raises(InputError, match="text has no words"):
        ex(" ,;! ")
    with pytest.raises(InputError, match=r"np\.c_\[1 - p, p\]"):
        LimeTextExplainer(lambda t: np.full(len(t), 0.5), n_perturbations=20)(DOC)
    with pytest.raises(InputError, match="returned \\(1, 2\\) for 20 inputs"):
        LimeTextExplainer(lambda t: np.array([[0.5, 0.5]]), n_perturbations=20)(DOC)
    with pytest.raises(InputError, match="class_names has 3 names"):
        LimeTextExplainer(proba, class_names=["a", "b", "c"], n_perturbations=20)(DOC)
    with pytest.raises(InputError, match="does not occur in the text"):
        LimeTextExplainer(proba, tokenizer=lambda t: t.lower().split(), n_perturbations=20)(DOC)
