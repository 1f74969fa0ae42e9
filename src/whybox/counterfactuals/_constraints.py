"""The constrained space counterfactuals live in: scales, bounds, levels, projections.

Rows are searched in an *encoded* space, a float64 array of shape (n, n_features):
numeric columns hold their value, categorical columns the position (code) of their
level in :attr:`FeatureSpace.levels`. :meth:`FeatureSpace.decode` turns encoded
rows back into the values the model takes.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox.adapters import Dataset

_MONOTONE = {"increase": 1, "decrease": -1}


# ---------------------------------------------------------------------- name handling
def resolve_feature(key: Any, names: Sequence[str], argument: str) -> int:
    """The column position of ``key`` (a feature name or an integer position).

    Raises
    ------
    InputError
        If ``key`` names no feature (with the closest names as a hint) or is an
        out-of-range position.
    """
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if not 0 <= int(key) < len(names):
            raise InputError(
                f"{argument} holds the feature position {int(key)} but the data has "
                f"{len(names)} features; give a position in 0..{len(names) - 1} or a name."
            )
        return int(key)
    name = str(key)
    if name in names:
        return list(names).index(name)
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.5)
    hint = f"did you mean {close}?" if close else f"the features are {list(names)[:10]}"
    raise InputError(
        f"{argument} names the feature {key!r}, which the data does not have; {hint} "
        "Give feature names exactly as in the data's columns."
    )


def _as_keys(value: Any, argument: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int, np.integer)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise InputError(
            f"{argument} must be a list of feature names or positions, got "
            f"{type(value).__name__}; e.g. {argument}=['age']."
        ) from None


def robust_scale(values: np.ndarray) -> float:
    """Median absolute deviation of ``values``; the standard deviation if it is 0, then 1.

    The scale of a feature for the MAD-scaled L1 distance of Wachter et al. (2017).
    NaN values are ignored.
    """
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    mad = float(np.median(np.abs(v - np.median(v))))
    if mad > 0:
        return mad
    std = float(v.std())
    return std if std > 0 else 1.0


# ---------------------------------------------------------------------- row bounds
@dataclass(frozen=True, eq=False)
class RowSpace:
    """Where the counterfactuals of one row may go, in the encoded space.

    Attributes
    ----------
    x : ndarray of shape (n_features,), float64
        The encoded row.
    anchor : ndarray of shape (n_features,), float64
        The allowed point nearest to ``x``: ``x`` itself unless a range excludes a
        mutable feature's value, which every counterfactual must then change.
    lower, upper : ndarray of shape (n_features,), float64
        Allowed values of numeric features (``x`` for frozen ones); ignored for
        categorical ones.
    mutable : ndarray of shape (n_features,), bool
        Features the search may move away from the anchor.
    allowed : tuple of ndarray
        Per feature, the allowed codes of a categorical feature (empty for numeric).
    infeasible : str or None
        Why no counterfactual can exist for this row under the constraints, or None.
    """

    x: np.ndarray
    anchor: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mutable: np.ndarray
    allowed: tuple[np.ndarray, ...]
    infeasible: str | None = None


# ---------------------------------------------------------------------- the space
@dataclass(eq=False)
class FeatureSpace:
    """Per-feature scales, kinds, ranges and levels, read from training-like data.

    Attributes
    ----------
    names : tuple of str
    categorical, integer, immutable : ndarray of shape (n_features,), bool
    monotone : ndarray of shape (n_features,), int8
        +1: may only increase, -1: may only decrease, 0: free.
    scale : ndarray of shape (n_features,), float64
        The MAD of each numeric feature (std, then 1, when 0); 1 for categorical ones.
    low, high : ndarray of shape (n_features,), float64
        The allowed range of numeric features: the user's ``ranges``, else the data's
        minimum and maximum (widened to hold the row being explained).
    user_range : ndarray of shape (n_features,), bool
        True where ``low``/``high`` come from ``ranges``.
    levels : list of list
        Per categorical feature, its levels: the observed ones first, then any new
        level met in a row to explain (which a counterfactual may keep, never take).
    n_observed : ndarray of shape (n_features,), int
        How many of ``levels`` were observed in the data.
    allowed_levels : list of set or None
        Per categorical feature, the levels ``ranges`` allows (None: every observed one).
    """

    names: tuple[str, ...]
    categorical: np.ndarray
    integer: np.ndarray
    immutable: np.ndarray
    monotone: np.ndarray
    scale: np.ndarray
    low: np.ndarray
    high: np.ndarray
    user_range: np.ndarray
    levels: list[list[Any]]
    n_observed: np.ndarray
    allowed_levels: list[set | None]
    data: np.ndarray = field(repr=False)  # the encoded training rows

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def numeric(self) -> np.ndarray:
        return ~self.categorical

    # ------------------------------------------------------------ encode / decode
    def encode(self, values: np.ndarray, *, grow: bool = False) -> np.ndarray:
        """Rows of model values (n, n_features) to the encoded space (float64).

        A categorical value not among the levels is appended as a new level when
        ``grow`` (rows to explain), else encoded as NaN.
        """
        values = np.asarray(values)
        out = np.empty(values.shape, dtype=np.float64)
        for j in range(self.n_features):
            col = values[:, j]
            if not self.categorical[j]:
                out[:, j] = pd.to_numeric(pd.Series(col, dtype=object)).to_numpy(np.float64)
                continue
            levels = self.levels[j]
            index = {_key(v): i for i, v in enumerate(levels)}
            codes = np.empty(len(col), dtype=np.float64)
            for i, v in enumerate(col):
                k = _key(v)
                if k not in index:
                    if not grow:
                        codes[i] = np.nan
                        continue
                    index[k] = len(levels)
                    levels.append(v)
                codes[i] = index[k]
            out[:, j] = codes
        return out

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Encoded rows back to model values: float64, or object with categories."""
        if not self.categorical.any():
            return Z
        out = Z.astype(object)
        for j in np.flatnonzero(self.categorical):
            lv = np.empty(len(self.levels[j]), dtype=object)
            lv[:] = self.levels[j]
            out[:, j] = lv[Z[:, j].astype(np.intp)]
        return out

    def dataset(self, Z: np.ndarray) -> Dataset:
        """Encoded rows as a :class:`Dataset` the adapted model can predict on."""
        return Dataset(self.decode(Z), self.names, self.categorical)

    # ------------------------------------------------------------ distances
    def distance(
        self, Z: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weighted L1 distances of rows ``Z`` (n, d) from ``x`` (d,).

        Returns the numeric part ``sum_j w_j |z_j - x_j|`` (default ``w_j = 1/MAD_j``)
        and the categorical part ``sum_j w_j [z_j != x_j]`` (default ``w_j = 1``),
        each of shape (n,). Features equal to ``x`` (NaN included) add nothing.
        """
        w = self.default_weights() if weights is None else weights
        diff = np.abs(Z - x)
        diff = np.where(np.isnan(diff), np.where(_same(Z, x), 0.0, np.inf), diff)
        num = self.numeric
        cont = (diff[:, num] * w[num]).sum(axis=1)
        cat = ((diff[:, ~num] > 0) * w[~num]).sum(axis=1)
        return cont, cat

    def default_weights(self) -> np.ndarray:
        """``1/MAD`` for numeric features, 1 per changed categorical feature."""
        return np.where(self.categorical, 1.0, 1.0 / self.scale)

    def pairwise(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """MAD-scaled L1 plus categorical mismatches between rows of A and B, (nA, nB)."""
        w = self.default_weights()
        out = np.zeros((len(A), len(B)))
        num = self.numeric
        for j in range(self.n_features):  # d passes of (nA, nB): no (nA, nB, d) array
            d = np.abs(A[:, j, None] - B[None, :, j])
            d = np.where(np.isnan(d), 0.0, d)
            out += w[j] * (d if num[j] else (d > 0))
        return out

    # ------------------------------------------------------------ per-row bounds
    def row_space(self, x: np.ndarray) -> RowSpace:
        """The bounds, anchor and feasibility of the encoded row ``x``."""
        d = self.n_features
        lower = np.where(self.user_range, self.low, np.fmin(self.low, x))
        upper = np.where(self.user_range, self.high, np.fmax(self.high, x))
        mono = self.monotone
        lower = np.where(mono > 0, np.fmax(lower, x), lower)
        upper = np.where(mono < 0, np.fmin(upper, x), upper)
        frozen = self.immutable | np.isnan(x)
        lower = np.where(frozen, x, lower)
        upper = np.where(frozen, x, upper)
        anchor = x.copy()
        mutable = ~frozen
        allowed: list[np.ndarray] = []
        reason = None
        for j in range(d):
            name = self.names[j]
            if self.categorical[j]:
                ok = np.arange(int(self.n_observed[j]))
                if self.allowed_levels[j] is not None:
                    keys = self.allowed_levels[j]
                    ok = np.array([i for i in ok if _key(self.levels[j][i]) in keys], dtype=int)
                allowed.append(ok.astype(np.float64))
                if frozen[j]:
                    continue
                if not np.isin(x[j], ok):
                    if ok.size == 0:
                        reason = reason or (
                            f"feature {name!r} holds {self.levels[j][int(x[j])]!r}, which its "
                            "range does not allow, and no observed level is allowed"
                        )
                        continue
                    anchor[j] = ok[0]
                if ok.size == 0 or (ok.size == 1 and ok[0] == anchor[j]):
                    mutable[j] = False
                continue
            allowed.append(np.empty(0))
            if frozen[j]:
                continue
            lo, hi = lower[j], upper[j]
            if lo > hi:
                if mono[j] != 0:
                    why = "may only increase" if mono[j] > 0 else "may only decrease"
                    side = "below" if mono[j] > 0 else "above"
                    reason = reason or (
                        f"feature {name!r} {why} from {x[j]:g} but its range "
                        f"({self.low[j]:g}, {self.high[j]:g}) lies entirely {side} that value"
                    )
                else:  # pragma: no cover - build_space refuses low > high
                    reason = reason or f"feature {name!r} has an empty range"
                continue
            if self.integer[j]:
                lo_i, hi_i = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
                inside = lo <= x[j] <= hi
                if lo_i > hi_i and not inside:
                    reason = reason or (
                        f"integer feature {name!r} has no integer value in its allowed range "
                        f"[{lo:g}, {hi:g}] and its value {x[j]:g} lies outside it"
                    )
                    continue
                if not inside:
                    anchor[j] = min(max(round(x[j]), lo_i), hi_i)
                if lo_i > hi_i or (lo_i == hi_i and anchor[j] == lo_i):
                    mutable[j] = False
                continue
            anchor[j] = min(max(x[j], lo), hi)
            if lo == hi:
                mutable[j] = False
        if reason is None and not mutable.any() and np.array_equal(anchor, x, equal_nan=True):
            reason = "no feature can change under the constraints (all immutable or pinned)"
        return RowSpace(x, anchor, lower, upper, mutable, tuple(allowed), reason)

    # ------------------------------------------------------------ projection
    def project(self, Z: np.ndarray, rs: RowSpace) -> np.ndarray:
        """Move rows ``Z`` (n, d) into the allowed space of ``rs`` (in place, returned).

        Numeric values are clipped to their bounds, integer ones rounded (a value
        equal to the row's own stays as is), forbidden categorical codes and frozen
        features reset to the anchor.
        """
        num = self.numeric
        Z[:, num] = np.clip(Z[:, num], rs.lower[num], rs.upper[num])
        for j in np.flatnonzero(self.integer & rs.mutable):
            col = Z[:, j]
            keep = col == rs.x[j]
            lo_i, hi_i = math.ceil(rs.lower[j] - 1e-9), math.floor(rs.upper[j] + 1e-9)
            Z[:, j] = np.where(keep, col, np.clip(np.round(col), lo_i, hi_i))
        for j in np.flatnonzero(self.categorical & rs.mutable):
            bad = ~np.isin(Z[:, j], rs.allowed[j]) & (Z[:, j] != rs.anchor[j])
            Z[bad, j] = rs.anchor[j]
        fixed = ~rs.mutable
        Z[:, fixed] = rs.anchor[fixed]
        # a value outside the range is only allowed when it is the row's own value
        return Z

    def violations(self, Z: np.ndarray, rs: RowSpace) -> list[str]:
        """Every constraint that a row of ``Z`` breaks, as text (empty: none)."""
        out: list[str] = []
        x = rs.x
        same = _same(Z, x)
        for j, name in enumerate(self.names):
            col, s = Z[:, j], same[:, j]
            if self.immutable[j] and not s.all():
                out.append(f"immutable feature {name!r} changed")
            # the row's own value is allowed only where it is allowed (anchor == x)
            own_ok = s & _same(rs.anchor[None, j], x[None, j])[0]
            if self.categorical[j]:
                ok = np.isin(col, rs.allowed[j]) | own_ok
                if not ok.all():
                    out.append(f"feature {name!r} took a level that is not allowed")
                continue
            inside = (col >= rs.lower[j]) & (col <= rs.upper[j])
            if not (inside | own_ok).all():
                out.append(f"feature {name!r} left its allowed range")
            if self.monotone[j] > 0 and np.any(col < x[j]):
                out.append(f"feature {name!r} decreased but may only increase")
            if self.monotone[j] < 0 and np.any(col > x[j]):
                out.append(f"feature {name!r} increased but may only decrease")
            if self.integer[j] and not (s | (col == np.round(col))).all():
                out.append(f"integer feature {name!r} took a non-integer value")
        return out


def _key(v: Any) -> Any:
    """A hashable key for a level; NaN-like values all map to one key."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ("<missing>",)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same(Z: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (Z == x) | (np.isnan(Z) & np.isnan(x))


# ---------------------------------------------------------------------- construction
def _mutable_items(
    mapping: Any,
    argument: str,
    names: Sequence[str],
    immutable: np.ndarray,
    wanted: str,
    example: str,
) -> Iterator[tuple[int, Any]]:
    """(column, value) of each entry of a constraint dict, checked: a dict, known
    features, none of them immutable."""
    if not isinstance(mapping, Mapping):
        raise InputError(
            f"{argument} must be a dict of feature -> {wanted}, got "
            f"{type(mapping).__name__}; e.g. {argument}={example}."
        )
    for key, value in mapping.items():
        j = resolve_feature(key, names, argument)
        if immutable[j]:
            raise InputError(
                f"feature {names[j]!r} is both immutable and in {argument}; an immutable "
                "feature never changes, so remove it from one of them."
            )
        yield j, value


def build_space(
    data: Dataset,
    *,
    immutable: Any,
    ranges: Mapping[Any, Any] | None,
    monotone: Mapping[Any, Any] | None,
    integer: Any,
    categorical_features: Any,
) -> FeatureSpace:
    """Read scales, kinds and levels from ``data`` and check the constraints.

    Raises
    ------
    InputError
        A constraint names an unknown feature, a feature is both immutable and in
        ``ranges``/``monotone``, a range has ``low > high`` or is not a pair, a
        monotone direction is not "increase"/"decrease" or applies to a categorical
        feature, ``integer`` names a categorical feature, or every feature is
        immutable.
    """
    user_integer = integer
    names = data.feature_names
    d = len(names)
    values = data.values
    categorical = np.asarray(data.categorical, dtype=bool).copy()
    for key in _as_keys(categorical_features, "categorical_features"):
        categorical[resolve_feature(key, names, "categorical_features")] = True

    imm = np.zeros(d, dtype=bool)
    for key in _as_keys(immutable, "immutable"):
        imm[resolve_feature(key, names, "immutable")] = True
    if imm.all():
        raise InputError(
            "immutable names every feature, so no counterfactual can exist; leave at least "
            "one feature mutable."
        )

    levels: list[list[Any]] = [[] for _ in range(d)]
    n_obs = np.zeros(d, dtype=np.int64)
    scale = np.ones(d)
    low = np.full(d, -np.inf)
    high = np.full(d, np.inf)
    integer = np.zeros(d, dtype=bool)
    for j in range(d):
        col = values[:, j]
        if categorical[j]:
            seen = pd.unique(pd.Series(col, dtype=object).dropna())
            try:
                seen = sorted(seen)
            except TypeError:
                seen = list(seen)
            levels[j] = list(seen)
            n_obs[j] = len(seen)
            continue
        try:
            num = pd.to_numeric(pd.Series(col, dtype=object)).to_numpy(np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"feature {names[j]!r} holds non-numeric values but is not categorical; "
                "mark it with categorical_features or give numbers."
            ) from None
        finite = num[np.isfinite(num)]
        scale[j] = robust_scale(num)
        if finite.size:
            low[j], high[j] = finite.min(), finite.max()
            integer[j] = bool(np.all(finite == np.round(finite)))

    for key in _as_keys(user_integer, "integer"):
        j = resolve_feature(key, names, "integer")
        if categorical[j]:
            raise InputError(
                f"integer names the categorical feature {names[j]!r}; integer applies to "
                "numeric features only, remove it from integer."
            )
        integer[j] = True

    mono = np.zeros(d, dtype=np.int8)
    if monotone is not None:
        items = _mutable_items(
            monotone, "monotone", names, imm, "'increase' or 'decrease'", "{'age': 'increase'}"
        )
        for j, direction in items:
            if direction not in _MONOTONE:
                raise InputError(
                    f"monotone[{names[j]!r}] must be 'increase' or 'decrease', got "
                    f"{direction!r}; e.g. monotone={{'age': 'increase'}}."
                )
            if categorical[j]:
                raise InputError(
                    f"monotone names the categorical feature {names[j]!r}, whose levels have "
                    "no order; remove it from monotone (use ranges to allow some levels)."
                )
            mono[j] = _MONOTONE[direction]

    user_range = np.zeros(d, dtype=bool)
    allowed_levels: list[set | None] = [None] * d
    if ranges is not None:
        items = _mutable_items(
            ranges, "ranges", names, imm, "(low, high)", "{'income': (0, 100000)}"
        )
        for j, rng in items:
            if categorical[j]:
                try:
                    allowed = {_key(v) for v in rng}
                except TypeError:
                    raise InputError(
                        f"ranges[{names[j]!r}] must list the allowed levels of this "
                        f"categorical feature, got {rng!r}; e.g. ['a', 'b']."
                    ) from None
                known = {_key(v) for v in levels[j]}
                unknown = [v for v in allowed if v not in known]
                if unknown:
                    raise InputError(
                        f"ranges[{names[j]!r}] allows levels {unknown[:5]} never observed in "
                        f"the data (levels {levels[j][:10]}); list observed levels only."
                    )
                allowed_levels[j] = allowed
                continue
            try:
                lo, hi = (float(v) for v in rng)
            except (TypeError, ValueError):
                raise InputError(
                    f"ranges[{names[j]!r}] must be a pair (low, high) of numbers, got "
                    f"{rng!r}; e.g. (0, 100). Use -inf or inf for an open side."
                ) from None
            if math.isnan(lo) or math.isnan(hi) or lo > hi:
                raise InputError(
                    f"ranges[{names[j]!r}] must have low <= high, got ({lo:g}, {hi:g}); "
                    "swap the bounds."
                )
            low[j], high[j] = lo, hi
            user_range[j] = True

    space = FeatureSpace(
        names=tuple(names),
        categorical=categorical,
        integer=integer & ~categorical,
        immutable=imm,
        monotone=mono,
        scale=scale,
        low=low,
        high=high,
        user_range=user_range,
        levels=levels,
        n_observed=n_obs,
        allowed_levels=allowed_levels,
        data=np.empty((0, d)),
    )
    space.data = space.encode(values)
    return space
