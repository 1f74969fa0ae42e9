"""One reader per model library behind one interface (as shap's ``_tree_handlers``).

Each reader module has ``supports(estimator) -> bool`` and
``read(estimator) -> TreeParts`` (see :mod:`._parts`); :data:`READERS` lists them in the
order :func:`whybox.shapley.tree._ensemble.parse_ensemble` asks them. These modules are
the only ones in ``whybox.shapley.tree`` that know the libraries' formats.
"""

from whybox.shapley.tree._readers import _catboost, _lightgbm, _sklearn, _xgboost
from whybox.shapley.tree._readers._parts import TreeParts, TreeReader

READERS: tuple[TreeReader, ...] = (_sklearn, _xgboost, _lightgbm, _catboost)  # type: ignore[assignment]
"""The readers, asked in this order whether they support an estimator."""

__all__ = ["READERS", "TreeParts", "TreeReader"]
