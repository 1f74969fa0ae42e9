"""Permutation importance: the drop in score when a feature's values are shuffled."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from whybox._exceptions import InputError
from whybox.adapters import Model, adapt_data
from whybox.inspection._results import PermutationImportance
from whybox.shapley._masking import json_safe, prepare_model, resolve_players

_AUTO_BATCH_CELLS = 1 << 22  # cells of stacked permuted copies per model call (batch_size=None)


# ---------------------------------------------------------------------- scorer shims
class _Responses:
    """The model's responses on a stack of rows, computed once per kind on first use."""

    def __init__(self, model: Model, rows: np.ndarray) -> None:
        self.model = model
        self.rows = rows
        self._cache: dict[str, np.ndarray] = {}

    def get(self, kind: str, X: Any) -> np.ndarray:
        """The responses of ``kind`` at the row indices held in the first column of ``X``."""
        idx = np.asarray(X)[:, 0].astype(np.intp)
        return self._get_full(kind)[idx]

    def _get_full(self, kind: str) -> np.ndarray:
        if kind not in self._cache:
            self._cache[kind] = self._compute(kind)
        return self._cache[kind]

    def _compute(self, kind: str) -> np.ndarray:
        model = self.model
        if kind == "label":
            # the most probable class, ties to the first class (as scikit-learn's predict)
            return np.asarray(model.classes)[self._get_full("proba").argmax(axis=1)]
        if kind == "proba":
            return model.predict_proba_all(self.rows)
        out = model.predict(self.rows, "raw")  # "raw": margin or regression value
        return out[:, 0] if out.shape[1] == 1 else out


class _ShimRegressor(RegressorMixin, BaseEstimator):
    """A scikit-learn regressor whose ``predict(X)`` returns stored predictions.

    ``X`` is a column of row indices into the stacked rows of ``responses``; this lets
    any scikit-learn scorer score one copy of the data out of a single batched
    model call.
    """

    def __init__(self, responses: _Responses | None = None) -> None:
        self.responses = responses

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict(self, X: Any) -> np.ndarray:
        return self.responses.get("raw", X)


class _ShimClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier answering ``predict``/``predict_proba`` from stored rows."""

    def __init__(self, responses: _Responses | None = None, classes: Any = None) -> None:
        self.responses = responses
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict(self, X: Any) -> np.ndarray:
        return self.responses.get("label", X)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.responses.get("proba", X)


class _ShimMarginClassifier(_ShimClassifier):
    """A shim classifier that also has ``decision_function`` (the model's raw margin)."""

    def decision_function(self, X: Any) -> np.ndarray:
        return self.responses.get("raw", X)


def _shim(model: Model, responses: _Responses) -> BaseEstimator:
    if model.task != "classification":
        return _ShimRegressor(responses)
    if model.native_space == "raw":
        return _ShimMarginClassifier(responses, model.classes)
    return _ShimClassifier(responses, model.classes)


# ---------------------------------------------------------------------- scoring
def _resolve_scoring(scoring: Any, model: Model) -> tuple[str, Callable]:
    """The scorer's name and ``score(responses, index_column, y, w) -> float``."""
    from sklearn.metrics import get_scorer, get_scorer_names
    from sklearn.metrics._scorer import _BaseScorer

    if scoring is None:
        scoring = "accuracy" if model.task == "classification" else "r2"
    if isinstance(scoring, str):
        try:
            scorer = get_scorer(scoring)
        except ValueError:
            names = sorted(get_scorer_names())
            raise InputError(
                f"scoring {scoring!r} is not a scikit-learn scorer name; use one of "
                f"{names[:8]}... (sklearn.metrics.get_scorer_names()) or a callable "
                "metric(y_true, y_pred)."
            ) from None
        name = scoring
    elif isinstance(scoring, _BaseScorer):
        scorer, name = scoring, repr(scoring)
    elif callable(scoring):
        metric = scoring
        name = getattr(metric, "__name__", type(metric).__name__)

        def score_metric(resp: _Responses, idx: np.ndarray, y: np.ndarray, w: Any) -> float:
            kind = "label" if model.task == "classification" else "raw"
            y_pred = resp.get(kind, idx)
            if w is None:
                return float(metric(y, y_pred))
            return float(metric(y, y_pred, sample_weight=w))

        return name, score_metric
    else:
        raise InputError(
            f"scoring must be None, a scikit-learn scorer name or a callable "
            f"metric(y_true, y_pred), got {type(scoring).__name__}; e.g. scoring='r2'."
        )

    def score_scorer(resp: _Responses, idx: np.ndarray, y: np.ndarray, w: Any) -> float:
        est = _shim(model, resp)
        if w is None:
            return float(scorer(est, idx, y))
        return float(scorer(est, idx, y, sample_weight=w))

    return name, score_scorer


def _check_positive_int(value: Any, name: str, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}; e.g. {example}.")
    return int(value)


def _n_draw(max_samples: Any, n: int) -> int:
    if max_samples is None:
        return n
    if isinstance(max_samples, (float, np.floating)) and 0.0 < max_samples <= 1.0:
        return max(1, int(max_samples * n))
    if (
        isinstance(max_samples, (int, np.integer))
        and not isinstance(max_samples, bool)
        and 1 <= max_samples <= n
    ):
        return int(max_samples)
    raise InputError(
        f"max_samples must be None, an integer in [1, {n}] or a fraction in (0, 1], got "
        f"{max_samples!r}; e.g. max_samples=0.5."
    )


# ---------------------------------------------------------------------- public
def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: str | Callable | None = None,
    n_repeats: int = 5,
    random_state: Any = None,
    feature_groups: Mapping[str, Sequence[Any]] | None = None,
    sample_weight: Any = None,
    max_samples: int | float | None = None,
    batch_size: int | None = None,
) -> PermutationImportance:
    """Permutation importance of each feature (or feature group) for a fitted model.

    The importance of a feature is how much the model's score drops when the
    feature's values are shuffled across the rows, which breaks its link with the
    target while keeping its distribution (Breiman 2001, "Random forests"; model
    reliance in Fisher, Rudin & Dominici 2019, "All models are wrong, but many are
    useful"). The columns of a feature group are shuffled together, with one
    permutation, so the relations inside the group are kept.

    For each repeat and feature, a fresh random permutation of the rows is drawn
    (all drawn from ``random_state`` before any model call); the permuted copies of
    the data are stacked and scored in few batched model calls.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt (scikit-learn estimator or Pipeline, XGBoost,
        LightGBM, a callable) or a :class:`whybox.adapters.Model`.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Held-out rows (float64 or mixed text/number columns for a Pipeline).
    y : array-like of shape (n_samples,)
        The true targets (class labels for a classifier, in the model's labels).
    scoring : str, callable or None, default=None
        ``None``: accuracy for classifiers, R^2 for regressors. A scikit-learn scorer
        name (``sklearn.metrics.get_scorer_names()``, e.g. ``"roc_auc"``,
        ``"neg_log_loss"``, ``"neg_mean_squared_error"``) or scorer object: it sees the
        model's labels, probabilities or margin as it asks for them. A callable
        ``metric(y_true, y_pred) -> float`` where greater is better: ``y_pred`` is the
        predicted labels (the most probable class, ties going to the first
        class, as in scikit-learn) for a classifier and the predicted
        values, shape (n_samples,), for a regressor; it is called with
        ``sample_weight=`` when ``sample_weight`` is given.
    n_repeats : int, default=5
        Permutations per feature.
    random_state : int, numpy Generator or None, default=None
        Seeds the permutations and the row samples. The same seed gives the same
        result whatever ``batch_size``.
    feature_groups : dict of str to list of (str or int), optional
        Columns shuffled together: group name -> column names or positions (in the
        model's column order). Columns in no group are features of their own, after
        the groups.
    sample_weight : array-like of shape (n_samples,), optional
        Weights passed to the score.
    max_samples : int, float or None, default=None
        Rows drawn (without replacement) for each repeat: an integer count or a
        fraction of ``n_samples``; None uses every row. With a sample, the importance
        of that repeat is the score of the sampled rows minus the score of their
        permuted copies, so both sides see the same rows.
    batch_size : int or None, default=None
        Model-input rows per model call; a call holds at least one permuted copy of
        the (sampled) data. None stacks up to about four million cells (rows x
        columns) per call. Never changes the result.

    Returns
    -------
    PermutationImportance
        ``importances`` of shape (n_features, n_repeats) (baseline score minus
        permuted score, in the units of the score), their mean and standard deviation
        (``ddof=0``), ``baseline_score`` on all rows, ``scoring`` and ``params``.

    Raises
    ------
    InputError
        If ``X`` does not fit the model, ``y`` or ``sample_weight`` has the wrong
        length, ``scoring`` is not a scorer name or callable, or ``n_repeats``,
        ``max_samples`` or ``batch_size`` is out of range.
    """
    adapted = prepare_model(model, X)
    data = adapted.check_data(adapt_data(X, name="X"), name="X")
    Xv = data.values
    n, d = Xv.shape
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim not in (1, 2) or y_arr.shape[0] != n:
        raise InputError(
            f"y must have one target per row of X ({n} rows), got shape {y_arr.shape}; "
            "give y of shape (n_samples,)."
        )
    w_arr = None
    if sample_weight is not None:
        w_arr = np.asarray(sample_weight, dtype=np.float64)
        if w_arr.shape != (n,):
            raise InputError(
                f"sample_weight must have shape ({n},), one weight per row of X, got "
                f"{w_arr.shape}; give one weight per row."
            )
    n_repeats = _check_positive_int(n_repeats, "n_repeats", "n_repeats=5")
    if batch_size is not None:
        batch_size = _check_positive_int(batch_size, "batch_size", "batch_size=100000")
    m = _n_draw(max_samples, n)
    players = resolve_players(feature_groups, data.feature_names)
    p = players.n_players
    name, score = _resolve_scoring(scoring, adapted)

    all_idx = np.arange(n)[:, None]
    baseline = score(_Responses(adapted, Xv), all_idx, y_arr, w_arr)

    # Every random draw happens here, before any model call: batch_size cannot change it.
    rng = np.random.default_rng(random_state)
    draws = []
    for _ in range(n_repeats):
        rows = np.sort(rng.choice(n, size=m, replace=False)) if m < n else None
        perms = np.stack([rng.permutation(m) for _ in range(p)])
        draws.append((rows, perms))

    per_call = batch_size if batch_size is not None else max(m, _AUTO_BATCH_CELLS // d)
    copies_per_call = max(1, per_call // m)
    importances = np.empty((p, n_repeats), dtype=np.float64)
    seg = np.arange(m)[:, None]
    for r, (rows, perms) in enumerate(draws):
        if rows is None:
            Xs, ys, ws, base_r = Xv, y_arr, w_arr, baseline
        else:
            Xs, ys = Xv[rows], y_arr[rows]
            ws = None if w_arr is None else w_arr[rows]
            base_r = score(_Responses(adapted, Xs), seg, ys, ws)
        for start in range(0, p, copies_per_call):
            stop = min(p, start + copies_per_call)
            stacked = np.repeat(Xs[None], stop - start, axis=0)  # (c, m, d)
            for t, j in enumerate(range(start, stop)):
                cols = players.columns[j]
                stacked[t][:, cols] = Xs[np.ix_(perms[j], cols)]
            resp = _Responses(adapted, stacked.reshape((stop - start) * m, d))
            for t, j in enumerate(range(start, stop)):
                importances[j, r] = base_r - score(resp, seg + t * m, ys, ws)

    return PermutationImportance(
        importances=importances,
        importances_mean=importances.mean(axis=1),
        importances_std=importances.std(axis=1),
        feature_names=players.names,
        baseline_score=float(baseline),
        scoring=name,
        params={
            "n_repeats": n_repeats,
            "random_state": json_safe(random_state),
            "feature_groups": players.groups_as_dict() if players.grouped else None,
            "max_samples": json_safe(max_samples),
            "n_samples_per_repeat": int(m),
            "sample_weight": w_arr is not None,
            "batch_size": json_safe(batch_size),
        },
    )
