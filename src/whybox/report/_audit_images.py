"""The audit of a PyTorch image classifier: performance, confusions and attribution maps.

Like the tabular audit it only orchestrates public calls (the adapter's forward pass,
``confusion_analysis``, ``IntegratedGradients``, ``GradCAM``, the image plots).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox import plots
from whybox._exceptions import InputError
from whybox._version import __version__
from whybox.report._inputs import check_rows
from whybox.report._report import Figure, Report, Section, Table, Text
from whybox.report._section_confusion import confusion_of
from whybox.report._section_performance import metrics_table
from whybox.report._section_quality import QUALITY_COLUMNS, quality_row

_MAX_SHOWN = 8  # images in each attribution grid
_AUTO_PROGRESS_ROWS = 100  # progress=None shows the bar from this many images


def last_conv_layer(module: Any) -> str | None:
    """The dotted name of the model's last 2-D convolution (the usual Grad-CAM layer)."""
    import torch

    names = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)]
    return names[-1] if names else None


def _check_labels(y: Any, n: int, n_classes: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) != n:
        raise InputError(
            f"y must hold one class index per image ({n}), got shape {arr.shape}; give a 1-D "
            "array of integer labels."
        )
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= n_classes:
        raise InputError(
            f"y must hold integer class indices in 0..{n_classes - 1} (the model has "
            f"{n_classes} outputs), got values from {arr.min()!r} to {arr.max()!r}."
        )
    return arr.astype(np.int64)


def _grid(ex: Any, titles: list[str], sign: str) -> Any:
    """The image grid with one title per image (drawn literally)."""
    fig = plots.image_grid(ex, max_display=len(titles), sign=sign)
    for ax, title in zip(fig.axes, titles, strict=False):
        ax.set_title(title, fontsize=9, usetex=False, parse_math=False)
    return fig


def _chosen_images(y: np.ndarray, pred: np.ndarray, conf: np.ndarray) -> list[int]:
    """Confident errors first, then the least certain and the most confident correct images."""
    wrong = np.flatnonzero(pred != y)
    right = np.flatnonzero(pred == y)
    picks = list(wrong[np.argsort(-conf[wrong], kind="stable")][: _MAX_SHOWN // 2])
    picks += list(np.argsort(conf, kind="stable")[:2])
    picks += list(right[np.argsort(-conf[right], kind="stable")])
    return [int(i) for i in dict.fromkeys(picks)][:_MAX_SHOWN]


def audit_images(
    model: Any,
    X: Any,
    y: Any,
    *,
    rows: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    layer: str | None = None,
    random_state: int | None = 0,
    progress: bool | None = True,
    source: str = "",
) -> Report:
    """Audit a PyTorch image classifier on labelled, held-out images.

    Runs performance metrics, confusion analysis, integrated gradients (zero
    baseline, 50 Gauss-Legendre steps) and Grad-CAM on the last convolution for the
    chosen images (confident errors, the least certain, confident correct ones),
    drawn as a grid of images with their attribution maps, and the completeness
    gap of each integrated-gradients map.

    Parameters
    ----------
    model : torch.nn.Module
        Maps images (n, C, H, W) to class scores (n, n_classes) (logits).
    X : array-like or tensor of shape (n_images, C, H, W)
    y : array-like of shape (n_images,)
        True class indices.
    rows : sequence of int, optional
        The images to explain; default chosen as above (at most 8).
    class_names : sequence of str, optional
        One name per output.
    layer : str, optional
        The Grad-CAM layer; default the last ``Conv2d``. Without one Grad-CAM is left out.
    random_state : int or None, default 0
        Recorded; the audit of an image model draws nothing at random.
    progress : bool or None, default True
        Show a progress bar on stderr; None shows it for 100 images or more.
    source : str, optional
        Where the model and data came from, shown in the report.

    Returns
    -------
    Report

    Raises
    ------
    InputError
        Images that are not (n, C, H, W), labels out of range or of the wrong length,
        rows out of range, an unknown ``layer``.
    """
    import torch
    from tqdm.auto import tqdm

    from whybox.adapters._torch import adapt_torch_model, batches
    from whybox.evaluate import model_randomization, quality
    from whybox.gradients import GradCAM, IntegratedGradients

    t0 = time.perf_counter()
    tm = adapt_torch_model(model, output_names=class_names)
    x = tm.as_input(X)
    if x.ndim != 4:
        raise InputError(
            f"X must hold images of shape (n_images, channels, height, width), got shape "
            f"{tuple(x.shape)}; add a channel axis with X[:, None] for grey images."
        )
    show = len(x) >= _AUTO_PROGRESS_ROWS if progress is None else bool(progress)
    bar = tqdm(total=4, desc="whybox audit", disable=not show, leave=False)
    with tm.evaluation(), torch.no_grad():
        logits = torch.cat([tm.forward(x[sl]) for sl in batches(len(x), 256)])
    proba = torch.softmax(logits.double(), dim=1).cpu().numpy()
    n_classes = proba.shape[1]
    y = _check_labels(y, len(x), n_classes)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    if len(names) != n_classes:
        raise InputError(
            f"class_names has {len(names)} names but the model has {n_classes} outputs; give "
            "one name per output."
        )
    pred = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    chosen = check_rows(rows, len(x)) or _chosen_images(y, pred, conf)
    bar.update()

    from sklearn import metrics

    perf_rows = [
        ("accuracy", metrics.accuracy_score(y, pred)),
        ("balanced accuracy", metrics.balanced_accuracy_score(y, pred)),
        ("log loss", metrics.log_loss(y, proba, labels=np.arange(n_classes))),
    ]
    sections = [
        Section(
            "performance",
            "Model performance",
            (metrics_table(perf_rows),),
            f"Accuracy {perf_rows[0][1]:.3f} on {len(y)} images.",
        )
    ]
    confusion = confusion_of(range(n_classes), y, pred, names)
    sections.append(confusion)
    bar.update()

    target = [int(pred[i]) for i in chosen]
    images = x[chosen]
    ig = IntegratedGradients(tm, batch_size=512)(images, target=target)
    results: dict[str, Any] = {**confusion.results, "integrated_gradients": ig}
    captions = [f"true {names[y[i]]}, predicted {names[pred[i]]} ({conf[i]:.2f})" for i in chosen]
    titles = [f"#{i}: {names[y[i]]} as {names[pred[i]]}" for i in chosen]
    blocks: list = [
        Text(
            "Each image is shown with the attribution of its predicted class's logit: "
            "integrated gradients from an all-zero baseline (red: evidence for the "
            "class), and Grad-CAM on the last convolution (where the network looked). "
            "Images: " + "; ".join(f"#{i}: {c}" for i, c in zip(chosen, captions, strict=True))
        ),
        Figure.from_matplotlib(
            _grid(ig, titles, sign="all"),
            "Integrated gradients",
            {"images": chosen, "target": target},
            "signed attributions summed over channels",
        ),
    ]
    bar.update()
    layer = layer if layer is not None else last_conv_layer(tm.module)
    if layer is not None:
        cam = GradCAM(tm, layer)(images, target=target)
        results["grad_cam"] = cam
        blocks.append(
            Figure.from_matplotlib(
                _grid(cam, titles, sign="positive"),
                f"Grad-CAM ({layer})",
                {"images": chosen, "target": target, "layer": layer},
                "class activation map, upsampled to the image",
            )
        )
    else:
        blocks.append(Text("The model has no Conv2d layer, so Grad-CAM is left out."))
    sections.append(
        Section("attributions", "Attribution maps", tuple(blocks), f"{len(chosen)} images.")
    )
    delta = ig.quality["relative_completeness_delta"][:, 0]
    # faithfulness of each map: 2x2-pixel patches on small images, 4x4 from 32 pixels up
    patch = max(1, min(x.shape[-2:]) // 8)
    tested = [("Integrated gradients", ig)] + ([("Grad-CAM", cam)] if layer is not None else [])
    for _, ex in tested:
        quality(tm.module, ex, segments=("patches", patch), random_state=random_state)
    # sanity check (Adebayo et al. 2018): re-explain after randomising the layers from the
    # top down; a map that stays the same does not depend on what the model learnt
    # IG is signed (evidence for and against) and 0 on zero pixels whatever the model, so
    # its |map| keeps the image's shape: judge it on the signed ranking; Grad-CAM is >= 0
    makers = {
        "Integrated gradients": (
            lambda mod, X: IntegratedGradients(mod)(X, target=target),
            "spearman",
        )
    }
    if layer is not None:
        makers["Grad-CAM"] = (lambda mod, X: GradCAM(mod, layer)(X, target=target), "spearman_abs")
    sanity = {
        name: model_randomization(
            tm.module, make, images, similarity=similarity, random_state=random_state
        )
        for name, (make, similarity) in makers.items()
    }
    results["sanity"] = sanity
    for name, ex in tested:
        ex.quality["sanity"] = sanity[name].to_dict()
        ex.quality["passes"] = ex.quality["passes"] and sanity[name].passes
    failing = [name for name, ex in tested if not ex.quality["passes"]]
    sections.append(
        Section(
            "quality",
            "Explanation quality",
            (
                Table(
                    "Tests of each explanation",
                    QUALITY_COLUMNS,
                    tuple(quality_row(name, ex) for name, ex in tested),
                    f"players: {patch}x{patch}-pixel patches, removed to the images' mean; "
                    "AOPC: higher is more faithful than random orders (mean ± std).",
                ),
                Table(
                    "Sanity check: the maps after randomising the model's layers",
                    (
                        "explanation",
                        "layers randomised",
                        "rank correlation of |map|",
                        "signed rank correlation",
                        "verdict",
                    ),  # fmt: skip
                    tuple(
                        (
                            name,
                            len(check.steps),
                            round(float(np.nanmean(check.spearman[-1])), 3),
                            round(float(np.nanmean(check.spearman_signed[-1])), 3),
                            "passes" if check.passes else "FAILS",
                        )
                        for name, check in sanity.items()
                    ),
                    "Adebayo et al. 2018: every parametrised layer re-initialised, from the "
                    "output down; a map whose ranking survives (correlation >= "
                    f"{next(iter(sanity.values())).threshold:g}) does not show what the model "
                    "learnt. Integrated gradients from an all-zero baseline are 0 on every zero "
                    "pixel whatever the model, so their |map| keeps the image's shape; they are "
                    "judged on the signed correlation, Grad-CAM (never negative) on |map|.",
                ),
                Table(
                    "Integrated gradients completeness",
                    ("image", "f(x) - f(baseline)", "relative gap"),
                    tuple(
                        (int(i), float(f"{m - b:.4g}"), float(f"{d:.3g}"))
                        for i, m, b, d in zip(
                            chosen, ig.model_output[:, 0], ig.base_values[:, 0], delta, strict=True
                        )
                    ),
                    "|sum of attributions - (f(x) - f(baseline))| / |f(x) - f(baseline)|",
                ),
            ),
            f"Largest relative completeness gap {np.max(delta):.2e}. "
            + (
                f"Flagged: {', '.join(failing)} did not pass its tests."
                if failing
                else "Every map passed its tests."
            ),
        )
    )
    bar.update()
    bar.close()
    meta = {
        "subtitle": source or "image model audit",
        "model": type(tm.module).__name__,
        "task": "image classification",
        "outputs": ", ".join(names[:10]) + (" ..." if n_classes > 10 else ""),
        "rows": len(y),
        "features": "x".join(str(s) for s in x.shape[1:]),
        "explainer": "integrated_gradients, grad_cam",
        "random_state": random_state,
        "whybox version": __version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "audit time (s)": round(time.perf_counter() - t0, 2),
    }
    return Report("whybox audit", meta, tuple(sections), results)
