"""Shared builders and readers of the plot tests."""

from __future__ import annotations

import numpy as np

from whybox import Explanation
from whybox.inspection import PermutationImportance


def explanation(n=40, d=6, k=1, seed=0, data=None):
    """A random tabular Explanation: n rows, d features ("f0", ...), k outputs."""
    rng = np.random.default_rng(seed)
    scale = np.arange(1, d + 1)[None, :, None]
    values = rng.normal(size=(n, d, k)) * scale
    base = rng.normal(size=(n, k))
    if data is None:
        data = rng.normal(size=(n, d))
    outputs = ["y"] if k == 1 else [f"class_{i}" for i in range(k)]
    return Explanation(
        values,
        base,
        data,
        [f"f{i}" for i in range(d)],
        outputs,
        model_output=values.sum(axis=1) + base,
    )


def perm_result(d=8, repeats=5, seed=0):
    """A PermutationImportance of d features ("f0", ...), importance growing with the index."""
    rng = np.random.default_rng(seed)
    imp = rng.normal(size=(d, repeats)) + np.arange(d)[:, None] * 0.5
    return PermutationImportance(
        imp, imp.mean(axis=1), imp.std(axis=1), tuple(f"f{i}" for i in range(d)), 0.9, "accuracy"
    )


def bar_patches(ax):
    """The bars of the first bar container of ``ax``."""
    return list(ax.containers[0])


def ticklabels(ax, axis="y"):
    """Tick labels ordered by position: bottom to top (y) or left to right (x)."""
    axis_obj = ax.yaxis if axis == "y" else ax.xaxis
    locs = axis_obj.get_ticklocs()
    texts = [t.get_text() for t in axis_obj.get_ticklabels()]
    return [t for _, t in sorted(zip(locs, texts, strict=True))]
