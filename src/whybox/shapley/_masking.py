"""Shared helpers of the model-agnostic Shapley explainers: players, coalitions, masking.

A *player* is a feature or a group of features. A *coalition* is a set of players,
written as a boolean mask over the columns: a column is taken from the explained row
when its player is in the coalition, and from a background row otherwise
(interventional or marginal masking, Janzing, Minorics & Bloebaum 2020). The value of a
coalition is the model output averaged over the background rows:

    v(S) = mean over background rows b of f(x_S, b_notS)

These helpers build the masked rows in bounded chunks, call the model once per chunk
and return the coalition values; the explainers turn those into Shapley values.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import (
    check_batch_size,
    check_random_state,
    json_value,
    prepare_model,
    resolve_players,
)
from whybox._version import __version__
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.shapley._background import WeightedBackground

DEFAULT_BATCH_SIZE = 65536
"""Default number of model-input rows per model call."""

DEFAULT_MAX_BACKGROUND = 100
"""Background rows kept by default; a larger background is sampled down to this."""


def prepare_background(
    model: Model,
    background: Any,
    *,
    max_background: int | None,
    random_state: Any,
    owner: str,
) -> tuple[Dataset, int]:
    """Check the background and sample it down to ``max_background`` rows if larger.

    Returns
    -------
    dataset : Dataset
        The background rows used, in the model's column order.
    n_given : int
        The number of background rows given.

    Raises
    ------
    InputError
        If ``background`` is missing or does not fit the model.
    """
    if background is None:
        raise InputError(
            f"{owner} needs background data (the reference rows that stand in for "
            "absent features), got None; pass background=X_train or a sample of it."
        )
    data = model.check_data(adapt_data(background, name="background"), name="background")
    n_given = data.n_samples
    if max_background is not None:
        if (
            isinstance(max_background, bool)
            or not isinstance(max_background, (int, np.integer))
            or max_background < 1
        ):
            raise InputError(
                f"max_background must be a positive integer or None, got {max_background!r}; "
                "e.g. max_background=100."
            )
        if n_given > max_background:
            rng = np.random.default_rng(random_state)
            idx = np.sort(rng.choice(n_given, size=int(max_background), replace=False))
            warnings.warn(
                f"the background has {n_given} rows; {owner} uses a random sample of "
                f"{int(max_background)} of them (cost grows linearly with the background); "
                "pass max_background=None to use them all, or a smaller background to "
                "silence this warning.",
                UserWarning,
                stacklevel=4,
            )
            data = Dataset(data.values[idx], data.feature_names, data.categorical)
    return data, n_given


def combine_dtype(X: np.ndarray, background: np.ndarray) -> np.dtype:
    """The dtype of masked rows: float64, or object when either side holds text."""
    if X.dtype == object or background.dtype == object:
        return np.dtype(object)
    return np.dtype(np.float64)


def coalition_values(
    model: Model,
    output: str,
    X: np.ndarray,
    background: np.ndarray,
    masks: np.ndarray,
    *,
    batch_size: int,
    progress: Any = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The value ``v(S)`` of every coalition for every explained row.

    Parameters
    ----------
    model : Model
    output : str
        The output space, already resolved.
    X : ndarray of shape (n_samples, n_features)
        The explained rows (float64 or object).
    background : ndarray of shape (n_background, n_features)
    masks : ndarray of shape (n_coalitions, n_features) or (n_samples, n_coalitions, n_features), bool
        Column masks: True takes the column from the explained row, False from the
        background. A 2-D array is shared by every row.
    batch_size : int
        Model-input rows per model call (at least one coalition, i.e.
        ``n_background`` rows, per call). Never changes the result.
    progress : tqdm bar or None
        Updated with the number of explained rows completed.
    weights : ndarray of shape (n_background,) or None
        Background row weights summing to one (a weighted summary of the data);
        None weighs the rows equally.

    Returns
    -------
    ndarray of shape (n_samples, n_coalitions, n_outputs), float64
        ``v(S)``: the model output in ``output`` averaged (with ``weights``) over the
        background.
    """
    n = X.shape[0]
    n_bg = background.shape[0]
    shared = masks.ndim == 2
    n_coal = masks.shape[-2]
    total = n * n_coal
    per_call = total if batch_size is None else max(1, batch_size // n_bg)
    dtype = combine_dtype(X, background)
    Xc = X.astype(dtype, copy=False)
    bg = background.astype(dtype, copy=False)
    out: np.ndarray | None = None
    done_rows = 0
    for start in range(0, total, per_call):
        stop = min(total, start + per_call)
        q = np.arange(start, stop)
        rows, coal = np.divmod(q, n_coal)
        m = masks[coal] if shared else masks[rows, coal]
        # (c, n_bg, d): the explained row where the mask is set, the background elsewhere.
        batch = np.where(m[:, None, :], Xc[rows][:, None, :], bg[None, :, :])
        pred = model.predict(batch.reshape(-1, batch.shape[-1]), output)
        k = pred.shape[1]
        if out is None:
            out = np.empty((n, n_coal, k), dtype=np.float64)
        pred = pred.reshape(stop - start, n_bg, k)
        vals = pred.mean(axis=1) if weights is None else np.einsum("cbk,b->ck", pred, weights)
        out.reshape(total, k)[start:stop] = vals
        if progress is not None:
            finished = stop // n_coal
            progress.update(finished - done_rows)
            done_rows = finished
    if out is None:  # no coalitions to evaluate
        out = np.empty((n, n_coal, model.n_outputs), dtype=np.float64)
    return out


def shapley_explanation(
    explainer: Any,
    values: np.ndarray,
    X: np.ndarray,
    model_output: np.ndarray,
    params: dict[str, Any],
    quality: dict[str, Any] | None = None,
) -> Explanation:
    """The :class:`Explanation` of a background explainer's values for the rows ``X``.

    ``explainer`` supplies ``players``, ``expected_value``, ``model``, ``output`` and
    ``method``; with feature groups the data is left out (the feature axis holds the
    groups). The whybox version is added to ``params``.
    """
    n = values.shape[0]
    return Explanation(
        values=values,
        base_values=np.tile(explainer.expected_value, (n, 1)),
        data=None if explainer.players.grouped else X,
        feature_names=explainer.players.names,
        output_names=explainer.model.output_names,
        output_space=explainer.output,
        method=explainer.method,
        params={**params, "whybox_version": __version__},
        model_output=model_output,
        quality=quality or {},
    )


class BackgroundExplainer:
    """Shared set-up of the explainers that mask features with background rows.

    Adapts the model, resolves the output space, checks and (when large) samples
    the background, resolves the players and computes the base value. Subclasses
    implement ``__call__``.
    """

    method = ""
    _owner = "this explainer"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        output: str = "auto",
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_background: int | None = DEFAULT_MAX_BACKGROUND,
        random_state: Any = 0,
    ) -> None:
        random_state = check_random_state(random_state)
        if background is None:
            raise InputError(
                f"{self._owner} needs background data (the reference rows that stand in for "
                "absent features), got None; pass background=X_train or a sample of it."
            )
        weights = None
        if isinstance(background, WeightedBackground):
            background, weights = background.data, background.weights
            max_background = None  # a summary is used whole
        self.model = prepare_model(model, background)
        self.output = self.model.resolve_output(output)
        self.batch_size = check_batch_size(batch_size)
        self.max_background = max_background
        self.random_state = random_state
        self.background, self.n_background_given = prepare_background(
            self.model,
            background,
            max_background=max_background,
            random_state=random_state,
            owner=self._owner,
        )
        self.background_weights = weights
        """ndarray of shape (n_background,) summing to one, or None (equal weights)."""
        self.players = resolve_players(feature_groups, self.background.feature_names)
        base = self.model.predict(self.background.values, self.output)
        self.expected_value = (
            base.mean(axis=0) if weights is None else np.einsum("bk,b->k", base, weights)
        )
        """ndarray of shape (n_outputs,): the base value, mean model output over the background."""

    @classmethod
    def supports(cls, model: Any) -> bool:
        """Whether this explainer can explain ``model``: any model whybox can adapt."""
        try:
            adapt_model(model)
        except InputError:
            return False
        return True

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of the players: the features, or the feature groups."""
        return self.players.names

    def _check_X(self, X: Any) -> Dataset:
        data = adapt_data(X, name="X")
        if data.n_features == self.background.n_features:
            data = self.model.check_data(data, name="X")
        if data.n_features != self.background.n_features:
            raise InputError(
                f"X has {data.n_features} columns but the background has "
                f"{self.background.n_features}; give X the background's columns."
            )
        return data

    def _rows(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``X`` (checked against the background) and the model's output at
        each, of shapes (n_samples, n_features) and (n_samples, n_outputs)."""
        rows = self._check_X(X).values
        return rows, self.model.predict(rows, self.output)

    def _masked_values(self, rows: np.ndarray, masks: np.ndarray, bar: Any) -> np.ndarray:
        """:func:`coalition_values` of ``rows`` under ``masks``, over the background
        (weighted when it is a :class:`WeightedBackground`), in batches of
        ``batch_size`` model rows, advancing the progress ``bar``."""
        return coalition_values(
            self.model,
            self.output,
            rows,
            self.background.values,
            masks,
            batch_size=self.batch_size,
            progress=bar,
            weights=self.background_weights,
        )

    def _common_params(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "background_rows": int(self.background.n_samples),
            "background_weighted": self.background_weights is not None,
            "background_rows_given": int(self.n_background_given),
            "max_background": json_value(self.max_background),
            "feature_groups": self.players.groups_as_dict() if self.players.grouped else None,
            "batch_size": self.batch_size,
            "random_state": json_value(self.random_state),
        }
