"""Agreement between explanations: the disagreement problem (Krishna et al. 2022).

:func:`agreement` compares several explanations of the same rows (SHAP, LIME, gradient
maps, a global permutation importance ...) pair by pair with the six-ish metrics of
Krishna et al.: feature, rank, sign and signed-rank agreement of the top-k features and
the rank correlation of the absolute attributions, per row and averaged, and says in
plain words where they disagree most.

The rank helpers here (:func:`attribution_matrix`, :func:`spearman_rows`,
:func:`kendall_rows`, :func:`top_features`) are shared by the stability and sanity checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import Result, as_float_array, check_int, json_value
from whybox.evaluate._numbers import nanmean, output_position

METRICS = (
    "feature_agreement",
    "rank_agreement",
    "sign_agreement",
    "signed_rank_agreement",
    "rank_correlation",
)
"""The agreement metrics, in the order of Krishna et al. (2022)."""

KENDALL_MAX_FEATURES = 2048
"""Above this many features Kendall's tau is computed row by row with scipy (O(F log F))."""


# ---------------------------------------------------------------------- values


def check_top_k(top_k: Any) -> int | None:
    """``top_k`` as an int >= 1 (None stays None: the default), else an InputError."""
    if top_k is None:
        return None
    return check_int(top_k, "top_k", 1, "top_k=5")


def check_top_k_fits(top_k: int | None, n_features: int) -> int:
    """``top_k`` when it is at most ``n_features`` (None: 5, or ``n_features`` when fewer),
    else an InputError (a top-k larger than the features would compare whole rankings
    while claiming to compare their tops)."""
    if top_k is None:
        return min(5, n_features)
    if top_k > n_features:
        raise InputError(
            f"top_k must be at most the number of features ({n_features}), got {top_k}; e.g. "
            f"top_k={min(5, n_features)}."
        )
    return top_k


def _standard(explanation: Explanation, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(values as (n, *feature_axes, n_outputs), model_output as (n, n_outputs) or None)."""
    values, axes = explanation.values, explanation.axes
    if axes.count("features") > 1:
        raise InputError(
            f"{name} has axes {axes} (interaction values); the quality checks need one "
            "attribution per feature: sum one feature axis first."
        )
    mo = explanation.model_output
    if "samples" not in axes:
        values = values[None]
        mo = None if mo is None else np.asarray(mo)[None]
    if "outputs" not in axes:
        values = values[..., None]
        mo = None if mo is None else np.asarray(mo)[..., None]
    if mo is not None and np.asarray(mo).shape != (values.shape[0], values.shape[-1]):
        mo = None
    return values, mo


def _positional_names(shape: tuple[int, ...]) -> tuple[str, ...]:
    """Names of the flattened cells of an unnamed input, e.g. ``"(0, 3, 4)"``."""
    if len(shape) == 1:
        return tuple(f"feature {j}" for j in range(shape[0]))
    idx = np.unravel_index(np.arange(int(np.prod(shape))), shape)
    return tuple("(" + ", ".join(str(int(i[j])) for i in idx) + ")" for j in range(len(idx[0])))


@dataclass(frozen=True, eq=False)
class AttributionMatrix:
    """The attributions of one output per row, flattened to (n_rows, n_features).

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_features), float64
    feature_names : tuple of str
        The explanation's names, or positions such as ``"(0, 3, 4)"`` for images.
    named : bool
        Whether ``feature_names`` are the explanation's own names.
    input_shape : tuple of int
        The shape of one row's attributions before flattening.
    positions : ndarray of shape (n_rows,), int
        The output evaluated for each row (its position on the output axis; 0 for arrays).
    outputs : tuple of str
        The name of the output evaluated for each row.
    method : str
    data : ndarray or None
        The explained rows, when known.
    """

    values: np.ndarray
    feature_names: tuple[str, ...]
    named: bool
    input_shape: tuple[int, ...]
    positions: np.ndarray
    outputs: tuple[str, ...]
    method: str
    data: np.ndarray | None = None


def attribution_matrix(
    obj: Any,
    *,
    target: Any = None,
    positions: np.ndarray | None = None,
    n_rows: int | None = None,
    name: str = "explanation",
) -> AttributionMatrix:
    """One output's attributions per row of an Explanation, an array or a global importance.

    Parameters
    ----------
    obj : Explanation, array-like or PermutationImportance
        An :class:`~whybox.Explanation` (any feature axes; interaction values are
        refused); an array of shape (n_rows, *input_shape) holding one output's
        attributions; or a :class:`~whybox.inspection.PermutationImportance`, a global
        ranking broadcast to ``n_rows`` rows (negative importances clipped to 0: a
        feature whose permutation does not hurt the model is not important).
    target : str, int or None
        The output evaluated (a name or a position on the output axis). None: the
        only output, else ``positions``, else each row's largest ``model_output`` (the
        predicted class).
    positions : ndarray of shape (n_rows,), int, optional
        Per-row output positions to use when ``target`` is None.
    n_rows : int, optional
        Rows to broadcast a global importance to.
    name : str
        How ``obj`` is named in error messages.

    Returns
    -------
    AttributionMatrix

    Raises
    ------
    InputError
        ``obj`` of an unknown type, interaction values, a bad ``target``, or a
        multi-output explanation without ``target`` and without a recorded
        ``model_output`` to choose the predicted class from.
    """
    from whybox.inspection import PermutationImportance

    if isinstance(obj, PermutationImportance):
        if n_rows is None:
            raise InputError(
                f"{name} is a global PermutationImportance; it can only be compared with "
                "per-row explanations, give at least one of them."
            )
        imp = np.clip(np.asarray(obj.importances_mean, dtype=np.float64), 0.0, None)
        names = tuple(str(f) for f in obj.feature_names)
        return AttributionMatrix(
            values=np.broadcast_to(imp, (n_rows, len(imp))).copy(),
            feature_names=names,
            named=True,
            input_shape=(len(imp),),
            positions=np.zeros(n_rows, dtype=np.intp),
            outputs=(str(obj.scoring),) * n_rows,
            method="permutation_importance",
        )
    if isinstance(obj, Explanation):
        values, mo = _standard(obj, name)
        n, k = values.shape[0], values.shape[-1]
        out_names = obj.output_names if len(obj.output_names) == k else tuple(map(str, range(k)))
        pos = output_position(target, out_names, name)
        if pos is not None:
            pos_arr = np.full(n, pos, dtype=np.intp)
        elif k == 1:
            pos_arr = np.zeros(n, dtype=np.intp)
        elif positions is not None:
            pos_arr = np.asarray(positions, dtype=np.intp)
            if pos_arr.shape != (n,) or (pos_arr < 0).any() or (pos_arr >= k).any():
                raise InputError(
                    f"{name} has {n} rows and {k} outputs, but the per-row outputs do not fit; "
                    "give target= (a name or position) explicitly."
                )
        elif mo is not None:
            pos_arr = np.argmax(np.asarray(mo, dtype=np.float64), axis=1).astype(np.intp)
        else:
            raise InputError(
                f"{name} has {k} outputs {list(out_names)[:10]} and no recorded model_output "
                "to find each row's predicted class; pass target= (a name or position)."
            )
        input_shape = tuple(int(s) for s in values.shape[1:-1])
        flat = values[np.arange(n), ..., pos_arr].reshape(n, -1)
        named = "features" in obj.axes and len(obj.feature_names) == flat.shape[1]
        names = obj.feature_names if named else _positional_names(input_shape)
        data = obj.data
        if data is not None and (data.ndim == 0 or (n and data.shape[0] != n)):
            data = None
        return AttributionMatrix(
            values=np.ascontiguousarray(flat, dtype=np.float64),
            feature_names=tuple(names),
            named=named,
            input_shape=input_shape,
            positions=pos_arr,
            outputs=tuple(out_names[p] for p in pos_arr),
            method=obj.method,
            data=data,
        )
    arr = as_float_array(
        obj,
        f"{name} must be an Explanation, an array of attributions (n_rows, ...) or a "
        f"PermutationImportance, got {type(obj).__name__}; pass e.g. whybox.explain(model, X).",
    )
    if arr.ndim < 2:
        raise InputError(
            f"{name} must have a row axis and at least one feature axis, got an array of shape "
            f"{arr.shape}; pass attributions of shape (n_rows, n_features)."
        )
    n = arr.shape[0]
    input_shape = tuple(int(s) for s in arr.shape[1:])
    return AttributionMatrix(
        values=np.ascontiguousarray(arr.reshape(n, -1)),
        feature_names=_positional_names(input_shape),
        named=False,
        input_shape=input_shape,
        positions=np.zeros(n, dtype=np.intp),
        outputs=("",) * n,
        method="array",
    )


# ---------------------------------------------------------------------- rank metrics
def rank_rows(a: np.ndarray) -> np.ndarray:
    """Average ranks (1..F, ties share their mean rank) along the last axis, float64."""
    return rankdata(np.asarray(a, dtype=np.float64), method="average", axis=-1)


def _pearson_of_ranks(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    ca = ra - ra.mean(axis=-1, keepdims=True)
    cb = rb - rb.mean(axis=-1, keepdims=True)
    sa = np.sqrt((ca * ca).sum(axis=-1))
    sb = np.sqrt((cb * cb).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ca * cb).sum(axis=-1) / (sa * sb)
    same = np.all(ra == rb, axis=-1)
    # ranks are multiples of 1/2: a zero spread is exact, not rounding noise
    constant = (sa == 0) | (sb == 0)
    return np.where(same, 1.0, np.where(constant, 0.0, np.clip(r, -1.0, 1.0)))


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of each row of ``a`` with the same row of ``b``.

    Parameters
    ----------
    a, b : ndarray of shape (..., F), float

    Returns
    -------
    ndarray of shape (...,), float64 in [-1, 1]
        The Pearson correlation of the average ranks (scipy's ``spearmanr``). Where
        the two rankings are identical it is 1 (also when both are constant); where
        one row is constant and the other is not (no rank information in common) it
        is 0, where scipy would give NaN.
    """
    return _pearson_of_ranks(rank_rows(a), rank_rows(b))


def _kendall_small(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's tau-b row by row from the signs of all pairwise differences."""
    n, f = a.shape
    out = np.empty(n)
    iu = np.triu_indices(f, 1)
    chunk = max(1, int(1_000_000 // max(1, f * f)))
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        da = np.sign(a[sl, :, None] - a[sl, None, :])[:, iu[0], iu[1]]
        db = np.sign(b[sl, :, None] - b[sl, None, :])[:, iu[0], iu[1]]
        s = (da * db).sum(axis=1)
        ta = np.abs(da).sum(axis=1)
        tb = np.abs(db).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = s / np.sqrt(ta * tb)
    return out


def kendall_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of ``a`` with the same row of ``b``.

    Parameters
    ----------
    a, b : ndarray of shape (n, F), float

    Returns
    -------
    ndarray of shape (n,), float64 in [-1, 1]
        scipy's ``kendalltau`` (tau-b, ties corrected), with the same conventions as
        :func:`spearman_rows`: 1 for identical rankings, 0 when exactly one row is
        constant. Vectorised over all pairs for up to ``KENDALL_MAX_FEATURES``
        features, row by row with scipy beyond.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ra, rb = rank_rows(a), rank_rows(b)
    if a.shape[1] <= KENDALL_MAX_FEATURES:
        tau = _kendall_small(ra, rb)
    else:
        from scipy.stats import kendalltau

        tau = np.array([kendalltau(x, y).statistic for x, y in zip(ra, rb, strict=True)])
    same = np.all(ra == rb, axis=-1)
    constant = (np.ptp(ra, axis=-1) == 0) | (np.ptp(rb, axis=-1) == 0)
    return np.where(same, 1.0, np.where(constant, 0.0, np.clip(tau, -1.0, 1.0)))


def top_features(values: np.ndarray, k: int) -> np.ndarray:
    """The k features of largest ``|value|`` per row, largest first, ties by position.

    Returns
    -------
    ndarray of shape (n, k), int
    """
    return np.argsort(-np.abs(values), axis=-1, kind="stable")[..., :k]


def membership(top: np.ndarray, n_features: int) -> np.ndarray:
    """Boolean (n, F): whether each feature is among the row's top features."""
    out = np.zeros((top.shape[0], n_features), dtype=bool)
    np.put_along_axis(out, top, True, axis=1)
    return out


def jaccard_rows(in_a: np.ndarray, in_b: np.ndarray) -> np.ndarray:
    """|A & B| / |A | B| of boolean membership rows (1 where both are empty)."""
    inter = (in_a & in_b).sum(axis=-1)
    union = (in_a | in_b).sum(axis=-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


# ---------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class Agreement(Result):
    """Pairwise agreement of explanations of the same rows (Krishna et al. 2022).

    Attributes
    ----------
    methods : tuple of str
        The names the explanations were given (the keys of the mapping), in order.
    per_row : dict of str to ndarray of shape (n_methods, n_methods, n_rows), float64
        Every metric of :data:`METRICS` for every ordered pair of methods and row; the
        matrices are symmetric and their diagonal is 1. The top-k metrics lie in
        [0, 1], the rank correlation in [-1, 1].
    top_k_share : ndarray of shape (n_methods, n_features), float64
        For each method, the share of rows in whose top k each feature is.
    feature_names : tuple of str
    k : int
        The top-k size used (the requested ``k``, capped at the number of features).
    n_rows : int
    summary : str
        Plain-language sentences, one per pair of methods, the most disagreeing pair
        first: how many of their top-k features they share and on which feature
        they disagree most.
    params : dict

    Notes
    -----
    For two methods a and b with top-k lists ``T_a``, ``T_b`` (by ``|value|``,
    largest first) on one row:

    - feature agreement: ``|T_a & T_b| / k``;
    - rank agreement: the positions ``i`` where ``T_a[i] == T_b[i]``, over k;
    - sign agreement: the features in ``T_a & T_b`` with the same sign, over k;
    - signed rank agreement: the positions where the same feature has the same sign;
    - rank correlation: Spearman's correlation of ``|values|`` over all features
      (conventions of :func:`spearman_rows`).
    """

    methods: tuple[str, ...]
    per_row: dict[str, np.ndarray]
    top_k_share: np.ndarray
    feature_names: tuple[str, ...]
    k: int
    n_rows: int
    summary: str
    params: dict[str, Any] = field(default_factory=dict)

    def matrix(self, metric: str = "feature_agreement") -> pd.DataFrame:
        """The method x method matrix of one metric averaged over rows.

        Parameters
        ----------
        metric : str, default="feature_agreement"
            One of :data:`METRICS`.

        Returns
        -------
        DataFrame of shape (n_methods, n_methods)
            Index and columns: the method names.

        Raises
        ------
        InputError
            ``metric`` unknown.
        """
        if metric not in METRICS:
            raise InputError(f"metric must be one of {METRICS}, got {metric!r}.")
        m = nanmean(self.per_row[metric], axis=-1)
        return pd.DataFrame(m, index=list(self.methods), columns=list(self.methods))

    @property
    def matrices(self) -> dict[str, pd.DataFrame]:
        """Every metric's method x method matrix (see :meth:`matrix`)."""
        return {m: self.matrix(m) for m in METRICS}

    def _pairs(self) -> list[tuple[int, int]]:
        n = len(self.methods)
        return [(i, j) for i in range(n) for j in range(i + 1, n)]

    def _most_disagreed(self, i: int, j: int) -> tuple[int, float, float]:
        # compare row counts (integers), so that ties go to the first feature exactly
        counts = np.rint(self.top_k_share[[i, j]] * self.n_rows)
        f = int(np.argmax(np.abs(counts[0] - counts[1])))
        return f, float(self.top_k_share[i, f]), float(self.top_k_share[j, f])

    def to_frame(self) -> pd.DataFrame:
        """One row per pair of methods with every metric averaged over the rows.

        Returns
        -------
        DataFrame
            Columns ``method_a``, ``method_b``, the :data:`METRICS`, ``shared_top_k``
            (mean number of shared top-k features), ``most_disagreed_feature`` and
            its top-k shares ``share_a``, ``share_b``.
        """
        rows = []
        for i, j in self._pairs():
            f, sa, sb = self._most_disagreed(i, j)
            fa = self.per_row["feature_agreement"][i, j]
            rows.append(
                {
                    "method_a": self.methods[i],
                    "method_b": self.methods[j],
                    **{m: float(nanmean(self.per_row[m][i, j])) for m in METRICS},
                    "shared_top_k": float(fa.mean() * self.k),
                    "most_disagreed_feature": self.feature_names[f],
                    "share_a": sa,
                    "share_b": sb,
                }
            )
        return pd.DataFrame(rows)


# ---------------------------------------------------------------------- agreement
def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _align(mats: list[AttributionMatrix], names: list[str]) -> list[AttributionMatrix]:
    """Check that every explanation covers the same rows and features; reorder by name."""
    first = mats[0]
    n, f = first.values.shape
    ref = next((m for m in mats if m.named), None)
    out = []
    for name, m in zip(names, mats, strict=True):
        if m.values.shape[0] != n:
            raise InputError(
                f"explanations[{name!r}] explains {m.values.shape[0]} rows but "
                f"explanations[{names[0]!r}] explains {n}; explain the same rows with every method."
            )
        if m.values.shape[1] != f:
            raise InputError(
                f"explanations[{name!r}] has {m.values.shape[1]} features but "
                f"explanations[{names[0]!r}] has {f}; compare explanations of the same "
                "features (flatten or group them alike)."
            )
        if ref is not None and m.named and m.feature_names != ref.feature_names:
            if sorted(m.feature_names) != sorted(ref.feature_names):
                extra = sorted(set(m.feature_names) ^ set(ref.feature_names))[:5]
                raise InputError(
                    f"explanations[{name!r}] names other features than the others (differing: "
                    f"{extra}); compare explanations of the same features."
                )
            order = [m.feature_names.index(c) for c in ref.feature_names]
            m = AttributionMatrix(
                values=m.values[:, order],
                feature_names=ref.feature_names,
                named=True,
                input_shape=m.input_shape,
                positions=m.positions,
                outputs=m.outputs,
                method=m.method,
                data=m.data,
            )
        out.append(m)
    datas = [(nm, m.data) for nm, m in zip(names, out, strict=True) if m.data is not None]
    for nm, d in datas[1:]:
        d0 = datas[0][1]
        if d.dtype.kind in "biuf" and d0.dtype.kind in "biuf" and d.shape == d0.shape:
            if not np.allclose(d, d0, rtol=1e-5, atol=1e-6, equal_nan=True):
                raise InputError(
                    f"explanations[{nm!r}] explains other rows than explanations"
                    f"[{datas[0][0]!r}] (their data differ); explain the same rows, in the same "
                    "order, with every method."
                )
    return out


def agreement(
    explanations: Mapping[str, Any],
    *,
    top_k: int | None = None,
    target: Any = None,
) -> Agreement:
    """How much several explanations of the same rows agree, pair by pair.

    For every pair of methods and every row, the top-k metrics of Krishna et al.
    (2022) (feature, rank, sign and signed-rank agreement, see :class:`Agreement`) and
    Spearman's rank correlation of the absolute attributions; averaged over rows into
    one method x method matrix per metric, with a plain-language summary of where the
    methods disagree most (the feature whose share of rows in the top k differs most
    between the two).

    Parameters
    ----------
    explanations : mapping of str to Explanation, array or PermutationImportance
        Two or more explanations of the same rows, by method name, e.g.
        ``{"SHAP": shap_ex, "LIME": lime_ex}``. Tabular explanations (n, d, k), LIME's,
        gradient maps (n, C, H, W, 1) (their cells are flattened into features), arrays
        of attributions (n, ...) and a global
        :class:`~whybox.inspection.PermutationImportance` (the same ranking for
        every row; its negative importances count as 0) are accepted. Explanations
        with feature names are aligned by name.
    top_k : int or None, default=None
        The size of the top-k lists. None: 5, or every feature when there are fewer;
        an integer above the number of features is an error.
    target : str, int or None, default=None
        The output compared, by name or position on each explanation's output axis.
        None: an explanation's only output, else each row's predicted class (largest
        recorded ``model_output``) of the first explanation that has several outputs,
        used for all of them.

    Returns
    -------
    Agreement
        Per-row metrics (n_methods, n_methods, n_rows), the matrices averaged over
        rows (``matrix(metric)``), ``top_k_share`` and the ``summary``. Unitless.

    Raises
    ------
    InputError
        Fewer than two explanations; explanations of different numbers of rows or
        features, of differently named features, or of different data; ``top_k`` < 1
        or above the number of features; a bad ``target``.

    References
    ----------
    .. [1] S. Krishna, T. Han, A. Gu, J. Pombra, S. Jabbari, Z. S. Wu and H. Lakkaraju,
       "The disagreement problem in explainable machine learning: a practitioner's
       perspective", arXiv:2202.01602, 2022.
    """
    if not isinstance(explanations, Mapping):
        raise InputError(
            f"explanations must be a mapping of method name to explanation, got "
            f"{type(explanations).__name__}; pass e.g. {{'SHAP': shap_ex, 'LIME': lime_ex}}."
        )
    if len(explanations) < 2:
        raise InputError(
            f"explanations must hold at least two explanations to compare, got "
            f"{len(explanations)}; pass e.g. {{'SHAP': shap_ex, 'LIME': lime_ex}}."
        )
    top_k = check_top_k(top_k)
    names = [str(nm) for nm in explanations]
    objs = list(explanations.values())
    n_rows = next(
        (
            _standard(o, "explanation")[0].shape[0] if isinstance(o, Explanation) else len(o)
            for o in objs
            if isinstance(o, (Explanation, np.ndarray, list))
        ),
        None,
    )
    mats: list[AttributionMatrix] = []
    positions = None
    for nm, obj in zip(names, objs, strict=True):
        m = attribution_matrix(
            obj, target=target, positions=positions, n_rows=n_rows, name=f"explanations[{nm!r}]"
        )
        if positions is None and isinstance(obj, Explanation) and obj.values.shape[-1] > 1:
            positions = m.positions
        mats.append(m)
    mats = _align(mats, names)
    n, f = mats[0].values.shape
    if n == 0:
        raise InputError("explanations hold no rows; explain at least one row.")
    k_eff = check_top_k_fits(top_k, f)
    tops = [top_features(m.values, k_eff) for m in mats]
    ins = [membership(t, f) for t in tops]
    signs = [np.sign(m.values) for m in mats]
    ranks = [rank_rows(np.abs(m.values)) for m in mats]
    rows = np.arange(n)[:, None]
    n_m = len(mats)
    per_row = {metric: np.ones((n_m, n_m, n)) for metric in METRICS}
    for i in range(n_m):
        for j in range(i + 1, n_m):
            both = ins[i] & ins[j]
            same_pos = tops[i] == tops[j]
            same_sign = signs[i] == signs[j]
            res = {
                "feature_agreement": both.sum(axis=1) / k_eff,
                "rank_agreement": same_pos.sum(axis=1) / k_eff,
                "sign_agreement": (both & same_sign).sum(axis=1) / k_eff,
                "signed_rank_agreement": (same_pos & same_sign[rows, tops[i]]).sum(axis=1) / k_eff,
                "rank_correlation": _pearson_of_ranks(ranks[i], ranks[j]),
            }
            for metric, v in res.items():
                per_row[metric][i, j] = v
                per_row[metric][j, i] = v
    for i in range(n_m):  # a method against itself (1, but computed: sign(0) == sign(0))
        per_row["rank_correlation"][i, i] = _pearson_of_ranks(ranks[i], ranks[i])
    share = np.stack([m.mean(axis=0) for m in ins])
    feature_names = mats[0].feature_names
    if not mats[0].named:
        feature_names = next((m.feature_names for m in mats if m.named), feature_names)
    result = Agreement(
        methods=tuple(names),
        per_row=per_row,
        top_k_share=share,
        feature_names=tuple(feature_names),
        k=k_eff,
        n_rows=n,
        summary="",
        params={
            "top_k": json_value(top_k),
            "top_k_used": k_eff,
            "target": json_value(target),
            "methods": {nm: m.method for nm, m in zip(names, mats, strict=True)},
            "n_features": f,
        },
    )
    object.__setattr__(result, "summary", _summary(result))
    return result


def _summary(res: Agreement) -> str:
    lines = []
    fa = res.per_row["feature_agreement"]
    rc = res.per_row["rank_correlation"]
    pairs = sorted(res._pairs(), key=lambda p: float(fa[p[0], p[1]].mean()))
    for i, j in pairs:
        a, b = res.methods[i], res.methods[j]
        shared = float(fa[i, j].mean()) * res.k
        text = (
            f"{a} and {b} share {shared:.1f} of their top {res.k} features on average "
            f"(rank correlation {float(nanmean(rc[i, j])):.2f})"
        )
        f, sa, sb = res._most_disagreed(i, j)
        if abs(sa - sb) > 0:
            text += (
                f"; they disagree most on {res.feature_names[f]!r} (top-{res.k} for {a} on "
                f"{_pct(sa)} of rows, for {b} on {_pct(sb)})."
            )
        else:
            text += f"; every feature is in their top {res.k} on the same share of rows."
        lines.append(text)
    return "\n".join(lines)
