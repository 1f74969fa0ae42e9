"""Workload W4: gradient attributions, whybox against captum.

Workload list: benchmarks/README.md. A small CNN (two 3x3 convolutions with ReLU and
max-pooling, then a 64-unit hidden layer: 56,714 parameters, seed 0, untrained: the
cost and the values do not depend on training), float32, and 64 inputs of 1x28x28
drawn from a standard normal (seed 0); sample i explains output i % 10. Both sides
compute, in one process, on the same inputs:

- Saliency (absolute gradient),
- integrated gradients, zero baseline, 50 Gauss-Legendre steps, all steps in one batch,
- Grad-CAM at the last convolution, at the layer's resolution (captum's LayerGradCam),
- DeepLIFT (Rescale rule), zero baseline; captum also on the twin model (see ``_cnn``),
- GradientSHAP, 20 samples per input, 16 background images, no input noise.

Timings are medians of ``repeats`` runs after one warm-up, whybox and captum run in
turn (so both see the same machine load), at the same torch thread count; ratio =
captum's time / whybox's (above 1: whybox is faster). "max diff" is the largest
absolute difference between the two attributions; GradientSHAP draws random
baselines and path positions, so its difference is that of two different draws
(the tests compare the two on the same draws).
"""

from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
from w1_treeshap import interleaved_median_times, median_time

Config = namedtuple("Config", "n_inputs repeats")


FULL = Config(64, 15)
QUICK = Config(16, 3)


def _cnn(twin=None):
    """The W4 CNN; with ``twin``, a copy with an exact identity between ReLU and max-pool.

    captum 0.9's DeepLift mishandles a ReLU followed directly by a max-pool (captum
    issue #1104), so its DeepLIFT values are also computed on this twin, which
    computes the same function (a 1x1 convolution with identity weights).
    """
    import torch
    from torch import nn

    torch.manual_seed(0)

    def identity(channels: int) -> nn.Module:
        conv = nn.Conv2d(channels, channels, 1)
        with torch.no_grad():
            conv.weight.copy_(torch.eye(channels)[:, :, None, None])
            conv.bias.zero_()
        return conv if twin is not None else nn.Identity()

    class CNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3)
            self.relu1 = nn.ReLU()
            self.pool1 = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(16, 32, 3)
            self.relu2 = nn.ReLU()
            self.pool2 = nn.MaxPool2d(2)
            self.flatten = nn.Flatten()
            self.fc1 = nn.Linear(32 * 5 * 5, 64)
            self.relu3 = nn.ReLU()
            self.fc2 = nn.Linear(64, 10)
            self.id1 = identity(16)
            self.id2 = identity(32)

        def forward(self, x):
            x = self.pool1(self.id1(self.relu1(self.conv1(x))))
            x = self.pool2(self.id2(self.relu2(self.conv2(x))))
            return self.fc2(self.relu3(self.fc1(self.flatten(x))))

    model = CNN().eval()
    if twin is not None:
        own = dict(twin.named_parameters())
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in own:
                    p.copy_(own[name])
    return model


def _diff(a, b) -> float:
    a = np.asarray(a.detach().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if hasattr(b, "detach") else b, dtype=np.float64)
    return float(np.max(np.abs(a.reshape(b.shape) - b)))


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    import captum.attr as ca
    import torch

    import whybox.gradients as wg

    cfg = QUICK if quick else FULL
    if threads:
        torch.set_num_threads(threads)
    model = _cnn()
    twin = _cnn(twin=model)
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(cfg.n_inputs, 1, 28, 28, generator=gen)
    background = torch.randn(16, 1, 28, 28, generator=gen)
    target = torch.arange(cfg.n_inputs) % 10
    zeros = torch.zeros_like(x)
    print(
        f"{workload}: CNN with {n_params:,} parameters, {cfg.n_inputs} inputs 1x28x28, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"medians of {cfg.repeats}"
    )

    def ours_values(ex):
        return ex.values[..., 0]

    cases = {
        "Saliency": (
            lambda: ours_values(wg.Saliency(model)(x, target=target)),
            lambda: ca.Saliency(model).attribute(x, target=target, abs=True),
        ),
        "IntegratedGradients (50 steps)": (
            lambda: ours_values(
                wg.IntegratedGradients(model, n_steps=50, completeness_tolerance=None)(
                    x, target=target
                )
            ),
            lambda: ca.IntegratedGradients(model).attribute(
                x, baselines=zeros, target=target, n_steps=50, method="gausslegendre"
            ),
        ),
        "LayerGradCam (conv2)": (
            lambda: ours_values(wg.GradCAM(model, "conv2", upsample=False)(x, target=target)),
            lambda: ca.LayerGradCam(model, model.conv2).attribute(
                x, target=target, relu_attributions=True
            ),
        ),
        "DeepLift": (
            lambda: ours_values(wg.DeepLift(model)(x, target=target)),
            lambda: ca.DeepLift(model).attribute(x, baselines=zeros, target=target),
        ),
        "DeepLift (captum on the twin)": (
            lambda: ours_values(wg.DeepLift(model)(x, target=target)),
            lambda: ca.DeepLift(twin).attribute(x, baselines=zeros, target=target),
        ),
        "GradientShap (20 samples)": (
            lambda: ours_values(
                wg.GradientShap(model, background, n_draws=20, random_state=0)(x, target=target)
            ),
            lambda: ca.GradientShap(model).attribute(
                x, baselines=background, target=target, n_samples=20, stdevs=0.0
            ),
        ),
    }
    print(f"{'method':32s} {'whybox (s)':>11s} {'captum (s)':>11s} {'ratio':>7s} {'max diff':>10s}")
    for name, (ours, theirs) in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ours, v_ours, t_theirs, v_theirs = interleaved_median_times(ours, theirs, cfg.repeats)
        diff = _diff(v_ours, v_theirs)
        note = " (different random draws)" if name.startswith("GradientShap") else ""
        print(
            f"{name:32s} {t_ours:11.4f} {t_theirs:11.4f} {t_theirs / t_ours:7.2f} "
            f"{diff:10.2e}{note}"
        )
    # completeness: captum's fixed 50 steps against whybox's default (50 steps, samples
    # above a 1% gap refined)
    ig = wg.IntegratedGradients(model)(x, target=target)
    fixed = wg.IntegratedGradients(model, completeness_tolerance=None)(x, target=target)
    t_default, _ = median_time(lambda: wg.IntegratedGradients(model)(x, target=target), cfg.repeats)
    for label, ex in (("50 steps", fixed), ("default", ig)):
        rel = ex.quality["relative_completeness_delta"][:, 0]
        print(
            f"IG {label}: relative completeness gap median {np.median(rel):.2e}, max "
            f"{rel.max():.2e}, samples above 1%: {(rel > 0.01).sum()}/{len(rel)}"
        )
    print(f"IG default: {t_default:.4f} s, steps per sample max {ig.quality['n_steps'].max():.0f}")
