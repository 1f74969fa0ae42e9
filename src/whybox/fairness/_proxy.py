"""Proxy detection: features that predict a sensitive attribute and that the model uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import (
    Result,
    check_confidence_level,
    check_int,
    check_random_state,
    json_value,
    prepare_model,
)
from whybox.adapters import Dataset, adapt_data
from whybox.fairness._sensitive import check_sensitive, is_shap_table, target_position

MAX_SHAP_ROWS = 500
BACKGROUND_ROWS = 100


@dataclass(frozen=True, eq=False)
class ProxyDetection(Result):
    """How well each feature stands in for a sensitive attribute, and how much the model uses it.

    Attributes
    ----------
    sensitive_name : str
    groups : tuple of str
    table : DataFrame, one row per feature (largest proxy strength first)
        ``auc``: out-of-fold ROC AUC of predicting the attribute from the feature alone
        (macro one-vs-rest for more than two groups); ``strength``: ``2 * auc - 1``
        clipped at 0 (0: no information, 1: the attribute itself); ``reliance``: the
        feature's share of the model's mean |SHAP value|; ``gap_<group>``: the mean SHAP
        value of the feature within the group minus over all rows (how much the feature
        moves that group's mean output, in ``output_space`` units); ``flagged``.
    output_auc : float
        How well the model's own output reveals the group: the rank (Mann-Whitney) ROC
        AUC of the output for the group against the rest, oriented so that it is at
        least 0.5 (0.5: no information); for more than two groups the mean of the
        one-vs-rest AUCs. It is the output's own AUC, with nothing fitted.
    output_gap : dict of str to float
        Each group's mean model output minus the overall mean (the sum of its
        ``gap_<group>`` column plus any difference in base values).
    output_space : str
        The units of the SHAP values and gaps.
    flagged : tuple of str
        Features with ``strength >= strength_threshold`` and
        ``reliance >= reliance_threshold``.
    findings : tuple of str
        One plain sentence per flagged feature.
    params : dict
    output_auc_interval : tuple of (float, float)
        The ``confidence_level`` interval of ``output_auc``: DeLong's standard error
        (one-vs-rest AUCs combined by the delta method for more than two groups),
        normal, clipped to [0, 1].
    output_auc_by_group : dict of str to float
        Each group's oriented AUC against the rest (both groups: the same value).
    """

    sensitive_name: str
    groups: tuple[str, ...]
    table: pd.DataFrame
    output_auc: float
    output_gap: dict[str, float]
    output_space: str
    flagged: tuple[str, ...]
    findings: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    output_auc_interval: tuple[float, float] = (float("nan"), float("nan"))
    output_auc_by_group: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The per-feature table."""
        return self.table.copy()


def predictability(
    column: np.ndarray, groups: np.ndarray, *, categorical: bool, cv: int, random_state: Any
) -> float:
    """Out-of-fold ROC AUC of predicting ``groups`` from one column.

    A shallow decision tree (at most 16 leaves, 20 rows per leaf) on the column,
    stratified ``cv``-fold cross-validation; a categorical column is first replaced by
    its level codes in order of each level's group-"first" frequency so a tree splits
    it like a set. Missing values become their own code. More than two groups: the
    macro average of the one-vs-rest AUCs.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier

    labels, y = np.unique(groups, return_inverse=True)
    if categorical:
        codes, uniq = pd.factorize(pd.Series(column, dtype=object), use_na_sentinel=False)
        x = codes.astype(np.float64)[:, None]
    else:
        x = np.asarray(column, dtype=np.float64)
        x = np.where(np.isnan(x), np.nanmin(x) - 1.0 if np.isfinite(x).any() else 0.0, x)[:, None]
    n_splits = int(min(cv, np.bincount(y).min()))
    if n_splits < 2:
        return float("nan")
    proba = np.zeros((len(y), len(labels)))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    for train, test in folds.split(x, y):
        xt = x
        if categorical:
            # order the levels by their training-fold share of the first group: a tree
            # can then put any set of levels with similar shares on one side
            share = np.bincount(
                x[train, 0].astype(int), weights=(y[train] == 0), minlength=len(uniq)
            )
            count = np.bincount(x[train, 0].astype(int), minlength=len(uniq))
            rank = np.argsort(np.argsort(np.where(count > 0, share / np.maximum(count, 1), 0.5)))
            xt = rank[x[:, 0].astype(int)].astype(np.float64)[:, None]
        tree = DecisionTreeClassifier(max_leaf_nodes=16, min_samples_leaf=20, random_state=0)
        tree.fit(xt[train], y[train])
        proba[np.ix_(test, tree.classes_)] = tree.predict_proba(xt[test])
    if len(labels) == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro"))


def rank_auc(
    scores: Any, groups: Any, *, confidence_level: float = 0.95
) -> tuple[float, tuple[float, float], dict[str, float]]:
    """How well ``scores`` reveal ``groups``: oriented rank ROC AUC with DeLong's interval.

    For a group ``g`` against the rest, the AUC is the Mann-Whitney statistic: the
    chance that a row of ``g`` scores above a row of the rest, ties counting one half,
    computed from midranks. It is oriented, ``max(AUC, 1 - AUC)``, since a score that
    is low for a group reveals it as well as a high one. Two groups: that AUC (the
    same for either group). More groups: the mean of the one-vs-rest AUCs.

    The standard error is DeLong's (DeLong, DeLong & Clarke-Pearson 1988) from the
    placement values (Sun & Xu 2014): with ``V10`` each group row's share of the rest
    below it and ``V01`` each other row's share of the group above it,
    ``var = var(V10) / n1 + var(V01) / n0`` (``ddof=1``). For more than two groups each
    row's contributions to the one-vs-rest AUCs are averaged before squaring (the delta
    method for their mean, so their dependence is kept).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        The model's output (any monotone scale gives the same AUC).
    groups : array-like of shape (n_samples,)
        The group of each row; at least two groups.
    confidence_level : float in (0, 1), default=0.95

    Returns
    -------
    auc : float
    interval : tuple of (float, float)
        Normal interval ``auc -+ z * se``, clipped to [0, 1].
    by_group : dict of str to float
        Each group's oriented AUC against the rest.

    Raises
    ------
    InputError
        If ``confidence_level`` is not in (0, 1) or ``scores`` and ``groups`` differ in
        length.
    """
    from scipy.stats import norm, rankdata

    level = check_confidence_level(confidence_level)
    x = np.asarray(scores, dtype=np.float64).ravel()
    labels, y = np.unique(np.asarray(groups), return_inverse=True)
    if y.shape != x.shape:
        raise InputError(
            f"scores and groups must have the same length, got {x.shape[0]} and "
            f"{y.shape[0]}; give one group per score."
        )
    n = x.shape[0]
    r_all = rankdata(x)
    targets = range(1, 2) if len(labels) == 2 else range(len(labels))
    aucs = []
    influence = np.zeros(n)  # each row's term of the (mean) AUC's linearisation
    for g in targets:
        pos = y == g
        n1, n0 = int(pos.sum()), n - int(pos.sum())
        v10 = (r_all[pos] - rankdata(x[pos])) / n0  # share of the rest below (ties 1/2)
        v01 = 1.0 - (r_all[~pos] - rankdata(x[~pos])) / n1  # share of g above
        auc = float(v10.mean())
        sign = 1.0 if auc >= 0.5 else -1.0
        aucs.append(max(auc, 1.0 - auc))
        term = np.empty(n)
        term[pos] = (v10 - auc) / np.sqrt(n1 * max(n1 - 1, 1))
        term[~pos] = (v01 - auc) / np.sqrt(n0 * max(n0 - 1, 1))
        influence += sign * term / len(targets)
    value = float(np.mean(aucs))
    se = float(np.sqrt(np.sum(influence**2)))
    z = float(norm.ppf(0.5 + level / 2.0))
    interval = (max(0.0, value - z * se), min(1.0, value + z * se))
    if len(labels) == 2:
        by_group = {str(g): value for g in labels}
    else:
        by_group = {str(g): a for g, a in zip(labels, aucs, strict=True)}
    return value, interval, by_group


def _shap(model: Any, data: Dataset, shap_values: Any, rng: np.random.Generator) -> tuple:
    """SHAP values (n, d) of the rows used, their row positions and output space."""
    if shap_values is not None:
        if not is_shap_table(shap_values):
            raise InputError(
                "shap_values must be an Explanation of SHAP values with axes (samples, "
                f"features, outputs) for the rows of X, got {type(shap_values).__name__}; pass "
                "whybox.explain(model, X) or leave it out."
            )
        if shap_values.values.shape[:2] != (data.n_samples, data.n_features):
            raise InputError(
                f"shap_values must explain every row and column of X ({data.n_samples} x "
                f"{data.n_features}), got {shap_values.values.shape[:2]}; pass "
                "whybox.explain(model, X)."
            )
        return shap_values, np.arange(data.n_samples)
    from whybox._explain import explain, is_tree_model

    n = data.n_samples
    rows = (
        np.sort(rng.choice(n, MAX_SHAP_ROWS, replace=False)) if n > MAX_SHAP_ROWS else np.arange(n)
    )
    background = None
    if not is_tree_model(model):
        bg = np.sort(rng.choice(n, min(BACKGROUND_ROWS, n), replace=False))
        background = data.take(bg)
    ex = explain(model, data.take(rows), background=background, random_state=rng, progress=False)
    return ex, rows


def proxy_detection(
    model: Any,
    X: Any,
    sensitive_features: Any,
    *,
    shap_values: Explanation | None = None,
    target: Any = None,
    strength_threshold: float = 0.3,
    reliance_threshold: float = 0.05,
    cv: int = 5,
    random_state: Any = 0,
    confidence_level: float = 0.95,
) -> ProxyDetection:
    """Flag features that stand in for a sensitive attribute the model does not see.

    A model denied a protected attribute can still reconstruct it from correlated
    features (a ZIP code standing in for race). A proxy needs two things: the feature
    must *predict* the attribute, and the model must *use* the feature. Each is
    measured separately and both are reported:

    - strength: the out-of-fold ROC AUC of a shallow tree predicting the attribute from
      the feature alone, as ``2 * AUC - 1`` (Gini; 0 = no information);
    - reliance: the feature's share of the model's mean |SHAP value|;
    - the gap: the mean SHAP value of the feature within each group minus over all rows
      (by local accuracy, these add up to the gap in the groups' mean output).

    How well the model's own output reveals the group is its rank ROC AUC for the
    group (``output_auc``, oriented, with DeLong's interval; see :func:`rank_auc`),
    on every row of ``X``.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt, or a :class:`whybox.adapters.Model`.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Rows the model takes (the attribute need not be a column).
    sensitive_features : array-like of shape (n_samples,) or Series
        The group of each row (one sensitive attribute).
    shap_values : Explanation, optional
        SHAP values of every row of ``X`` (axes samples, features, outputs). None:
        computed with :func:`whybox.explain` on up to 500 rows.
    target : str or int, optional
        The output whose SHAP values are used (a class name or position); None: the
        first (for a binary classifier, the positive class).
    strength_threshold : float in [0, 1], default=0.3
        The strength from which a feature counts as a proxy (AUC 0.65).
    reliance_threshold : float in [0, 1], default=0.05
        The share of mean |SHAP value| from which the model counts as using it.
    cv : int, default=5
        Cross-validation folds for the AUCs (>= 2).
    random_state : int, numpy Generator or None, default=0
        Seeds the folds and the rows sampled for SHAP values.
    confidence_level : float in (0, 1), default=0.95
        Level of the interval of ``output_auc``.

    Returns
    -------
    ProxyDetection

    Raises
    ------
    InputError
        A sensitive attribute of the wrong length, with missing values or one group;
        thresholds outside [0, 1]; ``cv`` below 2; SHAP values that do not explain X;
        ``random_state`` or ``confidence_level`` out of range.

    References
    ----------
    .. [1] A. Datta, M. Fredrikson, G. Ko, P. Mardziel and S. Sen, "Use privacy in
       data-driven systems: theory and experiments with machine learnt programs",
       ACM CCS 2017 (proxy use: association with the attribute and influence on the
       output).
    .. [2] S. M. Lundberg and S.-I. Lee, "A unified approach to interpreting model
       predictions", NeurIPS 2017.
    """
    random_state = check_random_state(random_state)
    check_confidence_level(confidence_level)
    for value, name in (
        (strength_threshold, "strength_threshold"),
        (reliance_threshold, "reliance_threshold"),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InputError(f"{name} must be a number in [0, 1], got {value!r}; e.g. {name}=0.3.")
    cv = check_int(cv, "cv", 2, "cv=5")
    m = prepare_model(model, X)
    data = m.check_data(adapt_data(X, name="X"), name="X")
    label, groups = check_sensitive(sensitive_features, data.n_samples)
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31 - 1))
    auc = np.array(
        [
            predictability(
                data.values[:, j],
                groups,
                categorical=bool(data.categorical[j]),
                cv=cv,
                random_state=seed,
            )  # fmt: skip
            for j in range(data.n_features)
        ]
    )
    ex, rows = _shap(m, data, shap_values, rng)
    k = target_position(target, ex.output_names)
    phi = np.asarray(ex.values, dtype=np.float64)[:, :, k]
    out = phi.sum(axis=1) + np.asarray(ex.base_values, dtype=np.float64)[:, k]
    # the output on every row of X (a monotone view of it gives the same AUC)
    score_space = ex.output_space if ex.output_space in m.output_spaces else "raw"
    if shap_values is None or ex.output_names == m.output_names:
        scores, score_groups = m.predict(data, score_space)[:, k], groups
    else:
        scores, score_groups = out, groups[rows]
    output_auc, auc_interval, auc_by_group = rank_auc(
        scores, score_groups, confidence_level=confidence_level
    )
    mean_abs = np.abs(phi).mean(axis=0)
    reliance = mean_abs / mean_abs.sum() if mean_abs.sum() > 0 else np.zeros_like(mean_abs)
    strength = np.clip(2.0 * auc - 1.0, 0.0, None)
    uniq = tuple(str(g) for g in np.unique(groups))
    table = pd.DataFrame(
        {"auc": auc, "strength": strength, "reliance": reliance},
        index=pd.Index(list(data.feature_names), name="feature"),
    )
    g_rows = groups[rows]
    gaps = {}
    for g in uniq:
        table[f"gap_{g}"] = phi[g_rows == g].mean(axis=0) - phi.mean(axis=0)
        gaps[g] = float(out[g_rows == g].mean() - out.mean())
    flagged_mask = (np.nan_to_num(strength) >= strength_threshold) & (
        reliance >= reliance_threshold
    )
    table["flagged"] = flagged_mask
    table = table.sort_values("strength", ascending=False, kind="stable")
    flagged = tuple(table.index[table["flagged"]])
    findings = []
    for feat in flagged:
        row = table.loc[feat]
        worst = min(uniq, key=lambda g: row[f"gap_{g}"])
        findings.append(
            f"{feat!r} predicts {label!r} (out-of-sample AUC {row['auc']:.2f}) and carries "
            f"{row['reliance']:.1%} of the model's mean |SHAP value|; it moves group {worst!r}'s "
            f"mean output by {row[f'gap_{worst}']:+.3g} ({ex.output_space}) against the overall "
            "mean: a likely proxy. Check whether it is a legitimate factor or stands in for the "
            "attribute."
        )
    return ProxyDetection(
        sensitive_name=label,
        groups=uniq,
        table=table,
        output_auc=float(output_auc),
        output_auc_interval=auc_interval,
        output_auc_by_group=auc_by_group,
        output_gap=gaps,
        output_space=ex.output_space,
        flagged=flagged,
        findings=tuple(findings),
        params={
            "strength_threshold": float(strength_threshold),
            "reliance_threshold": float(reliance_threshold),
            "cv": int(cv),
            "random_state": json_value(random_state),
            "shap": "given" if shap_values is not None else ex.method,
            "shap_rows": int(len(rows)),
            "target": ex.output_names[k],
            "confidence_level": float(confidence_level),
            "output_auc_method": "rank AUC (Mann-Whitney), oriented; DeLong interval",
        },
    )
