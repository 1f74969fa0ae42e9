"""One internal representation of tree ensembles, and the parsers that build it.

Every supported tree model (scikit-learn trees, forests and gradient boosting,
XGBoost, LightGBM) is turned into a :class:`TreeEnsemble`: padded arrays over trees
that the TreeSHAP kernels read without knowing where the trees came from. This module
is the only one in ``whybox.shapley.tree`` that knows the model libraries' formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError

#: Missing-value rules of a split (``TreeEnsemble.missing_rule``).
MISSING_NAN = 0  # NaN goes to the default child; everything else is compared
MISSING_ZERO = 1  # LightGBM "Zero": NaN and |x| <= 1e-35 go to the default child
MISSING_NONE = 2  # LightGBM "None": NaN is read as 0.0, then compared
SPLIT_CATEGORICAL = 3  # LightGBM "==": category int(x) in the set goes left; NaN, < 0, unseen right
SPLIT_CATEGORICAL_RIGHT = 4  # XGBoost: category int(x) in the set goes right; NaN to the default
#: child; negative and every other category go left
SPLIT_CATEGORICAL_DEFAULT = 5  # HistGradientBoosting, on encoded categories: category in the
#: set goes left, every other known category right; NaN (missing or unknown) to the default
CATEGORICAL_RULES = (SPLIT_CATEGORICAL, SPLIT_CATEGORICAL_RIGHT, SPLIT_CATEGORICAL_DEFAULT)

_SUPPORTED = (
    "scikit-learn DecisionTreeRegressor/Classifier, ExtraTreeRegressor/Classifier, "
    "RandomForestRegressor/Classifier, ExtraTreesRegressor/Classifier, "
    "GradientBoostingRegressor/Classifier, HistGradientBoostingRegressor/Classifier, "
    "XGBoost XGBRegressor/XGBClassifier/Booster (gbtree, dart) and "
    "LightGBM LGBMRegressor/LGBMClassifier/Booster and "
    "CatBoost CatBoostRegressor/CatBoostClassifier (symmetric trees, float features)"
)


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """Tree ensemble as padded arrays over trees, whatever library it came from.

    The model's raw output for a row ``x`` is
    ``base_offset[k] + sum over trees t feeding output k of values[t, leaf_t(x), k]``,
    where ``leaf_t(x)`` is the leaf reached by following the splits from node 0.

    Parameters
    ----------
    children_left, children_right : ndarray of shape (n_trees, max_nodes), int32
        Child node indices; ``-1`` at leaves and at padding.
    features : ndarray of shape (n_trees, max_nodes), int32
        The feature each internal node splits on; ``-1`` at leaves and padding.
    thresholds : ndarray of shape (n_trees, max_nodes), float64
        The split thresholds (for XGBoost the float32 value, stored exactly).
    default_left : ndarray of shape (n_trees, max_nodes), bool
        Where a missing value (NaN) goes: True for the left child.
    missing_rule : ndarray of shape (n_trees, max_nodes), int8
        ``0``: NaN goes to the default child; ``1`` (LightGBM "Zero"): NaN and zero go
        to the default child; ``2`` (LightGBM "None"): NaN is read as 0.0.
        ``3``: a categorical split (LightGBM ``"=="``): the row goes left when its
        category ``int(x)`` (truncated) is in ``category_sets[int(threshold)]``;
        NaN, negative and unseen categories go right. ``4`` (XGBoost): the row goes
        *right* when ``int(x)`` is in the set; NaN goes to the default child, negative
        and every other category left. ``5`` (HistGradientBoosting, applied to the
        category's position in ``encoded_categories``): in the set goes left, any other
        known category right, NaN (missing or unknown category) to the default child.
    covers : ndarray of shape (n_trees, max_nodes), float64
        The node cover: the training sample weight (scikit-learn, LightGBM counts) or
        the hessian sum (XGBoost) that reached the node; 0 at padding.
    values : ndarray of shape (n_trees, max_nodes, n_outputs), float64
        Leaf values in the raw output space (learning rate and forest averaging already
        applied); 0 at internal nodes and padding. A tree that feeds a single output
        holds its values in that output's column only.
    tree_output : ndarray of shape (n_trees,), int32
        The output each tree adds to, or ``-1`` when it adds to every output
        (forest classifiers, whose leaves hold one probability per class).
    base_offset : ndarray of shape (n_outputs,), float64
        The model's base score in the raw output space (margin).
    n_features : int
        The number of input columns.
    strict_less : bool
        The decision rule: ``x < threshold`` goes left (XGBoost) when True,
        ``x <= threshold`` goes left (scikit-learn, LightGBM) when False.
    float32_input : bool
        True when the library compares the input cast to float32 (scikit-learn trees
        and forests, XGBoost); the kernels then cast rows the same way.
    family : str
        Where the ensemble came from, e.g. ``"sklearn.RandomForestClassifier"``.
    category_sets : ndarray of shape (n_sets, n_categories), bool, optional
        The categories of each categorical split (rules ``3`` to ``5``).
    encoded_categories : dict of int to ndarray, optional
        For models that encode categorical columns themselves (HistGradientBoosting):
        input column -> its known category values in the model's order. Rows are
        compared through :meth:`encode`, which replaces such a column's value by its
        position in that list (NaN when missing or unknown).
    category_levels : dict of int to ndarray, optional
        For LightGBM models trained on pandas category columns: input column -> the
        categories whose positions are the codes the trees read (LightGBM's
        ``pandas_categorical``). A column given as categories rather than codes is
        mapped through it by :meth:`category_codes`, as LightGBM's own ``predict`` does.
    missing_value : float, default=NaN
        A value the library reads as missing besides NaN (XGBoost's ``missing=``):
        :meth:`encode` turns it into NaN, comparing in float32 when ``float32_input``
        as XGBoost compares the float32 value with the float32 ``missing``.
    """

    children_left: np.ndarray
    children_right: np.ndarray
    features: np.ndarray
    thresholds: np.ndarray
    default_left: np.ndarray
    missing_rule: np.ndarray
    covers: np.ndarray
    values: np.ndarray
    tree_output: np.ndarray
    base_offset: np.ndarray
    n_features: int
    strict_less: bool
    float32_input: bool
    family: str
    category_sets: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=bool))
    encoded_categories: dict[int, np.ndarray] = field(default_factory=dict)
    category_levels: dict[int, np.ndarray] = field(default_factory=dict)
    missing_value: float = float("nan")

    def __post_init__(self) -> None:
        shape = self.children_left.shape
        if len(shape) != 2:
            raise InputError(f"children_left must be 2-D (n_trees, max_nodes), got {shape}.")
        for name in (
            "children_right",
            "features",
            "thresholds",
            "default_left",
            "missing_rule",
            "covers",
        ):
            if getattr(self, name).shape != shape:
                raise InputError(
                    f"{name} has shape {getattr(self, name).shape} but children_left has "
                    f"{shape}; give every node array the shape (n_trees, max_nodes)."
                )
        if self.values.ndim != 3 or self.values.shape[:2] != shape:
            raise InputError(
                f"values must have shape (n_trees, max_nodes, n_outputs) = {shape + ('k',)}, "
                f"got {self.values.shape}."
            )
        if self.tree_output.shape != (shape[0],):
            raise InputError(
                f"tree_output must have shape ({shape[0]},), got {self.tree_output.shape}."
            )
        if self.base_offset.shape != (self.values.shape[2],):
            raise InputError(
                f"base_offset must have shape ({self.values.shape[2]},), "
                f"got {self.base_offset.shape}."
            )
        if np.any(self.covers < 0) or not np.all(np.isfinite(self.covers)):
            raise InputError("covers must be finite and non-negative; check the tree covers.")
        cat = np.isin(self.missing_rule, CATEGORICAL_RULES)
        if np.any(cat) and (
            self.category_sets.ndim != 2
            or np.any(self.thresholds[cat] < 0)
            or np.any(self.thresholds[cat] >= len(self.category_sets))
        ):
            raise InputError(
                "a categorical split points outside category_sets; give one row of "
                "category_sets per set and its index as the split's threshold."
            )
        if np.any(self.features >= self.n_features):
            raise InputError(
                f"a split uses feature {int(self.features.max())} but n_features is "
                f"{self.n_features}; give the model's number of columns."
            )

    @property
    def categorical_features(self) -> np.ndarray:
        """The input columns some split reads as a category, sorted (int64)."""
        cat = np.isin(self.missing_rule, CATEGORICAL_RULES) & (self.children_left >= 0)
        return np.unique(self.features[cat]).astype(np.int64)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Rows as the kernels read them, float64 of shape (n_samples, n_features).

        Columns in ``encoded_categories`` become the position of their value among
        the known categories (NaN when missing or unknown), as the model's own
        encoder does; every other column is read as a number. Values equal to
        ``missing_value`` become NaN.

        Raises
        ------
        InputError
            If a column that the model reads as a number holds text.
        """
        X = np.asarray(X)
        if not self.encoded_categories:
            return self._mark_missing(X.astype(np.float64, copy=False))
        import pandas as pd

        out = np.empty(X.shape, dtype=np.float64)
        for j in range(X.shape[1]):
            cats = self.encoded_categories.get(j)
            if cats is None:
                out[:, j] = X[:, j].astype(np.float64)
                continue
            col = X[:, j]
            if cats.dtype != object:
                col = pd.to_numeric(pd.Series(col, dtype=object), errors="coerce").to_numpy()
            codes = pd.Index(cats).get_indexer(col)
            out[:, j] = np.where(codes >= 0, codes, np.nan)
        return self._mark_missing(out)

    def category_codes(self, column: int, values: np.ndarray) -> np.ndarray:
        """Category values of a column in ``category_levels`` as the codes the trees read.

        A value's code is its position among the column's categories; missing and
        unknown values become NaN, as LightGBM's ``predict`` reads a pandas category
        column (``cat.set_categories(...).cat.codes``, -1 to NaN).
        """
        from whybox.adapters._model import category_codes

        return category_codes(values, self.category_levels[column])

    def _mark_missing(self, X: np.ndarray) -> np.ndarray:
        """``X`` with ``missing_value`` replaced by NaN (a copy only when one is set)."""
        if np.isnan(self.missing_value):
            return X
        if self.float32_input:
            hit = X.astype(np.float32) == np.float32(self.missing_value)
        else:
            hit = X == self.missing_value
        return np.where(hit, np.nan, X)

    @property
    def n_trees(self) -> int:
        return self.children_left.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.values.shape[2]

    @property
    def max_depth(self) -> int:
        """The depth of the deepest tree (a single leaf has depth 0)."""
        deepest = 0
        for t in range(self.n_trees):
            stack = [(0, 0)]
            while stack:
                node, depth = stack.pop()
                left = self.children_left[t, node]
                if left < 0:
                    deepest = max(deepest, depth)
                else:
                    stack.append((int(left), depth + 1))
                    stack.append((int(self.children_right[t, node]), depth + 1))
        return deepest


# ---------------------------------------------------------------------- building
def _pad(
    trees: list[dict[str, np.ndarray]],
    tree_output: list[int],
    n_outputs: int,
    base_offset: np.ndarray,
    *,
    n_features: int,
    strict_less: bool,
    float32_input: bool,
    family: str,
    category_sets: list[set[int]] | None = None,
    encoded_categories: dict[int, np.ndarray] | None = None,
    category_levels: dict[int, np.ndarray] | None = None,
    missing_value: float = float("nan"),
) -> TreeEnsemble:
    """Stack per-tree arrays (each with ``value`` of shape (n_nodes, n_outputs or 1))."""
    n_trees = len(trees)
    max_nodes = max(len(t["left"]) for t in trees)
    left = np.full((n_trees, max_nodes), -1, dtype=np.int32)
    right = np.full((n_trees, max_nodes), -1, dtype=np.int32)
    feat = np.full((n_trees, max_nodes), -1, dtype=np.int32)
    thr = np.zeros((n_trees, max_nodes), dtype=np.float64)
    dleft = np.zeros((n_trees, max_nodes), dtype=bool)
    rule = np.zeros((n_trees, max_nodes), dtype=np.int8)
    cover = np.zeros((n_trees, max_nodes), dtype=np.float64)
    values = np.zeros((n_trees, max_nodes, n_outputs), dtype=np.float64)
    for i, (t, out) in enumerate(zip(trees, tree_output, strict=True)):
        n = len(t["left"])
        is_leaf = np.asarray(t["left"]) < 0
        left[i, :n] = t["left"]
        right[i, :n] = t["right"]
        feat[i, :n] = np.where(is_leaf, -1, t["feature"])
        thr[i, :n] = np.where(is_leaf, 0.0, t["threshold"])
        dleft[i, :n] = t["default_left"]
        rule[i, :n] = t.get("missing_rule", MISSING_NAN)
        cover[i, :n] = t["cover"]
        v = np.where(is_leaf[:, None], np.asarray(t["value"], dtype=np.float64).reshape(n, -1), 0)
        if out >= 0:
            values[i, :n, out] = v[:, 0]
        else:
            values[i, :n, :] = v
    sets = category_sets or []
    width = max((max(c) + 1 for c in sets if c), default=1)
    cats = np.zeros((len(sets), width), dtype=bool)
    for i, c in enumerate(sets):
        cats[i, sorted(c)] = True
    return TreeEnsemble(
        children_left=left,
        children_right=right,
        features=feat,
        thresholds=thr,
        default_left=dleft,
        missing_rule=rule,
        covers=cover,
        values=values,
        tree_output=np.asarray(tree_output, dtype=np.int32),
        base_offset=np.asarray(base_offset, dtype=np.float64).reshape(n_outputs),
        n_features=int(n_features),
        strict_less=strict_less,
        float32_input=float32_input,
        family=family,
        category_sets=cats,
        encoded_categories=encoded_categories or {},
        category_levels=category_levels or {},
        missing_value=float(missing_value),
    )


# ---------------------------------------------------------------------- scikit-learn
def _sklearn_tree(tree: Any, value: np.ndarray, scale: float = 1.0) -> dict[str, np.ndarray]:
    missing = getattr(tree, "missing_go_to_left", None)
    n = tree.node_count
    return {
        "left": np.asarray(tree.children_left),
        "right": np.asarray(tree.children_right),
        "feature": np.asarray(tree.feature),
        "threshold": np.asarray(tree.threshold, dtype=np.float64),
        "default_left": np.zeros(n, bool) if missing is None else np.asarray(missing, bool),
        "cover": np.asarray(tree.weighted_n_node_samples, dtype=np.float64),
        "value": value * scale,
    }


def _single_output(est: Any) -> None:
    if getattr(est, "n_outputs_", 1) != 1:
        raise UnsupportedModelError(
            f"{type(est).__name__} was fitted on {est.n_outputs_} targets but TreeExplainer "
            "explains single-target models; fit one model per target."
        )


def _parse_sklearn_forest(est: Any, trees: list[Any], classifier: bool) -> TreeEnsemble:
    _single_output(est)
    scale = 1.0 / len(trees)
    parsed = []
    for t in trees:
        tree = t.tree_
        if classifier:
            v = np.asarray(tree.value[:, 0, :], dtype=np.float64)
            total = v.sum(axis=1, keepdims=True)
            v = np.divide(v, total, out=np.zeros_like(v), where=total > 0)
            if v.shape[1] == 2:
                v = v[:, 1:]
        else:
            v = np.asarray(tree.value[:, 0, :1], dtype=np.float64)
        parsed.append(_sklearn_tree(tree, v, scale))
    k = parsed[0]["value"].shape[1]
    return _pad(
        parsed,
        [-1] * len(parsed),
        k,
        np.zeros(k),
        n_features=est.n_features_in_,
        strict_less=False,
        float32_input=True,
        family=f"sklearn.{type(est).__name__}",
    )


def _parse_sklearn_gb(est: Any) -> TreeEnsemble:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    init = est.init_
    if not (init == "zero" or isinstance(init, (DummyClassifier, DummyRegressor))):
        raise UnsupportedModelError(
            f"{type(est).__name__} uses the init estimator {type(init).__name__}, whose "
            "prediction varies by row; TreeExplainer needs a constant start, so fit it with "
            "init=None or init='zero'."
        )
    n_stages, k = est.estimators_.shape
    offset = np.asarray(
        est._raw_predict_init(np.zeros((1, est.n_features_in_), dtype=np.float32)),
        dtype=np.float64,
    ).reshape(k)
    parsed, outputs = [], []
    for stage in range(n_stages):
        for j in range(k):
            tree = est.estimators_[stage, j].tree_
            parsed.append(_sklearn_tree(tree, tree.value[:, 0, :1], est.learning_rate))
            outputs.append(j)
    return _pad(
        parsed,
        outputs,
        k,
        offset,
        n_features=est.n_features_in_,
        strict_less=False,
        float32_input=True,
        family=f"sklearn.{type(est).__name__}",
    )


def _parse_sklearn_hgb(est: Any) -> TreeEnsemble:
    link = type(getattr(getattr(est, "_loss", None), "link", None)).__name__
    if type(est).__name__.startswith("HistGradientBoostingRegressor") and link not in (
        "IdentityLink",
        "NoneType",
    ):
        raise UnsupportedModelError(
            f"HistGradientBoostingRegressor with loss={est.loss!r} predicts through a "
            f"non-identity link ({link}) that TreeExplainer does not model yet; use "
            "loss='squared_error', 'absolute_error' or 'quantile', or another explainer."
        )
    columns, encoded = _hgb_columns(est)
    k = est.n_trees_per_iteration_
    parsed, outputs, sets = [], [], []
    for predictors in est._predictors:
        for j, predictor in enumerate(predictors):
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            threshold = nodes["num_threshold"].astype(np.float64)
            rule = np.full(len(nodes), MISSING_NAN, dtype=np.int8)
            # a categorical split holds the left-going categories (as the encoder
            # numbers them) in a 256-bit set; its threshold becomes that set's index
            bitsets = predictor.raw_left_cat_bitsets
            for node in np.flatnonzero(nodes["is_categorical"].astype(bool) & ~leaf):
                words = bitsets[nodes["bitset_idx"][node]].astype(np.uint64)
                bits = (words[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)
                sets.append(set(np.flatnonzero(bits.ravel()).tolist()))
                threshold[node] = float(len(sets) - 1)
                rule[node] = SPLIT_CATEGORICAL_DEFAULT
            parsed.append(
                {
                    "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
                    "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
                    "feature": columns[nodes["feature_idx"].astype(np.int64)],
                    "threshold": threshold,
                    "default_left": nodes["missing_go_to_left"].astype(bool),
                    "missing_rule": rule,
                    "cover": nodes["count"].astype(np.float64),
                    "value": nodes["value"][:, None],
                }
            )
            outputs.append(j)
    offset = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(k)
    return _pad(
        parsed,
        outputs,
        k,
        offset,
        n_features=est.n_features_in_,
        strict_less=False,
        float32_input=False,
        family=f"sklearn.{type(est).__name__}",
        category_sets=sets,
        encoded_categories=encoded,
    )


def _hgb_columns(est: Any) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Where each column HistGradientBoosting's trees read comes from, and its categories.

    With categorical features the model encodes them with an ``OrdinalEncoder`` and
    moves them first; the trees' feature indices refer to that order.

    Returns
    -------
    columns : ndarray of shape (n_features,), int64
        The input column of each column the trees read.
    encoded : dict of int to ndarray
        Input column of each categorical feature -> its known categories, in the
        encoder's order (the split sets number them by position).
    """
    n = est.n_features_in_
    is_cat = getattr(est, "is_categorical_", None)
    pre = getattr(est, "_preprocessor", None)
    if pre is None or is_cat is None or not np.any(is_cat):
        return np.arange(n, dtype=np.int64), {}
    cat_cols = np.flatnonzero(is_cat)
    columns = np.concatenate([cat_cols, np.flatnonzero(~is_cat)]).astype(np.int64)
    encoder = pre.named_transformers_["encoder"]
    encoded = {}
    for col, cats in zip(cat_cols, encoder.categories_, strict=True):
        cats = np.asarray(cats)
        if len(cats) and _is_missing(cats[-1]):  # the encoder lists NaN last
            cats = cats[:-1]
        encoded[int(col)] = cats.astype(np.float64) if cats.dtype.kind in "biuf" else cats
    return columns, encoded


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _parse_sklearn(est: Any) -> TreeEnsemble | None:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree, DecisionTreeClassifier

    if isinstance(est, BaseDecisionTree):
        return _parse_sklearn_forest(est, [est], isinstance(est, DecisionTreeClassifier))
    if isinstance(est, (RandomForestClassifier, ExtraTreesClassifier)):
        return _parse_sklearn_forest(est, est.estimators_, True)
    if isinstance(est, (RandomForestRegressor, ExtraTreesRegressor)):
        return _parse_sklearn_forest(est, est.estimators_, False)
    if isinstance(est, (GradientBoostingClassifier, GradientBoostingRegressor)):
        return _parse_sklearn_gb(est)
    if isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return _parse_sklearn_hgb(est)
    return None


# ---------------------------------------------------------------------- XGBoost
_XGB_LOGIT = ("binary:logistic", "reg:logistic")  # binary:logitraw stores a margin
_XGB_LOG = ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox")


def _xgb_base_margin(base_score: str, objective: str, k: int) -> np.ndarray:
    """The base score of the saved config, converted to the margin."""
    text = base_score.strip().strip("[]")
    base = np.array([float(v) for v in text.split(",")], dtype=np.float64)
    if objective in _XGB_LOGIT:
        base = np.log(base) - np.log1p(-base)
    elif objective in _XGB_LOG:
        base = np.log(base)
    if base.size == 1 and k > 1:
        base = np.repeat(base, k)
    if base.size != k:
        raise UnsupportedModelError(
            f"the XGBoost base_score has {base.size} values for {k} outputs; whybox cannot "
            "read this model's intercept."
        )
    return base


def _xgb_kept_trees(gb_model: dict, n_trees: int, k: int, end: int) -> int:
    """How many of the model's trees make up its first ``end`` boosting rounds.

    ``iteration_indptr`` (XGBoost 2.0 and later) holds where each round's trees start;
    older files have ``k * num_parallel_tree`` trees per round (``k`` outputs).
    ``end == 0`` keeps every tree.
    """
    if end <= 0:
        return n_trees
    indptr = gb_model.get("iteration_indptr")
    if indptr:
        return int(indptr[min(end, len(indptr) - 1)])
    param = gb_model.get("gbtree_model_param", {})
    parallel = max(1, int(param.get("num_parallel_tree", "1") or 1))
    return min(n_trees, end * k * parallel)


def _parse_xgboost(model: Any) -> TreeEnsemble:
    from whybox.adapters._model import xgboost_predict_settings

    booster = model.get_booster() if hasattr(model, "get_booster") else model
    missing, (_, end) = xgboost_predict_settings(model)
    raw = json.loads(booster.save_raw("json"))
    learner = raw["learner"]
    gb = learner["gradient_booster"]
    kind = gb.get("name", "gbtree")
    if kind == "dart":
        weights = np.asarray(gb["weight_drop"], dtype=np.float64)
        gb_model = gb["gbtree"]["model"]
    elif kind == "gbtree":
        gb_model = gb["model"]
        weights = None
    else:
        raise UnsupportedModelError(
            f"the XGBoost booster {kind!r} has no trees; TreeExplainer explains the 'gbtree' "
            "and 'dart' boosters (use whybox.LinearExplainer or ExactExplainer for gblinear)."
        )
    objective = learner["objective"]["name"]
    params = learner["learner_model_param"]
    k = max(int(params.get("num_class", "0") or 0), int(params.get("num_target", "1") or 1), 1)
    n_features = int(params["num_feature"])
    trees_json = gb_model["trees"]
    if not trees_json:
        raise UnsupportedModelError("the XGBoost model has no trees; train it first.")
    # the trees its predict uses: after early stopping, the rounds up to best_iteration
    trees_json = trees_json[: _xgb_kept_trees(gb_model, len(trees_json), k, end)]
    parsed, outputs, sets = [], [], []
    for i, t in enumerate(trees_json):
        if int(t["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise UnsupportedModelError(
                "the XGBoost model has vector-leaf trees (multi_strategy='multi_output_tree'), "
                "which TreeExplainer does not support; train with "
                "multi_strategy='one_output_per_tree'."
            )
        left = np.asarray(t["left_children"], dtype=np.int64)
        cond = np.asarray(t["split_conditions"], dtype=np.float32).astype(np.float64)
        threshold = cond.copy()
        rule = np.full(left.shape, MISSING_NAN, dtype=np.int8)
        # categorical splits: the node's categories (which go right) are a segment of
        # one flat list; the split's threshold becomes the index of its set
        segments = zip(
            t.get("categories_nodes", []),
            t.get("categories_segments", []),
            t.get("categories_sizes", []),
            strict=True,
        )
        for node, start, size in segments:
            sets.append({int(c) for c in t["categories"][int(start) : int(start) + int(size)]})
            threshold[int(node)] = float(len(sets) - 1)
            rule[int(node)] = SPLIT_CATEGORICAL_RIGHT
        split_type = np.asarray(t.get("split_type", []), dtype=np.int64)
        if split_type.size and np.any((split_type != 0) & (rule != SPLIT_CATEGORICAL_RIGHT)):
            raise UnsupportedModelError(
                "the XGBoost model has a categorical split without its category list; "
                "whybox cannot read it (save the model with XGBoost 1.6 or later)."
            )
        scale = 1.0 if weights is None else weights[i]
        parsed.append(
            {
                "left": left,
                "right": np.asarray(t["right_children"], dtype=np.int64),
                "feature": np.asarray(t["split_indices"], dtype=np.int64),
                "threshold": threshold,
                "default_left": np.asarray(t["default_left"], dtype=bool),
                "missing_rule": rule,
                "cover": np.asarray(t["sum_hessian"], dtype=np.float64),
                "value": (cond * scale)[:, None],
            }
        )
        outputs.append(int(gb_model["tree_info"][i]) if k > 1 else 0)
    base = _xgb_base_margin(params["base_score"], objective, k)
    return _pad(
        parsed,
        outputs,
        k,
        base,
        n_features=n_features,
        strict_less=True,
        float32_input=True,
        family=f"xgboost.{type(model).__name__}",
        category_sets=sets,
        missing_value=missing,
    )


# ---------------------------------------------------------------------- LightGBM
_LGB_MISSING = {"NaN": MISSING_NAN, "Zero": MISSING_ZERO, "None": MISSING_NONE}


def _parse_lightgbm(model: Any) -> TreeEnsemble:
    from whybox.adapters._model import lightgbm_category_levels

    booster = model.booster_ if hasattr(model, "booster_") else model
    dump = booster.dump_model()
    names = dump.get("feature_names") or []
    k = int(dump.get("num_tree_per_iteration", 1))
    infos = dump["tree_info"]
    if not infos:
        raise UnsupportedModelError("the LightGBM model has no trees; train it first.")
    # boosting="rf" (average_output): LightGBM's raw score and pred_contrib are the sum
    # over trees, not the average that predict() returns; like the Model adapter, whybox
    # explains that raw score, so leaves are not rescaled here.
    parsed, outputs, sets = [], [], []
    for i, info in enumerate(infos):
        left, right, feat, thr, dleft, rule, cover, value = [], [], [], [], [], [], [], []
        stack = [(info["tree_structure"], -1, False)]
        while stack:
            node, parent, is_right = stack.pop()
            idx = len(left)
            if parent >= 0:
                (right if is_right else left)[parent] = idx
            left.append(-1)
            right.append(-1)
            if "split_feature" in node:
                f = int(node["split_feature"])
                decision = node.get("decision_type", "<=")
                if decision == "==":
                    sets.append({int(c) for c in str(node["threshold"]).split("||") if c})
                    thr.append(float(len(sets) - 1))
                    rule.append(SPLIT_CATEGORICAL)
                elif decision == "<=":
                    thr.append(float(node["threshold"]))
                    rule.append(_LGB_MISSING[node.get("missing_type", "None")])
                else:
                    fname = names[f] if f < len(names) else f"Column_{f}"
                    raise UnsupportedModelError(
                        f"the LightGBM model splits feature {fname!r} with the decision type "
                        f"{decision!r}, which TreeExplainer does not read; whybox reads '<=' "
                        "and '==' (categorical) splits."
                    )
                feat.append(f)
                dleft.append(bool(node["default_left"]))
                cover.append(float(node["internal_count"]))
                value.append(0.0)
                stack.append((node["right_child"], idx, True))
                stack.append((node["left_child"], idx, False))
            else:
                if "leaf_coeff" in node or "leaf_features" in node:
                    raise UnsupportedModelError(
                        "the LightGBM model has linear trees (linear_tree=True), which "
                        "TreeExplainer does not support; train with linear_tree=False."
                    )
                feat.append(-1)
                thr.append(0.0)
                dleft.append(False)
                rule.append(MISSING_NAN)
                cover.append(float(node.get("leaf_count", 1.0)))
                value.append(float(node["leaf_value"]))
        parsed.append(
            {
                "left": np.asarray(left),
                "right": np.asarray(right),
                "feature": np.asarray(feat),
                "threshold": np.asarray(thr),
                "default_left": np.asarray(dleft),
                "missing_rule": np.asarray(rule),
                "cover": np.asarray(cover),
                "value": np.asarray(value)[:, None],
            }
        )
        outputs.append(i % k)
    return _pad(
        parsed,
        outputs,
        k,
        np.zeros(k),
        n_features=int(dump["max_feature_idx"]) + 1,
        strict_less=False,
        float32_input=False,
        family=f"lightgbm.{type(model).__name__}",
        category_sets=sets,
        category_levels=lightgbm_category_levels(booster),
    )


# ---------------------------------------------------------------------- CatBoost
_CATBOOST_NAMES = ("CatBoostRegressor", "CatBoostClassifier", "CatBoost")


def _catboost_json(model: Any) -> dict:
    import os
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        model.save_model(path, format="json")
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    finally:
        os.remove(path)


def _parse_catboost(model: Any) -> TreeEnsemble:
    """CatBoost's oblivious trees, unfolded into ordinary binary trees.

    An oblivious tree of depth ``d`` asks ``x[f_i] > border_i`` for each of its ``d``
    splits; answer ``i`` is bit ``i`` of the leaf index. Unfolded as CatBoost itself
    reads it (the last split at the root, so the path from the root spells the leaf
    index from its highest bit), level ``l`` holds ``2**l`` nodes asking split
    ``d - 1 - l``, a row goes right when the answer is yes, node ``j`` of the last level
    is leaf ``j``, and a node's cover is the summed training weight of its leaves.
    The level order does not change predictions, but it does change path-dependent
    SHAP values (the covers met on the way down), so it follows CatBoost's.
    """
    raw = _catboost_json(model)
    if "oblivious_trees" not in raw:
        raise UnsupportedModelError(
            "the CatBoost model has non-symmetric trees (grow_policy='Depthwise' or "
            "'Lossguide'), which TreeExplainer does not read; train with "
            "grow_policy='SymmetricTree' (the default)."
        )
    info = raw.get("features_info", {})
    if info.get("categorical_features") or info.get("text_features"):
        raise UnsupportedModelError(
            "the CatBoost model has categorical or text features, whose splits (one-hot "
            "and CTR statistics) TreeExplainer does not read; give them to CatBoost as "
            "numeric codes, or use whybox.PermutationExplainer."
        )
    floats = info.get("float_features", [])
    nan_left = {
        int(f["flat_feature_index"]): f.get("nan_value_treatment", "AsIs") != "AsTrue"
        for f in floats
    }
    n_features = max((int(f["flat_feature_index"]) + 1 for f in floats), default=0)
    n_features = max(n_features, len(getattr(model, "feature_names_", None) or ()))
    scale, bias = raw.get("scale_and_bias", [1.0, [0.0]])
    bias = np.atleast_1d(np.asarray(bias, dtype=np.float64))
    trees = raw["oblivious_trees"]
    k = max(1, len(trees[0]["leaf_values"]) // max(1, len(trees[0]["leaf_weights"])))
    if bias.size == 1 and k > 1:
        bias = np.repeat(bias, k)
    parsed = []
    for tree in trees:
        splits = tree.get("splits", [])
        for split in splits:
            if split.get("split_type", "FloatFeature") != "FloatFeature":
                raise UnsupportedModelError(
                    f"the CatBoost model has a {split.get('split_type')!r} split; "
                    "TreeExplainer reads float-feature splits only."
                )
        depth = len(splits)
        weights = np.asarray(tree["leaf_weights"], dtype=np.float64)
        leaf_values = np.asarray(tree["leaf_values"], dtype=np.float64).reshape(2**depth, k)
        # nodes in breadth-first order: level i starts at 2**i - 1; node j of a level
        # has children 2 j and 2 j + 1 of the next; the leaf index's bit i is level i's
        # answer, so the leaf reached by path bits b_0..b_{d-1} is sum b_i 2**i
        n_nodes = 2 ** (depth + 1) - 1
        left = np.full(n_nodes, -1, dtype=np.int64)
        right = np.full(n_nodes, -1, dtype=np.int64)
        feature = np.full(n_nodes, -1, dtype=np.int64)
        threshold = np.zeros(n_nodes)
        dleft = np.zeros(n_nodes, dtype=bool)
        cover = np.zeros(n_nodes)
        value = np.zeros((n_nodes, k))
        for level in range(depth + 1):
            first = 2**level - 1
            span = 2 ** (depth - level)  # leaves under a node of this level
            for j in range(2**level):
                node = first + j
                cover[node] = weights[j * span : (j + 1) * span].sum()
                if level == depth:
                    value[node] = leaf_values[j] * scale
                    continue
                split = splits[depth - 1 - level]
                f = int(split["float_feature_index"])
                flat = int(floats[f]["flat_feature_index"]) if f < len(floats) else f
                left[node] = 2 ** (level + 1) - 1 + 2 * j
                right[node] = left[node] + 1
                feature[node] = flat
                threshold[node] = float(np.float32(split["border"]))
                dleft[node] = nan_left.get(flat, True)
        parsed.append(
            {
                "left": left,
                "right": right,
                "feature": feature,
                "threshold": threshold,
                "default_left": dleft,
                "cover": cover,
                "value": value,
            }
        )
    return _pad(
        parsed,
        [-1] * len(parsed),
        k,
        bias,
        n_features=n_features,
        strict_less=False,
        float32_input=True,
        family=f"catboost.{type(model).__name__}",
    )


# ---------------------------------------------------------------------- dispatch
def _estimator_of(model: Any) -> Any:
    from whybox.adapters import Model

    return model.estimator if isinstance(model, Model) else model


def is_tree_model(model: Any) -> bool:
    """True when ``model`` is of a type :func:`parse_ensemble` reads (fitted or not)."""
    est = _estimator_of(model)
    module = type(est).__module__.split(".")[0]
    name = type(est).__name__
    if module == "xgboost":
        return name in (
            "XGBRegressor",
            "XGBClassifier",
            "XGBRFRegressor",
            "XGBRFClassifier",
            "Booster",
        )
    if module == "lightgbm":
        return name in ("LGBMRegressor", "LGBMClassifier", "Booster")
    if module == "catboost":
        return name in _CATBOOST_NAMES
    if module == "sklearn":
        from sklearn.ensemble import (
            ExtraTreesClassifier,
            ExtraTreesRegressor,
            GradientBoostingClassifier,
            GradientBoostingRegressor,
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
            RandomForestClassifier,
            RandomForestRegressor,
        )
        from sklearn.tree import BaseDecisionTree

        return isinstance(
            est,
            (
                BaseDecisionTree,
                RandomForestClassifier,
                RandomForestRegressor,
                ExtraTreesClassifier,
                ExtraTreesRegressor,
                GradientBoostingClassifier,
                GradientBoostingRegressor,
                HistGradientBoostingClassifier,
                HistGradientBoostingRegressor,
            ),
        )
    return False


def parse_ensemble(model: Any) -> TreeEnsemble:
    """Read a fitted tree model into a :class:`TreeEnsemble`.

    Parameters
    ----------
    model : object
        A fitted scikit-learn tree, forest or gradient-boosting estimator, an XGBoost
        ``XGBRegressor``/``XGBClassifier``/``Booster``, a LightGBM
        ``LGBMRegressor``/``LGBMClassifier``/``Booster``, or a whybox ``Model``
        wrapping one of them.

    Returns
    -------
    TreeEnsemble
        Its leaves add up, with ``base_offset``, to the model's native output: the
        raw margin for boosting (log-odds for binary classifiers), the averaged value
        or class probability for forests. Binary classifiers have one output, the
        positive class.

    Raises
    ------
    UnsupportedModelError
        If the model is not a supported tree model (pipelines included), is not
        fitted, or uses splits TreeExplainer cannot read (categorical splits,
        linear trees, vector leaves).
    """
    est = _estimator_of(model)
    if not is_tree_model(est):
        raise UnsupportedModelError(
            f"TreeExplainer cannot read a model of type {type(est).__module__}."
            f"{type(est).__name__}; it supports {_SUPPORTED} (give the fitted tree model "
            "itself, not a Pipeline, or use whybox.ExactExplainer/PermutationExplainer)."
        )
    module = type(est).__module__.split(".")[0]
    if module == "catboost":
        if not est.is_fitted():
            raise UnsupportedModelError(
                f"the model {type(est).__name__} is not fitted; call fit(X, y) first."
            )
        return _parse_catboost(est)
    if type(est).__name__ != "Booster":
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(est)
        except Exception:
            raise UnsupportedModelError(
                f"the model {type(est).__name__} is not fitted; call fit(X, y) first."
            ) from None
    if module == "xgboost":
        return _parse_xgboost(est)
    if module == "lightgbm":
        return _parse_lightgbm(est)
    parsed = _parse_sklearn(est)
    if parsed is None:  # pragma: no cover - is_tree_model guarantees a parser
        raise UnsupportedModelError(f"no parser for {type(est).__name__}.")
    return parsed
