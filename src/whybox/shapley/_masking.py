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
from dataclasses import dataclass
from typing import Any

import numpy as np

from whybox._checks import check_random_state
from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._version import __version__
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.shapley._background import WeightedBackground

DEFAULT_BATCH_SIZE = 65536
"""Default number of model-input rows per model call."""

DEFAULT_MAX_BACKGROUND = 100
"""Background rows kept by default; a larger background is sampled down to this."""


@dataclass(frozen=True)
class Players:
    """The players of the Shapley game: single features or groups of features.

    Attributes
    ----------
    names : tuple of str
        One name per player (the feature name, or the group's name).
    columns : tuple of ndarray of int
        For each player, the column indices (in the model's column order) it owns.
    n_features : int
        The number of columns of the data.
    grouped : bool
        True when ``feature_groups`` was given.
    """

    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    n_features: int
    grouped: bool

    @property
    def n_players(self) -> int:
        return len(self.names)

    def membership(self) -> np.ndarray:
        """Boolean matrix of shape (n_players, n_features): player i owns column j."""
        out = np.zeros((self.n_players, self.n_features), dtype=bool)
        for i, cols in enumerate(self.columns):
            out[i, cols] = True
        return out

    def column_masks(self, coalitions: np.ndarray) -> np.ndarray:
        """Turn player coalitions into column masks.

        Parameters
        ----------
        coalitions : ndarray of shape (..., n_players), bool

        Returns
        -------
        ndarray of shape (..., n_features), bool
        """
        if not self.grouped:
            return coalitions
        member = self.membership()
        return (coalitions.astype(np.int64) @ member.astype(np.int64)) > 0

    def groups_as_dict(self) -> dict[str, list[int]]:
        """The players as a JSON-ready dict name -> list of column indices."""
        return {n: [int(c) for c in cols] for n, cols in zip(self.names, self.columns, strict=True)}


def resolve_players(
    feature_groups: Mapping[str, Sequence[Any]] | None, feature_names: Sequence[str]
) -> Players:
    """Check ``feature_groups`` and turn it into :class:`Players`.

    Parameters
    ----------
    feature_groups : dict of str to sequence of (str or int), or None
        Group name -> the columns of the group, by name or by position in the
        model's column order. Columns in no group become players of their own,
        after the groups, in column order. ``None``: every column is a player.
    feature_names : sequence of str
        The column names, in the model's order.

    Returns
    -------
    Players

    Raises
    ------
    InputError
        If ``feature_groups`` is not a dict, a group is empty, names an unknown
        column, or two groups share a column.
    """
    names = tuple(str(f) for f in feature_names)
    d = len(names)
    if feature_groups is None:
        return Players(names, tuple(np.array([j]) for j in range(d)), d, False)
    if not isinstance(feature_groups, Mapping):
        raise InputError(
            "feature_groups must be a dict mapping a group name to a list of columns, "
            f"got {type(feature_groups).__name__}; give e.g. {{'size': ['height', 'weight']}}."
        )
    owner: dict[int, str] = {}
    group_names: list[str] = []
    group_cols: list[np.ndarray] = []
    for gname, members in feature_groups.items():
        gname = str(gname)
        if isinstance(members, (str, int, np.integer)):
            members = [members]
        members = list(members)
        if not members:
            raise InputError(
                f"feature_groups[{gname!r}] is empty; give at least one column per group."
            )
        cols = []
        for m in members:
            if isinstance(m, (int, np.integer)) and not isinstance(m, bool):
                if not -d <= int(m) < d:
                    raise InputError(
                        f"feature_groups[{gname!r}] names column position {int(m)} but the "
                        f"data has {d} columns; use positions 0..{d - 1} or column names."
                    )
                j = int(m) % d
            else:
                if str(m) not in names:
                    raise InputError(
                        f"feature_groups[{gname!r}] names the column {m!r}, which is not one "
                        f"of the data's columns {list(names)[:10]}; fix the column name."
                    )
                j = names.index(str(m))
            if j in owner:
                raise InputError(
                    f"the column {names[j]!r} is in both feature_groups[{owner[j]!r}] and "
                    f"feature_groups[{gname!r}]; put each column in one group only."
                )
            owner[j] = gname
            cols.append(j)
        group_names.append(gname)
        group_cols.append(np.array(sorted(cols), dtype=np.intp))
    for j in range(d):
        if j not in owner:
            if names[j] in group_names:
                raise InputError(
                    f"the group name {names[j]!r} is also the name of a column in no group; "
                    "rename the group or put the column in a group."
                )
            group_names.append(names[j])
            group_cols.append(np.array([j], dtype=np.intp))
    return Players(tuple(group_names), tuple(group_cols), d, True)


def prepare_model(model: Any, X: Any) -> Model:
    """Adapt ``model``, naming a plain callable's outputs after one call on ``X``."""
    m = adapt_model(model)
    plain_callable = not isinstance(model, Model) and m.estimator is model and m.classes is None
    if not plain_callable or m.output_names != ("output",) or not callable(model):
        return m
    out = np.asarray(model(adapt_data(X).values[:1]))
    k = out.shape[1] if out.ndim == 2 else 1
    if k == 1:
        return m
    return adapt_model(model, task=m.task, output_names=[f"output_{i}" for i in range(k)])


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


def check_batch_size(batch_size: Any) -> int:
    """Check ``batch_size`` is a positive integer."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise InputError(
            f"batch_size must be a positive integer (model-input rows per call), "
            f"got {batch_size!r}; e.g. batch_size=65536."
        )
    return int(batch_size)


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
    per_call = max(1, batch_size // n_bg)
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


def progress_bar(n_rows: int, show: bool | None, desc: str) -> Any:
    """A tqdm bar over explained rows (shown when ``show`` is True, or for 100+ rows)."""
    from tqdm.auto import tqdm

    disable = (n_rows < 100) if show is None else not show
    return tqdm(total=n_rows, desc=desc, unit="row", disable=disable, leave=False)


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


def json_safe(value: Any) -> Any:
    """``value`` if JSON can hold it (None, bool, int, float, str), else its repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.integer):
        return int(value)
    return repr(value)


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
        random_state: Any = None,
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

    def _common_params(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "background_rows": int(self.background.n_samples),
            "background_weighted": self.background_weights is not None,
            "background_rows_given": int(self.n_background_given),
            "max_background": json_safe(self.max_background),
            "feature_groups": self.players.groups_as_dict() if self.players.grouped else None,
            "batch_size": self.batch_size,
            "random_state": json_safe(self.random_state),
        }
