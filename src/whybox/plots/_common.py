"""Helpers shared by the plots: lazy matplotlib, axes, target selection, validation."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_int

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
    """``max_display`` as an int >= 1 (:func:`whybox._utils.check_int`)."""
    return check_int(max_display, "max_display", 1, "max_display=10")


def check_result(result: Any, kind: type, plot: str, call: str) -> Any:
    """``result`` itself when it is a ``kind``, else an InputError naming the call that makes one.

    Parameters
    ----------
    result : object
        What the user passed.
    kind : type
        The result type the plot draws, e.g. ``PartialDependence``.
    plot : str
        The plot's name, for the message.
    call : str
        The call that makes such a result, e.g.
        ``"whybox.inspection.partial_dependence(model, X, feature)"``.
    """
    if not isinstance(result, kind):
        raise InputError(
            f"{plot} takes {kind.__name__}, got {type(result).__name__}; pass the result of {call}."
        )
    return result


def check_explanation(explanation: Any, plot: str) -> Explanation:
    check_result(explanation, Explanation, plot, "an explainer, e.g. whybox.explain(model, X)")
    if explanation.axes.count("features") != 1:
        raise InputError(
            f"{plot} draws one attribution per feature but the explanation has axes "
            f"{explanation.axes} (interaction values); sum one feature axis first."
        )
    return explanation


def target_index(names: Any, target: Any) -> int:
    """The position of the output ``target`` names among ``names`` (None: the first).

    Raises
    ------
    InputError
        If ``target`` is neither one of ``names`` nor a position below ``len(names)``.
    """
    names = list(names)
    if target is None:
        return 0
    if (
        isinstance(target, (int, np.integer))
        and not isinstance(target, bool)
        and 0 <= int(target) < len(names)
    ):
        return int(target)
    if target in names:
        return names.index(target)
    raise InputError(
        f"target must be one of {names} or a position below {len(names)}, got {target!r}; "
        "pass a class name or leave target out for the first."
    )


def select_target(explanation: Explanation, target: Any, plot: str) -> Explanation:
    """Drop the outputs axis by choosing one output.

    A single-output explanation needs no ``target``; a multi-output one needs a name
    or an index.

    Raises
    ------
    InputError
        If ``target`` is missing for a multi-output explanation, names no output,
        or is given for an explanation that was already sliced to one output.
    """
    names = list(explanation.output_names)
    if "outputs" not in explanation.axes:
        if target is not None and target not in (names[0], 0, -1):
            raise InputError(
                f"target={target!r} was given but the explanation was already sliced to the "
                f"output {names[0]!r}; leave target out."
            )
        return explanation
    k = explanation.shape[explanation.axes.index("outputs")]
    if target is None:
        if k == 1:
            return explanation[(slice(None),) * (len(explanation.axes) - 1) + (0,)]
        raise InputError(
            f"{plot} needs target= for an explanation with {k} outputs; choose one of "
            f"{names} (by name or index)."
        )
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -k <= target < k:
            raise InputError(
                f"target={target} is out of range for {k} outputs; choose an index in "
                f"0..{k - 1} or a name from {names}."
            )
        key: Any = int(target)
    elif isinstance(target, str):
        if target not in names:
            raise InputError(
                f"target={target!r} is not an output of this explanation; choose one of {names}."
            )
        key = target
    else:
        raise InputError(
            f"target must be an output name or index, got {type(target).__name__}; choose one "
            f"of {names}."
        )
    return explanation[(slice(None),) * (len(explanation.axes) - 1) + (key,)]


def samples_by_features(explanation: Any, target: Any, plot: str) -> Explanation:
    """An explanation with axes ("samples", "features"), or an InputError saying why not."""
    ex = select_target(check_explanation(explanation, plot), target, plot)
    if "samples" not in ex.axes:
        raise InputError(
            f"{plot} summarises many rows but the explanation holds one row (axes "
            f"{ex.axes}); pass the whole explanation, or use plots.waterfall(ex[i]) for one row."
        )
    if len(ex) == 0:
        raise InputError(f"{plot} needs at least one row but the explanation has none.")
    return ex


def one_row(ex: Explanation, target: Any, plot: str) -> Explanation:
    """One row and one output of ``ex``: axes ("features",).

    An explanation of exactly one row (with a samples axis) is accepted as well.

    Raises
    ------
    InputError
        If ``ex`` holds more than one row (the fix: ``ex[i]``), or as :func:`select_target`.
    """
    if "samples" in ex.axes:
        n = ex.shape[ex.axes.index("samples")]
        if n != 1:
            raise InputError(
                f"{plot} draws one explained row but the explanation holds {n} rows; pass "
                f"one row, e.g. plots.{plot}(ex[i])."
            )
        ex = ex[0]
    return select_target(ex, target, plot)


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


def ranked_features(
    explanation: Any, target: Any, max_display: Any, plot: str
) -> tuple[Explanation, np.ndarray, np.ndarray, np.ndarray]:
    """The many-row summary plots' start (bar, beeswarm).

    Returns
    -------
    ex : Explanation
        Axes ("samples", "features"), one output (:func:`samples_by_features`).
    importance : ndarray of shape (n_features,)
        The mean absolute value of each feature.
    shown, rest : ndarray of int
        :func:`top_features` of ``importance``.
    """
    max_display = check_max_display(max_display)
    ex = samples_by_features(explanation, target, plot)
    importance = np.abs(ex.values).mean(axis=0)
    shown, rest = top_features(importance, max_display)
    return ex, importance, shown, rest
