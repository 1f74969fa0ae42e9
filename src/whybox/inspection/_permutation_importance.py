"""Permutation importance: the drop in score when a feature's values are shuffled."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from whybox._exceptions import InputError
from whybox._utils import (
    check_batch_size,
    check_confidence_level,
    check_int,
    check_random_state,
    is_dask_collection,
    json_value,
    resolve_players,
    rows_to_draw,
    shorten,
)
from whybox.adapters import Model
from whybox.inspection._clusters import check_threshold, correlated_feature_groups
from whybox.inspection._features import model_and_data
from whybox.inspection._results import PermutationImportance

_AUTO_BATCH_CELLS = 1 << 22  # cells of stacked permuted copies per model call (batch_size=None)
MIN_REPEATS = 3  # the fewest repeats before an early stop


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


def _check_early_stop(early_stop: Any, top_k: Any, tol: Any, p: int) -> tuple[bool, int, float]:
    if not isinstance(early_stop, (bool, np.bool_)):
        raise InputError(
            f"early_stop must be True or False, got {early_stop!r}; pass early_stop=True to "
            "stop adding repeats once the ranking is settled."
        )
    k = p if top_k is None else min(check_int(top_k, "top_k", 1, "top_k=5, or None"), p)
    if (
        isinstance(tol, bool)
        or not isinstance(tol, (int, float, np.integer, np.floating))
        or not float(tol) >= 0.0
    ):
        raise InputError(
            f"tol must be a number >= 0 in the units of the score, got {tol!r}; e.g. tol=0.001."
        )
    return bool(early_stop), k, float(tol)


def _pairs_to_settle(order: np.ndarray, k: int) -> list[tuple[int, int]]:
    """(higher, lower) feature pairs whose order decides the top-``k`` ranking.

    Adjacent pairs inside the top ``k``; with ``k`` below the number of features,
    also the ``k``-th feature against every feature outside the top ``k`` (so the
    top-``k`` set is settled, not only its border with the next feature).
    """
    p = len(order)
    pairs = [(int(order[i]), int(order[i + 1])) for i in range(min(k, p) - 1)]
    if k < p:
        pairs += [(int(order[k - 1]), int(order[j])) for j in range(k, p)]
    return pairs


def look_schedule(n_repeats: int) -> list[int]:
    """The repeat counts after which an early stop looks at the ranking.

    The third repeat, then every time the count has grown by half (3, 5, 8, 12, 18,
    27, ...), below ``n_repeats``: few looks, so little confidence is spent on them.
    """
    looks: list[int] = []
    r = MIN_REPEATS
    while r < n_repeats:
        looks.append(r)
        r = math.ceil(r * 1.5)
    return looks


def ranking_settled(
    importances: np.ndarray, *, k: int, tol: float, alpha: float
) -> tuple[bool, int]:
    """Whether more repeats can still change the top-``k`` ranking, and the open pairs.

    Each pair of features that decides the ranking (by mean importance, higher
    first; see :func:`_pairs_to_settle`) gets a p-value from the paired differences
    of its per-repeat importances: the smaller of the two-sided Student-t p-value
    for "the difference is 0" (the pair is *separated*, in the order of the means)
    and the two one-sided tests' p-value for "the difference lies outside
    ``[-tol, tol]``" (the pair is *equivalent* up to ``tol``; Schuirmann 1987). With
    ``tol=0`` only pairs equal in every repeat, such as two features the model
    ignores, are equivalent. The ranking is settled when Holm's step-down procedure
    at level ``alpha`` rejects every pair's null: a wrong claim (an order reversed,
    or two features called equivalent that differ by more than ``tol``) among the
    pairs has probability at most ``alpha`` under the t approximation.
    """
    from scipy.stats import t as student_t

    r = importances.shape[1]
    order = np.argsort(-importances.mean(axis=1), kind="stable")
    pairs = _pairs_to_settle(order, k)
    if not pairs:
        return True, 0
    hi, lo = np.array(pairs).T
    diff = importances[hi] - importances[lo]  # (n_pairs, r)
    mean = diff.mean(axis=1)
    se = diff.std(axis=1, ddof=1) / math.sqrt(r)
    exact = se == 0.0  # equal or constant differences: the verdict is certain
    se = np.where(exact, 1.0, se)
    p_separated = 2.0 * student_t.sf(np.abs(mean) / se, r - 1)
    p_equivalent = np.maximum(
        student_t.sf((mean + tol) / se, r - 1), student_t.cdf((mean - tol) / se, r - 1)
    )
    p_separated = np.where(exact, np.where(mean != 0.0, 0.0, 1.0), p_separated)
    p_equivalent = np.where(exact, np.where(np.abs(mean) <= tol, 0.0, 1.0), p_equivalent)
    p = np.sort(np.minimum(p_separated, p_equivalent))
    rejected = p <= alpha / (len(p) - np.arange(len(p)))  # Holm's thresholds
    n_open = len(p) - int(np.argmin(rejected)) if not rejected.all() else 0
    return n_open == 0, n_open


# ---------------------------------------------------------------------- public
def _check_y(y: Any, n: int, model: Model) -> np.ndarray:
    """``y`` as a 1-D array of ``n`` known targets, or a one-sentence InputError.

    Accepts shape (n,) or (n, 1). Refuses missing values and, for a classifier,
    labels that are not among the model's classes (the model never predicts them,
    so every permutation would score the same).
    """
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1 or y_arr.shape[0] != n:
        raise InputError(
            f"y must hold one target per row of X, shape ({n},) or ({n}, 1), got shape "
            f"{y_arr.shape}; give y as a 1-D array (for several targets, score one at a time)."
        )
    missing = pd.isna(y_arr) if y_arr.dtype == object else np.isnan(y_arr) if (
        np.issubdtype(y_arr.dtype, np.floating)
    ) else np.zeros(n, dtype=bool)  # fmt: skip
    if missing.any():
        row = int(np.argmax(missing))
        raise InputError(
            f"y has {int(missing.sum())} missing value(s) (NaN), the first at row {row}; "
            "drop those rows from X and y, as a score needs a known target per row."
        )
    if model.task == "classification":
        classes = np.asarray(model.classes)
        known = np.isin(y_arr, classes)
        if not known.all():
            unknown = pd.unique(y_arr[~known])
            raise InputError(
                f"y holds label(s) {shorten(unknown[:5].tolist(), 60)} that are not among "
                f"the model's classes {shorten(classes[:10].tolist(), 60)} "
                f"({int((~known).sum())} rows); give y in the model's labels (the ones it "
                "was fitted on)."
            )
    return y_arr


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: str | Callable | None = None,
    n_repeats: int = 5,
    random_state: Any = 0,
    feature_groups: Mapping[str, Sequence[Any]] | str | None = None,
    sample_weight: Any = None,
    max_samples: int | float | None = None,
    batch_size: int | None = None,
    confidence_level: float = 0.95,
    early_stop: bool = False,
    top_k: int | None = None,
    tol: float = 0.0,
    correlation_threshold: float = 0.7,
) -> PermutationImportance:
    """Permutation importance of each feature (or feature group) for a fitted model.

    The importance of a feature is how much the model's score drops when the
    feature's values are shuffled across the rows, which breaks its link with the
    target while keeping its distribution (Breiman 2001, "Random forests"; model
    reliance in Fisher, Rudin & Dominici 2019, "All models are wrong, but many are
    useful"). The columns of a feature group are shuffled together, with one
    permutation, so the relations inside the group are kept.

    For each repeat and feature, a fresh random permutation of the rows is drawn
    from ``random_state``, repeat after repeat in a fixed order; the permuted copies
    of the data are stacked and scored in few batched model calls. Neither
    ``batch_size`` nor an early stop changes the draws: the repeats of an early-stopped
    run equal the first repeats of a full run with the same seed.

    Parameters
    ----------
    model : object
        The fitted model scored: a scikit-learn estimator or Pipeline, an XGBoost or
        LightGBM model, a callable ``f(X)`` or a :class:`whybox.adapters.Model`.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Held-out rows (float64 or mixed text/number columns for a Pipeline); or a dask
        Array/DataFrame (with a dask ``y``, and a dask ``sample_weight`` if any): score
        pieces summed on the workers, each column permuted within its partition, for
        the scores that are sums over rows (losses' means, R^2, confusion-matrix
        scores; not "roc_auc"); ``max_samples`` then draws a uniform sample split over
        the partitions, other rows than the in-memory draw (see
        ``whybox.distributed.permutation_importance``).
    y : array-like of shape (n_samples,) or (n_samples, 1)
        The true targets, without missing values (class labels for a classifier, in
        the model's labels).
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
        Permutations per feature (the most, with ``early_stop``).
    random_state : int, numpy Generator or None, default=0
        Seeds the permutations and the row samples. The same seed gives the same
        result whatever ``batch_size``.
    feature_groups : dict of str to list of (str or int), "correlated" or None
        Columns shuffled together: group name -> column names or positions (in the
        model's column order). Columns in no group are features of their own, after
        the groups. ``"correlated"``: the groups of
        :func:`correlated_feature_groups` on ``X`` (Spearman, complete linkage,
        ``|rho| >= correlation_threshold``), so near-copies are permuted together
        instead of standing in for each other.
    sample_weight : array-like of shape (n_samples,), optional
        Weights passed to the score.
    max_samples : int, float or None, default=None
        Rows drawn (without replacement) for each repeat: an integer count (every
        row when it is ``n_samples`` or more) or a fraction of ``n_samples`` (at least
        one row, rounded down); None uses every row. With a sample, the importance
        of that repeat is the score of the sampled rows minus the score of their
        permuted copies, so both sides see the same rows.
    batch_size : int or None, default=None
        Model-input rows per model call; a call holds at least one permuted copy of
        the (sampled) data. None stacks up to about four million cells (rows x
        columns) per call. Never changes the result.
    confidence_level : float in (0, 1), default=0.95
        Level of the per-feature confidence intervals (Student t over the repeats)
        and of the early-stopping rule. The repeats share the rows of ``X``, so the
        intervals cover the randomness of the permutations only, not the sampling of
        the data.
    early_stop : bool, default=False
        Stop adding repeats once more repeats cannot change the ranking. It looks
        after repeats 3, 5, 8, 12, 18, 27, ... (each 1.5 times the last, below
        ``n_repeats``). Every pair of features that decides the ranking (adjacent
        features by mean importance; with ``top_k``, adjacent ones in the top ``k``
        and the ``k``-th against each feature below) must be either separated (a
        paired Student-t test of their per-repeat differences rejects "equal") or
        equivalent (two one-sided tests show the difference inside ``[-tol, tol]``),
        all pairs together by Holm's step-down procedure at level
        ``(1 - confidence_level) / n_looks`` (Bonferroni over the looks). So the
        chance that an early-stopped ranking holds a wrong claim (a pair in the wrong
        order, or called equivalent while differing by more than ``tol``) is at most
        ``1 - confidence_level``, under the t approximation. With ``tol=0`` and
        ``top_k=None``, features that are equally important but not identical (e.g.
        two noise features) keep it from stopping: give ``top_k`` or ``tol``. A
        larger ``n_repeats`` is then a budget, not a cost.
    top_k : int or None, default=None
        With ``early_stop``, only the ranking of the ``top_k`` most important
        features must be settled; None: the whole ranking.
    tol : float >= 0, default=0.0
        With ``early_stop``, two features whose importances are shown to differ by
        less than ``tol`` (in the units of the score) count as settled.
    correlation_threshold : float in (0, 1], default=0.7
        With ``feature_groups="correlated"``, the smallest |Spearman rho| that joins
        two columns.

    Returns
    -------
    PermutationImportance
        ``importances`` of shape (n_features, n_repeats_done) (baseline score minus
        permuted score, in the units of the score), their mean, standard deviation
        (``ddof=0``) and confidence interval, ``baseline_score`` on all rows,
        ``scoring`` and ``params`` (with ``n_repeats_done`` and, after an early stop,
        ``stopped_early=True``).

    Raises
    ------
    InputError
        If ``X`` does not fit the model, ``y`` is not one target per row (shape
        ``(n_samples,)`` or ``(n_samples, 1)``), holds NaN or, for a classifier, labels
        that are not among the model's classes, ``sample_weight`` has the wrong
        length, ``random_state`` is not a seed, ``scoring`` is not a scorer name or
        callable, ``feature_groups`` is
        neither a dict nor "correlated", or ``n_repeats``, ``max_samples``,
        ``batch_size``, ``confidence_level``, ``early_stop``, ``top_k``, ``tol`` or
        ``correlation_threshold`` is out of range.

    References
    ----------
    .. [1] L. Breiman, "Random Forests", Machine Learning 45, 2001.
    .. [2] A. Fisher, C. Rudin and F. Dominici, "All models are wrong, but many are
       useful", Journal of Machine Learning Research 20, 2019.
    .. [3] C. Strobl, A.-L. Boulesteix, T. Kneib, T. Augustin and A. Zeileis,
       "Conditional variable importance for random forests", BMC Bioinformatics 9, 2008.

    Examples
    --------
    >>> from numpy.random import default_rng
    >>> from sklearn.linear_model import LinearRegression
    >>> from whybox.inspection import permutation_importance
    >>> X = default_rng(0).uniform(-1, 1, size=(200, 3))
    >>> y = 2 * X[:, 0] + X[:, 1]
    >>> model = LinearRegression().fit(X, y)
    >>> result = permutation_importance(model, X, y, n_repeats=5)
    >>> result.importances.shape  # (features, repeats)
    (3, 5)
    >>> result.to_frame().index.tolist()  # largest drop in R^2 first
    ['x0', 'x1', 'x2']
    >>> round(float(result.importances_mean[2]), 6)  # x2 is not used: no drop at all
    0.0
    """
    if is_dask_collection(X):
        from whybox.distributed import permutation_importance as pi_dask

        return pi_dask(
            model, X, y, scoring=scoring, n_repeats=n_repeats, random_state=random_state,
            feature_groups=feature_groups, sample_weight=sample_weight,
            max_samples=max_samples, batch_size=batch_size, confidence_level=confidence_level,
            early_stop=early_stop, top_k=top_k, tol=tol,
            correlation_threshold=correlation_threshold,
        )  # fmt: skip
    random_state = check_random_state(random_state)
    adapted, data = model_and_data(model, X)
    Xv = data.values
    n, d = Xv.shape
    y_arr = _check_y(y, n, adapted)
    w_arr = None
    if sample_weight is not None:
        w_arr = np.asarray(sample_weight, dtype=np.float64)
        if w_arr.shape != (n,):
            raise InputError(
                f"sample_weight must have shape ({n},), one weight per row of X, got "
                f"{w_arr.shape}; give one weight per row."
            )
    n_repeats = check_int(n_repeats, "n_repeats", 1, "n_repeats=5")
    batch_size = check_batch_size(batch_size)
    level = check_confidence_level(confidence_level)
    m = rows_to_draw(max_samples, n)
    check_threshold(correlation_threshold, "correlation_threshold")
    clustered = isinstance(feature_groups, str)
    if clustered:
        if feature_groups != "correlated":
            raise InputError(
                f"feature_groups must be a dict of group name -> columns, 'correlated' or "
                f"None, got the string {feature_groups!r}; use feature_groups='correlated'."
            )
        feature_groups = correlated_feature_groups(
            data, correlation_threshold=correlation_threshold
        )
    players = resolve_players(feature_groups, data.feature_names)
    p = players.n_players
    stop_early, k, tol = _check_early_stop(early_stop, top_k, tol, p)
    name, score = _resolve_scoring(scoring, adapted)

    all_idx = np.arange(n)[:, None]
    baseline = score(_Responses(adapted, Xv), all_idx, y_arr, w_arr)

    # Draws are made repeat by repeat, always in the same order (rows, then one
    # permutation per feature), before that repeat's model calls: neither batch_size
    # nor an early stop can change them.
    rng = np.random.default_rng(random_state)
    looks = set(look_schedule(n_repeats)) if stop_early else set()
    per_call = batch_size if batch_size is not None else max(m, _AUTO_BATCH_CELLS // d)
    copies_per_call = max(1, per_call // m)
    importances = np.empty((p, n_repeats), dtype=np.float64)
    seg = np.arange(m)[:, None]
    done = n_repeats
    for r in range(n_repeats):
        rows = np.sort(rng.choice(n, size=m, replace=False)) if m < n else None
        perms = np.stack([rng.permutation(m) for _ in range(p)])
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
        if r + 1 in looks:
            settled, _ = ranking_settled(
                importances[:, : r + 1], k=k, tol=tol, alpha=(1.0 - level) / len(looks)
            )
            if settled:
                done = r + 1
                break
    importances = importances[:, :done]

    params = {
        "n_repeats": n_repeats,
        "random_state": json_value(random_state),
        "feature_groups": players.groups_as_dict() if players.grouped else None,
        "max_samples": json_value(max_samples),
        "n_samples_per_repeat": int(m),
        "sample_weight": w_arr is not None,
        "batch_size": json_value(batch_size),
        "confidence_level": level,
        "early_stop": stop_early,
        "n_repeats_done": int(done),
        "stopped_early": done < n_repeats,
    }
    if stop_early:
        params.update({"top_k": json_value(top_k), "tol": tol})
    if clustered:
        params.update({"clustered": True, "correlation_threshold": float(correlation_threshold)})
    return PermutationImportance(
        importances=importances,
        importances_mean=importances.mean(axis=1),
        importances_std=importances.std(axis=1),
        feature_names=players.names,
        baseline_score=float(baseline),
        scoring=name,
        params=params,
        confidence_level=level,
    )
