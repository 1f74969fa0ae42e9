"""``quality``: test an explanation and attach the figures to ``Explanation.quality``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.shapley._masking import json_safe

MAX_ROWS = 200  # rows tested for faithfulness
STABILITY_ROWS = 20  # rows tested for stability (each explained n_perturbations times)
ADDITIVITY_TOLERANCE = 1e-6  # relative to the spread of the model output
COMPLETENESS_TOLERANCE = 0.01  # integrated gradients: relative completeness gap


def quality(
    model: Any,
    explanation: Explanation,
    *,
    background: Any = None,
    explain_fn: Callable[[Any], Any] | None = None,
    max_rows: int = MAX_ROWS,
    n_steps: int = 10,
    n_random: int = 10,
    stability_rows: int = STABILITY_ROWS,
    n_perturbations: int = 10,
    segments: Any = None,
    random_state: Any = None,
) -> Explanation:
    """Test an explanation and write the figures into its ``quality`` dict.

    Three checks, each a number next to the explanation:

    - additivity (local accuracy): the largest ``|sum(values) + base_value - f(x)|``
      relative to the spread of the model's output, where the explanation recorded
      ``model_output`` (attributions that are not meant to add up, such as LIME's or
      Grad-CAM's, are reported but not judged);
    - faithfulness: deletion and insertion curves and AOPC against random orders on up
      to ``max_rows`` rows (:func:`whybox.evaluate.faithfulness`); it fails when removing
      features in the explanation's order does not lower the output more than random
      orders do;
    - stability, with ``explain_fn``: the local Lipschitz estimate on up to
      ``stability_rows`` rows (:func:`whybox.evaluate.local_lipschitz`): how much the
      explanation moves under small input changes that keep the prediction.

    Parameters
    ----------
    model : object
        The model the explanation explains (whybox-adaptable, or a ``torch.nn.Module``
        for gradient explanations).
    explanation : Explanation
    background : array-like, optional
        Rows whose column means replace removed features (default: the explained rows).
    explain_fn : callable, optional
        ``explain_fn(X) -> Explanation`` recomputing the explanation for new rows, for
        the stability check; None: no stability check.
    max_rows, stability_rows : int
        Rows sampled (with ``random_state``) for each check.
    n_steps, n_random : int
        Deletion-curve steps and random orders (see ``faithfulness``).
    n_perturbations : int
        Perturbations per row for the local Lipschitz estimate.
    segments : optional
        How image pixels are grouped into players for faithfulness (see
        :func:`whybox.evaluate.faithfulness`; default 4x4 patches).
    random_state : int, numpy Generator or None

    Returns
    -------
    Explanation
        The same explanation, its ``quality`` dict updated in place with
        ``"additivity"`` (``max_error``, ``relative_max_error``, ``judged``, ``passes``),
        ``"faithfulness"`` (the summary of :class:`~whybox.evaluate.Faithfulness`:
        ``mean_aopc``, ``mean_aopc_random``, ``gain``, ``passes_overall``, AUCs),
        ``"stability"`` (with ``explain_fn``: the local Lipschitz ``mean_estimate``,
        ``median_estimate``, ``max_estimate`` and ``kept_share``) and
        ``"passes"``: every judged check passed.

    Raises
    ------
    InputError
        If ``explanation`` is not an Explanation or the checks' arguments are out of range.

    References
    ----------
    .. [1] W. Samek et al., "Evaluating the visualization of what a deep neural network
       has learned", IEEE TNNLS 28(11), 2017.
    .. [2] D. Alvarez-Melis and T. S. Jaakkola, "On the robustness of interpretability
       methods", ICML Workshop on Human Interpretability, 2018.
    """
    from whybox.evaluate._faithfulness import faithfulness

    if not isinstance(explanation, Explanation):
        raise InputError(
            f"explanation must be a whybox Explanation, got {type(explanation).__name__}; pass "
            "the result of an explainer, e.g. whybox.explain(model, X)."
        )
    for value, name in ((max_rows, "max_rows"), (stability_rows, "stability_rows")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}; e.g. {name}=100.")
    rng = np.random.default_rng(random_state)
    n = explanation.values.shape[0]
    figures: dict[str, Any] = {}
    verdicts: list[bool] = []

    figures["additivity"] = _additivity(explanation)
    if figures["additivity"]["judged"]:
        verdicts.append(bool(figures["additivity"]["passes"]))

    rows = np.sort(rng.choice(n, max_rows, replace=False)) if n > max_rows else np.arange(n)
    faith = faithfulness(
        model, explanation[rows], background=background, n_steps=n_steps, n_random=n_random,
        segments=segments, random_state=rng,
    )  # fmt: skip
    figures["faithfulness"] = faith.summary() | {"n_rows": int(len(rows))}
    verdicts.append(bool(faith.passes_overall))

    if explain_fn is not None:
        from whybox.evaluate._stability import local_lipschitz

        k = min(stability_rows, n)
        pick = np.sort(rng.choice(n, k, replace=False))
        rows = explanation.data[pick]
        if explanation.axes == ("samples", "features", "outputs"):
            # a table: named columns (the model may need them), numbers where numeric
            rows = pd.DataFrame(rows, columns=list(explanation.feature_names)).infer_objects()
        stab = local_lipschitz(
            explain_fn, rows, model=model, n_perturbations=n_perturbations,
            random_state=rng,
        )  # fmt: skip
        figures["stability"] = stab.summary() | {"n_rows": int(k)}
    figures["passes"] = all(verdicts)
    figures["params"] = {
        "max_rows": int(max_rows),
        "n_steps": int(n_steps),
        "n_random": int(n_random),
        "stability": explain_fn is not None,
        "random_state": json_safe(random_state),
    }
    explanation.quality.update(figures)
    return explanation


def _additivity(explanation: Explanation) -> dict[str, Any]:
    """Local accuracy, judged only where the method promises it.

    Integrated gradients promise completeness up to the integration error: judged on
    the relative completeness gap (at most ``COMPLETENESS_TOLERANCE``). SHAP values
    promise exact local accuracy: judged relative to the spread of the model output.
    Methods without a base value (saliency, Grad-CAM) and local surrogates (LIME,
    whose values add up only as well as the surrogate fits) are reported, not judged.
    """
    relative_gap = explanation.quality.get("relative_completeness_delta")
    if relative_gap is not None:
        worst = float(np.nanmax(np.asarray(relative_gap, dtype=np.float64)))
        return {
            "judged": True,
            "relative_max_error": worst,
            "passes": bool(worst <= COMPLETENESS_TOLERANCE),
            "rule": f"completeness gap <= {COMPLETENESS_TOLERANCE:.0%} of |f(x) - f(baseline)|",
        }
    if explanation.model_output is None:
        return {"judged": False, "reason": "the explanation recorded no model output"}
    err = np.asarray(explanation.additivity_error, dtype=np.float64)
    if not np.isfinite(err).any():
        return {"judged": False, "reason": "the method has no base value"}
    out = np.asarray(explanation.model_output, dtype=np.float64)
    spread = float(np.nanstd(out)) or float(np.nanmax(np.abs(out))) or 1.0
    max_error = float(np.nanmax(err))
    if "local_r2" in explanation.quality:
        return {
            "judged": False,
            "max_error": max_error,
            "relative_max_error": max_error / spread,
            "reason": "a local surrogate: its values add up only as well as it fits",
        }
    return {
        "judged": True,
        "max_error": max_error,
        "relative_max_error": max_error / spread,
        "passes": bool(max_error / spread <= ADDITIVITY_TOLERANCE),
        "rule": f"max error <= {ADDITIVITY_TOLERANCE:g} x the spread of the output",
    }
