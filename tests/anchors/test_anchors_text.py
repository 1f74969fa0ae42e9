"""Anchors for text.

Ground truths: toy classifiers keyed on words, whose anchors, precision and coverage
follow in closed form from the perturbation distribution (each distinct word outside
the anchor kept with probability 1/2), checked also by enumerating every keep pattern
and on fresh perturbations drawn here.
"""

import itertools
import json
import math
import re

import numpy as np
import pytest

from whybox import InputError
from whybox.anchors import AnchorText

TAU = 0.95
INTENSIFIERS = ("really", "truly", "so", "very", "utterly")
REVIEW = "a really truly terrible plot so very utterly dull"


def _words(text):
    return set(re.findall(r"\w+", text))


def _keyed(word):
    """P(negative, positive): negative exactly when ``word`` is in the text."""

    def predict(texts):
        neg = np.array([word in _words(t) for t in texts], dtype=float)
        return np.column_stack([neg, 1 - neg])

    return predict


def _almost(texts):
    """Negative when 'terrible' is in the text with at least one intensifier."""
    out = []
    for t in texts:
        w = _words(t)
        out.append("neg" if "terrible" in w and w & set(INTENSIFIERS) else "pos")
    return out


def test_one_word_model_anchors_that_word():
    explainer = AnchorText(_keyed("terrible"), class_names=["negative", "positive"], random_state=0)
    a = explainer("The plot was terrible but the actors were fine.")[0]
    assert a.conditions == ("contains 'terrible'",) and a.feature_names == ("terrible",)
    assert a.prediction == "negative" and a.meets_threshold
    assert a.precision == 1.0 and a.coverage == 0.5  # one word kept with probability 1/2
    assert str(a) == "IF contains 'terrible' THEN 'negative' (precision 1.00, coverage 0.50)"
    assert len(a.examples_same) == 10 and len(a.examples_different) == 0
    for example in a.examples_same:
        assert "terrible" in _words(example) and example.endswith(".")
        # every other word is kept or masked, the text between words is untouched
        assert re.fullmatch(r"(The|UNK) (plot|UNK) (was|UNK) terrible (but|UNK) .*\.", example)
    assert a.method == "anchor_text" and a.params["mask_string"] == "UNK"
    json.dumps(a.to_dict(), allow_nan=False)


def test_two_words_needed_together():
    def predict(texts):
        return np.array([int({"not", "good"} <= _words(t)) for t in texts])

    a = AnchorText(predict, random_state=0)("the movie was not good at all")[0]
    assert set(a.feature_names) == {"not", "good"}
    assert a.coverage == 0.25 and a.precision == 1.0 and a.prediction == "1"


def test_precision_below_one_matches_its_closed_form():
    explainer = AnchorText(_almost, random_state=0)
    a = explainer(REVIEW)[0]
    # with 'terrible' kept the prediction changes only when all five intensifiers are
    # removed: precision 1 - 1/32, coverage 1/2
    exact = 1 - 0.5 ** len(INTENSIFIERS)
    assert a.conditions == ("contains 'terrible'",) and a.prediction == "neg"
    assert a.meets_threshold and a.coverage == 0.5
    assert a.precision_bounds[0] <= exact <= a.precision_bounds[1]
    assert a.precision_bounds[0] >= TAU
    # enumeration over every keep pattern of the other distinct words agrees
    others = sorted(_words(REVIEW) - {"terrible"})
    texts = []
    for keep in itertools.product([True, False], repeat=len(others)):
        kept = {w for w, k in zip(others, keep, strict=True) if k} | {"terrible"}
        texts.append(" ".join(w if w in kept else "UNK" for w in REVIEW.split()))
    assert np.mean(np.array(_almost(texts)) == "neg") == exact
    # 5,000 fresh perturbations drawn here clear the threshold minus 3 binomial sd
    rng = np.random.default_rng(99)
    keep = rng.random((5000, len(others))) < 0.5
    fresh = [
        " ".join(w if w == "terrible" or k[others.index(w)] else "UNK" for w in REVIEW.split())
        for k in keep
    ]
    precision = np.mean(np.array(_almost(fresh)) == "neg")
    assert precision >= TAU - 3 * math.sqrt(TAU * (1 - TAU) / 5000)
    # the examples that change the prediction lost all five intensifiers
    assert len(a.examples_different) > 0
    for example in a.examples_different:
        assert "terrible" in _words(example) and not _words(example) & set(INTENSIFIERS)


def test_same_seed_same_anchor_whatever_the_batch_size():
    def fields(a):
        d = a.to_dict()
        for key in ("time_seconds", "n_model_calls", "params"):
            d.pop(key)
        return d

    first = AnchorText(_almost, random_state=5)(REVIEW)[0]
    again = AnchorText(_almost, random_state=5)(REVIEW)[0]
    small = AnchorText(_almost, random_state=5, batch_size=64)(REVIEW)[0]
    assert fields(first) == fields(again) == fields(small)
    assert small.n_model_calls > first.n_model_calls


def test_drop_perturbation_and_custom_tokenizer():
    a = AnchorText(_keyed("awful"), perturbation="drop", random_state=0)("an awful, awful day")[0]
    # a repeated word is one feature: both copies stay
    assert a.conditions == ("contains 'awful'",)
    for example in a.examples_same:
        assert "UNK" not in example and example.count("awful") == 2

    def predict(texts):
        return np.array(["neg" if "Terrible!!!" in t.split() else "pos" for t in texts])

    b = AnchorText(predict, tokenizer=str.split, random_state=0)("Terrible!!! really bad")[0]
    assert b.conditions == ("contains 'Terrible!!!'",) and b.prediction == "neg"
    assert all(len(e.split(" ")) == 3 for e in b.examples_same)


def test_prediction_that_holds_everywhere_gives_the_empty_anchor():
    a = AnchorText(lambda t: np.ones(len(t)), n_examples=0, random_state=0)("a b c")[0]
    assert a.conditions == () and a.coverage == 1.0 and a.meets_threshold
    assert a.examples_same.shape == (0,) and a.examples_different.shape == (0,)


def test_several_texts_give_one_anchor_each():
    explainer = AnchorText(_keyed("terrible"), random_state=0)
    texts = ["a terrible film", "a fine film", "terrible, truly terrible"]
    anchors = explainer(texts)
    assert [a.instance for a in anchors] == texts
    for a, text in zip(anchors, texts, strict=True):
        [one] = explainer(text)  # a str is one text
        assert (a.conditions, a.precision, a.n_model_rows) == (
            one.conditions,
            one.precision,
            one.n_model_rows,
        )
    assert explainer(tuple(texts))[1].conditions == anchors[1].conditions


def test_bad_input_is_named():
    with pytest.raises(InputError, match="model must be a function"):
        AnchorText("model")
    with pytest.raises(InputError, match="tokenizer must be a function"):
        AnchorText(_almost, tokenizer=3)
    with pytest.raises(InputError, match="perturbation must be one of"):
        AnchorText(_almost, perturbation="bert")
    with pytest.raises(InputError, match="mask_string must be a str"):
        AnchorText(_almost, mask_string=None)
    with pytest.raises(InputError, match="threshold must be a number strictly between"):
        AnchorText(_almost, threshold=1)
    explainer = AnchorText(_almost)
    with pytest.raises(InputError, match="texts must be a str or a list of str, got int"):
        explainer(3)
    with pytest.raises(InputError, match="texts must hold str only, got int 3"):
        explainer(["a text", 3])
    with pytest.raises(InputError, match="texts is empty"):
        explainer([])
    with pytest.raises(InputError, match="text has no words"):
        explainer("?!")
    with pytest.raises(InputError, match=r"shape \(1, 2, 1\) for 1 texts"):
        AnchorText(lambda t: np.zeros((len(t), 2, 1)))("good")
    with pytest.raises(InputError, match=r"shape \(1,\) for 100 texts"):
        AnchorText(lambda t: np.zeros(1))("good day")
    with pytest.raises(InputError, match="its first output had the form 'labels'"):
        AnchorText(lambda t: np.zeros(1) if len(t) == 1 else np.zeros((len(t), 2)))("good day")
    with pytest.raises(InputError, match="class_names has 2 names but model predicts"):
        AnchorText(lambda t: np.tile([0.1, 0.2, 0.7], (len(t), 1)), class_names=["a", "b"])(
            "good day"
        )
    with pytest.raises(InputError, match="tokenizer must return a list of str"):
        AnchorText(_almost, tokenizer=lambda s: [1, 2])("good day")
