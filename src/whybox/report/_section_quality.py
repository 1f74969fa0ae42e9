"""The audit's "Explanation quality" section: every explanation with its own test figures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox import plots
from whybox._explanation import Explanation
from whybox.evaluate import (
    agreement,
    model_randomization,
    quality,
    quality_with_curves,
    seed_stability,
)
from whybox.report._context import AuditContext
from whybox.report._report import Figure, Section, Table, Text

_N_STEPS = 10
_N_RANDOM = 10
QUALITY_COLUMNS = (
    "explanation",
    "additivity (relative)",
    "AOPC vs random",
    "deletion AUC vs random",
    "stability",
    "verdict",
)
_SEEDS = (0, 1, 2)  # LIME reruns for its run-to-run stability
_TOP_K = 5  # top-k for stability and agreement
_CURVE_ROWS = 200  # rows of the SHAP deletion curves (as many as quality's faithfulness test)


def _provenance(ex: Explanation, units: str) -> Table:
    err = ex.additivity_error
    rows = [
        ("method", ex.method),
        ("chosen by", ex.params.get("chosen_by", "")),
        ("output space", f"{ex.output_space} ({units})"),
        ("rows explained", ex.values.shape[0]),
        ("max additivity error", f"{np.nanmax(err):.3g}"),
        ("mean additivity error", f"{np.nanmean(err):.3g}"),
    ]
    if "standard_error" in ex.quality:
        rows.append(("mean standard error of the SHAP values",
                     f"{np.nanmean(ex.quality['standard_error']):.3g}"))  # fmt: skip
    if "background_rows" in ex.params:
        rows.append(("background rows", ex.params["background_rows"]))
    library = ex.quality.get("additivity", {}).get("library", {})
    if library.get("judged"):
        verdict = "ok" if library["passes"] else "FAILS"
        rows.append(("the library's own prediction", library["call"]))
        rows.append((
            "max difference of base value + values from it",
            f"{library['max_error']:.3g} (tolerance {library['tolerance']:.2g}; {verdict})",
        ))  # fmt: skip
    elif library:
        rows.append(("the library's own prediction", f"not compared: {library['reason']}"))
    return Table("Additivity and provenance", ("check", "value"), tuple(rows))


def _library_warning(ex: Explanation) -> str:
    """A loud sentence when the values miss the library's own prediction, else ""."""
    library = ex.quality.get("additivity", {}).get("library", {})
    if not library.get("judged") or library["passes"]:
        return ""
    return (
        "FAILS: the SHAP values do not add up to the model's own prediction "
        f"({library['call']}): they miss it by up to {library['max_error']:.3g}, so they "
        "explain a different model than the one that predicts; do not use them. "
    )


_SANITY_ROWS = 250  # rows the permuted-label clone is fitted on and explained


def _label_randomization(context: AuditContext) -> tuple[Any, str]:
    """Adebayo et al.'s data randomisation test on a sample of the explained rows: a clone
    of the model refitted on their permuted labels must get different SHAP values. The
    audit's own SHAP values of the sample stand for the original model's (they are not
    recomputed). (check, "") or (None, why)."""
    from sklearn.base import clone

    m, data, ex = context.model, context.data, context.explanation
    try:
        clone(m.estimator)
    except Exception as exc:  # a Booster, a callable: nothing to refit
        return None, f"{type(m.estimator).__name__} cannot be cloned and refitted ({exc})"
    rng = np.random.default_rng(context.random_state)
    n = ex.values.shape[0]
    picked = (
        np.sort(rng.choice(n, _SANITY_ROWS, replace=False)) if n > _SANITY_ROWS else np.arange(n)
    )
    rows = context.explained[picked]
    X = pd.DataFrame(data.values[rows], columns=list(data.feature_names)).infer_objects()
    try:
        check = model_randomization(
            m.estimator, lambda model, rows_: context.explain(rows_, model), X,
            explanation=ex[picked], y=context.y[rows], kind="labels",
            random_state=context.random_state,
        )  # fmt: skip
    except Exception as exc:  # the refit itself failed (e.g. one class in the sample)
        return None, f"refitting on permuted labels failed ({exc})"
    return check, ""


def quality_row(name: str, ex: Explanation) -> tuple[Any, ...]:
    """One line of the "Tests of each explanation" table from ``ex.quality``."""
    q = ex.quality
    add = q["additivity"]
    if add["judged"]:
        additivity = f"{add['relative_max_error']:.2g} ({'ok' if add['passes'] else 'FAILS'})"
    else:
        additivity = "not judged"
    f = q["faithfulness"]
    if "stability" in q:
        stab = q["stability"]
        if stab["median_estimate"] is None:  # no neighbour kept its prediction
            stability = "Lipschitz not defined"
        else:
            stability = f"Lipschitz {stab['median_estimate']:.3g} (max {stab['max_estimate']:.3g})"
    elif "seed_stability" in q:
        seeds = q["seed_stability"]
        stability = (
            f"top-{seeds['k']} overlap {seeds['top_k_jaccard']:.2f} over {seeds['n_seeds']} seeds"
        )
    else:
        stability = "—"
    return (
        name,
        additivity,
        f"{f['mean_aopc']:.3g} vs {f['mean_aopc_random']:.3g} ± {f['aopc_random_spread']:.2g}",
        f"{f['mean_deletion_auc']:.3g} vs {f['mean_random_deletion_auc']:.3g}",
        stability,
        "passes" if q["passes"] else "FAILS",
    )


def quality_section(context: AuditContext) -> Section:
    """The section, with a progress bar over its checks (shown when the audit's is)."""
    with context.bar(5, "quality checks", unit="check") as bar:
        return _quality_section(context, bar)


def _quality_section(context: AuditContext, bar: Any) -> Section:
    """Additivity, faithfulness (AOPC against random orders) and stability (local
    Lipschitz) of the SHAP values; faithfulness and run-to-run stability over seeds of
    LIME on the chosen rows; the SHAP deletion curves; SHAP and LIME agreement; and the
    permuted-label sanity check.

    Nothing is explained twice: the deletion curves drawn are those the SHAP
    faithfulness test computed, LIME's run with the audit's seed is the audit's own
    LIME explanation, and the sanity check reuses the audit's SHAP values of its sample.
    Removed features are replaced by the means of ``context.reference`` (the training
    sample, else the audited rows), from which LIME also samples.
    """
    from whybox.lime import LimeTabularExplainer

    m, data, ex, lime_ex = context.model, context.data, context.explanation, context.lime
    reference = context.reference
    random_state, units = context.random_state, context.units
    rows_chosen = list(context.rows)
    chosen_shap = ex[[context.positions[r] for r in rows_chosen]]

    class _Done:
        """The audit's LIME explanation of the chosen rows, for the seed it was run with."""

        def __call__(self, rows: Any) -> Explanation:
            return lime_ex

    def lime_factory(seed: int) -> Any:
        if isinstance(random_state, (int, np.integer)) and seed == random_state:
            return _Done()
        return LimeTabularExplainer(m, reference, random_state=seed)

    _, curves = quality_with_curves(
        m, ex, background=reference, explain_fn=context.explain, max_samples=_CURVE_ROWS,
        n_steps=_N_STEPS, n_random=_N_RANDOM, random_state=random_state,
    )  # fmt: skip
    bar.update()
    quality(
        m, lime_ex, background=reference, n_steps=_N_STEPS, n_random=_N_RANDOM,
        random_state=random_state,
    )  # fmt: skip
    bar.update()
    k = min(_TOP_K, data.n_features)
    seeds = seed_stability(lime_factory, data.take(rows_chosen), seeds=_SEEDS, top_k=k)
    lime_ex.quality["seed_stability"] = seeds.summary()
    agree = agreement({"SHAP": chosen_shap, "LIME": lime_ex}, top_k=k)
    bar.update()
    n_curve_rows = curves.deletion.shape[0]
    table = Table(
        "Tests of each explanation",
        QUALITY_COLUMNS,
        (quality_row(f"SHAP ({ex.method})", ex), quality_row("LIME (chosen rows)", lime_ex)),
        caption="AOPC: the mean drop of the output as the top features are removed "
        f"(replaced by the column means of {context.reference_name}), against random orders (mean ± std): higher is more "
        "faithful; deletion AUC: lower is better. Local Lipschitz: how far the SHAP values "
        "move per unit of input change under small perturbations that keep the prediction. "
        "An explanation fails when its order is no better than random or its values do not "
        "add up where the method promises they do.",
    )
    blocks = [
        _provenance(ex, units),
        table,
        Figure.from_matplotlib(
            plots.deletion_curves(curves),
            "Deletion and insertion curves of the SHAP values",
            curves.summary(),
            f"mean over {n_curve_rows} rows; the band: random orders (± 1 std)",
        ),
        Figure.from_matplotlib(
            plots.disagreement_matrix(agree),
            "Agreement of SHAP and LIME on the chosen rows",
            agree.to_frame().astype(object).to_dict(orient="list"),
            f"share of the top {k} features the two methods have in common (Krishna et al. "
            f"2022): {agree.summary}",
        ),
    ]
    bar.update()
    sanity_text = ""
    check, why = _label_randomization(context)
    if check is None:
        sanity_text = f"The permuted-label sanity check was not run: {why}. "
    else:
        ex.quality["sanity"] = check.to_dict()
        ex.quality["passes"] = ex.quality["passes"] and check.passes
        n_sample, n_explained = check.params["n_rows"], ex.values.shape[0]
        sample = (
            f"on a random sample of {n_sample} of the {n_explained} explained rows"
            if n_sample < n_explained
            else f"on the {n_sample} explained rows"
        )
        sanity_text = (
            f"Sanity check (Adebayo et al. 2018), {sample} (a clone of the model refit on "
            f"them with permuted labels, explained again): {check.message} "
        )
        blocks.append(Text(sanity_text))
    bar.update()
    failing = [n for n, e in (("SHAP", ex), ("LIME", lime_ex)) if not e.quality["passes"]]
    err = np.nanmax(ex.additivity_error)
    summary = (
        _library_warning(ex)
        + "Local accuracy: the SHAP values of each row plus the base value add up to the "
        f"model's output to within {err:.2g}. Removing features in the SHAP order lowers the "
        f"output {ex.quality['faithfulness']['mean_aopc']:.3g} on average over the steps "
        f"(AOPC), against {ex.quality['faithfulness']['mean_aopc_random']:.3g} for random "
        "orders. "
        + (
            f"Flagged: {', '.join(failing)} did not pass its tests; read it with care. "
            if failing
            else "Every explanation passed its tests. "
        )
        + sanity_text
        + agree.summary
    )
    results = {
        "faithfulness": curves,
        "shap": ex.quality,
        "lime": lime_ex.quality,
        "lime_seed_stability": seeds,
        "agreement": agree,
    }
    return Section(
        "quality", "Explanation quality", tuple(blocks), summary, results={"quality": results}
    )
