"""Workload W15c: a model with two inputs and extra forward arguments, whybox against captum.

Workload list: benchmarks/README.md. A two-input model (seed 0, untrained: the cost and
the values do not depend on training), float32: a small CNN on 3x32x32 images (two 3x3
convolutions with ReLU and max-pooling) and a 10-feature metadata MLP, joined by a
32-unit head with 10 outputs. Its forward is ``model(image, meta, mask, temperature)``:
``mask`` (n, 10) switches metadata features off per sample and ``temperature`` (a
float) divides the logits, both given as ``additional_forward_args`` and not
explained. 256 samples (images and metadata standard normal, seed 0, about a fifth of
the mask zero); sample i explains output i % 10. Both sides compute, in one process,
on the same inputs:

- integrated gradients, zero baselines for both inputs, 50 Gauss-Legendre steps, all
  steps in one batch (whybox ``completeness_tolerance=None``: the fixed rule, as captum),
- Saliency (absolute gradient), for context: one forward and backward pass.

Timings are medians of ``repeats`` runs after one warm-up, whybox and captum run in
turn (so both see the same machine load), at the same torch thread count; ratio =
captum's time / whybox's (above 1: whybox is faster). "max diff" is the largest
absolute difference between the two attributions over both inputs. The last line is
the joint completeness gap of integrated gradients: ``|sum over both inputs of the
values - (f(x) - f(0))|``, against the model's own outputs.

Run: ``python benchmarks/w15c_multi_input.py [--quick]``.
"""

from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
from w1_treeshap import interleaved_median_times

Config = namedtuple("Config", "n_inputs n_steps repeats")

FULL = Config(256, 50, 7)
QUICK = Config(16, 50, 2)


def _model():
    """The W15c model: an image CNN and a metadata MLP joined by one head."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class ImageAndMetadata(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image = nn.Sequential(
                nn.Conv2d(3, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            )  # fmt: skip
            self.meta = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
            self.head = nn.Sequential(nn.Linear(32 * 6 * 6 + 32, 32), nn.ReLU(), nn.Linear(32, 10))

        def forward(self, image, meta, mask, temperature):
            joined = torch.cat([self.image(image), self.meta(meta * mask)], dim=1)
            return self.head(joined) / temperature

    return ImageAndMetadata().eval()


def _diff(ours, theirs) -> float:
    """The largest absolute difference over the inputs (whybox Explanations, captum tensors)."""
    return max(
        float(np.max(np.abs(e.values[..., 0] - t.detach().numpy().astype(np.float64))))
        for e, t in zip(ours, theirs, strict=True)
    )


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    import captum.attr as ca
    import torch

    import whybox.gradients as wg

    cfg = QUICK if quick else FULL
    if threads:
        torch.set_num_threads(threads)
    model = _model()
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(0)
    n = cfg.n_inputs
    image = torch.randn(n, 3, 32, 32, generator=gen)
    meta = torch.randn(n, 10, generator=gen)
    mask = (torch.rand(n, 10, generator=gen) > 0.2).float()
    X, args = (image, meta), (mask, 2.0)
    zeros = (torch.zeros_like(image), torch.zeros_like(meta))
    target = torch.arange(n) % 10
    print(
        f"{workload}: image CNN + metadata MLP, {n_params:,} parameters, {n} samples "
        f"(3x32x32 + 10 features), mask and temperature as additional_forward_args, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"medians of {cfg.repeats}"
    )
    cases = {
        f"IntegratedGradients ({cfg.n_steps} steps)": (
            lambda: wg.IntegratedGradients(model, n_steps=cfg.n_steps, completeness_tolerance=None)(
                X, target=target, additional_forward_args=args
            ),
            lambda: ca.IntegratedGradients(model).attribute(
                X,
                baselines=zeros,
                target=target,
                additional_forward_args=args,
                n_steps=cfg.n_steps,
                method="gausslegendre",
            ),
        ),
        "Saliency": (
            lambda: wg.Saliency(model)(X, target=target, additional_forward_args=args),
            lambda: ca.Saliency(model).attribute(
                X, target=target, abs=True, additional_forward_args=args
            ),
        ),
    }
    print(f"{'method':32s} {'whybox (s)':>11s} {'captum (s)':>11s} {'ratio':>7s} {'max diff':>10s}")
    ig = None
    for name, (ours, theirs) in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ours, v_ours, t_theirs, v_theirs = interleaved_median_times(ours, theirs, cfg.repeats)
        if ig is None:
            ig = v_ours
        print(
            f"{name:32s} {t_ours:11.4f} {t_theirs:11.4f} {t_theirs / t_ours:7.2f} "
            f"{_diff(v_ours, v_theirs):10.2e}"
        )
    with torch.no_grad():
        f_x = model(*X, *args)[torch.arange(n), target].double().numpy()
        f_0 = model(*zeros, *args)[torch.arange(n), target].double().numpy()
    total = sum(e.values.reshape(n, -1).sum(axis=1) for e in ig)
    gap = np.abs(total - (f_x - f_0))
    print(
        f"IG joint completeness gap (both inputs, against the model's outputs): median "
        f"{np.median(gap):.2e}, max {gap.max():.2e}; |f(x) - f(0)| median "
        f"{np.median(np.abs(f_x - f_0)):.2e}"
    )


if __name__ == "__main__":
    import sys

    run("W15c", quick="--quick" in sys.argv)
