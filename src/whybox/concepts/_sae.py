"""Sparse autoencoders on a layer's activations: TopK and ReLU + L1, trained in torch.

The autoencoder reads activation vectors ``x`` of width ``d`` (the last axis of a
layer's output) and writes them as sparse codes over ``n_latents`` learnt directions:

    ``z = sigma(W_enc^T (x - b_dec) + b_enc)``,   ``x_hat = z W_dec + b_dec``,

with ``sigma`` the TopK activation (the ``k`` largest pre-activations kept, then
ReLU; Gao et al. 2024) or a ReLU trained with an L1 penalty on ``z`` (Bricken et al.
2023). ``W_dec``'s rows are kept at unit norm, so the L1 penalty weighted by the
decoder norms (Bricken et al.) is the plain L1 norm of ``z``.

Activations come from an array (memory-mapped ``.npy`` files work: rows are read one
batch at a time), from an iterable of arrays, or from a model: ``(model, layer,
inputs)`` runs the model over the inputs batch by batch and keeps only a bounded
shuffling buffer of the layer's activation vectors (the forward pass stops at the
layer).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import Result, check_int, check_random_state
from whybox.adapters._torch import import_torch
from whybox.concepts._activations import hooked
from whybox.concepts._sae_features import (
    INPUT_BLOCK,
    LayerCapture,
    LogitAttribution,
    SteeringResult,
    TopActivations,
    as_batch,
    as_matrix,
    batch_mask,
    call_module,
    input_batches,
    is_array,
    is_model_source,
    logit_attribution,
    output_logits,
    resolve_model_layer,
    steer,
    top_activations,
    vector_chunks,
    vectors,
)

#: Activation vectors of a model stream held in the shuffling buffer, in batches.
_BUFFER_BATCHES = 16
#: The encoder starts as the decoder's transpose times this (latents start small).
_ENCODER_INIT_SCALE = 0.1
#: The total gradient norm each step is clipped to (as SAELens's trainer does).
_CLIP_NORM = 1.0
#: The loss index the cross-entropy ignores (as torch's ``ignore_index``).
IGNORE_INDEX = -100


# ---------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class SAEEvaluation(Result):
    """How well a sparse autoencoder reconstructs activations, as SAELens measures it.

    Attributes
    ----------
    l0 : float
        Mean number of non-zero latents per activation vector.
    explained_variance : float
        ``1 - E||x - x_hat||^2 / (E||x||^2 - ||E x||^2)``: one minus the mean squared
        residual norm over the total variance (summed over dimensions), over all
        vectors at once (SAELens's ``explained_variance``).
    mse : float
        Mean over vectors of the squared residual norm ``||x - x_hat||^2`` (summed
        over dimensions, as SAELens's ``mse``).
    dead_fraction : float
        The share of latents that are zero on every evaluated vector.
    n_vectors : int
        Activation vectors evaluated.
    latent_frequency : ndarray of shape (n_latents,), float64
        Per latent, the share of vectors on which it is non-zero.
    ce_clean, ce_with_sae, ce_zero_ablation : float
        With a model: the mean cross-entropy of the model's outputs against the labels
        (the model's own predictions when none are given) with the layer as it is,
        replaced by the SAE's reconstruction, and replaced by zeros. NaN without a model.
    ce_loss_score : float
        ``(ce_zero_ablation - ce_with_sae) / (ce_zero_ablation - ce_clean)``: the
        share of the loss that zero-ablating the layer costs which the reconstruction
        recovers (1 = all of it). NaN without a model.
    kl_div_with_sae, kl_div_with_ablation : float
        With a model: the mean over output positions of KL(clean || spliced) between
        the softmax distributions of the clean outputs and of the outputs with the
        reconstruction (or zeros) spliced in. NaN without a model.
    kl_div_score : float
        ``(kl_div_with_ablation - kl_div_with_sae) / kl_div_with_ablation``. NaN
        without a model.
    params : dict
        The layer and the number of output positions scored.
    """

    l0: float
    explained_variance: float
    mse: float
    dead_fraction: float
    n_vectors: int
    latent_frequency: np.ndarray
    ce_clean: float = float("nan")
    ce_with_sae: float = float("nan")
    ce_zero_ablation: float = float("nan")
    ce_loss_score: float = float("nan")
    kl_div_with_sae: float = float("nan")
    kl_div_with_ablation: float = float("nan")
    kl_div_score: float = float("nan")
    params: dict[str, Any] = field(default_factory=dict)


class _Sums:
    """Streaming sums behind :class:`SAEEvaluation` (float64 on the CPU)."""

    def __init__(self, n_latents: int) -> None:
        self.n = 0
        self.sum_x: Any = None
        self.sum_sq = 0.0
        self.sum_resid = 0.0
        self.sum_l0 = 0.0
        self.fired = np.zeros(n_latents, dtype=np.float64)

    def add(self, x: Any, x_hat: Any, z: Any) -> None:
        torch = import_torch()
        x64 = x.to(torch.float64)
        s = x64.sum(dim=0).cpu()
        self.sum_x = s if self.sum_x is None else self.sum_x + s
        self.sum_sq += float(x64.pow(2).sum())
        self.sum_resid += float((x64 - x_hat.to(torch.float64)).pow(2).sum())
        active = z != 0
        self.sum_l0 += float(active.sum())
        self.fired += active.sum(dim=0).cpu().numpy()
        self.n += int(x.shape[0])

    def result(self) -> dict[str, Any]:
        if self.n == 0:
            raise InputError("activations gave no vectors; give at least one.")
        mean_x = self.sum_x.numpy() / self.n
        total = self.sum_sq / self.n - float(np.sum(mean_x**2))
        mse = self.sum_resid / self.n
        if total < 1e-10:
            ev = 1.0 if mse < 1e-10 else 0.0
        else:
            ev = 1.0 - mse / total
        return {
            "l0": self.sum_l0 / self.n,
            "explained_variance": ev,
            "mse": mse,
            "dead_fraction": float(np.mean(self.fired == 0)),
            "n_vectors": self.n,
            "latent_frequency": self.fired / self.n,
        }


# ---------------------------------------------------------------------- the autoencoder
class SparseAutoencoder:
    """A sparse autoencoder (SAE) that splits activation vectors into sparse latents.

    ``z = sigma(W_enc^T (x - b_dec) + b_enc)`` and ``x_hat = z W_dec + b_dec``, with
    ``sigma`` either TopK (give ``k``: the ``k`` largest pre-activations kept, then a
    ReLU; Gao et al. 2024) or a ReLU trained with an L1 penalty ``l1 * sum(z)`` (give
    ``l1``; Bricken et al. 2023). The loss is the squared reconstruction error summed
    over dimensions and averaged over the batch (plus the penalty), minimised with
    Adam, each step's gradient clipped to a total norm of 1 (as SAELens's trainer: the
    first steps' large gradients would otherwise dominate Adam's second moments and
    slow the later steps). The decoder rows start as random unit directions and the
    encoder as their transpose times 0.1 (Gao et al.'s tied start, at the small scale
    of Conerly et al. 2024, so the first latents are small and the reconstruction
    starts near ``b_dec``). The decoder bias ``b_dec`` is subtracted before encoding
    (initialised to the mean of the first batch); the decoder rows ``W_dec`` are kept
    at unit norm:
    the gradient's component parallel to each row is removed before every step and
    the rows are renormalised after it (Bricken et al.), which also makes the L1
    penalty weighted by decoder norms the plain L1 norm of ``z``.

    Dead latents: every ``dead_window`` steps, latents that have not fired in the
    last ``dead_window`` steps are re-initialised toward high-loss inputs (Bricken et
    al.): each takes the direction of the residual ``x - x_hat`` of an input of the
    current batch drawn with probability proportional to its squared loss, as its
    decoder row, and reads that input: its encoder column is the input's centred
    direction scaled to the mean encoder norm of the live latents (0.2 times that for
    the L1 variant, as Bricken et al.), with a zero encoder bias and fresh Adam
    moments. When the number of steps is known (arrays, or ``steps`` given), no
    resampling happens in the last ``dead_window / 2`` steps, so resampled latents
    get trained.

    Parameters
    ----------
    n_latents : int
        Latents (dictionary size), usually several times the activation width.
    k : int, optional
        TopK: latents kept per vector (``L0 <= k``: the ReLU zeroes a kept value
        that is not positive). Give exactly one of ``k`` and ``l1``. TopK trains
        with a hand-written backward pass through the ``k`` kept latents only.
    l1 : float, optional
        ReLU + L1: the weight of the L1 penalty on the latents. Give exactly one of
        ``k`` and ``l1``.
    learning_rate : float, default 1e-3
        Adam's step size.
    steps : int, optional
        Optimiser steps; None: ``epochs`` passes over the activations.
    epochs : int, default 1
        Passes over the activations when ``steps`` is None (an iterable of batches
        is iterated again for each pass, so it must be re-iterable).
    batch_size : int, default 4096
        Activation vectors per optimiser step (the training minibatch; it changes the
        result, as any minibatch does).
    dead_window : int or None, default 1000
        Steps without firing after which a latent counts as dead and is resampled;
        None never resamples.
    warm_start : bool, default False
        Whether :meth:`fit` continues from the current weights (e.g. on more
        activations) instead of starting afresh; the optimiser's moments restart.
    random_state : None, int or numpy Generator, default 0
        Seed of the initial weights, the shuffling and the resampling draws.

    Attributes
    ----------
    W_enc : ndarray of shape (d, n_latents), float32
    b_enc : ndarray of shape (n_latents,), float32
    W_dec : ndarray of shape (n_latents, d), float32
        Unit-norm rows: the latents' directions in the activation space.
    b_dec : ndarray of shape (d,), float32
    loss_curve_ : list of float
        The reconstruction loss (MSE) of each training step.
    n_resampled_ : int
        Latents resampled during training.

    References
    ----------
    Bricken, T., Templeton, A., Batson, J., et al. (2023). Towards monosemanticity:
    decomposing language models with dictionary learning. Transformer Circuits
    Thread.

    Conerly, T., Templeton, A., Bricken, T., et al. (2024). Circuits updates, April
    2024: update on how we train SAEs. Transformer Circuits Thread.

    Gao, L., Dupré la Tour, T., Tillman, H., et al. (2024). Scaling and evaluating
    sparse autoencoders. arXiv:2406.04093.

    Examples
    --------
    >>> from whybox.concepts import SparseAutoencoder
    >>> from whybox.datasets import make_superposition
    >>> data = make_superposition(4000, n_true_features=16, n_dims=8)
    >>> sae = SparseAutoencoder(32, k=2, batch_size=256, epochs=2).fit(data.activations)
    >>> sae.W_dec.shape
    (32, 8)
    """

    def __init__(
        self,
        n_latents: int,
        k: int | None = None,
        l1: float | None = None,
        *,
        learning_rate: float = 1e-3,
        steps: int | None = None,
        epochs: int = 1,
        batch_size: int = 4096,
        dead_window: int | None = 1000,
        warm_start: bool = False,
        random_state: Any = 0,
    ) -> None:
        self.n_latents = check_int(n_latents, "n_latents", 1, "n_latents=4096")
        if (k is None) == (l1 is None):
            raise InputError(
                f"give exactly one of k (TopK) and l1 (ReLU + L1 penalty), got k={k!r} "
                f"and l1={l1!r}; e.g. SparseAutoencoder({self.n_latents}, k=32)."
            )
        self.k = None if k is None else check_int(k, "k", 1, "k=32")
        if self.k is not None and self.k > self.n_latents:
            raise InputError(
                f"k must be at most n_latents ({self.n_latents}), got {self.k}; lower k "
                "or raise n_latents."
            )
        self.l1 = None if l1 is None else _positive(l1, "l1", "l1=1e-3", allow_zero=True)
        self.learning_rate = _positive(learning_rate, "learning_rate", "learning_rate=1e-3")
        self.steps = None if steps is None else check_int(steps, "steps", 1, "steps=10000")
        self.epochs = check_int(epochs, "epochs", 1, "epochs=1")
        self.batch_size = check_int(batch_size, "batch_size", 1, "batch_size=4096")
        self.dead_window = None if dead_window is None else check_int(dead_window, "dead_window", 1)
        self.warm_start = bool(warm_start)
        self.random_state = check_random_state(random_state)
        self._params: dict[str, Any] | None = None
        self.loss_curve_: list[float] = []
        self.n_resampled_ = 0

    # ------------------------------------------------------------------ weights
    def _require_fitted(self) -> dict[str, Any]:
        if self._params is None:
            raise InputError(
                "this SparseAutoencoder is not fitted yet; call .fit(activations) first."
            )
        return self._params

    def _array(self, name: str) -> np.ndarray:
        return self._require_fitted()[name].detach().cpu().numpy().copy()

    @property
    def W_enc(self) -> np.ndarray:  # noqa: N802 - the papers' name
        """The encoder weights (d, n_latents), float32."""
        return self._array("W_enc")

    @property
    def b_enc(self) -> np.ndarray:
        """The encoder bias (n_latents,), float32."""
        return self._array("b_enc")

    @property
    def W_dec(self) -> np.ndarray:  # noqa: N802 - the papers' name
        """The decoder rows (n_latents, d), float32, each of unit norm."""
        return self._array("W_dec")

    @property
    def b_dec(self) -> np.ndarray:
        """The decoder bias (d,), float32, subtracted from the input before encoding."""
        return self._array("b_dec")

    @property
    def d(self) -> int:
        """The width of the activation vectors."""
        return int(self._require_fitted()["b_dec"].shape[0])

    def _set_weights(
        self,
        W_enc: Any,  # noqa: N803
        b_enc: Any,
        W_dec: Any,  # noqa: N803
        b_dec: Any,
    ) -> SparseAutoencoder:
        """Use given weights (e.g. another library's SAE); ``W_dec`` rows are used as given.

        Parameters
        ----------
        W_enc : array-like of shape (d, n_latents)
        b_enc : array-like of shape (n_latents,)
        W_dec : array-like of shape (n_latents, d)
        b_dec : array-like of shape (d,)

        Returns
        -------
        SparseAutoencoder
            This autoencoder, fitted.

        Raises
        ------
        InputError
            Shapes that do not fit together or ``n_latents``.
        """
        torch = import_torch()
        w_enc = torch.as_tensor(np.asarray(W_enc, dtype=np.float32))
        w_dec = torch.as_tensor(np.asarray(W_dec, dtype=np.float32))
        benc = torch.as_tensor(np.asarray(b_enc, dtype=np.float32))
        bdec = torch.as_tensor(np.asarray(b_dec, dtype=np.float32))
        d = bdec.shape[0] if bdec.ndim == 1 else -1
        m = self.n_latents
        if (
            tuple(w_enc.shape) != (d, m)
            or tuple(w_dec.shape) != (m, d)
            or tuple(benc.shape) != (m,)
        ):
            raise InputError(
                f"weights must be W_enc (d, {m}), b_enc ({m},), W_dec ({m}, d), b_dec (d,), "
                f"got {tuple(w_enc.shape)}, {tuple(benc.shape)}, {tuple(w_dec.shape)}, "
                f"{tuple(bdec.shape)}."
            )
        self._params = {
            "W_enc": w_enc.clone().requires_grad_(True),
            "b_enc": benc.clone().requires_grad_(True),
            "W_dec": w_dec.clone().requires_grad_(True),
            "b_dec": bdec.clone().requires_grad_(True),
        }
        return self

    # ------------------------------------------------------------------ forward (torch)
    def _encode_tensor(self, x: Any) -> Any:
        """The latents of a tensor of vectors (..., d), a tensor (..., n_latents)."""
        torch = import_torch()
        p = self._require_fitted()
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        w_enc = p["W_enc"].to(device=x.device, dtype=x.dtype)
        pre = (flat - p["b_dec"].to(flat)) @ w_enc + p["b_enc"].to(flat)
        if self.k is None:
            z = torch.relu(pre)
        else:
            values, index = pre.topk(self.k, dim=1, sorted=False)
            z = torch.zeros_like(pre).scatter_(1, index, torch.relu(values))
        return z.reshape(*shape[:-1], self.n_latents)

    def _decode_tensor(self, z: Any) -> Any:
        """The reconstruction of a tensor of latents (..., n_latents), a tensor (..., d)."""
        p = self._require_fitted()
        return z @ p["W_dec"].to(z) + p["b_dec"].to(z)

    # ------------------------------------------------------------------ forward (arrays)
    def _blocks(self, X: Any, width: int, name: str) -> Any:  # noqa: N803
        torch = import_torch()
        if isinstance(X, torch.Tensor):
            t = X.detach().to(torch.float32)
        else:
            arr = np.asarray(X)
            if arr.dtype.kind not in "biuf":
                raise InputError(f"{name} must hold numbers, got dtype {arr.dtype}.")
            t = torch.as_tensor(np.ascontiguousarray(arr, dtype=np.float32))
        if t.ndim < 1 or t.shape[-1] != width:
            raise InputError(
                f"{name} must have {width} values on its last axis, got shape "
                f"{tuple(t.shape)}; give vectors of the width the SAE was fitted on."
            )
        return t

    def encode(self, X: Any) -> np.ndarray:  # noqa: N803
        """The latents of activation vectors.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (..., d)
            Activation vectors (the last axis is the vector).

        Returns
        -------
        ndarray of shape (..., n_latents), float32
            Non-negative latents; with TopK at most ``k`` non-zero per vector.
        """
        torch = import_torch()
        x = self._blocks(X, self.d, "X")
        with torch.no_grad():
            return self._encode_tensor(x).cpu().numpy()

    def decode(self, Z: Any) -> np.ndarray:  # noqa: N803
        """Activation vectors from latents: ``Z @ W_dec + b_dec``.

        Parameters
        ----------
        Z : array-like or torch.Tensor of shape (..., n_latents)
            Latents (e.g. from :meth:`encode`, with some set by hand).

        Returns
        -------
        ndarray of shape (..., d), float32
        """
        torch = import_torch()
        z = self._blocks(Z, self.n_latents, "Z")
        with torch.no_grad():
            return self._decode_tensor(z).cpu().numpy()

    def reconstruct(self, X: Any) -> np.ndarray:  # noqa: N803
        """``decode(encode(X))``: the SAE's reconstruction of activation vectors.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (..., d)

        Returns
        -------
        ndarray of shape (..., d), float32
        """
        torch = import_torch()
        x = self._blocks(X, self.d, "X")
        with torch.no_grad():
            return self._decode_tensor(self._encode_tensor(x)).cpu().numpy()

    # ------------------------------------------------------------------ training
    def fit(self, activations: Any) -> SparseAutoencoder:
        """Train the autoencoder on activation vectors.

        Parameters
        ----------
        activations : array-like, iterable of arrays, or tuple (model, layer, inputs)
            The vectors (n_samples, d) as one array (a numpy memmap is read one batch
            at a time) or torch tensor; an iterable of such chunks (e.g. several
            ``.npy`` files); or a tuple ``(model, layer, inputs)``: a
            ``torch.nn.Module``, a layer (dotted name or submodule) whose forward
            output ``(n, ..., d)`` gives one vector per position, and the inputs: an
            array or tensor (cut into blocks of 64 inputs) or an iterable of batches
            (a ``DataLoader``; a batch is a tensor, a tuple of forward arguments, or a
            mapping of keyword arguments such as a tokenizer's output, whose
            ``attention_mask`` drops padding tokens). Vectors from a model are
            shuffled in a buffer of 16 batches, so memory stays bounded.

        Returns
        -------
        SparseAutoencoder
            This autoencoder, fitted.

        Raises
        ------
        InputError
            Activations that are not vectors, hold NaN, or change width; a layer that
            is not in the model.
        """
        torch = import_torch()
        rng = np.random.default_rng(self.random_state)
        torch_gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        source = _TrainingBatches(activations, self.batch_size, self.steps, self.epochs, rng)
        first = next(source)
        device = first.device
        d = int(first.shape[1])
        if self.warm_start and self._params is not None:
            params = self._require_fitted()
            if self.d != d:
                raise InputError(
                    f"warm_start continues an SAE fitted on vectors of width {self.d}, but "
                    f"these have width {d}; give vectors of width {self.d}."
                )
        else:
            params = self._initial_params(first, d, device, torch_gen)
        optimizer = torch.optim.Adam(list(params.values()), lr=self.learning_rate)
        since_fired = torch.zeros(self.n_latents, dtype=torch.long, device=device)
        self.loss_curve_, self.n_resampled_ = [], 0
        total = source.total_steps
        step, batch = 0, first
        while batch is not None:
            if batch.shape[1] != d:
                raise InputError(
                    f"activations changed width from {d} to {batch.shape[1]}; give vectors "
                    "of one width."
                )
            mse, fired, per_sample = self._loss(params, batch)
            _project_out_parallel(params["W_dec"])
            torch.nn.utils.clip_grad_norm_(list(params.values()), _CLIP_NORM)
            optimizer.step()
            with torch.no_grad():
                params["W_dec"].div_(params["W_dec"].norm(dim=1, keepdim=True).clamp_min(1e-12))
            since_fired += 1
            since_fired[fired] = 0
            step += 1
            self.loss_curve_.append(float(mse))
            if (
                self.dead_window is not None
                and step % self.dead_window == 0
                and (total is None or step <= total - self.dead_window // 2)
            ):
                dead = since_fired >= self.dead_window
                if bool(dead.any()):
                    self._resample(params, optimizer, dead, batch, per_sample, torch_gen)
                    since_fired[dead] = 0
            batch = next(source, None)
        return self

    def _initial_params(self, first: Any, d: int, device: Any, gen: Any) -> dict[str, Any]:
        torch = import_torch()
        w_dec = torch.randn(self.n_latents, d, generator=gen).to(device)
        w_dec /= w_dec.norm(dim=1, keepdim=True)
        self._params = {
            "W_enc": (_ENCODER_INIT_SCALE * w_dec.T).contiguous().requires_grad_(True),
            "b_enc": torch.zeros(self.n_latents, device=device, requires_grad=True),
            "W_dec": w_dec.clone().requires_grad_(True),
            "b_dec": first.mean(dim=0).clone().requires_grad_(True),
        }
        return self._params

    def _loss(self, p: dict[str, Any], x: Any) -> tuple[Any, Any, Any]:
        """One batch's gradients in ``.grad``; returns (mse, fired latents, per-sample error)."""
        if self.k is not None:
            return _topk_gradients(p, x, self.k)
        torch = import_torch()
        for value in p.values():
            value.grad = None
        z = torch.relu((x - p["b_dec"]) @ p["W_enc"] + p["b_enc"])
        x_hat = z @ p["W_dec"] + p["b_dec"]
        per_sample = (x_hat - x).pow(2).sum(dim=1)
        mse = per_sample.mean()
        (mse + self.l1 * z.sum(dim=1).mean()).backward()
        fired = (z > 0).any(dim=0).nonzero()[:, 0]
        return mse.detach(), fired, per_sample.detach()

    def _resample(
        self, p: dict[str, Any], optimizer: Any, dead: Any, x: Any, per_sample: Any, gen: Any
    ) -> None:
        """Re-initialise dead latents toward the residuals of high-loss inputs."""
        torch = import_torch()
        with torch.no_grad():
            idx = dead.nonzero()[:, 0]
            weights = per_sample.pow(2).cpu().double()
            if float(weights.sum()) <= 0:
                return
            picks = torch.multinomial(weights, len(idx), replacement=True, generator=gen)
            picks = picks.to(x.device)
            centred = x[picks] - p["b_dec"]
            if self.k is None:
                z = torch.relu(centred @ p["W_enc"] + p["b_enc"])
            else:
                pre = centred @ p["W_enc"] + p["b_enc"]
                values, index = pre.topk(self.k, dim=1)
                z = torch.zeros_like(pre).scatter_(1, index, torch.relu(values))
            residual = x[picks] - (z @ p["W_dec"] + p["b_dec"])
            direction = residual / residual.norm(dim=1, keepdim=True).clamp_min(1e-12)
            reads = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-12)
            alive = ~dead
            enc_norm = (
                p["W_enc"][:, alive].norm(dim=0).mean() if bool(alive.any()) else torch.tensor(1.0)
            )
            scale = enc_norm * (0.2 if self.k is None else 1.0)
            p["W_dec"][idx] = direction
            p["W_enc"][:, idx] = (reads * scale).T
            p["b_enc"][idx] = 0.0
            for name, axis in (("W_dec", 0), ("W_enc", 1), ("b_enc", 0)):
                state = optimizer.state.get(p[name], {})
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in state:
                        state[key].index_fill_(axis, idx, 0.0)
        self.n_resampled_ += len(idx)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, activations: Any, y: Any = None, *, batch_size: int | None = None
    ) -> SAEEvaluation:
        """Reconstruction and sparsity metrics, and the loss recovered inside a model.

        The metrics are SAELens's: ``l0``, ``explained_variance`` (one minus the mean
        squared residual norm over the total variance), ``mse`` (the squared residual
        norm, averaged over vectors) and the share of latents that never fire. Given
        ``(model, layer, inputs)``, each batch also runs three times: as it is, with
        the layer's activation replaced by the SAE's reconstruction, and with it
        replaced by zeros; the cross-entropy and KL scores compare the three outputs
        as SAELens's ``get_recons_loss`` does.

        Parameters
        ----------
        activations : array-like, iterable of arrays, or tuple (model, layer, inputs)
            As in :meth:`fit`. The output of ``model`` is its logits: (n_samples,
            n_outputs), or (n_samples, n_tokens, n_outputs) for one distribution per
            token (a ``.logits`` attribute or the first element of a tuple is used).
        y : array-like or torch.Tensor, optional
            With a model: the labels the cross-entropy is measured against, one per
            output position, shape (n_samples,) or (n_samples, n_tokens), with -100
            where a position is not scored (e.g. the last token of a next-token
            target). None: the model's own clean prediction at each position. Only
            for an ``inputs`` array (the labels follow its order).
        batch_size : int, optional
            With a model and an ``inputs`` array: inputs per forward pass (default
            64). Ignored otherwise.

        Returns
        -------
        SAEEvaluation
            The metrics; the cross-entropy and KL fields are NaN without a model.

        Raises
        ------
        InputError
            Activations of another width than the SAE's, labels of the wrong shape.

        References
        ----------
        Bloom, J., Tigges, C., Duong, A., & Chanin, D. (2024). SAELens.
        https://github.com/decoderesearch/SAELens (``evals.py``).
        """
        torch = import_torch()
        sums = _Sums(self.n_latents)
        if not is_model_source(activations):
            with torch.no_grad():
                for chunk in vector_chunks(activations):
                    x = self._blocks(chunk, self.d, "activations")
                    z = self._encode_tensor(x)
                    sums.add(x, self._decode_tensor(z), z)
            return SAEEvaluation(**sums.result(), params={"layer": None})
        return self._evaluate_model(activations, y, batch_size, sums)

    def _evaluate_model(
        self, activations: tuple[Any, Any, Any], y: Any, batch_size: int | None, sums: _Sums
    ) -> SAEEvaluation:
        torch = import_torch()
        model, layer, inputs = activations
        tm, module, name = resolve_model_layer(model, layer)
        labels = None
        if y is not None:
            if not isinstance(inputs, (np.ndarray, torch.Tensor)):
                raise InputError(
                    "y needs inputs given as one array or tensor (the labels follow its "
                    f"order), got inputs of type {type(inputs).__name__}."
                )
            labels = torch.as_tensor(np.asarray(y.cpu() if hasattr(y, "cpu") else y))
            if labels.shape[0] != len(inputs) or labels.dtype.is_floating_point:
                raise InputError(
                    f"y must hold one integer label per output position of each of the "
                    f"{len(inputs)} inputs, got shape {tuple(labels.shape)} and dtype "
                    f"{labels.dtype}."
                )
        if isinstance(inputs, (np.ndarray, torch.Tensor)):
            step = batch_size or INPUT_BLOCK
            check_int(step, "batch_size", 1)
            blocks: Iterable[Any] = (
                (inputs[i : i + step], None if labels is None else labels[i : i + step])
                for i in range(0, len(inputs), step)
            )
        else:
            blocks = ((b, None) for b in input_batches(inputs))
        capture = LayerCapture(name)
        totals = np.zeros(6)  # ce clean/sae/zero, kl sae/zero, then counts below
        n_ce, n_kl = 0, 0
        with tm.evaluation(), hooked(module, capture), torch.no_grad():
            for raw, label in blocks:
                batch = as_batch(tm, raw)
                capture.replace = None
                clean = output_logits(call_module(tm, batch))
                act = capture.value
                mask = batch_mask(batch, act)
                flat = vectors(act, mask).to(torch.float32)
                if flat.shape[1] != self.d:
                    raise InputError(
                        f"layer {name!r} gives vectors of width {flat.shape[1]} but the SAE "
                        f"was fitted on width {self.d}; choose the layer it was fitted on."
                    )
                z = self._encode_tensor(flat)
                sums.add(flat, self._decode_tensor(z), z)
                capture.replace = self._splice(mask, zero=False)
                spliced = output_logits(call_module(tm, batch))
                capture.replace = self._splice(mask, zero=True)
                ablated = output_logits(call_module(tm, batch))
                capture.replace = None
                ce, kl, count_ce, count_kl = _ce_kl(clean, spliced, ablated, label)
                totals[:3] += ce
                totals[3:5] += kl
                n_ce += count_ce
                n_kl += count_kl
        if n_ce == 0:
            raise InputError("y marks every output position -100; score at least one.")
        ce_clean, ce_sae, ce_zero = totals[:3] / n_ce
        kl_sae, kl_zero = totals[3:5] / n_kl
        return SAEEvaluation(
            **sums.result(),
            ce_clean=float(ce_clean),
            ce_with_sae=float(ce_sae),
            ce_zero_ablation=float(ce_zero),
            ce_loss_score=_ratio(ce_zero - ce_sae, ce_zero - ce_clean),
            kl_div_with_sae=float(kl_sae),
            kl_div_with_ablation=float(kl_zero),
            kl_div_score=_ratio(kl_zero - kl_sae, kl_zero),
            params={"layer": name, "n_positions_ce": n_ce, "n_positions_kl": n_kl},
        )

    def _splice(self, mask: Any, *, zero: bool) -> Any:
        """A replacement for the layer's activation: the reconstruction, or zeros."""
        torch = import_torch()

        def replace(value: Any) -> Any:
            if zero:
                new = torch.zeros_like(value)
            else:
                flat = value.reshape(-1, value.shape[-1]).to(torch.float32)
                recon = self._decode_tensor(self._encode_tensor(flat))
                new = recon.to(value.dtype).reshape(value.shape)
            if mask is not None:  # padding positions keep their own activation
                new = torch.where(mask[..., None], new, value)
            return new

        return replace

    # ------------------------------------------------------------------ feature views
    def top_activations(
        self,
        activations: Any,
        *,
        latents: Any = None,
        top_k: int = 10,
        tokens: Any = None,
    ) -> TopActivations:
        """The inputs and tokens on which each latent fires most.

        A running top-k per latent over the activations, block by block, so a stream
        from a model never needs all its activations in memory.

        Parameters
        ----------
        activations : array-like of shape (n_samples, ..., d), or tuple (model, layer, inputs)
            The activations (the last axis is the vector; the axes between the
            samples and the vector are positions, e.g. tokens), or a model, layer and
            inputs as in :meth:`fit` (padding tokens of a mapping batch with an
            ``attention_mask`` are skipped).
        latents : int or sequence of int, optional
            The latents reported; None: all.
        top_k : int, default 10
            Values kept per latent.
        tokens : sequence of sequence of str, optional
            Per sample, the token strings, to label each (sample, position).

        Returns
        -------
        TopActivations
            Per latent its ``top_k`` largest values (n_shown, top_k) with the
            sample, position and token of each; ``to_frame()`` is one row per value.

        Raises
        ------
        InputError
            A latent out of range, tokens that do not cover a position.
        """
        return top_activations(self, activations, latents=latents, top_k=top_k, tokens=tokens)

    def logit_attribution(
        self,
        model: Any,
        layer: Any,
        X: Any,  # noqa: N803
        *,
        latents: Any = None,
        target: Any = None,
        additional_forward_args: Any = None,
        batch_size: int | None = None,
    ) -> LogitAttribution:
        """Each latent's effect on the model's outputs (gradient logit attribution).

        The effect of latent ``i`` on output ``o`` is the derivative of ``f_o`` when
        its decoder row is added at the layer, ``d f_o(h + eps * W_dec[i]) / d eps``
        at ``eps = 0`` (at every position of the layer), averaged over the inputs:
        ``W_dec[i] . mean(grad_h f_o)``. When the rest of the model is a linear
        readout ``f = h W_out^T + b`` this is exactly ``W_dec[i] W_out^T``, the
        direct logit attribution of the decoder row; otherwise it is its first-order
        counterpart at the given inputs. One backward pass per output.

        Parameters
        ----------
        model : torch.nn.Module
            The model; its output (logits) is flattened over the non-sample axes.
        layer : str or torch.nn.Module
            The layer the SAE reads (dotted name or submodule).
        X : array-like, torch.Tensor, tuple of them, mapping, or list of batches
            The inputs the gradients are averaged over: one input tensor, a tuple
            with one per forward argument, a mapping passed as keyword arguments (a
            tokenizer's output), or a list of such batches. Integer token ids stay
            integers.
        latents : int or sequence of int, optional
            The latents; None: all.
        target : int or sequence of int, optional
            The output columns; None: all (at most 256).
        additional_forward_args : object or tuple, optional
            Passed to the model unchanged after the inputs, as captum does.
        batch_size : int, optional
            Inputs per forward pass for an array ``X`` (default 64).

        Returns
        -------
        LogitAttribution
            ``effect`` (n_shown, n_targets), float64.

        Raises
        ------
        InputError
            A latent or target out of range; more than 256 outputs and no target.

        References
        ----------
        Bricken, T., Templeton, A., Batson, J., et al. (2023). Towards
        monosemanticity: decomposing language models with dictionary learning.
        Transformer Circuits Thread ("logit weights").
        """
        return logit_attribution(
            self,
            model,
            layer,
            X,
            latents=latents,
            target=target,
            additional_forward_args=additional_forward_args,
            batch_size=batch_size,
        )

    def steer(
        self,
        model: Any,
        layer: Any,
        X: Any,  # noqa: N803
        latent: int,
        value: float,
        *,
        positions: Any = None,
        additional_forward_args: Any = None,
        batch_size: int | None = None,
    ) -> SteeringResult:
        """Clamp a latent to a value in the forward pass and measure the outputs.

        At the layer, the activation ``h`` is encoded, latent ``latent`` is set to
        ``value``, and the change is decoded and spliced back with the SAE's error
        kept: ``h' = h + (value - z_latent(h)) * W_dec[latent]``, so the only
        difference from the clean run is the latent's (Templeton et al. 2024,
        "feature steering"). Every sample runs twice, clean and steered.

        Parameters
        ----------
        model : torch.nn.Module
        layer : str or torch.nn.Module
            The layer the SAE reads.
        X : array-like, torch.Tensor, tuple of them, mapping, or list of batches
            The inputs, as in :meth:`logit_attribution`.
        latent : int
            The latent clamped.
        value : float
            Its value during the forward pass (0 ablates it; a large value amplifies).
        positions : int or sequence of int, optional
            The token positions clamped (on the axis after the samples); None: all.
            Padding tokens of a mapping with an ``attention_mask`` are never clamped.
        additional_forward_args : object or tuple, optional
            Passed to the model unchanged after the inputs, as captum does.
        batch_size : int, optional
            Inputs per forward pass for an array ``X`` (default 64).

        Returns
        -------
        SteeringResult
            Clean and steered outputs (n_samples, n_outputs) float64, their
            difference ``change``, and the latent's value before clamping.

        Raises
        ------
        InputError
            A latent or position out of range, a value that is not finite.

        References
        ----------
        Templeton, A., Conerly, T., Marcus, J., et al. (2024). Scaling
        monosemanticity: extracting interpretable features from Claude 3 Sonnet.
        Transformer Circuits Thread.
        """
        return steer(
            self,
            model,
            layer,
            X,
            latent,
            value,
            positions=positions,
            additional_forward_args=additional_forward_args,
            batch_size=batch_size,
        )


# ---------------------------------------------------------------------- helpers
class _TrainingBatches:
    """Shuffled training batches (float32 tensors (batch_size, d)) from any source."""

    def __init__(
        self, activations: Any, batch_size: int, steps: int | None, epochs: int, rng: Any
    ) -> None:
        self.batch_size = batch_size
        self.steps = steps
        self.rng = rng
        self.done = 0
        self.total_steps: int | None = steps
        if is_model_source(activations):
            self._iter = self._from_stream(activations, epochs, buffered=True)
        elif is_array(activations):
            n = len(activations)
            if n == 0:
                raise InputError("activations has no vectors; give at least one row.")
            if steps is None:
                self.total_steps = epochs * math.ceil(n / batch_size)
            self._iter = self._from_array(activations, n)
        else:
            self._iter = self._from_stream(activations, epochs, buffered=False)

    def __iter__(self) -> _TrainingBatches:
        return self

    def __next__(self) -> Any:
        if self.total_steps is not None and self.done >= self.total_steps:
            raise StopIteration
        batch = next(self._iter)
        self.done += 1
        return batch

    def _from_array(self, activations: Any, n: int) -> Iterator[Any]:
        torch = import_torch()
        device = activations.device if isinstance(activations, torch.Tensor) else None
        while True:
            order = self.rng.permutation(n)
            for start in range(0, n, self.batch_size):
                rows = np.sort(order[start : start + self.batch_size])
                if device is not None:
                    rows = torch.as_tensor(rows, device=device)
                yield as_matrix(activations[rows], "activations")

    def _from_stream(self, activations: Any, epochs: int, *, buffered: bool) -> Iterator[Any]:
        torch = import_torch()
        capacity = self.batch_size * (_BUFFER_BATCHES if buffered else 1)
        readable = activations[2] if buffered else activations
        once = not isinstance(readable, (np.ndarray, torch.Tensor)) and (iter(readable) is readable)
        epoch = 0
        while True:
            if epoch > 0 and once:
                raise InputError(
                    "the activations come from an iterator, which can be read only once; "
                    "give a re-iterable source (a list, a DataLoader) or train one epoch."
                )
            pool: Any = None
            got = False
            for chunk in vector_chunks(activations):
                got = True
                pool = chunk if pool is None else torch.cat([pool, chunk])
                if len(pool) >= capacity:
                    pool = pool[
                        torch.as_tensor(self.rng.permutation(len(pool)), device=pool.device)
                    ]
                    keep = len(pool) - len(pool) % self.batch_size
                    for start in range(0, keep, self.batch_size):
                        yield pool[start : start + self.batch_size]
                    pool = pool[keep:] if keep < len(pool) else None
            if not got:
                raise InputError("activations gave no vectors; give at least one.")
            if pool is not None and len(pool):
                pool = pool[torch.as_tensor(self.rng.permutation(len(pool)), device=pool.device)]
                for start in range(0, len(pool), self.batch_size):
                    yield pool[start : start + self.batch_size]
            epoch += 1
            if self.steps is None and epoch >= epochs:
                return


def _topk_gradients(p: dict[str, Any], x: Any, k: int) -> tuple[Any, Any, Any]:
    """The TopK loss's exact gradients, written into ``.grad`` without autograd.

    Only the encoder product is dense; the decoder and every gradient go through
    the ``k`` kept latents per vector as sparse (CSR) products, so a step costs one
    dense matrix product and a top-k instead of the five of a dense backward pass.
    With ``g = 2 (x_hat - x) / B`` and ``D`` the gradient at the kept
    pre-activations (zero where the ReLU cut them): ``dW_dec = Z^T g``,
    ``dW_enc = c^T D`` (``c = x - b_dec``), ``db_enc = 1^T D``, ``db_dec = 1^T g -
    W_enc D^T 1``.
    """
    torch = import_torch()
    n, d = x.shape
    m = p["b_enc"].shape[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        centred = x - p["b_dec"]
        pre = torch.addmm(p["b_enc"], centred, p["W_enc"])
        values, index = pre.topk(k, dim=1, sorted=False)
        index, order = index.sort(dim=1)
        values = values.gather(1, order)
        z = values.clamp_min(0)
        crow = torch.arange(0, n * k + 1, k, device=x.device)
        flat = index.reshape(-1)
        codes = torch.sparse_csr_tensor(crow, flat, z.reshape(-1), (n, m))
        residual = codes @ p["W_dec"] + p["b_dec"] - x
        per_sample = residual.pow(2).sum(dim=1)
        g = residual * (2.0 / n)
        pattern = torch.sparse_csr_tensor(crow, flat, torch.ones_like(flat, dtype=x.dtype), (n, m))
        dz = torch.sparse.sampled_addmm(pattern, g, p["W_dec"].T, beta=0.0).values()
        dz = dz * (z.reshape(-1) > 0)
        # the transposes (m, n) share one sort of the kept latents by latent
        by_latent = torch.argsort(flat, stable=True)
        rows = torch.arange(n, device=x.device).repeat_interleave(k)[by_latent]
        counts = torch.bincount(flat, minlength=m)
        crow_t = torch.zeros(m + 1, dtype=torch.long, device=x.device)
        crow_t[1:] = counts.cumsum(0)
        codes_t = torch.sparse_csr_tensor(crow_t, rows, z.reshape(-1)[by_latent], (m, n))
        grads_t = torch.sparse_csr_tensor(crow_t, rows, dz[by_latent], (m, n))
        d_b_enc = torch.zeros(m, dtype=x.dtype, device=x.device).index_add_(0, flat, dz)
        p["W_dec"].grad = codes_t @ g
        p["W_enc"].grad = (grads_t @ centred).T
        p["b_enc"].grad = d_b_enc
        p["b_dec"].grad = g.sum(dim=0) - p["W_enc"] @ d_b_enc
        fired = flat[z.reshape(-1) > 0].unique()
    return per_sample.mean(), fired, per_sample


def _project_out_parallel(w_dec: Any) -> None:
    """Remove from each decoder row's gradient its component along the row."""
    grad = w_dec.grad
    if grad is None:
        return
    rows = w_dec.detach()
    grad.sub_((grad * rows).sum(dim=1, keepdim=True) * rows)


def _ce_kl(clean: Any, spliced: Any, ablated: Any, labels: Any) -> tuple[Any, Any, int, int]:
    """Summed cross-entropies (clean, spliced, ablated), summed KLs and their counts."""
    torch = import_torch()
    f = torch.nn.functional
    v = clean.shape[-1]
    c, s, a = (t.reshape(-1, v).to(torch.float64) for t in (clean, spliced, ablated))
    if labels is None:
        target = c.argmax(dim=1)
    else:
        target = labels.reshape(-1).to(device=c.device, dtype=torch.long)
        if target.shape[0] != c.shape[0]:
            raise InputError(
                f"y gives {target.shape[0]} labels for a batch with {c.shape[0]} output "
                "positions; give one label per output position (-100 to skip one)."
            )
    keep = target != IGNORE_INDEX
    ce = [
        float(f.cross_entropy(t[keep], target[keep], reduction="sum")) if bool(keep.any()) else 0.0
        for t in (c, s, a)
    ]
    p_clean = f.softmax(c, dim=1)
    kl = [float(f.kl_div(f.log_softmax(t, dim=1), p_clean, reduction="none").sum()) for t in (s, a)]
    return np.array(ce), np.array(kl), int(keep.sum()), int(c.shape[0])


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den != 0 else float("nan")


def _positive(value: Any, name: str, example: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if ok and math.isfinite(float(value)) and (float(value) > 0 or (allow_zero and value == 0)):
        return float(value)
    bound = "non-negative" if allow_zero else "positive"
    raise InputError(f"{name} must be a {bound} number, got {value!r}; e.g. {example}.")
