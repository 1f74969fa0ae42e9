"""The induction demo: a two-layer attention-only transformer that learns to copy.

Trained in seconds on repeated random token sequences (the first half random, the
second half a repeat of it), the model can only lower its loss on the second half by
finding the earlier occurrence of the current token and copying the token that
followed it: an induction head in layer 1 fed by a previous-token head in layer 0
(Elhage et al. 2021; Olsson et al. 2022). The trained weights are cached (a
``state_dict`` saved with ``torch.save``, read back with ``weights_only=True``), so
only the first call trains.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import check_int, check_random_state
from whybox.adapters._torch import import_torch

CACHE_ENV = "WHYBOX_CACHE"
"""The environment variable that names whybox's cache folder."""
_FORMAT = 2
"""Bumped when the architecture or the training recipe changes: old cache files are ignored."""


@dataclass(frozen=True, eq=False)
class InductionTransformer:
    """A trained two-layer attention-only transformer with the task it was trained on.

    Attributes
    ----------
    model : torch.nn.Module
        An :func:`induction_transformer_architecture` module in eval mode, float32,
        on the CPU. Input: token ids (n_samples, n_tokens), int64, ``n_tokens <=
        n_ctx``; output: next-token logits (n_samples, n_tokens, vocab_size).
    vocab_size : int
        Number of token ids (0 .. vocab_size - 1); every id is an ordinary token.
    half_length : int
        Length of the random first half of a training sequence; the sequences are
        ``2 * half_length`` tokens long.
    first_half_loss, second_half_loss : float
        Mean next-token cross-entropy (nats) on 512 fresh repeated sequences ``r r``:
        predicting tokens 1 .. half_length - 1 (the random half; no model can beat
        ``ln(vocab_size)`` there in expectation) and tokens half_length + 1 ..
        2 half_length - 1 (the repeat, predictable by induction).
    train_seconds : float
        Wall-clock seconds training took (0.0 when the weights came from the cache).
    from_cache : bool
        Whether the weights were read from the cache instead of trained.
    cache_path : str or None
        The cache file read or written; None when caching was switched off.
    random_state : int
        The seed of the weights and of the training sequences.
    description : str
    """

    model: Any
    vocab_size: int
    half_length: int
    first_half_loss: float
    second_half_loss: float
    train_seconds: float
    from_cache: bool
    cache_path: str | None
    random_state: int
    description: str

    @property
    def n_tokens(self) -> int:
        """The length of a training sequence, ``2 * half_length``."""
        return 2 * self.half_length

    def sample(self, n_samples: int = 64, *, random_state: Any = 0) -> Any:
        """Repeated random sequences: ``half_length`` uniform token ids, then the same again.

        Parameters
        ----------
        n_samples : int, default 64
        random_state : None, int or numpy Generator, default 0

        Returns
        -------
        torch.LongTensor of shape (n_samples, 2 * half_length)
        """
        return repeated_tokens(n_samples, self.half_length, self.vocab_size, random_state)

    def sample_pairs(self, n_samples: int = 64, *, random_state: Any = 0) -> tuple[Any, Any]:
        """Clean and corrupted sequences for patching: sample i differs only in its first half.

        ``clean[i]`` is a repeated sequence ``r r``; ``corrupted[i]`` is ``r' r`` with
        ``r'`` fresh uniform tokens, so its second half is the same tokens but no
        longer a repeat: induction cannot predict them.

        Parameters
        ----------
        n_samples : int, default 64
        random_state : None, int or numpy Generator, default 0

        Returns
        -------
        (clean, corrupted) : two torch.LongTensor of shape (n_samples, 2 * half_length)
        """
        torch = import_torch()
        rng = np.random.default_rng(check_random_state(random_state))
        clean = repeated_tokens(n_samples, self.half_length, self.vocab_size, rng)
        fresh = rng.integers(0, self.vocab_size, size=(len(clean), self.half_length))
        corrupted = clean.clone()
        corrupted[:, : self.half_length] = torch.from_numpy(fresh)
        return clean, corrupted


def repeated_tokens(n_samples: int, half_length: int, vocab_size: int, random_state: Any) -> Any:
    """(n_samples, 2 * half_length) int64 tensor: uniform random ids, then the same again."""
    torch = import_torch()
    n = check_int(n_samples, "n_samples", 1, "n_samples=64")
    rng = np.random.default_rng(check_random_state(random_state))
    half = rng.integers(0, vocab_size, size=(n, half_length))
    return torch.from_numpy(np.concatenate([half, half], axis=1))


def induction_transformer_architecture(
    vocab_size: int = 64,
    *,
    n_ctx: int = 24,
    d_model: int = 64,
    n_heads: int = 2,
    n_layers: int = 2,
) -> Any:
    """The untrained demo: token and position embeddings, attention-only blocks, unembedding.

    No MLPs, no layer norm and no biases, so the residual stream is exactly the sum
    of the embeddings and every head's output, and each head's OV circuit is the
    product ``W_E W_V W_O W_U`` (Elhage et al. 2021). The module names follow
    TransformerLens: ``embed`` (``W_E`` of shape (vocab_size, d_model)), ``W_pos``
    (n_ctx, d_model), ``blocks.{l}.attn`` with ``W_Q``, ``W_K``, ``W_V`` of shape
    (n_heads, d_model, d_head) and ``W_O`` (n_heads, d_head, d_model), and identity
    modules at the hook points ``blocks.{l}.hook_resid_pre``,
    ``blocks.{l}.hook_q_input`` / ``hook_k_input`` / ``hook_v_input`` (n, n_tokens,
    n_heads, d_model: the residual stream each head reads its queries, keys and values
    from, as TransformerLens's ``use_split_qkv_input``),
    ``blocks.{l}.attn.hook_pattern`` (n, n_heads, query, key),
    ``blocks.{l}.attn.hook_z`` (n, n_tokens, n_heads, d_head: each head's attention-
    weighted values, before ``W_O``), ``blocks.{l}.hook_resid_post``, ``ln_final``
    (an identity: there is no layer norm) and ``unembed`` (``W_U`` of shape
    (d_model, vocab_size)). Attention is causal: a token attends to itself and the
    tokens before it.

    Parameters
    ----------
    vocab_size : int, default 64
    n_ctx : int, default 24
        The longest input (positions with a learned embedding).
    d_model : int, default 64
        Width of the residual stream.
    n_heads : int, default 2
        Heads per layer; ``d_model`` must be a multiple of it.
    n_layers : int, default 2

    Returns
    -------
    torch.nn.Module

    References
    ----------
    Elhage, N. et al. (2021). A mathematical framework for transformer circuits.
    Transformer Circuits Thread.
    """
    torch = import_torch()
    nn = torch.nn
    for value, name in ((vocab_size, "vocab_size"), (n_ctx, "n_ctx"), (d_model, "d_model")):
        check_int(value, name, 1, f"{name}={value}")
    check_int(n_heads, "n_heads", 1, "n_heads=4")
    check_int(n_layers, "n_layers", 1, "n_layers=2")
    if d_model % n_heads:
        raise InputError(
            f"d_model must be a multiple of n_heads, got d_model={d_model} and "
            f"n_heads={n_heads}; choose e.g. d_model={n_heads * max(1, d_model // n_heads)}."
        )
    d_head = d_model // n_heads

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            shape = (n_heads, d_model, d_head)
            self.W_Q = nn.Parameter(torch.randn(shape) / math.sqrt(d_model))
            self.W_K = nn.Parameter(torch.randn(shape) / math.sqrt(d_model))
            self.W_V = nn.Parameter(torch.randn(shape) / math.sqrt(d_model))
            self.W_O = nn.Parameter(torch.randn(n_heads, d_head, d_model) / math.sqrt(d_model))
            self.hook_pattern = nn.Identity()
            self.hook_z = nn.Identity()

        def forward(self, q_input: Any, k_input: Any, v_input: Any) -> Any:
            # inputs (n, n_tokens, n_heads, d_model): one copy of the residual stream per
            # head, so a path can be patched into one head's queries, keys or values
            q = torch.einsum("nthd,hde->nhte", q_input, self.W_Q)
            k = torch.einsum("nthd,hde->nhte", k_input, self.W_K)
            v = torch.einsum("nthd,hde->nhte", v_input, self.W_V)
            scores = q @ k.transpose(-1, -2) / math.sqrt(d_head)
            t = q_input.shape[1]
            future = torch.ones(t, t, dtype=torch.bool, device=q_input.device).triu(1)
            pattern = self.hook_pattern(scores.masked_fill(future, float("-inf")).softmax(-1))
            z = self.hook_z(torch.einsum("nhqk,nhke->nqhe", pattern, v))
            return torch.einsum("nqhe,hed->nqd", z, self.W_O)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hook_resid_pre = nn.Identity()
            self.hook_q_input = nn.Identity()
            self.hook_k_input = nn.Identity()
            self.hook_v_input = nn.Identity()
            self.attn = Attention()
            self.hook_resid_post = nn.Identity()

        def forward(self, x: Any) -> Any:
            x = self.hook_resid_pre(x)
            per_head = x[:, :, None, :].expand(-1, -1, n_heads, -1)
            out = self.attn(
                self.hook_q_input(per_head),
                self.hook_k_input(per_head),
                self.hook_v_input(per_head),
            )
            return self.hook_resid_post(x + out)

    class AttentionOnlyTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size, d_model)
            self.W_pos = nn.Parameter(0.1 * torch.randn(n_ctx, d_model))
            self.blocks = nn.ModuleList([Block() for _ in range(n_layers)])
            self.ln_final = nn.Identity()
            self.unembed = nn.Linear(d_model, vocab_size, bias=False)

        @property
        def W_E(self) -> Any:  # noqa: N802 - the name of the papers and TransformerLens
            return self.embed.weight

        @property
        def W_U(self) -> Any:  # noqa: N802
            return self.unembed.weight.T

        def forward(self, input_ids: Any) -> Any:
            t = input_ids.shape[1]
            if t > n_ctx:
                raise InputError(
                    f"input_ids has {t} tokens but the model has positions for n_ctx={n_ctx}; "
                    f"pass at most {n_ctx} tokens."
                )
            x = self.embed(input_ids) + self.W_pos[:t]
            for block in self.blocks:
                x = block(x)
            return self.unembed(self.ln_final(x))

    return AttentionOnlyTransformer()


def default_cache_dir() -> Path:
    """``$WHYBOX_CACHE``, else the user's cache folder (``~/.cache/whybox`` on Linux)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":  # pragma: no cover - platform specific
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":  # pragma: no cover - platform specific
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "whybox"


def load_induction_transformer(
    random_state: int = 0,
    *,
    steps: int = 800,
    cache_dir: Any = None,
) -> InductionTransformer:
    """Train (or read from the cache) the induction demo: 2 attention-only layers, 2 heads each.

    The model (:func:`induction_transformer_architecture` with its defaults: 64
    token ids, width 64, 2 heads of width 32 per layer, 24 positions) is trained with
    Adam (one-cycle learning rate up to 0.01, batches of 64) for ``steps`` steps on
    fresh sequences of 24 uniform random tokens in which a block of 4 to 12 tokens
    repeats: the distance to a token's copy varies, so only induction (find the
    earlier copy of the current token, predict what followed it), not a fixed
    look-back, predicts the repeats. It trains on one CPU thread (the global torch
    thread count and random state are restored afterwards) in about 10-30 s. The
    loss on the repeat falls from about ``ln(64) = 4.16`` nats to about 0.15 after a
    few hundred steps: the phase change at which the induction heads form (Olsson et
    al. 2022). On the random half no model can beat ``ln(64)`` in expectation; this
    one scores a little worse (about 4.5 nats), since it also bets on short repeats.

    The weights are saved to ``cache_dir`` as a ``state_dict`` (``torch.save``) and
    later read back with ``torch.load(weights_only=True)``, which runs no code; a
    file that cannot be read or whose tensors do not have the architecture's names
    and shapes is replaced by a freshly trained model, with a warning.

    Parameters
    ----------
    random_state : int, default 0
        Seeds the initial weights and the training sequences; the same seed gives the
        same model.
    steps : int, default 800
        Optimiser steps.
    cache_dir : str or path-like, optional
        The folder of the cache file; default ``$WHYBOX_CACHE``, else the user's cache
        folder (``~/.cache/whybox`` on Linux). ``False`` switches caching off (always
        train, write nothing).

    Returns
    -------
    InductionTransformer

    Raises
    ------
    InputError
        ``random_state`` is not a non-negative int or ``steps`` is not a positive int.

    References
    ----------
    Olsson, C. et al. (2022). In-context learning and induction heads. Transformer
    Circuits Thread.
    Elhage, N. et al. (2021). A mathematical framework for transformer circuits.
    Transformer Circuits Thread.
    """
    torch = import_torch()
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise InputError(
            f"random_state must be a non-negative int (it names the cached model), got "
            f"{random_state!r}; pass e.g. random_state=0."
        )
    seed = check_int(random_state, "random_state", 0, "random_state=0")
    n_steps = check_int(steps, "steps", 1, "steps=800")
    vocab_size, half = 64, 12
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = induction_transformer_architecture(vocab_size, n_ctx=2 * half)
    path = _cache_path(cache_dir, seed, n_steps)
    from_cache, seconds = False, 0.0
    if path is not None and path.exists():
        from_cache = _read_cache(model, path)
    if not from_cache:
        seconds = _train(model, seed, n_steps, vocab_size, half)
        if path is not None:
            _write_cache(model, path)
    model.eval()
    first, second = _half_losses(model, vocab_size, half)
    origin = "read from the cache" if from_cache else f"trained in {seconds:.1f} s"
    return InductionTransformer(
        model=model,
        vocab_size=vocab_size,
        half_length=half,
        first_half_loss=first,
        second_half_loss=second,
        train_seconds=seconds,
        from_cache=from_cache,
        cache_path=None if path is None else str(path),
        random_state=seed,
        description=(
            f"two-layer attention-only transformer (2 heads per layer, width 64, "
            f"{vocab_size} tokens) {origin} ({n_steps} steps) on repeated random "
            f"sequences of 2 x {half} tokens; loss {first:.2f} nats on the random half "
            f"(ln {vocab_size} = {math.log(vocab_size):.2f}), {second:.3f} on the repeat."
        ),
    )


def _train(model: Any, seed: int, steps: int, vocab_size: int, half: int) -> float:
    """Train in place on fresh repeated sequences; returns the seconds taken."""
    torch = import_torch()
    rng = np.random.default_rng([seed, 1])
    threads = torch.get_num_threads()
    start = time.perf_counter()
    try:
        # a model this small runs faster on one thread than on several (no sync cost)
        torch.set_num_threads(1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=1e-2, total_steps=steps, pct_start=0.1
        )
        model.train()
        for _ in range(steps):
            x = _training_batch(64, half, vocab_size, rng)
            logits = model(x[:, :-1])
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, vocab_size), x[:, 1:].reshape(-1)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    finally:
        torch.set_num_threads(threads)
        model.eval()
    return time.perf_counter() - start


def _training_batch(n: int, half: int, vocab_size: int, rng: np.random.Generator) -> Any:
    """Sequences of 2 * half tokens: a block of m uniform tokens repeated (4 <= m <= half).

    The block's length, and so the distance between a token and its copy, varies
    from sequence to sequence: a head that attends a fixed number of positions back
    cannot predict the repeats; only induction (find the earlier copy of the current
    token, read what followed it) can.
    """
    torch = import_torch()
    t = 2 * half
    x = rng.integers(0, vocab_size, size=(n, t))
    lengths = rng.integers(4, half + 1, size=n)
    for row, m in enumerate(lengths):
        x[row] = np.resize(x[row, :m], t)
    return torch.from_numpy(x)


def _half_losses(model: Any, vocab_size: int, half: int) -> tuple[float, float]:
    """Mean next-token loss on the random half and on the repeat (512 fresh sequences)."""
    torch = import_torch()
    x = repeated_tokens(512, half, vocab_size, np.random.default_rng([2**31 - 1, 7]))
    with torch.no_grad():
        logp = torch.log_softmax(model(x).double(), -1)[:, :-1]
        loss = -logp.gather(-1, x[:, 1:, None])[..., 0]  # loss[:, t] predicts token t + 1
    return float(loss[:, : half - 1].mean()), float(loss[:, half:].mean())


def _cache_path(cache_dir: Any, seed: int, steps: int) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir is None:
        folder = default_cache_dir()
    elif isinstance(cache_dir, (str, os.PathLike)):
        folder = Path(cache_dir).expanduser()
    else:
        raise InputError(
            f"cache_dir must be a folder (str or path-like), None (the default cache) or "
            f"False (no cache), got {type(cache_dir).__name__}; pass e.g. cache_dir='cache'."
        )
    return folder / f"induction_transformer_v{_FORMAT}_seed{seed}_steps{steps}.pt"


def _read_cache(model: Any, path: Path) -> bool:
    """Load the cached weights into ``model``; False (with a warning) when they are unusable."""
    torch = import_torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: retrain rather than fail
        _warn_cache(path, f"it could not be read ({type(exc).__name__})")
        return False
    want = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(want):
        _warn_cache(path, "it does not hold this architecture's weights")
        return False
    for name, tensor in want.items():
        got = state[name]
        if not isinstance(got, torch.Tensor) or got.shape != tensor.shape:
            _warn_cache(path, f"its tensor {name!r} has the wrong shape or type")
            return False
        if got.dtype != tensor.dtype or not bool(torch.isfinite(got).all()):
            _warn_cache(path, f"its tensor {name!r} has the wrong dtype or non-finite values")
            return False
    model.load_state_dict(state)
    return True


def _warn_cache(path: Path, why: str) -> None:
    warnings.warn(
        f"the cached induction transformer {str(path)!r} is ignored because {why}; "
        "the model is trained again and the file replaced.",
        UserWarning,
        stacklevel=4,
    )


def _write_cache(model: Any, path: Path) -> None:
    """Save the state_dict atomically (a temporary file renamed), so readers never see half."""
    torch = import_torch()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache folder must not stop the demo
        warnings.warn(
            f"could not write the induction transformer cache {str(path)!r} "
            f"({exc.strerror or exc}); the trained model is returned without caching.",
            UserWarning,
            stacklevel=3,
        )
