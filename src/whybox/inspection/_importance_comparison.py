"""Three global importances side by side: impurity (MDI), permutation and mean |SHAP|."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import Result, check_random_state, json_value, prepare_model
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.inspection._permutation_importance import permutation_importance
from whybox.inspection._results import PermutationImportance

MAX_SHAP_ROWS = 200  # rows explained when no SHAP values are given
MAX_BACKGROUND_ROWS = 100  # background rows for models that are not trees
HIGH_CARDINALITY = 0.5  # share of distinct values above which a column is high-cardinality
_KINDS = ("mdi", "permutation", "shap")


def shares(values: np.ndarray | None) -> np.ndarray | None:
    """``values`` divided by the sum of their positive parts (positives sum to 1).

    Negative values (a permutation importance below 0) keep their sign; all values
    are NaN when no value is positive.
    """
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    total = np.clip(values, 0.0, None).sum()
    if not total > 0:
        return np.full(values.shape, np.nan)
    return values / total


def _ranks(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, ties in column order."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.intp)
    ranks[order] = np.arange(len(values))
    return ranks


@dataclass(frozen=True, eq=False)
class ImportanceComparison(Result):
    """Impurity, permutation and SHAP importance of each feature, with warnings.

    Attributes
    ----------
    feature_names : tuple of str
        In the model's column order.
    mdi : ndarray of shape (n_features,) or None
        The model's own ``feature_importances_`` (for scikit-learn trees and
        forests: mean decrease in impurity, computed on the training data), None when
        the model has none or its columns do not map one-to-one to the input's.
    mdi_source : str
        Where ``mdi`` comes from, or why it is missing.
    permutation : PermutationImportance
        Permutation importance on the given (held-out) rows, in the units of its score.
    shap : ndarray of shape (n_features,)
        Mean absolute SHAP value per feature (averaged over the outputs), in the
        output space of the SHAP values (``params["shap_output_space"]``).
    shap_source : str
        "given" or the explanation method that computed the values.
    rank_correlation : dict of str to float
        Spearman correlation between each two available importances over the features
        ("mdi vs permutation", "mdi vs shap", "permutation vs shap"); NaN when
        a ranking is constant.
    warnings : tuple of str
        Plain sentences: features that rank high by MDI but low by permutation
        importance (MDI's bias towards high-cardinality features).
    params : dict
    """

    feature_names: tuple[str, ...]
    mdi: np.ndarray | None
    mdi_source: str
    permutation: PermutationImportance
    shap: np.ndarray
    shap_source: str
    rank_correlation: dict[str, float]
    warnings: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def shares(self) -> dict[str, np.ndarray | None]:
        """Each importance divided by the sum of its positive values (None: missing).

        Also "permutation_lower"/"permutation_upper": the permutation confidence
        interval on the same scale.
        """
        perm = np.asarray(self.permutation.importances_mean, dtype=np.float64)
        total = np.clip(perm, 0.0, None).sum()
        scale = 1.0 / total if total > 0 else np.nan
        return {
            "mdi": shares(self.mdi),
            "permutation": shares(perm),
            "permutation_lower": np.asarray(self.permutation.importances_lower) * scale,
            "permutation_upper": np.asarray(self.permutation.importances_upper) * scale,
            "shap": shares(self.shap),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, by permutation importance, largest first.

        Columns ``mdi``, ``permutation`` (with ``permutation_lower`` /
        ``permutation_upper``) and ``shap`` are shares (each importance's positive
        values sum to 1; ``mdi`` NaN when missing); ``mdi_raw``, ``permutation_mean``
        (units of the score) and ``shap_mean_abs`` (units of the SHAP output space)
        are the raw values.
        """
        d = len(self.feature_names)
        s = self.shares()
        nan = np.full(d, np.nan)
        frame = pd.DataFrame(
            {
                "mdi": nan if s["mdi"] is None else s["mdi"],
                "permutation": s["permutation"],
                "permutation_lower": s["permutation_lower"],
                "permutation_upper": s["permutation_upper"],
                "shap": s["shap"],
                "mdi_raw": nan if self.mdi is None else self.mdi,
                "permutation_mean": self.permutation.importances_mean,
                "shap_mean_abs": self.shap,
            },
            index=pd.Index(list(self.feature_names), name="feature"),
        )
        order = np.argsort(-np.asarray(self.permutation.importances_mean), kind="stable")
        return frame.iloc[order]


# ---------------------------------------------------------------------- MDI
def _pipeline_mapping(pre: Any, names: tuple[str, ...]) -> tuple[np.ndarray | None, str]:
    """Positions of ``names`` among the outputs of the pipeline's first steps."""
    try:
        out = [str(o) for o in pre.get_feature_names_out()]
    except Exception as exc:  # a step without get_feature_names_out
        return None, f"the pipeline's steps do not name their output columns ({exc})"
    if len(out) != len(names):
        return None, (
            f"the pipeline's steps turn {len(names)} columns into {len(out)}, so the final "
            "model's importances are not per input column"
        )
    # ColumnTransformer prefixes names with "<transformer>__"
    stripped = [o if o in names else o.split("__", 1)[-1] for o in out]
    if sorted(stripped) != sorted(names):
        return None, "the pipeline's output columns do not map one-to-one to the input's"
    return np.array([stripped.index(n) for n in names]), ""


def impurity_importance(
    model: Any, feature_names: tuple[str, ...]
) -> tuple[np.ndarray | None, str]:
    """A tree model's own ``feature_importances_``, in the order of ``feature_names``.

    For scikit-learn trees and forests these are the mean decrease in impurity
    (MDI; Breiman et al. 1984, Breiman 2001): for each feature, the impurity
    decrease (Gini, entropy or variance, weighted by the share of training samples
    reaching the node) summed over every split on it, averaged over the trees and
    normalised to sum to 1. XGBoost, LightGBM and CatBoost report their own
    ``importance_type`` (gain, split counts, ...) under the same attribute. Either
    way they are measured on the *training* data while the model was fitted, not
    on the rows being inspected, and MDI favours features with many distinct values
    (more candidate split points), even pure noise (Strobl et al. 2007): compare
    with :func:`permutation_importance` on held-out rows, as
    :func:`importance_comparison` does.

    The importances are read from the model, or from the last step of a
    scikit-learn ``Pipeline`` whose earlier steps keep the columns one-to-one
    (scalers, imputers, a ``ColumnTransformer`` that only reorders or passes
    columns through; output names ``"<transformer>__<column>"`` are matched to the
    input column names). Nothing is computed and the model is not called.

    Parameters
    ----------
    model : object
        A fitted model or a :class:`whybox.adapters.Model` (its ``estimator`` is
        read): a scikit-learn estimator or Pipeline, an XGBoost, LightGBM or
        CatBoost model, or anything else (then no importances are available).
    feature_names : tuple of str
        One name per input column, in the model's column order (e.g.
        ``adapt_data(X).feature_names``); the importances are returned in this
        order, shape ``(len(feature_names),)``.

    Returns
    -------
    importances : ndarray of shape (n_features,), float64, or None
        One value per name of ``feature_names`` (for scikit-learn, non-negative
        and summing to 1), or None when the model has no ``feature_importances_``,
        they are not one value per input column (a pipeline that one-hot encodes
        or selects columns), or the pipeline's output columns do not map one-to-one
        to ``feature_names``.
    source : str
        Where the values come from (e.g. ``"RandomForestClassifier.feature_importances_
        (mean decrease in impurity on the training data)"``), or, starting with
        ``"not available:"``, why there are none.

    Raises
    ------
    UnsupportedModelError
        If ``model`` is not a model whybox can adapt. Missing importances are not an
        error: they give ``(None, reason)``.

    Notes
    -----
    A property that raises (e.g. XGBoost's ``feature_importances_`` for a linear
    booster) counts as missing.

    References
    ----------
    .. [1] L. Breiman, J. Friedman, R. Olshen, C. Stone, "Classification and
       Regression Trees", Wadsworth, 1984.
    .. [2] L. Breiman, "Random Forests", Machine Learning 45, 2001.
    .. [3] C. Strobl, A.-L. Boulesteix, A. Zeileis and T. Hothorn, "Bias in random
       forest variable importance measures: illustrations, sources and a solution",
       BMC Bioinformatics 8, 2007.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from whybox.inspection import impurity_importance
    >>> X, y = make_regression(n_samples=200, n_features=3, n_informative=1, random_state=0)
    >>> tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    >>> values, source = impurity_importance(tree, ("a", "b", "c"))
    >>> values.shape, round(float(values.sum()), 6)
    ((3,), 1.0)
    >>> source
    'DecisionTreeRegressor.feature_importances_ (mean decrease in impurity on the training data)'
    """
    from sklearn.pipeline import Pipeline

    est = (model if isinstance(model, Model) else adapt_model(model)).estimator
    names = tuple(feature_names)
    last, pre = est, None
    if isinstance(est, Pipeline):
        last, pre = est.steps[-1][1], est[:-1]
    try:
        fi = getattr(last, "feature_importances_", None)
    except Exception:  # e.g. a property that raises for linear boosters
        fi = None
    kind = type(last).__name__
    if fi is None:
        return None, f"not available: {kind} has no feature_importances_"
    idx = None
    if pre is not None:
        idx, why = _pipeline_mapping(pre, names)
        if idx is None:
            return None, f"not available: {why}"
    fi = np.asarray(fi, dtype=np.float64)
    if fi.ndim != 1 or fi.shape[0] != len(names):
        return None, (
            f"not available: {kind}.feature_importances_ has shape {fi.shape}, not one value "
            f"per input column ({len(names)})"
        )
    if idx is not None:
        fi = fi[idx]
    module = type(last).__module__.split(".")[0]
    if module == "sklearn":
        how = "mean decrease in impurity on the training data"
    else:
        how = f"importance_type={getattr(last, 'importance_type', None)!r}, training data"
    return fi, f"{kind}.feature_importances_ ({how})"


# ---------------------------------------------------------------------- SHAP
def _given_shap(shap_values: Any, given_names: tuple[str, ...], names: tuple[str, ...]) -> Any:
    """Mean |SHAP| per feature in the order of ``names`` from given values."""
    if isinstance(shap_values, Explanation):
        if shap_values.axes[0] != "samples" or shap_values.axes.count("features") != 1:
            raise InputError(
                f"shap_values must hold one value per (sample, feature), got an Explanation "
                f"with axes {shap_values.axes}; pass SHAP values, not interaction values."
            )
        values = np.asarray(shap_values.values, dtype=np.float64)
        src_names = tuple(shap_values.feature_names)
        space = shap_values.output_space
    else:
        values = np.asarray(shap_values, dtype=np.float64)
        src_names, space = given_names, None
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3 or values.shape[1] != len(names) or set(src_names) != set(names):
        raise InputError(
            f"shap_values must have shape (n_samples, {len(names)}) or (n_samples, "
            f"{len(names)}, n_outputs) with X's columns, got shape {values.shape}; pass the "
            "SHAP values of X's columns (e.g. whybox.explain(model, X))."
        )
    mean_abs = np.abs(values).mean(axis=(0, 2))
    return mean_abs[[list(src_names).index(n) for n in names]], space


def _computed_shap(model: Model, data: Dataset, random_state: Any) -> tuple[np.ndarray, str, Any]:
    from whybox._explain import explain, is_tree_model

    rng = np.random.default_rng(random_state)
    n = data.n_samples
    rows = np.sort(rng.choice(n, MAX_SHAP_ROWS, replace=False)) if n > MAX_SHAP_ROWS else None
    sample = data if rows is None else data.take(rows)
    background = None
    if not is_tree_model(model):
        bg = rng.choice(n, MAX_BACKGROUND_ROWS, replace=False) if n > MAX_BACKGROUND_ROWS else None
        background = data if bg is None else data.take(np.sort(bg))
    ex = explain(model, sample, background=background, random_state=random_state, progress=False)
    values = np.asarray(ex.values, dtype=np.float64)
    return np.abs(values).mean(axis=(0, 2)), ex.method, ex.output_space


# ---------------------------------------------------------------------- warnings
def _cardinality_note(column: np.ndarray) -> str:
    try:
        values = np.asarray(column, dtype=np.float64)
        values = values[~np.isnan(values)]
        unique = np.unique(values)
        integer = bool(np.all(values == np.round(values)))
    except (TypeError, ValueError):  # text
        values = np.asarray(column[pd.notna(column)], dtype=object)
        unique = pd.unique(values)
        integer = False
    n, u = len(values), len(unique)
    if n and u == n and integer:
        return f"it looks like an identifier ({u:,} distinct integers in {n:,} rows)"
    if n and u > HIGH_CARDINALITY * n:
        return f"it has high cardinality ({u:,} distinct values in {n:,} rows)"
    return f"it has {u:,} distinct values in {n:,} rows"


def _mdi_warnings(
    mdi: np.ndarray, perm: PermutationImportance, data: Dataset, names: tuple[str, ...]
) -> list[str]:
    """Features high by MDI (above-average share, top half) but low by permutation."""
    d = len(names)
    mdi_share = shares(mdi)
    if mdi_share is None or not np.all(np.isfinite(mdi_share)):
        return []
    mean = np.asarray(perm.importances_mean, dtype=np.float64)
    lower = np.asarray(perm.importances_lower, dtype=np.float64)
    perm_share = shares(mean)
    mdi_rank, perm_rank = _ranks(mdi_share), _ranks(mean)
    out = []
    for j in np.argsort(mdi_rank):
        high = mdi_share[j] >= 1.0 / d and mdi_rank[j] < math.ceil(d / 2)
        not_shown = not lower[j] > 0 if np.isfinite(lower[j]) else not mean[j] > 0
        far_lower = np.isfinite(perm_share[j]) and perm_share[j] < mdi_share[j] / 5
        if not (high and (not_shown or far_lower)):
            continue
        if not_shown and np.isfinite(lower[j]):
            upper = float(np.asarray(perm.importances_upper)[j])
            why = f"{perm.confidence_level:.0%} interval {lower[j]:.3g} to {upper:.3g}, not above 0"
        elif not_shown:
            why = f"mean {mean[j]:.3g}, not above 0"
        else:
            why = f"share {max(perm_share[j], 0.0):.1%}"
        out.append(
            f"{names[j]!r} ranks {mdi_rank[j] + 1} of {d} by impurity importance (MDI share "
            f"{mdi_share[j]:.1%}) but {perm_rank[j] + 1} by permutation importance on the "
            f"given data ({why}), and {_cardinality_note(data.values[:, j])}: MDI is biased "
            "towards high-cardinality features and measured on the training data (Strobl et "
            "al. 2007), so trust the permutation importance."
        )
    return out


def _rank_correlations(vectors: dict[str, np.ndarray | None]) -> dict[str, float]:
    from scipy.stats import spearmanr

    present = [k for k in _KINDS if vectors.get(k) is not None]
    out: dict[str, float] = {}
    for a_i, a in enumerate(present):
        for b in present[a_i + 1 :]:
            va, vb = vectors[a], vectors[b]
            if len(va) < 2 or np.ptp(va) == 0 or np.ptp(vb) == 0:
                out[f"{a} vs {b}"] = float("nan")
            else:
                out[f"{a} vs {b}"] = float(spearmanr(va, vb).statistic)
    return out


# ---------------------------------------------------------------------- public
def importance_comparison(
    model: Any,
    X: Any,
    y: Any,
    *,
    shap_values: Any = None,
    permutation: PermutationImportance | None = None,
    scoring: str | Callable | None = None,
    n_repeats: int = 5,
    random_state: Any = 0,
) -> ImportanceComparison:
    """Compare impurity (MDI), permutation and SHAP importance, and say where they disagree.

    The three answer different questions. Impurity importance (mean decrease in
    impurity, a tree model's ``feature_importances_``) is how much the splits on a
    feature cleaned the *training* data; it favours features with many distinct
    values, which offer more split points, even pure noise (Strobl et al. 2007).
    Permutation importance is how much the score drops on the given (held-out) rows
    when the feature is shuffled: how much the model's *performance* relies on it.
    Mean |SHAP| is how much the feature moves the model's *output*, whether or not
    that helps the score. A feature high by MDI but not shown important by
    permutation importance gets a warning.

    Parameters
    ----------
    model : object
        The fitted model, of any kind :func:`permutation_importance` takes; the
        impurity importance needs a tree model (or a Pipeline ending in one).
    X : array-like of shape (n_samples, n_features) or DataFrame
        Held-out rows (not the training data: permutation importance on the training
        rows rewards overfitting just as MDI does).
    y : array-like of shape (n_samples,)
        The true targets of ``X``.
    shap_values : Explanation or array-like of shape (n_samples, n_features[, n_outputs]), optional
        SHAP values to use (an array in the column order of ``X``). None: computed
        with :func:`whybox.explain` on up to 200 rows of ``X`` (path-dependent
        TreeSHAP for tree models, else interventional SHAP against up to 100 rows of
        ``X``).
    permutation : PermutationImportance, optional
        A permutation importance already computed on ``X`` and ``y`` (one feature
        per column of ``X``, no groups), used as it is; ``scoring``, ``n_repeats``
        and ``random_state`` then do not apply to it. None: computed here.
    scoring : str, callable or None, default=None
        The permutation importance's score (see
        :func:`~whybox.inspection.permutation_importance`). None: ``"neg_log_loss"``
        for a classifier (a proper score, which moves with every probability, where
        accuracy only moves when a label flips and is mostly noise on small data) and
        ``"r2"`` for a regressor.
    n_repeats : int, default=5
        Permutations per feature.
    random_state : int, numpy Generator or None, default=0
        Seeds the permutations and the rows sampled for SHAP values.

    Returns
    -------
    ImportanceComparison
        The raw importances in the model's column order, Spearman correlations of
        their rankings and the warnings; ``to_frame()`` shows each importance as
        shares summing to 1.

    Raises
    ------
    InputError
        As :func:`~whybox.inspection.permutation_importance` for ``X``, ``y``,
        ``scoring``, ``n_repeats``; if ``shap_values`` does not have one value per row
        and column of ``X``, or ``permutation`` is not one importance per column of
        ``X``.

    References
    ----------
    .. [1] C. Strobl, A.-L. Boulesteix, A. Zeileis and T. Hothorn, "Bias in random
       forest variable importance measures: illustrations, sources and a solution",
       BMC Bioinformatics 8, 2007.
    .. [2] L. Breiman, "Random Forests", Machine Learning 45, 2001.
    .. [3] S. M. Lundberg et al., "From local explanations to global understanding
       with explainable AI for trees", Nature Machine Intelligence 2, 2020.
    """
    random_state = check_random_state(random_state)
    adapted = prepare_model(model, X)
    given = adapt_data(X, name="X")
    data = adapted.check_data(given, name="X")
    names = data.feature_names
    if permutation is None:
        if scoring is None:
            scoring = "neg_log_loss" if adapted.task == "classification" else "r2"
        perm = permutation_importance(
            adapted, data, y, scoring=scoring, n_repeats=n_repeats, random_state=random_state
        )
    elif not isinstance(permutation, PermutationImportance) or tuple(
        permutation.feature_names
    ) != tuple(names):
        got = getattr(permutation, "feature_names", type(permutation).__name__)
        raise InputError(
            f"permutation must be a PermutationImportance with one feature per column of X "
            f"({list(names)}), got {got!r}; pass the result of "
            "permutation_importance(model, X, y) without feature_groups, or None."
        )
    else:
        perm = permutation
    mdi, mdi_source = impurity_importance(adapted, names)
    shap_space = None
    if shap_values is not None:
        shap, shap_space = _given_shap(shap_values, given.feature_names, names)
        shap_source = "given"
    else:
        shap, shap_source, shap_space = _computed_shap(adapted, data, random_state)
    warnings: list[str] = []
    if mdi is not None:
        warnings += _mdi_warnings(mdi, perm, data, names)
    correlations = _rank_correlations(
        {"mdi": mdi, "permutation": np.asarray(perm.importances_mean), "shap": shap}
    )
    return ImportanceComparison(
        feature_names=tuple(names),
        mdi=mdi,
        mdi_source=mdi_source,
        permutation=perm,
        shap=np.asarray(shap, dtype=np.float64),
        shap_source=shap_source,
        rank_correlation=correlations,
        warnings=tuple(warnings),
        params={
            "scoring": perm.scoring,
            "n_repeats": perm.n_repeats_done,
            "permutation": "given" if permutation is not None else "computed",
            "random_state": json_value(random_state),
            "shap_output_space": shap_space,
            "shap_rows": None if shap_values is not None else min(data.n_samples, MAX_SHAP_ROWS),
        },
    )
