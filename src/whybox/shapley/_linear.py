"""Linear SHAP: SHAP values of linear models in closed form, interventional or correlation-dependent.

For a model whose raw output is linear in its inputs, ``f(x) = x @ coef + intercept``,
the value of a coalition of features is known without calling the model:

- interventional (marginal) masking, ``v(S) = mean_b f(x_S, b_notS)``, gives the
  Shapley values ``phi_j = coef_j (x_j - mean_j)`` (Lundberg & Lee 2017; Janzing,
  Minorics & Bloebaum 2020);
- conditional masking under a Gaussian fitted to the background, ``v(S) = f(E[x | x_S])``
  (Aas, Jullum & Loland 2021; shap's "correlation_dependent"), gives
  ``v(S) - v(empty) = (x - mean)_C @ inv(Sigma_CC) @ (Sigma @ coef)_C`` over the columns
  ``C`` of ``S``: linear in ``x - mean``, so the Shapley values are one fixed transform
  ``T`` of shape (n_players, n_features, n_outputs) applied to every explained row.

``T`` is computed once per explainer: exactly, by enumerating every coalition, or from
antithetic pairs of random orderings, where the Cholesky factor of the covariance in
each ordering gives every step of the ordering at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._explanation import Explanation
from whybox._utils import (
    Players,
    check_int,
    check_random_state,
    is_dask_collection,
    json_value,
    resolve_players,
)
from whybox.adapters import (
    ColumnMap,
    Model,
    NotSeparableError,
    adapt_data,
    adapt_model,
    column_map,
    is_pipeline,
)
from whybox.shapley._exact import (
    MAX_EXACT_PLAYERS,
    all_coalitions,
    shapley_weight_matrix,
)
from whybox.shapley._masking import prepare_background, shapley_explanation

PERTURBATIONS = ("interventional", "correlation_dependent")
"""The values of ``feature_perturbation``."""

ALGORITHMS = ("auto", "exact", "permutation")
"""The values of ``algorithm`` (how the correlation-dependent transform is computed)."""

AUTO_EXACT_MAX_PLAYERS = 14
"""With ``algorithm="auto"``, the transform is exact up to this many players (2**14 coalitions)."""

COVARIANCE_RIDGE = 1e-8
"""Added to the diagonal of the background's correlation matrix: ``Sigma + 1e-8 diag(Sigma)``."""

_BLOCK_CELLS = 1 << 22  # floats held at once while building the transform
_SHOW_PROGRESS_FLOPS = 5e9  # progress=None shows a bar when the transform costs this much
_MODEL_AGNOSTIC = "the model-agnostic whybox.ExactExplainer or whybox.PermutationExplainer"


# ---------------------------------------------------------------------- the linear model
def _linear_types() -> tuple[type, ...]:
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel
    from sklearn.linear_model._stochastic_gradient import BaseSGDRegressor

    return (LinearModel, LinearClassifierMixin, BaseSGDRegressor)


def _is_affine(step: Any) -> bool:
    """Whether a pipeline step is an affine map ``x -> x @ A + c`` (or no step at all)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return True
    if isinstance(step, MinMaxScaler):
        return not step.clip  # clipping to the range is not affine
    return isinstance(step, (StandardScaler, MaxAbsScaler, RobustScaler, PCA))


def _steps(est: Any) -> list[Any]:
    """The steps of a (nested) scikit-learn Pipeline in order, or ``[est]``."""
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        return [s for _, step in est.steps for s in _steps(step)]
    return [est]


def _linear_parts(model: Any) -> tuple[list[Any], Any]:
    """The affine steps before the linear estimator, and the linear estimator.

    Raises
    ------
    UnsupportedModelError
        If the model is not a linear estimator, or a Pipeline whose last step is not
        one or whose other steps are not affine maps this module reads.
    InputError
        If the linear estimator is not fitted.
    """
    est = model.estimator if isinstance(model, Model) else model
    *before, final = _steps(est)
    if not isinstance(final, _linear_types()):
        raise UnsupportedModelError(
            "LinearExplainer explains linear models (a scikit-learn linear estimator such "
            "as LinearRegression, Ridge, LogisticRegression or LinearSVC, alone or after "
            f"scalers or PCA in a Pipeline), got {type(final).__name__}; explain it with "
            f"{_MODEL_AGNOSTIC}."
        )
    for step in before:
        if not _is_affine(step):
            raise UnsupportedModelError(
                f"the Pipeline step {type(step).__name__} is not an affine map LinearExplainer "
                "reads (StandardScaler, MinMaxScaler without clip, MaxAbsScaler, RobustScaler, "
                "PCA), so the pipeline is not known to be linear in its inputs; explain it "
                f"with {_MODEL_AGNOSTIC}."
            )
    if not hasattr(final, "coef_"):
        raise InputError(f"the model {type(final).__name__} is not fitted; call fit(X, y) first.")
    return before, final


def _explained_parts(model: Any) -> tuple[Any, ColumnMap | None]:
    """The linear estimator, and the column map when the model is read through one.

    A model :func:`_linear_parts` reads (a linear estimator, alone or after affine steps)
    is linear in its inputs: no column map. Otherwise an exactly-``Pipeline`` whose
    steps are column-separable (:func:`whybox.adapters.column_map`) and whose final
    estimator is linear is additive in its input columns: it is read through its column
    map.

    Raises
    ------
    UnsupportedModelError
        If neither holds (:class:`~whybox.adapters.NotSeparableError` naming the step
        that mixes columns, when the final estimator is linear).
    InputError
        If the linear estimator is not fitted.
    """
    est = model.estimator if isinstance(model, Model) else model
    try:
        _, final = _linear_parts(est)
    except UnsupportedModelError as not_affine:
        if not is_pipeline(est):
            raise
        try:
            cmap = column_map(est)
        except NotSeparableError as exc:
            if isinstance(_steps(est)[-1], _linear_types()):
                raise exc from None
            raise not_affine from None
        if not isinstance(cmap.final, _linear_types()):
            raise not_affine from None
        if not hasattr(cmap.final, "coef_"):
            raise InputError(
                f"the model {type(cmap.final).__name__} is not fitted; call fit(X, y) first."
            ) from None
        return cmap.final, cmap
    return final, None


def _final_coefficients(final: Any) -> np.ndarray:
    """A linear estimator's ``coef_`` as (n_columns, n_outputs) float64."""
    from scipy.sparse import issparse

    coef = final.coef_.toarray() if issparse(final.coef_) else final.coef_
    coef = np.asarray(coef, dtype=np.float64)
    return coef.reshape(-1, 1) if coef.ndim == 1 else coef.T


def _dense(T: Any) -> np.ndarray:
    from scipy.sparse import issparse

    return T.toarray() if issparse(T) else np.asarray(T, dtype=np.float64)


def _transform_rows(step: Any, rows: np.ndarray) -> np.ndarray:
    names = getattr(step, "feature_names_in_", None)
    if names is not None:
        rows = pd.DataFrame(rows, columns=names)
    return np.asarray(step.transform(rows), dtype=np.float64)


def input_coefficients(model: Any, background: np.ndarray) -> np.ndarray:
    """The coefficients of a linear model's raw output in its input columns.

    For a Pipeline, the final estimator's ``coef_`` is carried back through the affine
    steps: each step's matrix ``A`` (``x -> x @ A + c``) is measured with the step's own
    ``transform``, at the mean of the background rows it receives, with steps of one
    standard deviation per column (so large offsets cost no precision).

    Parameters
    ----------
    model : object
        A model that :meth:`LinearExplainer.supports`.
    background : ndarray of shape (n_background, n_features), float64
        Rows in the model's column order.

    Returns
    -------
    ndarray of shape (n_features, n_outputs), float64
        ``coef`` such that the raw output is ``X @ coef + intercept``.

    Raises
    ------
    UnsupportedModelError
        If the model is not a linear model this module reads.
    InputError
        If it is not fitted.
    """
    before, final = _linear_parts(model)
    A: np.ndarray | None = None
    Z = background
    for step in before:
        if step is None or isinstance(step, str):  # "passthrough"
            continue
        z = Z.mean(axis=0)
        h = Z.std(axis=0)
        h = np.where(h > 0, h, 1.0)
        out = _transform_rows(step, np.vstack([z, z + np.diag(h)]))
        A_step = (out[1:] - out[0]) / h[:, None]
        A = A_step if A is None else A @ A_step
        Z = _transform_rows(step, Z)
    coef = _final_coefficients(final)
    return coef if A is None else A @ coef


def _margin_model(est: Any) -> Model:
    """A linear classifier without ``predict_proba`` (LinearSVC, RidgeClassifier,
    Perceptron) seen through its margin, the only space LinearExplainer explains.

    The outputs follow the adapter's convention: one per class, a binary classifier
    only its positive class.
    """
    classes = np.asarray(est.classes_)
    labels = tuple(str(c) for c in classes)
    names = getattr(est, "feature_names_in_", None)
    feature_names = None if names is None else tuple(str(n) for n in names)

    def margin(X: Any) -> np.ndarray:
        out = np.asarray(est.decision_function(X), dtype=np.float64)
        return out.reshape(out.shape[0], -1)

    outputs = labels[1:] if len(labels) == 2 else labels
    n_features = getattr(est, "n_features_in_", None)
    return Model(
        est, "classification", outputs, classes, feature_names, n_features, "raw",
        {"raw": margin}, feature_names is not None,
    )  # fmt: skip


def _margin_is_log_odds(final: Any, model: Model) -> bool:
    """Whether the margin is the log-odds: a binary logistic regression."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    if model.task != "classification" or model.n_outputs != 1:
        return False
    if isinstance(final, SGDClassifier):
        return final.loss in ("log_loss", "log")
    return isinstance(final, LogisticRegression)


# ---------------------------------------------------------------------- the Gaussian
def background_correlation(background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The regularised correlation matrix and the standard deviations of the background.

    ``Sigma`` is the sample covariance (``ddof=1``). A constant column is given unit
    variance and no correlation (it is its mean in every conditional expectation). The
    correlation matrix gets ``COVARIANCE_RIDGE`` on its diagonal, so the covariance used
    is ``Sigma + 1e-8 diag(Sigma)``: invertible for collinear features, and changing
    conditional expectations by about 1e-8 times the correlation matrix's condition
    number otherwise.

    Returns
    -------
    correlation : ndarray of shape (n_features, n_features), float64
    scale : ndarray of shape (n_features,), float64
        ``sqrt(diag(Sigma))``, 1 for constant columns.
    """
    d = background.shape[1]
    cov = np.atleast_2d(np.cov(background, rowvar=False))
    constant = (background == background[0]).all(axis=0)
    scale = np.sqrt(np.where(constant, 1.0, np.diag(cov)))
    corr = cov / np.outer(scale, scale)
    corr[constant, :] = 0.0
    corr[:, constant] = 0.0
    corr[np.diag_indices(d)] = 1.0 + COVARIANCE_RIDGE
    return corr, scale


def exact_transform(
    correlation: np.ndarray, coef: np.ndarray, players: Players, progress: Any = None
) -> np.ndarray:
    """The correlation-dependent transform, enumerating every coalition of players.

    With ``R`` the correlation matrix, ``coef`` in standard-deviation units and ``z/s``
    the explained row centred and scaled, the coalition with columns ``C`` has
    ``v(S) - v(empty) = (z/s)_C @ Q_C`` with
    ``Q_C = inv(R_CC) @ (R @ coef)_C`` (zero outside ``C``); the transform of player ``i``
    is ``sum_S w_i(S) Q_S`` with the Shapley weights of :func:`shapley_weight_matrix`.
    Each ``Q_C`` is one solve of a full-size system with ``R_CC`` in the coalition's rows
    and columns and the identity elsewhere. The full coalition's ``Q`` is ``coef``
    exactly (``E[x | x] = x``), so the players' transforms add up to ``coef``.

    Parameters
    ----------
    correlation : ndarray of shape (n_features, n_features)
    coef : ndarray of shape (n_features, n_outputs)
    players : Players
    progress : tqdm bar or None
        Updated with the number of coalitions done.

    Returns
    -------
    ndarray of shape (n_players, n_features, n_outputs), float64
    """
    p = players.n_players
    d, k = coef.shape
    masks = players.column_masks(all_coalitions(p))
    weights = shapley_weight_matrix(p)
    rhs_full = correlation @ coef
    eye = np.eye(d)
    out = np.zeros((p, d * k))
    block = max(1, _BLOCK_CELLS // (d * (d + k)))
    for start in range(0, len(masks), block):
        m = masks[start : start + block]
        A = np.where(m[:, :, None] & m[:, None, :], correlation, eye)
        rhs = np.where(m[:, :, None], rhs_full, 0.0)
        q = np.linalg.solve(A, rhs)
        q[m.all(axis=1)] = coef
        out += weights[:, start : start + len(m)] @ q.reshape(len(m), d * k)
        if progress is not None:
            progress.update(len(m))
    return out.reshape(p, d, k)


def ordering_steps(
    correlation: np.ndarray, coef: np.ndarray, orders: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """What each column adds to the coalition's ``Q`` when it joins, along orderings.

    The columns join in the order of their players (a player's own columns in index
    order). With the correlation matrix in that order factored as ``L @ L.T``,
    ``U = inv(L)`` and ``G = L.T @ coef``, the coalition of the first ``j`` columns has
    ``Q = U[:j, :j].T @ G[:j]``, so the ``j``-th column adds ``U[j, :j+1]`` outer
    ``G[j]``: one factorisation per ordering gives every step of it.

    Parameters
    ----------
    correlation : ndarray of shape (n_features, n_features), positive definite
    coef : ndarray of shape (n_features, n_outputs)
    orders : ndarray of shape (n_orders, n_players), int
        Orderings of the players.
    owner : ndarray of shape (n_features,), int
        The player of each column.

    Returns
    -------
    ndarray of shape (n_orders, n_features, n_features, n_outputs), float64
        ``[o, r, c, :]``: the change of ``Q[c]`` when column ``r`` joins in ordering ``o``.
    """
    d = len(owner)
    rank = np.argsort(orders, axis=1)
    col_order = np.argsort(rank[:, owner] * d + np.arange(d), axis=1)
    pos = np.argsort(col_order, axis=1)
    L = np.linalg.cholesky(correlation[col_order[:, :, None], col_order[:, None, :]])
    U = np.linalg.inv(L)
    G = np.swapaxes(L, 1, 2) @ coef[col_order]
    # back to column indices: U_cols[o, r, c] = U[o, pos[o, r], pos[o, c]]
    U_cols = np.take_along_axis(np.take_along_axis(U, pos[:, :, None], axis=1), pos[:, None], 2)
    G_cols = np.take_along_axis(G, pos[:, :, None], axis=1)
    return U_cols[..., None] * G_cols[:, :, None, :]


def sampled_transform(
    correlation: np.ndarray,
    coef: np.ndarray,
    players: Players,
    orders: np.ndarray,
    progress: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The correlation-dependent transform from antithetic pairs of orderings.

    Each ordering and its reverse give one estimate (their mean) of the transform, as the
    players' marginal contributions along the ordering (Strumbelj & Kononenko 2014;
    antithetic pairs: Mitchell, Cooper, Frank & Holmes 2022). The last player of each
    ordering closes it at the full coalition, ``Q = coef``, so every estimate's players
    add up to ``coef`` exactly. The estimates are averaged pair by pair (Chan, Golub &
    LeVeque's pairwise update), so the result does not depend on the block size.

    Parameters
    ----------
    correlation : ndarray of shape (n_features, n_features), positive definite
    coef : ndarray of shape (n_features, n_outputs)
    players : Players
    orders : ndarray of shape (n_pairs, n_players), int
        The forward orderings; their reverses are added.
    progress : tqdm bar or None
        Updated with the number of pairs done.

    Returns
    -------
    transform : ndarray of shape (n_players, n_features, n_outputs)
    standard_error : ndarray of shape (n_players, n_features, n_outputs)
        The standard error of each entry from the spread of the pairs (NaN for one pair).
    """
    r, p = orders.shape
    d, k = coef.shape
    owner = np.empty(d, dtype=np.intp)
    for i, cols in enumerate(players.columns):
        owner[cols] = i
    member = players.membership().astype(np.float64)
    mean = np.zeros((p, d, k))
    m2 = np.zeros((p, d, k))
    done = 0
    block = max(1, _BLOCK_CELLS // (2 * d * d * k))
    for start in range(0, r, block):
        fwd = orders[start : start + block]
        b = len(fwd)
        both = np.concatenate([fwd, fwd[:, ::-1]])
        steps = ordering_steps(correlation, coef, both, owner)
        closing = coef - steps.sum(axis=1)  # the rounding left to reach Q = coef
        if players.grouped:
            per_player = (member @ steps.reshape(2 * b, d, d * k)).reshape(2 * b, p, d, k)
        else:
            per_player = steps
        per_player[np.arange(2 * b), both[:, -1]] += closing
        pairs = 0.5 * (per_player[:b] + per_player[b:])
        pair_mean = pairs.mean(axis=0)
        delta = pair_mean - mean
        total = done + b
        mean += delta * (b / total)
        m2 += ((pairs - pair_mean) ** 2).sum(axis=0) + delta**2 * (done * b / total)
        done = total
        if progress is not None:
            progress.update(b)
    if r > 1:
        standard_error = np.sqrt(m2 / (r * (r - 1)))
    else:
        standard_error = np.full((p, d, k), np.nan)
    return mean, standard_error


def _bar(total: int, show: bool, desc: str, unit: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)


# ---------------------------------------------------------------------- the explainer
class LinearExplainer:
    """SHAP values of a linear model in closed form: interventional or correlation-dependent.

    For a model whose raw output is ``f(x) = x @ coef + intercept`` (the margin, i.e.
    the log-odds of a logistic regression), with ``mean`` the mean of the background:

    - ``feature_perturbation="interventional"``: the players outside a coalition take
      their values from the background rows (marginal masking, as
      :class:`~whybox.ExactExplainer`), and the SHAP values are exactly
      ``phi_j = coef_j (x_j - mean_j)`` (Lundberg & Lee 2017, "A unified approach to
      interpreting model predictions"; Janzing, Minorics & Bloebaum 2020, "Feature
      relevance quantification in explainable AI: a causal problem"). A feature group's
      value is the sum over its columns.
    - ``feature_perturbation="correlation_dependent"``: the players outside a coalition
      ``S`` take their conditional expectation given ``x_S`` under a Gaussian fitted to
      the background (its mean and covariance), ``v(S) = f(E[x | x_S])`` (Aas, Jullum &
      Loland 2021, "Explaining individual predictions when features are dependent: more
      accurate approximations to Shapley values"; shap's "correlation_dependent"). A
      feature with a zero coefficient gets credit through the features it is correlated
      with. ``v(S)`` is linear in ``x - mean``, so the SHAP values are
      ``phi[i] = (x - mean) @ transform[i]`` for a transform computed once, here, from the
      background alone, and applied to all explained rows in one matrix product. It is
      exact (every coalition enumerated) for up to 14 players with ``algorithm="auto"``,
      and estimated from ``n_permutations`` antithetic pairs of random orderings beyond
      (``transform_standard_error`` gives its sampling error). The covariance is
      ``Sigma + 1e-8 diag(Sigma)`` (:data:`COVARIANCE_RIDGE`; see
      :func:`background_correlation`), so collinear and constant features are allowed.

    A scikit-learn ``Pipeline`` whose preprocessing is not affine but column-separable
    (one-hot and ordinal encoding, imputation, scaling, binning: each column the linear
    model reads, ``T(x)_c``, is a function of one input column ``p(c)``, see
    :func:`whybox.adapters.column_map`) has a raw output that is a sum of one function
    per input column, ``f(x) = sum_c coef_c T(x)_c + intercept``. Its interventional
    SHAP values in the pipeline's input columns are then exactly
    ``phi_p = sum over c with p(c) = p of coef_c (T(x)_c - mean over the background of
    T(z)_c)``, per output (text columns included); ``"correlation_dependent"`` is
    refused for such a pipeline.

    In both, local accuracy holds up to floating-point rounding: the values add up to
    the model's margin minus the base value, the mean margin over the background.

    Parameters
    ----------
    model : object
        A fitted scikit-learn linear estimator: a regressor (LinearRegression, Ridge,
        Lasso, ElasticNet, Lars, BayesianRidge, HuberRegressor, SGDRegressor, LinearSVR,
        ...) or a classifier (LogisticRegression binary or multinomial, SGDClassifier,
        RidgeClassifier, LinearSVC, Perceptron, LinearDiscriminantAnalysis, explained
        through their decision function); a scikit-learn Pipeline of StandardScaler,
        MinMaxScaler (without ``clip``), MaxAbsScaler, RobustScaler or PCA steps ending in
        one (explained in its input columns); a Pipeline of column-separable steps
        ending in one (a ``ColumnTransformer`` with ``OneHotEncoder``, ``SimpleImputer``,
        scalers, ...: the steps :func:`whybox.adapters.column_map` reads; explained in
        its input columns, interventional only); or a :class:`whybox.adapters.Model` of
        one.
    background : array-like of shape (n_background, n_features) or DataFrame
        Reference rows (e.g. the training data); only their mean (and covariance, for
        ``"correlation_dependent"``) is used, so every row is kept.
    feature_perturbation : {"interventional", "correlation_dependent"}, default="interventional"
    output : {"auto", "raw", "log_odds"}, default="auto"
        The output space: the model's raw margin (``"auto"`` and ``"raw"``). For a
        binary logistic regression the margin is the log-odds, and ``"log_odds"`` gives
        the same values labelled as such. Probabilities are not linear in the features:
        explain them with :class:`~whybox.ExactExplainer` or
        :class:`~whybox.PermutationExplainer`.
    feature_groups : dict of str to list of (str or int), optional
        Players made of several columns: group name -> column names or positions (in
        the model's column order). Columns in no group are players of their own, after
        the groups. With groups, the explanation's feature axis is the players and its
        ``data`` is None.
    algorithm : {"auto", "exact", "permutation"}, default="auto"
        How the correlation-dependent transform is computed: ``"exact"`` enumerates all
        ``2**p`` coalitions (at most 16 players), ``"permutation"`` samples orderings,
        ``"auto"`` is exact up to 14 players. Not used by ``"interventional"``.
    n_permutations : int, default=500
        Antithetic pairs of orderings (``2 * n_permutations`` orderings) for the sampled
        transform.
    random_state : int, numpy Generator or None, default=0
        Seeds the orderings of the sampled transform (the only random step).
        None draws fresh entropy (results then differ between runs).
    progress : bool or None, default=None
        Show a tqdm progress bar while the correlation-dependent transform is computed;
        None shows it when that costs more than a few seconds.

    Attributes
    ----------
    model : whybox.adapters.Model
    output : str
        The resolved output space.
    background : whybox.adapters.Dataset
        The background rows, in the model's column order.
    expected_value : ndarray of shape (n_outputs,)
        The base value: the mean model output over the background.
    coef : ndarray of shape (n_features, n_outputs), float64
        The model's coefficients in its input columns (through a Pipeline's steps); for
        a pipeline read through its column map, the final estimator's coefficients in
        its own (transformed) columns, shape (n_transformed, n_outputs).
    mean : ndarray of shape (n_features,), float64
        The mean of the background; for a pipeline read through its column map, the
        mean of the transformed background, shape (n_transformed,).
    column_map : whybox.adapters.ColumnMap or None
        The pipeline's column map when the model is read through one (its
        preprocessing is column-separable but not affine), else None.
    covariance : ndarray of shape (n_features, n_features) or None
        The regularised covariance of the Gaussian (``"correlation_dependent"`` only).
    transform : ndarray of shape (n_players, n_features, n_outputs) or None
        ``values[n, i, k] = (X[n] - mean) @ transform[i, :, k]``
        (``"correlation_dependent"`` only).
    transform_standard_error : ndarray of shape (n_players, n_features, n_outputs) or None
        The sampling standard error of each entry of ``transform`` (sampled transform
        only; NaN with one pair).
    algorithm : {"exact", "permutation"} or None
        How ``transform`` was computed (None for ``"interventional"``).
    feature_names : tuple of str
        The players' names.

    Raises
    ------
    UnsupportedModelError
        If the model is not one of the linear models above (use
        :class:`~whybox.ExactExplainer` or :class:`~whybox.PermutationExplainer`), or its
        raw output is not linear in the background rows (in the transformed columns, for
        a pipeline read through its column map); a
        :class:`~whybox.adapters.NotSeparableError` names a pipeline step that mixes
        columns before a linear model.
    InputError
        If the background is missing or does not fit the model, ``output`` is not a
        linear output of the model, ``feature_perturbation``, ``algorithm`` or
        ``n_permutations`` is not one of the accepted values, ``feature_groups`` is
        malformed, ``random_state`` is not a seed, or ``"correlation_dependent"`` gets
        fewer than two background rows or a pipeline read through its column map.

    Warns
    -----
    UserWarning
        With ``"correlation_dependent"``, when the background's covariance is singular
        (no more rows than varying features, or collinear features): the ridge
        :data:`COVARIANCE_RIDGE` then decides the conditional expectations in the
        directions the background does not span. ``params["covariance_singular"]`` and
        ``params["covariance_rank"]`` record it.

    Examples
    --------
    Interventional values are the coefficient times the distance from the
    background mean:

    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> ridge = Ridge(alpha=1.0).fit(X, y)
    >>> from whybox.shapley import LinearExplainer
    >>> ex = LinearExplainer(ridge, X)(X.iloc[:3])
    >>> ex.values.shape, ex.feature_names[:2]
    ((3, 10, 1), ('age', 'sex'))
    >>> expected = ridge.coef_ * (X.iloc[:3] - X.mean()).to_numpy()
    >>> bool(np.allclose(ex.values[:, :, 0], expected))
    True
    """

    _owner = "LinearExplainer"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        feature_perturbation: str = "interventional",
        output: str = "auto",
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        algorithm: str = "auto",
        n_permutations: int = 500,
        random_state: Any = 0,
        progress: bool | None = None,
    ) -> None:
        random_state = check_random_state(random_state)
        if not isinstance(feature_perturbation, str) or feature_perturbation not in PERTURBATIONS:
            raise InputError(
                f"feature_perturbation must be one of {PERTURBATIONS}, got "
                f"{feature_perturbation!r}; use 'interventional' (marginal masking) or "
                "'correlation_dependent' (Gaussian conditional expectations)."
            )
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            raise InputError(
                f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}; use 'auto'."
            )
        n_permutations = check_int(n_permutations, "n_permutations", 1, "n_permutations=500")
        final, cmap = _explained_parts(model)
        if cmap is not None and feature_perturbation == "correlation_dependent":
            raise InputError(
                "feature_perturbation='correlation_dependent' needs a model linear in its "
                "input columns, but this Pipeline's preprocessing is not affine (encoders, "
                "imputers or clipping before the linear model), so a Gaussian over its input "
                "columns has no closed form; use feature_perturbation='interventional' or "
                f"{_MODEL_AGNOSTIC}."
            )
        self.column_map: ColumnMap | None = cmap
        """The pipeline's column map when it is read through one, else None."""
        try:
            self.model = adapt_model(model)
        except UnsupportedModelError:  # a classifier without predict_proba
            self.model = _margin_model(model)
        self.output = self._resolve_output(output, final)
        self.feature_perturbation = feature_perturbation
        self.n_permutations = int(n_permutations)
        self.random_state = random_state
        self.progress = progress
        self.background, _ = prepare_background(
            self.model, background, max_background=None, random_state=None, owner=self._owner
        )
        self.players = resolve_players(feature_groups, self.background.feature_names)
        if cmap is None:
            bg = self.background.values.astype(np.float64, copy=False)
            self.coef = input_coefficients(self.model, bg)
        else:  # the final estimator's columns: the preprocessed background
            bg = _dense(cmap.transform(self.background))
            self.coef = _final_coefficients(final)
        if self.coef.shape != (bg.shape[1], self.model.n_outputs):
            raise UnsupportedModelError(
                f"{type(final).__name__} has coefficients of shape {self.coef.shape[::-1]} but "
                f"the model has {bg.shape[1]} input columns and {self.model.n_outputs} outputs "
                f"(multi-output regression is not supported); explain it with "
                f"{_MODEL_AGNOSTIC}."
            )
        self.mean = bg.mean(axis=0)
        base = self.model.predict(self.background if cmap is not None else bg, "raw")
        self._check_linear(bg, base)
        self.expected_value = base.mean(axis=0)
        """ndarray of shape (n_outputs,): the base value, mean model output over the background."""
        self.covariance: np.ndarray | None = None
        self.transform: np.ndarray | None = None
        self.transform_standard_error: np.ndarray | None = None
        self.algorithm: str | None = None
        if feature_perturbation == "correlation_dependent":
            self._fit_transform(bg, algorithm)

    def _resolve_output(self, output: Any, final: Any) -> str:
        if output in ("auto", "raw"):
            return "raw"
        if output == "log_odds" and _margin_is_log_odds(final, self.model):
            return "log_odds"
        if output in ("probability", "log_odds"):
            raise InputError(
                f"output={output!r} is not linear in the features of "
                f"{type(final).__name__}: LinearExplainer explains the linear margin, "
                "output='raw' (the log-odds of a binary logistic regression); explain "
                f"{output} with {_MODEL_AGNOSTIC}."
            )
        raise InputError(
            "output must be 'auto' or 'raw' (or 'log_odds' for a binary logistic "
            f"regression), got {output!r}; use output='auto'."
        )

    def _check_linear(self, bg: np.ndarray, margin: np.ndarray) -> None:
        """Refuse a model whose margin on the background is not ``bg @ coef`` plus a constant."""
        residual = margin - bg @ self.coef
        spread = np.abs(residual - residual.mean(axis=0)).max(axis=0)
        scale = (np.abs(bg - self.mean) @ np.abs(self.coef)).max(axis=0)
        size = (np.abs(bg) @ np.abs(self.coef)).max(axis=0) + np.abs(residual).max(axis=0)
        if np.any(spread > 1e-6 * scale + 1e-12 * size):
            raise UnsupportedModelError(
                f"the raw output of {type(self.model.estimator).__name__} on the background "
                f"differs from X @ coef by up to {spread.max():.3g} beyond a constant, so it is "
                f"not linear in its inputs; explain it with {_MODEL_AGNOSTIC}."
            )

    def _fit_transform(self, bg: np.ndarray, algorithm: str) -> None:
        if bg.shape[0] < 2:
            raise InputError(
                "feature_perturbation='correlation_dependent' fits a Gaussian to the "
                f"background but it has {bg.shape[0]} row; give at least two rows (e.g. the "
                "training data)."
            )
        p = self.players.n_players
        d, k = self.coef.shape
        if algorithm == "exact" and p > MAX_EXACT_PLAYERS:
            raise InputError(
                f"algorithm='exact' enumerates 2**p coalitions and accepts at most "
                f"{MAX_EXACT_PLAYERS} players, got {p}; use algorithm='permutation' or 'auto'."
            )
        if algorithm == "auto":
            algorithm = "exact" if p <= AUTO_EXACT_MAX_PLAYERS else "permutation"
        corr, scale = background_correlation(bg)
        self.covariance = corr * np.outer(scale, scale)
        self._warn_if_singular(bg, corr)
        coef_std = self.coef * scale[:, None]  # per standard deviation
        n_work = (1 << p) if algorithm == "exact" else self.n_permutations
        flops = n_work * float(d) ** 3 * (1 if algorithm == "exact" else 2 * k)
        show = flops > _SHOW_PROGRESS_FLOPS if self.progress is None else bool(self.progress)
        if algorithm == "exact":
            with _bar(n_work, show, "Linear SHAP transform", "coalition") as bar:
                transform = exact_transform(corr, coef_std, self.players, bar)
        else:
            rng = np.random.default_rng(self.random_state)
            orders = np.argsort(rng.random((self.n_permutations, p)), axis=1)
            with _bar(n_work, show, "Linear SHAP transform", "pair") as bar:
                transform, se = sampled_transform(corr, coef_std, self.players, orders, bar)
            self.transform_standard_error = se / scale[None, :, None]
        self.transform = transform / scale[None, :, None]
        self.algorithm = algorithm

    def _warn_if_singular(self, bg: np.ndarray, corr: np.ndarray) -> None:
        """Warn when the background's covariance is singular, so the ridge decides values.

        Constant columns are left out (each is its own mean in every conditional
        expectation). The rank is that of the correlation matrix of the other columns
        before the ridge; ``covariance_rank`` and ``covariance_singular`` go into the
        explanation's ``params``.
        """
        varying = ~(bg == bg[0]).all(axis=0)
        m = int(varying.sum())
        raw = corr[np.ix_(varying, varying)] - COVARIANCE_RIDGE * np.eye(m)
        rank = int(np.linalg.matrix_rank(raw, hermitian=True)) if m else 0
        self.covariance_rank: int = rank
        """Rank of the background's correlation matrix over its non-constant columns."""
        self.covariance_singular: bool = rank < m
        """True when that matrix is singular and ``COVARIANCE_RIDGE`` makes it invertible."""
        if rank < m:
            why = (
                f"it has {bg.shape[0]} rows for {m} varying features"
                if bg.shape[0] <= m
                else "some features are linear combinations of others"
            )
            warnings.warn(
                f"the background's covariance is singular (rank {rank} of {m}: {why}), so "
                f"LinearExplainer adds a ridge of {COVARIANCE_RIDGE:g} times its diagonal to "
                "invert it, and the conditional expectations in the directions the "
                "background does not span come from that ridge, not the data; give more "
                "background rows than features, or drop or group the collinear features "
                "(feature_groups=...).",
                UserWarning,
                stacklevel=4,
            )

    @classmethod
    def supports(cls, model: Any) -> bool:
        """Whether ``model`` is a linear model this explainer reads (see the class docs)."""
        try:
            _explained_parts(model)
        except InputError:
            return False
        return True

    @property
    def method(self) -> str:
        """``"linear_interventional"`` or ``"linear_correlation_dependent"``."""
        return f"linear_{self.feature_perturbation}"

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of the players: the features, or the feature groups."""
        return self.players.names

    def __call__(self, X: Any) -> Explanation:
        """Explain the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            The rows to explain, with the model's columns (a DataFrame's are matched by
            name; a pipeline's input columns, text included). A dask array or DataFrame
            is explained lazily, chunk by chunk (see ``whybox.distributed.explain_dask``),
            with the in-memory values.

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_players, n_outputs), float64, in
            ``output_space`` (the margin); ``base_values`` (n_samples, n_outputs), the
            mean margin over the background; ``model_output`` the model's margin at each
            row, so ``additivity_error`` is reported (zero up to rounding);
            ``method`` ``"linear_interventional"`` or ``"linear_correlation_dependent"``;
            ``params`` with ``feature_perturbation``, ``algorithm``, ``n_permutations``,
            ``covariance_ridge``, ``covariance_rank``, ``covariance_singular``,
            ``random_state`` and ``transformed_columns`` (the number of columns the linear
            model reads through a pipeline's column map, else None). ``data`` holds the
            rows as given (object dtype where a column is text).

        Raises
        ------
        InputError
            If ``X`` does not have the model's columns.
        """
        if is_dask_collection(X):  # lazy, chunk by chunk, on the dask scheduler
            from whybox.distributed import explain_dask

            return explain_dask(self, X)
        data = self.model.check_data(adapt_data(X, name="X"), name="X")
        if self.column_map is not None:
            f_x = self.model.predict(data, "raw")

            values = self._column_values(_dense(self.column_map.transform(data)))
            if self.players.grouped:
                values = self.players.membership().astype(np.float64) @ values
            return shapley_explanation(self, values, data.values, f_x, self._params())
        Xv = data.values.astype(np.float64, copy=False)
        f_x = self.model.predict(Xv, "raw")
        Z = Xv - self.mean
        if self.transform is None:
            values = Z[:, :, None] * self.coef
            if self.players.grouped:
                values = self.players.membership().astype(np.float64) @ values
        else:
            values = np.tensordot(Z, self.transform, axes=([1], [1]))
        return shapley_explanation(self, values, data.values, f_x, self._params())

    def _column_values(self, T: np.ndarray) -> np.ndarray:
        """Values in the input columns from the transformed rows ``T``.

        ``phi[n, p, k] = sum over the transformed columns c of input column p of
        coef[c, k] * (T[n, c] - mean[c])``.
        """
        cmap = self.column_map
        assert cmap is not None
        owner = np.zeros((cmap.n_inputs, cmap.n_outputs))
        owner[cmap.groups, np.arange(cmap.n_outputs)] = 1.0
        Z = T - self.mean
        return np.stack([(Z * self.coef[:, k]) @ owner.T for k in range(self.coef.shape[1])], 2)

    def _params(self) -> dict[str, Any]:
        sampled = self.algorithm == "permutation"
        correlated = self.feature_perturbation == "correlation_dependent"
        return {
            "feature_perturbation": self.feature_perturbation,
            "output": self.output,
            "background_rows": int(self.background.n_samples),
            "feature_groups": self.players.groups_as_dict() if self.players.grouped else None,
            "algorithm": self.algorithm,
            "n_permutations": self.n_permutations if sampled else None,
            "antithetic": True if sampled else None,
            "covariance_ridge": COVARIANCE_RIDGE if correlated else None,
            "covariance_rank": self.covariance_rank if correlated else None,
            "covariance_singular": self.covariance_singular if correlated else None,
            "random_state": json_value(self.random_state),
            "transformed_columns": None if self.column_map is None else self.column_map.n_outputs,
        }
