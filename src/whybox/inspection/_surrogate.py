"""Global surrogate: a shallow decision tree fitted to the model's own predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._utils import Result, check_int, check_random_state, json_value
from whybox.adapters import Dataset, adapt_data
from whybox.inspection._features import model_and_data


@dataclass(frozen=True, eq=False)
class GlobalSurrogate(Result):
    """A decision tree that imitates a model, with how well it does.

    Attributes
    ----------
    tree : sklearn.tree.DecisionTreeClassifier or DecisionTreeRegressor, or None
        Fitted on the (one-hot encoded) rows and the model's predictions; None in a
        result read back with :meth:`from_dict` (JSON does not hold the tree: its
        ``rules`` and size do).
    feature_names : tuple of str
        The tree's input columns (categorical features one-hot encoded as
        ``feature=level``).
    fidelity : float
        How well the tree reproduces the model on the rows it was fitted on:
        accuracy against the model's labels (classifier) or R^2 against its output.
    test_fidelity : float or None
        The same on held-out rows (``X_test``), the figure to trust.
    fidelity_metric : {"accuracy", "r2"}
    target : str
        What the tree imitates: "predicted label" or the output space and name.
    rules : str
        The tree as indented IF-THEN text (``sklearn.tree.export_text``).
    params : dict
        The settings (``max_depth``, ``min_samples_leaf``, ``output``,
        ``random_state``), ``n_samples`` (rows fitted on), and the fitted tree's
        ``depth`` and ``n_leaves``.
    """

    tree: Any
    feature_names: tuple[str, ...]
    fidelity: float
    test_fidelity: float | None
    fidelity_metric: str
    target: str
    rules: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """The depth of the fitted tree."""
        return int(self.tree.get_depth() if self.tree is not None else self.params["depth"])

    @property
    def n_leaves(self) -> int:
        """The number of leaves of the fitted tree."""
        return int(self.tree.get_n_leaves() if self.tree is not None else self.params["n_leaves"])

    def __repr__(self) -> str:
        held = "" if self.test_fidelity is None else f", held-out {self.test_fidelity:.3f}"
        return (
            f"GlobalSurrogate(depth {self.depth}, {self.n_leaves} leaves, "
            f"fidelity {self.fidelity_metric} {self.fidelity:.3f}{held})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Fidelity, depth and leaves in one row (never the tree without its fidelity)."""
        return pd.DataFrame(
            [
                {
                    "target": self.target,
                    "fidelity_metric": self.fidelity_metric,
                    "fidelity": self.fidelity,
                    "test_fidelity": self.test_fidelity,
                    "depth": self.depth,
                    "leaves": self.n_leaves,
                }
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as strict JSON data, without the fitted ``tree`` (its ``rules``,
        depth and leaves are kept); :meth:`from_dict` reads it back with ``tree=None``."""
        out = super().to_dict()
        del out["tree"]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GlobalSurrogate:
        """Rebuild the result from :meth:`to_dict`'s output; ``tree`` is None."""
        return super().from_dict({k: v for k, v in d.items() if k != "tree"} | {"tree": None})


def _encode(data: Dataset, levels: dict[int, list[Any]] | None = None):
    """Numeric columns as they are, categorical ones one-hot (levels from the fit)."""
    levels = {} if levels is None else levels
    cols, names = [], []
    for j, name in enumerate(data.feature_names):
        col = data.values[:, j]
        if not data.categorical[j]:
            cols.append(col.astype(np.float64)[:, None])
            names.append(name)
            continue
        lv = levels.setdefault(j, sorted(pd.unique(col[~pd.isna(col)]).tolist(), key=str))
        cols.append(np.column_stack([(col == v).astype(np.float64) for v in lv]))
        names.extend(f"{name}={v}" for v in lv)
    return np.hstack(cols), names, levels


def global_surrogate(
    model: Any,
    X: Any,
    *,
    max_depth: int = 3,
    min_samples_leaf: int | float = 0.01,
    output: str | None = None,
    X_test: Any = None,
    random_state: Any = 0,
) -> GlobalSurrogate:
    """Fit a shallow decision tree to the model's predictions, and report its fidelity.

    A classifier is imitated by a classification tree on its predicted labels; a
    regressor (or a classifier with ``output`` given: its probabilities, margin or
    log-odds) by a regression tree on its output. The tree explains the model only
    as far as its fidelity goes — the agreement with the model, measured on the
    rows it was fitted on and, with ``X_test``, on held-out rows — so the result
    always carries that number.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt.
    X : array-like of shape (n_samples, n_features) or DataFrame
        Rows to fit the tree on (categorical columns are one-hot encoded; missing
        numeric values are handled by scikit-learn's trees).
    max_depth : int, default=3
        Depth of the tree (>= 1): deeper trees are more faithful and harder to read.
    min_samples_leaf : int or float, default=0.01
        As in scikit-learn (a count, or a fraction of the rows).
    output : {"raw", "probability", "log_odds"}, optional
        Imitate this output of the model with a regression tree; default: the
        predicted label of a classifier, the value of a regressor. A multi-output
        model's first output (a binary classifier: the positive class).
    X_test : array-like or DataFrame, optional
        Held-out rows for ``test_fidelity``.
    random_state : int, numpy Generator or None, default=0
        Seeds scikit-learn's tie-breaking between equally good splits.

    Returns
    -------
    GlobalSurrogate

    Raises
    ------
    InputError
        ``max_depth`` < 1; ``X_test`` with other columns than ``X``.

    References
    ----------
    .. [1] M. W. Craven, J. W. Shavlik, "Extracting tree-structured representations
       of trained networks", NIPS 1995.
    .. [2] C. Molnar, "Interpretable Machine Learning", 2nd ed., 2022, section
       "Global surrogate".
    """
    random_state = check_random_state(random_state)
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text

    max_depth = check_int(max_depth, "max_depth", 1, "max_depth=3")
    m, data = model_and_data(model, X)
    classify = m.task == "classification" and output is None
    seed = (
        random_state
        if not isinstance(random_state, np.random.Generator)
        else int(random_state.integers(2**31 - 1))
    )

    def target_of(d: Dataset) -> np.ndarray:
        if classify:
            return np.asarray(m.predict_label(d)).astype(str)
        space = m.resolve_output(output) if output is not None else "raw"
        return m.predict(d, space)[:, 0]

    Z, names, levels = _encode(data)
    t = target_of(data)
    kind = DecisionTreeClassifier if classify else DecisionTreeRegressor
    tree = kind(max_depth=int(max_depth), min_samples_leaf=min_samples_leaf, random_state=seed)
    tree.fit(Z, t)
    score = accuracy_score if classify else r2_score
    fidelity = float(score(t, tree.predict(Z)))
    test_fidelity = None
    if X_test is not None:
        test = m.check_data(adapt_data(X_test, name="X_test"), name="X_test")
        Zt, _, _ = _encode(test, levels)
        test_fidelity = float(score(target_of(test), tree.predict(Zt)))
    target = "predicted label" if classify else f"{output or 'raw'} output ({m.output_names[0]})"
    return GlobalSurrogate(
        tree=tree,
        feature_names=tuple(names),
        fidelity=fidelity,
        test_fidelity=test_fidelity,
        fidelity_metric="accuracy" if classify else "r2",
        target=target,
        rules=export_text(tree, feature_names=list(names), decimals=3),
        params={
            "max_depth": int(max_depth),
            "min_samples_leaf": json_value(min_samples_leaf),
            "output": output,
            "random_state": json_value(random_state),
            "n_samples": data.n_samples,
            "depth": int(tree.get_depth()),
            "n_leaves": int(tree.get_n_leaves()),
        },
    )
