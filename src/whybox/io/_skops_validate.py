"""Checks of a skops file's content before skops builds any object from it.

skops builds objects only of the types the caller trusts, but it cannot tell whether
a trusted object's arrays are sound: scikit-learn's compiled tree code follows the
child and feature indices of ``sklearn.tree._tree.Tree`` and of histogram gradient
boosting's ``TreePredictor`` without bounds checks, so one bad index in a file is a
segmentation fault at the first prediction. libsvm (SVC, NuSVC, SVR, NuSVR,
OneClassSVM) likewise reads its coefficient, intercept, probability and support
vector arrays with lengths taken from other arrays, and scipy's sparse code follows
a CSR matrix's ``indptr`` and ``indices``; the KD and ball trees of nearest-neighbour
models follow ``idx_array``, their nodes' point ranges and children, their bounds and
their metric's weights. A search's scorer names the estimator method it calls. This
module reads ``schema.json`` and the arrays it names straight from the zip archive
(``numpy.load`` with ``allow_pickle=False``; nothing is imported or constructed) and
checks every such object, and the estimators around it, before skops sees the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from whybox._exceptions import InputError

_TREE = "sklearn.tree._tree.Tree"
_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
# load_npz builds the format named inside the file, whatever the schema's class says
_CSR_TYPES = frozenset({"scipy.sparse._csr.csr_matrix", "scipy.sparse._csr.csr_array"})
_TREE_LEAF = -1
# Ensembles whose compiled prediction code calls their trees without checking the
# trees' own number of features: every tree must read the ensemble's columns.
_GRADIENT_BOOSTING = frozenset(
    {
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._gb.GradientBoostingRegressor",
    }
)
_HIST_GRADIENT_BOOSTING = frozenset(
    {
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    }
)
# libsvm models: their compiled predict code takes the lengths of its loops from some
# arrays and reads the others with those lengths, without comparing them.
_LIBSVM_CLASSIFIERS = frozenset({"sklearn.svm._classes.SVC", "sklearn.svm._classes.NuSVC"})
_LIBSVM = _LIBSVM_CLASSIFIERS | {
    "sklearn.svm._classes.SVR",
    "sklearn.svm._classes.NuSVR",
    "sklearn.svm._classes.OneClassSVM",
}
_LIBSVM_KERNELS = ("linear", "poly", "rbf", "sigmoid", "precomputed")
_INT32_MAX = 2**31 - 1
# A scorer calls its score function (an allowlisted metric) with stored keyword
# arguments on the output of the estimator method its response method names.
_SCORER = "sklearn.metrics._scorer._Scorer"
_RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")
# Nearest-neighbour trees: their query code follows ``idx_array``, the ranges in
# ``node_data``, the children 2i+1 and 2i+2 of every non-leaf node and the bounds of
# every node without bounds checks, and their distance metric reads its weights with
# the data's number of features.
_KD_TREE = "sklearn.neighbors._kd_tree.KDTree"
_BALL_TREE = "sklearn.neighbors._ball_tree.BallTree"
_METRICS = "sklearn.metrics._dist_metrics."
# the metrics whybox allows, each with the p scikit-learn gives it (None: any p > 0)
_TREE_METRICS = {
    f"{_METRICS}EuclideanDistance64": 2.0,
    f"{_METRICS}ManhattanDistance64": 1.0,
    f"{_METRICS}ChebyshevDistance64": float("inf"),
    f"{_METRICS}MinkowskiDistance64": None,
}
_TREE_STATE_LENGTH = 13
_MAX_DEPTH = 50


class _Bad(Exception):
    """A structural defect; the message is the reason, without the file's name."""


class _Opaque:
    """A value this module does not evaluate (an object other than data)."""

    def __init__(self, state: dict) -> None:
        self.state = state


def _name(state: dict) -> str:
    return f"{state.get('__module__')}.{state.get('__class__')}"


def _nodes(obj: Any) -> Iterator[dict]:
    """Every state dict (a dict with a ``__loader__``) in the schema, depth first."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class _Schema:
    """The parsed schema with a safe evaluator for the data nodes it needs."""

    def __init__(self, archive: zipfile.ZipFile, schema: dict) -> None:
        self.archive = archive
        self.schema = schema
        # skops builds the first state it meets with an id and reuses that object
        # wherever the id comes again, so every state sharing an id is a candidate
        # for each of its places: each check below holds for all of them.
        self.by_id: dict[int, list[dict]] = {}
        self.trees: dict[int, int] = {}
        # each place's value and the levels of nodes below it, evaluated once
        self._values: dict[tuple[str, int], tuple[Any, int]] = {}
        for state in _nodes(schema):
            if state["__loader__"] == "CachedNode" or "__id__" not in state:
                continue
            key = state["__id__"]
            if not isinstance(key, int) or isinstance(key, bool):
                raise _Bad(f"an object id is {type(key).__name__}, not an integer")
            group = self.by_id.setdefault(key, [])
            if group and (
                group[0]["__loader__"] != state["__loader__"] or _name(group[0]) != _name(state)
            ):
                raise _Bad(f"objects of different types share the id {key}")
            group.append(state)

    def variants(self, state: Any) -> list[dict]:
        """Every state skops may build in this place."""
        if not isinstance(state, dict) or "__loader__" not in state:
            raise _Bad("a node is not a JSON object with a loader")
        key = state.get("__id__")
        if state["__loader__"] == "CachedNode":
            if key not in self.by_id:
                raise _Bad(f"a reference points to the unknown object id {key!r}")
            return self.by_id[key]
        return self.by_id.get(key, [state]) if isinstance(key, int) else [state]

    def value(self, state: Any, depth: int = 0) -> Any:
        """Data held by a node: JSON values, arrays, tuples, lists and dicts of them.

        Objects other than data come back as ``_Opaque``. Every state that skops may
        build in this place must hold the same data. Each place (an object id, or a
        state without one) is evaluated once: the value, read-only where it is an
        array, is kept with the number of levels below it, so a later request
        ``depth`` levels down is refused exactly when evaluating it again there would
        pass the nesting limit.
        """
        if depth > _MAX_DEPTH:
            raise _Bad(f"objects are nested more than {_MAX_DEPTH} levels deep")
        variants = self.variants(state)
        key = state.get("__id__")
        place = ("id", key) if isinstance(key, int) and key in self.by_id else ("state", id(state))
        known = self._values.get(place)
        if known is None:
            found = [self._value(v, depth) for v in variants]
            for other, _ in found[1:]:
                if not _same(found[0][0], other):
                    raise _Bad("two different objects share one id")
            known = (found[0][0], max(levels for _, levels in found))
            self._values[place] = known
        elif depth + known[1] > _MAX_DEPTH:
            raise _Bad(f"objects are nested more than {_MAX_DEPTH} levels deep")
        return known[0]

    def _value(self, state: dict, depth: int) -> tuple[Any, int]:
        """The value of one state and the number of levels of nodes below it."""
        loader = state.get("__loader__")
        if loader == "JsonNode":
            return json.loads(state["content"]), 0
        if loader == "NdArrayNode" and state.get("type") == "numpy":
            with self.archive.open(str(state["file"])) as member:
                array = np.load(io.BytesIO(member.read()), allow_pickle=False)
            array.flags.writeable = False  # shared by every caller
            if _name(state) == "numpy.ndarray":
                return array, 0
            return (array[()] if array.ndim == 0 else array), 0
        if loader == "NdArrayNode" and state.get("type") == "json":
            # as skops builds it: items of a 1-d array, else rows stacked by numpy
            items = [self.value(item, depth + 1) for item in state["content"]]
            shape = self.value(state["shape"], depth + 1)
            levels = 1 + self._levels([*state["content"], state["shape"]])
            if len(shape) > 1:
                array = np.array(items, dtype=object)
            else:
                array = np.empty(len(items), dtype=object)
                array[:] = items
            array.flags.writeable = False
            return array, levels
        if loader in ("TupleNode", "ListNode") and state.get("__module__") == "builtins":
            items = [self.value(item, depth + 1) for item in state["content"]]
            return items, 1 + self._levels(state["content"])
        if loader == "DictNode" and state.get("__module__") in ("builtins", "collections"):
            content = state["content"]
            found = {key: self.value(v, depth + 1) for key, v in content.items()}
            return found, 1 + self._levels(content.values())
        return _Opaque(state), 0

    def _levels(self, children: Any) -> int:
        """The most levels below any of the (already evaluated) ``children``."""
        most = -1
        for child in children:
            key = child.get("__id__")
            in_ids = isinstance(key, int) and key in self.by_id
            most = max(most, self._values[("id", key) if in_ids else ("state", id(child))][1])
        return most

    def attrs(self, state: dict) -> dict[str, list[dict]]:
        """The attributes of an ``ObjectNode``: each name with every state skops may
        build for it."""
        found: dict[str, list[dict]] | None = None
        for variant in self.variants(state):
            content = variant.get("content")
            for dict_state in [] if content is None else self.variants(content):
                if dict_state.get("__loader__") != "DictNode":
                    continue
                items = dict_state["content"]
                if found is None:
                    found = {key: [] for key in items}
                if set(found) != set(items):
                    raise _Bad("two different objects share one id")
                for key, slot in items.items():
                    found[key].extend(self.variants(slot))
        return found or {}

    def value_of(self, slots: list[dict]) -> Any:
        """The one value all the states of an attribute hold."""
        if not slots:
            return None
        results = [self.value(slot) for slot in slots]
        compared: set[int] = set()  # states of one place share one value object
        for other in results[1:]:
            if id(other) not in compared and not _same(results[0], other):
                raise _Bad("two different objects share one id")
            compared.add(id(other))
        return results[0]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, _Opaque) or isinstance(b, _Opaque):
        return (
            isinstance(a, _Opaque)
            and isinstance(b, _Opaque)
            and a.state.get("__id__") == b.state.get("__id__")
            and _name(a.state) == _name(b.state)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return all(_same(x, y) for x, y in zip(a.ravel(), b.ravel(), strict=True))
        return a.tobytes() == b.tobytes()
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _int(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _Bad(f"{what} is {type(value).__name__}, not an integer")
    return int(value)


def _state_dict(schema: Any, state: dict, what: str) -> dict:
    """The attributes an object node restores (its ``__setstate__`` dict)."""
    attrs = schema.value(state["content"])
    if not isinstance(attrs, dict):
        raise _Bad(f"{what} state is not a dict")
    return attrs


def _array(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise _Bad(f"{what} is {type(value).__name__}, not an array")
    return value


def _check_parents(left: np.ndarray, right: np.ndarray, internal: np.ndarray, n: int) -> None:
    """Children of internal nodes lie after their parent, and every node but the root
    has exactly one parent: the nodes form one tree (no cycles, no sharing)."""
    index = np.arange(n)
    for side, child in (("left", left), ("right", right)):
        bad = internal & ((child <= index) | (child >= n))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _Bad(
                f"node {i}'s {side} child is {int(child[i])}, outside the nodes after it "
                f"({i + 1} to {n - 1})"
            )
    children = np.concatenate([left[internal], right[internal]]).astype(np.int64)
    parents = np.bincount(children, minlength=n)
    if parents[0] != 0 or (n > 1 and not np.all(parents[1:] == 1)):
        i = int(np.flatnonzero(np.r_[parents[0] != 0, parents[1:] != 1])[0])
        raise _Bad(f"node {i} has {int(parents[i])} parents; a tree node has exactly one")


def _depth(left: np.ndarray, right: np.ndarray, internal: np.ndarray, limit: int) -> int:
    """The tree's depth, or ``limit + 1`` when it is deeper than ``limit``."""
    n = len(left)
    parent = np.zeros(n, dtype=np.int64)
    parent[left[internal]] = parent[right[internal]] = np.flatnonzero(internal)
    depth = np.zeros(n, dtype=np.int64)
    for _ in range(min(limit, n) + 1):  # one level settles per pass
        deeper = depth[parent] + 1
        deeper[0] = 0
        if np.array_equal(deeper, depth):
            return int(depth.max())
        depth = deeper
    return limit + 1


def check_tree(schema: _Schema, state: dict) -> int:
    """Check a ``sklearn.tree._tree.Tree`` state; return its number of features."""
    if id(state) not in schema.trees:
        schema.trees[id(state)] = _check_tree(schema, state)
    return schema.trees[id(state)]


def _check_tree(schema: _Schema, state: dict) -> int:
    from sklearn.tree._tree import NODE_DTYPE

    if state.get("__loader__") != "TreeNode" or _name(state) != _TREE:
        raise _Bad(f"a {_TREE} is stored as {state.get('__loader__')}, not as a TreeNode")
    args = schema.value(state["__reduce__"]["args"])
    if not isinstance(args, list) or len(args) != 3:
        raise _Bad("a tree's constructor arguments are not (n_features, n_classes, n_outputs)")
    n_features = _int(args[0], "a tree's n_features")
    n_classes = _array(args[1], "a tree's n_classes")
    n_outputs = _int(args[2], "a tree's n_outputs")
    attrs = _state_dict(schema, state, "a tree's")
    nodes = _array(attrs.get("nodes"), "a tree's nodes")
    values = _array(attrs.get("values"), "a tree's values")
    node_count = _int(attrs.get("node_count"), "a tree's node_count")
    max_depth = _int(attrs.get("max_depth"), "a tree's max_depth")
    if n_features < 1 or n_outputs < 1:
        raise _Bad(f"a tree has {n_features} features and {n_outputs} outputs")
    if n_classes.shape != (n_outputs,) or n_classes.dtype.kind not in "iu":
        raise _Bad(f"a tree's n_classes has shape {n_classes.shape}, not ({n_outputs},)")
    if np.any(n_classes < 1):
        raise _Bad("a tree has an output with fewer than one class")
    if nodes.dtype != np.dtype(NODE_DTYPE) or nodes.ndim != 1:
        raise _Bad("a tree's nodes array does not have scikit-learn's node layout")
    if node_count < 1 or nodes.shape[0] != node_count:
        raise _Bad(f"a tree has node_count {node_count} but {nodes.shape[0]} nodes")
    expected = (node_count, n_outputs, int(n_classes.max()))
    if values.dtype != np.float64 or values.shape != expected:
        raise _Bad(f"a tree's values have shape {values.shape}, expected {expected}")
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    leaf = left == _TREE_LEAF
    if np.any(right[leaf] != _TREE_LEAF):
        i = int(np.flatnonzero(leaf & (right != _TREE_LEAF))[0])
        raise _Bad(f"leaf {i} has a right child but no left child")
    internal = ~leaf
    _check_parents(left, right, internal, node_count)
    bad = internal & ((feature < 0) | (feature >= n_features))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _Bad(f"node {i} splits on feature {int(feature[i])} of a tree with {n_features}")
    if np.any(nodes["missing_go_to_left"] > 1):
        raise _Bad("a tree's missing_go_to_left holds values other than 0 and 1")
    counts = nodes["n_node_samples"]
    if np.any(counts < 0) or np.any(
        counts[internal] != counts[left[internal]] + counts[right[internal]]
    ):
        raise _Bad("a tree's sample counts do not add up from its leaves")
    depth = _depth(left, right, internal, max_depth)
    if not depth <= max_depth < node_count:
        raise _Bad(f"a tree of depth {depth} with {node_count} nodes says max_depth={max_depth}")
    return n_features


def check_predictor(schema: _Schema, state: dict, n_features: int, categorical: Any) -> None:
    """Check an HGB ``TreePredictor`` read by an estimator with ``n_features`` columns.

    ``categorical`` is the boolean ``is_categorical_`` array of the estimator's bin
    mapper, or None when it has no categorical features.
    """
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    if state.get("__loader__") != "ObjectNode":
        raise _Bad(f"a {_PREDICTOR} is stored as {state.get('__loader__')}")
    attrs = _state_dict(schema, state, "a tree predictor's")
    nodes = _array(attrs.get("nodes"), "a tree predictor's nodes")
    bitsets = _array(attrs.get("raw_left_cat_bitsets"), "a tree predictor's bitsets")
    binned = _array(attrs.get("binned_left_cat_bitsets"), "a tree predictor's bitsets")
    if nodes.dtype != np.dtype(PREDICTOR_RECORD_DTYPE) or nodes.ndim != 1 or not len(nodes):
        raise _Bad("a tree predictor's nodes do not have scikit-learn's record layout")
    for array in (bitsets, binned):
        if array.dtype != np.uint32 or array.ndim != 2 or array.shape[1] != 8:
            raise _Bad(f"a tree predictor's category bitsets have shape {array.shape}")
    n = len(nodes)
    internal = nodes["is_leaf"] == 0
    if np.any(nodes["is_leaf"] > 1):
        raise _Bad("a tree predictor's is_leaf holds values other than 0 and 1")
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    _check_parents(left, right, internal, n)
    feature = nodes["feature_idx"]
    bad = internal & ((feature < 0) | (feature >= n_features))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _Bad(f"node {i} splits on feature {int(feature[i])} of {n_features}")
    split_on_category = internal & (nodes["is_categorical"] != 0)
    if split_on_category.any():
        if categorical is None or categorical.shape != (n_features,):
            raise _Bad("a tree splits on a category but the model has no categorical features")
        on = feature[split_on_category]
        if not np.all(categorical[on].astype(bool)):
            raise _Bad("a tree splits on a category of a numeric feature")
        idx = nodes["bitset_idx"][split_on_category]
        if np.any(idx >= min(len(bitsets), len(binned))):
            raise _Bad("a categorical split points past the predictor's category bitsets")


def _opaque_states(schema: _Schema, value: Any) -> list[dict]:
    """Every state skops may build for the objects in a list, tuple or object array."""
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Opaque):
            found.extend(schema.variants(item.state))
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, np.ndarray) and item.dtype == object:
            stack.extend(item.ravel().tolist())
    return found


def _tree_features(schema: _Schema, slots: list[dict]) -> int:
    """The number of features of the tree in an estimator's ``tree_`` attribute."""
    counts = {check_tree(schema, slot) for slot in slots}
    if len(counts) != 1:
        raise _Bad("an estimator's tree_ is missing or ambiguous")
    return counts.pop()


def _check_estimators(schema: _Schema) -> None:
    """Every tree is checked, and checked against the estimator that reads it."""
    checked_predictors: set[int] = set()
    checked_metrics: set[int] = set()
    for state in _nodes(schema.schema):
        name = _name(state)
        loader = state["__loader__"]
        if loader == "CachedNode":
            continue
        if name == _TREE or loader == "TreeNode":
            check_tree(schema, state)
        if name in _CSR_TYPES:
            # other sparse types are never allowed without trust, so not checked
            _csr(schema, [state], "a sparse matrix")
        if name in (_KD_TREE, _BALL_TREE):
            checked_metrics.update(_check_binary_tree(schema, state, name))
        if loader != "ObjectNode":
            continue
        attrs = schema.attrs(state)
        # KernelDensity's tree_ is a KD or ball tree, checked where it is met
        neighbours = {_KD_TREE, _BALL_TREE}
        if "tree_" in attrs and not all(_name(v) in neighbours for v in attrs["tree_"]):
            n_tree = _tree_features(schema, attrs["tree_"])
            n_in = _int(schema.value_of(attrs.get("n_features_in_", [])), "n_features_in_")
            if n_in != n_tree:
                raise _Bad(f"a tree reads {n_tree} features but its estimator expects {n_in}")
        if name in _GRADIENT_BOOSTING:
            _check_gradient_boosting(schema, attrs)
        if name in _HIST_GRADIENT_BOOSTING:
            checked_predictors.update(id(p) for p in _check_hist_gradient_boosting(schema, attrs))
        if name in _LIBSVM:
            _check_libsvm(schema, name, attrs)
        if name == _SCORER:
            _check_scorer(schema, attrs)
    for state in _nodes(schema.schema):
        if _name(state) == _PREDICTOR and id(state) not in checked_predictors:
            raise _Bad(f"a {_PREDICTOR} is held outside a HistGradientBoosting model")
        if (
            _name(state).startswith(_METRICS)
            and state["__loader__"] != "CachedNode"
            and id(state) not in checked_metrics
        ):
            raise _Bad(f"a distance metric ({_name(state)}) is held outside a KD or ball tree")


def _check_gradient_boosting(schema: _Schema, attrs: dict[str, list[dict]]) -> None:
    """GradientBoosting predicts with its trees' raw arrays, on columns checked against
    ``estimators_[0, 0]``, into an array with ``n_trees_per_iteration_`` columns."""
    n_in = _int(schema.value_of(attrs.get("n_features_in_", [])), "n_features_in_")
    per_iteration = _int(
        schema.value_of(attrs.get("n_trees_per_iteration_", [])), "n_trees_per_iteration_"
    )
    estimators = schema.value_of(attrs.get("estimators_", []))
    if not isinstance(estimators, np.ndarray) or estimators.ndim != 2:
        raise _Bad("a gradient boosting model's estimators_ is not a 2-d array")
    if estimators.shape[1] != per_iteration or estimators.shape[0] < 1:
        raise _Bad(
            f"a gradient boosting model has {estimators.shape[1]} trees per iteration, "
            f"not {per_iteration}"
        )
    if "classes_" in attrs:
        n_classes = len(schema.value_of(attrs["classes_"]))
        if per_iteration != (1 if n_classes == 2 else n_classes):
            raise _Bad(f"{n_classes} classes need other than {per_iteration} trees per iteration")
    members = _opaque_states(schema, estimators)
    if len(members) < estimators.size:
        raise _Bad("a gradient boosting model's estimators_ holds something other than trees")
    for member in members:
        member_attrs = schema.attrs(member)
        if "tree_" not in member_attrs:
            raise _Bad("a gradient boosting model holds an estimator without a tree")
        n_tree = _tree_features(schema, member_attrs["tree_"])
        n_member = _int(schema.value_of(member_attrs.get("n_features_in_", [])), "n_features_in_")
        for tree in member_attrs["tree_"]:
            args = schema.value(tree["__reduce__"]["args"])
            if int(args[2]) != 1 or int(args[1].max()) != 1:
                raise _Bad("a gradient boosting tree has more than one output")
        if n_tree != n_in or n_member != n_in:
            raise _Bad(f"a gradient boosting tree does not read the model's {n_in} features")


def _check_hist_gradient_boosting(schema: _Schema, attrs: dict[str, list[dict]]) -> list[dict]:
    """Check the predictors of a HistGradientBoosting model; return their states."""
    n_in = _int(schema.value_of(attrs.get("n_features_in_", [])), "n_features_in_")
    categorical = None
    mappers = attrs.get("_bin_mapper", [])
    flags = [schema.value_of(schema.attrs(m).get("is_categorical_", [])) for m in mappers]
    if flags and all(isinstance(f, np.ndarray) for f in flags):
        if not all(_same(flags[0], f) for f in flags):
            raise _Bad("two different objects share one id")
        categorical = flags[0]
    members = _opaque_states(schema, schema.value_of(attrs.get("_predictors", [])))
    for member in members:
        if _name(member) != _PREDICTOR:
            raise _Bad(f"a HistGradientBoosting model holds a {_name(member)} as a predictor")
        check_predictor(schema, member, n_in, categorical)
    return members


class _Csr:
    """The arrays of a CSR matrix stored by skops, read without building it."""

    def __init__(self, files: dict[str, np.ndarray]) -> None:
        self.data = files["data"]
        self.indices = files["indices"]
        self.indptr = files["indptr"]
        self.shape = tuple(int(n) for n in files["shape"])


def _csr(schema: _Schema, slots: list[dict], what: str) -> _Csr:
    """The CSR matrix all the states of an attribute hold (skops' ``SparseMatrixNode``).

    ``scipy.sparse.load_npz``, which skops calls, checks neither the order of
    ``indptr`` nor the range of ``indices``; every check the compiled code needs is
    made here.
    """
    found: list[dict[str, np.ndarray]] = []
    for state in (v for slot in slots for v in schema.variants(slot)):
        if state.get("__loader__") != "SparseMatrixNode" or state.get("type") != "scipy":
            raise _Bad(f"{what} is stored as {state.get('__loader__')}, not as a sparse matrix")
        with schema.archive.open(str(state["file"])) as member:
            with np.load(io.BytesIO(member.read()), allow_pickle=False) as npz:
                found.append({key: npz[key] for key in npz.files})
    if not found:
        raise _Bad(f"{what} is missing")
    for other in found[1:]:
        if not _same(found[0], other):
            raise _Bad("two different objects share one id")
    files = found[0]
    if set(files) != {"data", "indices", "indptr", "format", "shape"}:
        raise _Bad(f"{what} is not a CSR matrix (it holds {sorted(files)})")
    if files["format"].ndim != 0 or files["format"][()] != b"csr":
        raise _Bad(f"{what} is stored in format {files['format']!r}, not csr")
    shape = files["shape"]
    if shape.dtype.kind not in "iu" or shape.shape != (2,) or np.any(shape < 0):
        raise _Bad(f"{what} has shape {shape!r}, not two non-negative integers")
    matrix = _Csr(files)
    n_rows, n_cols = matrix.shape
    if matrix.data.dtype != np.float64 or matrix.data.ndim != 1:
        raise _Bad(f"{what} holds {matrix.data.dtype} values, not float64")
    for key in ("indices", "indptr"):
        if files[key].dtype not in (np.int32, np.int64) or files[key].ndim != 1:
            raise _Bad(f"{what}'s {key} is {files[key].dtype}, not a 1-d integer array")
    indptr = matrix.indptr.astype(np.int64)
    if (
        len(indptr) != n_rows + 1
        or indptr[0] != 0
        or np.any(np.diff(indptr) < 0)
        or indptr[-1] != len(matrix.indices)
        or len(matrix.indices) != len(matrix.data)
    ):
        raise _Bad(
            f"{what}'s indptr does not run from 0 to its {len(matrix.data)} values in "
            f"{n_rows} non-decreasing steps"
        )
    if len(matrix.indices) and (matrix.indices.min() < 0 or matrix.indices.max() >= n_cols):
        raise _Bad(f"{what} has a column index outside 0 to {n_cols - 1}")
    return matrix


def _float(value: Any, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise _Bad(f"{what} is {type(value).__name__}, not a number")
    if not np.isfinite(value):
        raise _Bad(f"{what} is {value}, not a finite number")
    return float(value)


def _vector(value: Any, what: str, dtype: type, length: int | None) -> np.ndarray:
    """A 1-d array of ``dtype`` (of ``length`` items when it is not None)."""
    array = _array(value, what)
    if array.dtype != dtype or array.ndim != 1:
        raise _Bad(
            f"{what} is a {array.ndim}-d {array.dtype} array, libsvm needs a 1-d "
            f"{np.dtype(dtype).name} one"
        )
    if length is not None and len(array) != length:
        raise _Bad(f"{what} has {len(array)} items, expected {length}")
    return array


def _check_libsvm(schema: _Schema, name: str, attrs: dict[str, list[dict]]) -> None:
    """Check a fitted libsvm model (SVC, NuSVC, SVR, NuSVR, OneClassSVM).

    libsvm takes the number of classes from ``_n_support``, the number of support
    vectors from ``support_`` (dense) or from the rows of ``support_vectors_``
    (sparse), and reads ``_dual_coef_``, ``_intercept_``, ``_probA``, ``_probB`` and
    the support vectors with those lengths; scikit-learn compares only
    ``_n_support`` with the rows of dense, non-empty support vectors.
    """
    short = name.rpartition(".")[2]
    if not attrs.keys() & {"support_", "support_vectors_", "_n_support", "_dual_coef_"}:
        return  # not fitted (a search's template): predict stops at check_is_fitted

    def value(key: str) -> Any:
        if key not in attrs:
            raise _Bad(f"the {short} has no {key}; it is not a fitted model")
        return schema.value_of(attrs[key])

    kernel = value("kernel")
    if not isinstance(kernel, _Opaque) and kernel not in _LIBSVM_KERNELS:
        raise _Bad(f"the {short}'s kernel is {kernel!r}, not one of {', '.join(_LIBSVM_KERNELS)}")
    # a callable kernel is called in Python; libsvm then sees a precomputed kernel
    precomputed = isinstance(kernel, _Opaque) or kernel == "precomputed"
    sparse = value("_sparse")
    if not isinstance(sparse, bool):
        raise _Bad(f"the {short}'s _sparse is {sparse!r}, not true or false")
    if sparse and precomputed:
        raise _Bad(f"the {short} is sparse with a precomputed kernel, which cannot be fitted")
    degree = _int(value("degree"), f"the {short}'s degree")
    if not 0 <= degree <= _INT32_MAX:
        raise _Bad(f"the {short}'s degree is {degree}, not between 0 and {_INT32_MAX}")
    _float(value("_gamma"), f"the {short}'s _gamma")
    _float(value("coef0"), f"the {short}'s coef0")

    shape_fit = value("shape_fit_")
    if not isinstance(shape_fit, list) or len(shape_fit) != 2:
        raise _Bad(f"the {short}'s shape_fit_ is not (n_samples, n_features)")
    n_samples = _int(shape_fit[0], f"the {short}'s shape_fit_[0]")
    n_features = _int(shape_fit[1], f"the {short}'s shape_fit_[1]")
    if "n_features_in_" in attrs:
        n_in = _int(value("n_features_in_"), f"the {short}'s n_features_in_")
        if n_in != n_features:
            raise _Bad(f"the {short}'s n_features_in_ is {n_in} but shape_fit_[1] is {n_features}")

    n_support = _vector(value("_n_support"), f"the {short}'s _n_support", np.int32, None)
    n_classes = len(n_support)
    classifier = name in _LIBSVM_CLASSIFIERS
    if classifier:
        if n_classes < 2:
            raise _Bad(f"the {short}'s _n_support has {n_classes} classes, fewer than 2")
        classes = value("classes_")
        if not isinstance(classes, np.ndarray) or classes.shape != (n_classes,):
            raise _Bad(
                f"the {short}'s classes_ does not hold the {n_classes} classes of _n_support"
            )
    elif n_classes != 2:
        raise _Bad(f"the {short}'s _n_support has {n_classes} items, libsvm expects 2")
    if np.any(n_support < 0):
        raise _Bad(f"the {short}'s _n_support holds a negative count")
    n_pairs = n_classes * (n_classes - 1) // 2

    support = _vector(value("support_"), f"the {short}'s support_", np.int32, None)
    vectors_slots = attrs.get("support_vectors_", [])
    if sparse:
        vectors = _csr(schema, vectors_slots, f"the {short}'s support_vectors_")
        n_sv = vectors.shape[0]
        if vectors.indices.dtype != np.int32 or vectors.indptr.dtype != np.int32:
            raise _Bad(f"the {short}'s support_vectors_ has int64 indices, libsvm needs int32")
        if vectors.shape[1] != n_features:
            raise _Bad(
                f"the {short}'s support_vectors_ has {vectors.shape[1]} columns but "
                f"shape_fit_[1] is {n_features}"
            )
    else:
        dense = _array(value("support_vectors_"), f"the {short}'s support_vectors_")
        n_sv = len(support)
        expected = (0, 0) if precomputed and dense.size == 0 else (n_sv, n_features)
        if dense.dtype != np.float64 or dense.shape != expected:
            raise _Bad(
                f"the {short}'s support_vectors_ is a {dense.dtype} array of shape "
                f"{dense.shape}, expected float64 of shape {expected} (one row per "
                "support_ index, one column per feature)"
            )
    if len(support) != n_sv:
        raise _Bad(f"the {short}'s support_ has {len(support)} items for {n_sv} support vectors")
    if len(support) and (support.min() < 0 or support.max() >= n_samples):
        raise _Bad(
            f"the {short}'s support_ holds an index outside 0 to {n_samples - 1} "
            f"(shape_fit_[0] is {n_samples})"
        )
    if classifier and int(n_support.astype(np.int64).sum()) != n_sv:
        raise _Bad(
            f"the {short}'s _n_support sums to {int(n_support.astype(np.int64).sum())}, "
            f"not its {n_sv} support vectors"
        )

    expected = (n_classes - 1, n_sv)
    for key in ("_dual_coef_", "dual_coef_"):
        what = f"the {short}'s {key}"
        if sparse:
            coef = _csr(schema, attrs.get(key, []), what)
            if coef.shape != expected or len(coef.data) != expected[0] * expected[1]:
                raise _Bad(
                    f"{what} has shape {coef.shape} with {len(coef.data)} stored values, "
                    f"expected {expected} with all {expected[0] * expected[1]} stored "
                    "(one row per class but one, one column per support vector)"
                )
        else:
            coef = _array(value(key), what)
            if coef.dtype != np.float64 or coef.shape != expected:
                raise _Bad(
                    f"{what} is a {coef.dtype} array of shape {coef.shape}, expected "
                    f"float64 of shape {expected} (one row per class but one, one column "
                    "per support vector)"
                )
    for key in ("_intercept_", "intercept_"):
        _vector(value(key), f"the {short}'s {key}", np.float64, n_pairs)
    prob_a = _vector(value("_probA"), f"the {short}'s _probA", np.float64, None)
    prob_b = _vector(value("_probB"), f"the {short}'s _probB", np.float64, None)
    effective = attrs.get("_effective_probability") and value("_effective_probability")
    if (
        len(prob_a) != len(prob_b)
        or len(prob_a) not in (0, n_pairs)
        or (effective and len(prob_a) != n_pairs)
    ):
        raise _Bad(
            f"the {short}'s _probA and _probB have {len(prob_a)} and {len(prob_b)} items, "
            f"expected {n_pairs} each (one per pair of classes)" + ("" if effective else " or none")
        )
    if "class_weight_" in attrs:
        _vector(
            value("class_weight_"),
            f"the {short}'s class_weight_",
            np.float64,
            n_classes if classifier else None,
        )


def _is_data(value: Any) -> bool:
    """Whether a value holds only data: no object other than arrays, lists and dicts."""
    if isinstance(value, _Opaque):
        return False
    if isinstance(value, list):
        return all(_is_data(item) for item in value)
    if isinstance(value, dict):
        return all(_is_data(item) for item in value.values())
    if isinstance(value, np.ndarray) and value.dtype == object:
        return all(_is_data(item) for item in value.ravel().tolist())
    return True


def _check_scorer(schema: _Schema, attrs: dict[str, list[dict]]) -> None:
    """Check a scorer (``sklearn.metrics._scorer._Scorer``) of a search.

    Its score function must be stored as a function (whose exact name the allowlist
    checks), its sign must be 1 or -1, its keyword arguments plain data, and its
    response method one of the estimator's prediction methods (or a sequence of
    them): scikit-learn looks that name up on the estimator and calls it.
    """
    if set(attrs) != {"_score_func", "_sign", "_kwargs", "_response_method"}:
        raise _Bad(f"a scorer has the attributes {sorted(attrs)}, not scikit-learn's four")
    for slot in attrs["_score_func"]:
        if slot.get("__loader__") != "FunctionNode":
            raise _Bad(f"a scorer's score function is stored as {slot.get('__loader__')}")
    sign = _int(schema.value_of(attrs["_sign"]), "a scorer's sign")
    if sign not in (1, -1):
        raise _Bad(f"a scorer's sign is {sign}, not 1 or -1")
    kwargs = schema.value_of(attrs["_kwargs"])
    if not isinstance(kwargs, dict) or not _is_data(kwargs):
        raise _Bad("a scorer's keyword arguments are not plain data")
    method = schema.value_of(attrs["_response_method"])
    methods = method if isinstance(method, list) else [method]
    if not methods or any(m not in _RESPONSE_METHODS for m in methods):
        raise _Bad(
            f"a scorer's response method is {method!r}, not one of {', '.join(_RESPONSE_METHODS)}"
        )


def _tree_state(schema: _Schema, state: dict, what: str, length: int) -> list[list[dict]]:
    """The items of the tuple an ``ObjectNode`` is built from (``__setstate__``'s
    argument), each with every state skops may build for it."""
    if state.get("__loader__") != "ObjectNode":
        raise _Bad(f"{what} is stored as {state.get('__loader__')}, not as an object")
    found: list[list[dict]] | None = None
    for variant in schema.variants(state):
        content = variant.get("content")
        for tuple_state in [] if content is None else schema.variants(content):
            items = tuple_state.get("content")
            if (
                tuple_state.get("__loader__") != "TupleNode"
                or _name(tuple_state) != "builtins.tuple"
                or not isinstance(items, list)
                or len(items) != length
            ):
                raise _Bad(f"{what}'s state is not a tuple of {length} items")
            if found is None:
                found = [[] for _ in items]
            for slot, item in zip(found, items, strict=True):
                slot.extend(schema.variants(item))
    if found is None:
        raise _Bad(f"{what} has no state")
    return found


def _expected_nodes(n_samples: int, n_nodes: int) -> np.ndarray:
    """The ``idx_start``, ``idx_end`` and ``is_leaf`` of every node, as
    ``BinaryTree._recursive_build`` sets them for ``n_samples`` points and ``n_nodes``
    nodes (nodes it never reaches stay zero), as an ``(n_nodes, 3)`` array."""
    expected = np.zeros((n_nodes, 3), dtype=np.int64)
    nodes = np.array([0], dtype=np.int64)
    starts = np.array([0], dtype=np.int64)
    ends = np.array([n_samples], dtype=np.int64)
    while len(nodes):
        leaf = (2 * nodes + 1 >= n_nodes) | (ends - starts < 2)
        expected[nodes] = np.stack([starts, ends, leaf.astype(np.int64)], axis=1)
        split = ~leaf
        nodes, starts, ends = nodes[split], starts[split], ends[split]
        mids = starts + (ends - starts) // 2
        nodes = np.concatenate([2 * nodes + 1, 2 * nodes + 2])
        starts, ends = np.concatenate([starts, mids]), np.concatenate([mids, ends])
    return expected


def _check_distance_metric(
    schema: _Schema, states: list[dict], short: str, n_features: int
) -> list[int]:
    """Check a tree's distance metric; return the ids of its states."""
    for state in states:
        name = _name(state)
        what = f"the {short}'s metric"
        if name not in _TREE_METRICS:
            raise _Bad(
                f"{what} is {name}, not the euclidean, manhattan, chebyshev or minkowski "
                "metric; refit it with algorithm='brute' or load it with trust"
            )
        p_slots, vec_slots, mat_slots = _tree_state(schema, state, what, 3)
        p = schema.value_of(p_slots)
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.number)):
            raise _Bad(f"{what}'s p is {type(p).__name__}, not a number")
        expected_p = _TREE_METRICS[name]
        if expected_p is None and not (np.isfinite(p) and p > 0):
            raise _Bad(f"{what}'s p is {p}, not a finite number above 0")
        if expected_p is not None and float(p) != expected_p:
            raise _Bad(f"{what}'s p is {p}, not {expected_p}")
        vec = _array(schema.value_of(vec_slots), f"{what}'s weights")
        mat = _array(schema.value_of(mat_slots), f"{what}'s matrix")
        if vec.dtype != np.float64 or vec.ndim != 1 or mat.dtype != np.float64 or mat.ndim != 2:
            raise _Bad(f"{what}'s weights or matrix are not a 1-d and a 2-d float64 array")
        if name.endswith("MinkowskiDistance64"):
            allowed = (0, n_features) if short == "BallTree" else (0,)
            if len(vec) not in allowed:
                raise _Bad(
                    f"{what} has {len(vec)} weights, expected "
                    + (
                        f"none or {n_features} (one per feature)"
                        if short == "BallTree"
                        else "none (a KD tree takes no weights)"
                    )
                )
            if not np.all(np.isfinite(vec)) or np.any(vec < 0):
                raise _Bad(f"{what}'s weights are not finite and non-negative")
    return [id(state) for state in states]


def _check_binary_tree(schema: _Schema, state: dict, name: str) -> list[int]:
    """Check a KD or ball tree (``sklearn.neighbors``) against the tree that
    scikit-learn builds for its data; return the ids of its metric's states.

    The layout of a tree is fixed by its number of points and its ``leaf_size``:
    ``n_levels``, ``n_nodes = 2**n_levels - 1`` and every node's point range and leaf
    flag are computed here as scikit-learn's builder sets them and must match
    exactly; ``idx_array`` must be a permutation of the points (radius queries write
    one result per point it lists), the bounds must have one row per node and feature.
    """
    from sklearn.neighbors._kd_tree import NodeData

    short = name.rpartition(".")[2]
    slots = _tree_state(schema, state, f"a {short}", _TREE_STATE_LENGTH)

    def value(i: int) -> Any:
        return schema.value_of(slots[i])

    data = _array(value(0), f"the {short}'s data")
    if data.dtype != np.float64 or data.ndim != 2 or 0 in data.shape:
        raise _Bad(
            f"the {short}'s data is a {data.dtype} array of shape {data.shape}, "
            "not a non-empty 2-d float64 one"
        )
    if not np.all(np.isfinite(data)):
        raise _Bad(f"the {short}'s data holds values that are not finite")
    n_samples, n_features = data.shape
    idx = _array(value(1), f"the {short}'s idx_array")
    if (
        idx.dtype != np.intp
        or idx.shape != (n_samples,)
        or not np.array_equal(np.sort(idx), np.arange(n_samples))
    ):
        raise _Bad(
            f"the {short}'s idx_array is not a permutation of its {n_samples} points "
            "(each index from 0 to n_samples - 1 exactly once)"
        )
    leaf_size = _int(value(4), f"the {short}'s leaf_size")
    n_levels = _int(value(5), f"the {short}'s n_levels")
    n_nodes = _int(value(6), f"the {short}'s n_nodes")
    if leaf_size < 1:
        raise _Bad(f"the {short}'s leaf_size is {leaf_size}, not at least 1")
    expected_levels = int(np.log2(max(1.0, (n_samples - 1) / leaf_size)) + 1)
    if n_levels != expected_levels or n_nodes != 2**n_levels - 1:
        raise _Bad(
            f"the {short} has n_levels {n_levels} and n_nodes {n_nodes}, expected "
            f"{expected_levels} and {2**expected_levels - 1} for {n_samples} points "
            f"and leaf_size {leaf_size}"
        )
    for i, counter in enumerate(("n_trims", "n_leaves", "n_splits", "n_calls"), start=7):
        count = _int(value(i), f"the {short}'s {counter}")
        if not 0 <= count <= _INT32_MAX:
            raise _Bad(f"the {short}'s {counter} is {count}, not between 0 and {_INT32_MAX}")
    nodes = _array(value(2), f"the {short}'s node_data")
    if nodes.dtype != NodeData or nodes.shape != (n_nodes,):
        raise _Bad(
            f"the {short}'s node_data is not {n_nodes} records of scikit-learn's "
            "node layout (one per node)"
        )
    found = np.stack([nodes["idx_start"], nodes["idx_end"], nodes["is_leaf"]], axis=1).astype(
        np.int64
    )
    bad = np.flatnonzero(np.any(found != _expected_nodes(n_samples, n_nodes), axis=1))
    if len(bad):
        i = int(bad[0])
        raise _Bad(
            f"the {short}'s node {i} has idx_start {int(found[i, 0])}, idx_end "
            f"{int(found[i, 1])} and is_leaf {int(found[i, 2])}, not the range and leaf "
            f"flag scikit-learn builds for {n_samples} points in {n_nodes} nodes"
        )
    radius = nodes["radius"]
    if not np.all(np.isfinite(radius)) or np.any(radius < 0):
        raise _Bad(f"the {short}'s node radii are not finite and non-negative")
    bounds = _array(value(3), f"the {short}'s node_bounds")
    expected = (2 if name == _KD_TREE else 1, n_nodes, n_features)
    if bounds.dtype != np.float64 or bounds.shape != expected:
        raise _Bad(
            f"the {short}'s node_bounds is a {bounds.dtype} array of shape "
            f"{bounds.shape}, expected float64 of shape {expected}"
        )
    if not np.all(np.isfinite(bounds)):
        raise _Bad(f"the {short}'s node_bounds holds values that are not finite")
    weight = value(12)
    if weight is not None:
        weight = _array(weight, f"the {short}'s sample_weight")
        if weight.dtype != np.float64 or weight.shape != (n_samples,):
            raise _Bad(
                f"the {short}'s sample_weight is a {weight.dtype} array of shape "
                f"{weight.shape}, expected float64 of shape ({n_samples},)"
            )
        if not np.all(np.isfinite(weight)):
            raise _Bad(f"the {short}'s sample_weight holds values that are not finite")
    return _check_distance_metric(schema, slots[11], short, n_features)


def check_skops_archive(path: Path, protocol: int | None) -> None:
    """Refuse a skops file whose arrays could mislead scikit-learn's compiled code.

    Parameters
    ----------
    path : Path
        The ``.skops`` file (a zip archive holding ``schema.json`` and ``.npy`` arrays).
    protocol : int or None
        The skops protocol the installed skops writes; files of another protocol are
        refused because older node loaders are not checked here. None accepts any
        (for trusted files).

    Raises
    ------
    InputError
        If the archive or its schema cannot be read, or a tree, a HistGradientBoosting
        predictor, a gradient boosting ensemble, a libsvm model, a sparse matrix, a KD
        or ball tree (or its distance metric) or a scorer is inconsistent.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
            if not isinstance(schema, dict) or "__loader__" not in schema:
                raise _Bad("schema.json does not describe an object")
            if protocol is not None and schema.get("protocol") != protocol:
                raise _Bad(
                    f"it was written with skops protocol {schema.get('protocol')!r}, "
                    f"not {protocol}; save it again with the installed skops"
                )
            _check_estimators(_Schema(archive, schema))
    except _Bad as exc:
        raise InputError(
            f"model file '{path.name}' was refused: {exc}; it is corrupt or crafted, "
            "save the model again with skops.io.dump."
        ) from None
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"model file '{path.name}' could not be read as a skops file ({reason}); "
            "save it with skops.io.dump(model, 'model.skops')."
        ) from None


def _estimators_of(model: Any) -> Iterator[Any]:
    """The scikit-learn estimators in a loaded model, nested ones included."""
    from sklearn.base import BaseEstimator

    seen: set[int] = set()
    stack = [model]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseEstimator):
            yield item
            stack.extend(vars(item).values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, np.ndarray) and item.dtype == object:
            stack.extend(item.ravel().tolist())


def _check_hgb_preprocessor(model: Any) -> None:
    """An HGB model with categorical features feeds its trees the output of its
    ``_preprocessor``: it must be the column transformer scikit-learn builds, whose
    output has one column per input column."""
    from functools import partial

    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from sklearn.utils.validation import check_array

    pre = model._preprocessor
    n_in = model.n_features_in_
    if not isinstance(pre, ColumnTransformer) or pre.n_features_in_ != n_in:
        raise _Bad("its categorical preprocessor is not the one scikit-learn builds")
    parts = {name: (step, cols) for name, step, cols in pre.transformers_}
    encoder, mask = parts.get("encoder", (None, None))
    numeric, numeric_mask = parts.get("numerical", (None, None))
    mask = np.asarray(mask)
    numeric_mask = np.asarray(numeric_mask)
    func = getattr(numeric, "func", None)
    if (
        set(parts) - {"encoder", "numerical", "remainder"}
        or parts.get("remainder", ("drop",))[0] != "drop"
        or not isinstance(encoder, OrdinalEncoder)
        or type(numeric) is not FunctionTransformer
        or not (type(func) is partial and func.func is check_array and not func.args)
        or mask.dtype != bool
        or mask.shape != (n_in,)
        or not np.array_equal(numeric_mask, ~mask)
        or encoder.n_features_in_ != int(mask.sum())
        or len(encoder.categories_) != int(mask.sum())
    ):
        raise _Bad("its categorical preprocessor is not the one scikit-learn builds")


def _check_gradient_boosting_init(model: Any) -> None:
    """GradientBoosting adds its trees' values into the array its ``init_`` predicts,
    at columns up to ``n_trees_per_iteration_`` without bounds checks: that array must
    have exactly that many columns. ``init_`` is asked for one row of zeros."""
    width = model.estimators_.shape[1]
    probe = np.zeros((1, model.n_features_in_), dtype=np.float32)
    try:
        raw = np.asarray(model._raw_predict_init(probe))
    except Exception as exc:  # any failure of init_ on a valid row: it cannot be used
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _Bad(f"its init_ cannot predict a row of zeros ({reason})") from None
    if raw.shape != (1, width) or raw.dtype != np.float64:
        raise _Bad(
            f"its init_ predicts a {raw.dtype} array of shape {raw.shape} for one row, "
            f"not (1, {width}) (one column per tree of an iteration)"
        )


def check_loaded_model(model: Any, name: str) -> None:
    """Checks that need the built objects.

    Parameters
    ----------
    model : object
        What ``skops.io.load`` returned.
    name : str
        The file's name, for the message.

    Raises
    ------
    InputError
        If a HistGradientBoosting model's categorical preprocessor could feed its
        trees fewer columns than they index, or a GradientBoosting model's ``init_``
        predicts a different number of columns than it has trees per iteration (its
        compiled code would write past that array; ``init_`` is called on one row of
        zeros to find out).
    """
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    for estimator in _estimators_of(model):
        hgb = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
        gb = (GradientBoostingClassifier, GradientBoostingRegressor)
        try:
            if isinstance(estimator, hgb) and getattr(estimator, "_preprocessor", None):
                _check_hgb_preprocessor(estimator)
        except (_Bad, AttributeError, TypeError, ValueError) as exc:
            reason = exc if isinstance(exc, _Bad) else "its preprocessor is incomplete"
            raise InputError(
                f"model file '{name}' was refused: a HistGradientBoosting model is "
                f"inconsistent ({reason}); save the model again with skops.io.dump."
            ) from None
        init = getattr(estimator, "init_", "zero")
        if isinstance(estimator, gb) and not (isinstance(init, str) and init == "zero"):
            try:
                _check_gradient_boosting_init(estimator)
            except _Bad as exc:
                raise InputError(
                    f"model file '{name}' was refused: a {type(estimator).__name__} is "
                    f"inconsistent ({exc}); save the model again with skops.io.dump."
                ) from None
