"""The model adapter: any supported model to ``f(X) -> (n_samples, n_outputs)``.

This is the only module that knows how scikit-learn, XGBoost and LightGBM models
are called. Everything downstream sees :class:`Model`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils import shorten
from whybox.adapters._data import Dataset

_EPS = 1e-12


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _as_2d(out: Any) -> np.ndarray:
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None]
    if arr.ndim != 2:
        raise InputError(
            f"the model returned an output of shape {arr.shape}; expected (n_samples,) "
            "or (n_samples, n_outputs)."
        )
    return arr


@dataclass(frozen=True, eq=False)
class Model:
    """A fitted model seen as ``f(X) -> ndarray of shape (n_samples, n_outputs)``.

    Attributes
    ----------
    estimator : object
        The wrapped model (scikit-learn estimator or pipeline, XGBoost or LightGBM
        model or Booster, or a callable).
    task : {"regression", "classification"}
    output_names : tuple of str
        Regression: the target's name. Classification: one name per class, except
        that a binary classifier has a single output, the positive class
        (``classes[1]``), in every output space.
    classes : ndarray or None
        The class labels (classification only), in the model's order.
    feature_names : tuple of str or None
        The columns the model was fitted on, when the model records them.
    n_features : int or None
        The number of columns the model expects, when known.
    native_space : {"raw", "probability"}
        The space in which tree leaves add up: ``"raw"`` (the margin; the log-odds of
        gradient-boosted classifiers) or ``"probability"`` (random-forest classifiers).
    class_names : tuple of str or None
        One display name per class, in the order of ``classes`` (the binary negative
        class included): the ``class_names`` given to :func:`adapt_model`, else the
        labels as text. None for regression.
    """

    estimator: Any
    task: str
    output_names: tuple[str, ...]
    classes: np.ndarray | None
    feature_names: tuple[str, ...] | None
    n_features: int | None
    native_space: str
    _predictors: dict[str, Callable[[Any], np.ndarray]] = field(repr=False)
    _takes_frame: bool = field(default=False, repr=False)
    _class_names: tuple[str, ...] | None = field(default=None, repr=False)
    _category_check: Callable[[Dataset, str], None] | None = field(default=None, repr=False)

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """One display name per class, in the order of ``classes`` (None for regression).

        The ``class_names`` given to :func:`adapt_model`, else the labels as text. A
        binary classifier's negative class has a name here too, though it has no
        output; a one-output callable classifier's other class is ``"not <name>"``.
        """
        if self.task != "classification":
            return None
        if self._class_names is not None:
            return self._class_names
        if self.n_outputs > 1:
            return tuple(str(n) for n in self.output_names)
        positive = str(self.output_names[0])
        classes = self.classes
        binary = classes is not None and len(classes) == 2
        negative = str(classes[0]) if binary else f"not {positive}"
        return (negative, positive)

    @property
    def n_outputs(self) -> int:
        return len(self.output_names)

    @property
    def output_spaces(self) -> tuple[str, ...]:
        """The output spaces this model can be evaluated in."""
        return tuple(self._predictors)

    def resolve_output(self, output: str) -> str:
        """``"auto"`` to the native space; check any other name is available."""
        if output == "auto":
            return self.native_space
        if output not in self._predictors:
            raise InputError(
                f"output must be one of {('auto',) + self.output_spaces} for this "
                f"{self.task} model, got {output!r}."
            )
        return output

    def _prepare(self, X: Any) -> Any:
        categorical = None
        if isinstance(X, Dataset):
            X, categorical = X.values, X.categorical
        if self._takes_frame and not isinstance(X, pd.DataFrame):
            frame = pd.DataFrame(np.asarray(X), columns=list(self.feature_names or ()))
            if not frame.dtypes.eq(object).any():
                return frame
            frame = frame.infer_objects()
            if categorical is not None and categorical.any():
                # a category column stays one even where every value shown is missing
                cols = frame.columns[categorical]
                frame[cols] = frame[cols].astype(object)
            return frame
        return X

    def predict(self, X: Any, output: str = "raw") -> np.ndarray:
        """The model's output for ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), DataFrame or Dataset
        output : {"raw", "probability", "log_odds", "auto"}
            The output space. ``"raw"``: the regression value, or the classifier's
            margin (decision function; the averaged probability for forests).

        Returns
        -------
        ndarray of shape (n_samples, n_outputs), float64
        """
        space = self.resolve_output(output)
        return self._predictors[space](self._prepare(X))

    def predict_label(self, X: Any) -> np.ndarray:
        """Predicted labels (classification): the class of highest probability."""
        if self.task != "classification":
            raise InputError("predict_label is for classifiers; this model is a regressor.")
        proba = self.predict(X, "probability")
        if proba.shape[1] == 1:
            idx = (proba[:, 0] > 0.5).astype(int)  # a tie goes to the first class, as argmax
        else:
            idx = proba.argmax(axis=1)
        return self.classes[idx]

    def class_codes(self, y: Any) -> np.ndarray:
        """The position of each label of ``y`` among the model's classes (int64).

        Raises
        ------
        InputError
            If ``y`` holds a label the model does not know.
        """
        classes = list(np.asarray(self.classes).tolist())
        labels = np.asarray(y, dtype=object).ravel()
        codes = pd.Index(classes, dtype=object).get_indexer(pd.Index(labels.tolist(), dtype=object))
        if np.any(codes < 0):
            unknown = list(dict.fromkeys(labels[codes < 0].tolist()))[:5]
            raise InputError(
                f"y holds labels {unknown} that the model does not know (classes "
                f"{classes[:10]}); give y in the model's labels."
            )
        return codes.astype(np.int64)

    def predict_proba_all(self, X: Any) -> np.ndarray:
        """Probabilities of every class, shape (n_samples, n_classes), binary included."""
        proba = self.predict(X, "probability")
        if proba.shape[1] == 1:
            return np.hstack([1 - proba, proba])
        return proba

    def check_data(self, X: Dataset, *, name: str = "X") -> Dataset:
        """Check ``X`` fits this model and return it with the model's column order.

        Raises
        ------
        InputError
            Missing or extra columns, a column count that differs from the model's,
            text in a column of numbers or an infinite value (any row: the message
            names the column, the row and the value), text columns a model cannot
            take, missing values it does not accept, or a model output without one
            row per input row.
        """
        if self.feature_names is not None:
            have, want = X.feature_names, self.feature_names
            if set(have) != set(want):
                # LightGBM stores names with white space replaced by "_": match on that form.
                norm = {re.sub(r"\s", "_", h): h for h in have}
                if all(re.sub(r"\s", "_", w) in norm for w in want) and len(have) == len(want):
                    want = tuple(norm[re.sub(r"\s", "_", w)] for w in want)
            if set(have) != set(want) and len(have) == len(want) and _made_up(want):
                # names the library made up (LightGBM's Column_i for an array, pandas'
                # 0, 1, ...): the model reads columns by position, as its own predict
                # does, so other names fit; its own names in another order are reordered
                want = have
            missing = [c for c in want if c not in have]
            extra = [c for c in have if c not in want]
            if missing or extra:
                parts = []
                if missing:
                    parts.append(f"missing {', '.join(repr(c) for c in missing[:5])}")
                if extra:
                    parts.append(f"unexpected {', '.join(repr(c) for c in extra[:5])}")
                raise InputError(
                    f"{name} has {len(have)} columns but the model was fitted on {len(want)}: "
                    f"{'; '.join(parts)}; give {name} the model's columns."
                )
            if have != want:
                X = X.select(want)
        elif self.n_features is not None and X.n_features != self.n_features:
            raise InputError(
                f"{name} has {X.n_features} columns but the model was fitted on "
                f"{self.n_features}; give {name} the columns the model was trained on."
            )
        _check_cells(X, name)
        if self._category_check is not None:
            self._category_check(X, name)  # categories the model never saw, every row
        if not X.is_numeric and not self._takes_frame:
            text_cols = [n for n, c in zip(X.feature_names, X.categorical, strict=True) if c]
            raise InputError(
                f"{name} has non-numeric columns {text_cols[:5]} but this model takes numbers "
                "only; encode them (e.g. one-hot or ordinal codes) or use a scikit-learn "
                "Pipeline with an encoder."
            )
        nan_cols = X.numeric_columns_with_nan()
        probe_rows = np.arange(min(X.n_samples, 64))
        if nan_cols:
            rows = np.flatnonzero(pd.isna(pd.DataFrame(X.values)).to_numpy().any(axis=1))
            probe_rows = rows[:64]
        # text read from a file keeps a column of numbers as text when one cell is not a
        # number: the model is also probed on each such cell, wherever it is
        odd = _odd_text_cells(X)
        probe = X.take(np.union1d(probe_rows, [row for _, row in odd]).astype(np.intp))
        try:
            out = self.predict(probe, self.native_space)
        except InputError:
            raise  # already one sentence about this model's output
        except Exception as exc:
            if odd:
                j, row = odd[0]
                raise InputError(
                    f"{name} column {shorten(X.feature_names[j])} holds numbers but also "
                    f"text: {shorten(X.values[row, j])} at row {row} (counting from 0), "
                    f"and the model cannot take it ({shorten(_first_line(exc), 120)}); "
                    "convert the column to numbers (e.g. pd.to_numeric(..., "
                    "errors='coerce') for NaN) or fix those rows."
                ) from None
            if nan_cols:
                raise InputError(
                    f"{name} has missing values (NaN) in {nan_cols[:5]} but the model does not "
                    "accept them; impute them or use a model that handles missing values "
                    "(HistGradientBoosting, XGBoost, LightGBM)."
                ) from None
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"the model could not predict on {name} ({reason}); check that {name} has the "
                "columns and types the model was trained on."
            ) from None
        if out.shape[0] != probe.n_samples:
            raise InputError(
                f"the model returned {out.shape[0]} outputs for {probe.n_samples} rows of "
                f"{name}; the model must return one output (or one row of outputs) per "
                "input row."
            )
        if not np.all(np.isfinite(out)):
            raise InputError(
                f"the model returned non-finite outputs on {name}; check {name} for missing "
                "or infinite values."
            )
        return X


_NUMERIC_INFERRED = ("floating", "integer", "mixed-integer-float", "decimal")


def _check_cells(X: Dataset, name: str) -> None:
    """Refuse text in a column of numbers and infinite values, anywhere in ``X``.

    Every row is checked (whole-column operations), so a bad value after the rows the
    model is probed on is reported by column and row instead of failing later.

    Raises
    ------
    InputError
        Naming the first offending column, its first offending row (counted from 0)
        and the value.
    """
    names = X.feature_names
    if X.is_numeric:
        inf = np.isinf(X.values)
        if inf.any():
            _raise_inf(X, name, inf)
        return
    inf = np.zeros(X.values.shape, dtype=bool)
    for j, col in enumerate(X.values.T):
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind in _NUMERIC_INFERRED:
            nums = pd.to_numeric(col, errors="coerce")
            inf[:, j] = np.isinf(np.asarray(nums, dtype=np.float64))
        elif kind in ("mixed-integer", "mixed"):
            # a column of numbers with some text in it: which cells are which
            is_num = np.fromiter(
                (isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
                 for v in col),
                dtype=bool, count=len(col),
            )  # fmt: skip
            is_text = np.fromiter((isinstance(v, (str, bytes)) for v in col), bool, len(col))
            n_text = int(is_text.sum())
            if n_text and is_num.sum() >= n_text:
                row = int(np.argmax(is_text))
                raise InputError(
                    f"{name} column {shorten(names[j])} holds numbers but also text: "
                    f"{shorten(col[row])} at row {row} (counting from 0; {n_text} text "
                    f"value{'s' if n_text > 1 else ''} in all); convert the column to "
                    "numbers (e.g. pd.to_numeric(..., errors='coerce') for NaN) or fix "
                    "those rows."
                )
            vals = np.where(is_num, col, np.nan).astype(np.float64)
            inf[:, j] = np.isinf(vals)
    if inf.any():
        _raise_inf(X, name, inf)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _odd_text_cells(X: Dataset) -> list[tuple[int, int]]:
    """(column, row) of the first non-number in each text column that is mostly numbers.

    A CSV column of numbers with one word in it is read as text throughout; a model that
    converts its input to numbers fails only on that word's row.
    """
    if X.is_numeric:
        return []
    cells = []
    for j in np.flatnonzero(X.categorical):
        col = X.values[:, j]
        if pd.api.types.infer_dtype(col, skipna=True) != "string":
            continue
        present = ~pd.isna(col)
        nums = pd.to_numeric(col, errors="coerce")
        bad = present & pd.isna(nums)
        if bad.any() and (present & ~bad).sum() >= bad.sum():
            cells.append((int(j), int(np.argmax(bad))))
    return cells


def _raise_inf(X: Dataset, name: str, inf: np.ndarray) -> None:
    rows = np.flatnonzero(inf.any(axis=1))
    row = int(rows[0])
    j = int(np.argmax(inf[row]))
    count = int(inf.sum())
    raise InputError(
        f"{name} has an infinite value ({X.values[row, j]}) in column "
        f"{shorten(X.feature_names[j])} at row {row} (counting from 0; {count} "
        f"infinite value{'s' if count > 1 else ''} in all); replace infinite values with "
        "NaN or finite numbers."
    )


# ---------------------------------------------------------------------- builders
def _sklearn_final_step(est: Any) -> Any:
    from sklearn.pipeline import Pipeline

    while isinstance(est, Pipeline):
        est = est.steps[-1][1]
    return est


def _pipeline_margin(est: Any) -> tuple[Callable[[Any], np.ndarray], str] | None:
    """A Pipeline's margin when its final step is an XGBoost, LightGBM or CatBoost
    classifier (which have no ``decision_function``): the final step's own margin call
    on the pipeline's own transform, with the call in words; None otherwise."""
    from sklearn.pipeline import Pipeline

    if not isinstance(est, Pipeline):
        return None
    pre, final = est[:-1], est.steps[-1][1]
    if isinstance(final, Pipeline):
        inner = _pipeline_margin(final)
        if inner is None:
            return None
        margin, call = inner
        return (lambda X: margin(pre.transform(X))), call
    module = type(final).__module__.split(".")[0]
    name = type(final).__name__
    if module == "xgboost" and hasattr(final, "predict_proba"):
        kwargs, words = {"output_margin": True}, "output_margin=True"
    elif module == "lightgbm" and hasattr(final, "predict_proba"):
        kwargs, words = {"raw_score": True}, "raw_score=True"
    elif module == "catboost" and hasattr(final, "predict_proba"):
        kwargs, words = {"prediction_type": "RawFormulaVal"}, 'prediction_type="RawFormulaVal"'
    else:
        return None

    def margin(X: Any) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            return _as_2d(final.predict(pre.transform(X), **kwargs))

    return margin, f"{name}.predict(pipeline[:-1].transform(X), {words})"


def _from_sklearn(est: Any, class_names: Sequence[str] | None) -> Model:
    from sklearn.base import is_classifier, is_regressor

    final = _sklearn_final_step(est)
    names = getattr(est, "feature_names_in_", None)
    feature_names = None if names is None else tuple(str(n) for n in names)
    n_features = getattr(est, "n_features_in_", None)
    takes_frame = feature_names is not None
    if is_classifier(est) or is_classifier(final):
        classes = np.asarray(est.classes_)
        binary = len(classes) == 2
        labels = tuple(class_names) if class_names is not None else tuple(str(c) for c in classes)
        if not hasattr(est, "predict_proba"):
            raise UnsupportedModelError(
                f"the classifier {type(final).__name__} has no predict_proba; fit it with "
                "probability estimates (e.g. SVC(probability=True)) or wrap it in "
                "CalibratedClassifierCV."
            )

        def proba(X: Any) -> np.ndarray:
            p = np.asarray(est.predict_proba(X), dtype=np.float64)
            return p[:, 1:] if binary else p

        predictors: dict[str, Callable] = {"raw": proba}
        native = "probability"
        library_margin = _pipeline_margin(est)
        if library_margin is not None:  # a boosting library's margin, as its trees add up
            predictors["raw"] = library_margin[0]
            native = "raw"
        elif hasattr(est, "decision_function"):

            def margin(X: Any) -> np.ndarray:
                return _as_2d(est.decision_function(X))

            predictors["raw"] = margin
            native = "raw"
        predictors["probability"] = proba
        predictors["log_odds"] = lambda X: _logit(proba(X))
        outputs = (labels[1],) if binary else labels
        return Model(
            est, "classification", outputs, classes, feature_names, n_features, native,
            predictors, takes_frame,
        )  # fmt: skip
    if is_regressor(est) or is_regressor(final) or hasattr(est, "predict"):
        return Model(
            est, "regression", ("prediction",), None, feature_names, n_features, "raw",
            {"raw": lambda X: _as_2d(est.predict(X))}, takes_frame,
        )  # fmt: skip
    raise UnsupportedModelError(
        f"{type(est).__name__} is neither a classifier nor a regressor; give a fitted model."
    )


def _made_up(names: Sequence[str]) -> bool:
    """Whether column names are positions a library made up, not the data's names.

    LightGBM names the columns of an array ``Column_0, Column_1, ...``; XGBoost,
    LightGBM and CatBoost keep pandas' default column labels ``0, 1, ...`` as ``"0",
    "1", ...``; interpret's EBMs name them ``feature_0000, ...``. A model with such
    names reads columns by position, as the libraries' own ``predict`` does.
    """
    names = tuple(str(n) for n in names)
    positions = range(len(names))
    return names in (
        tuple(str(i) for i in positions),
        tuple(f"Column_{i}" for i in positions),
        tuple(f"feature_{i:04}" for i in positions),
    )


def _xgb_objective(booster: Any) -> str:
    return json.loads(booster.save_config())["learner"]["objective"]["name"]


def xgboost_predict_settings(model: Any) -> tuple[float, tuple[int, int]]:
    """The ``missing`` value and ``iteration_range`` an XGBoost model's ``predict`` uses.

    The scikit-learn wrappers (``XGBRegressor``, ``XGBClassifier``, ...) predict with
    their ``missing`` attribute and, after early stopping, with the rounds up to
    ``best_iteration`` (``iteration_range=(0, best_iteration + 1)``), as their own
    ``predict`` does. A raw ``Booster`` records neither: its ``predict`` reads only NaN
    as missing (the ``DMatrix`` default) and uses every round, and so does whybox.

    Parameters
    ----------
    model : xgboost model or Booster

    Returns
    -------
    missing : float
        The value read as missing besides NaN (NaN when there is none).
    iteration_range : tuple of int
        ``(0, end)``: the boosting rounds used; ``end == 0`` means every round.
    """
    if not hasattr(model, "get_booster"):
        return float("nan"), (0, 0)
    missing = getattr(model, "missing", np.nan)
    missing = float("nan") if missing is None else float(missing)
    best = model.get_booster().attr("best_iteration")
    if best is None or getattr(model, "booster", None) == "gblinear":
        return missing, (0, 0)
    return missing, (0, int(best) + 1)


def xgboost_levels_of(cats: Any, n_features: int) -> dict[int, np.ndarray]:
    """Column -> categories from the ``cats`` section of an XGBoost JSON model.

    XGBoost 3.1 and later store, for a model trained on pandas category columns, each
    column's categories in the training frame's order (``cats.enc``: text as UTF-8
    bytes cut by ``offsets``, numbers as ``values``); a category's code, the number its
    trees' categorical splits test, is its position there. XGBoost 3.2 cuts stored text
    by characters, not bytes, so text that is not ASCII comes back cut up: a column
    with a byte above 127 is left out (its codes must then be given).

    Parameters
    ----------
    cats : dict or None
        ``learner.gradient_booster.model.cats`` (``gbtree.model.cats`` for dart).
    n_features : int

    Returns
    -------
    dict of int to ndarray (object)
        Empty when the model stores no categories (XGBoost before 3.1, or a model
        trained on codes with ``feature_types``).
    """
    enc = (cats or {}).get("enc") or []
    levels: dict[int, np.ndarray] = {}
    for j, column in enumerate(enc[:n_features] if isinstance(enc, list) else []):
        try:
            values = list(column.get("values") or [])
            offsets = [int(o) for o in column.get("offsets") or []]
            if not values:
                continue
            if offsets:  # text: UTF-8 bytes (stored as signed or unsigned 8-bit numbers)
                raw = bytes(int(b) % 256 for b in values)
                ends = list(zip(offsets, offsets[1:], strict=False))
                if max(raw) > 127 or offsets[0] != 0 or offsets[-1] != len(raw):
                    continue
                if any(b < a for a, b in ends):
                    continue
                names = [raw[a:b].decode("ascii") for a, b in ends]
                levels[j] = np.asarray(names, dtype=object)
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                levels[j] = np.asarray(values, dtype=object)
        except (AttributeError, TypeError, ValueError):
            continue  # not the layout XGBoost writes: this column keeps no categories
    return levels


def xgboost_category_levels(booster: Any) -> dict[int, np.ndarray]:
    """Column -> categories an XGBoost model stores (see :func:`xgboost_levels_of`).

    Read with ``Booster.get_categories(export_to_arrow=True)`` where XGBoost has it
    (3.1 and later; milliseconds), else from the model's JSON; the same lists as the
    tree reader's, which reads them from the JSON it parses anyway.

    Parameters
    ----------
    booster : xgboost.Booster or scikit-learn wrapper

    Returns
    -------
    dict of int to ndarray (object)
    """
    booster = booster.get_booster() if hasattr(booster, "get_booster") else booster
    types = booster.feature_types or []
    if "c" not in types:
        return {}
    try:  # XGBoost 3.1+: the categories alone, without writing the whole model
        arrays = booster.get_categories(export_to_arrow=True).to_arrow()
    except Exception:  # older XGBoost, or none stored
        arrays = None
    if arrays is not None:
        levels: dict[int, np.ndarray] = {}
        for j, (_, array) in enumerate(arrays):
            if array is None or j >= len(types) or types[j] != "c":
                continue
            try:
                values = array.to_pylist()
            except UnicodeDecodeError:  # text cut inside a character (XGBoost 3.2)
                continue
            if any(isinstance(v, str) and not v.isascii() for v in values):
                continue  # as xgboost_levels_of: non-ASCII text is not stored whole
            if values:
                levels[j] = np.asarray(values, dtype=object)
        return levels
    gb = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]
    body = gb["gbtree"]["model"] if gb.get("name") == "dart" else gb.get("model", {})
    levels = xgboost_levels_of(body.get("cats"), booster.num_features())
    return {j: v for j, v in levels.items() if j < len(types) and types[j] == "c"}


def _is_number_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)


def xgboost_unknown_categories(
    X: Any, levels: dict[int, np.ndarray], names: Sequence[str] | None, name: str = "X"
) -> None:
    """Refuse a category an XGBoost model never saw, and a code it does not have.

    XGBoost (3.2) re-codes a pandas category column by its stored categories; a
    category not among them either fails there or is silently read as the next stored
    category in sorted order, which is no rule to explain. whybox refuses it instead.
    The columns come as categories (text, pandas category) unless every one of ``X``
    is a number, when they are the codes themselves (read as XGBoost's trees read
    them); in a frame with text a number in a category column is a code and must be
    one of the model's.

    Raises
    ------
    InputError
        Naming the column, the value and its row, and the categories the model knows.
    """
    if isinstance(X, Dataset):
        if X.is_numeric:
            return  # codes, as the trees read them
        frame, as_codes = pd.DataFrame(X.values), ~X.categorical
    else:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        as_codes = np.array([_is_number_column(c) for _, c in frame.items()], dtype=bool)
        if as_codes.all():
            return
    for j, known in levels.items():
        if j >= frame.shape[1]:
            continue
        column = frame.iloc[:, j]
        values = column.astype(object).to_numpy()
        missing = pd.isna(column).to_numpy()
        if as_codes[j]:
            codes = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
            whole = np.isfinite(codes) & (codes == np.round(np.nan_to_num(codes)))
            bad = ~missing & ~(whole & (codes >= 0) & (codes < len(known)))
            what = "a code the model does not have"
        else:
            bad = ~missing & (pd.Index(known).get_indexer(values) < 0)
            what = "a category the model was not trained on"
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            col = names[j] if names is not None and j < len(names) else str(frame.columns[j])
            raise InputError(
                f"{name} column {shorten(col)} holds {shorten(values[row])} at row {row} "
                f"(counting from 0), {what} (it knows {shorten(list(known), 80)}); XGBoost "
                "cannot predict on it: replace it with a known category, or with a missing "
                "value (NaN), which follows the trees' default branches."
            )


def xgboost_frame(X: pd.DataFrame, levels: dict[int, np.ndarray]) -> pd.DataFrame:
    """A frame with text or category columns as XGBoost's own ``predict`` takes it.

    The model's category columns become pandas category columns with the model's
    categories in its order (codes in such a column, when others hold text, are read
    as those categories); the other columns float64. Unknown values must have been
    refused (:func:`xgboost_unknown_categories`).
    """
    out = {}
    for j, (col, column) in enumerate(X.items()):
        if j in levels:
            known = levels[j]
            values = column.astype(object).to_numpy()
            if _is_number_column(column):
                codes = column.to_numpy(dtype=np.float64, na_value=np.nan)
                ok = np.isfinite(codes)
                values = np.full(len(codes), np.nan, dtype=object)
                values[ok] = known[codes[ok].astype(np.int64)]
            if all(isinstance(v, str) for v in known):
                out[col] = pd.Categorical(values, categories=pd.Index(known, dtype=object))
            else:
                out[col] = pd.Categorical(
                    pd.to_numeric(pd.Series(values), errors="coerce"),
                    categories=pd.Index(known.astype(np.int64)),
                )
        else:
            out[col] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(out, index=X.index)


def _from_xgboost(model: Any, class_names: Sequence[str] | None) -> Model:
    import xgboost as xgb

    booster = model.get_booster() if hasattr(model, "get_booster") else model
    objective = _xgb_objective(booster)
    feature_names = tuple(booster.feature_names) if booster.feature_names else None
    n_features = booster.num_features()
    missing, iteration_range = xgboost_predict_settings(model)
    levels = xgboost_category_levels(booster)
    # trained on pandas category columns (XGBoost 3.1+ stores them): those may come as
    # categories or text, and XGBoost re-codes a category frame itself
    takes_frame = bool(levels) and feature_names is not None

    types = booster.feature_types or []
    # every category column has its categories: XGBoost re-codes a category frame
    recodes = all(j in levels for j, t in enumerate(types) if t == "c")

    def dmatrix(X: Any) -> Any:
        if isinstance(X, pd.DataFrame):
            if levels and not all(_is_number_column(c) for _, c in X.items()):
                xgboost_unknown_categories(X, levels, feature_names)
                if recodes:
                    frame = xgboost_frame(X, levels)
                    return xgb.DMatrix(frame, missing=missing, enable_categorical=True)
                X = pd.DataFrame(
                    {
                        c: category_codes(column.astype(object), levels[j])
                        if j in levels and not _is_number_column(column)
                        else column.to_numpy(dtype=np.float64, na_value=np.nan)
                        for j, (c, column) in enumerate(X.items())
                    }
                )  # the codes, as the trees read them
            X = X.to_numpy(dtype=np.float64)
        return xgb.DMatrix(np.asarray(X, dtype=np.float64), missing=missing)

    def category_check(X: Dataset, name: str) -> None:
        if levels:
            xgboost_unknown_categories(X, levels, feature_names, name)

    def margin(X: Any) -> np.ndarray:
        out = booster.predict(
            dmatrix(X), output_margin=True, validate_features=False,
            iteration_range=iteration_range,
        )  # fmt: skip
        return _as_2d(out)

    if objective.startswith(("binary:", "multi:")):
        n_classes = int(json.loads(booster.save_config())["learner"]["learner_model_param"].get(
            "num_class", "0"
        )) or 2  # fmt: skip
        classes = getattr(model, "classes_", np.arange(n_classes))
        labels = tuple(class_names) if class_names is not None else tuple(str(c) for c in classes)
        binary = n_classes == 2 and objective.startswith("binary:")

        def proba(X: Any) -> np.ndarray:
            m = margin(X)
            if binary:
                return 1.0 / (1.0 + np.exp(-m))
            e = np.exp(m - m.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        outputs = (labels[1],) if binary else labels
        predictors = {
            "raw": margin,
            "probability": proba,
            "log_odds": (margin if binary else lambda X: _logit(proba(X))),
        }
        return Model(
            model, "classification", outputs, np.asarray(classes), feature_names, n_features,
            "raw", predictors, takes_frame, _category_check=category_check,
        )  # fmt: skip
    if objective.startswith(("reg:", "count:", "survival:", "rank:")):
        return Model(
            model, "regression", ("prediction",), None, feature_names, n_features, "raw",
            {"raw": margin}, takes_frame, _category_check=category_check,
        )  # fmt: skip
    raise UnsupportedModelError(
        f"the XGBoost objective {objective!r} is not supported; whybox explains reg:*, "
        "binary:* and multi:* objectives."
    )


def lightgbm_category_levels(booster: Any) -> dict[int, np.ndarray]:
    """Column -> categories of a LightGBM model trained on pandas category columns.

    LightGBM stores the categories of the training frame's category columns, in column
    order, as ``pandas_categorical`` (kept in its text file), and its ``predict`` reads
    a category column's value as its position there (``cat.set_categories(...)``,
    unknown and missing to NaN). The model's categorical features are those columns
    (``categorical_feature`` in the model text) unless integer columns were declared
    categorical too; the lists then cannot be matched to columns and none is used
    (the codes must be given).

    Parameters
    ----------
    booster : lightgbm.Booster

    Returns
    -------
    dict of int to ndarray (object)
        Empty when the model was not trained on pandas categories.
    """
    levels = getattr(booster, "pandas_categorical", None) or []
    if not levels:
        return {}
    line = next(
        (
            ln
            for ln in booster.model_to_string(num_iteration=1).splitlines()  # header: cheap
            if ln.startswith("[categorical_feature:")
        ),
        "",
    )
    text = line.partition(":")[2].strip(" ]")
    columns = sorted(int(c) for c in text.split(",") if c.strip().lstrip("-").isdigit())
    if len(columns) != len(levels):
        return {}
    return {c: np.asarray(v, dtype=object) for c, v in zip(columns, levels, strict=True)}


def category_codes(values: Any, levels: np.ndarray) -> np.ndarray:
    """Category values as their positions in ``levels`` (float64; NaN when missing or
    unknown), as LightGBM's ``predict`` reads a pandas category column."""
    codes = pd.Index(levels).get_indexer(np.asarray(values, dtype=object))
    return np.where(codes >= 0, codes, np.nan).astype(np.float64)


def _lightgbm_codes(X: pd.DataFrame, levels: dict[int, np.ndarray]) -> np.ndarray:
    """A frame's category columns as LightGBM's codes.

    As in LightGBM's own ``predict``, the category columns come all as categories or
    all as codes: when one of them is not numeric (pandas category, text), every one
    holds category values (numbers included, as in a category column of numbers),
    else every one holds codes.
    """
    as_values = any(not pd.api.types.is_numeric_dtype(X.iloc[:, j].dtype) for j in levels)
    out = np.empty(X.shape, dtype=np.float64)
    for j, (_, column) in enumerate(X.items()):
        if j in levels and as_values:
            out[:, j] = category_codes(column.astype(object), levels[j])
        else:
            out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _from_lightgbm(model: Any, class_names: Sequence[str] | None) -> Model:
    booster = model.booster_ if hasattr(model, "booster_") else model
    objective = (
        str(booster.params.get("objective", ""))
        or booster.dump_model(num_iteration=0)["objective"].split()[0]
    )
    feature_names = tuple(booster.feature_name())
    n_features = booster.num_feature()
    levels = lightgbm_category_levels(booster)
    # trained on pandas category columns: those may come as categories or text
    takes_frame = bool(levels) and feature_names is not None

    def as_array(X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            if levels:
                return _lightgbm_codes(X, levels)
            return X.to_numpy(dtype=np.float64)
        return np.asarray(X, dtype=np.float64)

    def margin(X: Any) -> np.ndarray:
        return _as_2d(booster.predict(as_array(X), raw_score=True))

    objective = objective.split()[0]
    if objective in ("binary", "multiclass", "softmax", "multiclassova", "cross_entropy"):
        n_classes = max(booster.num_model_per_iteration(), 2)
        classes = getattr(model, "classes_", np.arange(n_classes))
        labels = tuple(class_names) if class_names is not None else tuple(str(c) for c in classes)
        binary = n_classes == 2 and booster.num_model_per_iteration() == 1

        def proba(X: Any) -> np.ndarray:
            return _as_2d(booster.predict(as_array(X)))

        outputs = (labels[1],) if binary else labels
        predictors = {
            "raw": margin,
            "probability": proba,
            "log_odds": margin if binary else lambda X: _logit(proba(X)),
        }
        return Model(
            model, "classification", outputs, np.asarray(classes), feature_names, n_features,
            "raw", predictors, takes_frame,
        )  # fmt: skip
    return Model(
        model, "regression", ("prediction",), None, feature_names, n_features, "raw",
        {"raw": margin}, takes_frame,
    )  # fmt: skip


def _from_catboost(model: Any, class_names: Sequence[str] | None) -> Model:
    if not model.is_fitted():
        raise InputError(f"the model {type(model).__name__} is not fitted; call fit(X, y) first.")
    names = tuple(str(n) for n in (model.feature_names_ or ()))
    n_features = len(names)
    # CatBoost names unnamed columns "0", "1", ...: check_data reads those as positions
    # (a frame with them in another order is reordered, as CatBoost's own predict does)
    feature_names = names or None

    cats = [int(j) for j in model.get_cat_feature_indices()]
    texts = [int(j) for j in getattr(model, "get_text_feature_indices", lambda: [])()]
    # categorical (or text) columns: the rows go to CatBoost as a Pool that names them
    takes_frame = bool(cats or texts) and feature_names is not None

    def as_array(X: Any) -> Any:
        if takes_frame:
            from catboost import Pool

            frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
            frame = frame.set_axis(list(names), axis=1)
            special = set(cats) | set(texts)
            numbers = [c for j, c in enumerate(names) if j not in special]
            frame = frame.astype(dict.fromkeys(numbers, np.float64))
            return Pool(frame, cat_features=cats or None, text_features=texts or None)
        if isinstance(X, pd.DataFrame):
            return X.to_numpy(dtype=np.float64)
        return np.asarray(X, dtype=np.float64)

    def margin(X: Any) -> np.ndarray:
        return _as_2d(model.predict(as_array(X), prediction_type="RawFormulaVal"))

    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) >= 2 and hasattr(model, "predict_proba"):
        labels = tuple(class_names) if class_names is not None else tuple(str(c) for c in classes)
        binary = len(classes) == 2

        def proba(X: Any) -> np.ndarray:
            p = np.asarray(model.predict_proba(as_array(X)), dtype=np.float64)
            return p[:, 1:] if binary else p

        predictors = {
            "raw": margin,
            "probability": proba,
            "log_odds": margin if binary else lambda X: _logit(proba(X)),
        }
        outputs = (labels[1],) if binary else labels
        return Model(
            model, "classification", outputs, np.asarray(classes), feature_names, n_features,
            "raw", predictors, takes_frame,
        )  # fmt: skip
    return Model(
        model, "regression", ("prediction",), None, feature_names, n_features, "raw",
        {"raw": margin}, takes_frame,
    )  # fmt: skip


def adapt_model(
    model: Any,
    *,
    task: str | None = None,
    output_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Model:
    """Wrap a fitted model as a :class:`Model`.

    Parameters
    ----------
    model : object
        A fitted scikit-learn estimator or ``Pipeline`` (with a ``ColumnTransformer``
        the model is explained in terms of its original input columns), an XGBoost
        model or ``Booster``, a LightGBM model or ``Booster``, a CatBoost model, or a callable
        ``f(X) -> ndarray of shape (n_samples,) or (n_samples, n_outputs)``.
    task : {"regression", "classification"}, optional
        Only for callables: a callable returning probabilities is a classifier. Its
        classes (the labels ``y`` is given in) are its output names; a callable with one
        output returns the probability of that class, and the other class is
        ``"not <name>"``.
    output_names : sequence of str, optional
        Only for callables: one name per output.
    class_names : sequence of str, optional
        Names to show for the classes, in the model's class order.

    Returns
    -------
    Model

    Raises
    ------
    InputError
        If the model is a ``torch.nn.Module`` (it takes tensors; wrap it in a function of
        a NumPy array, or use :mod:`whybox.gradients`), or ``class_names`` does not name
        one class each.
    UnsupportedModelError
        If the model type or objective is not supported.
    """
    if isinstance(model, Model):
        return model
    module = type(model).__module__.split(".")[0]
    if module == "xgboost":
        return _named_classes(_from_xgboost(model, class_names), class_names)
    if module == "lightgbm":
        return _named_classes(_from_lightgbm(model, class_names), class_names)
    if module == "catboost":
        return _named_classes(_from_catboost(model, class_names), class_names)
    if module == "whybox" and type(model).__name__ == "AdditiveModel":
        return _named_classes(_from_additive(model), class_names)
    if module == "pygam":  # a GAM reads its columns by position, as pyGAM's own predict does
        from whybox.glassbox import from_pygam

        additive = from_pygam(model)
        return _named_classes(_from_additive(additive, model, by_position=True), class_names)
    if module == "sklearn" or hasattr(model, "fit") and hasattr(model, "predict"):
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except Exception:
            raise InputError(
                f"the model {type(model).__name__} is not fitted; call fit(X, y) first."
            ) from None
        return _named_classes(_from_sklearn(model, class_names), class_names)
    if module == "torch":
        raise InputError(
            f"model is a PyTorch {type(model).__name__}, which takes tensors, but this "
            "explainer calls the model on NumPy arrays; give it a function, e.g. "
            "lambda X: net(torch.as_tensor(X, dtype=torch.float32)).detach().numpy(), "
            "or use whybox.gradients for gradient attributions."
        )
    if callable(model):
        return _from_callable(model, task, output_names)
    raise UnsupportedModelError(
        f"model of type {type(model).__module__}.{type(model).__name__} is not supported; "
        "give a scikit-learn estimator or pipeline, an XGBoost or LightGBM model, or a "
        "callable f(X) -> outputs."
    )


def _from_additive(model: Any, estimator: Any = None, *, by_position: bool = False) -> Model:
    """A ``whybox.glassbox.AdditiveModel`` (an EBM or GAM read by whybox, e.g. from a
    JSON file): raw is its intercept plus its terms, probabilities through its link.
    ``estimator``: the library model it was read from (kept as the Model's estimator)."""
    n = len(model.feature_names)
    names = None if by_position else tuple(model.feature_names)
    est = model if estimator is None else estimator
    predictors: dict[str, Callable] = {"raw": model.predict_raw}
    if model.task != "classification":
        return Model(est, "regression", tuple(model.output_names), None, names, n, "raw",
                     predictors, not by_position)  # fmt: skip
    classes = np.asarray(model.classes)
    binary = len(classes) == 2

    def proba(X: Any) -> np.ndarray:
        p = model.predict_proba(X)
        return p[:, 1:] if binary else p

    predictors.update(probability=proba, log_odds=lambda X: _logit(proba(X)))
    outputs = (str(classes[1]),) if binary else tuple(str(c) for c in classes)
    return Model(
        est, "classification", outputs, classes, names, n, "raw", predictors, not by_position
    )


def _named_classes(model: Model, class_names: Sequence[str] | None) -> Model:
    """``model`` remembering every class's name (a binary model's negative class too)."""
    if class_names is None or model.task != "classification":
        return model
    names = tuple(str(c) for c in class_names)
    if len(names) != len(model.classes):
        raise InputError(
            f"class_names has {len(names)} names but the model has {len(model.classes)} "
            f"classes {shorten(model.classes.tolist(), 60)}; give one name per class, in "
            "the model's class order."
        )
    return dataclasses.replace(model, _class_names=names)


def _from_callable(f: Callable, task: str | None, output_names: Sequence[str] | None) -> Model:
    task = task or "regression"
    if task not in ("regression", "classification"):
        raise InputError(f"task must be 'regression' or 'classification', got {task!r}.")
    names = tuple(output_names) if output_names is not None else ("output",)

    def raw(X: Any) -> np.ndarray:
        out = _as_2d(f(X))
        n_rows = np.shape(X)[0] if hasattr(X, "shape") else len(X)
        if out.shape[0] != n_rows:
            raise InputError(
                f"the model function returned {out.shape[0]} outputs for {n_rows} rows; "
                "it must return one output (or one row of outputs) per input row, shape "
                "(n_rows,) or (n_rows, n_outputs)."
            )
        if out.shape[1] != len(names):
            fix = (
                f"output_names has {len(names)}; give one name per output"
                if output_names is not None
                else "pass output_names=[...] to adapt_model to name them"
            )
            raise InputError(f"the model returned {out.shape[1]} outputs but {fix}.")
        return out

    predictors: dict[str, Callable] = {"raw": raw}
    if task == "classification":
        predictors["probability"] = raw
        predictors["log_odds"] = lambda X: _logit(raw(X))
    classes = None
    if task == "classification":
        # one output is the probability of that class: the other class is "not <name>"
        classes = np.asarray(names if len(names) > 1 else (f"not {names[0]}", names[0]))
    return Model(f, task, names, classes, None, None, "raw", predictors)


# ---------------------------------------------------------------------- the library's own call
@dataclass(frozen=True)
class LibraryPrediction:
    """A model's output computed by its own library's public ``predict`` call.

    Attributes
    ----------
    values : ndarray of shape (n_samples, n_outputs), float64
        The output, one column per output of :class:`Model` (a binary classifier's
        positive class only).
    call : str
        The call that produced it, e.g. ``"XGBClassifier.predict(X, output_margin=True)"``.
    rounding : float
        An absolute bound on the library's own rounding: ``0`` for libraries that add
        up in float64; for XGBoost, which adds its trees into float32, ``n_terms *
        2**-23 * max|margin|`` (each of the ``n_trees + 1`` float32 additions rounds by
        at most half a float32 ulp of a partial sum, taken at twice the largest
        margin; a probability moves by less than its margins, plus its own rounding);
        at least one float32 ulp of the output for any float32 result.
    """

    values: np.ndarray
    call: str
    rounding: float = 0.0


def _xgb_n_trees(booster: Any) -> int:
    """The number of trees of an XGBoost booster (gbtree and dart), from its config."""
    gb = json.loads(booster.save_config())["learner"]["gradient_booster"]
    param = gb.get("gbtree_model_param") or gb.get("gbtree", {}).get("gbtree_model_param", {})
    return int(param.get("num_trees", "0") or 0)


def _lightgbm_booster(est: Any) -> Any:
    return est.booster_ if hasattr(est, "booster_") else est


def _lightgbm_library_input(est: Any, X: Any) -> Any:
    """Rows as LightGBM's own ``predict`` takes them.

    Numbers (category codes included) go as an array. A model trained on pandas
    category columns gets those columns, when one is not numeric, all as pandas
    categories, which its ``predict`` maps to codes itself.
    """
    if not isinstance(X, pd.DataFrame):
        return X
    numeric = [pd.api.types.is_numeric_dtype(dt) for dt in X.dtypes]
    if all(numeric):
        return X.to_numpy(dtype=np.float64)
    levels = lightgbm_category_levels(_lightgbm_booster(est))
    if not levels:
        return X
    # LightGBM maps category columns itself (all of them, as _lightgbm_codes reads them)
    columns = [X.columns[j] for j in sorted(levels)]
    return X.astype({c: "category" for c in columns})


def _xgboost_library_input(est: Any, X: Any) -> Any:
    """Rows as a user gives them to XGBoost's own ``predict``: a frame's text columns
    as pandas category columns (XGBoost 3.1+ re-codes them by the model's categories)."""
    if not isinstance(X, pd.DataFrame) or all(_is_number_column(c) for _, c in X.items()):
        return X
    text = [c for c, column in X.items() if not _is_number_column(column)]
    return X.astype({c: "category" for c in text})


def library_prediction(model: Any, X: Any, output: str = "raw") -> LibraryPrediction | None:
    """The model's output by its library's own public call, independent of whybox.

    This is what an explanation must add up to: the call a user of the library would
    make, with the library's defaults (XGBoost's ``missing`` and ``best_iteration``,
    LightGBM's ``best_iteration``, ...), not whybox's adapter. ``"raw"``: XGBoost
    ``predict(X, output_margin=True)`` (a ``Booster``: on ``DMatrix(X)``), LightGBM
    ``predict(X, raw_score=True)``, CatBoost ``predict(X, prediction_type="RawFormulaVal")``,
    scikit-learn ``decision_function`` (classifiers that have one; others
    ``predict_proba``) or ``predict`` (regressors). ``"probability"``: ``predict_proba``.
    Text columns go to XGBoost as pandas category columns (``X.astype("category")``, which
    it re-codes by the model's stored categories) and to LightGBM likewise.

    Parameters
    ----------
    model : object or Model
        A fitted model (or a whybox ``Model`` wrapping one).
    X : ndarray or DataFrame of shape (n_samples, n_features)
        The rows, in the model's columns; an array is given the model's column names
        when it records them.
    output : {"raw", "probability"}, default="raw"

    Returns
    -------
    LibraryPrediction or None
        None where there is no library call to compare with (callables, PyTorch
        modules, ``"log_odds"``, a space the library does not compute).
    """
    m = model if isinstance(model, Model) else adapt_model(model)
    est = m.estimator
    module = type(est).__module__.split(".")[0]
    if isinstance(X, Dataset):
        X = X.values
    if not isinstance(X, pd.DataFrame) and m.feature_names is not None:
        X = np.asarray(X)
        frame = pd.DataFrame(X, columns=list(m.feature_names))
        if module == "lightgbm" and X.dtype == object:
            # a mixed array holds category values (not codes) in category columns
            levels = lightgbm_category_levels(_lightgbm_booster(est))
            rest = [c for j, c in enumerate(frame.columns) if j not in levels]
            X = frame.astype({c: "category" for c in frame.columns if c not in rest})
            X = X.astype(dict.fromkeys(rest, np.float64))
        else:
            X = frame.infer_objects()
    name = type(est).__name__
    binary = m.task == "classification" and m.n_outputs == 1
    rounding = 0.0
    if output == "probability":
        if m.task != "classification" or not hasattr(est, "predict_proba"):
            return None
        if module == "lightgbm":
            X = _lightgbm_library_input(est, X)
        elif module == "xgboost":
            X = _xgboost_library_input(est, X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            out, call = est.predict_proba(X), f"{name}.predict_proba(X)"
        if module == "xgboost":
            # a probability moves by at most as much as the float32 margins under it
            margin = np.abs(est.predict(X, output_margin=True))
            n_terms = _xgb_n_trees(est.get_booster()) + 1
            rounding = n_terms * 2.0**-23 * float(np.max(margin, initial=0.0)) + 2.0**-23
    elif output != "raw":
        return None
    elif module == "xgboost":
        import xgboost as xgb

        X = _xgboost_library_input(est, X)
        if hasattr(est, "get_booster"):
            out, call = est.predict(X, output_margin=True), f"{name}.predict(X, output_margin=True)"
            booster = est.get_booster()
        else:
            categorical = isinstance(X, pd.DataFrame) and any(X.dtypes == "category")
            out = est.predict(xgb.DMatrix(X, enable_categorical=categorical), output_margin=True)
            call, booster = "Booster.predict(DMatrix(X), output_margin=True)", est
        n_terms = _xgb_n_trees(booster) + 1
        rounding = n_terms * 2.0**-23 * float(np.max(np.abs(out), initial=0.0))
    elif module == "lightgbm":
        X = _lightgbm_library_input(est, X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            out = est.predict(X, raw_score=True)
        call = f"{name}.predict(X, raw_score=True)"
    elif module == "catboost":
        out = est.predict(X, prediction_type="RawFormulaVal")
        call = f'{name}.predict(X, prediction_type="RawFormulaVal")'
    elif module == "sklearn" and _pipeline_margin(est) is not None:
        margin, call = _pipeline_margin(est)
        out = margin(X)
        if "output_margin" in call:  # XGBoost adds its trees in float32
            booster = _sklearn_final_step(est).get_booster()
            n_terms = _xgb_n_trees(booster) + 1
            rounding = n_terms * 2.0**-23 * float(np.max(np.abs(out), initial=0.0))
    elif module == "sklearn" and m.task == "classification" and m.native_space == "raw":
        out, call = est.decision_function(X), f"{name}.decision_function(X)"
    elif module == "sklearn" and m.task == "classification":
        out, call = est.predict_proba(X), f"{name}.predict_proba(X)"
    elif module == "sklearn":
        out, call = est.predict(X), f"{name}.predict(X)"
    else:
        return None
    values = _as_2d(out)
    if np.asarray(out).dtype == np.float32:  # at least the rounding of the result itself
        rounding = max(rounding, 2.0**-23 * float(np.max(np.abs(values), initial=0.0)))
    if binary and values.shape[1] == 2:
        values = values[:, 1:]
    return LibraryPrediction(values, call, rounding)
