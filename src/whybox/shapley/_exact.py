"""Exact interventional Shapley values by enumerating every coalition of players."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import is_dask_collection, progress_bar
from whybox.shapley._masking import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BACKGROUND,
    BackgroundExplainer,
    shapley_explanation,
)

MAX_EXACT_PLAYERS = 16
"""The most players :class:`ExactExplainer` enumerates (2**16 coalitions)."""

_BLOCK_VALUES = 1 << 22  # coalition values (floats) held in memory at once


def all_coalitions(n_players: int) -> np.ndarray:
    """Every coalition of ``n_players`` players, coalition ``m`` holding player ``i`` iff bit ``i`` of ``m`` is set.

    Returns
    -------
    ndarray of shape (2**n_players, n_players), bool
    """
    m = np.arange(1 << n_players, dtype=np.int64)
    return ((m[:, None] >> np.arange(n_players, dtype=np.int64)) & 1).astype(bool)


def shapley_weight_matrix(n_players: int) -> np.ndarray:
    """The matrix that maps coalition values to Shapley values.

    With ``v`` the vector of the ``2**p`` coalition values in the order of
    :func:`all_coalitions`, the Shapley values are ``phi = W @ v`` where

    ``W[i, S] = w(|S| - 1)`` if ``i`` is in ``S`` and ``-w(|S|)`` otherwise,
    ``w(s) = s! (p - s - 1)! / p! = 1 / (p * C(p - 1, s))``,

    which is the Shapley formula ``phi_i = sum_{S not containing i} w(|S|) (v(S + i) - v(S))``
    (Shapley, 1953) with each coalition's value collected in one column.

    Returns
    -------
    ndarray of shape (n_players, 2**n_players), float64
    """
    p = n_players
    coal = all_coalitions(p)
    size = coal.sum(axis=1)
    w = np.array([1.0 / (p * comb(p - 1, s)) for s in range(p)] + [0.0])
    with_i = w[np.maximum(size - 1, 0)][None, :]
    without_i = -w[size][None, :]
    return np.where(coal.T, with_i, without_i)


class ExactExplainer(BackgroundExplainer):
    """Exact interventional (marginal) SHAP values, enumerating all ``2**p`` coalitions.

    The value of a coalition ``S`` of players (features or feature groups) for an
    explained row ``x`` is the model output averaged over the background rows ``b``
    with the players outside ``S`` taken from ``b``:
    ``v(S) = mean_b f(x_S, b_notS)``. The SHAP values are the Shapley values of this
    game (Shapley 1953; Lundberg & Lee 2017, "A unified approach to interpreting model
    predictions"; interventional Shapley values in Janzing, Minorics & Bloebaum 2020),
    computed as one weight matrix applied to the vector of all coalition values. The
    values are exact for the given background: no sampling, and local accuracy holds
    up to floating-point rounding.

    Cost: ``(2**p - 2) * n_background`` model rows per explained row. Use
    :class:`~whybox.PermutationExplainer` for more than a dozen or so players, or
    ``feature_groups`` to reduce the number of players.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt (scikit-learn estimator or Pipeline, XGBoost,
        LightGBM, a callable ``f(X) -> outputs``) or a :class:`whybox.adapters.Model`.
        A Pipeline that starts with a ColumnTransformer is explained in its original
        input columns, text columns included.
    background : array-like of shape (n_background, n_features) or DataFrame
        Reference rows that stand in for the absent players (e.g. a sample of the
        training data). Float64 or mixed text/number columns.
    output : {"auto", "raw", "probability", "log_odds"}, default="auto"
        The output space explained; ``"auto"`` is the model's native space
        (``model.native_space``). Any space the model offers is allowed.
    feature_groups : dict of str to list of (str or int), optional
        Players made of several columns: group name -> column names or positions
        (in the model's column order). Columns in no group are players of their own,
        after the groups. With groups, the explanation's feature axis is the players
        and its ``data`` is None.
    batch_size : int, default=65536
        Model-input rows per model call (at least one coalition, i.e.
        ``n_background`` rows). Bounds memory; never changes the result.
    max_background : int or None, default=100
        A larger background is replaced by a random sample of this many rows
        (with a warning); None keeps every row.
    random_state : int, numpy Generator or None, default=0
        Seeds the background sample (only used when the background is sampled).
        None draws fresh entropy (results then differ between runs).
    progress : bool or None, default=None
        Show a tqdm progress bar over the explained rows; None shows it for 100 or
        more rows.

    Attributes
    ----------
    model : whybox.adapters.Model
    output : str
        The resolved output space.
    background : whybox.adapters.Dataset
        The background rows used.
    expected_value : ndarray of shape (n_outputs,)
        The base value: the mean model output over the background.
    feature_names : tuple of str
        The players' names.

    Raises
    ------
    InputError
        If the background is missing or does not fit the model, ``output`` is not
        offered by the model, ``feature_groups`` is malformed, or there are more than
        16 players.

    Examples
    --------
    Every coalition of the four iris features, for each of the three classes:

    >>> import whybox
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> from sklearn.linear_model import LogisticRegression
    >>> explainer = whybox.ExactExplainer(LogisticRegression(max_iter=500).fit(X, y), X[::10])
    >>> ex = explainer(X[:2])  # 2**4 coalitions, 15 background rows
    >>> ex.values.shape  # (n_samples, n_features, n_outputs): one output per class
    (2, 4, 3)
    >>> bool(abs(ex.additivity_error).max() < 1e-12)
    True
    """

    method = "exact"
    _owner = "ExactExplainer"

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
        progress: bool | None = None,
    ) -> None:
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
        if p > MAX_EXACT_PLAYERS:
            kind = "feature groups" if self.players.grouped else "features"
            raise InputError(
                f"ExactExplainer enumerates 2**p coalitions and accepts at most "
                f"{MAX_EXACT_PLAYERS} players, but got {p} {kind}; use PermutationExplainer, "
                "or pass feature_groups to reduce the number of players."
            )
        self.progress = progress
        coalitions = all_coalitions(p)
        self._weights = shapley_weight_matrix(p)
        # The empty and the full coalition are known without a model call: the base
        # value and the model output at x. Only the others are evaluated.
        self._masks = self.players.column_masks(coalitions[1:-1])

    def __call__(self, X: Any) -> Explanation:
        """Explain the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            The rows to explain, with the background's columns. Each row costs
            ``(2**p - 2) * n_background`` model rows (``p`` players). A dask array or
            DataFrame is explained lazily, chunk by chunk (see
            ``whybox.distributed.explain_dask``), with the in-memory values.

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_players, n_outputs), float64, in
            ``output_space``; ``base_values`` of shape (n_samples, n_outputs), the mean
            model output over the background; ``model_output`` the model's output at
            each row, so ``additivity_error`` is reported (zero up to rounding);
            ``method="exact"``; ``params`` with the number of background rows used.

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
        k = self.expected_value.shape[0]
        n_coal = 1 << p
        values = np.empty((n, p, k), dtype=np.float64)
        block = max(1, _BLOCK_VALUES // (n_coal * k))
        with progress_bar(n, self.progress, "exact SHAP") as bar:
            for start in range(0, n, block):
                stop = min(n, start + block)
                v = np.empty((stop - start, n_coal, k), dtype=np.float64)
                v[:, 0] = self.expected_value
                v[:, -1] = f_x[start:stop]
                if n_coal > 2:
                    v[:, 1:-1] = self._masked_values(Xv[start:stop], self._masks, bar)
                else:
                    bar.update(stop - start)
                values[start:stop] = np.einsum("pm,nmk->npk", self._weights, v)
        params = self._common_params()
        params["n_coalitions"] = int(n_coal)
        return shapley_explanation(self, values, Xv, f_x, params)
