"""TCAV: closed-form directional derivatives, significance, determinism, the result type."""

import json
import warnings

import numpy as np
import pytest
from scipy.stats import binom

from tests.concepts._helpers import D, E, QuadraticHead, U, W, torch
from whybox import InputError
from whybox.concepts import TCAV, TCAVResult
from whybox.concepts._tcav import sign_flip_test

nn = torch.nn


@pytest.fixture(scope="module")
def tcav_data():
    rng = np.random.default_rng(0)
    random = rng.normal(size=(128, D))
    return {
        "inputs": rng.normal(size=(30, D)),
        "aligned": rng.normal(size=(64, D)) + 2.0 * E[0],
        "random": random,
        # A "concept" that is the random examples themselves: no direction to find.
        "no_concept": random,
    }


@pytest.fixture(scope="module")
def tcav_result(quad, tcav_data):
    d = tcav_data
    tcav = TCAV(quad, "encoder", n_random=16, random_state=0)
    concepts = {"aligned": d["aligned"], "no_concept": d["no_concept"]}
    return tcav(d["inputs"], concepts, d["random"], target=0)


def test_tcav_result_shapes_and_frame(tcav_result):
    r = tcav_result
    assert isinstance(r, TCAVResult)
    assert r.concepts == ("aligned", "no_concept")
    assert r.layer == "encoder"
    assert r.scores.shape == (2, 16) and r.random_scores.shape == (16,)
    assert r.cavs.shape == (2, 16, D)
    np.testing.assert_allclose(np.linalg.norm(r.cavs, axis=2), 1.0, atol=1e-12)
    frame = r.to_frame()
    assert list(frame.index) == ["aligned", "no_concept"]
    np.testing.assert_allclose(frame["tcav_score"], r.scores.mean(axis=1))
    assert r.params["random_state"] == 0 and r.params["target"] == [0] * 30
    assert r.to_dict()["significant"] == [bool(s) for s in r.significant]


def test_tcav_scores_equal_the_closed_form_directional_derivative(tcav_result, tcav_data):
    # The encoder is the identity, so h = x and grad_h f = w + (u.h) u.
    h = tcav_data["inputs"]
    grad = W[None, :] + (h @ U)[:, None] * U[None, :]
    expected = (np.einsum("crd,nd->crn", tcav_result.cavs, grad) > 0).mean(axis=2)
    np.testing.assert_array_equal(tcav_result.scores, expected)


def test_tcav_aligned_concept_scores_near_one_and_is_significant(tcav_result):
    r = tcav_result
    # Each run's CAV comes from its own 4 concept and 4 random examples: noisy, but
    # every run finds most inputs' outputs rising along the concept.
    assert r.scores[0].mean() > 0.95 and r.scores[0].min() > 0.8
    assert r.p_values[0] < 0.01 / 2
    assert r.significant[0]
    # Two unit Gaussians 2 apart: the Bayes accuracy is Phi(1) = 0.84, chance is 0.5;
    # a classifier from 4 + 4 examples reaches less.
    assert 0.6 < r.cav_accuracies[0].mean() < 0.84
    assert 0.4 < r.random_cav_accuracies.mean() < 0.6
    # The random-vs-random scores spread out (the null distribution is not degenerate).
    assert r.random_scores.std() > 0.1
    assert r.params["n_positives_per_run"] == 4 and r.params["n_negatives_per_run"] == 4


def test_tcav_cav_recovers_the_planted_direction(tcav_result):
    # The runs' CAVs are noisy estimates (40 examples per side); their mean is close.
    assert tcav_result.mean_cavs[0] @ E[0] > 0.9


def test_tcav_concept_like_the_random_examples_is_not_significant(tcav_result):
    r = tcav_result
    assert not r.significant[1]
    assert r.p_values[1] > 0.05
    assert 0.4 < r.cav_accuracies[1].mean() < 0.6


def test_tcav_layer_without_influence_gives_zero_scores_and_p_one(quad, tcav_data):
    class Ignores(nn.Module):
        def __init__(self):
            super().__init__()
            self.probe = nn.Linear(D, D)
            self.out = nn.Linear(D, 2)

        def forward(self, x):
            self.probe(x)  # computed, never used: zero gradient
            return self.out(x)

    torch.manual_seed(0)
    model = Ignores().double().eval()
    d = tcav_data
    r = TCAV(model, "probe", n_random=6, random_state=1)(
        d["inputs"], {"aligned": d["aligned"]}, d["random"], target=1
    )
    np.testing.assert_array_equal(r.scores, 0.0)
    np.testing.assert_array_equal(r.random_scores, 0.0)
    assert r.p_values[0] == 1.0 and not r.significant[0]


def test_tcav_is_deterministic_and_batch_invariant(quad, tcav_data, tcav_result):
    d = tcav_data
    concepts = {"aligned": d["aligned"], "no_concept": d["no_concept"]}
    again = TCAV(quad, quad.encoder, n_random=16, random_state=0, batch_size=7)(
        d["inputs"], concepts, d["random"], target=0
    )
    np.testing.assert_array_equal(again.scores, tcav_result.scores)
    np.testing.assert_allclose(again.cavs, tcav_result.cavs, atol=1e-12)
    np.testing.assert_array_equal(again.p_values, tcav_result.p_values)


def test_tcav_sgd_classifier_and_linear_model_closed_form(tcav_data):
    # A linear head: grad_h f = w for every input, so each run scores 1 if v.w > 0 else 0.
    model = QuadraticHead(W, np.zeros(D)).double().eval()
    d = tcav_data
    r = TCAV(model, "encoder", n_random=6, random_state=3, classifier="sgd")(
        d["inputs"], {"aligned": d["aligned"]}, d["random"], target=0
    )
    np.testing.assert_array_equal(r.scores[0], (r.cavs[0] @ W > 0).astype(float))
    np.testing.assert_array_equal(r.scores[0], 1.0)
    assert r.params["classifier"] == "sgd"


def test_tcav_errors(quad, tcav_data):
    d = tcav_data
    with pytest.raises(InputError, match="'encodr' is not a submodule"):
        TCAV(quad, "encodr")
    with pytest.raises(InputError, match="n_random must be an integer >= 2, got 1"):
        TCAV(quad, "encoder", n_random=1)
    with pytest.raises(InputError, match="classifier must be one of"):
        TCAV(quad, "encoder", classifier="svm")
    with pytest.raises(InputError, match="significance must be a number in"):
        TCAV(quad, "encoder", significance=1.5)
    tcav = TCAV(quad, "encoder", n_random=6, random_state=0)
    with pytest.raises(
        InputError,
        match=r"concepts\['few'\] has 11 example\(s\) but n_random=6 runs need at least 12",
    ):
        tcav(d["inputs"], {"few": d["aligned"][:11]}, d["random"])
    with pytest.raises(InputError, match="concepts must be a non-empty dict"):
        tcav(d["inputs"], {}, d["random"])
    with pytest.raises(InputError, match="random_examples has 23 example.* at least 24"):
        tcav(d["inputs"], {"a": d["aligned"]}, d["random"][:23])
    with pytest.raises(InputError, match=r"concepts\['a'\] has examples of shape \(5,\)"):
        tcav(d["inputs"], {"a": d["aligned"][:, :5]}, d["random"])
    with pytest.raises(InputError, match="has 2 input\\(s\\) per example but X has 1"):
        tcav(d["inputs"], {"a": (d["aligned"], d["aligned"])}, d["random"])
    with pytest.raises(InputError, match="target 7 is out of range"):
        tcav(d["inputs"], {"a": d["aligned"]}, d["random"], target=7)


def test_tcav_result_is_a_result_with_a_strict_json_round_trip(tcav_result):
    r = tcav_result
    assert r.significance == 0.05
    text = r.to_json()
    assert "NaN" not in text and "Infinity" not in text
    back = TCAVResult.from_dict(json.loads(text))
    assert back.concepts == r.concepts and back.layer == r.layer
    for name in ("scores", "random_scores", "cavs", "cav_accuracies", "random_cav_accuracies"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name))
    np.testing.assert_array_equal(back.p_values, r.p_values)
    np.testing.assert_array_equal(back.significant, r.significant)
    assert back.significance == r.significance and back.params == r.params
    # a NaN p-value is written as null and read back as NaN
    nan_p = TCAVResult.from_dict({**r.to_dict(), "p_values": [None, 0.5]})
    assert np.isnan(nan_p.p_values[0]) and nan_p.p_values[1] == 0.5
    html = r._repr_html_()
    assert isinstance(html, str) and "aligned" in html


# ---------------------------------------------------------------------- significance
def test_sign_flip_test_equals_the_binomial_closed_form():
    # differences of +-1: the signed sum is 2B - n with B ~ Binomial(n, 1/2) under the null
    rng = np.random.default_rng(0)
    for n, n_plus in [(6, 6), (10, 8), (12, 9), (16, 8)]:
        d = np.r_[np.ones(n_plus), -np.ones(n - n_plus)]
        observed = abs(2 * n_plus - n)
        b = np.arange(n + 1)
        exact = binom.pmf(b, n, 0.5)[np.abs(2 * b - n) >= observed].sum()
        assert sign_flip_test(d, rng) == pytest.approx(exact, abs=1e-12)
    assert sign_flip_test(np.zeros(8), rng) == 1.0
    # zeros change nothing: 6 positive differences and 4 zeros give 2 / 2**6
    assert sign_flip_test(np.r_[np.full(6, 0.3), np.zeros(4)], rng) == pytest.approx(2 / 2**6)
    # above 16 runs: Monte Carlo over 2**16 sign choices, within its standard error
    d = np.r_[np.ones(14), -np.ones(6)]
    b = np.arange(21)
    exact = binom.pmf(b, 20, 0.5)[np.abs(2 * b - 20) >= 8].sum()
    assert abs(sign_flip_test(d, rng) - exact) < 4 * np.sqrt(exact * (1 - exact) / 2**16)


def test_tcav_warns_when_no_concept_can_be_significant(quad, tcav_data):
    d = tcav_data
    with pytest.warns(
        UserWarning, match=r"n_random=5 runs the smallest possible p-value is 0\.0625"
    ):
        r = TCAV(quad, "encoder", n_random=5)(d["inputs"], {"a": d["aligned"]}, d["random"], 0)
    assert r.p_values[0] >= 2 / 2**5


def _false_positives(run, n_seeds, significance=0.05):
    """How many seeds call a random concept significant, and the most the level allows.

    A test at level ``significance`` rejects a true null with probability at most
    ``significance``, so over independent seeds the count is at most Binomial(n_seeds,
    significance); the bound is its 99.9% quantile.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning expected with n_random=10
        hits = sum(bool(run(seed).significant[0]) for seed in range(n_seeds))
    return hits, binom.ppf(0.999, n_seeds, significance)


def test_tcav_random_concept_false_positive_rate_holds_the_level(quad):
    # Concept and random examples from one distribution: no concept at all. Before the
    # runs were independent (one concept set shared by every run, a t-test) 26% of the
    # seeds came out significant at 0.05.
    inputs = np.random.default_rng(123).normal(size=(30, D))

    def run(seed):
        rng = np.random.default_rng(seed)
        concept, random = rng.normal(size=(40, D)), rng.normal(size=(80, D))
        tcav = TCAV(quad, "encoder", n_random=10, random_state=seed)
        return tcav(inputs, {"random": concept}, random, target=0)

    hits, bound = _false_positives(run, 100)
    assert hits <= bound, f"{hits} of 100 random concepts significant at 0.05"


@pytest.fixture(scope="module")
def digits():
    from whybox.datasets import load_digits_cnn

    return load_digits_cnn(random_state=0)


def test_tcav_random_digits_are_not_significant_more_often_than_the_level(digits):
    # The case: random concepts on the digits demo (before: 11 of 40 seeds).
    X = digits.X_test[digits.y_test == 3][:30]

    def run(seed):
        order = np.random.default_rng(seed).permutation(len(digits.X_train))
        concept, random = digits.X_train[order[:40]], digits.X_train[order[40:120]]
        tcav = TCAV(digits.model, "relu2", n_random=10, random_state=seed)
        return tcav(X, {"random": concept}, random, target=3)

    hits, bound = _false_positives(run, 40)
    assert hits <= bound, f"{hits} of 40 random concepts significant at 0.05"


def test_tcav_finds_a_real_concept_on_the_digits_demo(digits):
    # Held-out images of a digit; the concept is 80 other images of that digit: the
    # digit's logit rises along it. 128 random images of all digits are the null.
    d = digits
    for digit in range(10):
        rng = np.random.default_rng(digit)
        X = d.X_test[d.y_test == digit][:30]
        concept = d.X_train[d.y_train == digit][:80]
        random = d.X_train[rng.choice(len(d.X_train), 128, replace=False)]
        r = TCAV(d.model, "conv2", n_random=16)(X, {"digit": concept}, random, target=digit)
        assert r.significant[0] and r.p_values[0] < 0.005, (digit, r.p_values[0])
        assert r.scores[0].mean() > 0.9 and r.cav_accuracies[0].mean() > 0.6, digit


# ---------------------------------------------------------------------- token ids
def test_tcav_keeps_token_ids_integer_on_the_text_demo(text_demo):
    # Before: the ids were cast to float and the embedding raised a raw RuntimeError.
    demo = text_demo
    ids = demo.encode(list(demo.sentences))  # one padded width for every set
    positive = ids[demo.labels == 1]
    random = ids[np.random.default_rng(0).permutation(len(ids))[:160]]
    r = TCAV(demo.model, "encoder", n_random=16)(
        positive[:30], {"positive": positive[30:110]}, random, target=1
    )
    # The head reads the [CLS] row of the encoder's output through a linear layer, so
    # the gradient is that layer's weight row at token 0 and zero elsewhere: a run
    # scores 1 exactly when its CAV's [CLS] block points along the weight.
    weight = demo.model.classifier.weight[1].detach().double().numpy()
    d = weight.shape[0]
    np.testing.assert_array_equal(r.scores[0], (r.cavs[0, :, :d] @ weight > 0).astype(float))
    assert set(np.unique(r.random_scores)) <= {0.0, 1.0}
    assert r.significant[0] and r.scores[0].mean() == 1.0


def test_tcav_takes_a_tuple_of_inputs_with_a_mask():
    # A model of two forward arguments, (values, mask): the mask is integer and
    # per-sample, so it travels inside X and the examples; the layer sees values * mask.
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Identity()

        def forward(self, values, mask, scale):
            h = self.encoder(values * mask)
            return torch.stack([scale * h[:, 0], -h[:, 0]], dim=1)

    model = Masked().double().eval()
    rng = np.random.default_rng(1)

    def tensors(n, shift):
        values = torch.as_tensor(rng.normal(size=(n, D)) + shift * E[0])
        mask = torch.ones((n, D), dtype=torch.long)
        mask[:, -1] = 0
        return values, mask

    X, concept, random = tensors(20, 0.0), tensors(40, 3.0), tensors(80, 0.0)
    r = TCAV(model, "encoder", n_random=10)(
        X, {"first": concept}, random, target=0, additional_forward_args=2.0
    )
    # grad_h f_0 = 2 e0 for every input: a run scores 1 iff its CAV has v0 > 0
    np.testing.assert_array_equal(r.scores[0], (r.cavs[0, :, 0] > 0).astype(float))
    np.testing.assert_array_equal(r.cavs[0, :, -1], 0.0)  # the masked coordinate
    assert r.scores[0].mean() == 1.0
    with pytest.raises(InputError, match=r"additional_forward_args\[0\] has one entry per input"):
        TCAV(model, "encoder", n_random=10)(
            X[0], {"first": concept[0]}, random[0], 0, additional_forward_args=(X[1], 2.0)
        )
