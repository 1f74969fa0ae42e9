"""Beam search over anchors with KL-LUCB precision estimates, shared by tables and text.

An *anchor* is a rule ``A`` (a set of predicates that the explained instance ``x``
satisfies) such that the model's prediction is almost always ``f(x)`` when ``A`` holds:
its *precision* ``prec(A) = P(f(z) = f(x) | z ~ D(. | A))`` under a perturbation
distribution ``D`` is at least the threshold ``tau``, and among such rules the one of
largest *coverage* ``P(A holds on z ~ D)`` is preferred (Ribeiro, Singh & Guestrin 2018,
"Anchors: High-Precision Model-Agnostic Explanations", Algorithm 2).

The search grows rules one predicate at a time, keeping a beam of the ``beam_size`` most
precise rules of each size. The best candidates of a round are found with KL-LUCB
(Kaufmann & Kalyanakrishnan 2013, "Information Complexity in Bandit Subset Selection"),
which draws perturbations only where they can still change the choice. Each rule of the
beam is then *checked* on fresh perturbations, drawn in a fixed doubling schedule until
the KL lower confidence bound of its precision reaches ``tau`` (accepted) or its upper
bound falls below ``tau`` (rejected); a rule still undecided after ``max_check_samples``
perturbations is rejected. The check's confidence level is split over every check the
search can make and every look of the schedule, so with probability at least
``1 - delta`` every accepted rule has precision at least ``tau`` (Chernoff's bound in KL
form: ``P(n KL(p_hat, p) > beta, p_hat > p) <= exp(-beta)``).

The problem (tables or text) supplies the candidate rules, their coverage and the
perturbations; this module holds the bandit and the search.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
from scipy.special import rel_entr

from whybox._exceptions import InputError
from whybox._utils import check_batch_size, check_int, json_value

_BISECTION_STEPS = 60  # halvings of [0, 1]: below float64 resolution
_LUCB_K1 = 405.5  # exploration rate constants of KL-LUCB (Kaufmann & Kalyanakrishnan 2013)
_LUCB_ALPHA = 1.1

Rule = tuple
"""A rule as the problem writes it: a tuple of predicates in the order they were added."""


class AnchorProblem(Protocol):
    """What the search needs from tables or text."""

    n_features: int

    def children(self, rule: Rule) -> list[Rule]:
        """The rules with one more predicate (none that leave ``rule`` unchanged)."""

    def coverage(self, rule: Rule) -> float:
        """The fraction of ``D`` on which ``rule`` holds."""

    def draw(
        self, requests: Sequence[tuple[Rule, int]], rng: np.random.Generator
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each ``(rule, n)``: ``n`` perturbations where the rule holds and whether the
        model's prediction on each equals the explained one (bool), from one batch of
        model calls."""


class Labeller:
    """Labels rows with ``fn`` in calls of at most ``batch_size`` rows, counting them.

    Attributes
    ----------
    n_rows : int
        Rows labelled so far.
    n_calls : int
        Calls to ``fn`` so far.
    """

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], batch_size: int) -> None:
        self.fn = fn
        self.batch_size = batch_size
        self.n_rows = 0
        self.n_calls = 0

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        parts = []
        step = self.batch_size or max(len(rows), 1)
        for start in range(0, len(rows), step):
            parts.append(np.asarray(self.fn(rows[start : start + step])))
            self.n_calls += 1
        self.n_rows += len(rows)
        return np.concatenate(parts)

    def hits(self, blocks: list[np.ndarray], target: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each block of rows with, per row, whether its label equals ``target``."""
        hits = self(np.concatenate(blocks)) == target
        parts = np.split(hits, np.cumsum([len(b) for b in blocks])[:-1])
        return list(zip(blocks, parts, strict=True))


# ---------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SearchSettings:
    """The search's parameters, checked (see :class:`whybox.anchors.AnchorTabular`)."""

    threshold: float = 0.95
    delta: float = 0.1
    epsilon: float = 0.15
    beam_size: int = 2
    samples_per_pull: int = 100
    batch_size: int = 10_000
    max_anchor_size: int | None = None
    max_check_samples: int = 10_000
    n_examples: int = 10

    def __post_init__(self) -> None:
        for name, value in (
            ("threshold", self.threshold),
            ("delta", self.delta),
            ("epsilon", self.epsilon),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float, np.number))
                or not 0.0 < float(value) < 1.0
            ):
                raise InputError(
                    f"{name} must be a number strictly between 0 and 1, got {value!r}; "
                    f"e.g. {name}={getattr(SearchSettings, name)}."
                )
        for name in ("beam_size", "samples_per_pull", "max_check_samples"):
            check_int(getattr(self, name), name, 1, f"{name}={getattr(SearchSettings, name)}")
        if self.max_anchor_size is not None:
            check_int(self.max_anchor_size, "max_anchor_size", 1, "max_anchor_size=5")
        check_int(self.n_examples, "n_examples", 0, "n_examples=10")
        check_batch_size(self.batch_size)

    def to_params(self) -> dict[str, Any]:
        """The settings as JSON-ready values."""
        return {f.name: json_value(getattr(self, f.name)) for f in fields(self)}


# ---------------------------------------------------------------------- KL bounds
def kl_bernoulli(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``KL(Bernoulli(p) || Bernoulli(q))`` elementwise, with ``0 log 0 = 0``."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    return rel_entr(p, q) + rel_entr(1.0 - p, 1.0 - q)


def kl_bounds(mean: np.ndarray, n: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """KL confidence bounds of Bernoulli means, by bisection.

    Parameters
    ----------
    mean : ndarray of shape (n_arms,), float64
        Empirical means ``p_hat`` in [0, 1].
    n : ndarray of shape (n_arms,), int
        Sample sizes (an arm with none gets the bounds 0 and 1).
    beta : float
        The exploration level: the bounds are the extreme ``q`` with
        ``n * KL(p_hat, q) <= beta``.

    Returns
    -------
    lower, upper : ndarray of shape (n_arms,), float64
        ``lower = min{q <= p_hat}`` and ``upper = max{q >= p_hat}`` with
        ``n KL(p_hat, q) <= beta``, each rounded outwards (conservative).
    """
    mean = np.asarray(mean, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    level = np.where(n > 0, beta / np.maximum(n, 1.0), np.inf)
    # KL(p_hat, q) grows in q on [p_hat, 1] and falls on [0, p_hat]
    upper = np.where(kl_bernoulli(mean, 1.0) <= level, 1.0, _edge(mean, 1.0, mean, level))
    lower = np.where(kl_bernoulli(mean, 0.0) <= level, 0.0, _edge(mean, 0.0, mean, level))
    return lower, upper


def _edge(inside: np.ndarray, outside: Any, mean: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Bisect between ``inside`` (``KL(mean, q) <= level``) and ``outside`` (above it)
    for the extreme ``q`` still inside; the bound is rounded outwards (returns the last
    ``outside`` point), so it is conservative."""
    inside = inside.copy()
    outside = np.broadcast_to(np.asarray(outside, dtype=np.float64), inside.shape).copy()
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (inside + outside)
        ok = kl_bernoulli(mean, mid) <= level
        inside = np.where(ok, mid, inside)
        outside = np.where(ok, outside, mid)
    return outside


def lucb_beta(n_arms: int, t: int, delta: float) -> float:
    """KL-LUCB's exploration rate ``log(k1 K t^a / delta) + log log(k1 K t^a / delta)``."""
    base = math.log(_LUCB_K1 * n_arms * t**_LUCB_ALPHA / delta)
    return base + math.log(base)


# ---------------------------------------------------------------------- bandit
def kl_lucb(
    problem: AnchorProblem,
    rules: list[Rule],
    m: int,
    settings: SearchSettings,
    rng: np.random.Generator,
) -> list[Rule]:
    """The ``m`` rules of highest precision, up to ``epsilon``, with KL-LUCB.

    Every rule is first sampled ``samples_per_pull`` times. Each round then takes the
    set ``J`` of the ``m`` rules of highest empirical precision, the rule of ``J`` with
    the lowest KL lower bound (``u``) and the best rule outside ``J`` by KL upper bound
    (``l``), and stops when ``upper(l) - lower(u) < epsilon``: then, with probability at
    least ``1 - delta``, every rule of ``J`` is within ``epsilon`` of the ``m`` most
    precise (Kaufmann & Kalyanakrishnan 2013). Otherwise KL-LUCB samples ``u`` and
    ``l`` again; here every rule that blocks the stopping rule like them (in ``J`` with
    a lower bound at most ``upper(l) - epsilon``, or outside ``J`` with an upper bound
    at least ``lower(u) + epsilon``) is sampled, all in one batch of model calls. The
    stopping rule and the bounds, hence the guarantee, are KL-LUCB's; the batch trades
    some extra perturbations for far fewer model calls.

    Returns
    -------
    list of Rule
        The ``m`` chosen rules, most precise first (equal estimates: larger coverage
        first, then rule order).
    """
    k = len(rules)
    pull = settings.samples_per_pull
    coverage = np.array([problem.coverage(r) for r in rules])
    hits = np.zeros(k, dtype=np.int64)
    counts = np.zeros(k, dtype=np.int64)
    sampled = np.arange(k)
    t = 0
    while True:
        drawn = problem.draw([(rules[i], pull) for i in sampled], rng)
        hits[sampled] += [int(h.sum()) for _, h in drawn]
        counts[sampled] += pull
        t += 1
        order = np.lexsort((-coverage, -hits / counts))
        top, rest = order[:m], order[m:]
        if rest.size == 0:
            break
        lower, upper = kl_bounds(hits / counts, counts, lucb_beta(k, t, settings.delta))
        best_other = upper[rest].max()
        worst_top = lower[top].min()
        if best_other - worst_top < settings.epsilon:
            break
        sampled = np.sort(
            np.concatenate(
                [
                    top[lower[top] <= best_other - settings.epsilon],
                    rest[upper[rest] >= worst_top + settings.epsilon],
                ]
            )
        )
    return [rules[i] for i in top]


# ---------------------------------------------------------------------- checks
@dataclass
class Check:
    """A rule's precision measured on fresh perturbations.

    ``precision`` is the fraction of the ``n`` perturbations (where the rule holds) on
    which the prediction is the explained one; ``lower``/``upper`` its KL bounds;
    ``same``/``different`` up to ``n_examples`` of those perturbations with the same /
    a different prediction.
    """

    rule: Rule
    coverage: float
    precision: float
    lower: float
    upper: float
    n: int
    accepted: bool
    same: np.ndarray
    different: np.ndarray


def check_schedule(settings: SearchSettings) -> list[int]:
    """The cumulative sample sizes at which a check looks: ``pull * 2**i``, capped."""
    sizes = []
    n = settings.samples_per_pull
    while n < settings.max_check_samples:
        sizes.append(n)
        n *= 2
    sizes.append(settings.max_check_samples)
    return sizes


def check_rule(
    problem: AnchorProblem,
    rule: Rule,
    beta: float,
    settings: SearchSettings,
    rng: np.random.Generator,
) -> Check:
    """Sample ``rule`` afresh until its precision bounds clear or miss the threshold."""
    tau = settings.threshold
    hits = n = n_same = n_different = 0
    same: list[np.ndarray] = []
    different: list[np.ndarray] = []
    lower = upper = mean = 0.0
    accepted = False
    for size in check_schedule(settings):
        ((rows, h),) = problem.draw([(rule, size - n)], rng)
        same.append(rows[h][: settings.n_examples - n_same])
        different.append(rows[~h][: settings.n_examples - n_different])
        n_same += len(same[-1])
        n_different += len(different[-1])
        hits += int(h.sum())
        n = size
        mean = hits / n
        lo, up = kl_bounds(np.array([mean]), np.array([n]), beta)
        lower, upper = float(lo[0]), float(up[0])
        if lower >= tau:
            accepted = True
            break
        if upper < tau:
            break
    return Check(
        rule,
        problem.coverage(rule),
        mean,
        lower,
        upper,
        n,
        accepted,
        np.concatenate(same),
        np.concatenate(different),
    )


# ---------------------------------------------------------------------- search
def anchor_search(
    problem: AnchorProblem, settings: SearchSettings, rng: np.random.Generator
) -> Check:
    """Beam search for the anchor of largest coverage with precision at least ``threshold``.

    Parameters
    ----------
    problem : AnchorProblem
    settings : SearchSettings
    rng : numpy Generator

    Returns
    -------
    Check
        The accepted rule of largest coverage (ties: higher precision; the empty rule
        when the prediction holds on ``D`` itself). When no rule is accepted, the checked
        rule of highest precision lower bound, with ``accepted=False``.
    """
    max_size = settings.max_anchor_size or problem.n_features
    n_checks = 1 + settings.beam_size * max_size
    beta = math.log(n_checks * len(check_schedule(settings)) / settings.delta)
    empty = check_rule(problem, (), beta, settings, rng)
    if empty.accepted:
        return empty
    best: Check | None = None
    most_precise = empty
    beam: list[Rule] = [()]
    seen: set[frozenset] = {frozenset()}
    for _ in range(max_size):
        candidates: list[Rule] = []
        for parent in beam:
            for child in problem.children(parent):
                key = frozenset(child)
                if key in seen:
                    continue
                seen.add(key)
                if best is not None and problem.coverage(child) <= best.coverage:
                    continue  # cannot beat the best anchor, nor can its extensions
                candidates.append(child)
        if not candidates:
            break
        beam = kl_lucb(problem, candidates, min(settings.beam_size, len(candidates)), settings, rng)
        for rule in beam:
            check = check_rule(problem, rule, beta, settings, rng)
            if check.accepted and (
                best is None or (check.coverage, check.precision) > (best.coverage, best.precision)
            ):
                best = check
            if (check.lower, check.coverage) > (most_precise.lower, most_precise.coverage):
                most_precise = check
    return best if best is not None else most_precise
