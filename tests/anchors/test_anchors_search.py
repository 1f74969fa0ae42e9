"""The anchor search shared by tables and text: KL bounds, KL-LUCB, checks, beam search.

Ground truths: KL bounds solved with scipy's root finder and closed forms, and
synthetic bandit problems whose rules have known precision and coverage.
"""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from whybox import InputError
from whybox.anchors._search import (
    SearchSettings,
    anchor_search,
    check_rule,
    check_schedule,
    kl_bernoulli,
    kl_bounds,
    kl_lucb,
)

TAU = 0.95


class _Arms:
    """A synthetic anchor problem: rules are sets of feature ids with known precision."""

    def __init__(self, n_features, precision, coverage):
        self.n_features = n_features
        self.precision = precision
        self.cov = coverage

    def children(self, rule):
        return [rule + (w,) for w in range(self.n_features) if w not in rule]

    def coverage(self, rule):
        return self.cov(frozenset(rule))

    def draw(self, requests, rng):
        return [
            (np.zeros((n, 1)), rng.random(n) < self.precision(frozenset(rule)))
            for rule, n in requests
        ]


def test_kl_bounds_match_a_root_finder_and_closed_forms():
    beta = 4.0
    for mean, n in ((0.3, 50), (0.9, 200), (0.97, 1000), (0.5, 10)):
        lower, upper = kl_bounds(np.array([mean]), np.array([n]), beta)

        def gap(q, mean=mean, n=n):
            return n * kl_bernoulli(mean, q) - beta

        assert lower[0] == pytest.approx(brentq(gap, 1e-12, mean), abs=1e-12)
        assert upper[0] == pytest.approx(brentq(gap, mean, 1 - 1e-12), abs=1e-12)
    # all successes / all failures: n KL = -n log q has the closed form exp(-beta / n)
    lower, upper = kl_bounds(np.array([1.0, 0.0, 0.5]), np.array([100, 100, 0]), beta)
    assert lower[0] == pytest.approx(math.exp(-beta / 100), abs=1e-12) and upper[0] == 1.0
    assert upper[1] == pytest.approx(1 - math.exp(-beta / 100), abs=1e-12) and lower[1] == 0.0
    assert (lower[2], upper[2]) == (0.0, 1.0)


def test_kl_lucb_finds_the_best_arms():
    means = [0.2, 0.9, 0.5, 0.95, 0.3]
    problem = _Arms(5, lambda r: means[next(iter(r))], lambda r: 1.0)
    rules = [(i,) for i in range(5)]
    for seed in range(10):
        chosen = kl_lucb(problem, rules, 2, SearchSettings(), np.random.default_rng(seed))
        assert set(chosen) == {(1,), (3,)}


def test_check_accepts_after_the_closed_form_sample_size_and_rejects_below():
    settings = SearchSettings(max_check_samples=3200)
    beta = 5.0
    rng = np.random.default_rng(0)
    sure = check_rule(_Arms(1, lambda r: 1.0, lambda r: 1.0), (), beta, settings, rng)
    # all hits: the lower bound exp(-beta / n) reaches 0.95 once n >= beta / -log(0.95)
    need = beta / -math.log(TAU)
    assert sure.accepted and sure.n == min(s for s in check_schedule(settings) if s >= need)
    never = check_rule(_Arms(1, lambda r: 0.0, lambda r: 1.0), (), beta, settings, rng)
    assert not never.accepted and never.n == settings.samples_per_pull
    # precision exactly at the threshold stays undecided and is rejected at the cap
    edge = check_rule(_Arms(1, lambda r: TAU, lambda r: 1.0), (), beta, settings, rng)
    assert not edge.accepted and edge.n == 3200 and edge.lower < TAU <= edge.upper


def test_search_returns_the_largest_coverage_precise_rule():
    per_feature = [0.9, 0.8, 0.5, 0.7, 0.6]

    def coverage(rule):
        return float(np.prod([per_feature[w] for w in rule]))

    def precision(rule):
        return 0.995 if {1, 3} <= rule else 0.4 + 0.2 * len(rule & {1, 3})

    problem = _Arms(5, precision, coverage)
    best = anchor_search(problem, SearchSettings(), np.random.default_rng(0))
    assert set(best.rule) == {1, 3} and best.accepted
    assert best.coverage == pytest.approx(0.8 * 0.7)
    assert best.lower <= 0.995 <= best.upper
    flat = _Arms(3, lambda r: 0.6, coverage)
    none = anchor_search(flat, SearchSettings(max_anchor_size=2), np.random.default_rng(0))
    assert not none.accepted and none.upper < TAU


def test_settings_are_checked_and_recorded_as_json():
    settings = SearchSettings(beam_size=np.int64(3), batch_size=None)
    assert settings.to_params() == {
        "threshold": 0.95,
        "delta": 0.1,
        "epsilon": 0.15,
        "beam_size": 3,
        "samples_per_pull": 100,
        "batch_size": None,
        "max_anchor_size": None,
        "max_check_samples": 10_000,
        "n_examples": 10,
    }
    with pytest.raises(InputError, match="n_examples must be a non-negative integer, got -1"):
        SearchSettings(n_examples=-1)
    with pytest.raises(InputError, match="samples_per_pull must be a positive integer"):
        SearchSettings(samples_per_pull=True)
