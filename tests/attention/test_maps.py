"""AttentionMaps: views, validation, and the strict-JSON round trip of a Result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.attention._helpers import random_maps
from whybox import InputError
from whybox.attention import AttentionMaps, attention_rollout


def test_attention_maps_views_round_trip_and_validation():
    maps = random_maps()
    mean = maps.mean_heads()
    assert mean.shape == (2, 3, 1, 5, 5)
    np.testing.assert_allclose(mean.weights[:, :, 0], maps.weights.mean(2), atol=1e-15)
    np.testing.assert_array_equal(maps.layer(-1).weights[:, 0], maps.weights[:, 2])
    np.testing.assert_array_equal(maps.layer("l1").weights[:, 0], maps.weights[:, 1])
    np.testing.assert_allclose(
        attention_rollout(mean), attention_rollout(maps, head_fusion="mean"), atol=1e-12
    )
    back = AttentionMaps.from_dict(json.loads(maps.to_json()))
    np.testing.assert_array_equal(back.weights, maps.weights)
    np.testing.assert_array_equal(back.padding_mask, maps.padding_mask)
    assert back.layer_names == maps.layer_names
    with pytest.raises(InputError, match="layer 'l9' is not one of the layer names"):
        maps.layer("l9")
    with pytest.raises(InputError, match=r"layer must be a layer name or a position in -3..2"):
        maps.layer(3)
    with pytest.raises(InputError, match=r"weights must have shape \(n_samples, n_layers"):
        AttentionMaps(np.zeros((2, 3, 4)), ["a"], np.zeros((2, 4), bool))
    with pytest.raises(InputError, match="layer_names has 1 names but weights has 3 layers"):
        AttentionMaps(maps.weights, ["a"], maps.padding_mask)
    with pytest.raises(InputError, match="tokens must hold 2 sequences of 5 token strings"):
        AttentionMaps(maps.weights, maps.layer_names, maps.padding_mask, tokens=[["a"] * 5])


def test_attention_maps_are_a_result_with_a_strict_json_round_trip():
    maps = random_maps()
    maps = AttentionMaps(
        maps.weights,
        maps.layer_names,
        maps.padding_mask,
        tokens=[["[CLS]", "a", "b", "c", "d"], ["[CLS]", "e", "f", "[PAD]", "[PAD]"]],
        params={"source": "multihead_attention", "heads": "all"},
    )
    text = maps.to_json()
    assert "NaN" not in text and "Infinity" not in text
    back = AttentionMaps.from_dict(json.loads(text))
    np.testing.assert_array_equal(back.weights, maps.weights)
    np.testing.assert_array_equal(back.padding_mask, maps.padding_mask)
    assert back.padding_mask.dtype == bool
    assert back.layer_names == maps.layer_names and back.tokens == maps.tokens
    assert back.method == maps.method and back.params == maps.params
    frame = maps.to_frame()
    assert frame["n_tokens"].tolist() == [5, 3]
    assert frame["tokens"].tolist() == ["[CLS] a b c d", "[CLS] e f"]
    html = maps._repr_html_()
    assert isinstance(html, str) and "AttentionMaps" in html
