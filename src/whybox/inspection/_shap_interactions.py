"""Global interaction strength from SHAP interaction values (tree models)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_int

_AXES = ("samples", "features", "features", "outputs")


def shap_interaction_matrix(explanation: Any, *, target: Any = None) -> pd.DataFrame:
    """Mean absolute SHAP interaction value of every pair of features.

    SHAP interaction values (Lundberg et al. 2020; the Shapley interaction index of
    Grabisch & Roubens 1999 made to sum to the SHAP values) split each row's SHAP
    value of feature ``i`` into a main effect ``phi[i, i]`` and one interaction
    ``phi[i, j]`` with every other feature, the interaction of a pair shared
    equally between ``[i, j]`` and ``[j, i]``. This summary is, over the rows, the
    mean of ``|phi[i, j] + phi[j, i]|`` (the whole interaction of the pair) off the
    diagonal and of ``|phi[i, i]|`` on it.

    Parameters
    ----------
    explanation : Explanation
        SHAP interaction values: ``values`` of shape (n_samples, n_features,
        n_features, n_outputs), float, with axes ("samples", "features",
        "features", "outputs"), e.g.
        ``whybox.shapley.TreeExplainer(model).interaction_values(X)``.
    target : str or int, optional
        The output to summarise: an output name of ``explanation.output_names``
        (a class name) or its position. None: every output, the matrix being the
        mean over the outputs of the per-output matrices.

    Returns
    -------
    pandas.DataFrame of shape (n_features, n_features), float64
        Symmetric and non-negative, indexed by feature name on both axes (the index
        is named "feature"); the diagonal holds the main effects. In the units of
        the explanation's output space (``explanation.output_space``: the margin
        for TreeSHAP's raw output).

    Raises
    ------
    InputError
        If ``explanation`` is not an :class:`~whybox.Explanation` with the axes of
        interaction values, or ``target`` is neither an output name nor a position
        below ``n_outputs``.

    Notes
    -----
    Unlike Friedman's H^2 (:func:`h_statistic`, a share of variance between 0 and
    about 1), this is in the units of the model's output, so pairs and main effects
    compare directly, and a strong but rare interaction is diluted by the rows where
    it does not act. The values are those of the rows explained: explain a
    representative sample. Use :func:`top_interaction_pairs` for the strongest
    pairs as a table.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 2020.
    .. [2] M. Grabisch, M. Roubens, "An axiomatic approach to the concept of
       interaction among players in cooperative games", International Journal of
       Game Theory 28, 1999.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import GradientBoostingRegressor
    >>> X = np.random.default_rng(0).normal(0.0, 1.0, (300, 3))
    >>> y = X[:, 0] * X[:, 1] + X[:, 2]
    >>> model = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(X, y)
    >>> from whybox.inspection import shap_interaction_matrix
    >>> from whybox.shapley import TreeExplainer
    >>> inter = TreeExplainer(model).interaction_values(X[:50])
    >>> matrix = shap_interaction_matrix(inter)
    >>> matrix.shape
    (3, 3)
    >>> bool(matrix.iloc[0, 1] > matrix.iloc[0, 2])  # x0 interacts with x1, not x2
    True
    """
    if not isinstance(explanation, Explanation) or tuple(explanation.axes) != _AXES:
        got = explanation.axes if isinstance(explanation, Explanation) else type(explanation)
        raise InputError(
            f"explanation must hold SHAP interaction values with axes {_AXES}, got {got!r}; "
            "pass TreeExplainer(model).interaction_values(X)."
        )
    values = np.asarray(explanation.values, dtype=np.float64)
    names = list(explanation.output_names)
    if target is not None:
        if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(names):
            k = int(target)
        elif target in names:
            k = names.index(target)
        else:
            raise InputError(
                f"target must be one of {names} or a position below {len(names)}, got {target!r}."
            )
        values = values[..., k : k + 1]
    pair = values + np.swapaxes(values, 1, 2)  # phi_ij + phi_ji off the diagonal
    diag = np.arange(values.shape[1])
    pair[:, diag, diag] = values[:, diag, diag]
    matrix = np.abs(pair).mean(axis=(0, 3))
    index = pd.Index(list(explanation.feature_names), name="feature")
    return pd.DataFrame(matrix, index=index, columns=index.rename(None))


def top_interaction_pairs(matrix: pd.DataFrame, top_k: int = 10) -> pd.DataFrame:
    """The ``top_k`` strongest pairs of a feature-by-feature interaction matrix.

    Reads the upper triangle of ``matrix`` (each unordered pair once, the
    diagonal of main effects left out) and ranks the pairs by their value,
    strongest first; ties keep the order of the triangle (row by row).

    Parameters
    ----------
    matrix : pandas.DataFrame of shape (n_features, n_features)
        A symmetric matrix indexed by feature name, typically the result of
        :func:`shap_interaction_matrix` (mean absolute SHAP interaction, in the
        units of the output space); any symmetric strength matrix works.
    top_k : int, default=10
        How many pairs to keep (>= 1); fewer when there are fewer pairs
        (``n_features * (n_features - 1) / 2``).

    Returns
    -------
    pandas.DataFrame of shape (min(top_k, n_pairs), 3)
        Columns ``feature_1`` and ``feature_2`` (the pair, ``feature_1`` first in
        the matrix's order) and ``mean_abs_interaction`` (float64, the matrix's
        value for the pair), strongest first, with a fresh 0..n-1 index.

    Raises
    ------
    InputError
        If ``top_k`` is not a positive integer, or ``matrix`` is not a square
        DataFrame.

    Notes
    -----
    Ranking pairs by mean absolute SHAP interaction follows Lundberg et al. (2020);
    for a share-of-variance ranking use the ``pairs_frame()`` of
    :func:`h_statistic` instead.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 2020.

    Examples
    --------
    >>> import pandas as pd
    >>> from whybox.inspection import top_interaction_pairs
    >>> names = ["a", "b", "c"]
    >>> matrix = pd.DataFrame(
    ...     [[1.0, 0.5, 0.1], [0.5, 2.0, 0.3], [0.1, 0.3, 0.7]], index=names, columns=names
    ... )
    >>> top_interaction_pairs(matrix, top_k=2)
      feature_1 feature_2  mean_abs_interaction
    0         a         b                   0.5
    1         b         c                   0.3
    """
    top_k = check_int(top_k, "top_k", 1, "top_k=10")
    if not isinstance(matrix, pd.DataFrame) or matrix.shape[0] != matrix.shape[1]:
        shape = getattr(matrix, "shape", type(matrix).__name__)
        raise InputError(
            f"matrix must be a square DataFrame indexed by feature name, got {shape!r}; pass "
            "shap_interaction_matrix(explanation)."
        )
    names = list(matrix.index)
    i, j = np.triu_indices(len(names), k=1)
    strength = matrix.to_numpy()[i, j]
    order = np.argsort(-strength, kind="stable")[:top_k]
    return pd.DataFrame(
        {
            "feature_1": [names[a] for a in i[order]],
            "feature_2": [names[b] for b in j[order]],
            "mean_abs_interaction": strength[order],
        }
    )
