"""The interpretable challengers: what an interpretable model would cost on the same data.

Rudin (2019) asks, before a black box is explained, whether an interpretable model would
do as well. :func:`challengers` fits three interpretable models on the audited model's
training data (an Explainable Boosting Machine, an L1-regularised linear or logistic model
and a depth-3 decision tree), scores them and the audited model on the same held-out rows
with the audit's performance metrics, and gives the gap of each to the audited model in
points of the headline metric (accuracy or R²) with a paired bootstrap interval over the
held-out rows. interpret is imported inside the function only: without it the EBM row is
left out and the reason is recorded.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_confidence_level, check_int, check_random_state
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.glassbox._additive import AdditiveModel

EBM_SETTINGS: dict[str, Any] = {
    "outer_bags": 2,
    "max_rounds": 2000,
    "interactions": 10,
}
"""interpret's settings for the challenger EBM, reduced from its defaults (14 outer bags,
50,000 rounds, ``"3x"`` pairs) to fit 60 s of fitting on 10,000 x 20 on 2 cores."""

LINEAR_CS = (0.01, 0.1, 1.0, 10.0)
"""The inverse penalties a 3-fold CV chooses from for the L1 logistic regression."""
TREE_DEPTH = 3
"""The depth of the challenger decision tree."""
MAX_TRAIN_ROWS = 20_000
"""The most training rows the challengers are fitted on (a seeded sample beyond)."""
_MAX_CATEGORIES = 20  # one-hot columns per categorical column (the rarest levels merged)
_BOOTSTRAP_CHUNK = 100  # bootstrap replicates drawn at once

EBM = "EBM"
LINEAR_CLASSIFIER = "L1 logistic regression"
LINEAR_REGRESSOR = "L1 linear regression (lasso)"
TREE = f"decision tree (depth {TREE_DEPTH})"


def is_glass_box(model: Any) -> str | None:
    """What glass box ``model`` is in words ("an EBM (...)", "a GAM (..., pyGAM)", "an
    additive model (...)" for a :class:`AdditiveModel`), None for any other model.

    Checked by type, without importing interpret or pygam; a whybox ``Model`` is read
    through its ``estimator``.
    """
    est = model.estimator if isinstance(model, Model) else model
    if isinstance(est, AdditiveModel):
        return f"an additive model ({est.source})"
    cls = type(est)
    module = cls.__module__.split(".")[0]
    if module == "interpret" and "ExplainableBoosting" in cls.__name__:
        return f"an EBM ({cls.__name__})"
    if module == "pygam":
        return f"a GAM ({cls.__name__}, pyGAM)"
    return None


@dataclass(frozen=True, eq=False)
class Challengers(Result):
    """The audited model and its interpretable challengers, scored on the same held-out rows.

    Attributes
    ----------
    task : {"classification", "regression"}
    metric : str
        The headline metric the gaps are in: ``"accuracy"`` or ``"R²"``.
    table : DataFrame
        One row per model, the audited model first (index: the model's name), columns:
        ``role`` ("audited" or "challenger"); the held-out metrics, named as in the audit's
        "Model performance" section (accuracy, balanced accuracy, ROC AUC or "ROC AUC
        (one-vs-rest)", log loss; or R², mean absolute error, root mean squared error);
        ``<metric> low``/``<metric> high`` (e.g. ``accuracy low``), the headline metric's
        percentile bootstrap interval;
        ``fit seconds`` (NaN for the audited model, fitted elsewhere); ``size`` and
        ``size unit`` (what a reader has to read: terms, non-zero coefficients, leaves;
        NaN and "" for the audited model); ``gap`` (audited minus challenger in points,
        100 x the headline metric: positive when the challenger is worse; 0 for the
        audited model) and ``gap low``/``gap high``, its paired bootstrap interval.
    params : dict of str to dict
        Each challenger's settings (the EBM's reduced bags and rounds, the C or alpha the
        CV chose, the tree's depth).
    absent : dict of str to str
        A challenger left out -> why (e.g. interpret is not installed).
    n_train, n_test : int
        Training rows the challengers were fitted on; held-out rows scored.
    n_train_given : int
        The training rows given: above :data:`MAX_TRAIN_ROWS` the challengers are fitted
        on a seeded sample of that many (``n_train``).
    n_bootstrap : int
    confidence_level : float
    random_state : None or int
        The seed of the bootstrap and of every challenger.
    fit_seconds : float
        All the challengers' fitting together, in seconds.
    estimators : dict of str to object
        The fitted challengers (not in ``to_dict``): each predicts from a DataFrame of the
        input columns (numbers as float, categories as text); a classifier was fitted on
        the class positions 0..n_classes-1 in the audited model's class order.
    """

    task: str
    metric: str
    table: pd.DataFrame
    params: dict[str, dict[str, Any]]
    absent: dict[str, str]
    n_train: int
    n_train_given: int
    n_test: int
    n_bootstrap: int
    confidence_level: float
    random_state: int | None
    fit_seconds: float
    estimators: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The table: one row per model (see ``table``)."""
        return self.table.copy()

    @property
    def best(self) -> str | None:
        """The challenger with the best headline metric, None when none ran."""
        rows = self.table[self.table["role"] == "challenger"]
        if rows.empty:
            return None
        return str(rows[self.metric].astype(float).idxmax())


def _check_target(y: Any, n: int, name: str, x_name: str) -> np.ndarray:
    values = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if values.ndim != 1 or len(values) != n:
        raise InputError(
            f"{name} must be 1-D with one target per row of {x_name} ({n}), got shape "
            f"{values.shape}; pass the targets of {x_name}'s rows."
        )
    if pd.isna(pd.Series(values)).any():
        raise InputError(
            f"{name} has missing values; drop those rows from {x_name} and {name} first."
        )
    return values


def _class_positions(y: np.ndarray, classes: np.ndarray, name: str) -> np.ndarray:
    """``y`` as positions in the audited model's ``classes`` (matched as text)."""
    position = {str(c): i for i, c in enumerate(classes.tolist())}
    unknown = sorted({str(v) for v in y.tolist()} - set(position))
    if unknown:
        raise InputError(
            f"{name} holds labels {unknown[:5]} the model does not predict (its classes "
            f"are {[str(c) for c in classes.tolist()][:10]}); give targets in its labels."
        )
    return np.array([position[str(v)] for v in y.tolist()], dtype=np.int64)


def _frame(data: Dataset) -> pd.DataFrame:
    """The columns as the challengers read them: numbers float64, categories text (NaN kept)."""
    columns = {}
    for j, name in enumerate(data.feature_names):
        col = data.values[:, j]
        if data.categorical[j]:
            s = pd.Series(col, dtype=object)
            columns[name] = s.where(s.isna(), s.astype(str)).astype(object)
        else:
            columns[name] = pd.to_numeric(pd.Series(col), errors="coerce").astype(np.float64)
    return pd.DataFrame(columns)


def _preprocessor(data: Dataset, scale: bool) -> Any:
    """Median imputation (with missing indicators), optional standardising, and one-hot
    categories (missing as its own level, unknown levels ignored) in a ColumnTransformer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    names = list(data.feature_names)
    numeric = [n for n, c in zip(names, data.categorical, strict=True) if not c]
    categorical = [n for n, c in zip(names, data.categorical, strict=True) if c]
    steps = []
    if numeric:
        num = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
        if scale:
            num.append(StandardScaler())
        steps.append(("numeric", make_pipeline(*num), numeric))
    if categorical:
        steps.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=_MAX_CATEGORIES,
                        sparse_output=False,
                    ),
                ),
                categorical,
            )
        )
    return ColumnTransformer(steps, sparse_threshold=0.0, verbose_feature_names_out=False)


def _fit_linear(data: Dataset, frame: pd.DataFrame, y: np.ndarray, task: str, seed: Any):
    from sklearn.linear_model import LassoCV, LogisticRegressionCV
    from sklearn.pipeline import Pipeline

    if task == "classification":
        final = LogisticRegressionCV(
            Cs=list(LINEAR_CS), cv=3, l1_ratios=(1.0,), solver="saga", max_iter=500,
            tol=1e-3, scoring="neg_log_loss", random_state=seed, use_legacy_attributes=False,
        )  # fmt: skip
    else:
        final = LassoCV(cv=3, alphas=20, random_state=seed, max_iter=2000)
    model = Pipeline([("prepare", _preprocessor(data, scale=True)), ("model", final)])
    with _quiet():
        model.fit(frame, y)
    fitted = model.named_steps["model"]
    coef = np.asarray(fitted.coef_)
    if task == "classification":
        params = {"C": float(np.ravel(fitted.C_)[0]), "Cs": list(LINEAR_CS), "cv": 3,
                  "penalty": "l1", "solver": "saga", "scaled": True}  # fmt: skip
    else:
        params = {"alpha": float(fitted.alpha_), "cv": 3, "penalty": "l1", "scaled": True}
    size = int(np.count_nonzero(coef))
    return model, params, size, "non-zero coefficients"


def _fit_tree(data: Dataset, frame: pd.DataFrame, y: np.ndarray, task: str, seed: Any):
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    tree_cls = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    model = Pipeline(
        [
            ("prepare", _preprocessor(data, scale=False)),
            ("model", tree_cls(max_depth=TREE_DEPTH, random_state=seed)),
        ]
    )
    model.fit(frame, y)
    params = {"max_depth": TREE_DEPTH, "imputation": "median, with missing indicators"}
    return model, params, int(model.named_steps["model"].get_n_leaves()), "leaves"


def _fit_ebm(data: Dataset, frame: pd.DataFrame, y: np.ndarray, task: str, seed: Any):
    from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor

    cls = (
        ExplainableBoostingClassifier if task == "classification" else ExplainableBoostingRegressor
    )
    settings = dict(EBM_SETTINGS)
    n_features = data.n_features
    if isinstance(settings.get("interactions"), int):
        settings["interactions"] = min(settings["interactions"], n_features * (n_features - 1) // 2)
    settings.setdefault("n_jobs", max(1, min(int(settings["outer_bags"]), os.cpu_count() or 1)))
    types = ["nominal" if c else "continuous" for c in data.categorical]
    model = cls(
        feature_names=list(data.feature_names),
        feature_types=types,
        random_state=seed if isinstance(seed, int) else 0,
        **settings,
    )
    with _quiet():
        model.fit(frame, y)
    terms = model.term_features_
    pairs = sum(1 for t in terms if len(t) > 1)
    params = {k: v for k, v in settings.items() if k != "n_jobs"}
    params["pairs fitted"] = pairs
    params["reduced"] = "from interpret's defaults (14 outer bags, 50,000 rounds, '3x' pairs)"
    return model, params, len(terms), "terms"


class _quiet:
    """Silence the convergence warnings of the linear CV and interpret's fit warnings."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: Any) -> None:
        self._catch.__exit__(*exc)


def metrics(
    task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None
) -> list[tuple[str, float]]:
    """The audit's held-out metrics: (name, value) as its "Model performance" section names them.

    ``y`` and ``pred`` are class positions 0..n_classes-1 and ``proba`` (n, n_classes) for a
    classifier; values (float) for a regressor (``proba`` None).
    """
    from sklearn import metrics as m

    if task == "classification":
        rows = [("accuracy", m.accuracy_score(y, pred)),
                ("balanced accuracy", m.balanced_accuracy_score(y, pred))]  # fmt: skip
        k = proba.shape[1]
        present = len(np.unique(y))
        if present == k == 2:
            rows.append(("ROC AUC", m.roc_auc_score(y, proba[:, 1])))
        elif present == k:
            rows.append(("ROC AUC (one-vs-rest)", m.roc_auc_score(y, proba, multi_class="ovr")))
        rows.append(("log loss", m.log_loss(y, proba, labels=np.arange(k))))
    else:
        rows = [("R²", m.r2_score(y, pred)), ("mean absolute error", m.mean_absolute_error(y, pred)),
                ("root mean squared error", float(np.sqrt(m.mean_squared_error(y, pred))))]  # fmt: skip
    return [(name, float(v)) for name, v in rows]


def _challenger_proba(model: Any, frame: pd.DataFrame, k: int) -> np.ndarray:
    """A challenger's probabilities in all ``k`` classes (a class unseen in training: 0)."""
    proba = np.zeros((len(frame), k))
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(frame)
    return proba


def _bootstrap(
    task: str, y: np.ndarray, preds: list[np.ndarray], n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """Paired bootstrap of the headline metric (accuracy or R²) of every model, shape
    (n_bootstrap, n_models): each replicate resamples the same held-out rows for all."""
    n = len(y)
    out = np.empty((n_bootstrap, len(preds)))
    if task == "classification":
        per_row = np.stack([(p == y).astype(np.float64) for p in preds], axis=1)
    else:
        per_row = np.stack([(y - p) ** 2 for p in preds], axis=1)
    done = 0
    while done < n_bootstrap:
        b = min(_BOOTSTRAP_CHUNK, n_bootstrap - done)
        idx = rng.integers(0, n, size=(b, n))
        if task == "classification":
            out[done : done + b] = per_row[idx].mean(axis=1)
        else:
            yy = y[idx]
            sst = ((yy - yy.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[done : done + b] = 1.0 - per_row[idx].sum(axis=1) / sst[:, None]
        done += b
    return out


def challengers(
    model: Any,
    X_train: Any,
    y_train: Any,
    X: Any,
    y: Any,
    *,
    random_state: Any = 0,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
) -> Challengers:
    """Fit interpretable challengers on the training data and score them beside the model.

    The challengers (Rudin 2019) are fitted on ``X_train, y_train``: an Explainable
    Boosting Machine (interpret, with the reduced bags, rounds and pairs of
    :data:`EBM_SETTINGS`; missing values and categories as interpret handles them), an
    L1-regularised logistic regression (C chosen among :data:`LINEAR_CS` by 3-fold CV on
    the log loss) or lasso (alpha by 3-fold CV), and a depth-3 decision tree. The linear
    model and the tree read numeric columns median-imputed with missing indicators
    (standardised for the linear model) and categorical or text columns one-hot encoded
    (missing as its own level, at most 20 levels a column, an unseen level as none or
    the rarest merged one). The audited model and the challengers are scored on the same
    held-out rows ``X, y`` with the audit's metrics. Beyond :data:`MAX_TRAIN_ROWS` (20,000)
    training rows, the challengers are fitted on a seeded sample of that many.

    Parameters
    ----------
    model : object
        The audited model (anything :func:`whybox.adapters.adapt_model` accepts).
    X_train : DataFrame or ndarray of shape (n_train, n_features)
        The rows the model was trained on, the model's input columns.
    y_train : array-like of shape (n_train,)
        Their targets (class labels of the model, or numbers).
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Held-out rows, the same columns.
    y : array-like of shape (n_samples,)
        Their targets.
    random_state : None, int or Generator, default=0
        Seeds the challengers' fits and the bootstrap.
    n_bootstrap : int, default=1000
        Paired bootstrap replicates of the held-out rows for the gaps' intervals.
    confidence_level : float, default=0.95
        The intervals' level (percentile bootstrap).

    Returns
    -------
    Challengers
        The table of held-out metrics, fit times, sizes and gaps (points of accuracy or
        R², audited minus challenger, with their intervals); ``estimators`` the fitted
        challengers.

    Raises
    ------
    InputError
        Targets not 1-D, of another length than their rows, with missing values, or with
        labels the model does not predict; ``X_train`` or ``X`` not the model's columns;
        ``n_bootstrap`` below 1; ``confidence_level`` outside (0, 1).

    Notes
    -----
    Without interpret, the EBM is left out and ``absent["EBM"]`` says why; the other two
    run. A challenger whose fit raises (e.g. too few rows of a class for the 3-fold CV) is
    left out the same way, with the error's first line. The gap in points is 100 x (metric of the audited model - metric of the
    challenger): a positive gap is what the interpretable model costs. Its interval
    resamples the held-out rows with replacement (the same rows for all models, so the
    models' shared difficulty cancels) and takes the percentiles of the gap.

    References
    ----------
    .. [1] C. Rudin, "Stop explaining black box machine learning models for high stakes
       decisions and use interpretable models instead", Nature Machine Intelligence 1,
       206-215, 2019.
    .. [2] H. Nori, S. Jenkins, P. Koch and R. Caruana, "InterpretML: A Unified Framework
       for Machine Learning Interpretability", arXiv:1909.09223, 2019.
    """
    random_state = check_random_state(random_state)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 1, "n_bootstrap=1000")
    confidence_level = check_confidence_level(confidence_level)
    m = adapt_model(model)
    test = m.check_data(adapt_data(X), name="X")
    train = m.check_data(adapt_data(X_train, name="X_train"), name="X_train")
    y_test = _check_target(y, test.n_samples, "y", "X")
    y_fit = _check_target(y_train, train.n_samples, "y_train", "X_train")
    task = m.task
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31 - 1))  # every challenger's seed, drawn first
    n_given = train.n_samples
    if n_given > MAX_TRAIN_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(n_given, MAX_TRAIN_ROWS, replace=False))
        train, y_fit = train.take(keep), y_fit[keep]
    if task == "classification":
        k = len(m.classes)
        y_test = _class_positions(y_test, m.classes, "y")
        y_fit = _class_positions(y_fit, m.classes, "y_train")
        proba = m.predict_proba_all(test.values)
        audited_pred = proba.argmax(axis=1)
        audited_rows = metrics(task, y_test, audited_pred, proba)
    else:
        y_test, y_fit = y_test.astype(np.float64), y_fit.astype(np.float64)
        audited_pred = m.predict(test.values)[:, 0]
        audited_rows = metrics(task, y_test, audited_pred, None)
    frame_train, frame_test = _frame(train), _frame(test)
    linear = LINEAR_CLASSIFIER if task == "classification" else LINEAR_REGRESSOR
    fitters = [(EBM, _fit_ebm), (linear, _fit_linear), (TREE, _fit_tree)]
    absent: dict[str, str] = {}
    try:
        import interpret.glassbox  # noqa: F401
    except ImportError:
        absent[EBM] = (
            "interpret is not installed, so no EBM was fitted; install it with "
            "`pip install whybox[interpret]` (or interpret-core)."
        )
        fitters = fitters[1:]
    estimators, params, rows, preds = {}, {}, [], []
    total = 0.0
    for name, fit in fitters:
        t0 = time.perf_counter()
        try:
            est, est_params, size, unit = fit(train, frame_train, y_fit, task, seed)
        except Exception as exc:  # one challenger that cannot be fitted leaves the others
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            absent[name] = f"fitting it failed ({type(exc).__name__}: {first})."
            continue
        seconds = time.perf_counter() - t0
        total += seconds
        if task == "classification":
            p = _challenger_proba(est, frame_test, k)
            pred = np.asarray(est.predict(frame_test), dtype=np.int64)
            scores = metrics(task, y_test, pred, p)
        else:
            pred = np.asarray(est.predict(frame_test), dtype=np.float64)
            scores = metrics(task, y_test, pred, None)
        estimators[name], params[name] = est, est_params
        preds.append(pred)
        rows.append((name, "challenger", dict(scores), seconds, size, unit))
    headline = audited_rows[0][0]
    point = np.array([100.0 * (dict(audited_rows)[headline] - r[2][headline]) for r in rows])
    boot = _bootstrap(task, y_test, [audited_pred, *preds], n_bootstrap, rng)
    tail = 100.0 * (1.0 - confidence_level) / 2.0

    def interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.nanpercentile(samples, tail, axis=0), np.nanpercentile(
            samples, 100 - tail, axis=0
        )

    metric_low, metric_high = interval(boot)
    low, high = interval(100.0 * (boot[:, :1] - boot[:, 1:]))
    audited_name = f"audited model ({type(m.estimator).__name__})"
    records = [
        {"model": audited_name, "role": "audited", **dict(audited_rows),
         f"{headline} low": metric_low[0], f"{headline} high": metric_high[0],
         "fit seconds": np.nan, "size": np.nan, "size unit": "", "gap": 0.0, "gap low": 0.0,
         "gap high": 0.0}
    ]  # fmt: skip
    for i, (name, role, scores, seconds, size, unit) in enumerate(rows):
        records.append(
            {"model": name, "role": role, **scores, f"{headline} low": metric_low[i + 1],
             f"{headline} high": metric_high[i + 1], "fit seconds": seconds,
             "size": float(size), "size unit": unit, "gap": point[i], "gap low": low[i],
             "gap high": high[i]}
        )  # fmt: skip
    table = pd.DataFrame(records).set_index("model")
    result = Challengers(
        task=task, metric=headline, table=table, params=params, absent=absent,
        n_train=train.n_samples, n_train_given=n_given, n_test=test.n_samples, n_bootstrap=n_bootstrap,
        confidence_level=confidence_level,
        random_state=random_state if isinstance(random_state, int) else None,
        fit_seconds=total,
    )  # fmt: skip
    object.__setattr__(result, "estimators", estimators)
    return result
