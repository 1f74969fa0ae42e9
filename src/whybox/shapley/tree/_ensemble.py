"""One internal representation of tree ensembles, and the dispatch that builds it.

Every supported tree model (scikit-learn trees, forests and gradient boosting,
XGBoost, LightGBM, CatBoost) is turned into a :class:`TreeEnsemble`: padded arrays over
trees that the TreeSHAP kernels read without knowing where the trees came from. The
libraries' formats are known only to the readers of :mod:`whybox.shapley.tree._readers`
(one per library); :func:`parse_ensemble` asks them in turn and pads what the one that
supports the model reads (:func:`stack_trees`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox.shapley.tree._primitives import CATEGORICAL_RULES, MISSING_NAN
from whybox.shapley.tree._readers import READERS, TreeParts, TreeReader

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
        For LightGBM models, and XGBoost (3.1+) models, trained on pandas category
        columns: input column -> the categories whose positions are the codes the trees
        read (LightGBM's ``pandas_categorical``; the categories XGBoost stores in the
        model, in its order). A column given as categories rather than codes is mapped
        through it by :meth:`category_codes`, as the library's own ``predict`` does.
    missing_value : float, default=NaN
        A value the library reads as missing besides NaN (XGBoost's ``missing=``):
        :meth:`encode` turns it into NaN, comparing in float32 when ``float32_input``
        as XGBoost compares the float32 value with the float32 ``missing``.
    players : ndarray of shape (n_trees, max_nodes), int32, optional
        The player (the column the SHAP values are reported in) of each split: by
        default the split's own column (``features``). :meth:`grouped` relabels the
        columns to groups, e.g. the input column a pipeline's transformed column comes
        from; the kernels then read ``features`` to decide a split and ``players`` to
        credit it, so the values are those of the game whose players are the groups.
    n_players : int, optional
        The number of players (default: ``n_features``).
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
    players: np.ndarray | None = None
    n_players: int = -1

    def __post_init__(self) -> None:
        if self.players is None:
            object.__setattr__(self, "players", self.features)
        if self.n_players < 0:
            object.__setattr__(self, "n_players", self.n_features)
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
            "players",
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

        if np.any(self.players >= self.n_players):
            raise InputError(
                f"a split credits player {int(self.players.max())} but n_players is "
                f"{self.n_players}; give one group per column."
            )

    def grouped(self, groups: np.ndarray, n_players: int) -> TreeEnsemble:
        """The same trees with each column's splits credited to its group.

        Parameters
        ----------
        groups : ndarray of shape (n_features,), int
            The player of each column, in ``[0, n_players)``.
        n_players : int

        Returns
        -------
        TreeEnsemble
            Splits decide on the same columns; the SHAP values have ``n_players``
            columns. A path that splits on several columns of one group merges them
            into one player, as TreeSHAP merges repeated splits on one feature, so
            these are the Shapley values of the game of the groups (not the sums of
            the columns' values, which are those of another game).
        """
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != (self.n_features,):
            raise InputError(
                f"groups must have one entry per column, shape ({self.n_features},), got "
                f"{groups.shape}; give the group of every column the trees read."
            )
        split = self.features >= 0
        players = np.where(split, groups[np.where(split, self.features, 0)], -1)
        return replace(self, players=players.astype(np.int32), n_players=int(n_players))

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

    def splits_of(self, trees: slice | None = None) -> tuple:
        """What the kernels' split rule reads, as one argument: ``(thresholds,
        default_left, missing_rule, strict_less, category_sets)``, the node arrays of
        the ``trees`` slice (all trees by default)."""
        sl = slice(None) if trees is None else trees
        return (
            self.thresholds[sl],
            self.default_left[sl],
            self.missing_rule[sl],
            self.strict_less,
            self.category_sets,
        )

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
def stack_trees(parts: TreeParts) -> TreeEnsemble:
    """Pad a reader's per-tree arrays into one :class:`TreeEnsemble`.

    Each tree's ``value`` has shape (n_nodes, n_outputs), or (n_nodes, 1) for a tree
    that feeds the single output ``parts.tree_output[i]``; leaves' values are kept, the
    rest of the node arrays are padded with -1 (children, features) or 0.
    """
    trees, tree_output, n_outputs = parts.trees, parts.tree_output, parts.n_outputs
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
    sets = parts.category_sets or []
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
        base_offset=np.asarray(parts.base_offset, dtype=np.float64).reshape(n_outputs),
        n_features=int(parts.n_features),
        strict_less=parts.strict_less,
        float32_input=parts.float32_input,
        family=parts.family,
        category_sets=cats,
        encoded_categories=parts.encoded_categories or {},
        category_levels=parts.category_levels or {},
        missing_value=float(parts.missing_value),
    )


# ---------------------------------------------------------------------- dispatch
def _estimator_of(model: Any) -> Any:
    from whybox.adapters import Model

    return model.estimator if isinstance(model, Model) else model


def _reader_of(estimator: Any) -> TreeReader | None:
    for reader in READERS:
        if reader.supports(estimator):
            return reader
    return None


def reads_trees(model: Any) -> bool:
    """Whether ``model`` is of a type :func:`parse_ensemble` reads (fitted or not).

    A type check only: whether TreeExplainer can explain a fitted model (its splits,
    link and outputs included) is :func:`whybox._explain.is_tree_model`.

    Parameters
    ----------
    model : object
        A native model or a :class:`whybox.adapters.Model` wrapping one.

    Returns
    -------
    bool
    """
    return _reader_of(_estimator_of(model)) is not None


def parse_ensemble(model: Any) -> TreeEnsemble:
    """Read a fitted tree model into a :class:`TreeEnsemble`.

    Parameters
    ----------
    model : object
        A fitted scikit-learn tree, forest or gradient-boosting estimator, an XGBoost
        ``XGBRegressor``/``XGBClassifier``/``Booster``, a LightGBM
        ``LGBMRegressor``/``LGBMClassifier``/``Booster``, a CatBoost model, or a whybox
        ``Model`` wrapping one of them.

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
        If the model is not a supported tree model (a Pipeline included: TreeExplainer
        reads a Pipeline's final step through its column map), is not
        fitted, or uses splits TreeExplainer cannot read (categorical splits,
        linear trees, vector leaves).
    """
    est = _estimator_of(model)
    reader = _reader_of(est)
    if reader is None:
        raise UnsupportedModelError(
            f"TreeExplainer cannot read a model of type {type(est).__module__}."
            f"{type(est).__name__}; it supports {_SUPPORTED}, and scikit-learn Pipelines "
            "ending in one (or use whybox.ExactExplainer/PermutationExplainer)."
        )
    return stack_trees(reader.read(est))
