"""The audit's "What would an interpretable model cost?" section (Rudin 2019)."""

from __future__ import annotations

from typing import Any

import numpy as np

from whybox import plots
from whybox.glassbox import challengers, is_glass_box
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table, Text

TITLE = "What would an interpretable model cost?"


def challenger_skipped(context: AuditContext) -> str | None:
    """Why the section is left out of this audit, in one sentence; None when it runs."""
    glass = is_glass_box(context.model)
    if glass is not None:
        return (
            f"The section {TITLE!r} was skipped: the audited model is itself {glass}, an "
            "interpretable model, so there is no black box to challenge."
        )
    if context.train is None or context.y_train is None:
        missing = "training data" if context.train is None else "training targets"
        return (
            f"The section {TITLE!r} was skipped: no {missing} (X_train and y_train, or "
            "--train on the command line) to fit the interpretable challengers on."
        )
    return None


def challenger_notes(context: AuditContext, notes: tuple[str, ...]) -> tuple[str, ...]:
    """The report's ``notes`` with the reason the section was skipped, if it was: added to
    the note on missing training data when there is one (the same cause), else a note of
    its own."""
    reason = challenger_skipped(context)
    if reason is None:
        return notes
    if notes and context.train is None:
        return (f"{notes[0]} {reason}", *notes[1:])
    return (*notes, reason)


def _cell(value: Any, digits: str = ".4g") -> Any:
    value = float(value)
    return None if not np.isfinite(value) else float(f"{value:{digits}}")


def _sentence(result: Any) -> str:
    """The gap of the best challenger to the audited model, in points, with its interval."""
    metric, best = result.metric, result.best
    row = result.table.loc[best]
    level = round(100 * result.confidence_level)
    gap, low, high = float(row["gap"]), float(row["gap low"]), float(row["gap high"])
    size = f"{int(row['size'])} {row['size unit']}"
    if low <= 0 <= high:
        verdict = "the interval includes 0: on these rows the two cannot be told apart"
    elif gap > 0:
        verdict = "the audited model is better beyond the bootstrap's noise"
    else:
        verdict = "the interpretable model is better beyond the bootstrap's noise"
    if round(gap, 1) == 0:
        where = f"level in {metric} with the audited model"
    else:
        where = (
            f"{abs(gap):.1f} points of {metric} {'below' if gap > 0 else 'above'} the audited model"
        )
    article = "a" if best.startswith("decision") else "an"  # an EBM, an L1 model
    return (
        f"The best interpretable model, {article} {best} ({size}), is {where} ({level}% "
        f"interval of the gap {low:+.1f} to {high:+.1f} points, audited minus challenger): "
        f"{verdict}."
    )


def challenger_section(context: AuditContext) -> Section | None:
    """The audited model beside an EBM, an L1 linear/logistic model and a depth-3 tree
    fitted on the training data: held-out metrics, fit times, sizes, and the gap in points
    with its paired bootstrap interval. None when :func:`challenger_skipped` gives a reason."""
    if challenger_skipped(context) is not None:
        return None
    result = challengers(
        context.model, context.train, context.y_train, context.data, context.y,
        random_state=context.random_state,
    )  # fmt: skip
    if result.best is None:
        reasons = " ".join(f"{name}: {reason}" for name, reason in result.absent.items())
        summary = f"No interpretable challenger could be fitted on the training data. {reasons}"
        return Section(
            "challenger", TITLE, (Text(summary),), summary, results={"challengers": result}
        )
    table = result.table
    metric_columns = [c for c in table.columns if c not in (
        "role", "fit seconds", "size", "size unit", "gap", "gap low", "gap high",
        f"{result.metric} low", f"{result.metric} high")]  # fmt: skip
    rows = []
    for name, row in table.iterrows():
        size = "" if row["role"] == "audited" else f"{int(row['size'])} {row['size unit']}"
        rows.append(
            (
                str(name),
                *(_cell(row[c]) for c in metric_columns),
                _cell(row["fit seconds"], ".3g"),
                size,
                None if row["role"] == "audited" else _cell(row["gap"], ".3g"),
                None
                if row["role"] == "audited"
                else f"{row['gap low']:+.1f} to {row['gap high']:+.1f}",
            )
        )
    level = round(100 * result.confidence_level)
    blocks: list[Any] = [
        Table(
            "The audited model and its interpretable challengers",
            (
                "model",
                *metric_columns,
                "fit time (s)",
                "what to read",
                f"gap ({result.metric}, points)",
                f"{level}% interval",
            ),  # fmt: skip
            tuple(rows),
            caption=f"held-out metrics on the {result.n_test} audited rows; the challengers "
            f"were fitted on {result.n_train} training rows"
            + (
                f" (a seeded sample of the {result.n_train_given} given)"
                if result.n_train < result.n_train_given
                else ""
            )
            + "; gap: 100 x (audited - "
            f"challenger) {result.metric}, positive when the challenger is worse, with a "
            f"paired bootstrap interval ({result.n_bootstrap} resamples of the audited rows); "
            "what to read: the terms, non-zero coefficients or leaves a reader goes through",
        )
    ]
    blocks.append(
        Figure.from_matplotlib(
            plots.challengers(result),
            f"{result.metric.capitalize() if result.metric == 'accuracy' else result.metric} "
            "of each model",
            {
                "models": [str(m) for m in table.index],
                "role": table["role"].tolist(),
                "metric": result.metric,
                "value": table[result.metric].to_numpy(dtype=np.float64),
                "low": table[f"{result.metric} low"].to_numpy(dtype=np.float64),
                "high": table[f"{result.metric} high"].to_numpy(dtype=np.float64),
                "gap": table["gap"].to_numpy(dtype=np.float64),
            },
            f"each model's {result.metric} on the audited rows with its {level}% bootstrap "
            "interval; the audited model is the black diamond and dashed line",
        )
    )
    settings = "; ".join(
        f"{name}: " + ", ".join(f"{k} {v}" for k, v in params.items())
        for name, params in result.params.items()
    )
    blocks.append(Text(f"Settings: {settings}."))
    for name, reason in result.absent.items():
        blocks.append(Text(f"{name} left out: {reason}"))
    summary = " ".join(
        [_sentence(result), *(f"No {name}: {reason}" for name, reason in result.absent.items())]
    )
    blocks.insert(0, Text(summary))
    return Section("challenger", TITLE, tuple(blocks), summary, results={"challengers": result})
