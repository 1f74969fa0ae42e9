"""The interactive part of the HTML report: the explained rows as data, and the script
that draws any of them.

The payload (:func:`row_payload`) holds, for each row the audit explained with SHAP (up
to 1000), its row number in the audited data, the SHAP values of one output (the
predicted class's for a multi-class model, else the single output), the base value, the
label and prediction, whether it is an error or a confident error, its sensitive group
and its feature values shortened for display. Numbers are rounded to 4 significant
digits. :func:`payload_json` writes it as JSON that is inert inside an HTML ``<script
type="application/json">`` block (``<``, ``>`` and ``&`` are written as ``\\u`` escapes,
so a feature name holding ``</script>`` cannot end the block).

The script (``templates/interactive.js``) is plain JavaScript, allowed by the page's
Content-Security-Policy by its sha256 hash (:func:`script_hash`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

CONFIDENT = 0.8
"""A classifier's error is confident when its predicted class has at least this probability."""

VALUE_CHARS = 40  # a feature value is shown with at most this many characters


def _num(v: Any) -> float | None:
    """A float to 4 significant digits; NaN and infinities as None."""
    v = float(v)
    return float(f"{v:.4g}") if math.isfinite(v) else None


def _short(v: Any) -> Any:
    """A feature value for display: a number to 4 significant digits, text shortened."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return _num(v)
    if v is None:
        return None
    text = str(v)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def row_payload(
    explanation: Any,
    rows: Any,
    *,
    outputs: Any = None,
    y: Any = None,
    pred: Any = None,
    is_error: Any = None,
    is_confident_error: Any = None,
    groups: Any = None,
    group_names: Any = (),
    units: str = "",
) -> dict[str, Any]:
    """The explained rows as a JSON-ready dict for the interactive report.

    Parameters
    ----------
    explanation : Explanation
        SHAP values of shape (n_rows, n_features, n_outputs).
    rows : sequence of int
        Each explained row's number in the audited data (as the report names rows).
    outputs : sequence of int, optional
        The output shown for each row (default 0 for every row).
    y, pred : sequence, optional
        Each row's true label (or value) and prediction, as shown (class names as text).
    is_error, is_confident_error : sequence of bool, optional
    groups : sequence of sequence of str, optional
        Each row's value of each sensitive attribute in ``group_names``.
    group_names : sequence of str
    units : str
        What the SHAP values are measured in, in words.

    Returns
    -------
    dict
        ``features`` (the full feature names), ``outputs`` (output names), ``groups``
        (sensitive attribute names), ``units`` and ``rows``: one dict per row with ``row``,
        ``output`` (index into ``outputs``), ``base``, ``shap`` (per feature), ``fx``
        (base + sum of ``shap``, the model output explained), ``x`` (feature values),
        ``y``, ``pred``, ``error``, ``confident`` and ``group``. Floats to 4 significant
        digits; NaN as None.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    if values.ndim == 2:
        values = values[:, :, None]
    n = values.shape[0]
    base = np.broadcast_to(
        np.asarray(explanation.base_values, dtype=np.float64).reshape(-1, values.shape[2])
        if np.ndim(explanation.base_values)
        else np.full((1, values.shape[2]), float(explanation.base_values)),
        (n, values.shape[2]),
    )
    data = explanation.data
    outs = np.zeros(n, dtype=np.int64) if outputs is None else np.asarray(outputs, np.int64)
    out_rows = []
    for i in range(n):
        k = int(outs[i])
        shap_row = values[i, :, k]
        item: dict[str, Any] = {
            "row": int(rows[i]),
            "output": k,
            "base": _num(base[i, k]),
            "shap": [_num(v) for v in shap_row],
            "fx": _num(base[i, k] + shap_row.sum()),
            "x": None if data is None else [_short(v) for v in np.asarray(data)[i]],
            "y": None if y is None else _short(y[i]),
            "pred": None if pred is None else _short(pred[i]),
            "error": bool(is_error[i]) if is_error is not None else False,
            "confident": bool(is_confident_error[i]) if is_confident_error is not None else False,
            "group": [str(g) for g in groups[i]] if groups is not None else [],
        }
        out_rows.append(item)
    return {
        "features": [str(f) for f in explanation.feature_names],
        "outputs": [str(o) for o in explanation.output_names],
        "groups": [str(g) for g in group_names],
        "units": units,
        "rows": out_rows,
    }


def local_details(section: Any) -> dict[str, dict[str, Any]]:
    """The chosen rows' LIME weights, anchor rule and counterfactuals, read from the
    "Local explanations" section's blocks (their numbers), keyed by the row number as text.

    Each row's entry may hold ``lime`` (``output``, ``space``, ``conditions``,
    ``weights``, ``intercept``, ``r2``), ``anchor`` (``rule``, ``prediction``,
    ``precision``, ``coverage``) and ``counterfactuals`` (``status`` and ``changes``:
    [counterfactual, feature, original, new] per changed feature).
    """
    out: dict[str, dict[str, Any]] = {}
    row = None
    for block in getattr(section, "blocks", ()):
        data = getattr(block, "data", None)
        if isinstance(data, dict) and "row" in data:
            row = str(data["row"])
            entry = out.setdefault(row, {})
            if "conditions" in data and "weights" in data:
                entry["lime"] = {
                    "output": str(data.get("output", "")),
                    "space": str(data.get("output_space", "")),
                    "conditions": [str(c) for c in data["conditions"]],
                    "weights": [_num(w) for w in data["weights"]],
                    "intercept": _num(data.get("intercept", float("nan"))),
                    "r2": _num(data.get("local_r2", float("nan"))),
                }
            elif "changes" in data:
                ch = data["changes"]
                entry["counterfactuals"] = {
                    "status": str(data.get("status", "")),
                    "changes": [
                        [int(c), str(f), _short(o), _short(v)]
                        for c, f, o, v in zip(
                            ch.get("cf", ()),
                            ch.get("feature", ()),
                            ch.get("original", ()),
                            ch.get("new", ()),
                            strict=False,
                        )  # fmt: skip
                    ],
                }
        elif row is not None and getattr(block, "columns", ())[:4] == (
            "IF", "THEN predict", "precision", "coverage",
        ) and block.rows:  # fmt: skip
            rule, prediction, precision, coverage = block.rows[0][:4]
            out[row]["anchor"] = {
                "rule": str(rule),
                "prediction": _short(prediction),
                "precision": _num(precision),
                "coverage": _num(coverage),
            }
    return {r: e for r, e in out.items() if e}


def context_payload(context: Any, local: Any = None) -> dict[str, Any] | None:
    """The interactive payload of an audit (None when it has no SHAP values); with the
    "Local explanations" section ``local``, the chosen rows' details too (``"local"``)."""
    ex, explained = context.explanation, context.explained
    if ex is None or explained is None or ex.values.ndim != 3:
        return None
    explained = np.asarray(explained, dtype=np.int64)
    y, pred, display = context.y[explained], context.pred[explained], context.display
    if context.task == "classification":
        wrong = pred != y
        conf = context.model.predict_proba_all(context.data.take(explained).values).max(axis=1)
        confident = wrong & (conf >= CONFIDENT)
        shown_y = [display.get(str(v), str(v)) for v in y]
        shown_pred = [display.get(str(v), str(v)) for v in pred]
        outputs = [_output_index(ex.output_names, p, display) for p in pred]
    else:
        err = np.abs(context.pred.astype(np.float64) - context.y.astype(np.float64))
        threshold = float(np.quantile(err, 0.9))  # as the error analysis: the top decile
        row_err = err[explained]
        wrong = row_err >= threshold if threshold > 0 else row_err > 0
        confident = np.zeros(len(explained), dtype=bool)
        shown_y, shown_pred, outputs = list(y), list(pred), None
    frame = context.sensitive_features
    groups, group_names = None, ()
    if frame is not None and len(frame.columns):
        group_names = tuple(str(c) for c in frame.columns)
        groups = frame.iloc[explained].astype(str).to_numpy().tolist()
    payload = row_payload(
        ex,
        [context.row_label(int(r)) for r in explained],
        outputs=outputs,
        y=shown_y,
        pred=shown_pred,
        is_error=wrong,
        is_confident_error=confident,
        groups=groups,
        group_names=group_names,
        units=context.units,
    )
    payload["local"] = local_details(local) if local is not None else {}
    return payload


def _output_index(names: Any, predicted: Any, display: dict[str, str]) -> int:
    """The output a row's waterfall shows: its predicted class's (multi-class), else 0."""
    names = [str(n) for n in names]
    for key in (display.get(str(predicted)), str(predicted)):
        if len(names) > 1 and key in names:
            return names.index(key)
    return 0


def payload_json(payload: dict[str, Any]) -> str:
    """The payload as compact JSON that is inert inside a ``<script>`` data block."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@lru_cache(maxsize=1)
def script_text() -> str:
    """The interactive script, exactly as embedded in the page (its hash is in the CSP)."""
    text = resources.files("whybox.report").joinpath("templates/interactive.js").read_text("utf-8")
    if "</" in text:
        raise AssertionError("interactive.js must not hold '</' (it would end the <script>)")
    return text


def script_hash(text: str) -> str:
    """The CSP source that allows exactly ``text``: ``'sha256-<base64 digest>'``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
