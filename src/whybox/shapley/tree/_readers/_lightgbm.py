"""Reader of LightGBM models from ``Booster.dump_model()``.

Numeric splits keep LightGBM's missing-value rule ("NaN", "Zero", "None"); ``==``
splits become category sets; linear trees are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox._exceptions import UnsupportedModelError
from whybox.shapley.tree._primitives import (
    MISSING_NAN,
    MISSING_NONE,
    MISSING_ZERO,
    SPLIT_CATEGORICAL,
)
from whybox.shapley.tree._readers._parts import TreeParts, library_of, require_fitted

_MODELS = ("LGBMRegressor", "LGBMClassifier", "Booster")


def supports(model: Any) -> bool:
    """Whether ``model`` is a LightGBM scikit-learn model or ``Booster``."""
    return library_of(model) == "lightgbm" and type(model).__name__ in _MODELS


_LGB_MISSING = {"NaN": MISSING_NAN, "Zero": MISSING_ZERO, "None": MISSING_NONE}


def read(model: Any) -> TreeParts:
    """The trees of a fitted LightGBM model, from ``dump_model()``."""
    require_fitted(model)
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
    return TreeParts(
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
