"""Reader of scikit-learn's trees: decision trees, forests, (histogram) gradient boosting.

Leaves are scaled into the raw output space here: forests average their trees (each
leaf times ``1 / n_trees``, class counts turned into probabilities), gradient boosting
multiplies by the learning rate and starts from its constant ``init`` prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from whybox._exceptions import UnsupportedModelError
from whybox.shapley.tree._primitives import MISSING_NAN, SPLIT_CATEGORICAL_DEFAULT
from whybox.shapley.tree._readers._parts import TreeParts, library_of, require_fitted


def _reader_for(est: Any) -> Callable[[Any], TreeParts] | None:
    """The function that reads ``est``'s kind of scikit-learn tree model, or None."""
    if library_of(est) != "sklearn":
        return None
    from sklearn import ensemble
    from sklearn.tree import BaseDecisionTree, DecisionTreeClassifier

    kinds: list[tuple[tuple[type, ...], Callable[[Any], TreeParts]]] = [
        (
            (BaseDecisionTree,),
            lambda e: _read_forest(e, [e], isinstance(e, DecisionTreeClassifier)),
        ),
        (
            (ensemble.RandomForestClassifier, ensemble.ExtraTreesClassifier),
            lambda e: _read_forest(e, e.estimators_, True),
        ),
        (
            (ensemble.RandomForestRegressor, ensemble.ExtraTreesRegressor),
            lambda e: _read_forest(e, e.estimators_, False),
        ),
        (
            (ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor),
            _read_gradient_boosting,
        ),
        (
            (ensemble.HistGradientBoostingClassifier, ensemble.HistGradientBoostingRegressor),
            _read_hist_gradient_boosting,
        ),
    ]
    for classes, read_kind in kinds:
        if isinstance(est, classes):
            return read_kind
    return None


def supports(est: Any) -> bool:
    """Whether ``est`` is a scikit-learn tree, forest or gradient-boosting estimator."""
    return _reader_for(est) is not None


def read(est: Any) -> TreeParts:
    """The trees of a fitted scikit-learn tree, forest or gradient-boosting estimator."""
    read_kind = _reader_for(est)
    if read_kind is None:
        raise UnsupportedModelError(f"no scikit-learn tree reader for {type(est).__name__}.")
    require_fitted(est)
    return read_kind(est)


def _parts(
    est: Any,
    trees: list[dict[str, np.ndarray]],
    outputs: list[int],
    k: int,
    offset: np.ndarray,
    *,
    float32_input: bool,
    **categories: Any,
) -> TreeParts:
    """The TreeParts of a scikit-learn estimator: its column count, ``<=`` splits, its
    class as the family; ``categories`` as in :class:`TreeParts`."""
    return TreeParts(
        trees,
        outputs,
        k,
        offset,
        n_features=est.n_features_in_,
        strict_less=False,
        float32_input=float32_input,
        family=f"sklearn.{type(est).__name__}",
        **categories,
    )


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


def _read_forest(est: Any, trees: list[Any], classifier: bool) -> TreeParts:
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
    return _parts(est, parsed, [-1] * len(parsed), k, np.zeros(k), float32_input=True)


def _read_gradient_boosting(est: Any) -> TreeParts:
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
    return _parts(est, parsed, outputs, k, offset, float32_input=True)


def _read_hist_gradient_boosting(est: Any) -> TreeParts:
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
    return _parts(
        est,
        parsed,
        outputs,
        k,
        offset,
        float32_input=False,
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
