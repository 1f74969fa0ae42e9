"""Sanity checks for explanations (Adebayo et al. 2018): does it change when the model does?

An explanation that looks the same for a trained model and for a model whose weights
(or training labels) were randomised does not explain the model: it shows something
about the input (edges, the image itself) instead. :func:`model_randomization`
destroys the model step by step and measures how similar the explanation stays.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_random_state, is_torch_model, json_value
from whybox.evaluate._agreement import (
    AttributionMatrix,
    attribution_matrix,
    check_top_k,
    check_top_k_fits,
    spearman_rows,
    top_features,
)
from whybox.evaluate._numbers import call_user, check_number, first_line, nanmean

KINDS = ("auto", "cascading", "labels")
SIMILARITIES = ("spearman_abs", "spearman", "ssim")
DEFAULT_THRESHOLD = 0.5
SSIM_MIN_SIDE = 7
"""The smallest image side SSIM is computed on (its default 7x7 window)."""


# ---------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SanityCheck(Result):
    """How similar an explanation stays as the model is randomised.

    Attributes
    ----------
    kind : {"cascading", "labels"}
        ``"cascading"``: the parametrised layers of a torch model re-initialised one
        after the other from the output layer down, cumulatively (step j has the
        top j+1 layers randomised). ``"labels"``: the estimator refit on permuted
        labels (the data randomisation test).
    steps : tuple of str
        What each step randomised: a layer name, or ``"permuted labels"``.
    spearman : ndarray of shape (n_steps, n_rows), float64
        Spearman's rank correlation of ``|attributions|`` between the original and
        the randomised model's explanation of each row (identical rankings count 1,
        one constant explanation against a varying one 0).
    spearman_signed : ndarray of shape (n_steps, n_rows), float64
        The same on the signed attributions.
    ssim : ndarray of shape (n_steps, n_rows) or None
        The structural similarity (Wang et al. 2004) of the two ``|attribution|``
        maps, summed over channels and scaled by their maximum, for image
        explanations at least 7x7 (None otherwise).
    sign_agreement : ndarray of shape (n_steps, n_rows), float64
        The share of the original explanation's top-k features (by ``|value|``) whose
        sign the randomised explanation shares.
    similarity_metric : {"spearman_abs", "spearman", "ssim"}
        The per-row similarity the verdict averages: ``spearman``, ``spearman_signed``
        or ``ssim``.
    threshold : float
        The verdict's threshold on the mean similarity (the ``similarity_threshold``
        asked for).
    k : int
        The top-k size of the sign agreement.
    outputs : tuple of str
        The output explained for each row.
    method : str
    params : dict

    Notes
    -----
    Verdict: ``passes`` when ``final_similarity`` (the mean over rows of the chosen
    similarity at the last, most randomised, step) is below ``threshold`` (0.5 by
    default): an explanation that does not change when the model is destroyed
    fails. For the rank correlations, 0.5 means the ranks of the randomised model's
    attributions share at most a quarter of their variance with the original's.

    The absolute-value rank correlation (the default, as Adebayo et al.) cannot see
    a change that keeps the explanation's support: Integrated Gradients with a zero
    baseline (and gradient x input) is exactly 0 wherever the input is 0, for every
    model, so on images with a zero background its ``|attributions|`` keep the
    input's zero/non-zero ranking and the check fails even when the non-zero part
    changed completely; this is the "resembles the input" behaviour the paper
    reports. ``similarity="spearman"`` (signed) or a non-zero baseline tell these
    apart.
    """

    kind: str
    steps: tuple[str, ...]
    spearman: np.ndarray
    spearman_signed: np.ndarray
    ssim: np.ndarray | None
    sign_agreement: np.ndarray
    similarity_metric: str
    threshold: float
    k: int
    outputs: tuple[str, ...]
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def similarity(self) -> np.ndarray:
        """The verdict's similarity averaged over rows, one per step, shape (n_steps,)."""
        per_row = {
            "spearman_abs": self.spearman,
            "spearman": self.spearman_signed,
            "ssim": self.ssim,
        }[self.similarity_metric]
        return nanmean(per_row, axis=1)

    @property
    def final_similarity(self) -> float:
        """The mean similarity at the last (most randomised) step."""
        return float(self.similarity[-1])

    @property
    def fraction_rows_sign_agree(self) -> np.ndarray:
        """Per step, the share of rows whose top-k signs all agree, shape (n_steps,)."""
        return (self.sign_agreement >= 1.0 - 1e-12).mean(axis=1)

    @property
    def passes(self) -> bool:
        """``final_similarity < threshold``: the explanation changed with the model."""
        return bool(self.final_similarity < self.threshold)

    @property
    def message(self) -> str:
        """One plain-language sentence with the verdict."""
        what = (
            "the model's weights were randomised"
            if self.kind == "cascading"
            else ("the model was refit on permuted labels")
        )
        verdict = "passes" if self.passes else "FAILS"
        label = {
            "spearman_abs": "rank correlation of |attributions|",
            "spearman": "rank correlation",
            "ssim": "structural similarity (SSIM)",
        }[self.similarity_metric]
        return (
            f"After {what}, the explanation's {label} with the original is "
            f"{self.final_similarity:.2f} on average (threshold {self.threshold:g}): the "
            f"sanity check {verdict}"
            + (
                "."
                if self.passes
                else "; an explanation that does not change when the model is destroyed does not "
                "explain the model."
            )
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per step: ``step``, ``spearman`` (of |attributions|),
        ``spearman_signed``, ``ssim``, ``sign_agreement`` (row means) and
        ``fraction_rows_sign_agree``."""
        return pd.DataFrame(
            {
                "step": list(self.steps),
                "spearman": nanmean(self.spearman, axis=1),
                "spearman_signed": nanmean(self.spearman_signed, axis=1),
                "ssim": nanmean(self.ssim, axis=1) if self.ssim is not None else np.nan,
                "sign_agreement": self.sign_agreement.mean(axis=1),
                "fraction_rows_sign_agree": self.fraction_rows_sign_agree,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field as strict JSON data (see :class:`whybox._utils.Result`), with the
        verdict: ``passes``, ``final_similarity`` and ``message`` (read by the audit;
        :meth:`from_dict` ignores them, they follow from the fields)."""
        return super().to_dict() | json_value(
            {
                "passes": self.passes,
                "final_similarity": self.final_similarity,
                "message": self.message,
            }
        )


# ---------------------------------------------------------------------- similarity
def _ssim_rows(a: AttributionMatrix, b: AttributionMatrix) -> np.ndarray | None:
    shape = a.input_shape
    if len(shape) < 2 or min(shape[-2:]) < SSIM_MIN_SIDE:
        return None
    try:
        from skimage.metrics import structural_similarity
    except ImportError:  # pragma: no cover - scikit-image is optional
        return None
    n = a.values.shape[0]

    def maps(v: np.ndarray) -> np.ndarray:
        m = np.abs(v).reshape(n, -1, *shape[-2:]).sum(axis=1)
        top = m.reshape(n, -1).max(axis=1)
        return m / np.where(top > 0, top, 1.0)[:, None, None]

    ma, mb = maps(a.values), maps(b.values)
    return np.array(
        [structural_similarity(x, y, data_range=1.0) for x, y in zip(ma, mb, strict=True)]
    )


def _compare(ref: AttributionMatrix, new: AttributionMatrix, k: int) -> tuple[Any, ...]:
    if new.values.shape != ref.values.shape:
        raise InputError(
            f"explain_fn returned attributions of shape {new.values.shape} for the randomised "
            f"model but {ref.values.shape} for the original; it must explain the same rows alike."
        )
    rho = spearman_rows(np.abs(ref.values), np.abs(new.values))
    rho_signed = spearman_rows(ref.values, new.values)
    top = top_features(ref.values, k)
    rows = np.arange(ref.values.shape[0])[:, None]
    same = np.sign(ref.values[rows, top]) == np.sign(new.values[rows, top])
    return rho, rho_signed, _ssim_rows(ref, new), same.mean(axis=1)


# ---------------------------------------------------------------------- models
def _torch_parts(model: Any) -> tuple[Any, Callable[[Any], Any]] | None:
    """(the nn.Module, a function rebuilding the model around a copy of it), or None."""
    if not is_torch_model(model):
        return None
    from whybox.adapters._torch import TorchModel

    if isinstance(model, TorchModel):
        return model.module, lambda mod: dataclasses.replace(model, module=mod)
    return model, lambda mod: mod


def _reinitialise(module: Any, seed: int) -> None:
    """Re-initialise a module's own parameters in place, seeded, without touching torch's RNG."""
    import torch

    params = list(module.parameters(recurse=False))
    devices = sorted({p.device.index or 0 for p in params if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()
        else:
            for p in params:
                std = float(p.std()) if p.numel() > 1 else 0.0
                p.normal_(0.0, std if std > 0 else 0.05)


def _layers(module: Any, layers: Sequence[str] | None) -> list[tuple[str, Any]]:
    named = {
        name: mod
        for name, mod in module.named_modules()
        if any(True for _ in mod.parameters(recurse=False))
    }
    if layers is None:
        order = list(named)[::-1]
    else:
        if isinstance(layers, str):
            layers = [layers]
        unknown = [ly for ly in layers if ly not in named]
        if unknown:
            raise InputError(
                f"layers names modules without parameters of their own or unknown ones "
                f"{unknown[:5]}; choose from {list(named)[::-1][:20]} (output layer first)."
            )
        order = list(layers)
    if not order:
        raise InputError(
            "the torch model has no parameters to randomise; the cascading randomisation "
            "needs a trained model with weights."
        )
    return [(name, named[name]) for name in order]


def _explain(explain_fn: Callable[..., Any], model: Any, X: Any, what: str) -> Any:
    return call_user(
        explain_fn,
        model,
        X,
        failure=lambda reason: (
            f"explain_fn failed on the {what} ({reason}); it must map (model, X) to an "
            "Explanation or an array of attributions."
        ),
    )


# ---------------------------------------------------------------------- the check
def model_randomization(
    model: Any,
    explain_fn: Callable[[Any, Any], Any],
    X: Any,
    *,
    explanation: Any = None,
    y: Any = None,
    kind: str = "auto",
    top_k: int | None = None,
    similarity_threshold: float = DEFAULT_THRESHOLD,
    similarity: str = "spearman_abs",
    layers: Sequence[str] | None = None,
    target: Any = None,
    random_state: Any = 0,
) -> SanityCheck:
    """Model randomisation sanity check: the explanation must change when the model is destroyed.

    - ``kind="cascading"`` (torch models): on a deep copy of the model, the
      parametrised modules are re-initialised one at a time from the output layer
      down to the input, cumulatively (Adebayo et al.'s cascading randomisation);
      the explanation ``explain_fn(model_copy, X)`` is recomputed after each step.
      A module is re-initialised by its own ``reset_parameters()`` (the framework's
      initialisation), else by normal draws with the parameter's standard deviation;
      the draws are seeded from ``random_state`` and torch's global RNG is left as it
      was.
    - ``kind="labels"`` (any scikit-learn estimator, trees included, which have no
      weights to re-initialise): a clone (``sklearn.base.clone``) is refit on
      (X, permuted y), the data randomisation test, and X is explained again.

    Each step's explanation is compared row by row with the original's: Spearman
    rank correlation of the absolute attributions, SSIM of the maps for images, and
    the share of the original's top-k features whose sign agrees.

    Parameters
    ----------
    model : torch.nn.Module, TorchModel or scikit-learn estimator
        The trained model. It is never modified.
    explain_fn : callable
        ``explain_fn(model, X)`` returns an :class:`~whybox.Explanation` (or an array
        of attributions (n, ...)) of X for the given model, e.g.
        ``lambda m, X: IntegratedGradients(m)(X, target=y)``. Keep the explained
        class fixed (e.g. the original prediction) so that only the model changes.
    X : array-like or DataFrame
        The rows explained (and, for ``kind="labels"``, the rows the clone is
        refit on).
    explanation : Explanation or array-like, optional
        The original model's explanation of X when it is already computed (what
        ``explain_fn(model, X)`` returns): used instead of calling ``explain_fn`` on
        the original model, so only the randomised models are explained. It must
        have one row per row of X.
    y : array-like of shape (n_rows,), optional
        The labels to permute; needed for ``kind="labels"``.
    kind : {"auto", "cascading", "labels"}, default="auto"
        ``"auto"``: ``"cascading"`` for torch models, ``"labels"`` otherwise.
    top_k : int or None, default=None
        Top-k size of the sign agreement. None: 5, or every feature when there are
        fewer; an integer above the number of features is an error.
    similarity_threshold : float, default=0.5
        The check passes when the mean similarity at the last step is below it (see
        :class:`SanityCheck`).
    similarity : {"spearman_abs", "spearman", "ssim"}, default="spearman_abs"
        The per-row similarity the verdict uses: Spearman's correlation of the
        absolute attributions (Adebayo et al.), of the signed attributions, or the
        SSIM of the maps (image explanations only). All three are reported.
    layers : sequence of str, optional
        For ``"cascading"``: the module names to randomise, in order (default: every
        module with parameters of its own, in reverse order of registration, which
        is output layer first for ``nn.Sequential`` and models that register their
        layers in forward order; pass ``layers`` when yours does not).
    target : str, int or None, default=None
        The output compared (name or position). None: the only output, else each
        row's predicted class from the original explanation's ``model_output``, kept
        for every step.
    random_state : int, numpy Generator or None, default=0
        Seeds the re-initialisation or the label permutation.

    Returns
    -------
    SanityCheck
        Per step and row: Spearman correlation, SSIM (images) and top-k sign
        agreement; the verdict ``passes``.

    Raises
    ------
    InputError
        An unknown ``kind``; ``"cascading"`` for a model that is not a torch module or
        ``"labels"`` for one that is (or for an estimator ``sklearn.base.clone``
        cannot copy); ``"labels"`` without ``y`` or with ``y`` of the wrong length;
        an ``explanation`` whose rows are not X's;
        ``top_k`` < 1 or above the number of features; ``similarity_threshold``
        outside [-1, 1]; an unknown ``similarity`` or
        ``"ssim"`` for explanations that are not images; unknown ``layers``; an
        ``explain_fn`` that fails or changes shape.

    References
    ----------
    .. [1] J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt and B. Kim,
       "Sanity checks for saliency maps", NeurIPS 2018.
    .. [2] Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality
       assessment: from error visibility to structural similarity", IEEE Trans. Image
       Processing 13(4), 2004.
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}; e.g. kind='auto'.")
    if not callable(explain_fn):
        raise InputError(
            f"explain_fn must be a callable (model, X) -> Explanation, got "
            f"{type(explain_fn).__name__}; pass e.g. lambda m, X: whybox.explain(m, X)."
        )
    top_k = check_top_k(top_k)
    if similarity not in SIMILARITIES:
        raise InputError(
            f"similarity must be one of {SIMILARITIES}, got {similarity!r}; "
            "e.g. similarity='spearman_abs'."
        )
    check_number(
        similarity_threshold, "similarity_threshold", "a number in [-1, 1]",
        lambda v: -1.0 <= v <= 1.0, "similarity_threshold=0.5",
    )  # fmt: skip
    torch_parts = _torch_parts(model)
    if kind == "auto":
        kind = "cascading" if torch_parts is not None else "labels"
    rng = np.random.default_rng(check_random_state(random_state))

    if explanation is None:
        explanation = _explain(explain_fn, model, X, "original model")
    original = attribution_matrix(explanation, target=target, name="the explanation")
    n, f = original.values.shape
    if n != len(X):
        raise InputError(
            f"explanation has {n} rows but X has {len(X)}; pass the original model's "
            "explanation of exactly these rows, or leave explanation out."
        )
    k_eff = check_top_k_fits(top_k, f)
    if similarity == "ssim" and _ssim_rows(original, original) is None:
        raise InputError(
            f"similarity='ssim' compares image maps (at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE}), "
            f"but the explanation's inputs have shape {original.input_shape}; use "
            "similarity='spearman_abs' or 'spearman'."
        )

    def as_matrix(res: Any) -> AttributionMatrix:
        return attribution_matrix(
            res, target=target, positions=original.positions, name="the explanation"
        )

    steps: list[str] = []
    results: list[tuple[Any, Any, Any]] = []
    if kind == "cascading":
        if torch_parts is None:
            raise InputError(
                f"kind='cascading' re-initialises the layers of a torch model, got "
                f"{type(model).__name__}; use kind='labels' with y= for other models."
            )
        module, rebuild = torch_parts
        work = copy.deepcopy(module)
        # explanations are computed in eval mode anyway; a copy of a torch.export program
        # no longer refuses to switch, so set it here rather than warn on every step
        try:
            work.eval()
        except NotImplementedError:
            pass
        chosen = _layers(work, layers)
        for name, layer in chosen:
            _reinitialise(layer, int(rng.integers(0, 2**62)))
            res = _explain(explain_fn, rebuild(work), X, f"model with {name!r} randomised")
            results.append(_compare(original, as_matrix(res), k_eff))
            steps.append(name)
        extra = {"layers": [name for name, _ in chosen]}
    else:
        if torch_parts is not None:
            raise InputError(
                "kind='labels' refits the model on permuted labels, which whybox cannot do for "
                "a torch model; use kind='cascading' (weight randomisation) instead."
            )
        if y is None:
            raise InputError(
                "y is needed for the data randomisation test (kind='labels'): the model is "
                "refit on permuted labels; pass y= (the labels of X)."
            )
        try:
            from sklearn.base import clone

            fresh = clone(model)
        except Exception:
            raise InputError(
                f"model of type {type(model).__name__} cannot be cloned by sklearn.base.clone, "
                "so it cannot be refit on permuted labels; pass the scikit-learn-compatible "
                "estimator itself."
            ) from None
        y_arr = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
        n_x = len(X)
        if y_arr.ndim == 0 or len(y_arr) != n_x:
            raise InputError(
                f"y must hold one label per row of X ({n_x}), got {np.shape(y_arr)}; pass the "
                "labels of X."
            )
        permuted = y_arr[rng.permutation(n_x)]
        try:
            fresh.fit(X, permuted)
        except Exception as exc:
            reason = first_line(exc)
            raise InputError(
                f"refitting a clone of the model on (X, permuted y) failed ({reason}); pass "
                "the training rows X and labels y the estimator accepts."
            ) from None
        res = _explain(explain_fn, fresh, X, "model refit on permuted labels")
        results.append(_compare(original, as_matrix(res), k_eff))
        steps.append("permuted labels")
        extra = {}
    ssim = None if any(r[2] is None for r in results) else np.stack([r[2] for r in results])
    return SanityCheck(
        kind=kind,
        steps=tuple(steps),
        spearman=np.stack([r[0] for r in results]),
        spearman_signed=np.stack([r[1] for r in results]),
        ssim=ssim,
        sign_agreement=np.stack([r[3] for r in results]),
        similarity_metric=similarity,
        threshold=float(similarity_threshold),
        k=k_eff,
        outputs=original.outputs,
        method=original.method,
        params={
            "kind": kind,
            "top_k": top_k,
            "top_k_used": k_eff,
            "similarity_threshold": float(similarity_threshold),
            "similarity": similarity,
            "target": json_value(target),
            "random_state": json_value(random_state),
            "n_rows": n,
            **extra,
        },
    )
