"""The PyTorch adapter: a ``torch.nn.Module`` seen as ``f(x) -> (n_samples, n_outputs)``.

This is the only module that knows how a PyTorch model is called, which device it
lives on and how a target (class index, per-sample indices, or a callable) picks one
scalar per sample. The gradient, attention and concept methods build on
:class:`TorchModel`. torch is imported lazily: whybox works without it.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils._validation import as_float_array

TORCH_OUTPUT_SPACES = ("raw", "probability")


def import_torch() -> Any:
    """Import torch, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is in the test extra
        raise ImportError(
            "this whybox method needs PyTorch; install it with "
            "`pip install 'whybox[torch]'` (CPU build: `pip install torch==2.13.0`)."
        ) from exc
    return torch


def input_axes(input_shape: tuple[int, ...]) -> tuple[str, ...]:
    """The Explanation axis names of one input of this shape.

    1-D inputs are tables (``"features"``), 2-D inputs sequences of embeddings
    (``"tokens", "embedding"``), 3-D inputs images (``"channels", "height", "width"``);
    other ranks get ``"input_1"``, ``"input_2"`` ...
    """
    by_rank = {
        1: ("features",),
        2: ("tokens", "embedding"),
        3: ("channels", "height", "width"),
    }
    return by_rank.get(len(input_shape), tuple(f"input_{i + 1}" for i in range(len(input_shape))))


def output_matrix(out: Any) -> Any:
    """A model's output tensor as (n_samples, n_outputs) where that shape is unambiguous.

    (n,) becomes (n, 1), and trailing axes of length 1 are dropped: (n, k, 1, 1), as a
    convolution head returns, becomes (n, k), so a single output (n, 1, 1, 1) is output
    0. Any other shape is returned as it is, for the caller to refuse.
    """
    if out.ndim == 1:
        return out[:, None]
    if out.ndim > 2 and all(int(s) == 1 for s in out.shape[2:]):
        return out.reshape(out.shape[0], out.shape[1])
    return out


@contextlib.contextmanager
def eval_mode(module: Any, *, warn: bool = True, stacklevel: int = 3) -> Iterator[None]:
    """Run the block with every submodule of ``module`` in eval mode, then restore each.

    ``module.train()`` would switch *every* submodule to training mode, so a
    pretrained part kept in eval mode inside a wrapper in training mode would get its
    dropout switched on; instead each submodule's own ``training`` flag is recorded
    before and set back after, also when the block raises. Nothing changes when no
    submodule is training; a ``torch.export`` program, which cannot switch modes, is
    called as it is.

    Parameters
    ----------
    module : torch.nn.Module
        The user's model.
    warn : bool, default True
        Warn (``UserWarning``) when any submodule was in training mode.
    stacklevel : int, default 3
        The warning's stack level (3 points at the caller of the ``with`` block).

    Yields
    ------
    None
    """
    modes = [(m, bool(m.training)) for m in module.modules()]
    training = [m for m, was in modes if was]

    def restore() -> None:
        for m, was in modes:
            # the flag itself: m.train(was) would also switch m's children
            m.training = was

    switched = False
    if training:
        try:
            module.eval()
            switched = True
        except NotImplementedError:
            # a torch.export program: its graph was fixed when exported, and it
            # cannot switch modes; put back any part switched before the refusal
            restore()
    try:
        if switched and warn:
            who = (
                "the model is in training mode"
                if modes[0][1]
                else f"{len(training)} submodule(s) of the model are in training mode"
            )
            warnings.warn(
                f"{who}; whybox explains it in eval mode (dropout off, batch-norm running "
                "statistics) and restores every submodule's mode afterwards. Call "
                "model.eval() first to silence this warning.",
                UserWarning,
                stacklevel=stacklevel,
            )
        yield
    finally:
        if switched:
            restore()


@dataclass(frozen=True, eq=False)
class TorchModel:
    """A PyTorch module with its device, output space and output names.

    Attributes
    ----------
    module : torch.nn.Module
        The wrapped model; called on a float tensor of shape (n_samples, *input_shape).
    device : torch.device
        Where its parameters live (CPU when it has none); inputs must be there too.
    output : {"raw", "probability"}
        ``"raw"``: the module's own output (logits for a classifier). ``"probability"``:
        softmax over the outputs, or the sigmoid of a single output.
    output_names : tuple of str or None
        One name per output column (e.g. class names), when given.
    """

    module: Any
    device: Any
    output: str = "raw"
    output_names: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ calling
    @contextlib.contextmanager
    def evaluation(self) -> Iterator[None]:
        """Run the block in eval mode, warning if any part of the model was training.

        Dropout and batch-norm batch statistics make training-mode outputs random and
        batch-dependent, so explanations are always computed in eval mode; every
        submodule's own mode is restored afterwards (see :func:`eval_mode`).
        """
        with eval_mode(self.module, stacklevel=5):
            yield

    def forward(self, x: Any) -> Any:
        """The model's output in ``output`` space, as a tensor of shape (n, n_outputs)."""
        return self.forward_inputs((x,))

    def forward_inputs(self, inputs: tuple[Any, ...], additional_forward_args: Any = None) -> Any:
        """The output of ``module(*inputs, *additional_forward_args)`` in ``output`` space.

        Parameters
        ----------
        inputs : tuple of torch.Tensor
            One tensor per forward argument, each (n, ...), as :meth:`as_inputs` gives.
        additional_forward_args : None, tuple or object, optional
            Passed after the inputs, unchanged (see :meth:`forward_args`).

        Returns
        -------
        torch.Tensor of shape (n, n_outputs)

        Raises
        ------
        InputError
            The model cannot take inputs of these shapes or this many inputs.
        UnsupportedModelError
            The model's output is not one tensor of shape (n,) or (n, n_outputs).
        """
        torch = import_torch()
        args = self.forward_args(additional_forward_args)
        try:
            out = self.module(*inputs, *args)
        except InputError:  # whybox's own checks inside the forward pass (hooks)
            raise
        except TypeError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if not _ARGUMENT_ERROR.search(reason):
                raise
            raise InputError(
                f"the model's forward does not take {len(inputs)} input(s) and "
                f"{len(args)} additional argument(s) ({reason[:160]}); give X one tensor per "
                "forward argument (a tuple for several) and the rest in additional_forward_args."
            ) from None
        except (RuntimeError, IndexError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if _INDEX_ERROR.search(reason):
                raise InputError(
                    f"the model takes integer indices (token ids) but got a float input "
                    f"({reason[:120]}); give the ids as an integer tensor, e.g. "
                    "torch.as_tensor(ids, dtype=torch.long)."
                ) from None
            if _DTYPE_ERROR.search(reason):
                dtypes = ", ".join(str(t.dtype) for t in inputs if hasattr(t, "dtype"))
                raise InputError(
                    f"the model cannot take inputs of dtype {dtypes} ({reason[:120]}); give "
                    "numeric inputs such as images as floating tensors, e.g. X.float()."
                ) from None
            if not _SHAPE_ERROR.search(reason) or "out of memory" in reason:
                raise
            shapes = ", ".join(str(tuple(t.shape[1:])) for t in inputs if hasattr(t, "shape"))
            what = f"shape {shapes}" if len(inputs) == 1 else f"shapes {shapes}"
            raise InputError(
                f"the model cannot take inputs of {what} ({reason[:160]}); "
                "give X the input shape the model was trained on."
            ) from None
        if isinstance(out, (tuple, list)):
            out = out[0]
        elif hasattr(out, "logits"):  # Hugging Face ModelOutput
            out = out.logits
        if not isinstance(out, torch.Tensor):
            raise UnsupportedModelError(
                f"the model returned {type(out).__name__}; expected a tensor of shape "
                "(n_samples,) or (n_samples, n_outputs). Wrap it in a module that returns one."
            )
        out = output_matrix(out)
        if out.ndim != 2:
            raise UnsupportedModelError(
                f"the model returned an output of shape {tuple(out.shape)}; expected "
                "(n_samples,) or (n_samples, n_outputs), with any further axes of length 1. "
                "Wrap the model so it returns one: torch.nn.Sequential(model, "
                "torch.nn.Flatten()) makes every element an output to pick with target=, "
                "or pool the extra axes in a wrapper module."
            )
        if self.output == "probability":
            out = torch.sigmoid(out) if out.shape[1] == 1 else torch.softmax(out, dim=1)
        return out

    def forward_args(self, additional_forward_args: Any) -> tuple[Any, ...]:
        """``additional_forward_args`` as the tuple passed after the inputs.

        None gives ``()``, a tuple is kept, any other object becomes a one-tuple (as
        in captum). The objects are passed to the model unchanged.

        Raises
        ------
        InputError
            A tensor in it (with at least one axis) is on another device than the model.
        """
        if additional_forward_args is None:
            return ()
        if isinstance(additional_forward_args, tuple):
            args = additional_forward_args
        else:
            args = (additional_forward_args,)
        torch = import_torch()
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor) and a.ndim > 0 and a.device != self.device:
                raise InputError(
                    f"additional_forward_args[{i}] is on device {a.device} but the model is on "
                    f"{self.device}; move it, e.g. additional_forward_args[{i}].to("
                    f"'{self.device}')."
                )
        return args

    # ------------------------------------------------------------------ inputs
    def as_inputs(self, X: Any, name: str = "X") -> tuple[Any, ...]:
        """X as a tuple of tensors on the model's device, one per forward argument.

        A tuple ``X`` holds one input per forward argument; anything else is one
        input. Floating tensors and array-likes (converted to numbers) come in the
        parameter dtype; integer and bool tensors (token ids, masks) are kept as
        they are. Every input has the samples on its first axis.

        Parameters
        ----------
        X : array-like, torch.Tensor, or tuple of them
            The inputs, each of shape (n_samples, ...).
        name : str, default "X"
            The argument's name in error messages (``X[1]`` for the second input).

        Returns
        -------
        tuple of torch.Tensor
            Always a tuple, one tensor per input, each (n_samples, *input_shape).

        Raises
        ------
        InputError
            An empty tuple; an input that is not numeric, has no sample axis or no
            samples, holds NaN or infinite values (floats), or is a tensor on another
            device; inputs with different numbers of samples.
        """
        torch = import_torch()
        if not isinstance(X, tuple):
            if isinstance(X, torch.Tensor) and not _is_float_tensor(X):
                return (self._checked_input(self._integer_input(X, name), name),)
            return (self.as_input(X, name),)
        if not X:
            raise InputError(
                f"{name} is an empty tuple; give one tensor per forward argument of the model."
            )
        inputs = []
        for i, part in enumerate(X):
            label = f"{name}[{i}]"
            if isinstance(part, tuple):
                raise InputError(
                    f"{label} is a tuple; give {name} as a flat tuple with one tensor or array "
                    "per forward argument."
                )
            if isinstance(part, torch.Tensor) and not _is_float_tensor(part):
                inputs.append(self._checked_input(self._integer_input(part, label), label))
            else:
                inputs.append(self.as_input(part, label))
        n = len(inputs[0])
        for i, t in enumerate(inputs[1:], start=1):
            if len(t) != n:
                raise InputError(
                    f"{name}[{i}] has {len(t)} samples but {name}[0] has {n}; give every "
                    "input the same number of samples (rows)."
                )
        return tuple(inputs)

    def _integer_input(self, t: Any, name: str) -> Any:
        """An integer or bool tensor, detached, on the model's device (kept integer)."""
        if t.is_complex():
            raise InputError(
                f"{name} is a complex tensor ({t.dtype}); give real numbers or integer ids."
            )
        return self.on_device(t, name)

    def _checked_input(self, x: Any, name: str) -> Any:
        """The sample-axis and no-samples checks of one input tensor."""
        if x.ndim < 2:
            raise InputError(
                f"{name} must have a sample axis first, shape (n_samples, ...), got shape "
                f"{tuple(x.shape)}; add one with {name}[None] for a single sample."
            )
        if x.shape[0] == 0:
            raise InputError(f"{name} has no samples; give at least one.")
        return x

    def as_input(self, X: Any, name: str = "X") -> Any:
        """X as a float tensor on the model's device, shape (n_samples, *input_shape).

        Raises
        ------
        InputError
            X is not numeric, has no sample axis or no samples, holds NaN or
            infinite values, or is a tensor on another device.
        """
        torch = import_torch()
        if isinstance(X, torch.Tensor):
            x = self.on_device(X, name)
        else:
            arr = as_float_array(
                X,
                f"{name} must be a numeric array or tensor of shape (n_samples, ...), "
                f"got {type(X).__name__} that does not convert to numbers.",
            )
            if not arr.flags.writeable:  # e.g. a DataFrame's values; torch wants to own them
                arr = arr.copy()
            x = torch.as_tensor(arr, device=self.device)
        if not torch.is_floating_point(x):
            x = x.to(torch.get_default_dtype())
        x = self._checked_input(self.in_parameter_dtype(x), name)
        finite = torch.isfinite(x).reshape(len(x), -1).all(dim=1)
        if not bool(finite.all()):
            row = int(torch.nonzero(~finite)[0, 0])
            raise InputError(
                f"{name} contains NaN or infinite values (the first in sample {row}); "
                "gradient methods need finite inputs: impute or drop those samples."
            )
        return x

    def on_device(self, t: Any, name: str) -> Any:
        """The tensor argument ``name`` detached, if it is on the model's device.

        Raises
        ------
        InputError
            ``t`` is on another device (the message says how to move it).
        """
        if t.device != self.device:
            raise InputError(
                f"{name} is on device {t.device} but the model is on {self.device}; "
                f"move one of them, e.g. {name}.to('{self.device}')."
            )
        return t.detach()

    def in_parameter_dtype(self, t: Any) -> Any:
        """A floating tensor cast to the model's parameter dtype (as it is without one)."""
        dtype = self.parameter_dtype()
        return t if dtype is None or t.dtype == dtype else t.to(dtype)

    def parameter_dtype(self) -> Any:
        """The floating dtype of the model's first parameter (None without parameters)."""
        for p in self.module.parameters():
            if p.is_floating_point():
                return p.dtype
        return None

    def as_baseline(self, baseline: Any, x: Any, name: str = "baseline") -> Any:
        """A baseline broadcast to x's shape: a scalar, one input, or one per sample.

        Raises
        ------
        InputError
            The baseline's shape is neither ``input_shape`` nor ``(n_samples, *input_shape)``.
        """
        torch = import_torch()
        if baseline is None:
            return torch.zeros_like(x)
        if np.isscalar(baseline):
            return torch.full_like(x, float(baseline))
        b = self.as_input(baseline, name) if np.ndim(baseline) >= 2 else None
        if b is None:
            b = self.as_input(np.asarray(baseline)[None], name)
        shape, in_shape = tuple(b.shape), tuple(x.shape[1:])
        if shape == tuple(x.shape):
            return b
        if shape == in_shape or shape == (1, *in_shape):
            return b.reshape(1, *in_shape).expand_as(x).clone()
        raise InputError(
            f"{name} has shape {shape} but the inputs have shape {tuple(x.shape)}; give a "
            f"scalar, one input of shape {in_shape}, or one per sample of shape "
            f"{tuple(x.shape)}."
        )

    # ------------------------------------------------------------------ targets
    def resolve_target(self, target: Any, out: Any) -> Any:
        """Per-sample output indices (LongTensor of shape (n,)) or the callable itself.

        ``None`` picks each sample's largest output (the predicted class; output 0
        for a single-output model); an int picks that output for every sample; a
        sequence gives one index per sample; a callable maps the output tensor
        (n, n_outputs) to one scalar per sample, row by row.

        Raises
        ------
        InputError
            An index is out of range, or the sequence has the wrong length.
        """
        torch = import_torch()
        n, k = out.shape
        target = self.target_rows(target, n)
        if callable(target):
            return target
        if target is None:
            return out.argmax(dim=1) if k > 1 else torch.zeros(n, dtype=torch.long)
        if isinstance(target, (int, np.integer)):
            idx = torch.full((n,), int(target), dtype=torch.long)
        else:
            idx = torch.as_tensor(target, dtype=torch.long)
        bad = (idx < 0) | (idx >= k)
        if bool(bad.any()):
            first = int(idx[bad][0])
            raise InputError(
                f"target {first} is out of range: the model has {k} output(s), so a target "
                f"index must be in 0..{k - 1}."
            )
        return idx.to(out.device)

    def target_rows(self, target: Any, n: int) -> Any:
        """A per-sample target as an int64 array of length n (other forms unchanged).

        Raises
        ------
        InputError
            A sequence that is not one int per sample.
        """
        torch = import_torch()
        if target is None or callable(target) or isinstance(target, (int, np.integer)):
            return target
        arr = np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)
        if arr.ndim != 1 or arr.shape[0] != n or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(
                f"target must be None, an int, one int per sample ({n}) or a callable; "
                f"got {type(target).__name__} of shape {arr.shape} and dtype {arr.dtype}."
            )
        return arr.astype(np.int64)

    def target_scalar(self, out: Any, target: Any) -> Any:
        """One scalar per row of ``out`` (n, n_outputs): the targeted output.

        ``target`` is what :meth:`resolve_target` returned; rows of ``out`` may repeat
        the samples in blocks (``out.shape[0]`` a multiple of the number of targets),
        as when many points per sample are evaluated in one batch.
        """
        if callable(target):
            value = target(out)
            if getattr(value, "shape", None) != (out.shape[0],):
                raise InputError(
                    f"the target callable returned shape {tuple(getattr(value, 'shape', ()))}; "
                    f"it must return one scalar per sample, shape ({out.shape[0]},)."
                )
            return value
        reps = out.shape[0] // target.shape[0]
        idx = target.repeat(reps) if reps > 1 else target
        return out.gather(1, idx[:, None])[:, 0]

    def target_names(self, target: Any, n_outputs: int) -> tuple[str, ...]:
        """The one output name of an explanation of ``target``."""
        if callable(target):
            return (getattr(target, "__name__", "target"),)
        values = np.unique(target.cpu().numpy())
        if values.size == 1:
            i = int(values[0])
            names = self.output_names
            return (names[i] if names is not None and len(names) == n_outputs else str(i),)
        return ("target",)

    # ------------------------------------------------------------------ layers
    def layer(self, layer: Any, name: str = "layer") -> Any:
        """A submodule given by its dotted name (as in ``named_modules()``) or itself.

        Raises
        ------
        InputError
            No submodule has that name; the message lists the closest names.
        """
        torch = import_torch()
        if isinstance(layer, torch.nn.Module):
            if not any(m is layer for m in self.module.modules()):
                raise InputError(f"{name} is a module that is not part of the model.")
            return layer
        modules = dict(self.module.named_modules())
        if not isinstance(layer, str) or layer not in modules or layer == "":
            close = difflib.get_close_matches(str(layer), [m for m in modules if m], n=5)
            hint = close if close else [m for m in modules if m][:10]
            raise InputError(
                f"{name} {layer!r} is not a submodule of the model; give a name from "
                f"model.named_modules(), e.g. {hint}."
            )
        return modules[layer]


def adapt_torch_model(
    model: Any, *, output: str = "raw", output_names: Sequence[str] | None = None
) -> TorchModel:
    """Wrap a ``torch.nn.Module`` (or a :class:`TorchModel`) for the gradient methods.

    Raises
    ------
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.
    InputError
        ``output`` is not one of ``"raw"``, ``"probability"``.
    """
    if isinstance(model, TorchModel):
        return model
    torch = import_torch()
    if not isinstance(model, torch.nn.Module):
        raise UnsupportedModelError(
            f"model must be a torch.nn.Module for gradient methods, got "
            f"{type(model).__name__}; use whybox.explain or the Shapley explainers for "
            "other models."
        )
    if output not in TORCH_OUTPUT_SPACES:
        raise InputError(f"output must be one of {TORCH_OUTPUT_SPACES}, got {output!r}.")
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    names = None if output_names is None else tuple(str(n) for n in output_names)
    return TorchModel(module=model, device=device, output=output, output_names=names)


def frame_columns(X: Any, feature_names: Any) -> Any:
    """``feature_names`` as given, else the column names of a DataFrame ``X`` (or None)."""
    if feature_names is not None:
        return feature_names
    columns = getattr(X, "columns", None)
    return None if columns is None else [str(c) for c in columns]


def target_param(target: Any) -> Any:
    """What an explanation's ``params`` records of a resolved target (JSON-ready).

    ``"callable"`` for a callable target, else the output index of each sample.
    """
    if callable(target):
        return "callable"
    return [int(t) for t in target.cpu().numpy()]


def batches(n: int, batch_size: int | None) -> Iterator[slice]:
    """Slices covering range(n) in blocks of ``batch_size`` (all at once when None)."""
    step = n if not batch_size else int(batch_size)
    for start in range(0, n, max(step, 1)):
        yield slice(start, min(start + step, n))


def forward_args_rows(args: tuple[Any, ...], n_samples: int, rows: Any) -> tuple[Any, ...]:
    """The additional forward arguments of some rows of a pass.

    A tensor in ``args`` whose first axis has ``n_samples`` entries holds one entry
    per sample: it is indexed by ``rows`` (a slice or the sample of each row of the
    pass, a LongTensor), as captum repeats such tensors with the inputs. Every
    other object is passed unchanged.
    """
    if not args:
        return args
    return tuple(a[rows] if is_per_sample(a, n_samples) else a for a in args)


def is_per_sample(arg: Any, n_samples: int) -> bool:
    """Whether an additional forward argument is a tensor with one entry per sample."""
    torch = import_torch()
    return isinstance(arg, torch.Tensor) and arg.ndim > 0 and int(arg.shape[0]) == n_samples


def _is_float_tensor(t: Any) -> bool:
    return bool(t.is_floating_point())


# A call with the wrong number of arguments (not a TypeError raised inside forward).
_ARGUMENT_ERROR = re.compile(
    r"forward\(\) (takes|missing|got an unexpected)|positional arguments? but \d+ (was|were) given"
)

# An input whose dtype the model's layers do not take (integer images into a convolution).
_DTYPE_ERROR = re.compile(
    r"type \(.*\) and (bias|weight) type .* should be the same|must have the same dtype|"
    r"expected scalar type|not implemented for '(Byte|Long|Int|Short|Char|Bool)'",
    re.IGNORECASE,
)

# A float tensor given to an embedding lookup.
_INDEX_ERROR = re.compile(r"'indices'.*(Long|Int)|expected scalar type Long", re.IGNORECASE)

# A forward pass that fails on the input's shape: a wrong column count or image size.
_SHAPE_ERROR = re.compile(
    r"shape|size mismatch|sizes? of tensor|dimension|out of range|out of bounds|mat1 and mat2",
    re.IGNORECASE,
)

TargetLike = int | Sequence[int] | np.ndarray | Callable[[Any], Any] | None
