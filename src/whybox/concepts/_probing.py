"""Linear probes of a layer's activations, with a control task (Hewitt & Liang 2019)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import (
    Result,
    as_float_array,
    check_batch_size,
    check_int,
    check_random_state,
    json_value,
)
from whybox._version import __version__
from whybox.adapters._torch import adapt_torch_model, import_torch
from whybox.concepts._activations import flat_numpy, layer_activations, layer_name

TASKS = ("auto", "classification", "regression")


@dataclass(frozen=True, eq=False)
class ProbeResult(Result):
    """Cross-validated score of a linear probe on the real task and on the control task.

    Attributes
    ----------
    accuracy : float
        Mean held-out score of the probe on ``y`` over the folds: accuracy for
        classification, R^2 for regression (see ``scoring``).
    control_accuracy : float
        The same for the control task (random labels fixed per type).
    selectivity : float
        ``accuracy - control_accuracy`` (Hewitt & Liang 2019): how much of the score
        comes from the activations encoding ``y`` rather than from the probe
        memorising arbitrary labels of the inputs.
    fold_scores : ndarray of shape (cv,), float64
        Held-out score in each fold on ``y``.
    control_fold_scores : ndarray of shape (cv,), float64
        Held-out score in each fold (the same folds) on the control labels.
    control_labels : ndarray of shape (n_samples,)
        The control task's labels (``y_control`` when given), constant within each
        type otherwise.
    n_features : int
        Dimensions of the (flattened) activations the probe sees.
    n_samples : int
    task : {"classification", "regression"}
    scoring : {"accuracy", "r2"}
        What ``accuracy`` and the fold scores measure.
    params : dict
        cv, random_state, the layer (when captured) and the probe, to reproduce.

    Notes
    -----
    A :class:`~whybox._utils.Result`: ``to_dict()``/``to_json()`` write every field
    (strict JSON) and ``ProbeResult.from_dict`` reads them back; ``to_frame()`` is
    the per-fold table.
    """

    accuracy: float
    control_accuracy: float
    selectivity: float
    fold_scores: np.ndarray
    control_fold_scores: np.ndarray
    control_labels: np.ndarray
    n_features: int
    n_samples: int
    task: str
    scoring: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per fold: task score, control score and their difference."""
        return pd.DataFrame(
            {
                "task": self.fold_scores,
                "control": self.control_fold_scores,
                "selectivity": self.fold_scores - self.control_fold_scores,
            },
            index=pd.RangeIndex(len(self.fold_scores), name="fold"),
        )


def probe(
    activations: Any,
    y: Any,
    *,
    types: Any = None,
    y_control: Any = None,
    task: str = "auto",
    estimator: Any = None,
    cv: int = 5,
    random_state: Any = 0,
    batch_size: int | None = None,
    additional_forward_args: Any = None,
) -> ProbeResult:
    """Linear probe of what a layer's activations encode, with a control task.

    A probe is a linear model fitted to predict ``y`` from the activations; its
    cross-validated score says how linearly decodable ``y`` is. A high score
    alone does not show that the layer encodes the property: an expressive probe can
    also memorise arbitrary labels. Hewitt & Liang (2019, "Designing and interpreting
    probes with control tasks") therefore fit the same probe to a control task, in
    which every *type* (a distinct input, e.g. a word type) gets a random label,
    and report the selectivity ``score(task) - score(control)``.

    Here the control labels are a random permutation of the types' labels over the
    types (each type's label is the label of its first sample), so the control task
    has exactly the label distribution over types of the real task, and each type
    keeps one control label wherever it occurs. Both tasks are scored on the same
    folds.

    Parameters
    ----------
    activations : array-like of shape (n_samples, ...), torch.Tensor, or tuple
        The activations (flattened per sample to n_features), or a tuple
        ``(model, layer, inputs)``: a ``torch.nn.Module``, a layer name from
        ``model.named_modules()`` (or the submodule) and the inputs (n_samples,
        *input_shape), or a tuple of them, one per forward argument (integer token
        ids stay integers), whose activations at the layer are captured (eval mode).
    y : array-like of shape (n_samples,)
        The property probed for: class labels (ints, strings, bools) or real targets.
    types : array-like of shape (n_samples,), optional
        A type id per sample for the control task (e.g. the word of each token).
        None: each distinct input is a type (equal rows of the inputs, or of the
        activations when activations are given).
    y_control : array-like of shape (n_samples,), optional
        Your own control-task labels; then ``types`` is not used.
    task : {"auto", "classification", "regression"}, default "auto"
        "auto": regression for a float ``y``, classification otherwise.
    estimator : scikit-learn estimator, optional
        The probe, cloned for each fold. Default: standardised features followed by
        ``LogisticRegression(C=1)`` for classification or ``Ridge(alpha=1)`` for
        regression.
    cv : int, default 5
        Folds of the (stratified, for classification) shuffled K-fold split.
    random_state : int, numpy Generator or None, default 0
        Seeds the control labels and the folds; None draws afresh.
    batch_size : int, optional
        Inputs per forward pass when capturing activations.
    additional_forward_args : None, tuple or object, optional
        With ``(model, layer, inputs)``: passed to the model after the inputs
        (``model(*inputs, *additional_forward_args)``); a tensor whose first axis
        has one entry per sample is taken at each batch's samples.

    Returns
    -------
    ProbeResult
        Scores (accuracy or R^2), control scores, selectivity, per-fold scores.

    Raises
    ------
    InputError
        ``y``, ``types`` or ``y_control`` of the wrong length, fewer than 2 classes, a
        class with fewer members than ``cv``, ``cv`` below 2, activations that are not
        a numeric matrix, a bad ``(model, layer, inputs)`` tuple or unknown layer.
    """
    rng = np.random.default_rng(check_random_state(random_state))
    acts, inputs, captured = _activations(
        activations, check_batch_size(batch_size), additional_forward_args
    )
    n = acts.shape[0]
    y = _vector(y, n, "y")
    task = _task(task, y)
    cv = check_int(cv, "cv", 2, "cv=5")
    if cv > n:
        raise InputError(f"cv={cv} folds need at least {cv} samples, got {n}; lower cv.")
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise InputError(
                f"y has {len(classes)} distinct class ({classes.tolist()}); a probe "
                "needs at least 2 classes."
            )
        if counts.min() < cv:
            raise InputError(
                f"class {classes[counts.argmin()].item()!r} of y has {counts.min()} sample(s), "
                f"fewer than cv={cv}; lower cv or give more samples of that class."
            )
    else:
        y = y.astype(np.float64)

    if y_control is not None:
        control = _vector(y_control, n, "y_control")
        if task == "regression":
            control = control.astype(np.float64)
    else:
        if types is not None:
            type_ids = _vector(types, n, "types")
        else:
            source = acts if inputs is None else inputs.reshape(n, -1)
            type_ids = source
        control = control_task(y, type_ids, rng)

    seed = int(rng.integers(2**31 - 1))
    if task == "classification":
        from sklearn.model_selection import StratifiedKFold

        folds = list(StratifiedKFold(cv, shuffle=True, random_state=seed).split(acts, y))
    else:
        from sklearn.model_selection import KFold

        folds = list(KFold(cv, shuffle=True, random_state=seed).split(acts))
    probe_model = _estimator(estimator, task)
    fold_scores = _cross_validate(probe_model, acts, y, folds, task)
    control_scores = _cross_validate(probe_model, acts, control, folds, task)
    accuracy = float(fold_scores.mean())
    control_accuracy = float(control_scores.mean())
    return ProbeResult(
        accuracy=accuracy,
        control_accuracy=control_accuracy,
        selectivity=accuracy - control_accuracy,
        fold_scores=fold_scores,
        control_fold_scores=control_scores,
        control_labels=control,
        n_features=int(acts.shape[1]),
        n_samples=int(n),
        task=task,
        scoring="accuracy" if task == "classification" else "r2",
        params={
            "method": "probe",
            "cv": cv,
            "random_state": json_value(random_state),
            "estimator": repr(probe_model),
            "layer": captured,
            "control": "given" if y_control is not None else "permuted type labels",
            "whybox_version": __version__,
        },
    )


def control_task(labels: np.ndarray, types: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Control labels: the types' labels permuted at random over the types.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    types : ndarray of shape (n_samples,) or (n_samples, d)
        The type of each sample (rows compared whole when 2-D).
    rng : numpy Generator

    Returns
    -------
    ndarray of shape (n_samples,)
        One label per type, constant within a type; over the types, the labels
        have exactly the distribution of the types' own labels.
    """
    if types.ndim == 1:
        _, first, inverse = np.unique(types, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(types, axis=0, return_index=True, return_inverse=True)
    inverse = np.ravel(inverse)
    type_labels = labels[first]
    return type_labels[rng.permutation(len(type_labels))][inverse]


# ---------------------------------------------------------------------- helpers
def _activations(
    source: Any, batch_size: int | None, additional_forward_args: Any = None
) -> tuple[np.ndarray, Any, str | None]:
    """(activations (n, d) float64, the inputs as numpy or None, the layer name or None).

    The inputs come flattened per sample, several inputs side by side (n, total).
    """
    if isinstance(source, tuple):
        if len(source) != 3:
            raise InputError(
                f"activations given as a tuple must be (model, layer, inputs), got a tuple "
                f"of {len(source)} item(s)."
            )
        torch = import_torch()
        model = adapt_torch_model(source[0])
        layer = model.layer(source[1])
        x = model.as_inputs(source[2], "inputs")
        with model.evaluation():
            acts = layer_activations(
                model, layer, x if len(x) > 1 else x[0], batch_size, additional_forward_args
            )
        inputs = np.concatenate(
            [t.detach().cpu().to(torch.float64).numpy().reshape(len(t), -1) for t in x], axis=1
        )
        return flat_numpy(acts), inputs, layer_name(model, layer)
    if additional_forward_args is not None:
        raise InputError(
            "additional_forward_args is only used when activations is a tuple (model, "
            "layer, inputs); leave it None for given activations."
        )
    if hasattr(source, "detach") and hasattr(source, "cpu"):
        source = source.detach().cpu().numpy()
    arr = as_float_array(
        source,
        "activations must be a numeric array of shape (n_samples, ...) or a tuple "
        f"(model, layer, inputs), got {type(source).__name__}.",
    )
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise InputError(
            f"activations must have shape (n_samples, n_features, ...), got shape "
            f"{arr.shape}; reshape a single feature with activations[:, None]."
        )
    if not np.all(np.isfinite(arr)):
        raise InputError("activations contain NaN or infinite values; remove or impute them.")
    return arr.reshape(arr.shape[0], -1), None, None


def _vector(values: Any, n: int, name: str) -> np.ndarray:
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(
            f"{name} must have one entry per sample, shape ({n},), got shape {arr.shape}."
        )
    return arr


def _task(task: str, y: np.ndarray) -> str:
    if task not in TASKS:
        raise InputError(f"task must be one of {TASKS}, got {task!r}.")
    if task != "auto":
        if task == "regression" and not np.issubdtype(y.dtype, np.number):
            raise InputError(
                f"task='regression' needs a numeric y, got dtype {y.dtype}; use "
                "task='classification'."
            )
        return task
    return "regression" if np.issubdtype(y.dtype, np.floating) else "classification"


def _estimator(estimator: Any, task: str) -> Any:
    if estimator is not None:
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise InputError(
                f"estimator must be a scikit-learn estimator with fit and predict, got "
                f"{type(estimator).__name__}."
            )
        return estimator
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "classification":
        from sklearn.linear_model import LogisticRegression

        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    from sklearn.linear_model import Ridge

    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def _cross_validate(
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    task: str,
) -> np.ndarray:
    """Held-out score per fold; a training fold with one class predicts that class."""
    from sklearn.base import clone
    from sklearn.metrics import r2_score

    scores = np.empty(len(folds))
    for k, (train, test) in enumerate(folds):
        if task == "classification" and np.unique(y[train]).size < 2:
            predicted = np.full(len(test), y[train][0])
        else:
            fitted = clone(estimator).fit(X[train], y[train])
            predicted = fitted.predict(X[test])
        if task == "classification":
            scores[k] = float(np.mean(predicted == y[test]))
        else:
            scores[k] = float(r2_score(y[test], predicted))
    return scores
