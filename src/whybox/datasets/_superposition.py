"""A toy model of superposition: more sparse ground-truth features than dimensions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import Result, check_int, check_random_state


@dataclass(frozen=True, eq=False)
class SuperpositionData(Result):
    """Activations built from known sparse features along known directions.

    Attributes
    ----------
    activations : ndarray of shape (n_samples, n_dims), float32
        ``features @ directions``: each row is the sum of its active features'
        directions, scaled by their values.
    features : ndarray of shape (n_samples, n_true_features), float32
        The ground-truth feature values: 0 where a feature is off, uniform in
        (0, 1] where it is on.
    directions : ndarray of shape (n_true_features, n_dims), float64
        The unit direction of each feature in the activation space.
    params : dict
        The generator's settings.
    """

    activations: np.ndarray
    features: np.ndarray
    directions: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


def make_superposition(
    n_samples: int = 20000,
    n_true_features: int = 64,
    n_dims: int = 16,
    *,
    feature_probability: float = 0.03,
    random_state: Any = 0,
) -> SuperpositionData:
    """Generate activations in superposition, with the true features and directions.

    The toy model of Elhage et al. (2022): ``n_true_features`` features, more than
    the ``n_dims`` dimensions they live in, each with a random unit direction
    (uniform on the sphere). Each feature is on independently with probability
    ``feature_probability`` and then takes a value uniform in (0, 1]; an
    activation vector is the sum of the on features' values times their
    directions. Because few features are on at once, the features can be
    recovered from the vectors although the directions are not orthogonal: the
    ground truth a sparse autoencoder is tested against (its decoder rows should
    match ``directions``).

    Parameters
    ----------
    n_samples : int, default 20000
        Activation vectors generated.
    n_true_features : int, default 64
        Ground-truth features (at least 1).
    n_dims : int, default 16
        Dimensions of the activation space (at least 2).
    feature_probability : float, default 0.03
        The chance each feature is on in a sample, in (0, 1]; Elhage et al.
        call ``1 - feature_probability`` the sparsity.
    random_state : None, int or numpy Generator, default 0
        Seed of the directions and the draws.

    Returns
    -------
    SuperpositionData
        ``activations`` (n_samples, n_dims) float32, ``features`` (n_samples,
        n_true_features) float32 and ``directions`` (n_true_features, n_dims)
        float64 with unit rows.

    Raises
    ------
    InputError
        A count below its minimum or ``feature_probability`` outside (0, 1].

    References
    ----------
    Elhage, N., Hume, T., Olsson, C., et al. (2022). Toy models of
    superposition. Transformer Circuits Thread.

    Examples
    --------
    >>> from whybox.datasets import make_superposition
    >>> data = make_superposition(1000, n_true_features=32, n_dims=8)
    >>> data.activations.shape, data.directions.shape
    ((1000, 8), (32, 8))
    """
    n_samples = check_int(n_samples, "n_samples", 1)
    n_true_features = check_int(n_true_features, "n_true_features", 1)
    n_dims = check_int(n_dims, "n_dims", 2)
    p = feature_probability
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not 0 < p <= 1:
        raise InputError(
            f"feature_probability must be a number in (0, 1], got {p!r}; e.g. "
            "feature_probability=0.03."
        )
    rng = np.random.default_rng(check_random_state(random_state))
    directions = rng.standard_normal((n_true_features, n_dims))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    on = rng.random((n_samples, n_true_features)) < p
    values = 1.0 - rng.random((n_samples, n_true_features))  # uniform in (0, 1]
    features = np.where(on, values, 0.0).astype(np.float32)
    activations = (features.astype(np.float64) @ directions).astype(np.float32)
    return SuperpositionData(
        activations=activations,
        features=features,
        directions=directions,
        params={
            "n_samples": n_samples,
            "n_true_features": n_true_features,
            "n_dims": n_dims,
            "feature_probability": float(p),
        },
    )
