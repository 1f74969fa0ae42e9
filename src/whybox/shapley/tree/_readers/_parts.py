"""The interface every tree reader follows, and what it hands over.

A reader is a module of :mod:`whybox.shapley.tree._readers` with two functions:

- ``supports(estimator) -> bool``: whether the estimator is of a type the reader reads
  (fitted or not; it imports its library only when the estimator comes from it);
- ``read(estimator) -> TreeParts``: the fitted estimator's trees, as per-tree node arrays
  and the ensemble's settings; :func:`whybox.shapley.tree._ensemble.parse_ensemble`
  stacks them into a :class:`~whybox.shapley.tree._ensemble.TreeEnsemble`.

Raises from ``read``: :class:`~whybox._exceptions.UnsupportedModelError` when the
estimator is not fitted or uses something TreeExplainer cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from whybox._exceptions import UnsupportedModelError


@dataclass
class TreeParts:
    """One ensemble's trees as a reader hands them over, before padding.

    Attributes
    ----------
    trees : list of dict of str to ndarray
        Per tree, node arrays of length ``n_nodes``: ``left``, ``right`` (children, -1
        at leaves), ``feature``, ``threshold``, ``default_left``, ``cover``, ``value``
        (shape (n_nodes, n_outputs or 1), read at leaves only) and optionally
        ``missing_rule`` (default ``MISSING_NAN``).
    tree_output : list of int
        The output each tree adds to, -1 for every output.
    n_outputs : int
    base_offset : ndarray of shape (n_outputs,)
        The model's base score in the raw output space.
    n_features, strict_less, float32_input, family, encoded_categories, category_levels, missing_value
        As in :class:`~whybox.shapley.tree._ensemble.TreeEnsemble`.
    category_sets : list of set of int, optional
        The categories of each categorical split; a split's threshold is its set's index.
    """

    trees: list[dict[str, np.ndarray]]
    tree_output: list[int]
    n_outputs: int
    base_offset: np.ndarray
    n_features: int
    strict_less: bool
    float32_input: bool
    family: str
    category_sets: list[set[int]] | None = None
    encoded_categories: dict[int, np.ndarray] | None = None
    category_levels: dict[int, np.ndarray] | None = None
    missing_value: float = field(default=float("nan"))


class TreeReader(Protocol):
    """What :func:`~whybox.shapley.tree._ensemble.parse_ensemble` asks of a reader."""

    def supports(self, estimator: Any) -> bool: ...

    def read(self, estimator: Any) -> TreeParts: ...


def library_of(estimator: Any) -> str:
    """The top-level package the estimator's class comes from (``"sklearn"``, ...)."""
    return type(estimator).__module__.split(".")[0]


def require_fitted(estimator: Any) -> None:
    """Raise unless a scikit-learn-API estimator is fitted (a native Booster always is).

    Raises
    ------
    UnsupportedModelError
        If ``check_is_fitted`` fails.
    """
    if type(estimator).__name__ == "Booster":
        return
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except Exception:
        raise UnsupportedModelError(
            f"the model {type(estimator).__name__} is not fitted; call fit(X, y) first."
        ) from None
