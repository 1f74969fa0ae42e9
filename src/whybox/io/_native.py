"""Structure checks of XGBoost and LightGBM model files before the library reads them.

XGBoost and LightGBM follow the child and feature indices of their trees without
bounds checks: a bad child index in an XGBoost JSON model is a segmentation fault,
and a truncated LightGBM text model an abort. whybox parses the file itself, checks
every tree, and hands the library the very bytes it checked.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

_NO_PARENT = 2147483647  # XGBoost's parent of the root


class StructureError(ValueError):
    """A model file's structure is inconsistent; the message says where."""


# --------------------------------------------------------------------------- trees


def check_tree_links(
    left: Sequence[int], right: Sequence[int], internal: Sequence[bool], where: str
) -> int:
    """Check that child links form one tree rooted at node 0; return the reachable count.

    Every child index of an internal node must be in ``[0, n)``, no node may be reached
    twice (which rules out shared children and cycles), and the root has no parent.
    """
    n = len(left)
    seen = [False] * n
    seen[0] = True
    stack = [0]
    count = 1
    while stack:
        node = stack.pop()
        if not internal[node]:
            continue
        for side, child in (("left", left[node]), ("right", right[node])):
            if not 0 <= child < n:
                raise StructureError(
                    f"{where} node {node}'s {side} child is {child}, outside 0..{n - 1}"
                )
            if seen[child]:
                raise StructureError(f"{where} node {child} is reached twice; it is not a tree")
            seen[child] = True
            count += 1
            stack.append(child)
    return count


# ------------------------------------------------------------------------- XGBoost


def _ubjson(data: bytes) -> Any:
    """Decode UBJSON (the subset XGBoost writes, with typed and counted containers)."""
    pos = 0
    numbers = {
        b"i": (">b", 1), b"U": (">B", 1), b"I": (">h", 2), b"l": (">i", 4),
        b"L": (">q", 8), b"d": (">f", 4), b"D": (">d", 8),
    }  # fmt: skip

    def take(size: int) -> bytes:
        nonlocal pos
        if size < 0 or pos + size > len(data):
            raise StructureError("the UBJSON data ends early")
        chunk = data[pos : pos + size]
        pos += size
        return chunk

    def count() -> int:
        marker = take(1)
        if marker not in (b"i", b"U", b"I", b"l", b"L"):
            raise StructureError("a UBJSON length is not an integer")
        fmt, size = numbers[marker]
        value = struct.unpack(fmt, take(size))[0]
        if value < 0 or value > len(data):
            raise StructureError("a UBJSON length is larger than the file")
        return value

    def value(marker: bytes, depth: int) -> Any:
        if depth > 64:
            raise StructureError("UBJSON containers are nested too deeply")
        if marker in numbers:
            fmt, size = numbers[marker]
            return struct.unpack(fmt, take(size))[0]
        if marker == b"Z":
            return None
        if marker == b"T":
            return True
        if marker == b"F":
            return False
        if marker == b"C":
            return take(1).decode("latin-1")
        if marker in (b"S", b"H"):
            return take(count()).decode("utf-8")
        if marker in (b"[", b"{"):
            return container(marker, depth)
        raise StructureError(f"unknown UBJSON marker {marker!r}")

    def container(kind: bytes, depth: int) -> Any:
        nonlocal pos
        typed = counted = None
        if data[pos : pos + 1] == b"$":
            pos += 1
            typed = take(1)
            if data[pos : pos + 1] != b"#":
                raise StructureError("a typed UBJSON container has no count")
        if data[pos : pos + 1] == b"#":
            pos += 1
            counted = count()
        items: Any = [] if kind == b"[" else {}
        i = 0
        while True:
            if counted is not None:
                if i == counted:
                    break
            elif data[pos : pos + 1] in (b"]", b"}"):
                pos += 1
                break
            if kind == b"{":
                key = take(count()).decode("utf-8")
            if typed is not None and typed in numbers:
                fmt, size = numbers[typed]
                if counted is not None and kind == b"[":
                    raw = take(size * counted)
                    return list(struct.unpack(f">{counted}{fmt[1]}", raw))
                item = struct.unpack(fmt, take(size))[0]
            else:
                item = value(typed if typed is not None else take(1), depth + 1)
            if kind == b"{":
                if key in items:
                    raise StructureError("a UBJSON object repeats a key")
                items[key] = item
            else:
                items.append(item)
            i += 1
        return items

    result = value(take(1), 0)
    return result


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats: a parser that keeps the first copy
    would read other arrays than the ones checked here."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise StructureError("a JSON object repeats a key")
    return result


def _int(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StructureError(f"{what} is {str(value)[:20]!r}, not an integer") from None
    if isinstance(value, float) and value != number:
        raise StructureError(f"{what} is {value}, not an integer")
    return number


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            raise StructureError(f"the model has no '{key}'")
        obj = obj[key]
    return obj


def _list(obj: Any, key: str, length: int | None, where: str) -> list:
    value = _get(obj, key)
    if not isinstance(value, list):
        raise StructureError(f"{where} '{key}' is not a list")
    if length is not None and len(value) != length:
        raise StructureError(f"{where} '{key}' has {len(value)} entries, not {length}")
    return value


def _check_xgboost_tree(tree: Any, t: int, n_features: int) -> None:
    where = f"tree {t}"
    param = _get(tree, "tree_param")
    n = _int(_get(param, "num_nodes"), f"{where} num_nodes")
    if n < 1:
        raise StructureError(f"{where} has {n} nodes")
    if _int(param.get("num_feature", n_features), f"{where} num_feature") > n_features:
        raise StructureError(f"{where} reads more features than the model's {n_features}")
    leaf_size = max(1, _int(param.get("size_leaf_vector", 1), f"{where} size_leaf_vector"))
    left = _list(tree, "left_children", n, where)
    right = _list(tree, "right_children", n, where)
    parents = _list(tree, "parents", n, where)
    split = _list(tree, "split_indices", n, where)
    _list(tree, "split_conditions", n, where)
    _list(tree, "default_left", n, where)
    for key in ("loss_changes", "sum_hessian"):
        if key in tree:
            _list(tree, key, n, where)
    if "base_weights" in tree and len(tree["base_weights"]) not in (n, n * leaf_size):
        raise StructureError(f"{where} 'base_weights' has {len(tree['base_weights'])} entries")
    split_type = _list(tree, "split_type", n, where) if "split_type" in tree else [0] * n
    left = [_int(v, f"{where} child") for v in left]
    right = [_int(v, f"{where} child") for v in right]
    internal = [a != -1 for a in left]
    if leaf_size > 1:
        # vector leaves (multi-output trees): a leaf's right child indexes leaf_weights
        n_leaves = len(_list(tree, "leaf_weights", None, where)) // leaf_size
        for i in range(n):
            if not internal[i] and not 0 <= right[i] < n_leaves:
                raise StructureError(f"{where} leaf {i} points past the leaf weights")
        right = [r if internal[i] else -1 for i, r in enumerate(right)]
    for i in range(n):
        if (left[i] == -1) != (right[i] == -1):
            raise StructureError(f"{where} node {i} has one child")
    reached = check_tree_links(left, right, internal, where)
    deleted = _int(param.get("num_deleted", 0), f"{where} num_deleted")
    if reached + max(deleted, 0) < n:
        raise StructureError(f"{where} has {n - reached} nodes unreachable from the root")
    if _int(parents[0], f"{where} parent") not in (_NO_PARENT, -1):
        raise StructureError(f"{where}'s root has a parent")
    categorical = set()
    for i in range(n):
        if not internal[i]:
            continue
        for child in (left[i], right[i]):
            if _int(parents[child], f"{where} parent") != i:
                raise StructureError(f"{where} node {child}'s parent is not node {i}")
        feature = _int(split[i], f"{where} split index")
        if not 0 <= feature < n_features:
            raise StructureError(f"{where} node {i} splits on feature {feature} of {n_features}")
        kind = _int(split_type[i], f"{where} split type")
        if kind not in (0, 1):
            raise StructureError(f"{where} node {i} has split type {kind}")
        if kind == 1:
            categorical.add(i)
    nodes = [_int(v, f"{where} category node") for v in tree.get("categories_nodes", [])]
    segments = [_int(v, f"{where} segment") for v in tree.get("categories_segments", [])]
    sizes = [_int(v, f"{where} size") for v in tree.get("categories_sizes", [])]
    categories = tree.get("categories", [])
    if not (len(nodes) == len(segments) == len(sizes)) or set(nodes) != categorical:
        raise StructureError(f"{where}'s categorical splits do not match its category lists")
    for start, size in zip(segments, sizes, strict=True):
        if start < 0 or size < 0 or start + size > len(categories):
            raise StructureError(f"{where}'s category lists point past their end")
    if any(_int(c, f"{where} category") < 0 for c in categories):
        raise StructureError(f"{where} has a negative category")


def check_xgboost(raw: bytes) -> None:
    """Check an XGBoost JSON or UBJSON model's structure.

    Parameters
    ----------
    raw : bytes
        The file's content (JSON when it starts with ``{``, else UBJSON).

    Raises
    ------
    StructureError
        If the content cannot be parsed, or a tree or the tree list is inconsistent.
    """
    # XGBoost reads '{"' as JSON and any other '{' as UBJSON; so does this check.
    if raw[:1] != b"{":
        raise StructureError("it is neither XGBoost JSON nor UBJSON (no leading '{')")
    try:
        if raw[1:2] == b'"':
            model = json.loads(raw, object_pairs_hook=_unique_keys)
        else:
            model = _ubjson(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, struct.error, RecursionError) as exc:
        raise StructureError(f"it is not valid JSON/UBJSON ({str(exc)[:60]})") from None
    learner = _get(model, "learner")
    params = _get(learner, "learner_model_param")
    n_features = _int(_get(params, "num_feature"), "num_feature")
    n_class = _int(params.get("num_class", 0), "num_class")
    n_target = _int(params.get("num_target", 1), "num_target")
    if n_features < 0 or n_class < 0 or n_target < 1:
        raise StructureError("the model's num_feature, num_class or num_target is negative")
    booster = _get(learner, "gradient_booster")
    name = _get(booster, "name")
    if name == "gblinear":
        weights = _list(_get(booster, "model"), "weights", None, "the linear model")
        groups = max(n_class, n_target, 1)
        if len(weights) != (n_features + 1) * groups:
            raise StructureError("the linear model's weights do not match its features")
        return
    if name == "dart":
        booster = _get(booster, "gbtree")
    elif name != "gbtree":
        raise StructureError(f"the booster is {str(name)[:20]!r}, not gbtree, dart or gblinear")
    body = _get(booster, "model")
    trees = _list(body, "trees", None, "the model")
    n_trees = _int(_get(body, "gbtree_model_param", "num_trees"), "num_trees")
    info = _list(body, "tree_info", len(trees), "the model")
    if n_trees != len(trees):
        raise StructureError(f"the model says {n_trees} trees but holds {len(trees)}")
    groups = max(n_class, n_target, 1)
    for t, group in enumerate(info):
        if not 0 <= _int(group, "tree_info") < groups:
            raise StructureError(f"tree {t} adds to output {group} of {groups}")
    if "iteration_indptr" in body:
        indptr = [_int(v, "iteration_indptr") for v in body["iteration_indptr"]]
        if (
            not indptr
            or indptr[0] != 0
            or indptr[-1] != len(trees)
            or any(b < a for a, b in zip(indptr, indptr[1:], strict=False))
        ):
            raise StructureError("the model's iteration_indptr does not cover its trees")
    for t, tree in enumerate(trees):
        _check_xgboost_tree(tree, t, n_features)


# ------------------------------------------------------------------------ LightGBM


def _numbers(block: dict[str, str], key: str, length: int, where: str, kind=int) -> list:
    if key not in block:
        raise StructureError(f"{where} has no {key}")
    text = block[key].split()
    if len(text) != length:
        raise StructureError(f"{where} {key} has {len(text)} entries, not {length}")
    try:
        values = [kind(v) for v in text]
    except ValueError:
        raise StructureError(f"{where} {key} holds a value that is not a number") from None
    return values


def _check_lightgbm_tree(block: dict[str, str], where: str, n_features: int) -> None:
    leaves = _int(block.get("num_leaves"), f"{where} num_leaves")
    n_cat = _int(block.get("num_cat", 0), f"{where} num_cat")
    if leaves < 1 or n_cat < 0:
        raise StructureError(f"{where} has {leaves} leaves and {n_cat} categorical splits")
    _numbers(block, "leaf_value", leaves, where, float)
    if leaves == 1:  # a single leaf: the other arrays are empty
        return
    for key in ("leaf_weight", "leaf_count"):
        if key in block:
            _numbers(block, key, leaves, where, float)
    m = leaves - 1
    feature = _numbers(block, "split_feature", m, where)
    left = _numbers(block, "left_child", m, where)
    right = _numbers(block, "right_child", m, where)
    decision = _numbers(block, "decision_type", m, where)
    threshold = _numbers(block, "threshold", m, where, float)
    for key in ("split_gain", "internal_value", "internal_weight", "internal_count"):
        if key in block:
            _numbers(block, key, m, where, float)

    # children: i >= 0 is internal node i, i < 0 is leaf ~i; as one node list,
    # internal nodes come first and leaf j is node m + j.
    def node(child: int) -> int:
        return child if child >= 0 else m + ~child

    lefts = [node(c) for c in left] + [-1] * leaves
    rights = [node(c) for c in right] + [-1] * leaves
    for side, children in (("left", left), ("right", right)):
        for i, child in enumerate(children):
            if not (0 <= child < m or 0 <= ~child < leaves):
                raise StructureError(f"{where} node {i}'s {side} child {child} is out of range")
    reached = check_tree_links(lefts, rights, [True] * m + [False] * leaves, where)
    if reached != m + leaves:
        raise StructureError(f"{where} has {m + leaves - reached} unreachable nodes")
    for i in range(m):
        if not 0 <= feature[i] < n_features:
            raise StructureError(f"{where} node {i} splits on feature {feature[i]} of {n_features}")
    if n_cat:
        bounds = _numbers(block, "cat_boundaries", n_cat + 1, where)
        if bounds[0] != 0 or any(b < a for a, b in zip(bounds, bounds[1:], strict=False)):
            raise StructureError(f"{where} cat_boundaries are not increasing from 0")
        _numbers(block, "cat_threshold", bounds[-1], where)
    for i in range(m):
        if decision[i] & 1:  # categorical: the threshold indexes cat_boundaries
            if threshold[i] != int(threshold[i]) or not 0 <= threshold[i] < n_cat:
                raise StructureError(f"{where} node {i} points to a missing category set")
    if _int(block.get("is_linear", 0), f"{where} is_linear"):
        counts = _numbers(block, "num_features", leaves, where)
        if any(c < 0 for c in counts):
            raise StructureError(f"{where} has a negative number of leaf features")
        used = _numbers(block, "leaf_features", sum(counts), where)
        _numbers(block, "leaf_coeff", sum(counts), where, float)
        _numbers(block, "leaf_const", leaves, where, float)
        if any(not 0 <= f < n_features for f in used):
            raise StructureError(f"{where} has a linear leaf on a missing feature")


def _key_values(lines: list[str]) -> dict[str, str]:
    block = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            block[key.strip()] = value.strip()
    return block


def check_lightgbm(text: str) -> None:
    """Check a LightGBM text model's structure.

    Parameters
    ----------
    text : str
        The file's content.

    Raises
    ------
    StructureError
        If the header, a ``Tree=`` block or the end markers are missing or inconsistent
        (a truncated file among them).
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "tree":
        raise StructureError("it does not start with the line 'tree'")
    try:
        end = next(i for i, line in enumerate(lines) if line.strip() == "end of trees")
    except StopIteration:
        raise StructureError("it has no 'end of trees' line; the file is truncated") from None
    starts = [i for i in range(end) if lines[i].startswith("Tree=")]
    header = _key_values(lines[: starts[0] if starts else end])
    n_features = _int(header.get("max_feature_idx"), "max_feature_idx") + 1
    n_class = _int(header.get("num_class", 1), "num_class")
    per_iteration = _int(header.get("num_tree_per_iteration", 1), "num_tree_per_iteration")
    if n_features < 1 or n_class < 1 or per_iteration < 1:
        raise StructureError("max_feature_idx, num_class or num_tree_per_iteration is negative")
    if len(starts) % per_iteration:
        raise StructureError(f"{len(starts)} trees are not whole iterations of {per_iteration}")
    if "tree_sizes" in header and len(header["tree_sizes"].split()) != len(starts):
        raise StructureError(f"tree_sizes lists other than the {len(starts)} trees")
    for t, (a, b) in enumerate(zip(starts, [*starts[1:], end], strict=True)):
        if lines[a].strip() != f"Tree={t}":
            raise StructureError(f"tree {t} is labelled '{lines[a].strip()[:20]}'")
        _check_lightgbm_tree(_key_values(lines[a + 1 : b]), f"tree {t}", n_features)
