"""Reader of XGBoost models (``gbtree`` and ``dart`` boosters) from their JSON dump.

Thresholds are XGBoost's float32 values stored exactly; covers are hessian sums; the
base score is converted to the margin; after early stopping only the rounds up to
``best_iteration`` are read, as XGBoost's ``predict`` uses. A model trained on pandas
category columns with XGBoost 3.1 or later stores their categories: they become the
ensemble's ``category_levels`` (a category's code is its position there), so category
and text columns are read as XGBoost re-codes them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from whybox._exceptions import UnsupportedModelError
from whybox.shapley.tree._primitives import MISSING_NAN, SPLIT_CATEGORICAL_RIGHT
from whybox.shapley.tree._readers._parts import TreeParts, library_of, require_fitted

_MODELS = ("XGBRegressor", "XGBClassifier", "XGBRFRegressor", "XGBRFClassifier", "Booster")


def supports(model: Any) -> bool:
    """Whether ``model`` is an XGBoost scikit-learn model or ``Booster``."""
    return library_of(model) == "xgboost" and type(model).__name__ in _MODELS


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


def read(model: Any) -> TreeParts:
    """The trees of a fitted XGBoost model (the rounds its ``predict`` uses)."""
    require_fitted(model)
    from whybox.adapters._model import xgboost_levels_of, xgboost_predict_settings

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
    # XGBoost 3.1+ keeps the training frame's categories: codes are positions there
    types = learner.get("feature_types") or []
    levels = {
        j: v
        for j, v in xgboost_levels_of(gb_model.get("cats"), n_features).items()
        if j < len(types) and types[j] == "c"
    }
    return TreeParts(
        parsed,
        outputs,
        k,
        base,
        n_features=n_features,
        strict_less=True,
        float32_input=True,
        family=f"xgboost.{type(model).__name__}",
        category_sets=sets,
        category_levels=levels,
        missing_value=missing,
    )
