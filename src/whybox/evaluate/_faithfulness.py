"""Faithfulness of an explanation: does removing what it calls important change the model?

Four tests of one attribution explanation against the model it explains, all built on
the players of :mod:`whybox.evaluate._perturb` (features, feature groups, image patches
or superpixels, tokens, or the words of a LIME text explanation):

- :func:`faithfulness`: deletion and insertion curves (Petsiuk et al. 2018) and AOPC
  (Samek et al. 2017) of the explanation's order against random orders.
- :func:`faithfulness_correlation`: Bhatt et al. (2020), the correlation between the
  attribution of random fixed-size subsets and the output drop when they are removed.
- :func:`sensitivity_n`: Ancona et al. (2018), the same correlation for several subset
  sizes n.
- :func:`infidelity`: Yeh et al. (2019), the mean squared error between the
  explanation's prediction of an output change and the change itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_int, check_random_state, json_value
from whybox.evaluate._numbers import check_number, nanmean
from whybox.evaluate._perturb import PerturbationSet, pearson_rows, prepare

PERTURBATIONS = ("gaussian", "baseline")
MAX_MASK_CELLS = 1 << 24
"""The most player-mask entries built at once (the rows are processed in blocks)."""


# ---------------------------------------------------------------------- helpers


def _prepared(
    model: Any, explanation: Any, random_state: Any, **settings: Any
) -> tuple[np.random.Generator, PerturbationSet]:
    """The seeded generator and the :class:`PerturbationSet` of a metric's call."""
    rng = np.random.default_rng(check_random_state(random_state))
    return rng, prepare(model, explanation, rng=rng, **settings)


def _described(
    ps: PerturbationSet,
    explanation: Any,
    random_state: Any,
    batch_size: Any,
    target: Any,
    **settings: Any,
) -> dict[str, Any]:
    """The fields every result shares: the outputs evaluated, their space, the method
    tested and the params (the players, the baseline and the call's settings)."""
    return {
        "outputs": ps.output_names,
        "output_space": ps.output_space,
        "method": explanation.method,
        "params": {
            **ps.params,
            "target": json_value(target),
            "random_state": json_value(random_state),
            "batch_size": json_value(batch_size),
            "explanation_method": explanation.method,
            "n_rows": ps.n_rows,
            **settings,
        },
    }


def _min_players(ps: PerturbationSet, name: str) -> int:
    """The fewest players of a row, or an InputError when a row has fewer than two."""
    p_min = int(ps.n_players.min())
    if p_min < 2:
        raise InputError(
            f"{name} needs at least 2 players per row, the smallest row has {p_min}; "
            "use smaller segments."
        )
    return p_min


def _random_ranks(rng: np.random.Generator, n_players: np.ndarray, shape: tuple[int, ...]) -> Any:
    """Ranks of the players in uniformly random orders, (n, *shape, P).

    A row's padding players (past its own count) rank last in every order.
    """
    n, p = len(n_players), int(n_players.max())
    keys = rng.random((n, *shape, p))
    pad = np.arange(p) >= n_players[:, None]  # (n, P)
    keys[np.broadcast_to(pad.reshape(n, *([1] * len(shape)), p), keys.shape)] = 2.0
    return _ranks(np.argsort(keys, axis=-1, kind="stable"))


def _row_blocks(n: int, cells_per_row: int) -> list[slice]:
    """Consecutive blocks of rows holding at most ``MAX_MASK_CELLS`` mask cells each."""
    step = max(1, MAX_MASK_CELLS // max(cells_per_row, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _ranks(order: np.ndarray) -> np.ndarray:
    """Inverse permutations along the last axis: rank[player] = position in the order."""
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[-1]), axis=-1)
    return ranks


def _subset_drops(
    ps: PerturbationSet, removed: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Attribution sums and output drops of removed-player masks.

    Parameters
    ----------
    removed : ndarray of shape (b, *shape, P), bool
    rows : ndarray of shape (b,), int, optional
        The explained rows the masks belong to (default: all, in order).

    Returns
    -------
    attribution_sums, drops : ndarrays of shape (b, *shape), float64
        ``sum of the removed players' attributions`` and ``f(x) - f(x with them removed)``.
    """
    b, p = removed.shape[0], removed.shape[-1]
    rows = np.arange(b) if rows is None else rows
    inner = removed.shape[1:-1]
    per_row = int(np.prod(inner, dtype=np.int64))
    f_removed = ps.outputs_removed(np.repeat(rows, per_row), removed.reshape(-1, p))
    sums = np.einsum("n...p,np->n...", removed.astype(np.float64), ps.attributions[rows])
    drops = ps.model_output[rows].reshape(b, *([1] * len(inner))) - f_removed.reshape(b, *inner)
    return sums, drops


def _random_subset_drops(
    ps: PerturbationSet, rng: np.random.Generator, shape: tuple[int, ...], sizes: Any
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_subset_drops` of random subsets, drawn and evaluated in blocks of rows.

    A subset is the first ``size`` players of a uniformly random order; ``sizes``
    broadcasts against ``shape``. The draws follow the rows in order, so the blocks
    never change the result.
    """
    n, p = ps.n_rows, ps.max_players
    sums = np.empty((n, *shape))
    drops = np.empty((n, *shape))
    size = np.asarray(sizes)[..., None]
    for blk in _row_blocks(n, int(np.prod(shape, dtype=np.int64)) * p):
        removed = _random_ranks(rng, ps.n_players[blk], shape) < size
        sums[blk], drops[blk] = _subset_drops(ps, removed, np.arange(n)[blk])
    return sums, drops


# ---------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False, kw_only=True)
class _Tested(Result):
    """The fields every perturbation test's result shares (keyword-only, after the
    result's own fields).

    Attributes
    ----------
    outputs : tuple of str
        The output evaluated for each row.
    output_space : str
        The space of the outputs (the explanation's).
    method : str
        The method of the explanation tested.
    params : dict
        What reproduces the result.
    """

    outputs: tuple[str, ...]
    output_space: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Faithfulness(_Tested):
    """Deletion and insertion curves of an explanation against random orders.

    Every output value is the model's output for the evaluated output (one per row,
    see ``outputs``) in ``output_space``; the x axis is the fraction of the row's
    players removed (deletion) or revealed (insertion).

    Attributes
    ----------
    fractions : ndarray of shape (n_points,), float64
        The normalised x axis, ``0, 1/(n_points-1), ..., 1``.
    deletion, insertion : ndarray of shape (n_rows, n_points), float64
        The explanation's curves: the output after removing the top players (starting
        from the input), and after revealing them (starting from the baseline).
    random_deletion_mean, random_deletion_std : ndarray of shape (n_rows, n_points)
        Mean and standard deviation (``ddof=0``) over the random orders, per row.
    random_insertion_mean, random_insertion_std : ndarray of shape (n_rows, n_points)
    random_deletion_curves, random_insertion_curves : ndarray of shape (n_random, n_points)
        Each random order's curve averaged over the rows.
    aopc : ndarray of shape (n_rows,)
        Area over the perturbation curve (Samek et al. 2017) of the explanation,
        ``mean over the n_points steps k of f(x) - deletion[k]``.
    aopc_random : ndarray of shape (n_rows, n_random)
        The same for each random order.
    deletion_auc, insertion_auc : ndarray of shape (n_rows,)
        Trapezoid areas under the explanation's curves on ``fractions`` (lower
        deletion and higher insertion AUC are better).
    random_deletion_auc, random_insertion_auc : ndarray of shape (n_rows, n_random)
    model_output, baseline_output : ndarray of shape (n_rows,)
        The output at the input and with every player removed.
    n_players : ndarray of shape (n_rows,), int
    outputs : tuple of str
        The output evaluated for each row.
    output_space : str
    method : str
        The method of the explanation tested.
    params : dict
        What reproduces the result (``n_steps``, ``n_random``, ``baseline``,
        ``segments``, ``random_state`` ...).

    Notes
    -----
    The per-row verdict ``passes`` is ``aopc_gain > aopc_random_std``: the
    explanation's AOPC beats the mean of the random orders' by more than one
    standard deviation of a single random order's AOPC. The overall verdict
    ``passes_overall`` applies the same rule to the AOPC averaged over rows:
    ``mean(aopc) - mean_j(R_j) > std_j(R_j)`` where ``R_j`` is random order ``j``'s
    AOPC averaged over the rows (its spread is the noise of a random explanation
    averaged over these rows). With no random orders both are False.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion_mean: np.ndarray
    random_deletion_std: np.ndarray
    random_insertion_mean: np.ndarray
    random_insertion_std: np.ndarray
    random_deletion_curves: np.ndarray
    random_insertion_curves: np.ndarray
    aopc: np.ndarray
    aopc_random: np.ndarray
    deletion_auc: np.ndarray
    insertion_auc: np.ndarray
    random_deletion_auc: np.ndarray
    random_insertion_auc: np.ndarray
    model_output: np.ndarray
    baseline_output: np.ndarray
    n_players: np.ndarray

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Faithfulness:
        """Rebuild the result from ``to_dict()``'s output (or its JSON, loaded); the
        random orders' curves keep their shape (0, n_points) without random orders."""
        result = super().from_dict(d)
        n_points = len(result.fractions)
        return dataclasses.replace(
            result,
            random_deletion_curves=result.random_deletion_curves.reshape(-1, n_points),
            random_insertion_curves=result.random_insertion_curves.reshape(-1, n_points),
        )

    # per row
    @property
    def aopc_random_mean(self) -> np.ndarray:
        """Mean AOPC of the random orders, shape (n_rows,) (NaN without any)."""
        return nanmean(self.aopc_random, axis=1)

    @property
    def aopc_random_std(self) -> np.ndarray:
        """Standard deviation (ddof=0) of the random orders' AOPC, shape (n_rows,)."""
        if self.aopc_random.shape[1] == 0:
            return np.full(len(self.aopc), np.nan)
        return self.aopc_random.std(axis=1)

    @property
    def aopc_gain(self) -> np.ndarray:
        """``aopc - aopc_random_mean`` per row (positive: better than random)."""
        return self.aopc - self.aopc_random_mean

    @property
    def passes(self) -> np.ndarray:
        """Per-row verdict ``aopc_gain > aopc_random_std``, bool of shape (n_rows,)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(self.aopc_gain > self.aopc_random_std, dtype=bool)

    # overall
    @property
    def mean_aopc(self) -> float:
        """The explanation's AOPC averaged over rows."""
        return float(self.aopc.mean())

    @property
    def mean_aopc_random(self) -> float:
        """The random orders' AOPC averaged over rows and orders (NaN without any)."""
        return float(nanmean(self.aopc_random)) if self.aopc_random.size else float("nan")

    @property
    def aopc_random_spread(self) -> float:
        """Standard deviation (ddof=0) over random orders of their row-averaged AOPC."""
        if self.aopc_random.shape[1] == 0:
            return float("nan")
        return float(self.aopc_random.mean(axis=0).std())

    @property
    def gain(self) -> float:
        """``mean_aopc - mean_aopc_random``."""
        return self.mean_aopc - self.mean_aopc_random

    @property
    def passes_overall(self) -> bool:
        """``gain > aopc_random_spread`` (False without random orders)."""
        return bool(self.gain > self.aopc_random_spread)

    def to_frame(self) -> pd.DataFrame:
        """One row per explained row with its scalar figures.

        Returns
        -------
        DataFrame
            Columns ``output``, ``n_players``, ``model_output``, ``baseline_output``,
            ``aopc``, ``aopc_random_mean``, ``aopc_random_std``, ``aopc_gain``,
            ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc`` and
            ``random_insertion_auc`` (means over the random orders), ``passes``.
        """
        return pd.DataFrame(
            {
                "output": list(self.outputs),
                "n_players": self.n_players,
                "model_output": self.model_output,
                "baseline_output": self.baseline_output,
                "aopc": self.aopc,
                "aopc_random_mean": self.aopc_random_mean,
                "aopc_random_std": self.aopc_random_std,
                "aopc_gain": self.aopc_gain,
                "deletion_auc": self.deletion_auc,
                "insertion_auc": self.insertion_auc,
                "random_deletion_auc": nanmean(self.random_deletion_auc, axis=1),
                "random_insertion_auc": nanmean(self.random_insertion_auc, axis=1),
                "passes": self.passes,
            }
        )

    def summary(self) -> dict[str, Any]:
        """The overall figures as a JSON-ready dict (NaN as None)."""
        return json_value(
            {
                "mean_aopc": self.mean_aopc,
                "mean_aopc_random": self.mean_aopc_random,
                "aopc_random_spread": self.aopc_random_spread,
                "gain": self.gain,
                "passes_overall": self.passes_overall,
                "fraction_rows_passing": float(self.passes.mean()),
                "mean_deletion_auc": self.deletion_auc.mean(),
                "mean_insertion_auc": self.insertion_auc.mean(),
                "mean_random_deletion_auc": nanmean(self.random_deletion_auc),
                "mean_random_insertion_auc": nanmean(self.random_insertion_auc),
            }
        )


@dataclass(frozen=True, eq=False)
class FaithfulnessCorrelation(_Tested):
    """Faithfulness correlation (Bhatt et al. 2020) per explained row.

    Attributes
    ----------
    correlation : ndarray of shape (n_rows,), float64
        Pearson correlation, over the random subsets, of the subset's summed
        attribution with the output drop ``f(x) - f(x with the subset removed)``; in
        [-1, 1], higher is better; NaN where either is constant.
    attribution_sums, output_drops : ndarray of shape (n_rows, n_subsets), float64
        The paired values the correlation is computed on.
    subset_size : int
    outputs : tuple of str
    output_space : str
    method : str
    params : dict
    """

    correlation: np.ndarray
    attribution_sums: np.ndarray
    output_drops: np.ndarray
    subset_size: int

    @property
    def mean_correlation(self) -> float:
        """The correlation averaged over the rows where it is defined (NaN if none)."""
        return float(nanmean(self.correlation))

    def to_frame(self) -> pd.DataFrame:
        """One row per explained row: ``output``, ``correlation``."""
        return pd.DataFrame({"output": list(self.outputs), "correlation": self.correlation})


@dataclass(frozen=True, eq=False)
class SensitivityN(_Tested):
    """Sensitivity-n (Ancona et al. 2018): the correlation for each subset size n.

    Attributes
    ----------
    ns : ndarray of shape (n_sizes,), int
        The subset sizes.
    correlation : ndarray of shape (n_rows, n_sizes), float64
        Per row and size, the Pearson correlation over ``n_subsets`` random subsets
        of the summed attribution with the output drop; NaN where undefined.
    outputs : tuple of str
    output_space : str
    method : str
    params : dict
    """

    ns: np.ndarray
    correlation: np.ndarray

    @property
    def mean_correlation(self) -> np.ndarray:
        """The correlation averaged over rows for each n, shape (n_sizes,)."""
        return nanmean(self.correlation, axis=0)

    def to_frame(self) -> pd.DataFrame:
        """One row per subset size: ``n``, ``mean_correlation``, ``std_correlation``,
        ``n_defined`` (rows where the correlation is defined)."""
        with np.errstate(invalid="ignore"):
            std = np.array(
                [np.nanstd(c) if np.isfinite(c).any() else np.nan for c in self.correlation.T]
            )
        return pd.DataFrame(
            {
                "n": self.ns,
                "mean_correlation": self.mean_correlation,
                "std_correlation": std,
                "n_defined": np.isfinite(self.correlation).sum(axis=0),
            }
        )


@dataclass(frozen=True, eq=False)
class Infidelity(_Tested):
    """Explanation infidelity (Yeh et al. 2019) per explained row.

    Attributes
    ----------
    infidelity : ndarray of shape (n_rows,), float64
        ``mean over perturbations I of (I . phi - (f(x) - f(x - I)))^2``, in squared
        output units (lower is better; 0: the explanation predicts every change).
    infidelity_scaled : ndarray of shape (n_rows,), float64
        The same after the optimal rescaling ``beta * (I . phi)`` (Yeh et al. 2019,
        Sec. 3): a check of the explanation's shape regardless of its scale.
    scale : ndarray of shape (n_rows,), float64
        ``beta = sum_I (I . phi)(f(x) - f(x - I)) / sum_I (I . phi)^2`` (0 when the
        explanation predicts no change for every perturbation).
    perturbation : {"gaussian", "baseline"}
    outputs : tuple of str
    output_space : str
    method : str
    params : dict
    """

    infidelity: np.ndarray
    infidelity_scaled: np.ndarray
    scale: np.ndarray
    perturbation: str

    @property
    def mean_infidelity(self) -> float:
        return float(self.infidelity.mean())

    @property
    def mean_infidelity_scaled(self) -> float:
        return float(self.infidelity_scaled.mean())

    def to_frame(self) -> pd.DataFrame:
        """One row per explained row: ``output``, ``infidelity``, ``infidelity_scaled``,
        ``scale``."""
        return pd.DataFrame(
            {
                "output": list(self.outputs),
                "infidelity": self.infidelity,
                "infidelity_scaled": self.infidelity_scaled,
                "scale": self.scale,
            }
        )


# ---------------------------------------------------------------------- shared docs
_COMMON_PARAMS = """
    model : object
        The model the explanation was made for: a tabular model whybox can adapt
        (scikit-learn estimator or Pipeline, XGBoost, LightGBM, a callable) for
        tabular explanations, the ``torch.nn.Module`` for gradient explanations of
        images, sequences or tables (the output of ``params["target"]`` is
        evaluated, in the explanation's output space), or the ``predict_proba``
        callable (list of str -> (n_texts, n_classes)) of a LIME text explanation.
    explanation : Explanation
        Attributions of the rows in ``explanation.data``. Tabular
        ("samples", "features", "outputs"); images ("samples", "channels", "height",
        "width", "outputs"); LIME text (one document, its words as features).
    baseline : {"mean", "zeros", "background"}, float or ndarray, default="mean"
        What a removed player's cells become. ``"mean"``: the column (cell) means of
        ``background``, or of the explained rows without one (the most frequent
        value for text columns); ``"zeros"``; a number; an array of one input's
        shape or of shape (n_rows, *input_shape); ``"background"``: each removed
        cell takes the value of a background row, the output being averaged over
        8 background rows drawn per explained row (the same rows for every
        perturbation of that row). Ignored for text, where removed words are
        deleted (or replaced by the explainer's ``mask_string``).
    background : array-like of shape (n_background, *input_shape), optional
        Reference rows for ``baseline="mean"`` and ``"background"`` (e.g. a sample
        of the training data); also sets the noise scale of :func:`infidelity`.
    target : str or int, optional
        The explanation output evaluated (name or position). Default: the only
        output, or for each row the explained output with the largest model output
        (the predicted class when every class is explained). Gradient explanations
        evaluate each row's ``params["target"]``.
    segments : ("patches", int), ndarray or dict, optional
        The players. Images: ``("patches", s)`` (default ``("patches", 4)``: s x s
        pixel squares, the last ones cut at the border) or integer superpixel labels
        of shape (n_rows, H, W) or (H, W) (e.g. ``skimage.segmentation.slic``);
        channels are removed together and a player's attribution is the sum of its
        cells'. Tables: a dict group name -> columns (default: the explanation's
        ``params["feature_groups"]``, else one player per feature). Sequences: the
        tokens; text: the words.
    batch_size : int, optional
        Model-input rows per model call; None stacks about four million input cells
        per call. Never changes the result."""

_COMMON_RAISES = """
    InputError
        ``explanation`` is not an Explanation, has no data, or does not fit the
        model (rows of another dataset or shape); ``target`` is not one of its
        outputs; ``baseline``, ``background`` or ``segments`` do not fit the inputs"""


def _doc(f: Any) -> Any:
    f.__doc__ = f.__doc__.replace("{common_params}", _COMMON_PARAMS.strip("\n")).replace(
        "{common_raises}", _COMMON_RAISES.strip("\n")
    )
    return f


# ---------------------------------------------------------------------- faithfulness
@_doc
def faithfulness(
    model: Any,
    explanation: Any,
    *,
    baseline: Any = "mean",
    background: Any = None,
    n_steps: int = 20,
    n_random: int = 10,
    target: Any = None,
    segments: Any = None,
    batch_size: int | None = None,
    random_state: Any = 0,
) -> Faithfulness:
    """Deletion and insertion curves and AOPC of an explanation against random orders.

    For each explained row the players are ordered by the explanation's attribution
    for the evaluated output, largest (signed) first, ties in player order. The
    *deletion* curve removes players in that order, replacing them by the baseline,
    and records the model output; the *insertion* curve starts from the baseline and
    reveals them in that order (Petsiuk et al. 2018). The output is evaluated on a
    grid of ``n_points = min(n_steps, P) + 1`` fractions ``t_k = k / (n_points - 1)``
    of the row's ``P`` players, after ``round(t_k * P)`` players (so every count
    0..P when P <= n_steps). The same curves are computed for ``n_random`` uniformly
    random orders per row. A faithful explanation's deletion curve falls faster
    and its insertion curve rises faster than the random ones.

    AOPC (Samek et al. 2017) is the mean over the ``n_points`` steps (the first one,
    0, included) of ``f(x) - deletion[k]``; the deletion and insertion AUC are
    trapezoid areas on the normalised axis [0, 1].

    Parameters
    ----------
    {common_params}
    n_steps : int, default=20
        Steps of the grid (>= 1).
    n_random : int, default=10
        Random orders per row (>= 0; 0 skips the random reference and the verdict).
    random_state : int, numpy Generator or None, default=0
        Seeds the random orders (and the background draws).

    Returns
    -------
    Faithfulness
        Curves of shape (n_rows, n_points), AOPC and AUC per row for the
        explanation and each random order, and the verdicts ``passes`` (per row:
        ``aopc - mean random aopc > std of random aopc``) and ``passes_overall``
        (the same on the row averages). Units: the model output in the
        explanation's ``output_space``.

    Raises
    ------
    {common_raises}; ``n_steps`` < 1 or ``n_random`` < 0.

    Notes
    -----
    Cost: ``n_rows * (1 + n_random) * 2 * (n_points - 2) + n_rows`` model
    evaluations (times 8 with ``baseline="background"``), batched. For 200 rows of
    30 features and the defaults, about 84,000 rows.

    References
    ----------
    .. [1] V. Petsiuk, A. Das and K. Saenko, "RISE: Randomized Input Sampling for
       Explanation of Black-box Models", BMVC 2018.
    .. [2] W. Samek, A. Binder, G. Montavon, S. Lapuschkin and K.-R. Müller,
       "Evaluating the visualization of what a deep neural network has learned",
       IEEE Trans. Neural Networks and Learning Systems 28(11), 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from whybox import explain
    >>> from whybox.evaluate import faithfulness
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> model = LinearRegression().fit(X, X @ np.array([3.0, -2.0, 1.0, 0.0]))
    >>> shap_values = explain(model, X[:20], background=X)
    >>> res = faithfulness(model, shap_values, background=X, n_steps=4, n_random=5)
    >>> res.deletion.shape  # 20 rows, 0..4 of the 4 features removed
    (20, 5)
    >>> res.passes_overall  # removing the top features first beats random orders
    True
    """
    n_steps = check_int(n_steps, "n_steps", 1, "n_steps=20")
    n_random = check_int(n_random, "n_random", 0, "n_random=10")
    rng, ps = _prepared(
        model, explanation, random_state, baseline=baseline, background=background,
        target=target, segments=segments, batch_size=batch_size,
    )  # fmt: skip
    n, p_max = ps.n_rows, ps.max_players
    n_pl = ps.n_players
    n_points = min(n_steps, p_max) + 1
    fractions = np.linspace(0.0, 1.0, n_points)
    counts = np.floor(fractions[None, :] * n_pl[:, None] + 0.5).astype(np.intp)  # (n, K)

    # orders: the explanation's (padding players last), then the random ones
    keys = np.where(np.arange(p_max) < n_pl[:, None], -ps.attributions, np.inf)
    expl_ranks = _ranks(np.argsort(keys, axis=1, kind="stable"))
    n_orders = 1 + n_random
    k_in = n_points - 2  # interior steps; the ends are f(x) and f(baseline)
    curves = np.empty((n, n_orders, 2, n_points))
    everything = np.arange(p_max)[None, :] < n_pl[:, None]  # (n, P)
    f_b = ps.outputs_removed(np.arange(n), everything)
    # blocks of rows keep the masks small; the random draws follow the rows in order,
    # so the blocks never change the result
    for blk in _row_blocks(n, n_orders * 2 * max(k_in, 1) * p_max):
        ranks = expl_ranks[blk, None, :]
        if n_random:
            ranks = np.concatenate([ranks, _random_ranks(rng, n_pl[blk], (n_random,))], axis=1)
        r = ranks[:, :, None, :]
        c = counts[blk, None, 1:-1, None]
        removed = np.stack([r < c, r >= c], axis=2)  # (b, O, 2, K-2, P)
        b = len(removed)
        rows = np.repeat(np.arange(n)[blk], n_orders * 2 * k_in)
        f = ps.outputs_removed(rows, removed.reshape(-1, p_max))
        curves[blk, ..., 1:-1] = f.reshape(b, n_orders, 2, k_in)
    f_x = ps.model_output
    curves[:, :, 0, 0] = f_x[:, None]
    curves[:, :, 0, -1] = f_b[:, None]
    curves[:, :, 1, 0] = f_b[:, None]
    curves[:, :, 1, -1] = f_x[:, None]

    aopc = (f_x[:, None, None] - curves[:, :, 0, :]).mean(axis=-1)  # (n, O)
    auc = np.trapezoid(curves, fractions, axis=-1)  # (n, O, 2)
    rand = curves[:, 1:]
    return Faithfulness(
        fractions=fractions,
        deletion=curves[:, 0, 0],
        insertion=curves[:, 0, 1],
        random_deletion_mean=nanmean(rand[:, :, 0], axis=1),
        random_deletion_std=rand[:, :, 0].std(axis=1)
        if n_random
        else np.full((n, n_points), np.nan),
        random_insertion_mean=nanmean(rand[:, :, 1], axis=1),
        random_insertion_std=rand[:, :, 1].std(axis=1)
        if n_random
        else np.full((n, n_points), np.nan),
        random_deletion_curves=rand[:, :, 0].mean(axis=0),
        random_insertion_curves=rand[:, :, 1].mean(axis=0),
        aopc=aopc[:, 0],
        aopc_random=aopc[:, 1:],
        deletion_auc=auc[:, 0, 0],
        insertion_auc=auc[:, 0, 1],
        random_deletion_auc=auc[:, 1:, 0],
        random_insertion_auc=auc[:, 1:, 1],
        model_output=f_x.copy(),
        baseline_output=f_b.copy(),
        n_players=n_pl.copy(),
        **_described(
            ps,
            explanation,
            random_state,
            batch_size,
            target,
            n_steps=n_steps,
            n_random=n_random,
            n_points=n_points,
        ),  # fmt: skip
    )


# ---------------------------------------------------------------------- correlations
def _check_subset_size(size: Any, name: str, p_min: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size < p_min:
        raise InputError(
            f"{name} must be an integer in 1..{p_min - 1} (fewer than the {p_min} players "
            f"of the smallest row), got {size!r}; e.g. {name}={max(1, p_min // 4)}."
        )
    return int(size)


def _correlation_of_subsets(
    ps: PerturbationSet, removed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row Pearson correlation of attribution sums with output drops.

    ``removed`` (n, n_subsets, P) bool; returns (correlation (n,), sums, drops).
    """
    sums, drops = _subset_drops(ps, removed)
    return pearson_rows(sums, drops), sums, drops


@_doc
def faithfulness_correlation(
    model: Any,
    explanation: Any,
    *,
    subset_size: int | None = None,
    n_subsets: int = 50,
    baseline: Any = "mean",
    background: Any = None,
    target: Any = None,
    segments: Any = None,
    batch_size: int | None = None,
    random_state: Any = 0,
) -> FaithfulnessCorrelation:
    """Faithfulness correlation (Bhatt et al. 2020) of an explanation, per row.

    For each row, ``n_subsets`` subsets of ``subset_size`` players are drawn uniformly
    (without replacement inside a subset) and removed (set to the baseline); the
    score is the Pearson correlation, over the subsets, between the sum of the
    subset's attributions and the output drop ``f(x) - f(x with the subset
    removed)``. This is Quantus's ``FaithfulnessCorrelation`` with
    ``normalise=False, abs=False`` (its default max-normalisation does not change
    a correlation).

    Parameters
    ----------
    {common_params}
    subset_size : int, optional
        Players per subset, in 1..P-1; default ``max(1, round(P / 4))`` of the
        smallest row's P players.
    n_subsets : int, default=50
        Subsets per row (>= 2).
    random_state : int, numpy Generator or None, default=0
        Seeds the subsets (drawn as the first ``subset_size`` players of a random
        order per run) and the background draws.

    Returns
    -------
    FaithfulnessCorrelation
        ``correlation`` (n_rows,) in [-1, 1] (NaN where undefined) with the sums and
        drops it is computed on; ``mean_correlation``.

    Raises
    ------
    {common_raises}; ``subset_size`` not in 1..P-1 or ``n_subsets`` < 2.

    References
    ----------
    .. [1] U. Bhatt, A. Weller and J. M. F. Moura, "Evaluating and aggregating
       feature-based model explanations", IJCAI 2020.
    """
    n_subsets = check_int(n_subsets, "n_subsets", 2, "n_subsets=50")
    rng, ps = _prepared(
        model, explanation, random_state, baseline=baseline, background=background,
        target=target, segments=segments, batch_size=batch_size,
    )  # fmt: skip
    p_min = _min_players(ps, "faithfulness_correlation")
    if subset_size is None:
        subset_size = min(max(1, round(p_min / 4)), p_min - 1)
    size = _check_subset_size(subset_size, "subset_size", p_min)
    sums, drops = _random_subset_drops(ps, rng, (n_subsets,), size)
    corr = pearson_rows(sums, drops)
    return FaithfulnessCorrelation(
        correlation=corr,
        attribution_sums=sums,
        output_drops=drops,
        subset_size=size,
        **_described(
            ps,
            explanation,
            random_state,
            batch_size,
            target,
            subset_size=size,
            n_subsets=n_subsets,
        ),  # fmt: skip
    )


@_doc
def sensitivity_n(
    model: Any,
    explanation: Any,
    *,
    ns: Any = None,
    n_subsets: int = 50,
    baseline: Any = "mean",
    background: Any = None,
    target: Any = None,
    segments: Any = None,
    batch_size: int | None = None,
    random_state: Any = 0,
) -> SensitivityN:
    """Sensitivity-n (Ancona et al. 2018): faithfulness correlation for each subset size n.

    An explanation is sensitive-n when, for every subset of n players, the sum of
    their attributions equals the output drop when they are removed. For each row
    and each n, ``n_subsets`` uniform subsets of n players are removed (set to the
    baseline) and the Pearson correlation between their summed attribution and the
    output drop is reported (1: the attributions rank and scale the drops exactly
    up to an affine map).

    Parameters
    ----------
    {common_params}
    ns : sequence of int, optional
        Subset sizes, each in 1..P-1; default the powers of two below the smallest
        row's number of players P (1, 2, 4, ...).
    n_subsets : int, default=50
        Subsets per row and size (>= 2).
    random_state : int, numpy Generator or None, default=0
        Seeds the subsets and the background draws.

    Returns
    -------
    SensitivityN
        ``correlation`` (n_rows, n_sizes) and ``mean_correlation`` (n_sizes,).

    Raises
    ------
    {common_raises}; an n outside 1..P-1 or ``n_subsets`` < 2.

    References
    ----------
    .. [1] M. Ancona, E. Ceolini, C. Öztireli and M. Gross, "Towards better
       understanding of gradient-based attribution methods for deep neural
       networks", ICLR 2018.
    """
    n_subsets = check_int(n_subsets, "n_subsets", 2, "n_subsets=50")
    rng, ps = _prepared(
        model, explanation, random_state, baseline=baseline, background=background,
        target=target, segments=segments, batch_size=batch_size,
    )  # fmt: skip
    p_min = _min_players(ps, "sensitivity_n")
    if ns is None:
        sizes = [1 << i for i in range(int(np.log2(p_min - 1)) + 1)]
    else:
        if np.isscalar(ns):
            ns = [ns]
        sizes = [_check_subset_size(v, "ns", p_min) for v in ns]
        if not sizes:
            raise InputError("ns is empty; give at least one subset size, e.g. ns=(1, 2, 4).")
    shape = (len(sizes), n_subsets)
    sums, drops = _random_subset_drops(ps, rng, shape, np.asarray(sizes)[:, None])  # (n, m, S)
    corr = pearson_rows(sums, drops)
    return SensitivityN(
        ns=np.asarray(sizes, dtype=np.intp),
        correlation=corr,
        **_described(
            ps,
            explanation,
            random_state,
            batch_size,
            target,
            ns=[int(s) for s in sizes],
            n_subsets=n_subsets,
        ),  # fmt: skip
    )


# ---------------------------------------------------------------------- infidelity
def _infidelity_from(a: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, ...]:
    """(raw, scaled, beta) per row from ``a = I . phi`` and ``delta = f(x) - f(x - I)``."""
    raw = ((a - delta) ** 2).mean(axis=1)
    num = (a * delta).sum(axis=1)
    den = (a * a).sum(axis=1)
    beta = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    scaled = ((beta[:, None] * a - delta) ** 2).mean(axis=1)
    return raw, scaled, beta


@_doc
def infidelity(
    model: Any,
    explanation: Any,
    *,
    n_perturbations: int = 50,
    noise_scale: float = 0.1,
    perturbation: str = "gaussian",
    baseline: Any = "mean",
    background: Any = None,
    target: Any = None,
    segments: Any = None,
    batch_size: int | None = None,
    random_state: Any = 0,
) -> Infidelity:
    """Explanation infidelity (Yeh et al. 2019) of each explained row.

    ``INFD = mean over perturbations I of (I . phi - (f(x) - f(x - I)))^2``: how well
    the explanation phi, read as a linear model of the output change, predicts the
    change when the input moves by ``-I``. Two kinds of perturbation:

    - ``"gaussian"`` (the paper's noise): ``I ~ N(0, (noise_scale * s)^2)`` cell by
      cell, ``s`` the standard deviation of each column of ``background`` (or of the
      explained rows) for tables and of all input values for images; ``I . phi``
      is the dot product with the explanation's values, so phi is read as a
      sensitivity (output per unit of input: gradients, saliency). As in Captum's
      ``infidelity`` and Quantus.
    - ``"baseline"`` (the paper's removal perturbations, ``I = (x - b) 1_S``): each
      player is in the random subset S independently with probability 1/2 and is
      set to the baseline ``b``; ``I . phi`` becomes the sum of S's attributions,
      phi being read as a contribution (SHAP, LIME, Integrated Gradients, whose
      values are ``gradient x (x - b)``-like). For a linear model
      ``f(x) = w . x + c`` and ``phi = w (x - b)`` the two sides agree for every S and
      the infidelity is 0.

    ``infidelity_scaled`` uses the optimal scale ``beta`` that minimises the error
    of ``beta * I . phi`` (Yeh et al. 2019, Sec. 3; Captum's ``normalize=True``).

    Parameters
    ----------
    {common_params}
    n_perturbations : int, default=50
        Perturbations per row (>= 1).
    noise_scale : float, default=0.1
        Standard deviation of the Gaussian noise in units of ``s`` (> 0); unused by
        ``perturbation="baseline"``.
    perturbation : {"gaussian", "baseline"}, default="gaussian"
    random_state : int, numpy Generator or None, default=0
        Seeds the perturbations: the Gaussian noise is
        ``rng.standard_normal((n_rows, n_perturbations, n_cells)) * noise_scale * s``
        of ``rng = numpy.random.default_rng(random_state)`` (after the background
        draws when ``baseline="background"``).

    Returns
    -------
    Infidelity
        ``infidelity`` and ``infidelity_scaled`` (n_rows,) in squared output units,
        and the scale ``beta`` per row.

    Raises
    ------
    {common_raises}; ``n_perturbations`` < 1, ``noise_scale`` not a positive
        number, an unknown ``perturbation``, or Gaussian noise on text or on
        explanations of feature groups.

    References
    ----------
    .. [1] C.-K. Yeh, C.-Y. Hsieh, A. S. Suggala, D. I. Inouye and P. Ravikumar,
       "On the (in)fidelity and sensitivity of explanations", NeurIPS 2019.
    """
    n_perturbations = check_int(n_perturbations, "n_perturbations", 1, "n_perturbations=50")
    if perturbation not in PERTURBATIONS:
        raise InputError(
            f"perturbation must be one of {PERTURBATIONS}, got {perturbation!r}; e.g. "
            "perturbation='baseline' for SHAP-like contributions."
        )
    check_number(
        noise_scale, "noise_scale", "a positive number (in standard deviations of the inputs)",
        lambda v: v > 0, "noise_scale=0.1",
    )  # fmt: skip
    rng, ps = _prepared(
        model, explanation, random_state, baseline=baseline, background=background,
        target=target, segments=segments, batch_size=batch_size,
    )  # fmt: skip
    n = ps.n_rows
    if perturbation == "gaussian":
        if ps.spread is None:
            raise InputError(
                "perturbation='gaussian' needs numeric inputs, but these are text or have "
                "text columns; use perturbation='baseline'."
            )
        if ps.kind == "tabular" and explanation.params.get("feature_groups") is not None:
            raise InputError(
                "perturbation='gaussian' needs one attribution per input column, but the "
                "explanation attributes feature groups; use perturbation='baseline'."
            )
    a = np.empty((n, n_perturbations))
    delta = np.empty((n, n_perturbations))
    if perturbation == "gaussian":
        # blocks of rows draw consecutive parts of one rng.standard_normal((n, K, cells))
        for blk in _row_blocks(n, n_perturbations * ps.n_cells):
            noise = rng.standard_normal((blk.stop - blk.start, n_perturbations, ps.n_cells))
            noise *= float(noise_scale) * ps.spread
            perturbed = ps.x[blk, None, :] - noise
            rows = np.repeat(np.arange(n)[blk], n_perturbations)
            f_pert = ps.outputs_at(rows, perturbed.reshape(-1, ps.n_cells))
            delta[blk] = ps.model_output[blk, None] - f_pert.reshape(-1, n_perturbations)
            a[blk] = np.einsum("nkc,nc->nk", noise, ps.cell_values[blk])
    else:
        for blk in _row_blocks(n, n_perturbations * ps.max_players):
            valid = np.arange(ps.max_players) < ps.n_players[blk, None]
            coin = rng.random((len(valid), n_perturbations, ps.max_players)) < 0.5
            a[blk], delta[blk] = _subset_drops(ps, coin & valid[:, None], np.arange(n)[blk])
    raw, scaled, beta = _infidelity_from(a, delta)
    return Infidelity(
        infidelity=raw,
        infidelity_scaled=scaled,
        scale=beta,
        perturbation=perturbation,
        **_described(
            ps,
            explanation,
            random_state,
            batch_size,
            target,
            n_perturbations=n_perturbations,
            noise_scale=float(noise_scale),
            perturbation=perturbation,
        ),  # fmt: skip
    )
