"""Global interaction strength from SHAP interaction values (tree models)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation

_AXES = ("samples", "features", "features", "outputs")


def shap_interaction_matrix(explanation: Any, *, output: Any = None) -> pd.DataFrame:
    """Mean absolute SHAP interaction value of every pair of features.

    SHAP interaction values split each row's SHAP value of feature ``i`` into a main
    effect ``phi[i, i]`` and one interaction ``phi[i, j]`` with every other feature,
    the interaction of a pair shared equally between ``[i, j]`` and ``[j, i]``
    (Lundberg et al. 2020). This summary is, over the rows, the mean of
    ``|phi[i, j] + phi[j, i]|`` (the whole interaction of the pair) off the diagonal
    and of ``|phi[i, i]|`` on it. Unlike Friedman's H^2 (a share of variance), it is in
    the units of the model's output, so pairs and main effects compare directly.

    Parameters
    ----------
    explanation : Explanation
        SHAP interaction values, axes ("samples", "features", "features", "outputs"),
        e.g. ``whybox.shapley.TreeExplainer(model).interaction_values(X)``.
    output : str or int, optional
        The output to summarise (class name or position); None: the mean over the
        outputs of the per-output means.

    Returns
    -------
    pandas.DataFrame of shape (n_features, n_features), float64
        Symmetric, indexed by feature name on both axes, in the units of the
        explanation's output space (``explanation.output_space``).

    Raises
    ------
    InputError
        If ``explanation`` does not hold interaction values or ``output`` is unknown.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global understanding with
       explainable AI for trees", Nature Machine Intelligence 2, 2020.
    """
    if not isinstance(explanation, Explanation) or tuple(explanation.axes) != _AXES:
        got = explanation.axes if isinstance(explanation, Explanation) else type(explanation)
        raise InputError(
            f"explanation must hold SHAP interaction values with axes {_AXES}, got {got!r}; "
            "pass TreeExplainer(model).interaction_values(X)."
        )
    values = np.asarray(explanation.values, dtype=np.float64)
    names = list(explanation.output_names)
    if output is not None:
        if isinstance(output, (int, np.integer)) and 0 <= int(output) < len(names):
            k = int(output)
        elif output in names:
            k = names.index(output)
        else:
            raise InputError(
                f"output must be one of {names} or a position below {len(names)}, got {output!r}."
            )
        values = values[..., k : k + 1]
    pair = values + np.swapaxes(values, 1, 2)  # phi_ij + phi_ji off the diagonal
    diag = np.arange(values.shape[1])
    pair[:, diag, diag] = values[:, diag, diag]
    matrix = np.abs(pair).mean(axis=(0, 3))
    index = pd.Index(list(explanation.feature_names), name="feature")
    return pd.DataFrame(matrix, index=index, columns=index.rename(None))


def top_interaction_pairs(matrix: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` strongest pairs of a :func:`shap_interaction_matrix`, strongest first.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature_1``, ``feature_2``, ``mean_abs_interaction``.
    """
    names = list(matrix.index)
    i, j = np.triu_indices(len(names), k=1)
    strength = matrix.to_numpy()[i, j]
    order = np.argsort(-strength, kind="stable")[:k]
    return pd.DataFrame(
        {
            "feature_1": [names[a] for a in i[order]],
            "feature_2": [names[b] for b in j[order]],
            "mean_abs_interaction": strength[order],
        }
    )
