"""The counterfactual search: a genetic search, exact tree enumeration, refinement.

Every function here works on one row in the encoded space of
:class:`~whybox.counterfactuals._constraints.FeatureSpace` and calls the model in
batches through a :class:`Target`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from whybox.adapters import Model
from whybox.counterfactuals._constraints import FeatureSpace, RowSpace, _same

_NUMERIC_RULES = (0, 1, 2)  # TreeEnsemble.missing_rule values of numeric splits


# ---------------------------------------------------------------------- the target
class Target:
    """Whether encoded rows reach the desired outcome, and how far they are from it.

    Parameters
    ----------
    model : Model
    space : FeatureSpace
    class_index : int or None
        Classification: the position of the desired class in ``model.classes``.
    low, high : float
        Regression: the desired range of the prediction (inclusive).
    y_scale : float
        Regression: the unit of the gap to the range (the spread of predictions).
    """

    def __init__(
        self,
        model: Model,
        space: FeatureSpace,
        *,
        class_index: int | None = None,
        low: float = -np.inf,
        high: float = np.inf,
        y_scale: float = 1.0,
    ) -> None:
        self.model = model
        self.space = space
        self.class_index = class_index
        self.low, self.high, self.y_scale = low, high, y_scale
        self.n_evals = 0

    def outputs(self, Z: np.ndarray) -> np.ndarray:
        """Class probabilities (n, n_classes) or regression values (n, 1) of ``Z``."""
        self.n_evals += len(Z)
        data = self.space.dataset(Z)
        if self.class_index is not None:
            return self.model.predict_proba_all(data)
        return self.model.predict(data, "raw")

    def judge(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(valid, gap) from :meth:`outputs`; gap >= 0 measures how far from valid."""
        if self.class_index is not None:
            k = self.class_index
            if out.shape[1] == 2:  # binary: as Model.predict_label, p1 > 0.5 is class 1
                label = (out[:, 1] > 0.5).astype(int)
            else:
                label = out.argmax(axis=1)
            valid = label == k
            others = np.delete(out, k, axis=1).max(axis=1)
            gap = np.maximum(others - out[:, k], 0.0)
            return valid, gap
        y = out[:, 0]
        valid = (y >= self.low) & (y <= self.high)
        gap = (np.maximum(self.low - y, 0.0) + np.maximum(y - self.high, 0.0)) / self.y_scale
        return valid, gap

    def __call__(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(Z) == 0:
            return np.zeros(0, dtype=bool), np.zeros(0)
        return self.judge(self.outputs(Z))


@dataclass(frozen=True)
class SearchSettings:
    """Weights and budgets of one search.

    ``weights``: per-feature cost of a change (numeric: per unit, categorical: per
    change); the objective of a valid row is ``sum w_j |z_j - x_j|`` plus
    ``sparsity_weight`` times the number of changed features.
    """

    n_counterfactuals: int
    max_evals: int
    weights: np.ndarray
    sparsity_weight: float
    diversity_weight: float
    population: int = 128
    patience: int = 12


@dataclass(frozen=True)
class SearchOutcome:
    """The counterfactuals found for one row (encoded), before the final check."""

    Z: np.ndarray
    n_evals: int
    n_candidates: int


# ---------------------------------------------------------------------- tree values
def _float32_neighbours(t: np.ndarray, strict_less: bool) -> tuple[np.ndarray, np.ndarray]:
    """Largest float32 value sent left and smallest sent right, per threshold."""
    f = t.astype(np.float32)
    if strict_less:  # left iff x < t
        left = np.where(f.astype(np.float64) < t, f, np.nextafter(f, np.float32(-np.inf)))
        right = np.where(f.astype(np.float64) >= t, f, np.nextafter(f, np.float32(np.inf)))
    else:  # left iff x <= t
        left = np.where(f.astype(np.float64) <= t, f, np.nextafter(f, np.float32(-np.inf)))
        right = np.where(f.astype(np.float64) > t, f, np.nextafter(f, np.float32(np.inf)))
    return left.astype(np.float64), right.astype(np.float64)


def split_values(ensemble: Any, n_features: int) -> list[np.ndarray | None]:
    """Per feature, the values just on each side of every split threshold.

    For a numeric split at ``t`` the candidates are the largest value the model sends
    left and the smallest it sends right (``t`` and the next float for ``x <= t``
    rules, the reverse for XGBoost's ``x < t``, compared in float32 where the
    library casts its input). Any value between two neighbouring thresholds gives
    the same prediction, so these are the nearest points of every region of the
    feature's axis. None for a feature that a categorical split reads.
    """
    feats = ensemble.features
    internal = ensemble.children_left >= 0
    out: list[np.ndarray | None] = [np.empty(0) for _ in range(n_features)]
    cat = set(np.unique(feats[internal & ~np.isin(ensemble.missing_rule, _NUMERIC_RULES)]))
    cat |= set(ensemble.encoded_categories)
    for j in range(n_features):
        if j in cat:
            out[j] = None
            continue
        t = np.unique(ensemble.thresholds[internal & (feats == j)])
        if t.size == 0:
            continue
        if ensemble.float32_input:
            left, right = _float32_neighbours(t, ensemble.strict_less)
        elif ensemble.strict_less:
            left, right = np.nextafter(t, -np.inf), t
        else:
            left, right = t, np.nextafter(t, np.inf)
        out[j] = np.stack([left, right], axis=1)  # (n_thresholds, 2)
    return out


def tree_candidates(
    space: FeatureSpace, rs: RowSpace, splits: list[np.ndarray | None], strict_less: bool
) -> list[np.ndarray]:
    """Per feature, the values a change may take on the tree path (anchor excluded).

    Numeric: the region ends of :func:`split_values` on the far side of the anchor,
    inside the bounds (integer features: the nearest integers past each threshold),
    and the bounds themselves. Categorical (or read by a categorical split): every
    allowed level (or observed value).
    """

    def numeric(j: int, a: float) -> np.ndarray:
        if splits[j] is None:
            col = space.data[:, j]
            return np.unique(col[np.isfinite(col)])
        if splits[j].size == 0:  # the model never reads it: no change helps
            return np.empty(0)
        s = splits[j]
        lo, hi = rs.lower[j], rs.upper[j]
        if space.integer[j]:
            t = s[:, 0]  # the thresholds' left ends; integers are exact in float32
            if strict_less:
                left, right = np.ceil(s[:, 1]) - 1, np.ceil(s[:, 1])
            else:
                left, right = np.floor(t), np.floor(t) + 1
            lo, hi = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
        else:
            left, right = s[:, 0], s[:, 1]
        vals = np.concatenate([left[left < a], right[right > a]])
        extra = [v for v in (lo, hi) if np.isfinite(v)]
        vals = np.concatenate([vals, extra])
        return vals[(vals >= lo) & (vals <= hi)]

    return _per_feature(space, rs, numeric)


def generic_candidates(space: FeatureSpace, rs: RowSpace, n_grid: int = 24) -> list[np.ndarray]:
    """Per feature, values to sample changes from: data quantiles and a grid in bounds."""

    def numeric(j: int, a: float) -> np.ndarray:
        col = space.data[:, j]
        col = col[np.isfinite(col)]
        lo, hi = rs.lower[j], rs.upper[j]
        span = 3.0 * space.scale[j]
        lo_f = lo if np.isfinite(lo) else min(col.min(initial=a), a) - span
        hi_f = hi if np.isfinite(hi) else max(col.max(initial=a), a) + span
        inside = col[(col >= lo_f) & (col <= hi_f)]
        q = np.quantile(inside, np.linspace(0, 1, n_grid + 1)) if inside.size else []
        vals = np.concatenate([q, np.linspace(lo_f, hi_f, n_grid + 1)])
        if space.integer[j]:
            vals = np.round(vals)
            vals = vals[(vals >= math.ceil(lo_f - 1e-9)) & (vals <= math.floor(hi_f + 1e-9))]
        return vals

    return _per_feature(space, rs, numeric)


def _per_feature(
    space: FeatureSpace, rs: RowSpace, numeric: Callable[[int, float], np.ndarray]
) -> list[np.ndarray]:
    """Per feature, the distinct values a change may take, the anchor excluded: none for
    an immutable feature, the allowed levels of a categorical one, ``numeric(j, anchor)``
    for a numeric one."""
    out: list[np.ndarray] = []
    for j in range(space.n_features):
        a = rs.anchor[j]
        if not rs.mutable[j]:
            out.append(np.empty(0))
            continue
        vals = np.unique(rs.allowed[j] if space.categorical[j] else numeric(j, a))
        out.append(vals[vals != a])
    return out


def _pad(cands: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([len(c) for c in cands], dtype=np.int64)
    C = np.zeros((len(cands), max(1, int(counts.max(initial=0)))))
    for j, c in enumerate(cands):
        C[j, : len(c)] = c
    return C, counts


# ---------------------------------------------------------------------- objective
def _objective(space: FeatureSpace, rs: RowSpace, Z: np.ndarray, s: SearchSettings) -> np.ndarray:
    cont, cat = space.distance(Z, rs.x, s.weights)
    changed = (~_same(Z, rs.x)).sum(axis=1)
    return cont + cat + s.sparsity_weight * changed


def select_diverse(
    space: FeatureSpace,
    Z: np.ndarray,
    cost: np.ndarray,
    n: int,
    diversity_weight: float,
    x: np.ndarray | None = None,
    near: float = 0.25,
) -> np.ndarray:
    """Indices of up to ``n`` distinct rows: cheapest first, then greedily the row
    minimising ``cost - diversity_weight * (distance to the nearest row chosen)``.

    Distances are :meth:`FeatureSpace.pairwise` (MAD-scaled L1 plus categorical
    mismatches). With ``x`` given, two rows count as repeats (distance 0) when they
    lie closer than ``near`` times the smaller of their distances to ``x``: a
    slightly different amount of the same change, or the same change plus a tiny
    one, is not a different counterfactual. A repeat of a chosen row is never
    chosen.
    """
    if len(Z) == 0:
        return np.zeros(0, dtype=np.intp)
    D = space.pairwise(Z, Z)
    if x is not None:
        prox = space.pairwise(Z, x[None, :])[:, 0]
        close = D < near * np.minimum(prox[:, None], prox[None, :])
        D = np.where(close, 0.0, D)
    first = int(np.argmin(cost))
    chosen = [first]
    nearest = D[first].copy()
    while len(chosen) < n:
        score = np.where(nearest > 1e-12, cost - diversity_weight * nearest, np.inf)
        i = int(np.argmin(score))
        if not np.isfinite(score[i]):
            break
        chosen.append(i)
        nearest = np.minimum(nearest, D[i])
    return np.asarray(chosen, dtype=np.intp)


# ---------------------------------------------------------------------- refinement
def sparsify(space: FeatureSpace, rs: RowSpace, Z: np.ndarray, target: Target) -> np.ndarray:
    """Revert changed features to the anchor one at a time while the rows stay valid.

    Each row's changed features are tried cheapest change first (MAD-scaled); the
    revert is kept when the model still gives the desired outcome. One batched
    model call per step; the number of changes never grows.
    """
    Z = Z.copy()
    changed = ~_same(Z, rs.anchor[None, :])
    if not changed.any():
        return Z
    w = space.default_weights()
    size = np.where(changed, np.abs(np.nan_to_num(Z - rs.anchor)) * w + 1e-12, np.inf)
    size = np.where(space.categorical & changed, 1.0, size)
    order = np.argsort(size, axis=1, kind="stable")
    n_changed = changed.sum(axis=1)
    for step in range(int(n_changed.max())):
        rows = np.flatnonzero(n_changed > step)
        if rows.size == 0:
            break
        feats = order[rows, step]
        trial = Z[rows].copy()
        trial[np.arange(rows.size), feats] = rs.anchor[feats]
        valid, _ = target(trial)
        Z[rows[valid]] = trial[valid]
    return Z


def pull_back(
    space: FeatureSpace,
    rs: RowSpace,
    Z: np.ndarray,
    target: Target,
    candidates: list[np.ndarray] | None,
    rounds: int = 4,
    grid: int = 8,
) -> np.ndarray:
    """Move each changed numeric feature back toward the anchor while still valid.

    Feature by feature (all rows in one batch): with ``candidates`` (the tree path)
    the closest candidate value between the anchor and the current value that keeps
    the row valid; otherwise ``rounds`` of a ``grid``-point search on the segment,
    each shrinking the interval that holds the boundary (resolution
    ``(grid + 1) ** -rounds`` of the change). The current value is valid, so every
    step keeps the row valid.
    """
    Z = Z.copy()
    feats = np.flatnonzero(rs.mutable & space.numeric)
    for j in feats:
        a = rs.anchor[j]
        rows = np.flatnonzero(Z[:, j] != a)
        if rows.size == 0:
            continue
        c = Z[rows, j]
        if candidates is not None:
            v = candidates[j]
            if v.size == 0:
                continue
            between = ((v[None, :] - a) * (c[:, None] - a) > 0) & (
                np.abs(v[None, :] - a) < np.abs(c[:, None] - a)
            )
            if not between.any():
                continue
            vals = np.where(between, v[None, :], c[:, None])
            trial = np.repeat(Z[rows], v.size, axis=0)
            trial[:, j] = vals.ravel()
            valid, _ = target(trial)
            valid = valid.reshape(rows.size, v.size) & between
            dist = np.where(valid, np.abs(vals - a), np.inf)
            best = dist.argmin(axis=1)
            ok = np.isfinite(dist[np.arange(rows.size), best])
            Z[rows[ok], j] = vals[np.arange(rows.size), best][ok]
            continue
        tl = np.zeros(rows.size)
        th = np.ones(rows.size)
        steps = np.arange(1, grid + 1) / (grid + 1)
        for _ in range(rounds):
            ts = tl[:, None] + (th - tl)[:, None] * steps[None, :]
            vals = _along(space, j, a, c, ts)
            trial = np.repeat(Z[rows], grid, axis=0)
            trial[:, j] = vals.ravel()
            valid, _ = target(trial)
            valid = valid.reshape(rows.size, grid)
            any_valid = valid.any(axis=1)
            k = valid.argmax(axis=1)
            idx = np.arange(rows.size)
            new_th = np.where(any_valid, ts[idx, k], th)
            new_tl = np.where(
                any_valid, np.where(k > 0, ts[idx, np.maximum(k - 1, 0)], tl), ts[:, -1]
            )
            tl, th = new_tl, new_th
        Z[rows, j] = _along(space, j, a, c, th[:, None])[:, 0]
    return Z


def _along(space: FeatureSpace, j: int, a: float, c: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Values at fractions ``ts`` (rows, k) of the way from ``a`` to ``c`` (rows,)."""
    delta = (c - a)[:, None]
    if space.integer[j]:
        steps = np.ceil(np.abs(ts * delta) - 1e-9)
        return np.where(ts >= 1.0, c[:, None], a + np.sign(delta) * steps)
    return np.where(ts >= 1.0, c[:, None], a + ts * delta)


# ---------------------------------------------------------------------- the searches
def _enumerate_tree(
    space: FeatureSpace,
    rs: RowSpace,
    target: Target,
    cands: list[np.ndarray],
    s: SearchSettings,
    budget: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every single-feature change to a region end, then pairs of the nearest ones.

    Returns the valid rows and their objective. Pairs use each feature's ``K``
    candidate values nearest the anchor, ``K`` as large as the budget allows (at
    most 64): the exact search over pairs when every region end fits.
    """
    feats = [j for j in range(space.n_features) if len(cands[j])]
    if not feats:
        return np.empty((0, space.n_features)), np.empty(0)
    f_idx = np.concatenate([np.full(len(cands[j]), j) for j in feats])
    vals = np.concatenate([cands[j] for j in feats])
    singles = np.repeat(rs.anchor[None, :], len(vals), axis=0)
    singles[np.arange(len(vals)), f_idx] = vals
    valid, _ = target(singles)
    found = [singles[valid]]
    left = budget - len(vals)
    if len(feats) >= 2 and left > 0:
        n_pairs = len(feats) * (len(feats) - 1) // 2
        k = int(min(64, math.isqrt(max(left // n_pairs, 1))))
        w = s.weights
        items_f, items_v = [], []
        for j in feats:
            c = cands[j]
            cost = np.ones(len(c)) if space.categorical[j] else np.abs(c - rs.x[j]) * w[j]
            keep = c[np.argsort(cost, kind="stable")[:k]]
            items_f.append(np.full(len(keep), j))
            items_v.append(keep)
        fi, vi = np.concatenate(items_f), np.concatenate(items_v)
        a, b = np.triu_indices(len(fi), k=1)
        keep = fi[a] != fi[b]
        a, b = a[keep][:left], b[keep][:left]
        pairs = np.repeat(rs.anchor[None, :], len(a), axis=0)
        r = np.arange(len(a))
        pairs[r, fi[a]] = vi[a]
        pairs[r, fi[b]] = vi[b]
        valid, _ = target(pairs)
        found.append(pairs[valid])
    Zv = np.concatenate(found)
    return Zv, _objective(space, rs, Zv, s)


def _genetic(
    space: FeatureSpace,
    rs: RowSpace,
    target: Target,
    cands: list[np.ndarray],
    s: SearchSettings,
    budget: int,
    rng: np.random.Generator,
    jitter: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """A genetic search over the constrained space; returns the valid rows seen.

    Individuals start as the anchor with a few (geometric count) features set to
    random candidate values. Each generation keeps the best fifth (elitism), fills
    the rest with uniform crossovers of tournament-selected parents, and mutates
    each child once: a feature set to a random candidate value, a feature reverted
    to the anchor, or (``jitter``) a numeric feature moved by a Gaussian step of
    0.3 of its scale. Fitness is the objective plus a penalty for invalid rows
    (``lam * (1 + gap)``), so any valid row beats an invalid one and the invalid
    ones climb toward validity. Stops on the budget or after ``s.patience``
    generations without improving the sum of the best ``n`` distinct valid costs.
    """
    d = space.n_features
    C, counts = _pad(cands)
    free = np.flatnonzero(counts > 0)
    if free.size == 0:
        return np.empty((0, d)), np.empty(0)
    P = max(16, min(s.population, budget))
    E = max(2, P // 5)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        f = free[rng.integers(free.size, size=n)]
        return f, C[f, (rng.random(n) * counts[f]).astype(np.intp)]

    # initial population: the anchor with 1, 2, 3... changed features (geometric)
    pop = np.repeat(rs.anchor[None, :], P, axis=0)
    n_change = np.minimum(rng.geometric(0.45, size=P), free.size)
    keys = rng.random((P, free.size))
    rank = keys.argsort(axis=1).argsort(axis=1)
    for t in range(int(n_change.max())):
        rows = np.flatnonzero(n_change > t)
        f = free[np.argmax(rank[rows] == t, axis=1)]
        pop[rows, f] = C[f, (rng.random(rows.size) * counts[f]).astype(np.intp)]
    space.project(pop, rs)
    valid, gap = target(pop)
    cost = _objective(space, rs, pop, s)
    lam = 10.0 + 2.0 * float(cost.max())
    arch_Z, arch_c = [pop[valid]], [cost[valid]]
    spent = P
    best, stale = np.inf, 0
    while spent + (P - E) <= budget:
        fit = cost + np.where(valid, 0.0, lam * (1.0 + gap))
        order = np.argsort(fit, kind="stable")
        elite = order[:E]
        m = P - E
        t1, t2 = rng.integers(P, size=(2, m)), rng.integers(P, size=(2, m))
        p1 = np.where(fit[t1[0]] <= fit[t1[1]], t1[0], t1[1])
        p2 = np.where(fit[t2[0]] <= fit[t2[1]], t2[0], t2[1])
        kids = np.where(rng.random((m, d)) < 0.5, pop[p1], pop[p2])
        r = rng.random(m)
        f, v = draw(m)
        setv = r < 0.45
        kids[setv, f[setv]] = v[setv]
        rev = (r >= 0.45) & (r < 0.7)
        if rev.any():
            ch = ~_same(kids[rev], rs.anchor[None, :])
            pick = np.argmax(ch * rng.random(ch.shape), axis=1)
            rows = np.flatnonzero(rev)
            kids[rows, pick] = rs.anchor[pick]
        if jitter:
            jit = r >= 0.7
            num_free = free[space.numeric[free]]
            if jit.any() and num_free.size:
                rows = np.flatnonzero(jit)
                fj = num_free[rng.integers(num_free.size, size=rows.size)]
                kids[rows, fj] += rng.normal(0.0, 0.3, rows.size) * space.scale[fj]
        space.project(kids, rs)
        k_valid, k_gap = target(kids)
        k_cost = _objective(space, rs, kids, s)
        spent += m
        arch_Z.append(kids[k_valid])
        arch_c.append(k_cost[k_valid])
        pop = np.concatenate([pop[elite], kids])
        valid = np.concatenate([valid[elite], k_valid])
        gap = np.concatenate([gap[elite], k_gap])
        cost = np.concatenate([cost[elite], k_cost])
        costs = np.unique(np.concatenate(arch_c))
        score = costs[: s.n_counterfactuals].sum() if costs.size >= s.n_counterfactuals else np.inf
        if score < best - 1e-9:
            best, stale = score, 0
        else:
            stale += 1
            if stale >= s.patience and np.isfinite(best):
                break
    return np.concatenate(arch_Z), np.concatenate(arch_c)


def _find(
    space: FeatureSpace,
    rs: RowSpace,
    target: Target,
    s: SearchSettings,
    rng: np.random.Generator,
    budget: int,
    splits: list[np.ndarray | None] | None,
    strict_less: bool,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Valid rows (unique), their objective and the candidate values used."""
    start = target.n_evals
    n = s.n_counterfactuals
    if splits is not None:
        cands = tree_candidates(space, rs, splits, strict_less)
        Zv, cv = _enumerate_tree(space, rs, target, cands, s, budget // 2)
        if len(np.unique(Zv, axis=0)) < 3 * n:
            left = budget - (target.n_evals - start)
            Zg, cg = _genetic(space, rs, target, cands, s, left, rng, jitter=False)
            Zv, cv = np.concatenate([Zv, Zg]), np.concatenate([cv, cg])
    else:
        cands = generic_candidates(space, rs)
        Zv, cv = _genetic(space, rs, target, cands, s, budget, rng, jitter=True)
    if not np.array_equal(rs.anchor, rs.x, equal_nan=True):
        # forced changes (a range excluding the row's value) alone may already be valid
        if target(rs.anchor[None, :])[0][0]:
            Zv = np.concatenate([Zv, rs.anchor[None, :]])
            cv = np.concatenate([cv, _objective(space, rs, rs.anchor[None, :], s)])
    if len(Zv):
        Zv, first = np.unique(Zv, axis=0, return_index=True)
        cv = cv[first]
    return Zv, cv, cands


def _refine(
    space: FeatureSpace,
    rs: RowSpace,
    target: Target,
    s: SearchSettings,
    Zv: np.ndarray,
    cv: np.ndarray,
    cands: list[np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sparsify and pull back a diverse pool of the valid rows.

    The pool holds the cheapest row of each set of changed features, then diverse
    others, ``max(5 n, 20)`` in all. The refined rows come back with their
    objective; the unrefined pool (valid too) follows with ``1e6`` added, to fill
    in where refinement made rows collapse onto each other.
    """
    n = s.n_counterfactuals
    order = np.argsort(cv, kind="stable")
    Zv, cv = Zv[order], cv[order]
    support = ~_same(Zv, rs.x[None, :])
    _, per_support = np.unique(np.packbits(support, axis=1), axis=0, return_index=True)
    n_pool = max(5 * n, 20)
    pool = np.sort(per_support)[:n_pool]
    if len(pool) < n_pool:
        rest = np.setdiff1d(np.arange(min(len(Zv), 400)), pool)
        if rest.size:
            extra = select_diverse(
                space, Zv[rest], cv[rest], n_pool - len(pool), s.diversity_weight
            )
            pool = np.concatenate([pool, rest[extra]])
    Zp = sparsify(space, rs, Zv[pool], target)
    Zp = pull_back(space, rs, Zp, target, cands)
    Zp = np.concatenate([Zp, Zv[pool]])
    cp = _objective(space, rs, Zp, s)
    cp[len(pool) :] += 1e6
    Zp, first = np.unique(Zp, axis=0, return_index=True)
    return Zp, cp[first]


def search(
    space: FeatureSpace,
    rs: RowSpace,
    target: Target,
    s: SearchSettings,
    rng: np.random.Generator,
    *,
    splits: list[np.ndarray | None] | None = None,
    strict_less: bool = False,
) -> SearchOutcome:
    """Counterfactuals of one row: search, sparsify, pull back, pick a diverse set.

    With ``splits`` (the tree path) the candidate values are the region ends of
    the model's split thresholds, every single- and two-feature change is tried in
    one batch each, and the genetic search runs only when those give fewer than
    ``3 * n`` distinct valid rows. Otherwise the genetic search runs on data
    quantiles and a grid. A pool of the best rows is sparsified and pulled back
    toward the row (:func:`_refine`), then ``n`` are chosen by
    :func:`select_diverse`. When fewer than ``n`` distinct rows come out, the search
    restarts (at most ``n - 1`` times, a quarter of the budget each) with every feature the
    rows chosen so far change frozen, so the next ones change other features.
    """
    start = target.n_evals
    n = s.n_counterfactuals
    d = space.n_features
    tree_cands = splits is not None
    Zv, cv, cands = _find(space, rs, target, s, rng, s.max_evals, splits, strict_less)
    n_candidates = len(Zv)
    if n_candidates == 0:
        return SearchOutcome(np.empty((0, d)), target.n_evals - start, 0)
    Zp, cp = _refine(space, rs, target, s, Zv, cv, cands if tree_cands else None)
    chosen = select_diverse(space, Zp, cp, n, s.diversity_weight, x=rs.x)
    Zc = Zp[chosen]
    for _ in range(n - 1):
        if len(Zc) >= n:
            break
        used = (~_same(Zc, rs.anchor[None, :])).any(axis=0)
        mutable = rs.mutable & ~used
        if not mutable.any():
            break
        rs2 = replace(rs, mutable=mutable)
        Zv, cv, cands = _find(space, rs2, target, s, rng, s.max_evals // 4, splits, strict_less)
        if len(Zv) == 0:
            break
        n_candidates += len(Zv)
        Zp, cp = _refine(space, rs2, target, s, Zv, cv, cands if tree_cands else None)
        Zall = np.concatenate([Zc, Zp])
        call = np.concatenate([np.arange(len(Zc)) - 1e12, cp])  # keep the chosen ones
        Zc = Zall[select_diverse(space, Zall, call, n, s.diversity_weight, x=rs.x)]
    cc = _objective(space, rs, Zc, s)
    return SearchOutcome(Zc[np.argsort(cc, kind="stable")], target.n_evals - start, n_candidates)
