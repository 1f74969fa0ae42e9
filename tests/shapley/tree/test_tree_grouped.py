"""The kernels on grouped columns (``TreeEnsemble.grouped``): splits decide on their
column and are credited to its group, which gives the Shapley values of the game whose
players are the groups. Proved by enumerating that game on random trees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shapley.tree._bruteforce import (
    chain_ensemble,
    ensemble_value,
    random_ensembles,
    shapley_by_enumeration,
)
from whybox import InputError
from whybox.shapley.tree._interactions import path_dependent_interactions
from whybox.shapley.tree._interventional import interventional_shap
from whybox.shapley.tree._path_dependent import ensemble_predict, path_dependent_shap


def _members(groups: np.ndarray, n_players: int) -> list[frozenset]:
    return [frozenset(np.flatnonzero(groups == p).tolist()) for p in range(n_players)]


@st.composite
def grouped_ensembles(draw):
    e, rows = draw(random_ensembles())
    n_players = draw(st.integers(1, e.n_features))
    groups = np.asarray(
        draw(st.lists(st.integers(0, n_players - 1), min_size=e.n_features, max_size=e.n_features))
    )
    return e, rows, groups, n_players


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_ensembles())
def test_path_dependent_values_of_groups_equal_enumeration(case):
    e, rows, groups, n_players = case
    g = e.grouped(groups, n_players)
    members = _members(groups, n_players)
    for kernel in ("quadrature", "recursive"):
        phi = path_dependent_shap(g, rows, kernel=kernel)
        assert phi.shape == (len(rows), n_players, e.n_outputs)
        for r, x in enumerate(rows):

            def v(S, x=x):
                return ensemble_value(e, x, frozenset().union(*(members[p] for p in S)))

            np.testing.assert_allclose(
                phi[r], shapley_by_enumeration(v, n_players, e.n_outputs), rtol=1e-9, atol=1e-9
            )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_ensembles(), st.integers(0, 2**32 - 1))
def test_interventional_values_of_groups_equal_enumeration(case, seed):
    e, rows, groups, n_players = case
    rng = np.random.default_rng(seed)
    background = rng.choice([-1.0, -0.25, 0.0, 0.6, 2.0, 3.0, np.nan], size=(5, e.n_features))
    phi = interventional_shap(e.grouped(groups, n_players), rows, background)
    members = _members(groups, n_players)
    for r, x in enumerate(rows):

        def v(S, x=x):
            hybrid = background.copy()
            for p in S:
                cols = sorted(members[p])
                hybrid[:, cols] = x[cols]
            return ensemble_predict(e, hybrid).mean(axis=0)

        np.testing.assert_allclose(
            phi[r], shapley_by_enumeration(v, n_players, e.n_outputs), rtol=1e-9, atol=1e-9
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_ensembles())
def test_interactions_of_groups_add_up_to_their_values(case):
    e, rows, groups, n_players = case
    g = e.grouped(groups, n_players)
    inter = path_dependent_interactions(g, rows)
    assert inter.shape == (len(rows), n_players, n_players, e.n_outputs)
    np.testing.assert_allclose(inter.sum(axis=2), path_dependent_shap(g, rows), atol=1e-9)
    np.testing.assert_allclose(inter, np.swapaxes(inter, 1, 2), atol=1e-12)


def test_grouped_checks_its_groups():
    e = chain_ensemble(3, np.random.default_rng(0))
    with pytest.raises(InputError, match="one entry per column"):
        e.grouped(np.zeros(e.n_features + 1, dtype=int), 1)
    with pytest.raises(InputError, match="n_players"):
        e.grouped(np.full(e.n_features, 3), 2)
