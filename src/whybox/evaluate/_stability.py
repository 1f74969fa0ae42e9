"""Stability of an explanation: to small input changes, and to the explainer's own seed.

- :func:`local_lipschitz`: the local Lipschitz estimate of Alvarez-Melis & Jaakkola
  (2018), the largest change of the explanation per unit change of the input over
  random neighbours of each row.
- :func:`seed_stability`: how much a stochastic explainer (LIME, KernelSHAP,
  permutation SHAP, SmoothGrad) changes when only its random seed changes: top-k
  overlap and rank correlations between seeds, and the spread of each value.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import (
    Result,
    check_batch_size,
    check_int,
    check_random_state,
    is_torch_model,
    json_value,
)
from whybox.evaluate._agreement import (
    _standard,
    attribution_matrix,
    check_top_k,
    check_top_k_fits,
    jaccard_rows,
    kendall_rows,
    membership,
    spearman_rows,
    top_features,
)
from whybox.evaluate._numbers import call_user, check_number, nanmean, output_position

NORMS = ("l2", "l1", "linf")
MODEL_CALL_CELLS = 1 << 22
"""Input cells per model call when the model filters the perturbations."""


# ---------------------------------------------------------------------- helpers
def _norm(d: np.ndarray, norm: str) -> np.ndarray:
    """The norm of each row of ``d`` (n, F) -> (n,)."""
    if d.shape[-1] == 0:
        return np.zeros(d.shape[:-1])
    if norm == "l2":
        return np.sqrt(np.einsum("...f,...f->...", d, d))
    if norm == "l1":
        return np.abs(d).sum(axis=-1)
    return np.abs(d).max(axis=-1)


def _as_rows(X: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """(X as passed on, the numeric cells (n, F) float64, the numeric-column mask or None).

    A DataFrame keeps its columns; only its numeric columns are perturbed.
    """
    if isinstance(X, pd.DataFrame):
        numeric = np.array(
            [
                pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                for t in X.dtypes
            ]
        )
        if not numeric.any():
            raise InputError(
                "X has no numeric column to perturb; local_lipschitz moves numeric features "
                "within a small ball, give data with numeric columns."
            )
        frame = X.reset_index(drop=True)
        cells = frame.loc[:, numeric].to_numpy(dtype=np.float64)
        return frame, cells, numeric
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"X must be numeric (or a DataFrame whose numeric columns are perturbed), got "
            f"dtype {arr.dtype}; convert it to numbers first."
        )
    if arr.ndim < 2:
        raise InputError(
            f"X must have a row axis and a feature axis, got shape {arr.shape}; pass e.g. "
            "X.reshape(1, -1) for one row."
        )
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr, arr.reshape(len(arr), -1).astype(np.float64), None


def _stack(X: Any, numeric: np.ndarray | None, cells: np.ndarray) -> Any:
    """The stacked rows handed to the explainer, as X's type (cells: (N, F) numeric)."""
    if numeric is None:
        return cells.reshape(len(cells), *X.shape[1:]).astype(X.dtype, copy=False)
    reps = len(cells) // len(X)
    frame = pd.concat([X] * reps, ignore_index=True)
    cols = frame.columns[numeric]
    frame[cols] = pd.DataFrame(cells, columns=cols).astype(np.float64)
    return frame


def _numeric_cells(Z: Any, numeric: np.ndarray | None) -> np.ndarray:
    if numeric is None:
        return np.asarray(Z, dtype=np.float64).reshape(len(Z), -1)
    return Z.loc[:, numeric].to_numpy(dtype=np.float64)


def _call_explainer(fn: Callable[[Any], Any], Z: Any, name: str) -> Any:
    return call_user(
        fn,
        Z,
        failure=lambda reason: (
            f"{name} failed on the stacked rows of shape {np.shape(Z)} ({reason}); it must "
            "map an array of rows to an Explanation or an array of attributions."
        ),
    )


def _explain_stacked(
    explain_fn: Callable[[Any], Any],
    Z: Any,
    n: int,
    target: Any,
    batch_size: int | None,
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """Explain the stacked rows (blocks of n) and return (values (N, F), method, outputs)."""
    parts = []
    N = len(Z)
    size = N if batch_size is None else batch_size
    for start in range(0, N, size):
        chunk = (
            Z.iloc[start : start + size] if isinstance(Z, pd.DataFrame) else Z[start : start + size]
        )
        parts.append(_call_explainer(explain_fn, chunk, "explain_fn"))
    first = parts[0]
    if isinstance(first, Explanation):
        if not all(isinstance(p, Explanation) for p in parts):
            raise InputError("explain_fn must return the same type on every call.")
        std = [_standard(p, "explain_fn's explanation") for p in parts]
        values = np.concatenate([v for v, _ in std])
        _check_rows(len(values), N)
        mos = [mo for _, mo in std]
        mo = np.concatenate(mos) if all(m is not None for m in mos) else None
        k = values.shape[-1]
        names = first.output_names if len(first.output_names) == k else tuple(map(str, range(k)))
        pos = output_position(target, names, "explain_fn's explanation")
        if pos is None and k > 1:
            if mo is None:
                raise InputError(
                    f"explain_fn returns {k} outputs and no model_output to find each row's "
                    "predicted class; pass target= (a name or position)."
                )
            pos_rows = np.argmax(mo[:n], axis=1)
        else:
            pos_rows = np.full(n, 0 if pos is None else pos, dtype=np.intp)
        reps = len(values) // n
        pos_all = np.tile(pos_rows, reps)
        flat = values[np.arange(len(values)), ..., pos_all].reshape(len(values), -1)
        return flat, first.method, tuple(names[p] for p in pos_rows)
    arrays = []
    for p in parts:
        mat = attribution_matrix(p, name="explain_fn's output")
        arrays.append(mat.values)
    values = np.concatenate(arrays)
    _check_rows(len(values), N)
    return values, "array", ("",) * n


def _check_rows(got: int, expected: int) -> None:
    if got != expected:
        raise InputError(
            f"explain_fn returned {got} rows for {expected} stacked rows; it must explain every "
            "row it is given, in order."
        )


def _labels(model: Any, Z: Any, X_rows: Any) -> np.ndarray | None:
    """Predicted label of every stacked row (None for a regressor: no filter)."""
    if is_torch_model(model):
        from whybox.adapters._torch import adapt_torch_model, import_torch

        torch = import_torch()
        tm = adapt_torch_model(model)
        arr = np.asarray(Z)
        per_row = max(1, int(np.prod(arr.shape[1:])))
        size = max(1, MODEL_CALL_CELLS // per_row)
        out = []
        with torch.no_grad(), tm.evaluation():
            for start in range(0, len(arr), size):
                y = tm.forward(tm.as_input(arr[start : start + size]))
                out.append(y.detach().cpu().to(torch.float64).numpy())
        y = np.concatenate(out)
        # a single output is read as a binary classifier's logit
        return (y[:, 0] > 0).astype(np.intp) if y.shape[1] == 1 else np.argmax(y, axis=1)
    from whybox._utils import prepare_model

    m = prepare_model(model, X_rows)
    if m.task != "classification":
        return None
    per_row = max(1, int(np.prod(np.shape(Z)[1:])))
    size = max(1, MODEL_CALL_CELLS // per_row)
    out = []
    for start in range(0, len(Z), size):
        chunk = (
            Z.iloc[start : start + size] if isinstance(Z, pd.DataFrame) else Z[start : start + size]
        )
        out.append(np.asarray(m.predict_label(chunk)))
    return np.concatenate(out)


def _check_scale(scale: Any, cells: np.ndarray, X: Any, numeric: np.ndarray | None) -> np.ndarray:
    f = cells.shape[1]
    if scale is None:
        if numeric is not None or np.ndim(X) == 2:
            s = cells.std(axis=0)
            missing = np.isnan(cells)
            if missing.any():  # the std of the values present; 0 for a column with none
                for j in np.flatnonzero(missing.any(axis=0)):
                    kept = cells[~missing[:, j], j]
                    s[j] = kept.std() if kept.size else 0.0
        else:  # images, sequences: the range of all input values
            s = np.full(f, float(cells.max() - cells.min()) if cells.size else 0.0)
    else:
        try:
            s = np.asarray(scale, dtype=np.float64)
        except (TypeError, ValueError):
            s = np.array(np.nan)
        row_shape = (f,) if numeric is not None else tuple(np.shape(X)[1:])
        try:
            s = np.broadcast_to(s, row_shape).reshape(-1).copy()
        except ValueError:
            raise InputError(
                f"scale must be a number or an array broadcastable to one row's shape "
                f"{row_shape}, got shape {np.shape(scale)}; e.g. scale=1.0."
            ) from None
        if not np.all(np.isfinite(s)) or (s < 0).any():
            raise InputError(f"scale must be finite and >= 0, got {scale!r}; e.g. scale=1.0.")
    if not (s > 0).any():
        raise InputError(
            "every feature of X is constant (zero spread), so there is no ball to perturb in; "
            "pass scale= (the perturbation size per feature), e.g. scale=1.0."
        )
    return s


# ---------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class LocalLipschitz(Result):
    """Local Lipschitz estimates of an explanation (Alvarez-Melis & Jaakkola 2018).

    Attributes
    ----------
    estimate : ndarray of shape (n_rows,), float64
        Per row, ``max over the kept neighbours x' of ||e(x) - e(x')|| / ||x - x'||``:
        explanation units (those of its ``output_space``) per input unit. Lower is
        more stable; NaN where no neighbour was kept.
    ratios : ndarray of shape (n_rows, n_perturbations), float64
        Every neighbour's ratio (NaN where it was dropped because the prediction
        changed, or where it equals the row).
    explanation_distance, input_distance : ndarray of shape (n_rows, n_perturbations)
        The numerator and denominator of each ratio (in the chosen ``norm``).
    kept : ndarray of shape (n_rows, n_perturbations), bool
        Whether the neighbour counted (same predicted label as the row when a model
        was given; all True otherwise).
    scale : ndarray of shape (n_cells,), float64
        The spread each perturbed cell moves in: ``x'_j = x_j + U(-1, 1) * radius *
        scale_j``.
    outputs : tuple of str
        The output explained for each row.
    radius : float
    norm : str
    method : str
    params : dict
    """

    estimate: np.ndarray
    ratios: np.ndarray
    explanation_distance: np.ndarray
    input_distance: np.ndarray
    kept: np.ndarray
    scale: np.ndarray
    outputs: tuple[str, ...]
    radius: float
    norm: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_share(self) -> float:
        """The share of all neighbours that counted (prediction preserved)."""
        return float(self.kept.mean()) if self.kept.size else float("nan")

    @property
    def mean_estimate(self) -> float:
        """The estimate averaged over the rows where it is defined."""
        return float(nanmean(self.estimate))

    @property
    def median_estimate(self) -> float:
        """The median estimate over the rows where it is defined (NaN if none)."""
        e = self.estimate[~np.isnan(self.estimate)]
        return float(np.median(e)) if e.size else float("nan")

    @property
    def max_estimate(self) -> float:
        """The largest estimate over the rows (NaN if none is defined)."""
        e = self.estimate[~np.isnan(self.estimate)]
        return float(e.max()) if e.size else float("nan")

    def summary(self) -> dict[str, Any]:
        """The overall figures as a JSON-ready dict."""
        return json_value(
            {
                "mean_estimate": self.mean_estimate,
                "median_estimate": self.median_estimate,
                "max_estimate": self.max_estimate,
                "kept_share": self.kept_share,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per explained row: ``output``, ``estimate``, ``mean_ratio``, ``kept_share``."""
        return pd.DataFrame(
            {
                "output": list(self.outputs),
                "estimate": self.estimate,
                "mean_ratio": nanmean(self.ratios, axis=1),
                "kept_share": self.kept.mean(axis=1) if self.kept.shape[1] else np.nan,
            }
        )


@dataclass(frozen=True, eq=False)
class SeedStability(Result):
    """How much an explainer's output depends on its random seed.

    Attributes
    ----------
    seeds : tuple
        The seeds compared.
    values : ndarray of shape (n_seeds, n_rows, n_features), float64
        Each seed's attributions of the evaluated output (feature axes flattened).
    top_k_jaccard : ndarray of shape (n_rows,), float64
        Per row, the Jaccard index ``|A & B| / |A | B|`` of the top-k features (by
        ``|value|``, ties by position) averaged over all pairs of seeds; 1 for a
        deterministic explainer.
    spearman, kendall : ndarray of shape (n_rows,), float64
        Per row, Spearman's rho and Kendall's tau-b of ``|values|`` averaged over all
        pairs of seeds (identical rankings count 1; see
        :func:`whybox.evaluate._agreement.spearman_rows`).
    value_std : ndarray of shape (n_rows, n_features), float64
        The standard deviation of each value across seeds (``ddof=1``), in the
        explanation's output units.
    value_mean : ndarray of shape (n_rows, n_features), float64
    feature_names : tuple of str
    outputs : tuple of str
    k : int
        The top-k size used (capped at the number of features).
    method : str
    params : dict
    """

    seeds: tuple[Any, ...]
    values: np.ndarray
    top_k_jaccard: np.ndarray
    spearman: np.ndarray
    kendall: np.ndarray
    value_std: np.ndarray
    value_mean: np.ndarray
    feature_names: tuple[str, ...]
    outputs: tuple[str, ...]
    k: int
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def relative_std(self) -> float:
        """Mean std across seeds over the mean ``|value|``: the noise as a share of the signal."""
        scale = float(np.abs(self.value_mean).mean())
        return float(self.value_std.mean() / scale) if scale > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        """The overall figures (row means) as a JSON-ready dict."""
        return json_value(
            {
                "top_k_jaccard": nanmean(self.top_k_jaccard),
                "spearman": nanmean(self.spearman),
                "kendall": nanmean(self.kendall),
                "mean_value_std": self.value_std.mean(),
                "relative_std": self.relative_std,
                "k": self.k,
                "n_seeds": len(self.seeds),
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per explained row: ``output``, ``top_k_jaccard``, ``spearman``, ``kendall``,
        ``mean_value_std``."""
        return pd.DataFrame(
            {
                "output": list(self.outputs),
                "top_k_jaccard": self.top_k_jaccard,
                "spearman": self.spearman,
                "kendall": self.kendall,
                "mean_value_std": self.value_std.mean(axis=1),
            }
        )


# ---------------------------------------------------------------------- local Lipschitz
def local_lipschitz(
    explain_fn: Callable[[Any], Any],
    X: Any,
    *,
    radius: float = 0.1,
    n_perturbations: int = 20,
    model: Any = None,
    norm: str = "l2",
    target: Any = None,
    scale: Any = None,
    batch_size: int | None = None,
    random_state: Any = 0,
) -> LocalLipschitz:
    """Local Lipschitz estimate of an explanation: its largest change per unit input change.

    For each row x, ``n_perturbations`` neighbours are drawn uniformly in the L-inf
    ball ``x'_j = x_j + U(-1, 1) * radius * scale_j``; the estimate is (Alvarez-Melis
    & Jaakkola 2018)

        ``L(x) = max over neighbours x' of ||e(x) - e(x')|| / ||x - x'||``

    where ``e`` is the explanation of the evaluated output, flattened over its
    feature axes. With ``model``, only neighbours with the row's predicted label
    count (an explanation may rightly change where the prediction does); the share
    kept is reported. All neighbours of all rows are explained in ONE call of
    ``explain_fn`` (or in chunks of ``batch_size`` rows).

    Parameters
    ----------
    explain_fn : callable
        Maps rows of the form of X (an array (N, ...) or a DataFrame) to an
        :class:`~whybox.Explanation` or an array of attributions (N, ...). It is
        called on ``n_perturbations + 1`` consecutive blocks of the n rows: block 0
        the rows themselves, block j their j-th neighbours, so a per-row argument
        can be repeated as ``np.tile(target, len(Z) // n)``, e.g.
        ``lambda Z: ig(Z, target=np.tile(y, len(Z) // len(y)))``.
    X : array-like of shape (n_rows, ...) or DataFrame
        The rows whose explanations are tested: a table (n, d), images (n, C, H, W)
        or other numeric arrays; a DataFrame's non-numeric columns are kept as they
        are and only its numeric columns move. A missing value (NaN) stays missing in
        every neighbour and counts as no change in ``||x - x'||``.
    radius : float, default=0.1
        The half-width of the ball in units of ``scale``.
    n_perturbations : int, default=20
        Neighbours per row (>= 1).
    model : object, optional
        The explained model (scikit-learn-like or a torch module): neighbours whose
        predicted label differs from the row's are dropped. Regressors drop none; a
        torch module with one output is read as a binary classifier's logit.
    norm : {"l2", "l1", "linf"}, default="l2"
        The norm of both the explanation and the input differences.
    target : str, int or None, default=None
        The explanation output evaluated (name or position). None: the only output,
        else each row's predicted class (largest recorded ``model_output`` at the
        row), kept for its neighbours.
    scale : float or array-like, optional
        The spread of each cell (one row's shape, or the numeric columns of a
        DataFrame). Default: each column's standard deviation over X (``ddof=0``)
        for tables, the value range ``max(X) - min(X)`` for images and other inputs
        with more than one feature axis.
    batch_size : int, optional
        Rows per call of ``explain_fn``; None explains all ``n * (n_perturbations +
        1)`` rows in one call.
    random_state : int, numpy Generator or None, default=0
        Seeds the neighbours.

    Returns
    -------
    LocalLipschitz
        ``estimate`` per row (explanation units per input unit), every neighbour's
        ratio, numerator and denominator, and the ``kept`` mask.

    Raises
    ------
    InputError
        Non-numeric X, ``radius`` <= 0, ``n_perturbations`` < 1, an unknown ``norm``,
        a bad ``scale``, X without spread and no ``scale``, an ``explain_fn`` that
        fails or returns the wrong number of rows, or a bad ``target``.

    Notes
    -----
    Cost: one explanation of ``n * (n_perturbations + 1)`` rows (plus one model call
    on them with ``model``).

    References
    ----------
    .. [1] D. Alvarez-Melis and T. S. Jaakkola, "On the robustness of interpretability
       methods", ICML Workshop on Human Interpretability in ML, 2018 (arXiv:1806.08049).
    .. [2] D. Alvarez-Melis and T. S. Jaakkola, "Towards robust interpretability with
       self-explaining neural networks", NeurIPS 2018.
    """
    if not callable(explain_fn):
        raise InputError(
            f"explain_fn must be a callable rows -> Explanation, got {type(explain_fn).__name__}; "
            "pass e.g. lambda Z: whybox.explain(model, Z)."
        )
    check_number(radius, "radius", "a number > 0", lambda v: v > 0, "radius=0.1")
    n_perturbations = check_int(n_perturbations, "n_perturbations", 1, "n_perturbations=20")
    if norm not in NORMS:
        raise InputError(f"norm must be one of {NORMS}, got {norm!r}; e.g. norm='l2'.")
    batch_size = check_batch_size(batch_size)
    rng = np.random.default_rng(check_random_state(random_state))
    X_rows, cells, numeric = _as_rows(X)
    n, f = cells.shape
    if n == 0:
        raise InputError("X has no rows; give at least one row to explain.")
    m = int(n_perturbations)
    s = _check_scale(scale, cells, X_rows, numeric)
    noise = rng.uniform(-1.0, 1.0, size=(m, n, f)) * (float(radius) * s)
    stacked_cells = np.concatenate([cells[None], cells[None] + noise]).reshape((m + 1) * n, f)
    Z = _stack(X_rows, numeric, stacked_cells)
    # the denominators from the cells as handed over (float32 images are rounded)
    z_cells = _numeric_cells(Z, numeric).reshape(m + 1, n, f)
    # a missing cell stays missing in every neighbour: it moves by 0
    delta_x = np.nan_to_num(z_cells[1:] - z_cells[0][None], nan=0.0)
    values, method, outputs = _explain_stacked(explain_fn, Z, n, target, batch_size)
    e = values.reshape(m + 1, n, -1)
    num = _norm(e[1:] - e[0][None], norm).T  # (n, m)
    den = _norm(delta_x, norm).T
    kept = np.ones((n, m), dtype=bool)
    if model is not None:
        labels = _labels(model, Z, X_rows)
        if labels is not None:
            lab = np.asarray(labels).reshape(m + 1, n)
            kept = (lab[1:] == lab[0][None]).T
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(kept & (den > 0), num / np.where(den > 0, den, 1.0), np.nan)
    defined = ~np.isnan(ratios)
    estimate = np.where(
        defined.any(axis=1), np.max(np.where(defined, ratios, -np.inf), axis=1), np.nan
    )
    params = {
        "radius": float(radius),
        "n_perturbations": m,
        "norm": norm,
        "target": json_value(target),
        "scale": "given"
        if scale is not None
        else ("column std" if (numeric is not None or np.ndim(X_rows) == 2) else "value range"),
        "model_filter": model is not None,
        "batch_size": json_value(batch_size),
        "random_state": json_value(random_state),
        "n_rows": n,
        "explanation_method": method,
    }
    return LocalLipschitz(
        estimate=estimate,
        ratios=ratios,
        explanation_distance=num,
        input_distance=den,
        kept=kept,
        scale=s,
        outputs=outputs,
        radius=float(radius),
        norm=norm,
        method=method,
        params=params,
    )


# ---------------------------------------------------------------------- seed stability
def seed_stability(
    explainer_factory: Callable[[Any], Callable[[Any], Any]],
    X: Any,
    *,
    seeds: Sequence[Any] = (0, 1, 2, 3, 4),
    top_k: int | None = None,
    target: Any = None,
) -> SeedStability:
    """How much a stochastic explainer's attributions change with its seed alone.

    Each seed's explainer (``explainer_factory(seed)``) explains the same rows X; for
    every pair of seeds and every row the overlap of the top-k features (Jaccard
    index) and the rank correlations (Spearman, Kendall tau-b) of the absolute
    attributions are computed and averaged over the pairs, and the standard
    deviation of every value across seeds is reported. A deterministic explainer
    (TreeSHAP, exact SHAP, Integrated Gradients) gives 1 everywhere and zero spread.

    Parameters
    ----------
    explainer_factory : callable
        ``explainer_factory(seed)`` returns a callable rows -> Explanation (or array
        of attributions), e.g. ``lambda s: LimeTabularExplainer(model, X_train,
        random_state=s)``.
    X : array-like or DataFrame
        The rows explained, passed as is to every explainer.
    seeds : sequence, default=(0, 1, 2, 3, 4)
        At least two distinct seeds.
    top_k : int or None, default=None
        Top-k size. None: 5, or every feature when there are fewer; an integer above
        the number of features is an error.
    target : str, int or None, default=None
        The output compared (name or position). None: the only output, else each
        row's predicted class from the first seed's recorded ``model_output``, kept
        for every seed.

    Returns
    -------
    SeedStability
        Per-row ``top_k_jaccard``, ``spearman``, ``kendall`` in [-1, 1] (Jaccard in
        [0, 1]) and ``value_std`` (n_rows, n_features) in the explanation's units.

    Raises
    ------
    InputError
        Fewer than two distinct seeds, ``top_k`` < 1 or above the number of features,
        an explainer that is not callable
        or fails, or explanations of different shapes across seeds.

    References
    ----------
    .. [1] G. Visani, E. Bagli, F. Chesani, A. Poluzzi and D. Capuzzo, "Statistical
       stability indices for LIME: obtaining reliable explanations for machine learning
       models", Journal of the Operational Research Society 73(1), 2022.
    .. [2] S. Krishna et al., "The disagreement problem in explainable machine
       learning: a practitioner's perspective", arXiv:2202.01602, 2022 (top-k overlap
       and rank correlation of attributions).
    """
    if not callable(explainer_factory):
        raise InputError(
            f"explainer_factory must be a callable seed -> explainer, got "
            f"{type(explainer_factory).__name__}; pass e.g. lambda s: "
            "LimeTabularExplainer(model, X_train, random_state=s)."
        )
    seeds = tuple(seeds) if not isinstance(seeds, (str, bytes)) else (seeds,)
    try:
        distinct = len({repr(s) for s in seeds})
    except TypeError:
        distinct = len(seeds)
    if len(seeds) < 2 or distinct < len(seeds):
        raise InputError(
            f"seeds must hold at least two distinct seeds, got {seeds!r}; e.g. seeds=(0, 1, 2, 3, 4)."
        )
    top_k = check_top_k(top_k)
    mats = []
    positions = None
    for s in seeds:
        fn = explainer_factory(s)
        if not callable(fn):
            raise InputError(
                f"explainer_factory({s!r}) returned {type(fn).__name__}, not a callable; it must "
                "return an explainer, e.g. LimeTabularExplainer(model, X_train, random_state=s)."
            )
        res = _call_explainer(fn, X, f"the explainer of seed {s!r}")
        mat = attribution_matrix(
            res, target=target, positions=positions, name=f"the explanation of seed {s!r}"
        )
        if positions is None:
            positions = mat.positions
        if mats and mat.values.shape != mats[0].values.shape:
            raise InputError(
                f"the explanation of seed {s!r} has shape {mat.values.shape} but that of seed "
                f"{seeds[0]!r} has {mats[0].values.shape}; every seed must explain the same rows."
            )
        mats.append(mat)
    values = np.stack([m.values for m in mats])  # (S, n, F)
    n_seeds, n, f = values.shape
    k_eff = check_top_k_fits(top_k, f)
    ins = [membership(top_features(v, k_eff), f) for v in values]
    absv = np.abs(values)
    jac, rho, tau = [], [], []
    for a, b in combinations(range(n_seeds), 2):
        jac.append(jaccard_rows(ins[a], ins[b]))
        rho.append(spearman_rows(absv[a], absv[b]))
        tau.append(kendall_rows(absv[a], absv[b]))
    return SeedStability(
        seeds=seeds,
        values=values,
        top_k_jaccard=np.mean(jac, axis=0),
        spearman=np.mean(rho, axis=0),
        kendall=np.mean(tau, axis=0),
        value_std=values.std(axis=0, ddof=1),
        value_mean=values.mean(axis=0),
        feature_names=mats[0].feature_names,
        outputs=mats[0].outputs,
        k=k_eff,
        method=mats[0].method,
        params={
            "seeds": [json_value(s) for s in seeds],
            "top_k": top_k,
            "top_k_used": k_eff,
            "target": json_value(target),
            "n_rows": n,
            "n_features": f,
        },
    )
