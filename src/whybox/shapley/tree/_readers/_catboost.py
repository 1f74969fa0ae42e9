"""Reader of CatBoost models (symmetric trees on float features) from their JSON dump."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from whybox._exceptions import UnsupportedModelError
from whybox.shapley.tree._readers._parts import TreeParts, library_of

_MODELS = ("CatBoostRegressor", "CatBoostClassifier", "CatBoost")


def supports(model: Any) -> bool:
    """Whether ``model`` is a CatBoost model."""
    return library_of(model) == "catboost" and type(model).__name__ in _MODELS


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


def read(model: Any) -> TreeParts:
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
    if not model.is_fitted():
        raise UnsupportedModelError(
            f"the model {type(model).__name__} is not fitted; call fit(X, y) first."
        )
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
    return TreeParts(
        parsed,
        [-1] * len(parsed),
        k,
        bias,
        n_features=n_features,
        strict_less=False,
        float32_input=True,
        family=f"catboost.{type(model).__name__}",
    )
