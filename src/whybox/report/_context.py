"""The audit context: what every section of the tabular audit reads, in one typed object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from whybox._explanation import Explanation
from whybox.adapters import Dataset, Model

KERNEL_EVALS = 512
"""KernelSHAP coalitions per row (more than 12 features, not a tree model)."""


@dataclass(frozen=True, eq=False)
class FullData:
    """What an audit of a dask X computed over all rows (on the cluster), beside the
    in-memory sample the per-row sections read.

    Attributes
    ----------
    n_rows : int
        All rows of X.
    n_sample : int
        The rows of the sample (``AuditContext.data``).
    random_state : int
        The seed that drew the sample.
    metrics : list of (str, float)
        The "Model performance" metrics over all rows (a metric that is not a sum over
        rows, ROC AUC, is computed on the sample and named so).
    confusion : ConfusionAnalysis or None
        Over all rows, labelled by the display names (None for a regressor).
    calibration : Calibration or None
        Over all rows, uniform bins (None for a regressor).
    group_metrics : GroupMetrics or None
        Over all rows (None without sensitive features).
    group_metrics_by_class : dict of str to GroupMetrics or None
        A multi-class model's group metrics per class against the rest, over all rows.
    permutation : PermutationImportance
        Over all rows (each column permuted within its partition).
    sample_rows : ndarray of int64 or None
        The sample's row positions in all of X (sorted): row ``r`` of the sample is row
        ``sample_rows[r]`` of X.
    """

    n_rows: int
    n_sample: int
    random_state: int
    metrics: list[tuple[str, float]]
    confusion: Any = None
    calibration: Any = None
    group_metrics: Any = None
    group_metrics_by_class: dict[str, Any] | None = None
    permutation: Any = None
    sample_rows: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class AuditContext:
    """The audited model and data, the settings, and the explanations shared by sections.

    The audit builds it in steps (:func:`dataclasses.replace` adds the explanation,
    the permutation importance and LIME once they are computed); each section reads it
    and returns a :class:`~whybox.report.Section`.

    Attributes
    ----------
    model : Model
        The adapted model.
    data : Dataset
        The audited rows (the model's input columns only).
    y : ndarray of shape (n_samples,)
        The true targets, as the model's class labels (classification) or float64.
    pred : ndarray of shape (n_samples,)
        The predicted labels (classification) or values (regression).
    rows : tuple of int
        The rows explained one by one (positions in ``data``).
    class_names : tuple of str or None
        The user's display names of the classes.
    display : dict of str to str
        A class label (as text) -> its display name; empty for a regressor.
    random_state : None, int or Generator
        The user's seed, passed to every seeded call.
    rng : Generator
        Draws the audit's own row samples, in a fixed order of the steps.
    progress : bool
        Whether the audit shows progress bars (the library's own bars then show too).
    sensitive_features : DataFrame or None
        The sensitive attributes as text, one column per attribute.
    sensitive_inputs : tuple of str
        The sensitive attributes that are also model inputs (flip-testable).
    train : Dataset or None
        The training rows (``X_train``, the model's input columns), None without them.
    y_train : ndarray or None
        Their targets (``y_train``), as ``y``; None when not given.
    train_sample : Dataset or None
        A seeded sample of ``train`` (up to 1000 rows) that stands for the training
        distribution: LIME's and the anchors' sampling, the counterfactuals' plausibility
        and ranges, the feature effects' grids; None without training rows.
    explanation : Explanation or None
        The SHAP values of ``explained``.
    explained : ndarray of int or None
        The rows of ``data`` the SHAP values explain (a sample plus ``rows``).
    background : Dataset or None
        The SHAP background (None for path-dependent TreeSHAP): 100 rows sampled from
        ``train``, or from ``data`` without training rows.
    units : str
        What the SHAP values are measured in, in words.
    top_features : tuple of str
        The most important features by mean |SHAP value|.
    permutation : PermutationImportance or None
    lime : Explanation or None
        LIME on ``rows``.
    full : FullData or None
        With a dask X: the results computed over all rows on the cluster, which replace
        the sample's in the sections that show them (None for an in-memory X).
    """

    model: Model
    data: Dataset
    y: np.ndarray
    pred: np.ndarray
    rows: tuple[int, ...]
    class_names: tuple[str, ...] | None
    display: dict[str, str]
    random_state: Any
    rng: np.random.Generator
    progress: bool = False
    sensitive_features: pd.DataFrame | None = None
    sensitive_inputs: tuple[str, ...] = ()
    train: Dataset | None = None
    y_train: np.ndarray | None = None
    train_sample: Dataset | None = None
    explanation: Explanation | None = None
    explained: np.ndarray | None = None
    background: Dataset | None = None
    units: str = ""
    top_features: tuple[str, ...] = ()
    permutation: Any = None
    lime: Explanation | None = None
    full: FullData | None = None

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return self.model.task

    @property
    def reference(self) -> Dataset:
        """The rows that stand for the training distribution: ``train_sample``, or the
        audited rows ``data`` when no training rows were given (LIME, anchors,
        counterfactuals, feature effects and the quality checks' baselines read it)."""
        return self.train_sample if self.train_sample is not None else self.data

    @property
    def reference_name(self) -> str:
        """What :attr:`reference` is, in words ("the training data" or "the audited rows")."""
        return "the training data" if self.train_sample is not None else "the audited rows"

    def bar(self, total: int, desc: str, unit: str = "it") -> Any:
        """A progress bar inside the current step (on stderr, below the audit's own bar,
        with an ETA); a silent one when the audit is quiet. Use it as a context manager
        and call ``update()`` per unit done."""
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=not self.progress, leave=False)

    @property
    def positions(self) -> dict[int, int]:
        """Row of ``data`` -> its position in ``explanation``."""
        return {int(r): i for i, r in enumerate(self.explained)}

    def explain(self, rows: Any, model: Any = None, progress: bool | None = False) -> Explanation:
        """SHAP values of ``rows`` (of ``model``, default the audited one) with the audit's
        explainer settings (used again by the stability and sanity checks)."""
        from whybox import explain

        return explain(
            self.model if model is None else model,
            rows,
            background=self.background,
            random_state=self.random_state,
            max_evals=max(KERNEL_EVALS, 4 * self.data.n_features),
            progress=progress,
        )

    @property
    def inner_progress(self) -> bool | None:
        """``progress`` for the library calls: False when the audit is quiet, else auto."""
        return None if self.progress else False

    def row_label(self, r: int) -> int:
        """Row ``r`` of ``data`` as the report names it: its position in the audited X
        (in all of a dask X, whose sample ``data`` is)."""
        if self.full is not None and self.full.sample_rows is not None:
            return int(self.full.sample_rows[r])
        return int(r)

    def replace(self, **changes: Any) -> AuditContext:
        """A copy with ``changes`` (the context is frozen)."""
        return dataclasses.replace(self, **changes)
