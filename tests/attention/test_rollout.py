"""Attention rollout against explicit products over the real tokens and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from tests.attention._helpers import random_maps, rollout_reference
from whybox import InputError
from whybox.attention import AttentionMaps, attention_rollout, rollout_relevance


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("residual", [True, False])
def test_rollout_equals_products_over_the_real_tokens(fusion, residual):
    maps = random_maps()
    got = attention_rollout(maps, head_fusion=fusion, add_residual=residual)
    want = rollout_reference(maps, fusion, residual)
    assert got.shape == (2, 5, 5)
    assert np.max(np.abs(got - want)) <= 1e-12
    real = ~maps.padding_mask
    np.testing.assert_allclose(got.sum(-1)[real], 1.0, atol=1e-12)
    assert np.all(got[1, 3:] == 0) and np.all(got[1, :, 3:] == 0)


def test_rollout_closed_forms_identity_and_uniform():
    eye = np.broadcast_to(np.eye(4), (1, 3, 2, 4, 4))
    maps = AttentionMaps(eye, ["a", "b", "c"], np.zeros((1, 4), bool))
    for residual in (True, False):
        np.testing.assert_array_equal(attention_rollout(maps, add_residual=residual)[0], np.eye(4))
    uniform = np.full((1, 3, 2, 4, 4), 0.25)
    maps = AttentionMaps(uniform, ["a", "b", "c"], np.zeros((1, 4), bool))
    # (0.5 U + 0.5 I)^L = 0.5^L I + (1 - 0.5^L) U, since U @ U = U
    want = 0.5**3 * np.eye(4) + (1 - 0.5**3) * np.full((4, 4), 0.25)
    np.testing.assert_allclose(attention_rollout(maps)[0], want, atol=1e-15)
    np.testing.assert_allclose(attention_rollout(maps, add_residual=False)[0], 0.25, atol=1e-15)


def test_rollout_discard_ratio_and_start_layer_by_hand():
    row = np.array([0.1, 0.2, 0.3, 0.4])
    w = np.tile(row, (1, 1, 1, 4, 1))
    maps = AttentionMaps(w, ["only"], np.zeros((1, 4), bool))
    # discard half of each row: [0, 0, .3, .4]; then 0.5 A + 0.5 I, rows renormalised
    kept = np.array([0.0, 0.0, 0.3, 0.4])
    want = 0.5 * np.tile(kept, (4, 1)) + 0.5 * np.eye(4)
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(attention_rollout(maps, discard_ratio=0.5)[0], want, atol=1e-15)
    maps3 = random_maps(layers=3)
    later = AttentionMaps(maps3.weights[:, 1:], ["l1", "l2"], maps3.padding_mask)
    np.testing.assert_allclose(
        attention_rollout(maps3, start_layer=1), rollout_reference(later, "mean", True), atol=1e-12
    )


def test_rollout_relevance_queries():
    maps = random_maps()
    roll = attention_rollout(maps)
    np.testing.assert_array_equal(rollout_relevance(maps), roll[:, 0])
    np.testing.assert_array_equal(rollout_relevance(maps, query=[4, 2]), roll[[0, 1], [4, 2]])
    np.testing.assert_array_equal(rollout_relevance(maps, query=-3), roll[:, 2])
    mean = rollout_relevance(maps, query="mean")
    np.testing.assert_allclose(mean[1], roll[1, :3].mean(0), atol=1e-15)
    np.testing.assert_allclose(mean.sum(1), 1.0, atol=1e-12)
    with pytest.raises(InputError, match="query position 4 is padding in sample 1"):
        rollout_relevance(maps, query=4)
    with pytest.raises(InputError, match="query 5 is out of range for 5 tokens"):
        rollout_relevance(maps, query=5)
    with pytest.raises(InputError, match="query must be a token position"):
        rollout_relevance(maps, query="cls")


def test_rollout_errors_name_the_argument():
    maps = random_maps()
    with pytest.raises(InputError, match=r"head_fusion must be one of \('mean', 'max', 'min'\)"):
        attention_rollout(maps, head_fusion="median")
    with pytest.raises(InputError, match=r"discard_ratio must be a number in \[0, 1\)"):
        attention_rollout(maps, discard_ratio=1.0)
    with pytest.raises(InputError, match=r"start_layer must be an int in 0..2"):
        attention_rollout(maps, start_layer=3)
    with pytest.raises(InputError, match="attention_rollout takes AttentionMaps, got ndarray"):
        attention_rollout(maps.weights)
