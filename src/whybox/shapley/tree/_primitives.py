"""The leaf of the TreeSHAP kernels: split rules and the path primitives.

Every kernel of :mod:`whybox.shapley.tree` (path-dependent, quadrature, interactions,
interventional) decides a split with :func:`goes_left` and, where it follows the
coalition proportions along a root-to-leaf path (Algorithm 2 of Lundberg et al. 2020),
uses EXTEND and UNWIND from here; the tree readers use the split-rule constants. This
module imports nothing of whybox, so the kernel modules import it and not each other.

The functions are numba-compiled with ``cache=True`` and inlined into the kernels. numba
invalidates a kernel's cache entry when the kernel's own file changes, not when a helper
inlined from this file does: after editing this file, delete the kernels'
``whybox/shapley/tree/__pycache__/*.nbi`` and ``*.nbc`` files (a fresh install has none).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import numba
import numpy as np
from numba import njit

#: Missing-value rules of a split (``TreeEnsemble.missing_rule``).
MISSING_NAN = 0  # NaN goes to the default child; everything else is compared
MISSING_ZERO = 1  # LightGBM "Zero": NaN and |x| <= 1e-35 go to the default child
MISSING_NONE = 2  # LightGBM "None": NaN is read as 0.0, then compared
SPLIT_CATEGORICAL = 3  # LightGBM "==": category int(x) in the set goes left; NaN, < 0, unseen right
SPLIT_CATEGORICAL_RIGHT = 4  # XGBoost: category int(x) in the set goes right; NaN to the default
#: child; negative and every other category go left
SPLIT_CATEGORICAL_DEFAULT = 5  # HistGradientBoosting, on encoded categories: category in the
#: set goes left, every other known category right; NaN (missing or unknown) to the default
CATEGORICAL_RULES = (SPLIT_CATEGORICAL, SPLIT_CATEGORICAL_RIGHT, SPLIT_CATEGORICAL_DEFAULT)

_LGBM_ZERO = 1e-35


@njit(cache=True, inline="always")
def goes_left(x, threshold, default_left, rule, strict_less, category_sets):
    """The decision rule of one split, missing values included."""
    if rule >= SPLIT_CATEGORICAL:
        if rule == SPLIT_CATEGORICAL:
            # LightGBM: NaN, negative and unseen categories go right; int() truncates
            if np.isnan(x) or x <= -1.0 or x >= category_sets.shape[1]:
                return False
            return category_sets[int(threshold), int(x)]
        if np.isnan(x):
            return default_left
        if rule == SPLIT_CATEGORICAL_RIGHT:
            # XGBoost: the set goes right; negative and every other category go left
            if x < 0.0 or x >= category_sets.shape[1]:
                return True
            return not category_sets[int(threshold), int(x)]
        # HistGradientBoosting on encoded categories (unknown ones are already NaN):
        # a known category outside the set goes right
        if x < 0.0:
            return default_left
        if x >= category_sets.shape[1]:
            return False
        return category_sets[int(threshold), int(x)]
    if rule == MISSING_NONE and np.isnan(x):
        x = 0.0
    if np.isnan(x):
        return default_left
    if rule == MISSING_ZERO and abs(x) <= _LGBM_ZERO:
        return default_left
    if strict_less:
        return x < threshold
    return x <= threshold


@njit(cache=True, inline="always")
def node_goes_left(x, splits, t, node):
    """:func:`goes_left` at node ``node`` of tree ``t``.

    ``splits`` is :meth:`TreeEnsemble.splits_of`'s tuple ``(thresholds, default_left,
    missing_rule, strict_less, category_sets)``: the kernels pass the split rule's
    arrays on as one argument.
    """
    thresholds, default_left, missing_rule, strict_less, category_sets = splits
    return goes_left(
        x,
        thresholds[t, node],
        default_left[t, node],
        missing_rule[t, node],
        strict_less,
        category_sets,
    )


@njit(cache=True, inline="always")
def extend_path(pf, pz, po, pw, lvl, ud, zero, one, feature, inv):
    """EXTEND: append (feature, zero, one) as element ``ud`` of the path at level ``lvl``.

    ``inv[i]`` is ``1 / i``: multiplying by it spares a division in the inner loops.
    """
    pf[lvl, ud] = feature
    pz[lvl, ud] = zero
    po[lvl, ud] = one
    pw[lvl, ud] = 1.0 if ud == 0 else 0.0
    scale = inv[ud + 1]
    for i in range(ud - 1, -1, -1):
        w = pw[lvl, i] * scale
        pw[lvl, i + 1] += one * w * (i + 1)
        pw[lvl, i] = zero * w * (ud - i)


@njit(cache=True, inline="always")
def unwind_path(pf, pz, po, pw, lvl, ud, k, inv):
    """UNWIND: remove element ``k`` from the path of ``ud + 1`` elements at ``lvl``."""
    one = po[lvl, k]
    zero = pz[lvl, k]
    nxt = pw[lvl, ud]
    if one != 0.0:
        up = (ud + 1) / one
        down = zero * inv[ud + 1]
        for i in range(ud - 1, -1, -1):
            tmp = pw[lvl, i]
            pw[lvl, i] = nxt * up * inv[i + 1]
            nxt = tmp - pw[lvl, i] * down * (ud - i)
    else:  # divide last: 1 / zero may overflow where pw / zero does not
        for i in range(ud - 1, -1, -1):
            pw[lvl, i] = pw[lvl, i] * (ud + 1) * inv[ud - i] / zero
    for i in range(k, ud):
        pf[lvl, i] = pf[lvl, i + 1]
        pz[lvl, i] = pz[lvl, i + 1]
        po[lvl, i] = po[lvl, i + 1]


@njit(cache=True, inline="always")
def unwound_sum(pz, po, pw, lvl, ud, k, inv):
    """Total weight of the path at ``lvl`` once element ``k`` is unwound (not modified)."""
    one = po[lvl, k]
    zero = pz[lvl, k]
    total = 0.0
    if one != 0.0:
        up = (ud + 1) / one
        down = zero * inv[ud + 1]
        nxt = pw[lvl, ud]
        for i in range(ud - 1, -1, -1):
            tmp = nxt * up * inv[i + 1]
            total += tmp
            nxt = pw[lvl, i] - tmp * down * (ud - i)
    else:
        for i in range(ud - 1, -1, -1):
            total += pw[lvl, i] * inv[ud - i]
        total = total * (ud + 1) / zero
    return total


@njit(cache=True, inline="always")
def path_arrays(size):
    """The work arrays of Algorithm 2 for paths of up to ``size`` elements.

    Returns
    -------
    pf, pz, po, pw : ndarray of shape (size, size)
        Element ``j`` of the path at level ``L``: its feature (int64), zero and one
        fractions, and weight (float64).
    plen : ndarray of shape (size,), int64
        The path's length at each level.
    inv : ndarray of shape (size + 2,), float64
        ``inv[i] = 1 / i`` (``inv[0] = 0``).
    """
    pf = np.empty((size, size), dtype=np.int64)
    pz = np.empty((size, size))
    po = np.empty((size, size))
    pw = np.empty((size, size))
    plen = np.zeros(size, dtype=np.int64)
    inv = np.empty(size + 2)
    inv[0] = 0.0
    for i in range(1, size + 2):
        inv[i] = 1.0 / i
    return pf, pz, po, pw, plen, inv


@njit(cache=True, inline="always")
def path_stack(size):
    """An explicit depth-first stack of ``size`` pending nodes: node, level, and the
    zero fraction, one fraction and feature their path is extended with."""
    s_node = np.empty(size, dtype=np.int64)
    s_lvl = np.empty(size, dtype=np.int64)
    s_zero = np.empty(size)
    s_one = np.empty(size)
    s_feat = np.empty(size, dtype=np.int64)
    return s_node, s_lvl, s_zero, s_one, s_feat


@njit(cache=True, inline="always")
def add_leaf(phi, f, w, values, t, node, out):
    """Add ``w`` times leaf ``node`` of tree ``t`` to ``phi[f]``: to output ``out``, or
    to every output when the tree feeds all of them (``out < 0``)."""
    if out >= 0:
        phi[f, out] += w * values[t, node, out]
    else:
        for c in range(values.shape[2]):
            phi[f, c] += w * values[t, node, c]


@contextlib.contextmanager
def numba_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with numba's thread count at ``n_threads`` (None: numba's own).

    A count that differs from the current one is set for the block and set back after
    it. With numba's OpenMP threading layer, starting numba's threads also sets the
    OpenMP thread count that torch reads, so a torch already imported would run on
    numba's count (the CPU count) for the rest of the process, whatever the user's
    ``OMP_NUM_THREADS`` or ``torch.set_num_threads``: its count is set back too.
    torch is never imported here.
    """
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    previous = numba.get_num_threads()
    changed = n_threads is not None and n_threads != previous
    if changed:
        numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        if changed:
            numba.set_num_threads(previous)
        if torch_threads is not None and torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
