"""KernelSHAP: Shapley values as the solution of a weighted least-squares problem.

The Shapley values of a game ``v`` on ``p`` players are the solution of

    minimise  sum_S k(S) (v(S) - v(empty) - sum_{i in S} phi_i)^2
    subject to sum_i phi_i = v(all) - v(empty)

with the Shapley kernel ``k(S) = (p - 1) / (C(p, |S|) |S| (p - |S|))`` over the
coalitions ``0 < |S| < p`` (Lundberg & Lee 2017; Charnes et al. 1988). KernelSHAP
evaluates ``v`` on some of the coalitions and solves the problem restricted to them.

This implementation:

- groups the coalitions into *strata*: sizes ``s`` and ``p - s`` together, so each
  coalition sits in a stratum with its complement;
- enumerates whole strata, smallest sizes first, while the budget would cover them
  anyway (each of their coalitions carries much of the kernel's weight);
- samples the other strata *without replacement* and *in complementary pairs*
  (antithetic sampling; Covert & Lee 2021, "Improving KernelSHAP"), with each stratum
  given a fixed share of the budget (stratified sampling, so the share of each size is
  exact rather than random) and each sampled coalition weighted by its stratum's total
  kernel weight over the number sampled;
- shares one set of coalitions between all explained rows, so the model is called on
  all rows and coalitions in a few large batches and the least-squares system is
  factorised once for every row and output;
- solves the constrained problem exactly (local accuracy holds up to rounding);
- by default fits the coalition values with a polynomial of degree 3 rather than
  KernelSHAP's linear function (PolySHAP, Fumagalli, Witter & Musco 2026), its
  interaction terms ridge-penalised with the penalty chosen per row by leave-one-out,
  and takes the polynomial's Shapley values (see :func:`_polynomial_fit`);
- estimates each value's standard error from the sampled pairs (a sandwich, i.e.
  linearisation, estimate of the fit's variance under stratified sampling without
  replacement).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import is_dask_collection, json_value, progress_bar
from whybox.shapley._exact import all_coalitions
from whybox.shapley._masking import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BACKGROUND,
    BackgroundExplainer,
    shapley_explanation,
)

DEFAULT_EVALS = 2048
"""``max_evals="auto"`` spends ``2 * p + 2048`` coalitions per row (as shap's default)."""

SAMPLING = ("kernel", "leverage")
"""How the budget is shared between sampled strata: in proportion to each stratum's
total Shapley-kernel weight, or to its number of coalition sizes (leverage-score
sampling, Musco & Witter 2024, "Provably accurate Shapley value estimation via
leverage score sampling")."""

DEGREES = (2, 3)
"""The polynomial the coalition values are fitted with: 2 is KernelSHAP's linear fit
(with complementary pairs, the same values as a degree-2 fit); 3 adds penalised
products of three players (see :func:`_polynomial_fit`)."""

_ENUMERATE_LIMIT = 2_000_000  # strata with more pairs than this are sampled by rejection
_BLOCK_CELLS = 1 << 22  # floats held at once when the standard errors are computed


@dataclass(frozen=True)
class Design:
    """The coalitions KernelSHAP evaluates, their weights and their strata.

    Attributes
    ----------
    coalitions : ndarray of shape (n_coalitions, n_players), bool
        Ordered by stratum; within a sampled stratum, pair ``j`` is rows
        ``2j`` and ``2j + 1`` of the stratum's block (a coalition and its complement).
    weights : ndarray of shape (n_coalitions,), float64
        The regression weight of each coalition (sums to the total kernel weight
        of the strata it covers, i.e. all of them).
    sampled : list of (slice, float)
        For each sampled stratum, its rows in ``coalitions`` and the finite-population
        factor ``1 - m / N`` (m pairs sampled of N).
    n_enumerated : int
        Coalitions in fully enumerated strata.
    """

    coalitions: np.ndarray
    weights: np.ndarray
    sampled: list[tuple[slice, float]]
    n_enumerated: int


def kernel_weight(p: int, s: int) -> float:
    """The Shapley kernel weight of one coalition of size ``s`` among ``p`` players."""
    return (p - 1) / (comb(p, s) * s * (p - s))


def _stratum_pairs(p: int, s: int) -> int:
    """Complementary pairs in the stratum of sizes ``s`` and ``p - s`` (``s <= p/2``)."""
    return comb(p, s) // 2 if 2 * s == p else comb(p, s)


def _pair_representatives(p: int, s: int, m: int | None, rng: np.random.Generator) -> np.ndarray:
    """``m`` distinct pairs of the stratum ``s`` (all of them when ``m`` is None).

    A pair is represented by its member of size ``s``; when ``s = p/2``, by the member
    that holds player 0. Returns a boolean array of shape (m, p).
    """
    n_pairs = _stratum_pairs(p, s)
    half = 2 * s == p
    if m is None or n_pairs <= _ENUMERATE_LIMIT:
        if half:  # subsets of size s holding player 0: choose s - 1 of players 1..p-1
            rest = np.fromiter(
                itertools.chain.from_iterable(itertools.combinations(range(1, p), s - 1)),
                dtype=np.intp,
                count=n_pairs * (s - 1),
            ).reshape(n_pairs, s - 1)
            idx = np.column_stack([np.zeros(n_pairs, dtype=np.intp), rest])
        else:
            idx = np.fromiter(
                itertools.chain.from_iterable(itertools.combinations(range(p), s)),
                dtype=np.intp,
                count=n_pairs * s,
            ).reshape(n_pairs, s)
        if m is not None:
            idx = idx[np.sort(rng.choice(n_pairs, size=m, replace=False))]
        out = np.zeros((idx.shape[0], p), dtype=bool)
        np.put_along_axis(out, idx, True, axis=1)
        return out
    # A huge stratum (m is far below its size): draw uniform subsets, drop repeats.
    found: dict[bytes, np.ndarray] = {}
    while len(found) < m:
        need = m - len(found)
        keys = rng.random((2 * need + 8, p))
        if half:
            keys[:, 0] = -1.0  # player 0 always among the s smallest keys
        order = np.argsort(keys, axis=1)[:, :s]
        cand = np.zeros((order.shape[0], p), dtype=bool)
        np.put_along_axis(cand, order, True, axis=1)
        for row in cand:
            key = np.packbits(row).tobytes()
            if key not in found:
                found[key] = row
                if len(found) == m:
                    break
    return np.array(list(found.values()))


def build_design(p: int, max_evals: int, sampling: str, rng: np.random.Generator) -> Design:
    """Choose the coalitions and weights for ``p`` players and a budget of ``max_evals``.

    Strata (sizes ``s`` and ``p - s``) are enumerated from ``s = 1`` up while the
    budget left, shared in proportion to the strata's kernel weight, would give the
    stratum at least as many coalitions as it has; the remaining budget is shared
    between the other strata (by ``sampling``) and spent on complementary pairs
    drawn without replacement. With ``max_evals >= 2**p - 2`` every coalition is
    enumerated and the values are exact.
    """
    strata = list(range(1, p // 2 + 1))
    total_w = {
        s: _stratum_pairs(p, s) * (1 if 2 * s == p else 2) * kernel_weight(p, s) for s in strata
    }
    size = {s: _stratum_pairs(p, s) * (1 if 2 * s == p else 2) for s in strata}
    left = max_evals
    enumerated: list[int] = []
    remaining = list(strata)
    while remaining:
        s = remaining[0]
        share = left * total_w[s] / sum(total_w[t] for t in remaining)
        if size[s] <= left and share >= size[s] - 1e-9:
            enumerated.append(s)
            left -= size[s]
            remaining.pop(0)
        else:
            break
    blocks: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for s in enumerated:
        reps = _pair_representatives(p, s, None, rng)
        both = np.concatenate([reps, ~reps])
        blocks.append(both)
        weights.append(np.full(both.shape[0], kernel_weight(p, s)))
    n_enum = sum(b.shape[0] for b in blocks)
    sampled: list[tuple[slice, float]] = []
    if remaining:
        pairs = _allocate(left // 2, remaining, total_w, sampling, p)
        start = n_enum
        for s, m in zip(remaining, pairs, strict=True):
            if m == 0:
                continue
            n_pairs = _stratum_pairs(p, s)
            reps = _pair_representatives(p, s, m, rng)
            both = np.empty((2 * m, p), dtype=bool)
            both[0::2] = reps
            both[1::2] = ~reps
            blocks.append(both)
            # each sampled pair stands for n_pairs / m pairs of the stratum
            weights.append(np.full(2 * m, kernel_weight(p, s) * n_pairs / m))
            sampled.append((slice(start, start + 2 * m), 1.0 - m / n_pairs))
            start += 2 * m
    coalitions = np.concatenate(blocks) if blocks else np.zeros((0, p), dtype=bool)
    w = np.concatenate(weights) if weights else np.zeros(0)
    return Design(coalitions, w, sampled, n_enum)


def _identifying_design(p: int, max_evals: int, sampling: str, rng: np.random.Generator) -> Design:
    """A design whose coalitions identify every value (``Z' W Z`` of full rank).

    Near the smallest budgets a random design can leave two players always together
    (never separated by a sampled coalition), and no budget split can tell their
    values apart; such a design is redrawn.

    Raises
    ------
    InputError
        If 50 draws in a row fail to identify the values.
    """
    for _ in range(50):
        design = build_design(p, max_evals, sampling, rng)
        Z = design.coalitions.astype(np.float64)
        if np.linalg.matrix_rank(Z.T @ (design.weights[:, None] * Z)) == p:
            return design
    raise InputError(
        f"max_evals={max_evals} gives too few coalitions to tell {p} players apart; "
        f"pass a larger max_evals, e.g. max_evals={4 * p}."
    )


def _allocate(
    n_pairs: int, strata: list[int], total_w: dict[int, float], sampling: str, p: int
) -> list[int]:
    """Pairs per sampled stratum, in proportion to ``sampling``'s shares.

    Every stratum gets at least two pairs when the budget allows (so its variance
    can be estimated), at least one otherwise; never a lone stratum with a single
    pair (strata with one pair are collapsed together to estimate their variance,
    which needs two of them). The rest goes by largest remainder.
    """
    caps = np.array([_stratum_pairs(p, s) for s in strata])
    if sampling == "kernel":
        share = np.array([total_w[s] for s in strata])
    else:  # leverage: every coalition size equally likely
        share = np.array([1.0 if 2 * s == p else 2.0 for s in strata])
    floor = 2 if n_pairs >= 2 * len(strata) else 1
    out = np.minimum(floor, caps)
    while out.sum() > n_pairs:  # fewer pairs than strata: the lightest strata go first
        out[np.flatnonzero(out)[np.argmin(share[out > 0])]] = 0
    budget = n_pairs - int(out.sum())
    ideal = share / share.sum() * n_pairs
    for _ in range(budget):
        open_ = out < caps
        if not open_.any():
            break
        gap = np.where(open_, ideal - out, -np.inf)
        out[int(np.argmax(gap))] += 1
    singles = np.flatnonzero(out == 1)
    if singles.size == 1:
        donors = np.flatnonzero(out >= 3)
        if donors.size and caps[singles[0]] >= 2:
            out[donors[np.argmax(out[donors])]] -= 1
            out[singles[0]] += 1
        else:
            # make a second single: move a pair from a two-pair stratum to another
            # stratum with two or more
            two = np.flatnonzero(out == 2)
            for i in two:
                takers = np.flatnonzero((out >= 2) & (out < caps) & (np.arange(out.size) != i))
                if takers.size:
                    out[i] -= 1
                    out[takers[np.argmax(share[takers])]] += 1
                    break
    return [int(v) for v in out]


def solve(
    design: Design, y: np.ndarray, total: np.ndarray, *, standard_error: bool, degree: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the constrained weighted least-squares problem for every row and output.

    Parameters
    ----------
    design : Design
    y : ndarray of shape (n_samples, n_coalitions, n_outputs)
        ``v(S) - v(empty)`` for each coalition of the design.
    total : ndarray of shape (n_samples, n_outputs)
        ``v(all) - v(empty)``: what the values must add up to.
    standard_error : bool
        Also estimate each value's standard error.
    degree : {2, 3}, default=3
        2: the linear fit (with complementary pairs, the same values as a degree-2
        polynomial fit). 3: the polynomial fit of :func:`_polynomial_fit`, when some
        strata are sampled and the coalitions determine its values.

    Returns
    -------
    values : ndarray of shape (n_samples, n_players, n_outputs)
    standard_error : ndarray of shape (n_samples, n_players, n_outputs)
        Zero from enumerated strata (they add no sampling error); NaN when exactly
        one sampled stratum got a single pair (its variance cannot be estimated).
    """
    Z = design.coalitions.astype(np.float64)
    n, k = total.shape
    p = Z.shape[1]
    G, c = _normal_equations(Z, design.weights, y)
    P, coef = _constrained_fit(G, c, total, np.zeros(p), np.ones(p), invertible=False)
    basis, shares, groups = Z, np.eye(p), [(P, np.arange(n))]
    poly = None
    if degree == 3 and design.sampled and p >= 3:
        poly = _polynomial_fit(Z, design.weights, y, total, coef)
    if poly is not None:
        basis, shares, groups, coef = poly
    values = np.einsum("nqk,qp->npk", coef, shares)
    se = np.zeros_like(values)
    if not standard_error or not design.sampled:
        return values, se
    singles = [(sl, fpc) for sl, fpc in design.sampled if sl.stop - sl.start == 2]
    if len(singles) == 1:  # one stratum with one pair: its variance cannot be estimated
        return values, np.full_like(values, np.nan)
    w = design.weights
    block = max(1, _BLOCK_CELLS // max(1, basis.shape[0] * basis.shape[1] * k))
    for P, members in groups:
        for start in range(0, members.size, block):
            rows = members[start : start + block]
            var = np.zeros((rows.size, p, k))
            for sl, fpc in design.sampled:
                m = (sl.stop - sl.start) // 2
                if m < 2:
                    continue
                d = _pair_units(P, basis[sl], w[sl], y[rows, sl], coef[rows], shares)
                d = d - d.mean(axis=1, keepdims=True)
                var += m * fpc / (m - 1) * (d * d).sum(axis=1)
            if singles:
                # Strata with a single sampled pair are collapsed into one group: the
                # spread of their estimated totals stands in for their variance (the
                # collapsed-strata estimator, conservative when the strata differ).
                idx = np.concatenate([np.arange(sl.start, sl.stop) for sl, _ in singles])
                d = _pair_units(P, basis[idx], w[idx], y[rows][:, idx], coef[rows], shares)
                g = d.shape[1]
                d = d - d.mean(axis=1, keepdims=True)
                var += g / (g - 1) * (d * d).sum(axis=1)
            se[rows] = var
    return values, np.sqrt(se)


def _constrained_fit(
    G: np.ndarray,
    c: np.ndarray,
    total: np.ndarray,
    penalty: np.ndarray,
    full: np.ndarray,
    *,
    invertible: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Penalised weighted least squares that is exact on the full coalition.

    With ``G = B' W B`` and ``c = B' W y`` for the terms ``B``, and ``full`` the terms'
    values on the full coalition, minimises ``sum_j w_j (y_j - B_j beta)^2 +
    sum_t penalty_t beta_t^2`` subject to ``full' beta = total``. Returns ``P``, the
    (n_terms, n_terms) map from ``B' W y`` to the free part of the solution, and the
    coefficients, of shape (n_samples, n_terms, n_outputs). A ``G`` not known to be
    ``invertible`` is pseudo-inverted (a linear fit whose design separates every
    player is still inverted safely).
    """
    G = G + np.diag(penalty)
    G_inv = np.linalg.inv(G) if invertible else np.linalg.pinv(G, hermitian=True)
    Gi1 = G_inv @ full
    denom = full @ Gi1
    P = G_inv - np.outer(Gi1, Gi1) / denom
    coef = np.matmul(P, c) + Gi1[None, :, None] * (total[:, None, :] / denom)
    # one step of iterative refinement: the constraint drifts by rounding when G is
    # ill-conditioned (small penalties), and it is what local accuracy needs
    drift = total - np.einsum("t,ntk->nk", full, coef)
    coef += Gi1[None, :, None] * (drift / denom)[:, None, :]
    return P, coef


def _normal_equations(B: np.ndarray, w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``B' W B`` (n_terms, n_terms) and ``B' W y`` (n_samples, n_terms, n_outputs)."""
    WB = w[:, None] * B
    return B.T @ WB, np.matmul(WB.T, y)


_POLY_PLAYERS = 12  # products among at most this many players (66 pairs, 220 triples)
_POLY_PENALTIES = 10.0 ** np.arange(-2.0, 1.51, 0.5)


def _polynomial_fit(
    Z: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    total: np.ndarray,
    linear_values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]], np.ndarray] | None:
    """Fit the coalition values with a polynomial of degree 3, its cubic terms penalised.

    Complementary pairs make the linear fit's values those of a degree-2 polynomial
    fit (Fumagalli, Witter & Musco 2026, "PolySHAP: extending KernelSHAP with
    interaction-informed polynomial regression"). This fit has the linear terms, the
    products of two players and the products of three, among the ``_POLY_PLAYERS``
    players with the largest linear values (all of them up to 12 players). The
    products of three are ridge-penalised so they only take what the data support:
    each weighs ``lam * W / n3`` (``W`` the total kernel weight, ``n3`` the number of
    products of three), with ``lam`` chosen from ``_POLY_PENALTIES`` per row (pooled
    over outputs) by leave-one-out (the weighted PRESS, through the hat matrix's
    diagonal). The rest is not penalised, so a game of degree 2 (e.g. an additive
    model, or one with pairwise products) is still fitted exactly. A product's
    coefficient is shared equally by its players, so each player's value is its
    linear term plus a half of each of its products of two and a third of each of its
    products of three (the Shapley values of the polynomial game).

    Returns None when there are no more coalitions than unpenalised terms (no
    residual left to estimate errors from) or the coalitions leave the degree-2
    part's Shapley values undetermined (equally good fits with different values);
    otherwise the basis (n_coalitions, n_terms), the shares (n_terms,
    n_players), the rows that chose each penalty with its ``P`` (for the standard
    errors) as a list of ``(P, row indices)``, and the coefficients (n_samples,
    n_terms, n_outputs).
    """
    p = Z.shape[1]
    k = min(p, _POLY_PLAYERS)
    top = np.sort(np.argsort(-np.abs(linear_values).mean(axis=(0, 2)), kind="stable")[:k])
    pairs = np.array(list(itertools.combinations(top, 2)))
    triples = np.array(list(itertools.combinations(top, 3)))
    B = np.hstack([Z, Z[:, pairs].prod(axis=2), Z[:, triples].prod(axis=2)])
    free = p + len(pairs)  # unpenalised terms
    if Z.shape[0] <= free:
        return None
    G, c = _normal_equations(B, w, y)
    shares = np.zeros((B.shape[1], p))
    shares[np.arange(p), np.arange(p)] = 1.0
    np.put_along_axis(shares[p:free], pairs, 0.5, axis=1)
    np.put_along_axis(shares[free:], triples, 1.0 / 3.0, axis=1)
    eig, vec = np.linalg.eigh(G[:free, :free])
    seen = eig > 1e-10 * eig[-1]
    # fits the coalitions cannot tell apart must have the same values
    if np.abs(shares[:free].T @ vec[:, ~seen]).max(initial=0.0) > 1e-8:
        return None
    full = np.ones(B.shape[1])
    if not seen.all():  # keep the identified combinations of the unpenalised terms
        keep = vec[:, seen]
        B = np.hstack([B[:, :free] @ keep, B[:, free:]])
        shares = np.vstack([keep.T @ shares[:free], shares[free:]])
        full = np.concatenate([keep.sum(axis=0), full[free:]])
        free = keep.shape[1]
        G, c = _normal_equations(B, w, y)
    penalty = np.zeros(B.shape[1])
    penalty[free:] = w.sum() / len(triples)
    best_press = np.full(y.shape[0], np.inf)
    best_coef = np.zeros((y.shape[0], B.shape[1], y.shape[2]))
    choice = np.zeros(y.shape[0], dtype=np.intp)
    maps = []
    for i, lam in enumerate(_POLY_PENALTIES):
        P, coef = _constrained_fit(G, c, total, lam * penalty, full, invertible=True)
        leverage = ((B @ P) * B).sum(axis=1) * w
        resid = y - np.matmul(B, coef)
        press = np.einsum("m,nmk->n", w, (resid / (1.0 - leverage)[None, :, None]) ** 2)
        better = press < best_press
        best_press[better] = press[better]
        best_coef[better] = coef[better]
        choice[better] = i
        maps.append(P)
    groups = [(maps[i], np.flatnonzero(choice == i)) for i in np.unique(choice)]
    return B, shares, groups, best_coef


def _pair_units(
    P: np.ndarray,
    B: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    shares: np.ndarray,
) -> np.ndarray:
    """Each sampled pair's weighted contribution to the values, ``S' P (w b r + w b' r')``.

    ``B`` (2m, n_terms) holds the fit's terms for pairs in consecutive rows, ``y``
    (b, 2m, k) their values, ``coef`` (b, n_terms, k) the fitted coefficients and
    ``shares`` (n_terms, p) how each term's coefficient goes to the players. Each
    pair's residuals are those of the fit without that pair, ``(I - H_jj)^-1 r_j``
    with ``H_jj = B_j P B_j' W_j`` the pair's 2x2 block of the hat matrix (the
    jackknife / HC3 correction: a few coalitions fitted closely would otherwise show
    residuals near zero and understate the error; at the smallest budgets, a
    direction that only one pair determines has no such residual and is left out, so
    the estimate is optimistic there). Returns (b, m, p, k): the linearised effect of
    each pair on each value; their spread gives the sampling variance.
    """
    r = y - np.matmul(B, coef)
    m = B.shape[0] // 2
    BP = (B @ P).reshape(m, 2, -1)
    hat = np.einsum("jat,jbt->jab", BP, B.reshape(m, 2, -1)) * w.reshape(m, 1, 2)
    # A direction a pair alone determines (leverage 1, at the smallest budgets) has
    # no leave-out residual; it is dropped rather than amplified from rounding.
    loo = np.linalg.pinv(np.eye(2) - hat, rcond=1e-6)  # (m, 2, 2)
    r = np.einsum("jab,njbk->njak", loo, r.reshape(r.shape[0], m, 2, -1))  # (b, m, 2, k)
    effect = ((w[:, None] * B) @ (P @ shares)).reshape(m, 2, -1)  # (m, 2, p)
    return np.einsum("jap,njak->njpk", effect, r)


class KernelExplainer(BackgroundExplainer):
    """Interventional SHAP values estimated by KernelSHAP with a fixed budget.

    The value of a coalition ``S`` of players (features or feature groups) for an
    explained row ``x`` is ``v(S) = mean_b f(x_S, b_notS)`` over the background rows
    ``b`` (interventional masking). KernelSHAP (Lundberg & Lee 2017, "A unified
    approach to interpreting model predictions") finds the Shapley values of this game
    as the weighted least-squares fit of the coalition values, with the Shapley kernel
    as weights and local accuracy as a constraint, over ``max_evals`` coalitions:

    - small and large coalition sizes are enumerated while the budget allows (each of
      their coalitions weighs the most);
    - the rest are sampled in complementary pairs without replacement (Covert & Lee
      2021, "Improving KernelSHAP: practical Shapley value estimation via linear
      regression"), stratified by size so each size gets a fixed share of the budget:
      ``sampling="kernel"`` in proportion to the Shapley kernel, ``"leverage"`` equally
      per size (leverage-score sampling, Musco & Witter 2024);
    - one set of coalitions serves every explained row, so all model calls are batched
      across rows and coalitions;
    - the constrained least-squares problem is solved exactly, so local accuracy holds
      up to rounding; with ``max_evals >= 2**p - 2`` the values are exact;
    - with ``degree=3`` (the default) the coalition values are fitted by a polynomial
      with products of two and of three players (PolySHAP: Fumagalli, Witter & Musco
      2026, "PolySHAP: extending KernelSHAP with interaction-informed polynomial
      regression"), the products ridge-penalised with a penalty chosen for each row by
      leave-one-out, and the values are the polynomial's Shapley values (a product's
      coefficient shared equally by its players). Complementary pairs already capture
      what products of two players can (the linear fit's values equal those of a
      degree-2 fit), so this captures third-order interactions on top; on W2 it
      halves the error at 1024 and 2048 coalitions. With more than 12 players the
      products are among the 12 players whose linear values are largest on average
      over the explained rows (so then, and only then, the values depend slightly on
      which rows are explained together). Additive games are still fitted exactly.

    Each value's standard error is estimated from the spread of the sampled pairs'
    residuals (a linearisation of the least-squares solution, with the
    finite-population correction of sampling without replacement) and returned in
    ``quality["standard_error"]``; enumerated strata contribute no error. With
    ``degree=3`` it leaves out the penalty's bias (small where the penalty is chosen
    well: on W2, 95% of the errors lie within two standard errors), and where the
    coalitions are few for the polynomial's terms (e.g. 120 coalitions for 8 players)
    it is conservative, up to about twice the actual error.

    Cost: ``max_evals * n_background`` model rows per explained row, plus the explained
    rows themselves; the least-squares algebra is shared by all rows and negligible.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt (scikit-learn estimator or Pipeline, XGBoost,
        LightGBM, CatBoost, a callable ``f(X) -> outputs``) or a
        :class:`whybox.adapters.Model`.
    background : array-like of shape (n_background, n_features), DataFrame or WeightedBackground
        Reference rows that stand in for the absent players (e.g. a sample of the
        training data, or :func:`whybox.shapley.summarize_background`'s weighted
        k-means summary).
    output : {"auto", "raw", "probability", "log_odds"}, default="auto"
        The output space explained; ``"auto"`` is the model's native space.
    max_evals : int or "auto", default="auto"
        The budget: coalitions evaluated per explained row (each costs
        ``n_background`` model rows), not counting the empty and the full coalition.
        ``"auto"``: ``2 * p + 2048``, capped at ``2**p - 2`` (all of them: exact).
        Must be at least ``2 * (p - 1)`` (one complementary pair per player but
        one), where ``p`` is the number of players.
    sampling : {"kernel", "leverage"}, default="leverage"
        How the sampled budget is shared between coalition sizes.
    degree : {2, 3}, default=3
        The polynomial fitted to the coalition values: 3 adds penalised products of
        players (lower error at equal budget, about 0.05-0.15 s more per call for 12
        players); 2 is plain KernelSHAP with complementary pairs.
    random_state : int, numpy Generator or None, default=0
        Seeds the sampled coalitions (and the background sample, when the
        background is sampled). The same seed gives the same values whatever
        ``batch_size``, and explaining rows together or one by one.
        None draws fresh entropy (results then differ between runs).
    feature_groups : dict of str to list of (str or int), optional
        Players made of several columns: group name -> column names or positions.
    batch_size : int, default=65536
        Model-input rows per model call. Never changes the result.
    max_background : int or None, default=100
        A larger background is replaced by a random sample of this many rows
        (with a warning); None keeps every row.
    progress : bool or None, default=None
        Show a tqdm progress bar over the explained rows; None shows it for 100 or
        more rows.

    Attributes
    ----------
    model : whybox.adapters.Model
    output : str
    background : whybox.adapters.Dataset
    expected_value : ndarray of shape (n_outputs,)
        The base value: the (weighted) mean model output over the background.
    feature_names : tuple of str
    max_evals : int
        The resolved budget.

    Raises
    ------
    InputError
        If the background is missing or does not fit the model, ``output`` is not
        offered, ``feature_groups`` is malformed, ``sampling`` or ``degree`` is unknown, or
        ``max_evals`` is not an integer of at least ``2 * (p - 1)``.

    Examples
    --------
    A sampled design on six players, with the standard error of every value:

    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> X, y = make_friedman1(n_samples=300, n_features=6, random_state=0)
    >>> knn = KNeighborsRegressor().fit(X, y)
    >>> from whybox.shapley import KernelExplainer
    >>> ex = KernelExplainer(knn, X[:40], max_evals=40)(X[:4])
    >>> ex.values.shape, ex.method
    ((4, 6, 1), 'kernel')
    >>> ex.quality["standard_error"].shape  # shaped like the values
    (4, 6, 1)
    """

    method = "kernel"
    _owner = "KernelExplainer"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        output: str = "auto",
        max_evals: int | str = "auto",
        sampling: str = "leverage",
        degree: int = 3,
        random_state: Any = 0,
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_background: int | None = DEFAULT_MAX_BACKGROUND,
        progress: bool | None = None,
    ) -> None:
        if sampling not in SAMPLING:
            raise InputError(
                f"sampling must be one of {SAMPLING}, got {sampling!r}; use sampling='kernel'."
            )
        if degree not in DEGREES or isinstance(degree, bool):
            raise InputError(
                f"degree must be one of {DEGREES}, got {degree!r}; use degree=3 (the default) "
                "or degree=2 for the plain paired KernelSHAP fit."
            )
        super().__init__(
            model,
            background,
            output=output,
            feature_groups=feature_groups,
            batch_size=batch_size,
            max_background=max_background,
            random_state=random_state,
        )
        p = self.players.n_players
        all_inner = (1 << p) - 2 if p < 63 else None
        if isinstance(max_evals, str) and max_evals == "auto":
            evals = 2 * p + DEFAULT_EVALS
        elif isinstance(max_evals, (int, np.integer)) and not isinstance(max_evals, bool):
            evals = int(max_evals)
        else:
            raise InputError(
                f"max_evals must be a positive integer or 'auto', got {max_evals!r}; "
                "e.g. max_evals=2048."
            )
        if evals < 2 * (p - 1):
            raise InputError(
                f"max_evals={evals} is too small for {p} players: KernelSHAP samples "
                "coalitions in complementary pairs and needs one pair per player but one "
                f"to identify the values; pass max_evals>={2 * (p - 1)} (the default "
                f"'auto' gives {2 * p + DEFAULT_EVALS})."
            )
        if all_inner is not None:
            evals = min(evals, all_inner)
        self.max_evals = evals
        self.sampling = sampling
        self.degree = int(degree)
        self.progress = progress

    def __call__(self, X: Any) -> Explanation:
        """Estimate the SHAP values of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            The rows to explain, with the background's columns. Each row costs
            ``max_evals * n_background`` model rows; the coalitions are drawn once
            and shared by every row. A dask array or DataFrame is explained lazily,
            chunk by chunk (see ``whybox.distributed.explain_dask``); every chunk draws
            the same coalitions, so each row gets its in-memory values.

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_players, n_outputs), float64, in
            ``output_space``; ``base_values`` (n_samples, n_outputs), the mean model
            output over the background; ``model_output`` so ``additivity_error`` is
            reported (zero up to rounding); ``method="kernel"``;
            ``quality["standard_error"]`` shaped like ``values`` (zero when every
            coalition was enumerated; NaN when the only under-sampled stratum got a
            single pair, so its variance cannot be estimated).

        Raises
        ------
        InputError
            If ``X`` does not have the model's columns.
        """
        if is_dask_collection(X):  # lazy, chunk by chunk, on the dask scheduler
            from whybox.distributed import explain_dask

            return explain_dask(self, X)
        Xv, f_x = self._rows(X)
        n = Xv.shape[0]
        p = self.players.n_players
        rng = np.random.default_rng(self.random_state)
        if self.max_evals == (1 << p) - 2:
            coal = all_coalitions(p)[1:-1]
            sizes = coal.sum(axis=1)
            design = Design(
                coal, np.array([kernel_weight(p, int(s)) for s in sizes]), [], coal.shape[0]
            )
        else:
            design = _identifying_design(p, self.max_evals, self.sampling, rng)
        masks = self.players.column_masks(design.coalitions)
        with progress_bar(n, self.progress, "KernelSHAP") as bar:
            v = self._masked_values(Xv, masks, bar)
        y = v - self.expected_value
        values, se = solve(
            design, y, f_x - self.expected_value, standard_error=True, degree=self.degree
        )
        params = self._common_params()
        params.update(
            max_evals=int(self.max_evals),
            n_coalitions=int(design.coalitions.shape[0]),
            n_enumerated=int(design.n_enumerated),
            sampling=self.sampling,
            degree=self.degree,
            paired=True,
            random_state=json_value(self.random_state),
        )
        return shapley_explanation(self, values, Xv, f_x, params, {"standard_error": se})
