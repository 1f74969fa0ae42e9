"""Helpers shared by the plots: lazy matplotlib, axes, output selection, validation."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation

POSITIVE = "#d62728"
NEGATIVE = "#1f77b4"
MISSING = "#9a9a9a"
CMAP = "coolwarm"


def require_matplotlib() -> Any:
    """Import matplotlib or fail with a clear message."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise ImportError(
            "whybox.plots needs matplotlib; install it with `pip install matplotlib`."
        ) from None
    return matplotlib


def figure_and_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A new ``Figure`` with one Axes, or the figure that holds ``ax``.

    The figure is made with ``matplotlib.figure.Figure``, not pyplot, so no global
    state is touched and no window opens.
    """
    require_matplotlib()
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise InputError(
            f"ax must be a matplotlib Axes, got {type(ax).__name__}; pass e.g. "
            "fig.add_subplot() or leave ax out for a new figure."
        )
    return ax.get_figure(root=True), ax


def check_max_display(max_display: Any) -> int:
    if (
        isinstance(max_display, bool)
        or not isinstance(max_display, (int, np.integer))
        or max_display < 1
    ):
        raise InputError(
            f"max_display must be an integer >= 1, got {max_display!r}; pass e.g. max_display=10."
        )
    return int(max_display)


def check_explanation(explanation: Any, plot: str) -> Explanation:
    if not isinstance(explanation, Explanation):
        raise InputError(
            f"{plot} takes a whybox Explanation, got {type(explanation).__name__}; pass the "
            "result of an explainer, e.g. whybox.explain(model, X)."
        )
    if explanation.axes.count("features") != 1:
        raise InputError(
            f"{plot} draws one attribution per feature but the explanation has axes "
            f"{explanation.axes} (interaction values); sum one feature axis first."
        )
    return explanation


def select_output(explanation: Explanation, output: Any, plot: str) -> Explanation:
    """Drop the outputs axis by choosing one output.

    A single-output explanation needs no ``output``; a multi-output one needs a name
    or an index.

    Raises
    ------
    InputError
        If ``output`` is missing for a multi-output explanation, names no output,
        or is given for an explanation that was already sliced to one output.
    """
    names = list(explanation.output_names)
    if "outputs" not in explanation.axes:
        if output is not None and output not in (names[0], 0, -1):
            raise InputError(
                f"output={output!r} was given but the explanation was already sliced to the "
                f"output {names[0]!r}; leave output out."
            )
        return explanation
    k = explanation.shape[explanation.axes.index("outputs")]
    if output is None:
        if k == 1:
            return explanation[(slice(None),) * (len(explanation.axes) - 1) + (0,)]
        raise InputError(
            f"{plot} needs output= for an explanation with {k} outputs; choose one of "
            f"{names} (by name or index)."
        )
    if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
        if not -k <= output < k:
            raise InputError(
                f"output={output} is out of range for {k} outputs; choose an index in "
                f"0..{k - 1} or a name from {names}."
            )
        key: Any = int(output)
    elif isinstance(output, str):
        if output not in names:
            raise InputError(
                f"output={output!r} is not an output of this explanation; choose one of {names}."
            )
        key = output
    else:
        raise InputError(
            f"output must be an output name or index, got {type(output).__name__}; choose one "
            f"of {names}."
        )
    return explanation[(slice(None),) * (len(explanation.axes) - 1) + (key,)]


def samples_by_features(explanation: Any, output: Any, plot: str) -> Explanation:
    """An explanation with axes ("samples", "features"), or an InputError saying why not."""
    ex = select_output(check_explanation(explanation, plot), output, plot)
    if "samples" not in ex.axes:
        raise InputError(
            f"{plot} summarises many rows but the explanation holds one row (axes "
            f"{ex.axes}); pass the whole explanation, or use plots.waterfall(ex[i]) for one row."
        )
    if len(ex) == 0:
        raise InputError(f"{plot} needs at least one row but the explanation has none.")
    return ex


def numeric_values(column: np.ndarray | None, n: int) -> np.ndarray:
    """A float column with NaN for missing or non-numeric entries (all NaN when no data)."""
    if column is None:
        return np.full(n, np.nan)
    col = np.asarray(column)
    if col.dtype.kind in "biuf":
        return col.astype(np.float64)
    return np.asarray(pd.to_numeric(pd.Series(col, dtype=object), errors="coerce"), dtype=float)


def value_label(explanation: Explanation) -> str:
    """What the values are called on an axis: SHAP values unless the method says otherwise."""
    method = explanation.method.lower()
    if any(k in method for k in ("lime", "gradient", "saliency", "deeplift", "occlusion")):
        return "attribution"
    return "SHAP value"


LABEL_CHARS = 30
"""The most characters of a name drawn on an axis (tables and tooltips keep full names)."""

TEXT_CHARS = 120
"""The most characters of any other line of user text drawn in a figure."""

ELLIPSIS = "\u2026"


def short_label(text: Any, limit: int = LABEL_CHARS) -> str:
    """``text`` cut in the middle to at most ``limit`` characters per line.

    Both ends of a long name usually tell it apart (a prefix and a suffix such as a
    unit or a category), so the middle is replaced by an ellipsis: ``"customer_acc…
    balance_eur"``.

    Parameters
    ----------
    text : object
        Converted with ``str``; each line of a multi-line text is cut on its own.
    limit : int, default=LABEL_CHARS
        At least 5.

    Returns
    -------
    str
    """
    lines = str(text).split("\n")
    out = []
    for line in lines:
        if len(line) > limit:
            head = (limit - 1) - (limit - 1) // 2
            tail = (limit - 1) // 2
            line = f"{line[:head]}{ELLIPSIS}{line[len(line) - tail :]}"
        out.append(line)
    return "\n".join(out)


def short_labels(texts: Any, limit: int = LABEL_CHARS) -> list[str]:
    """Each text cut to about ``limit`` characters (:func:`short_label`), kept distinct.

    Texts distinct in full that look the same once cut (long names that differ only in
    the middle) show, between their first and last characters, the part where they
    start to differ: ``"customer_ac…_03_bal…euro_cents"``; if that is not enough, a
    counter ``[1]``, ``[2]``, ... Names equal in full stay equal. Labels stay within
    ``limit + 8`` characters per line.

    Parameters
    ----------
    texts : iterable of object
    limit : int, default=LABEL_CHARS

    Returns
    -------
    list of str, one per text
    """
    full = [str(t) for t in texts]
    out = [short_label(t, limit) for t in full]
    third = max(3, (limit - 2) // 3)
    for attempt in range(2):
        groups: dict[str, list[int]] = {}
        for i, o in enumerate(out):
            groups.setdefault(o, []).append(i)
        clashes = [g for g in groups.values() if len({full[i] for i in g}) > 1]
        if not clashes:
            return out
        for group in clashes:
            names = [full[i] for i in group]
            if attempt == 0:
                at = max(len(os.path.commonprefix(names)) - 2, third)
                for i in group:
                    f = full[i]
                    out[i] = f"{f[:third]}{ELLIPSIS}{f[at : at + third]}{ELLIPSIS}{f[-third:]}"
            else:
                order = {n: k for k, n in enumerate(dict.fromkeys(names), start=1)}
                for i in group:
                    out[i] = f"{out[i]} [{order[full[i]]}]"
    return out


def literal(text: Any) -> Any:
    """User text (a name or a list of names) drawn as is: ``$`` would start mathtext.

    Any line longer than :data:`TEXT_CHARS` characters is cut in the middle, so user
    text cannot stretch a figure; names on axes are cut shorter first with
    :func:`short_labels` (:func:`label_text`).
    """
    if isinstance(text, str):
        return short_label(text, TEXT_CHARS).replace("$", r"\$")
    return [literal(t) for t in text]


def label_text(text: Any, limit: int = LABEL_CHARS) -> Any:
    """Names for an axis, a legend or a tick: :func:`short_labels` then :func:`literal`.

    A string gives a string, a list of names a list (kept distinct).
    """
    if isinstance(text, str):
        return literal(short_label(text, limit))
    return literal(short_labels(text, limit))


def format_value(v: Any) -> str:
    """A feature value for a label: 4 significant digits for numbers, text as is."""
    if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)):
        return "missing"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def top_features(importance: np.ndarray, max_display: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the features to show on their own and of the rest.

    When there are more features than ``max_display``, ``max_display - 1`` are shown
    and the rest share one "N other features" row.
    """
    order = np.argsort(-importance, kind="stable")
    if len(order) <= max_display:
        return order, order[:0]
    return order[: max_display - 1], order[max_display - 1 :]
