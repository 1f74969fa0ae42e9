"""Shared machinery of the perturbation metrics: players, baselines and batched model calls.

An explanation is tested by removing its *players* (tabular features or feature
groups, image patches or superpixels, tokens, words) and watching the model's output
for the explained output. :func:`prepare` turns a model and an
:class:`~whybox.Explanation` into a :class:`PerturbationSet` that knows, for every
explained row, its players, each player's attribution, the values a removed player
takes (the baseline) and how to call the model on a stack of perturbed copies; the
metrics only build boolean "removed" masks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_batch_size, is_torch_model
from whybox.evaluate._numbers import call_user, output_position

AUTO_BATCH_CELLS = 1 << 22
"""Input cells (model-input rows x cells per row) per model call when ``batch_size`` is None."""

N_BACKGROUND_DRAWS = 8
"""Background rows drawn per explained row for ``baseline="background"``."""

BASELINES = ("mean", "zeros", "background")


# ---------------------------------------------------------------------- checks


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``.

    Parameters
    ----------
    a, b : ndarray of shape (n, m), float64

    Returns
    -------
    ndarray of shape (n,), float64
        NaN where either row is constant (the correlation is undefined).
    """
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    num = (a * b).sum(axis=-1)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    # a row whose spread is at the level of rounding noise counts as constant
    scale_a = np.sqrt((a * a).sum(axis=-1))
    scale_b = np.sqrt((b * b).sum(axis=-1))
    tiny = (scale_a <= 1e-12) | (scale_b <= 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    return np.where(tiny, np.nan, np.clip(r, -1.0, 1.0))


# ---------------------------------------------------------------------- the set
@dataclass(eq=False)
class PerturbationSet:
    """Everything a perturbation metric needs about the explained rows.

    Attributes
    ----------
    kind : {"tabular", "torch", "text"}
    x : ndarray of shape (n, n_cells)
        The explained inputs, flattened (float64, or object for text columns).
    input_shape : tuple of int
        The shape of one input (cells = its product).
    labels : ndarray of shape (n_cells,) or (n, n_cells), int
        The player that owns each cell (per row for per-row segmentations).
    n_players : ndarray of shape (n,), int
        Players of each row; ``attributions`` is padded with zeros past them.
    attributions : ndarray of shape (n, max_players), float64
        Each player's attribution (the sum over its cells) for the evaluated output.
    cell_values : ndarray of shape (n, n_cells), float64
        The explanation's values for the evaluated output, cell by cell.
    baseline : ndarray of shape (n, n_cells) or (n, n_draws, n_cells), or None
        The values of removed cells (with draws for ``baseline="background"``;
        None for text, where removed words are deleted).
    output_index : ndarray of shape (n,), int
        The model output column evaluated for each row.
    output_names : tuple of str
        The name of the output evaluated for each row.
    model_output : ndarray of shape (n,), float64
        The model's evaluated output at each explained row.
    output_space : str
    spread : ndarray of shape (n_cells,) or None
        The standard deviation used to scale Gaussian noise (None where the inputs
        are not numeric).
    params : dict
        JSON-ready description of the players and baseline.
    """

    kind: str
    x: np.ndarray
    input_shape: tuple[int, ...]
    labels: np.ndarray
    n_players: np.ndarray
    attributions: np.ndarray
    cell_values: np.ndarray
    baseline: np.ndarray | None
    output_index: np.ndarray
    output_names: tuple[str, ...]
    output_space: str
    spread: np.ndarray | None
    batch_size: int | None
    params: dict[str, Any]
    _predict: Callable[[np.ndarray, np.ndarray], np.ndarray] = field(repr=False)
    _texts: Callable[[np.ndarray, np.ndarray], list[str]] | None = field(default=None, repr=False)
    model_output: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n_rows(self) -> int:
        return self.x.shape[0]

    @property
    def n_cells(self) -> int:
        return self.x.shape[1]

    @property
    def max_players(self) -> int:
        return self.attributions.shape[1]

    def _rows_per_call(self, per_row_copies: int = 1) -> int:
        if self.batch_size is not None:
            return max(1, self.batch_size // per_row_copies)
        return max(1, AUTO_BATCH_CELLS // (max(self.n_cells, 1) * per_row_copies))

    def cell_mask(self, rows: np.ndarray, removed: np.ndarray) -> np.ndarray:
        """Player masks (N, max_players) to cell masks (N, n_cells)."""
        if self.labels.ndim == 1:
            return removed[:, self.labels]
        return np.take_along_axis(removed, self.labels[rows], axis=1)

    def outputs_removed(self, rows: np.ndarray, removed: np.ndarray) -> np.ndarray:
        """The evaluated output with the marked players removed.

        Parameters
        ----------
        rows : ndarray of shape (N,), int
            The explained row each perturbed copy comes from.
        removed : ndarray of shape (N, max_players), bool
            True where the player is removed (set to the baseline; deleted for text).

        Returns
        -------
        ndarray of shape (N,), float64
            With ``baseline="background"``, the mean over the row's background draws.
        """
        rows = np.asarray(rows, dtype=np.intp)
        out = np.empty(len(rows), dtype=np.float64)
        if self.kind == "text":
            step = self._rows_per_call()
            for start in range(0, len(rows), step):
                sl = slice(start, min(start + step, len(rows)))
                texts = self._texts(rows[sl], removed[sl])
                out[sl] = self._predict(rows[sl], texts)
            return out
        draws = 1 if self.baseline is None or self.baseline.ndim == 2 else self.baseline.shape[1]
        step = self._rows_per_call(draws)
        for start in range(0, len(rows), step):
            sl = slice(start, min(start + step, len(rows)))
            r = rows[sl]
            mask = self.cell_mask(r, removed[sl])
            if draws == 1 and self.baseline.ndim == 2:
                X = np.where(mask, self.baseline[r], self.x[r])
                out[sl] = self._predict(r, X)
            else:
                X = np.where(mask[:, None, :], self.baseline[r], self.x[r][:, None, :])
                y = self._predict(np.repeat(r, draws), X.reshape(-1, self.n_cells))
                out[sl] = y.reshape(-1, draws).mean(axis=1)
        return out

    def outputs_at(self, rows: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The evaluated output at arbitrary inputs ``X`` (N, n_cells) of the given rows."""
        rows = np.asarray(rows, dtype=np.intp)
        out = np.empty(len(rows), dtype=np.float64)
        step = self._rows_per_call()
        for start in range(0, len(rows), step):
            sl = slice(start, min(start + step, len(rows)))
            out[sl] = self._predict(rows[sl], X[sl])
        return out


# ---------------------------------------------------------------------- explanation
def _standard_values(explanation: Explanation) -> tuple[np.ndarray, tuple[str, ...]]:
    """The values as (n, *input_axes, n_outputs), with the names of the outputs."""
    values, axes = explanation.values, explanation.axes
    if axes.count("features") > 1:
        raise InputError(
            f"explanation has axes {axes} (interaction values); the perturbation metrics "
            "need one attribution per feature: sum one feature axis first."
        )
    if "samples" not in axes:
        values = values[None]
        axes = ("samples", *axes)
    if "outputs" not in axes:
        values = values[..., None]
    return values, explanation.output_names


def _output_positions(target: Any, names: tuple[str, ...]) -> int | None:
    """The explanation output chosen by ``target`` (None: choose per row, unless the
    explanation has a single output)."""
    position = output_position(target, names, "this explanation", strict=True)
    return 0 if position is None and len(names) == 1 else position


def _is_text(explanation: Explanation) -> bool:
    return (
        "lime" in explanation.method.lower()
        and isinstance(explanation.params.get("text"), str)
        and "spans" in explanation.params
    )


def _player_sums(cell_values: np.ndarray, labels: np.ndarray, n_max: int) -> np.ndarray:
    """Sum each row's cell values per player: (n, n_cells) -> (n, n_max)."""
    n = cell_values.shape[0]
    lab = np.broadcast_to(labels, cell_values.shape)
    flat = (np.arange(n)[:, None] * n_max + lab).ravel()
    return np.bincount(flat, weights=cell_values.ravel(), minlength=n * n_max).reshape(n, n_max)


# ---------------------------------------------------------------------- players
def _patch_labels(height: int, width: int, size: int) -> tuple[np.ndarray, int]:
    n_w = -(-width // size)
    n_h = -(-height // size)
    hh, ww = np.meshgrid(np.arange(height) // size, np.arange(width) // size, indexing="ij")
    return (hh * n_w + ww).ravel(), n_h * n_w


def _image_players(
    segments: Any, n: int, input_shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Cell labels ((C*H*W,) or (n, C*H*W)), players per row, and the params entry."""
    c, h, w = input_shape
    if segments is None:
        segments = ("patches", 4)
    if isinstance(segments, tuple) and len(segments) == 2 and segments[0] == "patches":
        size = segments[1]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise InputError(
                f"segments=('patches', size) needs a positive integer patch size, got "
                f"{size!r}; e.g. segments=('patches', 4)."
            )
        lab, p = _patch_labels(h, w, int(size))
        labels = np.tile(lab, c)  # channels are removed together
        return labels, np.full(n, p, dtype=np.intp), {"segments": ["patches", int(size)]}
    seg = np.asarray(segments)
    if seg.shape == (h, w):
        seg = np.broadcast_to(seg, (n, h, w))
    if seg.shape != (n, h, w) or not np.issubdtype(seg.dtype, np.integer):
        raise InputError(
            f"segments must be ('patches', size) or an integer array of superpixel labels "
            f"of shape ({n}, {h}, {w}) or ({h}, {w}), got "
            f"{type(segments).__name__} of shape {np.shape(segments)}; e.g. "
            "skimage.segmentation.slic(...) per image, stacked."
        )
    # relabel each row's segments to 0..P_i-1 (vectorised over rows)
    flat = seg.reshape(n, -1).astype(np.int64)
    flat = flat - flat.min(axis=1, keepdims=True)
    key = np.arange(n)[:, None] * (int(flat.max()) + 1) + flat
    uniq, inverse = np.unique(key, return_inverse=True)
    owner = uniq // (int(flat.max()) + 1)
    first = np.searchsorted(owner, np.arange(n))
    local = inverse.reshape(n, -1) - first[:, None]
    n_players = np.bincount(owner, minlength=n).astype(np.intp)
    labels = np.tile(local, (1, c))
    return labels, n_players, {"segments": "array"}


def _tabular_players(
    segments: Any, explanation: Explanation, column_names: tuple[str, ...], n: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], tuple[str, ...]]:
    """Cell labels (n_columns,), players per row, params entry and player names."""
    from whybox._utils import resolve_players

    d = len(column_names)
    groups = segments
    if groups is None:
        groups = explanation.params.get("feature_groups")
    if groups is None:
        return np.arange(d), np.full(n, d, dtype=np.intp), {"segments": None}, column_names
    if not isinstance(groups, Mapping):
        raise InputError(
            f"segments for a tabular explanation must be None or a dict of group name -> "
            f"columns, got {type(groups).__name__}; e.g. segments={{'size': ['h', 'w']}}."
        )
    players = resolve_players(groups, column_names)
    labels = np.empty(d, dtype=np.intp)
    for i, cols in enumerate(players.columns):
        labels[cols] = i
    return (
        labels,
        np.full(n, players.n_players, dtype=np.intp),
        {"segments": players.groups_as_dict()},
        players.names,
    )


# ---------------------------------------------------------------------- baselines
def _resolve_baseline(
    baseline: Any,
    background: np.ndarray | None,
    x: np.ndarray,
    input_shape: tuple[int, ...],
    rng: np.random.Generator,
    *,
    numeric: bool,
) -> tuple[np.ndarray, Any]:
    """The removed cells' values, (n, n_cells) or (n, n_draws, n_cells), and its description."""
    n, cells = x.shape
    ref = x if background is None else background
    if isinstance(baseline, str):
        if baseline == "mean":
            if numeric:
                value = ref.astype(np.float64).mean(axis=0)
            else:
                value = np.array([_mean_or_mode(ref[:, j]) for j in range(cells)], dtype=object)
            return np.broadcast_to(value, (n, cells)), "mean"
        if baseline == "zeros":
            if not numeric:
                raise InputError(
                    "baseline='zeros' needs numeric inputs but the data has text columns; "
                    "use baseline='mean' (the mode for text columns) or 'background'."
                )
            return np.zeros((n, cells)), "zeros"
        if baseline == "background":
            if background is None:
                raise InputError(
                    "baseline='background' needs background rows, got background=None; pass "
                    "background=X_train (a sample of the training data)."
                )
            idx = rng.integers(0, len(background), size=(n, N_BACKGROUND_DRAWS))
            return background[idx], "background"
        raise InputError(
            f"baseline must be one of {BASELINES}, a number or an array, got {baseline!r}; "
            "e.g. baseline='mean'."
        )
    if np.isscalar(baseline) and not isinstance(baseline, (bool, np.bool_)):
        if not isinstance(baseline, (int, float, np.integer, np.floating)):
            raise InputError(
                f"baseline must be one of {BASELINES}, a number or an array, got "
                f"{baseline!r}; e.g. baseline=0.0."
            )
        return np.full((n, cells), float(baseline)), float(baseline)
    arr = np.asarray(baseline)
    if arr.shape == input_shape:
        return np.broadcast_to(arr.reshape(1, cells), (n, cells)), "array"
    if arr.shape == (n, *input_shape):
        return arr.reshape(n, cells), "array"
    raise InputError(
        f"baseline has shape {arr.shape} but one input has shape {input_shape}; give "
        f"'mean', 'zeros', 'background', a number, or an array of shape {input_shape} or "
        f"{(n, *input_shape)}."
    )


def _mean_or_mode(col: np.ndarray) -> Any:
    values = pd.to_numeric(pd.Series(col, dtype=object), errors="coerce")
    if values.notna().all():
        return float(values.mean())
    return pd.Series(col, dtype=object).mode(dropna=True).iloc[0]


def _check_background(background: Any, input_shape: tuple[int, ...]) -> np.ndarray | None:
    if background is None:
        return None
    arr = np.asarray(background)
    if arr.ndim == len(input_shape):
        arr = arr[None]
    if arr.shape[1:] != input_shape or arr.shape[0] == 0:
        raise InputError(
            f"background has shape {arr.shape} but one input has shape {input_shape}; give "
            f"rows of shape (n_background, {', '.join(map(str, input_shape))})."
        )
    return arr.reshape(arr.shape[0], -1)


# ---------------------------------------------------------------------- prepare
def prepare(
    model: Any,
    explanation: Any,
    *,
    baseline: Any = "mean",
    background: Any = None,
    target: Any = None,
    segments: Any = None,
    batch_size: Any = None,
    rng: np.random.Generator,
) -> PerturbationSet:
    """Resolve the model, players, baseline and output of an explanation.

    Raises
    ------
    InputError
        ``explanation`` is not an Explanation or has no data, does not fit the model
        (another dataset), ``target`` names no output, ``baseline``, ``background`` or
        ``segments`` do not fit the inputs.
    """
    if not isinstance(explanation, Explanation):
        raise InputError(
            f"explanation must be a whybox Explanation, got {type(explanation).__name__}; "
            "pass the result of an explainer, e.g. whybox.explain(model, X)."
        )
    if explanation.data is None:
        raise InputError(
            "explanation has no data (the explained inputs); the metrics perturb them, so "
            "use an explanation that records its data."
        )
    batch_size = check_batch_size(batch_size)
    values, out_names = _standard_values(explanation)
    position = _output_positions(target, out_names)
    if _is_text(explanation):
        return _prepare_text(model, explanation, values, out_names, position, batch_size)
    if is_torch_model(model):
        return _prepare_torch(
            model, explanation, values, out_names, position, baseline, background, segments,
            batch_size, rng,
        )  # fmt: skip
    return _prepare_tabular(
        model, explanation, values, out_names, position, baseline, background, segments,
        batch_size, rng,
    )  # fmt: skip


def _choose_outputs(
    position: int | None, model_out: np.ndarray, cols: np.ndarray, names: tuple[str, ...]
) -> np.ndarray:
    """Per row, the explanation output evaluated (its position in ``names``)."""
    n = model_out.shape[0]
    if position is not None:
        return np.full(n, position, dtype=np.intp)
    # the explained output with the largest model output: the predicted class when
    # every class is explained (softmax, sigmoid and log-odds keep the order)
    return np.argmax(model_out[:, cols], axis=1).astype(np.intp)


def _warn_model_output(explanation: Explanation, pos: np.ndarray, f_x: np.ndarray) -> None:
    mo = explanation.model_output
    if mo is None:
        return
    mo = np.asarray(mo, dtype=np.float64)
    if mo.ndim == 1:
        mo = mo[:, None]
    if mo.ndim == 0 or mo.shape[0] != len(f_x):
        return
    recorded = mo[np.arange(len(f_x)), np.minimum(pos, mo.shape[1] - 1)]
    if not np.allclose(recorded, f_x, rtol=1e-3, atol=1e-4, equal_nan=True):
        warnings.warn(
            "the model's output on the explanation's data differs from the explanation's "
            "recorded model_output; was the explanation made with another model or output "
            "space? The metrics evaluate the model given.",
            UserWarning,
            stacklevel=4,
        )


def _prepare_tabular(
    model, explanation, values, out_names, position, baseline, background, segments,
    batch_size, rng,
) -> PerturbationSet:  # fmt: skip
    from whybox._utils import prepare_model
    from whybox.adapters import adapt_data

    data = np.asarray(explanation.data)
    if data.ndim == 1:
        data = data[None]
    n = values.shape[0]
    if values.ndim != 3:
        raise InputError(
            f"explanation has axes {explanation.axes} but the model is not a torch module; "
            "explanations of images or sequences need the torch model they explain."
        )
    # per_column: one value per data column (players may still group them via segments);
    # otherwise one value per feature group of params["feature_groups"]
    per_column = explanation.params.get("feature_groups") is None
    if data.ndim != 2 or data.shape[0] != n:
        raise InputError(
            f"explanation.data has shape {data.shape} but its values have {n} rows; use an "
            "explanation whose data are the explained rows."
        )
    if per_column and data.shape[1] != values.shape[1]:
        raise InputError(
            f"explanation.data has {data.shape[1]} columns but {values.shape[1]} features "
            "are explained; group explanations need their feature_groups in params or "
            "segments=."
        )
    columns = list(explanation.feature_names) if per_column else None
    frame = pd.DataFrame(data, columns=columns).infer_objects()
    m = prepare_model(model, frame)
    if not per_column and m.feature_names is not None and len(m.feature_names) == data.shape[1]:
        frame.columns = list(m.feature_names)
    try:
        dataset = m.check_data(adapt_data(frame, name="explanation.data"), name="explanation.data")
    except InputError as exc:
        raise InputError(
            f"the explanation does not fit the model (was it made on another dataset?): {exc}"
        ) from None
    x = dataset.values
    col_names = tuple(dataset.feature_names)
    if per_column and col_names != tuple(explanation.feature_names):
        order = [list(explanation.feature_names).index(c) for c in col_names]
        values = values[:, order]
    numeric = x.dtype != object
    if numeric:
        x = x.astype(np.float64)
    labels, n_players, seg_params, player_names = _tabular_players(
        segments, explanation, col_names, n
    )
    if not per_column and values.shape[1] != len(player_names):
        raise InputError(
            f"the explanation has {values.shape[1]} features but the players are "
            f"{len(player_names)} ({list(player_names)[:5]}...); give segments matching the "
            "explanation's feature groups."
        )
    bg = None
    if background is not None:
        bg_data = m.check_data(adapt_data(background, name="background"), name="background")
        bg = bg_data.values.astype(np.float64) if numeric else bg_data.values
    space = explanation.output_space
    model_names = tuple(m.output_names)
    cols = _model_columns(out_names, model_names)
    f_all = m.predict(x, space)
    pos = _choose_outputs(position, f_all, cols, out_names)
    out_col = cols[pos]

    def predict(rows: np.ndarray, X: np.ndarray) -> np.ndarray:
        y = m.predict(X, space)
        return y[np.arange(len(rows)), out_col[rows]]

    chosen = values[np.arange(n), :, pos]
    if per_column:  # a player's attribution is the sum over its columns
        cell_values = chosen
        player_vals = _player_sums(chosen, labels, len(player_names))
    else:  # values per group: spread evenly over the group's columns
        player_vals = chosen
        counts = np.bincount(labels, minlength=len(player_names))
        cell_values = chosen[:, labels] / counts[labels]
    base, base_desc = _resolve_baseline(baseline, bg, x, (x.shape[1],), rng, numeric=numeric)
    ref = x if bg is None else bg
    spread = ref.astype(np.float64).std(axis=0) if numeric else None
    f_x = f_all[np.arange(n), out_col]
    _warn_model_output(explanation, pos, f_x)
    return PerturbationSet(
        kind="tabular",
        x=x,
        input_shape=(x.shape[1],),
        labels=labels,
        n_players=n_players,
        attributions=np.asarray(player_vals, dtype=np.float64),
        cell_values=np.asarray(cell_values, dtype=np.float64),
        baseline=base,
        output_index=out_col,
        output_names=tuple(out_names[p] for p in pos),
        output_space=space,
        spread=spread,
        batch_size=batch_size,
        params={
            **seg_params,
            "baseline": base_desc,
            "n_background": None if bg is None else len(bg),
            "player_names": list(player_names),
        },
        _predict=predict,
        model_output=f_x,
    )


def _model_columns(out_names: tuple[str, ...], model_names: tuple[str, ...]) -> np.ndarray:
    """The model output column of each explanation output (matched by name)."""
    if len(model_names) == 1:
        return np.zeros(len(out_names), dtype=np.intp)
    cols = []
    for name in out_names:
        if name not in model_names:
            if len(out_names) == len(model_names):
                return np.arange(len(out_names))
            raise InputError(
                f"the explanation's output {name!r} is not an output of the model "
                f"({list(model_names)[:10]}); evaluate the model the explanation was made for."
            )
        cols.append(model_names.index(name))
    return np.asarray(cols, dtype=np.intp)


def _prepare_torch(
    model, explanation, values, out_names, position, baseline, background, segments,
    batch_size, rng,
) -> PerturbationSet:  # fmt: skip
    from whybox.adapters._torch import adapt_torch_model, import_torch

    torch = import_torch()
    space = "probability" if explanation.output_space == "probability" else "raw"
    tm = adapt_torch_model(model, output=space)
    data = np.asarray(explanation.data, dtype=np.float64)
    n = values.shape[0]
    input_shape = tuple(int(s) for s in values.shape[1:-1])
    if data.ndim == 4 and len(input_shape) == 2 and data.shape[2:] == input_shape:
        # a map over height x width (Grad-CAM) for images (C, H, W): spread each pixel's
        # value evenly over the channels, so a patch's sum is the map's sum over it
        values = np.repeat(values[:, None], data.shape[1], axis=1) / data.shape[1]
        input_shape = tuple(int(s) for s in data.shape[1:])
    if data.shape != (n, *input_shape):
        raise InputError(
            f"explanation.data has shape {data.shape} but its values have input shape "
            f"{input_shape} for {n} rows; use an explanation whose data are its inputs."
        )
    target = explanation.params.get("target")
    if target == "callable":
        raise InputError(
            "the explanation was made for a callable target; the perturbation metrics need "
            "integer targets (class indices) to know which output to evaluate."
        )
    x = data.reshape(n, -1)

    def forward(X: np.ndarray) -> np.ndarray:
        t = tm.as_input(X.reshape(len(X), *input_shape))
        with torch.no_grad(), tm.evaluation():
            out = tm.forward(t)
        return out.detach().cpu().to(torch.float64).numpy()

    f_all = call_user(
        forward,
        x,
        failure=lambda reason: (
            f"the model could not run on the explanation's data of shape {data.shape} "
            f"({reason}); was the explanation made on another dataset or model?"
        ),
    )
    k_model = f_all.shape[1]
    if target is not None and not isinstance(target, str):
        tgt = np.asarray(target, dtype=np.intp).reshape(-1)
        if tgt.size == 1:
            tgt = np.full(n, int(tgt[0]), dtype=np.intp)
        if tgt.shape != (n,) or (tgt < 0).any() or (tgt >= k_model).any():
            raise InputError(
                f"explanation.params['target'] must hold one output index in 0..{k_model - 1} "
                f"per row ({n}), got {target!r}; was it made with another model?"
            )
        if values.shape[-1] != 1:
            tgt = None
    else:
        tgt = None
    if tgt is not None:
        pos = np.zeros(n, dtype=np.intp)
        out_col = tgt
    else:
        cols = _model_columns(out_names, tuple(str(i) for i in range(k_model)))
        pos = _choose_outputs(position, f_all, cols, out_names)
        out_col = cols[pos]

    def predict(rows: np.ndarray, X: np.ndarray) -> np.ndarray:
        y = forward(np.asarray(X, dtype=np.float64))
        return y[np.arange(len(rows)), out_col[rows]]

    cell_values = values[np.arange(n), ..., pos].reshape(n, -1)
    if len(input_shape) == 3:
        labels, n_players, seg_params = _image_players(segments, n, input_shape)
    elif len(input_shape) in (1, 2):
        if segments is not None:
            raise InputError(
                f"segments is for images (inputs of shape (C, H, W)); these inputs have "
                f"shape {input_shape}, whose players are their "
                f"{'features' if len(input_shape) == 1 else 'tokens'}: leave segments out."
            )
        size = int(np.prod(input_shape[1:])) if len(input_shape) == 2 else 1
        labels = np.repeat(np.arange(input_shape[0]), size)
        n_players = np.full(n, input_shape[0], dtype=np.intp)
        seg_params = {"segments": None}
    else:
        raise InputError(
            f"inputs of shape {input_shape} are not supported; the metrics take tables "
            "(features), sequences (tokens, embedding) and images (channels, height, width)."
        )
    p_max = int(n_players.max())
    attributions = _player_sums(cell_values, labels, p_max)
    bg = _check_background(background, input_shape)
    base, base_desc = _resolve_baseline(baseline, bg, x, input_shape, rng, numeric=True)
    ref = x if bg is None else bg
    if len(input_shape) == 1:  # a table: each column's spread
        spread = ref.std(axis=0)
    else:  # images, sequences: the spread of all input values
        spread = np.full(x.shape[1], float(ref.std()))
    f_x = f_all[np.arange(n), out_col]
    _warn_model_output(explanation, pos, f_x)
    return PerturbationSet(
        kind="torch",
        x=x,
        input_shape=input_shape,
        labels=labels,
        n_players=n_players,
        attributions=attributions,
        cell_values=np.asarray(cell_values, dtype=np.float64),
        baseline=base,
        output_index=out_col,
        output_names=tuple(
            str(int(c)) if tgt is not None else out_names[p]
            for c, p in zip(out_col, pos, strict=True)
        ),
        output_space=space,
        spread=spread,
        batch_size=batch_size,
        params={
            **seg_params,
            "baseline": base_desc,
            "n_background": None if bg is None else len(bg),
        },
        _predict=predict,
        model_output=f_x,
    )


def _prepare_text(model, explanation, values, out_names, position, batch_size) -> PerturbationSet:
    """LIME text: the players are the words; removing one deletes it from the text."""
    if not callable(model):
        raise InputError(
            f"model must be the callable list of str -> (n_texts, n_classes) the text "
            f"explanation was made for, got {type(model).__name__}; pass e.g. "
            "pipeline.predict_proba."
        )
    text: str = explanation.params["text"]
    spans = explanation.params["spans"]
    mask_string = explanation.params.get("mask_string")
    n, p = values.shape[0], values.shape[1]
    if n != 1 or len(spans) != p:
        raise InputError(
            f"a LIME text explanation holds one document with one span list per word, got "
            f"{n} rows and {len(spans)} span lists for {p} words."
        )
    # the text as pieces: every word occurrence tagged with its player, gaps as is
    occ = sorted((int(s), int(e), j) for j, sp in enumerate(spans) for s, e in sp)
    pieces: list[str] = []
    owner: list[int] = []
    pos = 0
    for s, e, j in occ:
        pieces.append(text[pos:s])
        owner.append(-1)
        pieces.append(text[s:e])
        owner.append(j)
        pos = e
    pieces.append(text[pos:])
    owner.append(-1)
    owner_arr = np.asarray(owner)
    is_word = owner_arr >= 0
    fill = "" if mask_string is None else str(mask_string)

    def texts(rows: np.ndarray, removed: np.ndarray) -> list[str]:
        out = []
        piece_arr = np.asarray(pieces, dtype=object)
        for mask in removed:
            drop = np.zeros(len(pieces), dtype=bool)
            drop[is_word] = mask[owner_arr[is_word]]
            out.append("".join(np.where(drop, fill, piece_arr)))
        return out

    def call(strings: list[str]) -> np.ndarray:
        y = np.asarray(model(strings), dtype=np.float64)
        return y[:, None] if y.ndim == 1 else y

    try:
        f_all = call([text])
    except Exception as exc:
        raise InputError(
            f"the model could not score the explained text ({type(exc).__name__}: {exc}); "
            "pass the predict_proba the explanation was made for."
        ) from None
    k_model = f_all.shape[1]
    if len(out_names) == k_model:
        cols = np.arange(k_model)
    elif k_model == 2 and len(out_names) == 1:
        cols = np.array([1])
    else:
        raise InputError(
            f"the model returns {k_model} outputs but the explanation has {len(out_names)}; "
            "pass the predict_proba the explanation was made for."
        )
    pos_arr = _choose_outputs(position, f_all, cols, out_names)
    out_col = cols[pos_arr]

    def predict(rows: np.ndarray, strings: list[str]) -> np.ndarray:
        y = call(strings)
        return y[np.arange(len(rows)), out_col[rows]]

    cell_values = values[np.arange(n), :, pos_arr]
    return PerturbationSet(
        kind="text",
        x=np.asarray(explanation.data, dtype=object).reshape(n, p),
        input_shape=(p,),
        labels=np.arange(p),
        n_players=np.full(n, p, dtype=np.intp),
        attributions=np.asarray(cell_values, dtype=np.float64),
        cell_values=np.asarray(cell_values, dtype=np.float64),
        baseline=None,
        output_index=out_col,
        output_names=tuple(out_names[q] for q in pos_arr),
        output_space="probability",
        spread=None,
        batch_size=batch_size,
        params={"segments": "words", "baseline": "deleted" if mask_string is None else "mask"},
        _predict=predict,
        _texts=texts,
        model_output=f_all[np.arange(n), out_col],
    )
