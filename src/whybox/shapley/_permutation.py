"""Shapley values estimated by sampling antithetic pairs of permutations of players."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from whybox._explanation import Explanation
from whybox._utils import check_int, is_dask_collection, json_value, progress_bar
from whybox.shapley._masking import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BACKGROUND,
    BackgroundExplainer,
    shapley_explanation,
)

_BLOCK_CELLS = 1 << 22  # mask cells / coalition values held in memory at once


class PermutationExplainer(BackgroundExplainer):
    """Interventional SHAP values estimated from random permutations of the players.

    For a random ordering of the players, the marginal contribution of a player is
    ``v(players before it + it) - v(players before it)``, with the interventional
    coalition value ``v(S) = mean_b f(x_S, b_notS)`` over the background rows ``b``.
    The Shapley value is the mean contribution over all orderings (Shapley 1953); it is
    estimated from ``n_permutations`` orderings drawn uniformly at random, each used
    together with its reverse (an antithetic pair, which cancels much of the sampling
    error: Mitchell, Cooper, Frank & Holmes 2022, "Sampling permutations for Shapley
    value estimation"; permutation sampling: Strumbelj & Kononenko 2014, "Explaining
    prediction models and individual predictions with feature contributions").

    The contributions along one ordering telescope to ``f(x) - base value``, so local
    accuracy holds exactly (up to rounding) whatever the number of permutations, and an
    additive model gets its exact Shapley values from any number of permutations.

    Cost: ``2 * n_permutations * (p - 1) * n_background`` model rows per explained row.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt (scikit-learn estimator or Pipeline, XGBoost,
        LightGBM, a callable ``f(X) -> outputs``) or a :class:`whybox.adapters.Model`.
    background : array-like of shape (n_background, n_features) or DataFrame
        Reference rows that stand in for the absent players. Float64 or mixed
        text/number columns.
    output : {"auto", "raw", "probability", "log_odds"}, default="auto"
        The output space explained; ``"auto"`` is the model's native space.
    n_permutations : int, default=10
        Antithetic pairs per explained row (each pair is a random ordering and its
        reverse, so ``2 * n_permutations`` orderings).
    random_state : int, numpy Generator or None, default=0
        Seeds the orderings (and the background sample, when the background is
        sampled). The same seed gives the same values whatever ``batch_size``.
        None draws fresh entropy (results then differ between runs).
    feature_groups : dict of str to list of (str or int), optional
        Players made of several columns: group name -> column names or positions.
        Columns in no group are players of their own, after the groups. With groups,
        the explanation's feature axis is the players and its ``data`` is None.
    batch_size : int, default=65536
        Model-input rows per model call (at least one coalition, i.e.
        ``n_background`` rows). Never changes the result.
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
        The base value: the mean model output over the background.
    feature_names : tuple of str

    Raises
    ------
    InputError
        If the background is missing or does not fit the model, ``output`` is not
        offered by the model, ``feature_groups`` is malformed or ``n_permutations`` is
        not a positive integer.

    Examples
    --------
    Five antithetic pairs of orderings per row; every ordering adds up exactly, so
    the average does too:

    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    >>> from sklearn.linear_model import LogisticRegression
    >>> from whybox.shapley import PermutationExplainer
    >>> model = LogisticRegression().fit(X, y)
    >>> ex = PermutationExplainer(model, X[:50], n_permutations=5)(X[:3])
    >>> ex.values.shape  # (n_samples, n_features, n_outputs): the positive class
    (3, 5, 1)
    >>> bool(abs(ex.additivity_error).max() < 1e-12)
    True
    """

    method = "permutation"
    _owner = "PermutationExplainer"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        output: str = "auto",
        n_permutations: int = 10,
        random_state: Any = 0,
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_background: int | None = DEFAULT_MAX_BACKGROUND,
        progress: bool | None = None,
    ) -> None:
        n_permutations = check_int(n_permutations, "n_permutations", 1, "n_permutations=10")
        super().__init__(
            model,
            background,
            output=output,
            feature_groups=feature_groups,
            batch_size=batch_size,
            max_background=max_background,
            random_state=random_state,
        )
        self.n_permutations = int(n_permutations)
        self.progress = progress

    def __call__(self, X: Any) -> Explanation:
        """Estimate the SHAP values of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            The rows to explain, with the background's columns. Each row costs
            ``2 * n_permutations * (p - 1) * n_background`` model rows, its orderings
            drawn for it alone. A dask array or DataFrame is explained lazily, chunk by
            chunk (see ``whybox.distributed.explain_dask``); each chunk draws its rows'
            orderings as if it were explained alone, so the values differ from one
            in-memory call on all rows (other draws of the same estimator, the same
            for the same chunks).

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_players, n_outputs), float64, in
            ``output_space``; ``base_values`` (n_samples, n_outputs), the mean model
            output over the background; ``model_output`` so ``additivity_error`` is
            reported (zero up to rounding); ``method="permutation"``;
            ``quality["standard_error"]``: the standard error of each value, an
            ndarray shaped like ``values`` (sliced with them), from the spread of the
            antithetic pairs (NaN with one pair; ``null`` in JSON). It has
            ``n_permutations - 1`` degrees of freedom, so a 95% interval takes the
            Student-t quantile (``scipy.stats.t.ppf(0.975, n_permutations - 1)``, 2.26
            at the default 10): ``1.96 * standard_error`` covers only ~92% there.

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
        r = self.n_permutations
        # All orderings are drawn up front, so the values do not depend on batch_size.
        rng = np.random.default_rng(self.random_state)
        forward = np.argsort(rng.random((n, r, p)), axis=-1)
        orders = np.concatenate([forward, forward[:, :, ::-1]], axis=1)  # (n, 2r, p)
        # rank[..., j] is the position of player j in the ordering.
        rank = np.argsort(orders, axis=-1)
        n_inner = p - 1  # coalitions strictly between the empty and the full one
        per_row = 2 * r * n_inner
        values = np.empty((n, p, k), dtype=np.float64)
        std_err = np.empty((n, p, k), dtype=np.float64)
        block = max(1, _BLOCK_CELLS // max(1, per_row * max(self.players.n_features, k)))
        steps = np.arange(1, p, dtype=np.intp)
        with progress_bar(n, self.progress, "permutation SHAP") as bar:
            for start in range(0, n, block):
                stop = min(n, start + block)
                b = stop - start
                rk = rank[start:stop]
                # u[:, o, j] = v(first j players of ordering o), j = 0..p.
                u = np.empty((b, 2 * r, p + 1, k), dtype=np.float64)
                u[:, :, 0] = self.expected_value
                u[:, :, p] = f_x[start:stop, None, :]
                if n_inner > 0:
                    # coalition j of ordering o holds the players ranked below j
                    coal = rk[:, :, None, :] < steps[None, None, :, None]  # (b, 2r, p-1, p)
                    masks = self.players.column_masks(coal).reshape(b, per_row, -1)
                    inner = self._masked_values(Xv[start:stop], masks, bar)
                    u[:, :, 1:p] = inner.reshape(b, 2 * r, n_inner, k)
                else:
                    bar.update(b)
                step_gain = np.diff(u, axis=2)  # (b, 2r, p, k): gain at each position
                # contribution of player j = gain at its position in the ordering
                contrib = np.take_along_axis(step_gain, rk[..., None], axis=2)
                pairs = 0.5 * (contrib[:, :r] + contrib[:, r:])  # (b, r, p, k)
                values[start:stop] = pairs.mean(axis=1)
                if r > 1:
                    std_err[start:stop] = pairs.std(axis=1, ddof=1) / np.sqrt(r)
                else:
                    std_err[start:stop] = np.nan
        params = self._common_params()
        params["n_permutations"] = r
        params["antithetic"] = True
        params["random_state"] = json_value(self.random_state)
        return shapley_explanation(self, values, Xv, f_x, params, {"standard_error": std_err})
