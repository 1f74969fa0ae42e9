"""The data adapter: numpy arrays and pandas DataFrames to one :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from whybox._exceptions import InputError


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows to explain or score, as one array plus names.

    Attributes
    ----------
    values : ndarray of shape (n_samples, n_features)
        float64 when every column is numeric (NaN marks a missing value); object
        when a column holds text or categories, so rows can still be mixed and
        passed back to a model that takes a DataFrame.
    feature_names : tuple of str
        One name per column.
    categorical : ndarray of shape (n_features,), bool
        True for columns that are categorical (pandas category, text or bool).
    """

    values: np.ndarray
    feature_names: tuple[str, ...]
    categorical: np.ndarray

    @property
    def n_samples(self) -> int:
        return self.values.shape[0]

    @property
    def n_features(self) -> int:
        return self.values.shape[1]

    @property
    def is_numeric(self) -> bool:
        """True when every column is numeric (values is float64)."""
        return self.values.dtype != object

    def numeric_columns_with_nan(self) -> list[str]:
        """Names of the columns that hold a missing value."""
        if self.is_numeric:
            mask = np.isnan(self.values).any(axis=0)
        else:
            mask = pd.isna(pd.DataFrame(self.values)).to_numpy().any(axis=0)
        return [n for n, m in zip(self.feature_names, mask, strict=True) if m]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the feature names as columns."""
        frame = pd.DataFrame(self.values, columns=list(self.feature_names))
        return frame.infer_objects() if not self.is_numeric else frame

    def take(self, rows: np.ndarray) -> Dataset:
        """The rows at positions ``rows`` (all columns)."""
        return Dataset(self.values[np.asarray(rows)], self.feature_names, self.categorical)

    def select(self, feature_names: Sequence[str]) -> Dataset:
        """The same rows with the columns ``feature_names``, in that order."""
        idx = [self.feature_names.index(n) for n in feature_names]
        return Dataset(self.values[:, idx], tuple(feature_names), self.categorical[idx])


def adapt_data(X, feature_names: Sequence[str] | None = None, *, name: str = "X") -> Dataset:
    """Turn a numpy array or pandas DataFrame into a :class:`Dataset`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        The rows. A DataFrame keeps its column names; categorical, text and bool
        columns are marked categorical. Bool columns are read as 0/1 (as XGBoost and
        LightGBM read them) unless another column holds text. SciPy sparse matrices
        and ``xgboost.DMatrix`` are refused (``TreeExplainer`` reads sparse matrices).
    feature_names : sequence of str, optional
        Names for the columns of an array (default ``x0, x1, ...``); ignored names
        for a DataFrame must match its columns when given.
    name : str, default="X"
        The argument's name, used in error messages.

    Returns
    -------
    Dataset

    Raises
    ------
    InputError
        If ``X`` is empty, not two-dimensional, sparse, an ``xgboost.DMatrix``, or the
        names do not match its columns.
    """
    if isinstance(X, Dataset):
        return X
    _refuse_containers(X, name)
    if isinstance(X, pd.Series):
        X = X.to_frame().T
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise InputError(
                f"{name} is empty (shape {X.shape}); give at least one row and one column."
            )
        names = tuple(str(c) for c in X.columns)
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise InputError(f"{name} has duplicate column names {dup}; rename them.")
        if feature_names is not None and tuple(feature_names) != names:
            raise InputError(
                f"feature_names {list(feature_names)[:5]}... do not match the columns of {name} "
                f"{list(names)[:5]}...; leave feature_names out for a DataFrame."
            )
        categorical = np.array(
            [
                isinstance(dt, pd.CategoricalDtype)
                or pd.api.types.is_object_dtype(dt)
                or pd.api.types.is_string_dtype(dt)
                or pd.api.types.is_bool_dtype(dt)
                for dt in X.dtypes
            ],
            dtype=bool,
        )
        # bool columns (numpy or pandas' nullable "boolean") are numbers 0/1 to the
        # libraries; they stay marked categorical (two levels)
        numeric = all(
            pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt) for dt in X.dtypes
        )
        if numeric:
            values = X.astype(
                {c: "float64" for c, dt in X.dtypes.items() if pd.api.types.is_bool_dtype(dt)}
            ).to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = X.astype(object).where(X.notna(), np.nan).to_numpy(dtype=object)
        return Dataset(values, names, categorical)
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise InputError(
            f"{name} could not be read as a 2-D array ({exc}); give a numpy array or DataFrame."
        ) from None
    if arr.ndim == 1:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features) but is 1-D with shape {arr.shape}; "
            "use X.reshape(1, -1) for one row or X.reshape(-1, 1) for one feature."
        )
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(
            f"{name} is empty (shape {arr.shape}); give at least one row and one column."
        )
    if feature_names is None:
        names = tuple(f"x{i}" for i in range(arr.shape[1]))
    else:
        names = tuple(str(f) for f in feature_names)
        if len(names) != arr.shape[1]:
            raise InputError(
                f"feature_names has {len(names)} names but {name} has {arr.shape[1]} columns; "
                "give one name per column."
            )
    if np.issubdtype(arr.dtype, np.number) or arr.dtype == bool:
        values = arr.astype(np.float64)
        categorical = np.zeros(arr.shape[1], dtype=bool)
    else:
        try:
            values = arr.astype(np.float64)
            categorical = np.zeros(arr.shape[1], dtype=bool)
        except (TypeError, ValueError):
            values = arr.astype(object)
            categorical = np.array(
                [
                    not all(isinstance(v, (int, float, np.number)) for v in values[:, j])
                    for j in range(arr.shape[1])
                ]
            )
    return Dataset(values, names, categorical)


def _refuse_containers(X, name: str) -> None:
    """One clear sentence for containers whybox does not read as rows."""
    module = type(X).__module__.split(".")[0]
    if module == "xgboost" and hasattr(X, "num_row"):
        raise InputError(
            f"{name} is an xgboost.{type(X).__name__}, whose values whybox does not read "
            f"back; pass the array or DataFrame it was built from as {name} instead."
        )
    if module == "scipy" and hasattr(X, "toarray"):
        raise InputError(
            f"{name} is a SciPy sparse matrix of shape {X.shape}, which this function "
            f"does not read; pass {name}.toarray() (for an XGBoost model, which reads the "
            "entries a sparse matrix leaves out as missing, fill those with NaN instead), "
            "or explain tree models with TreeExplainer, which reads sparse matrices."
        )
