"""The one representation of a glass-box (additive) model: an intercept plus a sum of terms.

Every glass-box reader (interpret's EBMs, pyGAM) fills an :class:`AdditiveModel`, and every
glass-box method (exact SHAP of additive models, shape functions) reads one. A term touches
one or two input columns and is evaluated either from bins (EBM: a score per bin or per cell
of a pair, looked up after cutting each column with a :class:`Binning`) or by a function of
its columns (pyGAM's splines).

Scores are in the output space "raw" (log-odds for a binary classifier, one margin per class
for a multiclass one, the prediction itself for a regressor); ``link`` maps them to
probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError

LINKS = ("identity", "logit", "mlogit")
"""The links of an :class:`AdditiveModel`: regression, binary and multiclass classification."""

KINDS = ("numeric", "categorical")
"""The kinds of a :class:`Binning`."""


# ------------------------------------------------------------------------------ values
def _float_text(value: float) -> str:
    """A number as EBM writes a category: shortest round-trip text, ``"3"`` for ``3.0``."""
    text = str(np.asarray([float(value) + 0.0]).astype(np.str_)[0])
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _category_text(value: Any) -> str:
    """A non-missing cell as the category text EBM matches against its levels."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)):
        return _float_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _as_1d(column: Any) -> np.ndarray:
    if isinstance(column, pd.Series):
        if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
            return column.astype(object).to_numpy()
        if pd.api.types.is_extension_array_dtype(column.dtype):
            return column.astype(object).to_numpy()
        return column.to_numpy()
    return np.asarray(column).reshape(-1)


# ------------------------------------------------------------------------------ binning
@dataclass(frozen=True, eq=False)
class Binning:
    """How one input column is cut into bins (EBM's conventions).

    Bin 0 is the missing bin (NaN, None), the last bin (``n_bins - 1``) the unknown bin
    (a category not seen in training, or text in a numeric column); the bins between hold
    the values.

    Attributes
    ----------
    kind : {"numeric", "categorical"}
    cuts : ndarray of shape (n_cuts,), float64, or None
        Numeric: increasing cut points; a value ``x`` goes to bin
        ``1 + (number of cuts <= x)``, so ``n_bins = n_cuts + 3``. None for categorical.
    levels : mapping of str to int, or None
        Categorical: category text -> bin index (from 1); ``n_bins = max index + 2``.
        Numbers are matched as EBM writes them (``3.0`` as ``"3"``, ``True`` as ``"1"``).
        None for numeric.
    bounds : tuple of (float, float) or None
        Numeric: the smallest and largest value seen in training (EBM's
        ``feature_bounds_``), for drawing the outer bins; None when unknown.
    """

    kind: str
    cuts: np.ndarray | None = None
    levels: Mapping[str, int] | None = None
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"Binning kind must be one of {KINDS}, got {self.kind!r}.")
        if self.kind == "numeric":
            cuts = np.asarray(self.cuts, dtype=np.float64).reshape(-1)
            if cuts.size and (not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0)):
                raise InputError(
                    "Binning cuts must be finite and strictly increasing, got "
                    f"{cuts.size} cuts that are not; pass the sorted cut points."
                )
            object.__setattr__(self, "cuts", cuts)
            if self.bounds is not None:
                low, high = (float(v) for v in self.bounds)
                if not (np.isfinite(low) and np.isfinite(high) and low <= high):
                    object.__setattr__(self, "bounds", None)
                else:
                    object.__setattr__(self, "bounds", (low, high))
        else:
            levels = dict(self.levels or {})
            for key, index in levels.items():
                if not isinstance(key, str) or not isinstance(index, (int, np.integer)):
                    raise InputError(
                        "Binning levels must map category text to a bin index, got "
                        f"{key!r}: {index!r}; pass a dict of str to int."
                    )
                if index < 1:
                    raise InputError(
                        f"Binning levels must use bin indices from 1 (0 is the missing bin), "
                        f"got {key!r}: {index}."
                    )
            object.__setattr__(self, "levels", {k: int(v) for k, v in levels.items()})

    @property
    def n_bins(self) -> int:
        """The number of bins, the missing (first) and unknown (last) bins included."""
        if self.kind == "numeric":
            return int(self.cuts.shape[0]) + 3
        return (max(self.levels.values()) if self.levels else 0) + 2

    @property
    def unknown(self) -> int:
        """The index of the unknown bin (``n_bins - 1``)."""
        return self.n_bins - 1

    def index(self, column: Any) -> np.ndarray:
        """The bin of each value of one column.

        Parameters
        ----------
        column : array-like of shape (n_samples,)
            Numbers, text, bools, pandas categories; NaN/None/pd.NA are missing.

        Returns
        -------
        ndarray of shape (n_samples,), int64
            Bin indices in ``[0, n_bins)``.
        """
        values = _as_1d(column)
        if self.kind == "numeric":
            return self._numeric_index(values)
        return self._categorical_index(values)

    def _numeric_index(self, values: np.ndarray) -> np.ndarray:
        bad = None
        if values.dtype.kind in "biuf":
            x = values.astype(np.float64)
        else:  # text or objects: numbers as EBM parses them, the rest to the unknown bin
            x = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan, copy=True
            )
            bad = np.isnan(x) & ~pd.isna(values)
            for i in np.flatnonzero(bad):  # e.g. "nan", "inf": parsed one by one
                try:
                    x[i] = float(np.asarray([values[i]]).astype(np.str_).astype(np.float64)[0])
                    bad[i] = False
                except (ValueError, TypeError):
                    x[i] = np.nan
        out = np.searchsorted(self.cuts, x, side="right").astype(np.int64) + 1
        out[np.isnan(x)] = 0
        if bad is not None:
            out[bad] = self.unknown
        return out

    def _categorical_index(self, values: np.ndarray) -> np.ndarray:
        # each distinct value is matched once; missing values (None, NaN, pd.NA) get -1
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        levels, unknown = self.levels, self.unknown
        mapped = np.fromiter(
            (levels.get(_category_text(u), unknown) for u in uniques),
            dtype=np.int64,
            count=len(uniques),
        )
        mapped = np.append(mapped, 0)  # code -1: the missing bin
        return mapped[codes]


# ------------------------------------------------------------------------------ terms
@dataclass(frozen=True, eq=False)
class Term:
    """One additive term: a function of one or two input columns, in the raw output space.

    Either binned (EBM): ``bins`` (one :class:`Binning` per feature of the term) and
    ``scores`` of shape ``(*n_bins, n_outputs)``, the term's value in each bin (or cell of
    a pair); or a function term (pyGAM): ``function(columns) -> (n,) or (n, n_outputs)``
    evaluated on the term's columns, with no bins.

    Attributes
    ----------
    features : tuple of int
        The input columns the term reads (one or two), positions in
        :attr:`AdditiveModel.feature_names`.
    name : str
        The term's name (EBM's, e.g. ``"age & income"``).
    bins : tuple of Binning or None
    scores : ndarray of shape (*n_bins, n_outputs), float64, or None
    weights : ndarray of shape (*n_bins,), float64, or None
        Training weight per bin or cell (EBM's ``bin_weights_``).
    standard_deviations : ndarray like ``scores`` or None
        Across the bags (EBM's ``standard_deviations_``).
    bagged_scores : ndarray of shape (n_bags, *n_bins, n_outputs) or None
    function : callable or None
        For a function term: ``function(columns)`` with ``columns`` a list of 1-D arrays
        (the term's columns, in ``features`` order) returns the term's values.
    n_outputs : int
    """

    features: tuple[int, ...]
    name: str
    bins: tuple[Binning, ...] | None = None
    scores: np.ndarray | None = None
    weights: np.ndarray | None = None
    standard_deviations: np.ndarray | None = None
    bagged_scores: np.ndarray | None = None
    function: Callable[[Sequence[np.ndarray]], np.ndarray] | None = field(default=None)
    n_outputs: int = 1

    def __post_init__(self) -> None:
        features = tuple(int(f) for f in self.features)
        if len(features) not in (1, 2) or len(set(features)) != len(features):
            raise InputError(
                f"a Term reads one or two distinct input columns, got features={features} "
                f"for term {self.name!r}."
            )
        object.__setattr__(self, "features", features)
        if (self.function is None) == (self.scores is None):
            raise InputError(
                f"a Term needs either scores with bins or a function, got "
                f"{'both' if self.function is not None else 'neither'} for term {self.name!r}."
            )
        if self.scores is not None:
            bins = tuple(self.bins or ())
            scores = np.asarray(self.scores, dtype=np.float64)
            shape = tuple(b.n_bins for b in bins)
            if len(bins) != len(features):
                raise InputError(
                    f"a binned Term needs one Binning per feature, got {len(bins)} for "
                    f"{len(features)} features in term {self.name!r}."
                )
            if scores.ndim == len(shape):
                scores = scores[..., None]
            if scores.shape[:-1] != shape:
                raise InputError(
                    f"term {self.name!r} has scores of shape {scores.shape} but its bins give "
                    f"{shape}; pass scores of shape (*n_bins, n_outputs)."
                )
            object.__setattr__(self, "bins", bins)
            object.__setattr__(self, "scores", scores)
            object.__setattr__(self, "n_outputs", int(scores.shape[-1]))
            for name in ("weights", "standard_deviations", "bagged_scores"):
                value = getattr(self, name)
                if value is not None:
                    object.__setattr__(self, name, np.asarray(value, dtype=np.float64))

    @property
    def is_binned(self) -> bool:
        """True for a term with bins and scores (EBM), False for a function term."""
        return self.scores is not None

    @property
    def is_pair(self) -> bool:
        return len(self.features) == 2

    def bin_indices(self, columns: Sequence[Any]) -> tuple[np.ndarray, ...]:
        """The bin of each row in each of the term's columns (binned terms only)."""
        if self.bins is None:
            raise InputError(f"term {self.name!r} is a function term and has no bins.")
        return tuple(b.index(c) for b, c in zip(self.bins, columns, strict=True))

    def values(self, columns: Sequence[Any]) -> np.ndarray:
        """The term's contribution at each row.

        Parameters
        ----------
        columns : sequence of array-like of shape (n_samples,)
            The term's input columns, in ``features`` order.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs), float64, output space "raw"
        """
        if self.scores is not None:
            return self.scores[self.bin_indices(columns)]
        out = np.asarray(self.function([_as_1d(c) for c in columns]), dtype=np.float64)
        n = _as_1d(columns[0]).shape[0]
        return out.reshape(n, -1)


# ------------------------------------------------------------------------------ the model
def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


@dataclass(frozen=True, eq=False)
class AdditiveModel:
    """A glass-box model: ``raw(x) = intercept + sum over terms of term(x)``.

    Attributes
    ----------
    feature_names : tuple of str
        The input columns.
    terms : tuple of Term
    intercept : ndarray of shape (n_outputs,), float64
    link : {"identity", "logit", "mlogit"}
        Regression, binary (one log-odds output, the second class's) or multiclass
        (one margin per class, softmax) classification.
    output_names : tuple of str
        One per output (the positive class for a binary classifier).
    source : str
        Where the model came from (e.g. ``"ExplainableBoostingClassifier"``).
    classes : ndarray or None
        The class labels of a classifier (all of them, also for binary).
    feature_types : tuple of str or None
        The reader's type per input column (EBM: "continuous", "nominal", "ordinal").

    The model has scikit-learn style ``decision_function``, ``predict`` and (classifiers)
    ``predict_proba``, so whybox's adapters and explainers take it like a fitted model.
    """

    feature_names: tuple[str, ...]
    terms: tuple[Term, ...]
    intercept: np.ndarray
    link: str
    output_names: tuple[str, ...]
    source: str
    classes: np.ndarray | None = None
    feature_types: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", tuple(str(n) for n in self.feature_names))
        object.__setattr__(self, "terms", tuple(self.terms))
        intercept = np.asarray(self.intercept, dtype=np.float64).reshape(-1)
        object.__setattr__(self, "intercept", intercept)
        if self.link not in LINKS:
            raise InputError(f"link must be one of {LINKS}, got {self.link!r}.")
        k = intercept.shape[0]
        if len(self.output_names) != k:
            raise InputError(f"output_names has {len(self.output_names)} names for {k} outputs.")
        d = len(self.feature_names)
        for term in self.terms:
            if any(not 0 <= f < d for f in term.features):
                raise InputError(
                    f"term {term.name!r} reads columns {term.features} but the model has "
                    f"{d} input columns."
                )
            if term.is_binned and term.n_outputs != k:
                raise InputError(
                    f"term {term.name!r} has {term.n_outputs} outputs but the intercept has {k}."
                )
        if self.classes is not None:
            object.__setattr__(self, "classes", np.asarray(self.classes))

    # -- shape --------------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        return int(self.intercept.shape[0])

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def task(self) -> str:
        """``"regression"`` or ``"classification"``."""
        return "regression" if self.link == "identity" else "classification"

    # scikit-learn style attributes, so adapters read the model like a fitted estimator
    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(self.feature_names, dtype=object)

    @property
    def n_features_in_(self) -> int:
        return self.n_features

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is None:
            raise AttributeError("a regression AdditiveModel has no classes_")
        return self.classes

    def __sklearn_is_fitted__(self) -> bool:
        return True

    # -- evaluation ---------------------------------------------------------------
    def columns(self, X: Any) -> list[np.ndarray]:
        """The input columns of ``X`` as 1-D arrays, in :attr:`feature_names` order.

        Parameters
        ----------
        X : DataFrame, whybox Dataset or array-like of shape (n_samples, n_features)
            A DataFrame's (or Dataset's) columns are matched by name when it has all of
            the model's columns, else by position.

        Raises
        ------
        InputError
            If ``X`` is not 2-D or has the wrong number of columns.
        """
        names = self.feature_names
        if hasattr(X, "feature_names") and hasattr(X, "values") and hasattr(X, "categorical"):
            X = pd.DataFrame(X.values, columns=list(X.feature_names))
        if isinstance(X, pd.DataFrame):
            cols = [str(c) for c in X.columns]
            if set(names) <= set(cols):
                position = {c: i for i, c in enumerate(cols)}
                return [_as_1d(X.iloc[:, position[n]]) for n in names]
            if X.shape[1] != len(names):
                raise InputError(
                    f"X must have the model's {len(names)} columns {list(names)[:5]}..., got "
                    f"{X.shape[1]} columns {cols[:5]}; pass the columns the model was fitted on."
                )
            return [_as_1d(X.iloc[:, i]) for i in range(len(names))]
        if isinstance(X, pd.Series):
            X = X.to_frame().T
            return self.columns(X)
        arr = np.asarray(X)
        if arr.ndim == 1 and arr.shape[0] == len(names):
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise InputError(
                f"X must be 2-D with the model's {len(names)} columns, got shape "
                f"{arr.shape}; pass an array or DataFrame of shape (n_samples, {len(names)})."
            )
        return [arr[:, i] for i in range(arr.shape[1])]

    def term_values(self, X: Any) -> np.ndarray:
        """Each term's contribution at each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_terms, n_outputs), float64, output space "raw"
            Equal to EBM's ``eval_terms(X)`` (with a trailing output axis).
        """
        cols = self.columns(X)
        n = cols[0].shape[0] if cols else 0
        out = np.empty((n, len(self.terms), self.n_outputs), dtype=np.float64)
        for t, term in enumerate(self.terms):
            out[:, t, :] = term.values([cols[f] for f in term.features])
        return out

    def predict_raw(self, X: Any) -> np.ndarray:
        """The raw output: the intercept plus the sum of the terms.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs), float64, output space "raw"
        """
        cols = self.columns(X)
        n = cols[0].shape[0] if cols else 0
        out = np.tile(self.intercept, (n, 1))
        for term in self.terms:
            out += term.values([cols[f] for f in term.features])
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """The raw output as scikit-learn shapes it: (n_samples,) for one output."""
        raw = self.predict_raw(X)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) (classifiers only).

        Raises
        ------
        InputError
            For a regression model (link "identity").
        """
        raw = self.predict_raw(X)
        if self.link == "logit":
            p = _sigmoid(raw[:, 0])
            return np.column_stack([1.0 - p, p])
        if self.link == "mlogit":
            z = raw - raw.max(axis=1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        raise InputError(
            f"predict_proba needs a classifier but this {self.source} is a regressor "
            "(link 'identity'); use predict."
        )

    def predict(self, X: Any) -> np.ndarray:
        """Predictions: the regression output, or the most probable class label."""
        raw = self.predict_raw(X)
        if self.link == "identity":
            return raw[:, 0] if raw.shape[1] == 1 else raw
        if self.link == "logit":
            idx = (raw[:, 0] > 0).astype(np.intp)
        else:
            idx = np.argmax(raw, axis=1)
        classes = self.classes if self.classes is not None else np.arange(max(2, self.n_outputs))
        return classes[idx]
