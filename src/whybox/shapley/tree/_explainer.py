"""TreeExplainer: exact SHAP values of tree ensembles in polynomial time."""

from __future__ import annotations

import warnings
from typing import Any

import numba
import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import is_dask_collection, progress_bar
from whybox._version import __version__
from whybox.adapters import (
    ColumnMap,
    Dataset,
    Model,
    adapt_data,
    adapt_model,
    column_map,
    is_pipeline,
)
from whybox.adapters._model import _made_up
from whybox.shapley.tree._catboost_shap import (
    catboost_expected_value,
    catboost_has_categorical,
    catboost_shap_values,
)
from whybox.shapley.tree._ensemble import parse_ensemble, reads_trees
from whybox.shapley.tree._interactions import (
    path_dependent_interactions,
    tree_features,
)
from whybox.shapley.tree._interventional import (
    MAX_PATH_FEATURES,
    InterventionalLayout,
    interventional_shap,
)
from whybox.shapley.tree._path_dependent import (
    child_fractions,
    ensemble_expected_value,
    ensemble_predict,
    path_dependent_shap,
)

_PERTURBATIONS = ("tree_path_dependent", "interventional")
_CATBOOST_TYPES = ("CatBoost", "CatBoostClassifier", "CatBoostRegressor")


def _warn_unused(background: Any, stacklevel: int) -> None:
    """Warn that path-dependent TreeSHAP ignores a background (``stacklevel``: the frames
    up to the caller of ``TreeExplainer``)."""
    if background is not None:
        warnings.warn(
            "background is not used by feature_perturbation='tree_path_dependent', "
            "which averages over the training data stored in the trees; leave it out.",
            UserWarning,
            stacklevel=stacklevel,
        )


def _is_catboost(estimator: Any) -> bool:
    """Whether ``estimator`` is exactly one of CatBoost's model classes."""
    try:
        import catboost
    except ImportError:
        return False
    return type(estimator) in tuple(getattr(catboost, name) for name in _CATBOOST_TYPES)


#: Rows per block of the path-dependent kernels.
_BLOCK_ROWS = 5_000


class TreeExplainer:
    """Exact SHAP values of tree ensembles (path-dependent or interventional TreeSHAP).

    Path-dependent TreeSHAP (Lundberg et al., 2020, Algorithm 2) explains the
    model's native output. The value of a coalition of features is the model's
    prediction when those features follow the row's splits and every other split is
    averaged over its children in proportion to the training data (cover) that went
    each way, so no background data is needed.

    Interventional TreeSHAP (``feature_perturbation="interventional"``) computes the
    exact Shapley values of ``v(S) = mean_z f(x_S, z_notS)`` over the given background
    rows ``z`` (the same quantity as :class:`whybox.ExactExplainer`), for the trees'
    native output only, in time linear in rows plus background rows (see
    ``whybox.shapley.tree._interventional``). Every background row is used (none is
    sampled): pass a sample of the training data, e.g. 100 to 1,000 rows.

    Parameters
    ----------
    model : object
        A fitted scikit-learn ``DecisionTree*``, ``ExtraTree*``, ``RandomForest*``,
        ``ExtraTrees*``, ``GradientBoosting*`` or ``HistGradientBoosting*`` estimator,
        an XGBoost ``XGBRegressor``/``XGBClassifier``/``Booster``, a LightGBM
        ``LGBMRegressor``/``LGBMClassifier``/``Booster``, or a whybox ``Model``
        wrapping one of them. The trees explained are those the model's own
        ``predict`` uses: after early stopping, an XGBoost wrapper's rounds up to
        ``best_iteration`` (a raw XGBoost ``Booster`` predicts with every round, and is
        explained so) and LightGBM's ``best_iteration``. An XGBoost wrapper's
        ``missing`` value is read as missing, as its ``predict`` does; a raw ``Booster``
        does not record one, so only NaN is missing there (as in ``DMatrix(X)``).

        Or a fitted scikit-learn ``Pipeline`` ending in one of them whose earlier
        steps are column-separable (each transformed column comes from one input
        column; see :func:`whybox.adapters.column_map` for the steps read, e.g.
        ``ColumnTransformer``, ``OneHotEncoder``, ``OrdinalEncoder``,
        ``TargetEncoder``, ``SimpleImputer`` with its indicators, the scalers,
        ``KBinsDiscretizer``). The players are then the pipeline's **input columns**:
        every split on a transformed column is credited to the input column it comes
        from, and the kernels merge a path's splits on one input column as they merge
        repeated splits on one feature. The values are the exact Shapley values of
        the input-column game (path-dependent and interventional, and the
        interactions between input columns); they are not the sums of the one-hot
        columns' own values, which belong to another game. A step that mixes columns
        (PCA, PolynomialFeatures, a custom transformer) raises
        :class:`whybox.adapters.NotSeparableError` naming it.
    background : array-like of shape (n_background, n_features), optional
        The reference rows of ``feature_perturbation="interventional"`` (required
        there, each with weight ``1 / n_background``; NaN allowed). Not used by
        ``"tree_path_dependent"`` (the trees' covers stand in for the data).
    feature_perturbation : {"tree_path_dependent", "interventional"}, \
default="tree_path_dependent"
        How absent features are handled: averaged over the trees' covers, or taken
        from the background rows.
    output : {"auto", "raw", "probability"}, default="auto"
        The output space to explain. Path-dependent TreeSHAP explains the model's
        native space: ``"raw"`` (the margin; log-odds for gradient-boosted
        classifiers) for boosting and regressors, ``"probability"`` for forest and
        single-tree classifiers. ``"auto"`` picks it. Interventional TreeSHAP also
        explains the native space only (other spaces: ``whybox.ExactExplainer``).
    n_jobs : int, optional
        Threads for the computation; ``None`` or ``-1`` uses all of numba's threads.
        The values do not depend on it.
    progress : bool or None, default=None
        Show a tqdm progress bar over the explained rows; None shows it from 100 rows
        on (interventional TreeSHAP advances it tree by tree).

    Attributes
    ----------
    model : Model
        The adapted model.
    ensemble : TreeEnsemble
        The trees as whybox reads them.
    expected_value : ndarray of shape (n_outputs,), float64
        The base value, in ``output_space``: the cover-weighted mean output
        (path-dependent) or the mean output over the background (interventional).
    output_space : str
        The explained output space.
    columns : ColumnMap or None
        For a pipeline, how its input columns map to the columns its final step
        reads; None otherwise.

    Notes
    -----
    Memory: rows are explained in blocks of 5,000, each block written into the result as it is done. Beyond the input
    and the returned ``Explanation`` (its SHAP values take
    ``n_samples * n_features * n_outputs * 8`` bytes), a call holds one block's copy of
    the rows and values, the threads' work arrays (``O(depth * q * (1 + n_outputs) +
    n_features * n_outputs)`` floats per row of a block of at most 128 rows, ``q =
    ceil(depth / 2)``), and the model's own prediction on ``X`` (``model_output``). The
    W10 benchmark reports the peak on 1,000,000 rows.

    Examples
    --------
    A forest's path-dependent values, which add up to its prediction:

    >>> from sklearn.datasets import make_regression
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from whybox.shapley import TreeExplainer
    >>> X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    >>> model = RandomForestRegressor(n_estimators=20, max_depth=4, random_state=0).fit(X, y)
    >>> ex = TreeExplainer(model)(X[:5])
    >>> ex.values.shape, ex.method  # (n_samples, n_features, n_outputs)
    ((5, 4, 1), 'tree_path_dependent')
    >>> bool(abs(ex.additivity_error).max() < 1e-9)
    True
    """

    method = "tree_path_dependent"

    def __init__(
        self,
        model: Any,
        *,
        background: Any = None,
        feature_perturbation: str = "tree_path_dependent",
        output: str = "auto",
        n_jobs: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.progress = progress
        if feature_perturbation not in _PERTURBATIONS:
            raise InputError(
                f"feature_perturbation must be one of {_PERTURBATIONS}, got "
                f"{feature_perturbation!r}; use 'tree_path_dependent'."
            )
        if feature_perturbation == "interventional" and background is None:
            raise InputError(
                "feature_perturbation='interventional' needs a background (reference rows "
                "for absent features), got background=None; pass background=X_train or a "
                "sample of it, or use feature_perturbation='tree_path_dependent'."
            )
        self.columns: ColumnMap | None = None
        self._catboost = None
        native_model = model.estimator if isinstance(model, Model) else model
        if is_pipeline(native_model):
            self.columns = column_map(native_model)
            self.ensemble = parse_ensemble(self.columns.final).grouped(
                self.columns.groups, self.columns.n_inputs
            )
            self._final = adapt_model(self.columns.final)  # the trees' output is read here
        elif (
            _is_catboost(native_model)
            and native_model.is_fitted()
            and catboost_has_categorical(native_model)
        ):
            self.model = adapt_model(model)
            self._init_catboost(background, feature_perturbation, output)
            return
        else:
            self.ensemble = parse_ensemble(model)
        self.model = adapt_model(model)
        if self.columns is None:
            self._final = self.model
        if self.ensemble.n_outputs != self._final.n_outputs:
            raise InputError(
                f"the trees of {type(self._final.estimator).__name__} have "
                f"{self.ensemble.n_outputs} outputs but the model adapter reports "
                f"{self._final.n_outputs}; this model cannot be explained by TreeExplainer."
            )
        native = self._final.native_space
        if output not in ("auto", native):
            raise InputError(
                f"output={output!r} is not available: {feature_perturbation.replace('_', '-')} "
                "TreeSHAP explains the "
                f"model's native output space, which is {native!r} for this model; use "
                f"output='auto' (or {native!r}), or explain other spaces with "
                "whybox.ExactExplainer."
            )
        self.output_space = native
        self.feature_perturbation = feature_perturbation
        self.n_jobs = self._check_n_jobs(n_jobs)
        if feature_perturbation == "interventional":
            self._init_interventional(background)
            return
        _warn_unused(background, stacklevel=3)
        e = self.ensemble
        self._frac = child_fractions(e.children_left, e.children_right, e.covers)
        self._max_depth = e.max_depth
        self.expected_value = ensemble_expected_value(e)

    def _init_catboost(self, background: Any, feature_perturbation: str, output: str) -> None:
        """A CatBoost model with categorical features: CatBoost computes the values."""
        est = self.model.estimator
        if output not in ("auto", "raw"):
            raise InputError(
                f"output={output!r} is not available: TreeSHAP explains a CatBoost model's raw "
                "output (RawFormulaVal); use output='auto', or explain other spaces with "
                "whybox.ExactExplainer."
            )
        self._catboost = est
        self.ensemble = None
        self.output_space = "raw"
        self.feature_perturbation = feature_perturbation
        self.n_jobs = None
        if feature_perturbation == "interventional":
            self._set_background(background)
            self.expected_value = self.model.predict(self.background, "raw").mean(axis=0)
            return
        _warn_unused(background, stacklevel=4)
        self.expected_value = catboost_expected_value(est)

    def _explain_catboost(self, data: Dataset) -> Explanation:
        background = None
        if self.feature_perturbation == "interventional":
            background = self._frame(self.background)
        values, _ = catboost_shap_values(self._catboost, self._frame(data), background)
        return self._explanation(data, values, self.method)

    @staticmethod
    def _frame(data: Dataset) -> pd.DataFrame:
        return pd.DataFrame(data.values, columns=list(data.feature_names)).infer_objects()

    def _set_background(self, background: Any) -> None:
        """Check and keep the interventional background (at least one row)."""
        self.method = "tree_interventional"
        self.background = self._data(background, name="background")
        if self.background.n_samples == 0:
            raise InputError(
                "background has no rows; pass at least one reference row (e.g. 100 rows "
                "sampled from the training data)."
            )

    def _init_interventional(self, background: Any) -> None:
        self._set_background(background)
        self._layout = InterventionalLayout(self.ensemble)
        if self._layout.max_path_features > MAX_PATH_FEATURES:
            raise InputError(
                f"a tree of this model splits on {self._layout.max_path_features} distinct "
                f"features along one path, more than the {MAX_PATH_FEATURES} interventional "
                "TreeSHAP supports; use feature_perturbation='tree_path_dependent' or "
                "whybox.PermutationExplainer."
            )
        bg = ensemble_predict(self.ensemble, self._rows(self.background))
        self.expected_value = bg.mean(axis=0)

    @staticmethod
    def _check_n_jobs(n_jobs: int | None) -> int | None:
        if n_jobs is None or n_jobs == -1:
            return None
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
            raise InputError(
                f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}; "
                "use n_jobs=None for all threads."
            )
        return int(min(n_jobs, numba.config.NUMBA_NUM_THREADS))

    @classmethod
    def supports(cls, model: Any) -> bool:
        """True when ``model`` is a tree model this explainer reads, or a scikit-learn
        ``Pipeline`` that ends in one.

        Models of a supported type can still be refused at construction (e.g. a
        pipeline with a step that mixes columns).
        """
        native = getattr(model, "estimator", model)
        if is_pipeline(native):
            return reads_trees(native.steps[-1][1])
        return reads_trees(model)

    def _data(self, X: Any, name: str = "X") -> Dataset:
        names = self.model.feature_names
        if self.columns is not None or self._catboost is not None:
            # the model's input columns, text included, as its own predict reads them
            data = adapt_data(X, name=name)
            if not hasattr(X, "columns") and names is not None and data.n_features == len(names):
                data = adapt_data(X, feature_names=names, name=name)
            return self.model.check_data(data, name=name)
        X = self._dense(X)
        data = adapt_data(X, name=name)
        if (
            not isinstance(X, (Dataset,))
            and not hasattr(X, "columns")
            and names is not None
            and not _made_up(names)  # positions (LightGBM's Column_i): x0, x1, ... as elsewhere
            and data.n_features == len(names)
        ):
            data = adapt_data(X, feature_names=names, name=name)
        try:
            data = self.model.check_data(data, name=name)
        except InputError:
            if not data.is_numeric:
                self._check_text_columns(data, name)  # the more precise message
            raise
        if not data.is_numeric:
            data = self._category_values(data)
            self._check_text_columns(data, name)
        if data.n_features != self.ensemble.n_features:
            raise InputError(
                f"{name} has {data.n_features} columns but the model was fitted on "
                f"{self.ensemble.n_features}; give {name} the columns the model was trained on."
            )
        return data

    def _dense(self, X: Any) -> Any:
        """A SciPy sparse matrix as a dense array, read as the model's library reads it.

        XGBoost reads the entries a sparse matrix leaves out as missing (NaN); the
        other libraries read them as 0.
        """
        if not (type(X).__module__.split(".")[0] == "scipy" and hasattr(X, "toarray")):
            return X
        if not self.ensemble.family.startswith("xgboost."):
            return X.toarray().astype(np.float64)
        csr = X.tocsr(copy=True)
        csr.sum_duplicates()  # an entry given twice is their sum, as in X.toarray()
        dense = np.full(csr.shape, np.nan)
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
        dense[rows, csr.indices] = csr.data
        return dense

    def _category_values(self, data: Dataset) -> Dataset:
        """Rows where some LightGBM category columns hold values and others codes, with
        values in all (``data`` in the model's column order), so that an array of
        mixed rows always holds category values in those columns."""
        levels = self.ensemble.category_levels
        todo = [j for j in levels if not data.categorical[j]]
        if not todo:
            return data
        values, categorical = data.values.copy(), data.categorical.copy()
        for j in todo:
            code = values[:, j].astype(np.float64)
            known = np.isfinite(code) & (code >= 0) & (code < len(levels[j]))
            column = np.full(len(code), np.nan, dtype=object)
            column[known] = levels[j][code[known].astype(np.int64)]
            values[:, j], categorical[j] = column, True
        return Dataset(values, data.feature_names, categorical)

    def _rows(self, data: Dataset) -> np.ndarray:
        """The rows the kernels read: LightGBM category and text columns as its codes.

        A column the data marks categorical (pandas category, text) is mapped through
        the model's ``pandas_categorical`` as LightGBM's own ``predict`` maps a category
        column; numeric columns are read as codes already. ``data`` is in the model's
        column order (``check_data``).
        """
        if self.columns is not None:  # the matrix the pipeline's final step reads
            return np.asarray(self._dense(self.columns.transform(data)), dtype=np.float64)
        levels = self.ensemble.category_levels
        if not levels or data.is_numeric:
            return data.values
        values = data.values.copy()
        for j in levels:
            if data.categorical[j]:
                values[:, j] = self.ensemble.category_codes(j, values[:, j])
        return values.astype(np.float64)

    def _check_text_columns(self, data: Dataset, name: str) -> None:
        """Refuse text in a column the trees read as a number or as a category code."""
        e = self.ensemble
        order = self.model.feature_names
        for pos, (fname, column) in enumerate(zip(data.feature_names, data.values.T, strict=True)):
            j = order.index(fname) if order is not None and fname in order else pos
            if j in e.encoded_categories or j in e.category_levels:
                continue  # the model's own encoding maps these (HistGradientBoosting, LightGBM, XGBoost)
            try:
                column.astype(np.float64)
            except (TypeError, ValueError):
                if j in set(e.categorical_features.tolist()):
                    raise InputError(
                        f"{name} column {fname!r} holds category values (e.g. "
                        f"{column[0]!r}) but the model splits it by integer category "
                        "codes; pass the codes it was trained on (for a pandas category "
                        f"column, {name}[{fname!r}].cat.codes)."
                    ) from None
                raise InputError(
                    f"{name} column {fname!r} holds non-numeric values (e.g. {column[0]!r}) "
                    "but TreeExplainer reads numbers only; encode it as numeric codes, as "
                    "the model was trained on."
                ) from None

    def shap_values(self, X: Any) -> np.ndarray:
        """The SHAP values only, shape (n_samples, n_features, n_outputs), float64."""
        return self(X).values

    def __call__(self, X: Any) -> Explanation:
        """Explain the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), DataFrame or SciPy sparse
            Numeric rows; NaN marks a missing value and follows each split's default
            direction (so does an XGBoost model's ``missing`` value). A DataFrame's
            columns are matched to the model's by name; bool columns are read as 0/1;
            a LightGBM or XGBoost (3.1+) model trained on pandas category columns
            maps category (or text) columns to its codes through the categories it
            stores, as its own ``predict`` does (``Explanation.data`` keeps the
            categories); an XGBoost model refuses a category it was not trained on
            (InputError), LightGBM reads it as missing, as their own ``predict`` do. A
            CatBoost model with categorical features takes its text columns and is
            explained by CatBoost's own ``ShapValues``. A sparse
            matrix is made dense first (``n_samples * n_features`` floats, no more than
            the SHAP values take): the entries it leaves out are missing for XGBoost
            models, which read them so, and 0 for the others. For a pipeline: its
            input columns (text categories included), transformed by the pipeline's
            own steps; the values have one column per input column. A dask array or
            DataFrame is explained lazily, chunk by chunk (see
            ``whybox.distributed.explain_dask``), with the in-memory values; so is it by
            ``interaction_values``.

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_features, n_outputs) and ``base_values``
            of shape (n_samples, n_outputs), float64, in ``output_space`` (the raw
            margin for boosting, the probability for forest classifiers);
            ``values.sum(axis=1) + base_values`` equals ``model_output``. With
            ``feature_perturbation="interventional"``, ``params["background_rows"]``
            is the number of background rows.
        """
        if is_dask_collection(X):  # lazy, chunk by chunk, on the dask scheduler
            from whybox.distributed import explain_dask

            return explain_dask(self, X)
        data = self._data(X)
        if self._catboost is not None:
            return self._explain_catboost(data)
        if self.feature_perturbation == "interventional":
            return self._explain_interventional(data)
        rows = self._rows(data)
        n = rows.shape[0]
        # each block is written into the result as it comes: no list of parts to join
        values = np.empty((n, self.ensemble.n_players, self.ensemble.n_outputs))
        with progress_bar(n, self.progress, "TreeExplainer") as bar:
            for start in range(0, n, _BLOCK_ROWS):
                block = rows[start : start + _BLOCK_ROWS]
                values[start : start + _BLOCK_ROWS] = path_dependent_shap(
                    self.ensemble,
                    block,
                    frac=self._frac,
                    max_depth=self._max_depth,
                    n_threads=self.n_jobs,
                )
                bar.update(len(block))
        return self._explanation(data, values, self.method, rows=rows)

    def _explanation(
        self,
        data: Dataset,
        values: np.ndarray,
        method: str,
        axes: tuple[str, ...] = ("samples", "features", "outputs"),
        rows: np.ndarray | None = None,
        **params: Any,
    ) -> Explanation:
        """The Explanation of ``data``'s rows: ``values``, the base value on every row,
        the model's output (so additivity is checked) and the run's ``params``.

        For a pipeline the output is the final step's on ``rows`` (the transformed
        matrix), which is the pipeline's own output in that space."""
        if self.ensemble is not None:
            family = self.ensemble.family
        else:
            family = f"catboost.{type(self._catboost).__name__}"
        n_trees = self.ensemble.n_trees if self.ensemble is not None else self._catboost.tree_count_
        if self.columns is not None:
            if rows is None:
                rows = self._rows(data)
            names = self._final.feature_names
            final_in = rows if names is None else pd.DataFrame(rows, columns=list(names))
            model_output = self._final.predict(final_in, self.output_space)
            params = {"pipeline_columns": len(self.columns.output_names), **params}
        else:
            model_output = self.model.predict(data, self.output_space)
        return Explanation(
            values=values,
            base_values=np.tile(self.expected_value, (values.shape[0], 1)),
            data=data.values,
            feature_names=data.feature_names,
            output_names=self.model.output_names,
            output_space=self.output_space,
            method=method,
            params={
                "feature_perturbation": self.feature_perturbation,
                "output": self.output_space,
                "n_jobs": self.n_jobs,
                "model_family": family,
                "n_trees": n_trees,
                **params,
                "whybox_version": __version__,
            },
            model_output=model_output,
            axes=axes,
        )

    def _explain_interventional(self, data: Dataset) -> Explanation:
        rows = self._rows(data)
        n = rows.shape[0]
        e = self.ensemble
        # the kernel runs tree by tree over all rows: each tree done is n / n_trees rows
        share = n / max(1, e.n_trees)
        with progress_bar(n, self.progress, "TreeExplainer") as bar:
            values = interventional_shap(
                e,
                rows,
                self._rows(self.background),
                layout=self._layout,
                n_threads=self.n_jobs,
                progress=lambda n_done: bar.update(n_done * share),
            )

        return self._explanation(
            data, values, self.method, rows=rows, background_rows=self.background.n_samples
        )

    def interaction_values(self, X: Any) -> Explanation:
        """SHAP interaction values of the rows of ``X`` (path-dependent).

        The interaction of two different features ``i`` and ``j`` is half their Shapley
        interaction index under the path-dependent value function,
        ``[phi_j(i always present) - phi_j(i always absent)] / 2``, shared equally
        between ``[i, j]`` and ``[j, i]``; the diagonal ``[i, i]`` is what is left of
        the SHAP value of ``i`` (Lundberg et al., 2020). Only for
        ``feature_perturbation="tree_path_dependent"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            Numeric rows, as for ``__call__``.

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_features, n_features, n_outputs), float64,
            symmetric in the two feature axes, with ``axes`` ("samples", "features",
            "features", "outputs"); ``values.sum(axis=2)`` is the SHAP values and
            ``values.sum(axis=(1, 2)) + base_values`` equals ``model_output``.
        """
        if is_dask_collection(X):  # lazy, chunk by chunk, on the dask scheduler
            from whybox.distributed import explain_dask

            return explain_dask(self, X, interactions=True)
        if self.feature_perturbation != "tree_path_dependent":
            raise InputError(
                "interaction_values needs feature_perturbation='tree_path_dependent', got "
                f"{self.feature_perturbation!r}; build the TreeExplainer with "
                "feature_perturbation='tree_path_dependent'."
            )
        if self._catboost is not None:
            raise InputError(
                "interaction_values cannot be computed for a CatBoost model with categorical "
                "features (CatBoost computes its SHAP values itself); explain the SHAP values "
                "(TreeExplainer(model)(X)) or use whybox.inspection.h_statistic."
            )
        data = self._data(X)
        rows = self._rows(data)
        n = rows.shape[0]
        e = self.ensemble
        structure = getattr(self, "_tree_features", None)
        if structure is None:
            structure = tree_features(e.children_left, e.children_right, e.players, e.n_players)
            self._tree_features = structure
        # n_features**2 values per row: keep each block's output near 1e7 floats (80 MB)
        block = max(1, min(_BLOCK_ROWS, 10_000_000 // max(1, e.n_players**2 * e.n_outputs)))
        values = np.empty((n, e.n_players, e.n_players, e.n_outputs))
        with progress_bar(n, self.progress, "TreeExplainer interactions") as bar:
            for start in range(0, n, block):
                part = rows[start : start + block]
                values[start : start + block] = path_dependent_interactions(
                    e,
                    part,
                    frac=self._frac,
                    max_depth=self._max_depth,
                    structure=structure,
                    n_threads=self.n_jobs,
                )
                bar.update(len(part))
        return self._explanation(
            data,
            values,
            "tree_path_dependent_interactions",
            axes=("samples", "features", "features", "outputs"),
            rows=rows,
        )
