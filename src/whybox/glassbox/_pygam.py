"""pyGAM's ``LinearGAM``/``LogisticGAM`` read into an :class:`AdditiveModel` of function terms.

A pyGAM model is a sum of terms on its linear predictor (the raw space): splines ``s()``,
factors ``f()`` and linear terms ``l()`` of one feature, tensor products ``te()`` of two,
and the intercept. Each term becomes a function :class:`Term` that pyGAM itself evaluates
(``gam.partial_dependence(term=i, X=...)``), so the terms sum to pyGAM's own linear
predictor exactly; the intercept term's coefficient is the model's ``intercept``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox.glassbox._additive import AdditiveModel, Term

_LINKS = {("normal", "identity"): "identity", ("binomial", "logit"): "logit"}


def is_pygam(model: Any) -> bool:
    """Whether ``model`` is a pyGAM GAM (any subclass of ``pygam.GAM``), without importing
    pyGAM when it was never imported."""
    return any(
        c.__name__ == "GAM" and c.__module__.startswith("pygam") for c in type(model).__mro__
    )


class PyGAMTermFunction:
    """One pyGAM term as a function of its own input columns, evaluated by pyGAM.

    Called with the term's columns (a sequence of 1-D arrays of equal length ``n``), it
    returns the term's contribution to the linear predictor, shape (n, 1) float64: pyGAM's
    ``partial_dependence(term=index, X=...)`` on rows whose other columns hold a value
    pyGAM accepts (a known level for a factor feature), which the term does not read.

    Parameters
    ----------
    gam : pygam.GAM
        The fitted model.
    index : int
        The term's position in ``gam.terms``.
    features : tuple of int
        The input columns the term reads, in the order the columns are passed.
    fill : ndarray of shape (m_features,)
        The value every other column holds.
    """

    def __init__(self, gam: Any, index: int, features: tuple[int, ...], fill: np.ndarray):
        self.gam = gam
        self.index = index
        self.features = features
        self.fill = fill

    def rows(self, columns: Sequence[Any]) -> np.ndarray:
        """The full pyGAM input rows for the term's ``columns``."""
        cols = [np.asarray(c, dtype=np.float64).reshape(-1) for c in columns]
        X = np.tile(self.fill, (len(cols[0]), 1))
        for j, c in zip(self.features, cols, strict=True):
            X[:, j] = c
        return X

    def __call__(self, columns: Sequence[Any]) -> np.ndarray:
        values = self.gam.partial_dependence(term=self.index, X=self.rows(columns))
        return np.asarray(values, dtype=np.float64).reshape(-1, 1)

    def interval(self, columns: Sequence[Any], confidence_level: float) -> np.ndarray:
        """pyGAM's confidence interval of the term at ``columns``: shape (n, 2) float64
        (lower, upper), ``partial_dependence(..., width=confidence_level)``."""
        _, ci = self.gam.partial_dependence(
            term=self.index, X=self.rows(columns), width=confidence_level
        )
        return np.asarray(ci, dtype=np.float64).reshape(-1, 2)

    def axis(self, position: int, n: int) -> np.ndarray | None:
        """pyGAM's grid of ``n`` points over the fitted range of the term's feature
        ``features[position]`` (its edge knots), or None where pyGAM keeps none (the
        ``by`` feature of a term)."""
        term = self.gam.terms[self.index]
        subterms = list(term) if getattr(term, "istensor", False) else [term]
        if position >= len(subterms) or not hasattr(subterms[position], "edge_knots_"):
            return None
        sub = subterms[position]
        lo, hi = (float(v) for v in sub.edge_knots_[:2])
        if _is_factor(sub):
            return np.arange(np.ceil(lo), np.floor(hi) + 1.0)
        return np.linspace(lo, hi, n)

    def kind(self, position: int) -> str:
        """``"factor"``, ``"linear"`` or ``"spline"`` for the term's feature at ``position``."""
        term = self.gam.terms[self.index]
        subterms = list(term) if getattr(term, "istensor", False) else [term]
        if position >= len(subterms):
            return "by"
        sub = subterms[position]
        if _is_factor(sub):
            return "factor"
        return "linear" if type(sub).__name__ == "LinearTerm" else "spline"


def _is_factor(term: Any) -> bool:
    return type(term).__name__ == "FactorTerm"


def _term_features(term: Any) -> tuple[int, ...]:
    """The input columns one pyGAM term reads (a tensor's features, then ``by``)."""
    if getattr(term, "istensor", False):
        features = [int(t.feature) for t in term]
        features += [int(t.by) for t in term if getattr(t, "by", None) is not None]
    else:
        features = [int(term.feature)]
    if getattr(term, "by", None) is not None:
        features.append(int(term.by))
    return tuple(dict.fromkeys(features))


def _term_name(term: Any, names: Sequence[str]) -> str:
    """The term as pyGAM writes it, with feature names: ``s(age)``, ``te(x3, x4)``."""
    by = getattr(term, "by", None)
    suffix = f", by={names[int(by)]}" if by is not None else ""
    if getattr(term, "istensor", False):
        inner = ", ".join(names[int(t.feature)] for t in term)
        return f"te({inner}{suffix})"
    letter = {"SplineTerm": "s", "FactorTerm": "f", "LinearTerm": "l"}.get(type(term).__name__)
    return f"{letter or type(term).__name__}({names[int(term.feature)]}{suffix})"


def _fill(gam: Any) -> np.ndarray:
    """A value per input column that pyGAM accepts: a known level for a factor feature."""
    fill = np.zeros(int(gam.statistics_["m_features"]), dtype=np.float64)
    for term in gam.terms:
        if term.isintercept:
            continue
        for sub in list(term) if getattr(term, "istensor", False) else [term]:
            if _is_factor(sub):
                fill[int(sub.feature)] = float(np.ceil(sub.edge_knots_[0]))
    return fill


def from_pygam(model: Any, *, feature_names: Sequence[str] | None = None) -> AdditiveModel:
    """Read a fitted pyGAM ``LinearGAM``/``LogisticGAM`` into an :class:`AdditiveModel`.

    Parameters
    ----------
    model : pygam.LinearGAM or pygam.LogisticGAM
        Fitted. Any pyGAM GAM with a normal distribution and identity link, or a binomial
        one with a logit link, is read the same way.
    feature_names : sequence of str, optional
        Names of the model's input columns (pyGAM keeps none); default ``x0, x1, ...``.

    Returns
    -------
    AdditiveModel
        One function term per pyGAM term (``s``, ``f``, ``l``: one feature; ``te`` and a
        term with ``by=``: two), named as pyGAM writes it with the feature names, each
        evaluated by pyGAM (``partial_dependence(term=i, X=...)``); ``intercept``: the intercept
        term's coefficient (0.0 with ``fit_intercept=False``), shape (1,); ``link``:
        ``"identity"`` (LinearGAM: the raw space is the prediction) or ``"logit"``
        (LogisticGAM: the raw space is the log-odds of class 1, ``output_names`` ``("1",)``,
        ``classes`` ``[0, 1]``; a LinearGAM's output is named ``"prediction"``).
        ``predict_raw(X)`` equals pyGAM's linear predictor: ``gam.predict(X)`` for a
        LinearGAM, the logit of ``gam.predict_proba(X)`` for a LogisticGAM.

    Raises
    ------
    InputError
        An unfitted model, or ``feature_names`` of the wrong length.
    UnsupportedModelError
        Not a pyGAM GAM; another distribution or link (Poisson, gamma, ...: the link is
        not one whybox's additive models have); a term that reads more than two features
        (a three-way tensor, a tensor with ``by=``), which is not separable into one- and
        two-feature terms.
    """
    if not is_pygam(model):
        raise UnsupportedModelError(
            f"model must be a fitted pyGAM LinearGAM or LogisticGAM, got "
            f"{type(model).__name__}; pass a pygam model or an AdditiveModel."
        )
    if not getattr(model, "_is_fitted", False):
        raise InputError(
            f"model is an unfitted {type(model).__name__}; call model.fit(X, y) first."
        )
    key = (str(model.distribution), str(model.link))
    if key not in _LINKS:
        raise UnsupportedModelError(
            f"model is a {type(model).__name__} with a {key[0]} distribution and a {key[1]} "
            "link, but only LinearGAM (normal, identity) and LogisticGAM (binomial, logit) "
            "are read as additive models; refit as one of those."
        )
    m = int(model.statistics_["m_features"])
    if feature_names is None:
        names = tuple(f"x{j}" for j in range(m))
    else:
        names = tuple(str(n) for n in feature_names)
        if len(names) != m:
            raise InputError(
                f"feature_names must name the model's {m} input columns, got {len(names)} "
                "names; pass one name per column of the X it was fitted on."
            )
    fill = _fill(model)
    terms = []
    intercept = 0.0
    for i, term in enumerate(model.terms):
        if term.isintercept:
            intercept += float(model.coef_[model.terms.get_coef_indices(i)].sum())
            continue
        features = _term_features(term)
        if len(features) > 2:
            raise UnsupportedModelError(
                f"model's term {i} ({_term_name(term, names)}) reads {len(features)} features, "
                "which is not separable into one- and two-feature terms; refit with "
                "terms of at most two features (s, f, l, te of two, or s(i, by=j))."
            )
        terms.append(
            Term(
                features=features,
                name=_term_name(term, names),
                function=PyGAMTermFunction(model, i, features, fill),
            )
        )
    link = _LINKS[key]
    return AdditiveModel(
        feature_names=names,
        terms=tuple(terms),
        intercept=np.array([intercept], dtype=np.float64),
        link=link,
        output_names=("1",) if link == "logit" else ("prediction",),
        source=type(model).__name__,
        classes=np.array([0, 1]) if link == "logit" else None,
    )
