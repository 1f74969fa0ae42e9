"""The core every LIME explainer shares: proximity kernel, feature selection, weighted ridge.

LIME (Ribeiro, Singh & Guestrin 2016, "Why should I trust you?": Explaining the
predictions of any classifier) explains one prediction with a linear model fitted to
the black-box model's outputs on perturbed copies of the instance, written in an
interpretable representation ``z`` (a row of 0/1 indicators, or standardised values),
each copy weighed by its proximity to the instance. This module holds the part that
does not depend on the data type:

* the proximity kernel ``pi(d) = exp(-d^2 / (2 * kernel_width^2))``;
* the weighted moments of the perturbations, from which every fit below is solved
  without touching the samples again, for many explained instances at once;
* the feature selection methods of the paper's code ("forward_selection",
  "lasso_path", "highest_weights", "none", "auto");
* the weighted ridge surrogate on the selected features and its weighted coefficient
  of determination, the local R^2 (the surrogate's fidelity on the perturbations).

Instance ``r``'s perturbations are rows ``Z[r, s]`` with sample 0 the instance itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import (
    check_batch_size,
    check_int,
    check_random_state,
    json_value,
    progress_bar,
)

FEATURE_SELECTIONS = ("auto", "forward_selection", "lasso_path", "highest_weights", "none")
"""The feature selection methods; "auto" is forward selection up to 6 features, else
highest weights."""

AUTO_FORWARD_MAX = 6
""""auto" uses forward selection when at most this many features are asked for."""

SELECTION_RIDGE = 0.01
"""The ridge penalty of the all-feature fit that ranks features for "highest_weights"."""


# ---------------------------------------------------------------------- validation
def check_positive_float(value: Any, name: str, example: float, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``), or an InputError."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(
            f"{name} must be a finite number {bound}, got {value!r}; e.g. {name}={example}."
        )
    return float(value)


def check_feature_selection(value: Any) -> str:
    """``value`` if it names a feature selection method, else an InputError."""
    if value not in FEATURE_SELECTIONS:
        raise InputError(
            f"feature_selection must be one of {FEATURE_SELECTIONS}, got {value!r}; "
            "e.g. feature_selection='auto'."
        )
    return value


def resolve_selection(feature_selection: str, max_features: int, n_available: int) -> str:
    """The selection method actually run.

    "none" when ``max_features`` covers every available feature; "auto" is forward
    selection for at most :data:`AUTO_FORWARD_MAX` features, else highest weights.
    """
    if max_features >= n_available:
        return "none"
    if feature_selection != "auto":
        return feature_selection
    return "forward_selection" if max_features <= AUTO_FORWARD_MAX else "highest_weights"


# ---------------------------------------------------------------------- proximity
def kernel_weights(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """The exponential (Gaussian) proximity kernel ``exp(-d^2 / (2 * kernel_width^2))``.

    This is the paper's ``pi_x(z) = exp(-D(x, z)^2 / sigma^2)`` with
    ``sigma = sqrt(2) * kernel_width``, i.e. the square root of
    ``exp(-d^2 / kernel_width^2)``, the convention of the LIME authors' code, so a given
    ``kernel_width`` means the same neighbourhood in both.
    """
    return np.exp(-np.square(distances) / (2.0 * kernel_width**2))


def cosine_distance_to_ones(Z: np.ndarray) -> np.ndarray:
    """Cosine distance of each 0/1 row of ``Z`` (..., n_features) to the all-ones row.

    For a row keeping ``s`` of ``p`` features it is ``1 - sqrt(s / p)``; the all-zero row
    (nothing kept) is at distance 1.
    """
    p = Z.shape[-1]
    return 1.0 - np.sqrt(Z.sum(axis=-1) / p)


# ---------------------------------------------------------------------- moments
@dataclass(frozen=True)
class WeightedMoments:
    """The weighted first and second moments of each instance's perturbations.

    Every least-squares fit on a subset of the features, its R^2 and the lasso path
    follow from these, so the samples are read once whatever the selection method.

    Attributes
    ----------
    z_mean : ndarray of shape (n_rows, n_features)
        Weighted mean of the interpretable features.
    y_mean : ndarray of shape (n_rows, n_outputs)
        Weighted mean of the model outputs.
    gram : ndarray of shape (n_rows, n_features, n_features)
        ``Zc' W Zc`` with ``Zc`` the weighted-centred features.
    cross : ndarray of shape (n_rows, n_features, n_outputs)
        ``Zc' W Yc``.
    syy : ndarray of shape (n_rows, n_outputs)
        ``Yc' W Yc``, the weighted total sum of squares.
    constant_y : ndarray of shape (n_rows, n_outputs), bool
        The model output is the same on every perturbation (the R^2 is then 1).
    z_row : ndarray of shape (n_rows, n_features)
        The explained instance's interpretable representation (sample 0).
    n_samples : int
    """

    z_mean: np.ndarray
    y_mean: np.ndarray
    gram: np.ndarray
    cross: np.ndarray
    syy: np.ndarray
    constant_y: np.ndarray
    z_row: np.ndarray
    n_samples: int


def weighted_moments(Z: np.ndarray, Y: np.ndarray, weights: np.ndarray) -> WeightedMoments:
    """The weighted moments of perturbations, one instance per leading index.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_samples, n_features), float64
        Interpretable representation of each instance's perturbations; sample 0 is the
        instance itself.
    Y : ndarray of shape (n_rows, n_samples, n_outputs), float64
        The model's outputs on them.
    weights : ndarray of shape (n_rows, n_samples), float64
        Proximity weights.

    Returns
    -------
    WeightedMoments
    """
    sw = weights.sum(axis=1)
    w = weights[:, None, :]  # (r, 1, s): every reduction is a matmul, one per instance
    z_mean = (w @ Z)[:, 0] / sw[:, None]
    y_mean = (w @ Y)[:, 0] / sw[:, None]
    Zc = Z - z_mean[:, None, :]
    Yc = Y - y_mean[:, None, :]
    Zw = np.swapaxes(Zc * weights[:, :, None], 1, 2)  # (r, d, s)
    syy = (w @ np.square(Yc))[:, 0]
    constant_y = np.ptp(Y, axis=1) == 0
    return WeightedMoments(
        z_mean, y_mean, Zw @ Zc, Zw @ Yc, syy, constant_y, Z[:, 0].copy(), Z.shape[1]
    )


# ---------------------------------------------------------------------- fits
def _masked_solve(
    gram: np.ndarray, cross: np.ndarray, mask: np.ndarray, ridge: float
) -> np.ndarray:
    """Ridge coefficients on the features in ``mask`` (zero elsewhere), batched.

    Parameters
    ----------
    gram : ndarray of shape (..., d, d)
    cross : ndarray of shape (..., d)
    mask : ndarray of shape (..., d), bool
    ridge : float

    Returns
    -------
    ndarray of shape (..., d)
        The minimum-norm solution of ``(G_S + ridge I) b_S = c_S``: with ``ridge = 0`` a
        feature that does not vary among the weighted samples gets 0.
    """
    d = gram.shape[-1]
    pair = mask[..., :, None] & mask[..., None, :]
    eye = np.eye(d, dtype=bool)
    # unselected features become decoupled unit rows with a zero right-hand side
    A = np.where(pair, gram, 0.0) + np.where(eye & pair, ridge, 0.0) + (eye & ~pair)
    rhs = np.where(mask, cross, 0.0)
    solution = (np.linalg.pinv(A, hermitian=True) @ rhs[..., None])[..., 0]
    return np.where(mask, solution, 0.0)  # exact zeros, whatever the rounding


def _r2(mom: WeightedMoments, coef: np.ndarray) -> np.ndarray:
    """Weighted R^2 of the fits with coefficients ``coef`` (n_rows, n_outputs, d)."""
    cross = np.swapaxes(mom.cross, 1, 2)  # (r, k, d)
    rss = (
        mom.syy
        - 2.0 * np.einsum("rkd,rkd->rk", coef, cross)
        + np.einsum("rkd,rde,rke->rk", coef, mom.gram, coef)
    )
    ok = (mom.syy > 0) & ~mom.constant_y
    return np.where(ok, 1.0 - rss / np.where(ok, mom.syy, 1.0), 1.0)


def _highest_weights(mom: WeightedMoments, m: int) -> np.ndarray:
    """Features with the largest ``|coefficient * z_row|`` in a ridge fit on all features."""
    r, d, k = mom.cross.shape
    all_on = np.ones((r, d), dtype=bool)
    coef = np.stack(
        [_masked_solve(mom.gram, mom.cross[:, :, o], all_on, SELECTION_RIDGE) for o in range(k)],
        axis=1,
    )  # (r, k, d)
    score = np.abs(coef * mom.z_row[:, None, :])
    order = np.argsort(-score, axis=-1, kind="stable")[..., :m]
    mask = np.zeros((r, k, d), dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask


def _forward_selection(mom: WeightedMoments, m: int) -> np.ndarray:
    """Greedily add the feature that most raises the least-squares fit's weighted R^2."""
    r, d, k = mom.cross.shape
    p = r * k  # (instance, output) pairs, each selecting its own features
    row = np.repeat(np.arange(r), k)[:, None, None]
    out = np.tile(np.arange(k), r)[:, None, None]
    chosen = np.empty((p, d, 0), dtype=np.intp)
    candidate = np.broadcast_to(np.arange(d)[None, :, None], (p, d, 1))
    for _ in range(m):
        idx = np.concatenate([chosen, candidate], axis=2)  # (p, d candidates, t + 1)
        gram = mom.gram[row[..., None], idx[..., :, None], idx[..., None, :]]
        cross = mom.cross[row, idx, out]
        coef = (np.linalg.pinv(gram, hermitian=True) @ cross[..., None])[..., 0]
        # at the least-squares optimum the explained sum of squares is coef . cross
        gain = np.einsum("pct,pct->pc", coef, cross)
        np.put_along_axis(gain, chosen[:, 0, :], -np.inf, axis=1)
        best = np.argmax(gain, axis=1)
        chosen = np.concatenate([chosen, np.broadcast_to(best[:, None, None], (p, d, 1))], axis=2)
    mask = np.zeros((p, d), dtype=bool)
    np.put_along_axis(mask, chosen[:, 0, :], True, axis=1)
    return mask.reshape(r, k, d)


def _lasso_path(mom: WeightedMoments, m: int) -> np.ndarray:
    """The features of the last point of the weighted lasso path with at most ``m`` nonzero."""
    from sklearn.linear_model import lars_path_gram

    r, d, k = mom.cross.shape
    mask = np.zeros((r, k, d), dtype=bool)
    for i in range(r):
        for o in range(k):
            _, _, coefs = lars_path_gram(
                mom.cross[i, :, o], mom.gram[i], n_samples=mom.n_samples, method="lasso"
            )
            nonzero = coefs != 0  # (d, n_steps)
            fits = np.flatnonzero(nonzero.sum(axis=0) <= m)
            mask[i, o] = nonzero[:, fits[-1]]
    return mask


_SELECTORS = {
    "highest_weights": _highest_weights,
    "forward_selection": _forward_selection,
    "lasso_path": _lasso_path,
}


@dataclass(frozen=True)
class Surrogates:
    """Weighted ridge surrogates, one per explained instance and output.

    Attributes
    ----------
    coef : ndarray of shape (n_rows, n_features, n_outputs)
        Coefficients on the interpretable features; 0 for features not selected.
    intercept : ndarray of shape (n_rows, n_outputs)
    local_r2 : ndarray of shape (n_rows, n_outputs)
        Weighted coefficient of determination on the perturbations (1 for a model
        output that does not vary).
    selected : ndarray of shape (n_rows, n_features, n_outputs), bool
    """

    coef: np.ndarray
    intercept: np.ndarray
    local_r2: np.ndarray
    selected: np.ndarray


def fit_surrogates(
    mom: WeightedMoments, *, max_features: int, feature_selection: str, ridge: float
) -> Surrogates:
    """Select features and fit the weighted ridge surrogate for every instance and output.

    Parameters
    ----------
    mom : WeightedMoments
    max_features : int
        The most features a surrogate may use (at most the number of features).
    feature_selection : {"forward_selection", "lasso_path", "highest_weights", "none"}
        Already resolved by :func:`resolve_selection` (not "auto").
    ridge : float
        The ridge penalty of the surrogate: it minimises
        ``sum_s w_s (y_s - b0 - z_s . b)^2 + ridge * |b|^2``.

    Returns
    -------
    Surrogates
    """
    r, d, k = mom.cross.shape
    m = min(max_features, d)
    if feature_selection == "none":
        mask = np.ones((r, k, d), dtype=bool)
    else:
        mask = _SELECTORS[feature_selection](mom, m)
    coef = np.empty((r, k, d))
    for o in range(k):
        coef[:, o] = _masked_solve(mom.gram, mom.cross[:, :, o], mask[:, o], ridge)
    local_r2 = _r2(mom, coef)
    intercept = mom.y_mean - np.einsum("rkd,rd->rk", coef, mom.z_mean)
    return Surrogates(np.swapaxes(coef, 1, 2), intercept, local_r2, np.swapaxes(mask, 1, 2).copy())


# ---------------------------------------------------------------------- outputs
def class_outputs(proba: Any, n_rows: int, class_names: Any) -> np.ndarray:
    """Check the class probabilities a model returned and keep the outputs LIME explains.

    A binary classifier has one output, the positive class (column 1), as everywhere
    in whybox; with more classes every class is an output.

    Parameters
    ----------
    proba : array-like
        What the user's function returned for ``n_rows`` inputs.
    n_rows : int
    class_names : sequence of str or None

    Returns
    -------
    ndarray of shape (n_rows, n_outputs), float64

    Raises
    ------
    InputError
        If ``proba`` is not (n_rows, n_classes) with n_classes >= 2 finite numbers, or
        ``class_names`` does not name every class.
    """
    try:
        arr = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[0] != n_rows or arr.shape[1] < 2:
        shape = "non-numeric" if arr is None else arr.shape
        raise InputError(
            "model must return class probabilities of shape (n_inputs, n_classes) with "
            f"n_classes >= 2, but returned {shape} for {n_rows} inputs; return e.g. "
            "clf.predict_proba(...) (for a single score p, return np.c_[1 - p, p])."
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(
            "model returned non-finite probabilities; check the model on perturbed inputs."
        )
    if class_names is not None and len(class_names) != arr.shape[1]:
        raise InputError(
            f"class_names has {len(class_names)} names but model returned {arr.shape[1]} "
            "classes; give one name per column of its output."
        )
    return arr[:, 1:] if arr.shape[1] == 2 else arr


def predict_in_batches(
    model: Callable[[Any], Any],
    make_batch: Callable[[int, int], Any],
    n: int,
    *,
    batch_size: int | None,
    class_names: Any,
    progress: bool | None,
) -> np.ndarray:
    """Class probabilities of ``n`` perturbed inputs, ``batch_size`` per call.

    Parameters
    ----------
    model : callable
        The user's function of a batch of inputs (texts, images).
    make_batch : callable
        ``make_batch(start, stop)`` builds the inputs ``start .. stop - 1``.
    n : int
    batch_size : int or None
        Inputs per call of ``model``; None: all in one call.
    class_names : sequence of str or None
    progress : bool or None
        Show a tqdm bar over the inputs (None: for 100 or more).

    Returns
    -------
    ndarray of shape (n, n_outputs), float64
        As :func:`class_outputs`.

    Raises
    ------
    InputError
        As :func:`class_outputs`, or when calls disagree on the number of classes.
    """
    parts: list[np.ndarray] = []
    with progress_bar(n, progress, "LIME") as bar:
        step = batch_size or max(n, 1)
        for start in range(0, n, step):
            stop = min(n, start + step)
            out = class_outputs(model(make_batch(start, stop)), stop - start, class_names)
            if parts and out.shape[1] != parts[0].shape[1]:
                raise InputError(
                    "model returned a different number of classes from one call to the "
                    "next; return every class's probability in every call."
                )
            parts.append(out)
            bar.update(stop - start)
    return np.concatenate(parts, axis=0)


def class_output_names(class_names: Any, n_classes: int) -> tuple[str, ...]:
    """The names of the explained outputs: the positive class for two classes, else all."""
    names = (
        tuple(str(c) for c in class_names)
        if class_names is not None
        else tuple(f"class_{i}" for i in range(n_classes))
    )
    return names[1:] if n_classes == 2 else names


# ---------------------------------------------------------------------- explainers
class LimeSettings:
    """The settings every LIME explainer checks, keeps and records the same way.

    Subclasses set ``method`` and call :meth:`_settings` from ``__init__``;
    :meth:`_fit` fits the surrogates of one or several inputs' neighbourhoods and
    :meth:`_shared_params` records the shared settings in an explanation's ``params``.
    """

    method = ""

    def _settings(
        self,
        *,
        n_perturbations: Any,
        kernel_width: Any,
        max_features: Any,
        feature_selection: Any,
        ridge: Any,
        random_state: Any,
        batch_size: Any,
        progress: Any,
        default_perturbations: int,
        default_width: float,
    ) -> None:
        """Check and keep the settings every LIME explainer takes."""
        self.random_state = check_random_state(random_state)
        self.n_perturbations = check_int(
            n_perturbations, "n_perturbations", 2, f"n_perturbations={default_perturbations}"
        )
        self.kernel_width = check_positive_float(kernel_width, "kernel_width", default_width)
        self.max_features = check_int(max_features, "max_features", 1, "max_features=10")
        self.feature_selection = check_feature_selection(feature_selection)
        self.ridge = check_positive_float(ridge, "ridge", 1.0, allow_zero=True)
        self.batch_size = check_batch_size(batch_size)
        self.progress = None if progress is None else bool(progress)

    def _fit(
        self, Z: np.ndarray, Y: np.ndarray, distances: np.ndarray, selection: str
    ) -> tuple[WeightedMoments, Surrogates]:
        """The surrogates of neighbourhoods ``Z`` (n_rows, n_samples, d) with model
        outputs ``Y`` (n_rows, n_samples, n_outputs) and ``distances`` (n_rows,
        n_samples) to their inputs, feature selection ``selection`` resolved."""
        moments = weighted_moments(Z, Y, kernel_weights(distances, self.kernel_width))
        fit = fit_surrogates(
            moments, max_features=self.max_features, feature_selection=selection, ridge=self.ridge
        )
        return moments, fit

    def _shared_params(self, selection: str) -> dict[str, Any]:
        """The shared settings as an explanation's ``params`` entries."""
        from whybox._version import __version__

        return {
            "n_perturbations": self.n_perturbations,
            "kernel_width": self.kernel_width,
            "max_features": self.max_features,
            "feature_selection": self.feature_selection,
            "feature_selection_used": selection,
            "ridge": self.ridge,
            "batch_size": self.batch_size,
            "random_state": json_value(self.random_state),
            "whybox_version": __version__,
        }


class PresenceLime(LimeSettings):
    """What text and image LIME share: features that are present or hidden.

    A perturbation is a 0/1 vector over the features (sample 0 keeps them all: the
    explained input itself); the surrogate is fitted on that vector. Subclasses call
    :meth:`_presence_settings` from ``__init__`` and :meth:`_explain` from ``__call__``.
    """

    def _presence_settings(
        self, model: Any, class_names: Any, kind: str, example: str, **settings: Any
    ) -> None:
        """Check and keep ``model`` (a callable of a batch of ``kind``), ``class_names``
        and the shared settings."""
        if not callable(model):
            raise InputError(
                f"model must be a callable {kind} -> (n_{kind}, n_classes), got "
                f"{type(model).__name__}; pass e.g. {example}."
            )
        self.model = model
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self._settings(**settings)

    def _predict_batches(self, make_batch: Callable[[int, int], Any], n: int) -> np.ndarray:
        """The model's class probabilities of ``n`` perturbed inputs (see
        :func:`predict_in_batches`)."""
        return predict_in_batches(
            self.model,
            make_batch,
            n,
            batch_size=self.batch_size,
            class_names=self.class_names,
            progress=self.progress,
        )

    def _explain(
        self,
        Z: np.ndarray,
        Y: np.ndarray,
        distances: np.ndarray,
        *,
        feature_names: list[str],
        data: np.ndarray | None,
        params: dict[str, Any],
    ) -> Any:
        """Fit the surrogate to one input's perturbations and wrap it as an Explanation.

        ``Z`` (n_perturbations, d) 0/1 presence, ``Y`` (n_perturbations, n_outputs) the
        model's probabilities, ``distances`` (n_perturbations,) to the input. ``params``
        holds the subclass's own settings; the shared ones are added.
        """
        from whybox._explanation import Explanation

        n_classes = 2 if Y.shape[1] == 1 else Y.shape[1]
        selection = resolve_selection(self.feature_selection, self.max_features, Z.shape[1])
        _, fit = self._fit(Z[None], Y[None], distances[None], selection)
        return Explanation(
            values=fit.coef,
            base_values=fit.intercept,
            data=data,
            feature_names=feature_names,
            output_names=class_output_names(self.class_names, n_classes),
            output_space="probability",
            method=self.method,
            params={**params, **self._shared_params(selection)},
            model_output=Y[:1],
            quality={"local_r2": fit.local_r2},
        )
