"""``quality``: test an explanation and attach the figures to ``Explanation.quality``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox._utils import check_int, check_random_state, json_value

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
    max_samples: int = MAX_ROWS,
    n_steps: int = 10,
    n_random: int = 10,
    stability_rows: int = STABILITY_ROWS,
    n_perturbations: int = 10,
    segments: Any = None,
    random_state: Any = 0,
) -> Explanation:
    """Test an explanation and write the figures into its ``quality`` dict.

    Three checks, each a number next to the explanation:

    - additivity (local accuracy): the largest ``|sum(values) + base_value - f(x)|``
      relative to the spread of the model's output, where the explanation recorded
      ``model_output`` (attributions that are not meant to add up, such as LIME's or
      Grad-CAM's, are reported but not judged). Where the values promise to add up
      exactly (SHAP), they are also compared with the model library's own prediction
      (:func:`whybox.adapters.library_prediction`: XGBoost's ``predict(X,
      output_margin=True)``, LightGBM's ``predict(X, raw_score=True)``, scikit-learn's
      ``decision_function``, ...), not only with whybox's call of the model, so a
      model whybox reads differently from its library (a ``missing=`` value, early
      stopping) fails loudly;
    - faithfulness: deletion and insertion curves and AOPC against random orders on up
      to ``max_samples`` rows (:func:`whybox.evaluate.faithfulness`); it fails when removing
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
    max_samples : int, default=200
        The most rows tested for faithfulness (sampled with ``random_state``).
    stability_rows : int, default=20
        The most rows tested for stability (sampled with ``random_state``).
    n_steps, n_random : int
        Deletion-curve steps and random orders (see ``faithfulness``).
    n_perturbations : int
        Perturbations per row for the local Lipschitz estimate.
    segments : optional
        How image pixels are grouped into players for faithfulness (see
        :func:`whybox.evaluate.faithfulness`; default 4x4 patches).
    random_state : int, numpy Generator or None, default=0
        Seeds the rows sampled, the random orders and the perturbations.

    Returns
    -------
    Explanation
        The same explanation, its ``quality`` dict updated in place with
        ``"additivity"`` (``max_error``, ``relative_max_error``, ``judged``, ``passes``;
        for SHAP values also ``"library"``: ``judged``, ``call``, ``max_error``,
        ``tolerance``, ``passes``, or the ``reason`` it was not judged; a library
        mismatch makes additivity fail),
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
    return quality_with_curves(
        model, explanation, background=background, explain_fn=explain_fn,
        max_samples=max_samples, n_steps=n_steps, n_random=n_random,
        stability_rows=stability_rows, n_perturbations=n_perturbations, segments=segments,
        random_state=random_state,
    )[0]  # fmt: skip


def quality_with_curves(
    model: Any,
    explanation: Explanation,
    *,
    background: Any = None,
    explain_fn: Callable[[Any], Any] | None = None,
    max_samples: int = MAX_ROWS,
    n_steps: int = 10,
    n_random: int = 10,
    stability_rows: int = STABILITY_ROWS,
    n_perturbations: int = 10,
    segments: Any = None,
    random_state: Any = 0,
) -> tuple[Explanation, Any]:
    """:func:`quality`, also returning the :class:`~whybox.evaluate.Faithfulness` its
    faithfulness test computed (the deletion curves a report draws, so they are not
    computed a second time).

    Returns
    -------
    explanation : Explanation
        As :func:`quality` returns it (its ``quality`` dict updated in place).
    curves : Faithfulness
        The deletion and insertion curves of the rows tested (up to ``max_samples``,
        sampled with ``random_state``), whose ``summary()`` is ``quality["faithfulness"]``
        without ``n_rows``.
    """
    from whybox.evaluate._faithfulness import faithfulness

    if not isinstance(explanation, Explanation):
        raise InputError(
            f"explanation must be a whybox Explanation, got {type(explanation).__name__}; pass "
            "the result of an explainer, e.g. whybox.explain(model, X)."
        )
    max_samples = check_int(max_samples, "max_samples", 1, "max_samples=200")
    stability_rows = check_int(stability_rows, "stability_rows", 1, "stability_rows=20")
    rng = np.random.default_rng(check_random_state(random_state))
    n = explanation.values.shape[0]
    figures: dict[str, Any] = {}
    verdicts: list[bool] = []

    figures["additivity"] = _additivity(explanation)
    if figures["additivity"]["judged"] and "max_error" in figures["additivity"]:
        library = _library_agreement(model, explanation)
        figures["additivity"]["library"] = library
        if library["judged"] and not library["passes"]:
            figures["additivity"]["passes"] = False
    if figures["additivity"]["judged"]:
        verdicts.append(bool(figures["additivity"]["passes"]))

    rows = np.sort(rng.choice(n, max_samples, replace=False)) if n > max_samples else np.arange(n)
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
        "max_samples": max_samples,
        "n_steps": int(n_steps),
        "n_random": int(n_random),
        "stability": explain_fn is not None,
        "random_state": json_value(random_state),
    }
    explanation.quality.update(figures)
    return explanation, faith


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


def _library_agreement(model: Any, explanation: Explanation) -> dict[str, Any]:
    """``base_values + sum(values)`` against the model library's own prediction.

    Judged within ``ADDITIVITY_TOLERANCE`` times the spread of the output plus the
    library's own float rounding (XGBoost adds its trees in float32).
    """
    from whybox._exceptions import UnsupportedModelError
    from whybox.adapters._model import library_prediction

    tabular = explanation.axes[0] == "samples" and explanation.axes[-1] == "outputs"
    if not tabular or any(a != "features" for a in explanation.axes[1:-1]):
        return {"judged": False, "reason": "not a tabular explanation"}
    if explanation.output_space not in ("raw", "probability"):
        return {"judged": False, "reason": f"the library has no {explanation.output_space} call"}
    data = explanation.data
    if data is None:
        return {"judged": False, "reason": "the explanation kept no data"}
    try:
        lib = library_prediction(model, np.asarray(data), explanation.output_space)
    except (InputError, UnsupportedModelError, TypeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"judged": False, "reason": f"the library's own call failed ({reason})"}
    if lib is None:
        return {"judged": False, "reason": "no library call to compare with"}
    n = explanation.values.shape[0]
    k = explanation.values.shape[-1]
    total = explanation.base_values + explanation.values.reshape(n, -1, k).sum(axis=1)
    if lib.values.shape != total.shape:
        return {
            "judged": False,
            "call": lib.call,
            "reason": f"the library returned shape {lib.values.shape} for {total.shape} values",
        }
    diff = np.abs(total - lib.values)
    spread = float(np.nanstd(lib.values)) or float(np.nanmax(np.abs(lib.values))) or 1.0
    tolerance = ADDITIVITY_TOLERANCE * spread + lib.rounding
    max_error = float(np.nanmax(diff))
    return {
        "judged": True,
        "call": lib.call,
        "max_error": max_error,
        "tolerance": float(tolerance),
        "passes": bool(max_error <= tolerance),
        "rule": "base value + sum of the values = the library's own prediction, within "
        f"{ADDITIVITY_TOLERANCE:g} x the spread of the output plus the library's rounding",
    }
