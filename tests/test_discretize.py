import numpy as np
import pandas as pd
import pytest

from whybox import InputError
from whybox._discretize import MISSING, fit_discretizer


def test_quartile_bins_match_numpy_percentiles_and_conditions_hold():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    disc = fit_discretizer(X)
    for j in range(2):
        np.testing.assert_allclose(disc.edges[j], np.percentile(X[:, j], [25, 50, 75]))
    codes = disc.transform(X)
    assert codes.min() == 0 and codes.max() == 3
    # every bin holds a quarter of the training rows
    np.testing.assert_array_equal(np.bincount(codes[:, 0]), [100, 100, 100, 100])
    e = disc.edges[0]
    for b in range(4):
        x = X[codes[:, 0] == b, 0]
        lo = -np.inf if b == 0 else e[b - 1]
        hi = np.inf if b == 3 else e[b]
        assert np.all((x > lo) & (x <= hi))
    assert disc.describe(0, 0) == f"x0 <= {e[0]:.4g}"
    assert disc.describe(0, 2) == f"{e[1]:.4g} < x0 <= {e[2]:.4g}"
    assert disc.describe(0, 3) == f"x0 > {e[2]:.4g}"
    # several bins together read as one interval
    assert disc.describe(0, 0, 2) == f"x0 <= {e[2]:.4g}"
    assert disc.describe(0, 1, 3) == f"x0 > {e[0]:.4g}"
    assert disc.describe(0, 1, 2) == f"{e[0]:.4g} < x0 <= {e[2]:.4g}"
    assert disc.describe(0, 2, 2) == disc.describe(0, 2)


def test_categorical_levels_missing_and_few_distinct_values():
    frame = pd.DataFrame({"color": ["red", "blue", "red", "green"] * 10, "flag": [0.0, 1.0] * 20})
    disc = fit_discretizer(frame, categorical=[])
    assert disc.categorical.tolist() == [True, False]
    assert disc.n_bins(0) == 3
    # a binary feature gets one cut, at its lower value, and two bins
    assert disc.n_bins(1) == 2
    rows = pd.DataFrame({"color": ["green", "purple"], "flag": [1.0, np.nan]})
    codes = disc.transform(rows)
    assert codes[0].tolist() == [2, 1]
    assert codes[1].tolist() == [MISSING, MISSING]
    assert disc.describe(0, 2) == "color = green"
    assert disc.describe(1, MISSING) == "flag is missing"


def test_bad_input_is_named():
    with pytest.raises(InputError, match="discretizer must be one of"):
        fit_discretizer(np.zeros((5, 2)), kind="entropy")
    with pytest.raises(InputError, match="categorical_features names the column 'z'"):
        fit_discretizer(np.zeros((5, 2)), categorical=["z"])
    disc = fit_discretizer(np.arange(10.0).reshape(5, 2))
    with pytest.raises(InputError, match="X has 3 columns"):
        disc.transform(np.zeros((2, 3)))
