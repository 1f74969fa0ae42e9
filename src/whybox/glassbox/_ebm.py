"""Read interpret's fitted Explainable Boosting Machines into an :class:`AdditiveModel`.

An EBM (``ExplainableBoostingClassifier``/``Regressor``, Lou et al. 2013; Nori et al.
2019) stores, per feature, its bin levels (``bins_``: numeric cut points, or a dict of
category text to bin index; a pair uses the second level when the feature has one), per
term its features (``term_features_``) and a score per bin or per cell
(``term_scores_``, with the missing bin first and the unknown bin last), the training
weight per bin (``bin_weights_``), the spread across its bags
(``standard_deviations_``, ``bagged_scores_``), the intercept and the link. interpret is
imported inside the functions only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox.glassbox._additive import AdditiveModel, Binning, Term

EBM_CLASSES = (
    "ExplainableBoostingClassifier",
    "ExplainableBoostingRegressor",
    "DPExplainableBoostingClassifier",
    "DPExplainableBoostingRegressor",
)
"""The interpret classes :func:`from_ebm` reads."""

_LINKS = {"identity": "identity", "logit": "logit", "mlogit": "mlogit", "vlogit": "mlogit"}


def is_ebm(model: Any) -> bool:
    """Whether ``model`` is one of interpret's EBMs (checked by type, no import)."""
    cls = type(model)
    return cls.__module__.split(".")[0] == "interpret" and cls.__name__ in EBM_CLASSES


def _binning(level: Any, bounds: Any = None) -> Binning:
    if isinstance(level, dict):
        return Binning("categorical", levels={str(k): int(v) for k, v in level.items()})
    return Binning("numeric", cuts=np.asarray(level, dtype=np.float64), bounds=bounds)


def term_binnings(bins: Any, features: tuple[int, ...], bounds: Any = None) -> tuple[Binning, ...]:
    """The binning each feature of a term uses: EBM's level ``min(levels, term size)``."""
    out = []
    for f in features:
        levels = bins[f]
        level = levels[min(len(levels), len(features)) - 1]
        out.append(_binning(level, None if bounds is None else tuple(bounds[f])))
    return tuple(out)


def _outputs(a: Any, shape: tuple[int, ...], k: int) -> np.ndarray | None:
    """Per-bin arrays with a trailing output axis, shape (*shape, k)."""
    if a is None:
        return None
    return np.asarray(a, dtype=np.float64).reshape(*shape, k)


def from_ebm(model: Any) -> AdditiveModel:
    """An interpret EBM as an :class:`AdditiveModel`.

    Parameters
    ----------
    model : interpret.glassbox.ExplainableBoostingClassifier or ExplainableBoostingRegressor
        Fitted; binary, multiclass or regression.

    Returns
    -------
    AdditiveModel
        One binned :class:`Term` per EBM term (pairs included), with ``scores`` of shape
        ``(*n_bins, n_outputs)``, ``weights`` (``bin_weights_``),
        ``standard_deviations`` and ``bagged_scores``; ``link`` "identity", "logit" or
        "mlogit"; ``term_values(X)`` equals ``model.eval_terms(X)`` and
        ``predict_raw(X)`` equals ``model.decision_function(X)`` (the regressor's
        ``predict``).

    Raises
    ------
    UnsupportedModelError
        If ``model`` is not an EBM, or uses a link other than identity/logit/mlogit.
    InputError
        If the EBM is not fitted.
    """
    if not is_ebm(model):
        raise UnsupportedModelError(
            f"from_ebm reads interpret's ExplainableBoostingClassifier/Regressor, got "
            f"{type(model).__name__}; pass a fitted EBM."
        )
    if not hasattr(model, "term_scores_"):
        raise InputError(f"the model {type(model).__name__} is not fitted; call fit(X, y) first.")
    link = _LINKS.get(str(model.link_))
    if link is None:
        raise UnsupportedModelError(
            f"the EBM's link {model.link_!r} is not one whybox reads (identity, logit, "
            "mlogit); fit it with the default objective."
        )
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    k = intercept.shape[0]
    feature_types = tuple(str(t) for t in model.feature_types_in_)
    std = getattr(model, "standard_deviations_", None)
    bagged = getattr(model, "bagged_scores_", None)
    terms = []
    for t, features in enumerate(model.term_features_):
        features = tuple(int(f) for f in features)
        bins = term_binnings(model.bins_, features, getattr(model, "feature_bounds_", None))
        shape = tuple(b.n_bins for b in bins)

        bag = None
        if bagged is not None and bagged[t] is not None:
            bag = np.asarray(bagged[t], dtype=np.float64)
            bag = bag.reshape(bag.shape[0], *shape, k)
        terms.append(
            Term(
                features=features,
                name=str(model.term_names_[t]),
                bins=bins,
                scores=_outputs(model.term_scores_[t], shape, k),
                weights=np.asarray(model.bin_weights_[t], dtype=np.float64).reshape(shape),
                standard_deviations=_outputs(None if std is None else std[t], shape, k),
                bagged_scores=bag,
            )
        )
    classes = getattr(model, "classes_", None)
    if link == "identity":
        output_names: tuple[str, ...] = ("prediction",)
    elif link == "logit":
        output_names = (str(classes[1]),)
    else:
        output_names = tuple(str(c) for c in classes)
    return AdditiveModel(
        feature_names=tuple(str(n) for n in model.feature_names_in_),
        terms=tuple(terms),
        intercept=intercept,
        link=link,
        output_names=output_names,
        source=type(model).__name__,
        classes=None if classes is None else np.asarray(classes),
        feature_types=feature_types,
    )
