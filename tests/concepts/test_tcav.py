"""TCAV: closed-form directional derivatives, significance, determinism, the result type."""

import json

import numpy as np
import pytest

from tests.concepts._helpers import D, E, QuadraticHead, U, W, torch
from whybox import InputError
from whybox.concepts import TCAV, TCAVResult

nn = torch.nn


@pytest.fixture(scope="module")
def tcav_data():
    rng = np.random.default_rng(0)
    random = rng.normal(size=(80, D))
    return {
        "inputs": rng.normal(size=(30, D)),
        "aligned": rng.normal(size=(40, D)) + 2.0 * E[0],
        "random": random,
        # A "concept" that is the random examples themselves: no direction to find.
        "no_concept": random,
    }


@pytest.fixture(scope="module")
def tcav_result(quad, tcav_data):
    d = tcav_data
    tcav = TCAV(quad, "encoder", n_random=20, random_state=0)
    concepts = {"aligned": d["aligned"], "no_concept": d["no_concept"]}
    return tcav(d["inputs"], concepts, d["random"], target=0)


def test_tcav_result_shapes_and_frame(tcav_result):
    r = tcav_result
    assert isinstance(r, TCAVResult)
    assert r.concepts == ("aligned", "no_concept")
    assert r.layer == "encoder"
    assert r.scores.shape == (2, 20) and r.random_scores.shape == (20,)
    assert r.cavs.shape == (2, 20, D)
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


def test_tcav_aligned_concept_scores_one_and_is_significant(tcav_result):
    r = tcav_result
    np.testing.assert_array_equal(r.scores[0], 1.0)
    assert r.p_values[0] < 0.05 / 2
    assert r.significant[0]
    # Two unit Gaussians 2 apart: the Bayes accuracy is Phi(1) = 0.84, chance is 0.5.
    assert 0.7 < r.cav_accuracies[0].mean() < 0.9
    # The random-vs-random scores spread out (the null distribution is not degenerate).
    assert r.random_scores.std() > 0.1


def test_tcav_cav_recovers_the_planted_direction(tcav_result):
    # The runs' CAVs are noisy estimates (40 examples per side); their mean is close.
    assert tcav_result.mean_cavs[0] @ E[0] > 0.9


def test_tcav_concept_like_the_random_examples_is_not_significant(tcav_result):
    r = tcav_result
    assert not r.significant[1]
    assert r.p_values[1] > 0.05
    assert 0.3 < r.cav_accuracies[1].mean() < 0.7


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
    r = TCAV(model, "probe", n_random=3, random_state=1)(
        d["inputs"], {"aligned": d["aligned"]}, d["random"], target=1
    )
    np.testing.assert_array_equal(r.scores, 0.0)
    np.testing.assert_array_equal(r.random_scores, 0.0)
    assert r.p_values[0] == 1.0 and not r.significant[0]


def test_tcav_is_deterministic_and_batch_invariant(quad, tcav_data, tcav_result):
    d = tcav_data
    concepts = {"aligned": d["aligned"], "no_concept": d["no_concept"]}
    again = TCAV(quad, quad.encoder, n_random=20, random_state=0, batch_size=7)(
        d["inputs"], concepts, d["random"], target=0
    )
    np.testing.assert_array_equal(again.scores, tcav_result.scores)
    np.testing.assert_allclose(again.cavs, tcav_result.cavs, atol=1e-12)
    np.testing.assert_array_equal(again.p_values, tcav_result.p_values)


def test_tcav_sgd_classifier_and_linear_model_closed_form(tcav_data):
    # A linear head: grad_h f = w for every input, so each run scores 1 if v.w > 0 else 0.
    model = QuadraticHead(W, np.zeros(D)).double().eval()
    d = tcav_data
    r = TCAV(model, "encoder", n_random=4, random_state=3, classifier="sgd")(
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
    tcav = TCAV(quad, "encoder", n_random=2, random_state=0)
    with pytest.raises(InputError, match=r"concepts\['few'\] has 1 example; give at least 2"):
        tcav(d["inputs"], {"few": d["aligned"][:1]}, d["random"])
    with pytest.raises(InputError, match="concepts must be a non-empty dict"):
        tcav(d["inputs"], {}, d["random"])
    with pytest.raises(InputError, match="random_examples has 3 example"):
        tcav(d["inputs"], {"a": d["aligned"]}, d["random"][:3])
    with pytest.raises(InputError, match=r"concepts\['a'\] has examples of shape \(5,\)"):
        tcav(d["inputs"], {"a": d["aligned"][:, :5]}, d["random"])
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
