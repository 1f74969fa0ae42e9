"""Deletion and insertion curves of an explanation against random orders."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox.plots._common import check_result, figure_and_axes, literal


def deletion_curves(result: Any, ax: Any = None) -> Any:
    """Draw the mean deletion and insertion curves of an explanation and of random orders.

    Parameters
    ----------
    result : Faithfulness
        The result of :func:`whybox.evaluate._faithfulness.faithfulness`.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        On the x axis the fraction of players removed (deletion) or revealed
        (insertion), on the y axis the model output in the result's output space,
        averaged over the explained rows. Lines: the explanation's deletion curve
        (gid ``"deletion"``), its insertion curve (``"insertion"``), the random
        orders' mean deletion curve (``"random_deletion"``) with a band of +-1
        standard deviation over the random orders of their row-averaged curve
        (``"random_band"``), and their mean insertion curve (``"random_insertion"``).
        The legend gives the mean AOPC and AUC of each.

    Raises
    ------
    InputError
        If ``result`` is not a Faithfulness result.

    References
    ----------
    .. [1] V. Petsiuk, A. Das and K. Saenko, "RISE: Randomized Input Sampling for
       Explanation of Black-box Models", BMVC 2018.
    .. [2] W. Samek et al., "Evaluating the visualization of what a deep neural network
       has learned", IEEE TNNLS 28(11), 2017.
    """
    from whybox.evaluate import Faithfulness

    check_result(
        result, Faithfulness, "deletion_curves", "whybox.evaluate.faithfulness(model, explanation)"
    )
    fig, ax = figure_and_axes(ax, (6.4, 4.2))
    t = result.fractions
    deletion = result.deletion.mean(axis=0)
    insertion = result.insertion.mean(axis=0)
    s = result.summary()

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3g}"

    for gid, curve, color, label in (
        (
            "deletion",
            deletion,
            "#d62728",
            f"deletion (AOPC {fmt(s['mean_aopc'])}, AUC {fmt(s['mean_deletion_auc'])})",
        ),
        ("insertion", insertion, "#1f77b4", f"insertion (AUC {fmt(s['mean_insertion_auc'])})"),
    ):
        (line,) = ax.plot(t, curve, color=color, lw=2, label=label)
        line.set_gid(gid)
    curves = result.random_deletion_curves
    if curves.shape[0] > 0:
        mean = curves.mean(axis=0)
        std = curves.std(axis=0)
        band = ax.fill_between(
            t, mean - std, mean + std, color="#7f7f7f", alpha=0.25, lw=0, label="random +-1 std"
        )
        band.set_gid("random_band")
        (line,) = ax.plot(
            t,
            mean,
            color="#7f7f7f",
            lw=1.5,
            ls="--",
            label=(
                f"random deletion (AOPC {fmt(s['mean_aopc_random'])}, "
                f"AUC {fmt(s['mean_random_deletion_auc'])})"
            ),
        )
        line.set_gid("random_deletion")
        (line,) = ax.plot(
            t,
            result.random_insertion_curves.mean(axis=0),
            color="#7f7f7f",
            lw=1.0,
            ls=":",
            label=f"random insertion (AUC {fmt(s['mean_random_insertion_auc'])})",
        )
        line.set_gid("random_insertion")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("fraction of players removed (deletion) / revealed (insertion)")
    outputs = sorted(set(result.outputs))
    shown = outputs[0] if len(outputs) == 1 else "predicted output"
    ax.set_ylabel(literal(f"model output ({result.output_space}, {shown})"))
    verdict = "passes" if result.passes_overall else "does not pass"
    n_rows = len(result.aopc)
    ax.set_title(
        literal(
            f"{result.method or 'explanation'}: {verdict} (mean over {n_rows} row"
            f"{'s' if n_rows != 1 else ''})"
        )
    )
    ax.legend(fontsize="small", loc="best")
    ax.grid(True, alpha=0.3)
    if not np.all(np.isfinite(deletion)):
        ax.text(0.5, 0.5, "non-finite outputs", transform=ax.transAxes, ha="center")
    return fig
