"""correlated_feature_groups: known blocks, complete linkage against brute force, categorical,
constant and missing columns."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from whybox.inspection._clusters import correlated_feature_groups

# ---------------------------------------------------------------------- confidence intervals


# ---------------------------------------------------------------------- early stop


# ---------------------------------------------------------------------- correlated groups
def _spearman(X):
    return np.abs(stats.spearmanr(X).statistic)


def test_groups_follow_known_blocks():
    rng = np.random.default_rng(8)
    n = 500
    a, b = rng.normal(size=(2, n))
    X = np.column_stack(
        [
            a, -a + 0.1 * rng.normal(size=n), rng.normal(size=n), np.exp(b),
            b + 0.1 * rng.normal(size=n), b ** 3,
        ]
    )  # fmt: skip
    groups = correlated_feature_groups(X, correlation_threshold=0.7)
    assert groups == {"x0+x1": ["x0", "x1"], "x2": ["x2"], "x3+x4+x5": ["x3", "x4", "x5"]}
    # Pearson sees exp(b) and b^3 as weaker relations of b than Spearman does
    assert correlated_feature_groups(X, correlation_threshold=0.95, method="pearson")["x3"] == [
        "x3"
    ]
    assert "x3+x4+x5" in correlated_feature_groups(X, correlation_threshold=0.95, method="spearman")


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_complete_linkage_groups_against_brute_force(threshold):
    rng = np.random.default_rng(9)
    n, d = 300, 9
    latent = rng.normal(size=(n, 3))
    X = latent[:, rng.integers(0, 3, size=d)] * rng.uniform(0.2, 2, size=d)
    X += rng.normal(size=(n, d)) * rng.uniform(0.1, 2.0, size=d)
    rho = _spearman(X)
    groups = list(correlated_feature_groups(X, correlation_threshold=threshold).values())
    cols = [[int(c[1:]) for c in g] for g in groups]
    assert sorted(sum(cols, [])) == list(range(d))
    for g in cols:  # every pair inside a group is correlated enough
        assert all(rho[i, j] >= threshold - 1e-12 for i, j in combinations(g, 2))
    for g, h in combinations(cols, 2):  # and no two groups could be merged
        assert min(rho[i, j] for i in g for j in h) < threshold


def test_categorical_constant_and_missing_columns():
    import pandas as pd

    rng = np.random.default_rng(10)
    n = 300
    z = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "a": z, "b": 2 * z + 0.01 * rng.normal(size=n), "const": np.ones(n),
            "color": rng.choice(["red", "blue"], size=n), "c": z.copy(),
        }
    )  # fmt: skip
    df.loc[::7, "c"] = np.nan
    groups = correlated_feature_groups(df)
    assert groups == {"a+b+c": ["a", "b", "c"], "const": ["const"], "color": ["color"]}
