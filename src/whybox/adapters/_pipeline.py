"""Which input column each transformed column of a scikit-learn Pipeline comes from.

A Pipeline ``preprocessing -> final estimator`` is *column-separable* when every
column the preprocessing hands the final estimator is a function of one input column
only (one-hot dummies, imputed values, scaled values, ...). Then an attribution to the
final estimator's columns can be carried back to the pipeline's input columns, which
are the players a user thinks in. :func:`column_map` reads the fitted steps and
returns that map as :class:`ColumnMap`; a step that may mix columns (PCA,
PolynomialFeatures, a custom transformer) raises :class:`NotSeparableError` naming it.

Steps are recognised by their exact type, never by a subclass or a name: a subclass
may override ``transform`` and mix columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError
from whybox.adapters._data import Dataset, adapt_data
from whybox.adapters._model import Model, adapt_model

_FALLBACK = (
    "explain the whole pipeline with a model-agnostic method (whybox.ExactExplainer or "
    "whybox.PermutationExplainer), or build it from column-separable steps (encoders, "
    "imputers, scalers, KBinsDiscretizer, elementwise FunctionTransformer)"
)


class NotSeparableError(UnsupportedModelError):
    """A Pipeline step may mix input columns, so the pipeline has no column map.

    Attributes
    ----------
    step : str
        The step, as ``"'name' (TypeName)"``, e.g. ``"'pca' (PCA)"``.
    path : tuple of str
        The names of the steps and transformers that lead to it, outermost first
        (the step's own name last).
    """

    def __init__(self, message: str, step: str, path: tuple[str, ...]) -> None:
        super().__init__(message)
        self.step = step
        self.path = path


@dataclass(frozen=True, eq=False)
class ColumnMap:
    """The map from a Pipeline's input columns to its final estimator's columns.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline.
    preprocessor : sklearn.pipeline.Pipeline or None
        The fitted steps before the final estimator (the same fitted objects, not
        copies); None when the final estimator is the only step.
    final : object
        The final estimator (the last step, inside a Pipeline ending in a Pipeline).
    input_names : tuple of str
        The pipeline's input columns (``feature_names_in_``, else ``x0, x1, ...``).
    output_names : tuple of str
        The transformed columns the final estimator reads, in its order
        (``preprocessor.get_feature_names_out()`` where the steps name them).
    groups : ndarray of shape (n_transformed,), int64
        The position in ``input_names`` of the input column each transformed column
        is a function of.
    n_inputs : int
        The number of input columns.
    """

    pipeline: Any = field(repr=False)
    preprocessor: Any = field(repr=False)
    final: Any
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    groups: np.ndarray
    n_inputs: int
    _model: Model = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def n_outputs(self) -> int:
        """The number of transformed columns."""
        return len(self.output_names)

    def transform(self, X: Any) -> Any:
        """The transformed columns the final estimator reads for rows of input columns.

        ``X`` goes to the preprocessor exactly as the model adapter hands it to the
        whole pipeline (a DataFrame rebuilt from the input columns where the pipeline
        was fitted on one, text columns kept as text).

        Parameters
        ----------
        X : Dataset, DataFrame or ndarray of shape (n_samples, n_inputs)
            Rows of the pipeline's input columns (a DataFrame's columns are matched by
            name).

        Returns
        -------
        ndarray of shape (n_samples, n_transformed), float64, or scipy.sparse matrix
            Dense output (pandas output too) as a float64 array in the final
            estimator's column order; sparse output stays sparse (float64, CSR), the
            entries it leaves out being zeros.

        Raises
        ------
        InputError
            If ``X`` lacks an input column, the preprocessor refuses it (e.g. a
            category an encoder with ``handle_unknown="error"`` has not seen), or its
            output is not numeric.
        """
        from scipy import sparse

        frame = self._as_model_input(X)
        if self.preprocessor is None:
            out = frame
        else:
            try:
                out = self.preprocessor.transform(frame)
            except (ValueError, TypeError) as exc:  # e.g. an unknown category, as fitted
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise InputError(
                    f"the pipeline's preprocessing could not transform X ({reason[:200]}); "
                    "give X values and types the pipeline was fitted on (an encoder fitted "
                    "with handle_unknown='error' refuses categories it has not seen)."
                ) from None
        if sparse.issparse(out):
            return sparse.csr_matrix(out, dtype=np.float64)
        try:
            if isinstance(out, pd.DataFrame):
                return out.to_numpy(dtype=np.float64, na_value=np.nan)
            return np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                "the pipeline's preprocessing returned non-numeric columns (e.g. text passed "
                "through), which this method cannot read as numbers; encode every text "
                "column in the pipeline (OneHotEncoder, OrdinalEncoder)."
            ) from None

    def _as_model_input(self, X: Any) -> Any:
        ds = adapt_data(X, name="X")
        if ds.feature_names != self.input_names:
            if set(self.input_names) <= set(ds.feature_names):
                ds = ds.select(self.input_names)
            elif ds.n_features != self.n_inputs or (_named(X) and self._model.feature_names):
                missing = [c for c in self.input_names if c not in ds.feature_names]
                raise InputError(
                    f"X has {ds.n_features} columns but the pipeline was fitted on "
                    f"{self.n_inputs} (missing {', '.join(repr(c) for c in missing[:5])}); "
                    "give X the pipeline's input columns."
                )
            else:  # an array's made-up names: columns by position
                ds = Dataset(ds.values, self.input_names, ds.categorical)
        # the adapter's own conversion of rows to what the pipeline is called with
        return self._model._prepare(ds)


def _named(data: Any) -> bool:
    return isinstance(data, (pd.DataFrame, Dataset))


def _adapted(pipeline: Any, input_names: tuple[str, ...] | None) -> Model:
    """The adapter's Model of ``pipeline``, whose ``_prepare`` makes its input.

    A classifier the adapter refuses (no ``predict_proba``) gets a Model with the same
    input settings the adapter gives every scikit-learn estimator.
    """
    try:
        return adapt_model(pipeline)
    except UnsupportedModelError:
        n = int(pipeline.n_features_in_)
        return Model(
            pipeline, "regression", ("prediction",), None, input_names, n, "raw", {},
            input_names is not None,
        )  # fmt: skip


# ---------------------------------------------------------------------- public calls
def is_pipeline(model: Any) -> bool:
    """Whether ``model`` is exactly a fitted scikit-learn ``Pipeline``.

    Parameters
    ----------
    model : object
        A model, or a whybox ``Model`` wrapping one.

    Returns
    -------
    bool
        True for an instance of ``sklearn.pipeline.Pipeline`` itself (not a subclass)
        whose final step is fitted.
    """
    est = model.estimator if isinstance(model, Model) else model
    try:
        from sklearn.pipeline import Pipeline
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    if type(est) is not Pipeline:
        return False
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except Exception:
        return False
    return True


def column_map(model: Any) -> ColumnMap:
    """The input column each transformed column of a Pipeline comes from.

    Every step before the final estimator must be one of these (by exact type), alone,
    in a nested ``Pipeline`` or in a ``ColumnTransformer`` (columns by name, position,
    boolean mask, slice or ``make_column_selector``; ``remainder`` and
    ``"drop"``/``"passthrough"``; transformers of any nesting):

    - ``OneHotEncoder`` (``drop``, ``handle_unknown``, infrequent categories, dense or
      sparse), ``OrdinalEncoder``, ``TargetEncoder`` (a multi-class target gives one
      column per class for each input column);
    - ``SimpleImputer`` (its ``add_indicator`` columns belong to their input columns;
      columns all missing at fit are dropped unless ``keep_empty_features``),
      ``MissingIndicator``;
    - ``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``, ``RobustScaler``,
      ``KBinsDiscretizer`` (ordinal or one-hot);
    - ``FunctionTransformer`` only when declared elementwise: ``func=None`` (the
      identity) or ``feature_names_out="one-to-one"``, scikit-learn's declaration that
      output column j is computed from input column j (whybox trusts it and does not
      read ``func``);
    - the selectors ``VarianceThreshold``, ``SelectKBest``, ``SelectPercentile``,
      ``GenericUnivariateSelect``, ``SelectFpr``, ``SelectFdr``, ``SelectFwe``
      (the columns their ``get_support`` keeps);
    - ``FeatureUnion`` of such transformers (``"drop"``, ``"passthrough"``);
    - ``None`` or ``"passthrough"`` steps.

    ``set_output(transform="pandas")`` changes nothing in the map.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline or whybox.adapters.Model
        A fitted Pipeline (exactly that type), or a ``Model`` wrapping one.

    Returns
    -------
    ColumnMap

    Raises
    ------
    NotSeparableError
        If a step may mix input columns; ``step`` names the first such step.
    UnsupportedModelError
        If ``model`` is not a ``Pipeline``.
    InputError
        If the pipeline is not fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> X = pd.DataFrame({"city": ["a", "b", "c", "a"], "age": [20.0, 35.0, 50.0, 41.0]})
    >>> pre = make_column_transformer(
    ...     (OneHotEncoder(), ["city"]), (StandardScaler(), ["age"]), verbose_feature_names_out=False
    ... )
    >>> pipe = make_pipeline(pre, LogisticRegression()).fit(X, [0, 1, 1, 0])
    >>> cmap = column_map(pipe)
    >>> cmap.output_names, cmap.groups.tolist()
    (('city_a', 'city_b', 'city_c', 'age'), [0, 0, 0, 1])
    >>> cmap.transform(X).shape
    (4, 4)
    """
    from sklearn.pipeline import Pipeline

    est = model.estimator if isinstance(model, Model) else model
    if type(est) is not Pipeline:
        raise UnsupportedModelError(
            f"model must be a fitted sklearn.pipeline.Pipeline to map its columns, got "
            f"{type(est).__name__}; give the Pipeline itself."
        )
    if not is_pipeline(est):
        raise InputError("the Pipeline is not fitted; call fit(X, y) first.")
    steps = _flat_steps(est)
    (_, final), before = steps[-1], steps[:-1]
    n_inputs = int(est.n_features_in_)
    names = getattr(est, "feature_names_in_", None)
    input_names = (
        tuple(str(n) for n in names)
        if names is not None
        else tuple(f"x{i}" for i in range(n_inputs))
    )
    groups = np.arange(n_inputs, dtype=np.int64)
    for name, step in before:
        groups = groups[_step_groups(step, (name,))]
    groups = np.asarray(groups, dtype=np.int64)
    if not before:
        preprocessor = None
    elif len(before) == len(est.steps) - 1:
        preprocessor = est[:-1]
    else:  # the last step is a Pipeline: its steps but the last join the preprocessing
        preprocessor = Pipeline(before)
    output_names = _output_names(preprocessor, final, input_names, groups)
    return ColumnMap(
        pipeline=est,
        preprocessor=preprocessor,
        final=final,
        input_names=input_names,
        output_names=output_names,
        groups=groups.astype(np.int64),
        n_inputs=n_inputs,
        _model=_adapted(est, None if names is None else input_names),
    )


# ---------------------------------------------------------------------- the steps
def _flat_steps(pipe: Any) -> list[tuple[str, Any]]:
    """The steps, with a Pipeline in the last step opened up (its final estimator last)."""
    from sklearn.pipeline import Pipeline

    steps = list(pipe.steps)
    name, last = steps[-1]
    if type(last) is Pipeline:
        inner = _flat_steps(last)
        return steps[:-1] + [(f"{name}/{n}", s) for n, s in inner]
    return steps


def _output_names(
    preprocessor: Any, final: Any, input_names: tuple[str, ...], groups: np.ndarray
) -> tuple[str, ...]:
    if preprocessor is None:
        return input_names
    try:
        names = tuple(str(n) for n in preprocessor.get_feature_names_out())
    except Exception:  # a step without get_feature_names_out (FunctionTransformer(func=None))
        fitted = getattr(final, "feature_names_in_", None)
        if fitted is not None and len(fitted) == len(groups):
            names = tuple(str(n) for n in fitted)
        else:
            names = tuple(f"{input_names[g]}[{j}]" for j, g in enumerate(groups))
    if len(names) != len(groups):
        raise UnsupportedModelError(
            f"the pipeline's preprocessing names {len(names)} output columns but whybox "
            f"mapped {len(groups)}; {_FALLBACK}."
        )
    return names


def _describe(name: str, step: Any) -> str:
    return f"'{name}' ({type(step).__name__})"


def _not_separable(step: Any, path: tuple[str, ...], why: str) -> NotSeparableError:
    text = _describe(path[-1], step)
    where = f" inside {' > '.join(repr(p) for p in path[:-1])}" if len(path) > 1 else ""
    return NotSeparableError(
        f"Pipeline step {text}{where} mixes input columns ({why}), so the pipeline cannot "
        f"be explained through its column map; {_FALLBACK}.",
        text,
        path,
    )


def _n_in(step: Any) -> int:
    return int(step.n_features_in_)


def _step_groups(step: Any, path: tuple[str, ...]) -> np.ndarray:
    """For each output column of a fitted step, the position of its input column."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return _identity_marker
    handler = _handlers().get(type(step))
    if handler is None:
        raise _not_separable(
            step,
            path,
            "an output column may depend on several input columns, and whybox reads only "
            "the transformers listed in whybox.adapters.column_map",
        )
    return handler(step, path)


_identity_marker = slice(None)  # groups[_identity_marker]: a step that keeps every column


def _one_to_one(step: Any, path: tuple[str, ...]) -> np.ndarray:
    return np.arange(_n_in(step), dtype=np.int64)


def _pipeline(step: Any, path: tuple[str, ...]) -> Any:
    groups: Any = _identity_marker
    for name, sub in step.steps:
        g = _step_groups(sub, (*path, name))
        groups = g if isinstance(groups, slice) else groups[g]
    return groups


def _column_indices(ct: Any, name: str, columns: Any) -> np.ndarray:
    """Input positions of a ColumnTransformer's (fitted) column specification."""
    names = getattr(ct, "feature_names_in_", None)
    n = _n_in(ct)
    if callable(columns):  # resolved at fit; kept here by scikit-learn
        return np.asarray(ct._transformer_to_input_indices[name], dtype=np.int64)
    if isinstance(columns, slice):
        start, stop = columns.start, columns.stop
        if isinstance(start, str) or isinstance(stop, str):  # label slice: stop included
            lookup = list(names)
            i = 0 if start is None else lookup.index(start)
            j = n if stop is None else lookup.index(stop) + 1
            return np.arange(n, dtype=np.int64)[i : j : columns.step]
        return np.arange(n, dtype=np.int64)[columns]
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    arr = np.asarray(columns)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool:
        return np.flatnonzero(arr).astype(np.int64)
    if arr.dtype.kind in "iu":
        return np.where(arr < 0, arr + n, arr).astype(np.int64)
    lookup = {str(c): i for i, c in enumerate(names)}
    return np.asarray([lookup[str(c)] for c in arr], dtype=np.int64)


def _column_transformer(ct: Any, path: tuple[str, ...]) -> np.ndarray:
    width = max((s.stop for s in ct.output_indices_.values()), default=0)
    groups = np.full(width, -1, dtype=np.int64)
    for name, trans, columns in ct.transformers_:
        out = ct.output_indices_.get(name, slice(0, 0))
        if isinstance(trans, str) and trans == "drop":
            continue
        cols = _column_indices(ct, name, columns)
        if out.stop - out.start == 0:
            continue
        if isinstance(trans, str) and trans == "passthrough":
            g = cols
        else:
            g = cols[_step_groups(trans, (*path, name))]
        if len(g) != out.stop - out.start:
            raise _not_separable(
                ct,
                path,
                f"transformer {name!r} gives {out.stop - out.start} columns where whybox "
                f"expected {len(g)}",
            )
        groups[out] = g
    if (groups < 0).any():
        raise _not_separable(ct, path, "some output columns could not be traced")
    return groups


def _feature_union(fu: Any, path: tuple[str, ...]) -> np.ndarray:
    parts = []
    for name, trans in fu.transformer_list:
        if isinstance(trans, str) and trans == "drop":
            continue
        g = _step_groups(trans, (*path, name))
        parts.append(np.arange(_n_in(fu), dtype=np.int64)[g])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _one_hot(enc: Any, path: tuple[str, ...]) -> np.ndarray:
    counts = []
    infrequent = getattr(enc, "infrequent_categories_", None)
    for i, cats in enumerate(enc.categories_):
        k = len(cats)
        if infrequent is not None and infrequent[i] is not None:
            k -= len(infrequent[i]) - 1
        if enc.drop_idx_ is not None and enc.drop_idx_[i] is not None:
            k -= 1
        counts.append(k)
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _target_encoder(enc: Any, path: tuple[str, ...]) -> np.ndarray:
    n = _n_in(enc)
    per = len(enc.classes_) if enc.target_type_ == "multiclass" else 1
    return np.repeat(np.arange(n, dtype=np.int64), per)


def _imputer(imp: Any, path: tuple[str, ...]) -> np.ndarray:
    n = _n_in(imp)
    if imp.keep_empty_features:
        kept = np.arange(n, dtype=np.int64)
    else:  # statistics are NaN for the columns all missing at fit, which are dropped
        kept = np.flatnonzero(~pd.isna(np.asarray(imp.statistics_, dtype=object))).astype(np.int64)
    if imp.indicator_ is None:
        return kept
    return np.concatenate([kept, np.asarray(imp.indicator_.features_, dtype=np.int64)])


def _indicator(ind: Any, path: tuple[str, ...]) -> np.ndarray:
    return np.asarray(ind.features_, dtype=np.int64)


def _kbins(kb: Any, path: tuple[str, ...]) -> np.ndarray:
    if kb.encode == "ordinal":
        return _one_to_one(kb, path)
    return np.repeat(np.arange(_n_in(kb), dtype=np.int64), np.asarray(kb.n_bins_, dtype=int))


def _function(ft: Any, path: tuple[str, ...]) -> np.ndarray:
    if ft.func is None or (
        isinstance(ft.feature_names_out, str) and ft.feature_names_out == "one-to-one"
    ):
        return _one_to_one(ft, path)
    raise _not_separable(
        ft,
        path,
        "a FunctionTransformer may compute any column from any others; if its function "
        "works column by column, declare it with feature_names_out='one-to-one'",
    )


def _selector(sel: Any, path: tuple[str, ...]) -> np.ndarray:
    return np.flatnonzero(sel.get_support()).astype(np.int64)


def _handlers() -> dict[type, Callable[[Any, tuple[str, ...]], np.ndarray]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import (
        GenericUnivariateSelect,
        SelectFdr,
        SelectFpr,
        SelectFwe,
        SelectKBest,
        SelectPercentile,
        VarianceThreshold,
    )
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        KBinsDiscretizer,
        MaxAbsScaler,
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        RobustScaler,
        StandardScaler,
        TargetEncoder,
    )

    return {
        Pipeline: _pipeline,
        ColumnTransformer: _column_transformer,
        FeatureUnion: _feature_union,
        OneHotEncoder: _one_hot,
        OrdinalEncoder: _one_to_one,
        TargetEncoder: _target_encoder,
        SimpleImputer: _imputer,
        MissingIndicator: _indicator,
        StandardScaler: _one_to_one,
        MinMaxScaler: _one_to_one,
        MaxAbsScaler: _one_to_one,
        RobustScaler: _one_to_one,
        KBinsDiscretizer: _kbins,
        FunctionTransformer: _function,
        VarianceThreshold: _selector,
        SelectKBest: _selector,
        SelectPercentile: _selector,
        GenericUnivariateSelect: _selector,
        SelectFpr: _selector,
        SelectFdr: _selector,
        SelectFwe: _selector,
    }
