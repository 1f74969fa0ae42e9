"""The audit's "Where the model fails" section."""

from __future__ import annotations

from typing import Any

from whybox import plots
from whybox.debugging import calibration, find_slices, residual_analysis
from whybox.inspection import global_surrogate
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table

_SURROGATE_DEPTH = 3
_MIN_HALF = 20  # the fewest rows in each half for the surrogate's fit and held-out fidelity


def failures_section(context: AuditContext) -> Section:
    """Failing slices, calibration (classifiers) or residuals by feature (regressors), and a
    global surrogate with its fidelity."""
    m, data, y, random_state = context.model, context.data, context.y, context.random_state
    blocks: list[Any] = []
    results: dict[str, Any] = {}
    found = find_slices(m, data, y)
    results["slices"] = found
    blocks.append(
        Figure.from_matplotlib(
            plots.slices(found),
            "Slices where the model fails more often",
            found.to_dict(),
            f"error: {found.error_definition}; exact one-sided tests, false discovery rate "
            f"{found.significance:g} over {found.n_candidates} candidate slices",
        )
    )
    if found.slices:
        blocks.append(Table.from_frame(found.to_frame(), "Failing slices", with_index=False))
    if m.task == "classification":
        cal = calibration(m, data, y) if context.full is None else context.full.calibration
        results["calibration"] = cal
        blocks.append(
            Figure.from_matplotlib(
                plots.calibration(cal),
                "Calibration (reliability diagram)",
                cal.to_dict(),
                "points on the diagonal: predicted probabilities match observed frequencies",
            )
        )
    else:
        res = residual_analysis(m, data, y)
        results["residuals"] = res
        flagged = res.significant
        blocks.append(
            Figure.from_matplotlib(
                plots.residuals(res),
                "Residuals by feature",
                res.to_dict(),
                "mean residual (predicted - true) per bin of the feature whose bins differ most; "
                + (
                    f"significant after Holm's adjustment: {', '.join(map(repr, flagged))}"
                    if flagged
                    else "no feature's bins differ significantly"
                ),
            )
        )
        blocks.append(Table.from_frame(res.to_frame(), "Residuals by feature", with_index=False))
    order = context.rng.permutation(data.n_samples)
    half = data.n_samples // 2
    if half >= _MIN_HALF:
        sur = global_surrogate(
            m, data.take(order[:half]), max_depth=_SURROGATE_DEPTH, X_test=data.take(order[half:]),
            random_state=random_state,
        )  # fmt: skip
        results["surrogate"] = sur
        blocks.append(
            Figure.from_matplotlib(
                plots.surrogate_tree(sur),
                "Global surrogate tree",
                sur.to_dict(),
                f"a depth-3 tree fitted to the model's {sur.target} on half the rows; held-out "
                f"fidelity ({sur.fidelity_metric}) {sur.test_fidelity:.3f}: read it as the "
                "model only as far as that number allows",
            )
        )
    n_sl = len(found.slices)
    summary = (
        f"{n_sl} slice(s) with significantly more errors"
        + (f", worst: {found.slices[0].description}" if n_sl else "")
        + (f"; ECE {results['calibration'].ece:.3f}" if "calibration" in results else "")
        + (
            f"; residuals differ across bins of {', '.join(map(repr, results['residuals'].significant))}"
            if "residuals" in results and results["residuals"].significant
            else ""
        )
        + (
            f"; surrogate fidelity {results['surrogate'].test_fidelity:.3f}"
            if "surrogate" in results
            else ""
        )
        + "."
    )
    return Section(
        "failures", "Where the model fails", tuple(blocks), summary, results={"failures": results}
    )
