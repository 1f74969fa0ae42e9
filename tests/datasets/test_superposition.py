"""make_superposition: the toy model of superposition (Elhage et al. 2022)."""

import numpy as np
import pytest

from whybox._exceptions import InputError
from whybox.datasets import SuperpositionData, make_superposition


def test_activations_are_the_features_along_their_unit_directions():
    data = make_superposition(5000, n_true_features=40, n_dims=10, feature_probability=0.1)
    assert isinstance(data, SuperpositionData)
    assert data.activations.shape == (5000, 10) and data.activations.dtype == np.float32
    assert data.features.shape == (5000, 40)
    assert data.directions.shape == (40, 10)
    np.testing.assert_allclose(np.linalg.norm(data.directions, axis=1), 1.0, atol=1e-12)
    expected = data.features.astype(np.float64) @ data.directions
    np.testing.assert_allclose(data.activations, expected, rtol=1e-5, atol=1e-6)


def test_features_are_sparse_uniform_values_at_the_stated_rate():
    data = make_superposition(20000, n_true_features=50, n_dims=8, feature_probability=0.05)
    on = data.features > 0
    # 1,000,000 Bernoulli(0.05) draws: the rate is within 4 standard errors of 0.05
    assert abs(on.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / on.size)
    values = data.features[on]
    assert values.min() > 0 and values.max() <= 1
    assert abs(values.mean() - 0.5) < 4 * np.sqrt(1 / 12 / values.size)


def test_more_features_than_dimensions_so_directions_overlap():
    data = make_superposition(10, n_true_features=64, n_dims=16)
    gram = data.directions @ data.directions.T
    off = np.abs(gram[~np.eye(64, dtype=bool)])
    assert off.max() > 0.3  # 64 directions cannot be orthogonal in 16 dimensions


def test_seeded():
    a = make_superposition(100, random_state=3)
    b = make_superposition(100, random_state=3)
    c = make_superposition(100, random_state=4)
    np.testing.assert_array_equal(a.activations, b.activations)
    assert not np.array_equal(a.directions, c.directions)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_dims": 1}, "n_dims"),
        ({"n_true_features": 0}, "n_true_features"),
        ({"feature_probability": 0.0}, "feature_probability"),
        ({"feature_probability": 1.5}, "feature_probability"),
    ],
)
def test_bad_settings_name_the_argument(kwargs, name):
    with pytest.raises(InputError, match=name):
        make_superposition(**kwargs)
