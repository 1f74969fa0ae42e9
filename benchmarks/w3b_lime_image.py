"""Workload W3b: LIME for images, whybox against the lime package.

Beyond the standard workloads (issue #19, item 27). Six RGB photographs bundled
with scikit-image (astronaut, chelsea, coffee and three crops of them) resized to
128x128, float32; a small PyTorch CNN (conv 3->16, ReLU, max pool, conv 16->32, ReLU,
max pool, global average, linear 32->10; seeded weights, eval mode) whose
``predict_fn`` takes channels-last batches (n, 128, 128, 3) as numpy arrays, as a
user's wrapper would (``torch.from_numpy(batch).permute(0, 3, 1, 2)``).

Both sides get the same segmentation (one callable, run on each call on both sides:
scikit-image SLIC, 50 segments, compactness 10), the same number of
samples per image (1,000, the image itself included), the same batch size (100
images per call of ``predict_fn``), hidden superpixels painted with their mean colour,
all 10 classes explained with at most 10 superpixels each ("auto" selection: highest
weights). Each timing explains the six images; the two sides run in turn
(interleaved) after one warm-up each, in one process, and the medians are reported
with their ratio. The draws differ between the libraries, so the results are compared
by the local R^2 of each image's predicted class (mean over the images) and the
Jaccard index of that class's top-5 superpixels.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections import namedtuple

import numpy as np
from w1_treeshap import interleaved_median_times

SEED = 0
SIZE = 128
N_CLASSES = 10
SLIC = {"n_segments": 50, "compactness": 10.0, "start_label": 0}


Config = namedtuple("Config", "n_images n_perturbations batch_size n_features repeats")


FULL = Config(6, 1_000, 100, 10, 3)
QUICK = Config(2, 300, 100, 10, 1)


def make_images(n: int) -> np.ndarray:
    """n RGB images (n, 128, 128, 3) float32 in [0, 1] from scikit-image's bundled photographs."""
    import skimage.data
    from skimage.transform import resize

    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    crops = [p[: p.shape[0] // 2, : p.shape[1] // 2] for p in photos]
    images = [
        resize(p, (SIZE, SIZE, 3), anti_aliasing=True).astype(np.float32)
        for p in (photos + crops)[:n]
    ]
    return np.stack(images)


def segment(image: np.ndarray) -> np.ndarray:
    """The one segmentation both sides use: SLIC, about 50 superpixels."""
    from skimage.segmentation import slic

    return slic(image, **SLIC)


def make_model():
    """The seeded CNN (eval mode, float32) on (n, 3, 128, 128) images."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, N_CLASSES),
    ).eval()


def make_predict_fn(model):
    """A numpy channels-last predict_fn returning probabilities, counting batch layouts."""
    import torch

    layouts = {"c_contiguous": 0, "other": 0}

    def predict_fn(batch: np.ndarray) -> np.ndarray:
        layouts["c_contiguous" if batch.flags.c_contiguous else "other"] += 1
        with torch.no_grad():
            x = torch.from_numpy(batch).permute(0, 3, 1, 2)
            return torch.softmax(model(x), dim=1).numpy()

    return predict_fn, layouts


def _whybox_side(predict_fn, images: np.ndarray, cfg: Config):
    from whybox.lime import LimeImageExplainer

    explainer = LimeImageExplainer(
        predict_fn,
        segmentation=segment,
        n_perturbations=cfg.n_perturbations,
        max_features=cfg.n_features,
        batch_size=cfg.batch_size,
        random_state=SEED,
    )

    def call() -> tuple[list[dict[int, float]], list[float]]:
        weights, r2 = [], []
        for image in images:
            ex = explainer(image)
            top = int(np.argmax(ex.model_output[0]))
            weights.append(dict(enumerate(ex.values[0, :, top])))
            r2.append(float(ex.quality["local_r2"][0, top]))
        return weights, r2

    return call


def _lime_side(predict_fn, images: np.ndarray, cfg: Config):
    import lime.lime_image as li

    explainer = li.LimeImageExplainer(random_state=SEED)

    def call() -> tuple[list[dict[int, float]], list[float]]:
        weights, r2 = [], []
        for image in images:
            top = int(np.argmax(predict_fn(image[None])[0]))
            # lime keeps the score of the label fitted last: the predicted class
            labels = tuple(k for k in range(N_CLASSES) if k != top) + (top,)
            # lime draws a tqdm bar over the samples on stderr; keep the output readable
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                exp = explainer.explain_instance(
                    image,
                    predict_fn,
                    labels=labels,
                    top_labels=None,
                    hide_color=None,
                    num_features=cfg.n_features,
                    num_samples=cfg.n_perturbations,
                    batch_size=cfg.batch_size,
                    segmentation_fn=segment,
                    random_seed=SEED,
                )
            weights.append(dict(exp.local_exp[top]))
            r2.append(float(exp.score))
        return weights, r2

    return call


def _top5(weights: dict[int, float]) -> frozenset:
    order = sorted(weights, key=lambda j: -abs(weights[j]))
    return frozenset(j for j in order[:5] if weights[j] != 0)


def run(workload: str, quick: bool = False, threads: int | None = None) -> dict:
    """Run W3b and return its figures (also printed)."""
    import torch

    cfg = QUICK if quick else FULL
    torch.set_num_threads(threads or 1)
    images = make_images(cfg.n_images)
    model = make_model()
    ours_fn, ours_layouts = make_predict_fn(model)
    lime_fn, lime_layouts = make_predict_fn(model)
    n_segments = [int(segment(im).max()) + 1 for im in images]
    t_ours, (w_ours, r2_ours), t_lime, (w_lime, r2_lime) = interleaved_median_times(
        _whybox_side(ours_fn, images, cfg), _lime_side(lime_fn, images, cfg), cfg.repeats
    )
    agreement = float(
        np.mean(
            [
                len(_top5(a) & _top5(b)) / max(1, len(_top5(a) | _top5(b)))
                for a, b in zip(w_ours, w_lime, strict=True)
            ]
        )
    )
    figures = {
        "whybox LimeImageExplainer": {"median_s": t_ours, "local_r2": float(np.mean(r2_ours))},
        "lime": {"median_s": t_lime, "local_r2": float(np.mean(r2_lime))},
        "agreement": {"top5_jaccard": agreement},
        "predict_fn_batches": {"whybox": dict(ours_layouts), "lime": dict(lime_layouts)},
    }
    print(f"\n== {workload} LIME image: a two-convolution CNN on {SIZE}x{SIZE} RGB photographs")
    print(
        f"   {cfg.n_images} images ({min(n_segments)}-{max(n_segments)} SLIC "
        f"superpixels), {cfg.n_perturbations:,} samples, batches of {cfg.batch_size}, "
        f"{N_CLASSES} classes, {cfg.n_features} features; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s); interleaved medians of {cfg.repeats} runs "
        f"after a warm-up; {os.cpu_count()} CPUs"
    )
    print(f"   {'side':30s} {'median s':>9s} {'vs whybox':>10s} {'local R^2':>10s}")
    for name in ("whybox LimeImageExplainer", "lime"):
        f = figures[name]
        print(
            f"   {name:30s} {f['median_s']:9.3f} {f['median_s'] / t_ours:9.2f}x "
            f"{f['local_r2']:10.3f}"
        )
    print(
        f"   top-5 superpixels of the predicted class, whybox vs lime (different draws): "
        f"Jaccard {agreement:.3f}"
    )
    for side, layouts in (("whybox", ours_layouts), ("lime", lime_layouts)):
        print(
            f"   {side} predict_fn batches: {layouts['c_contiguous']} C-contiguous, "
            f"{layouts['other']} other"
        )
    print("   (vs whybox: the side's time / whybox's time)")
    return figures
