"""Read interpret's JSON export of an EBM (``ebm.to_json(file)``) without running code.

The export holds everything prediction needs: per feature its name, type and bin levels
(``cuts`` of a continuous feature, ``categories`` of a nominal/ordinal one, one list per
level, the second level used by pairs), per term its features (by name) and scores with
the missing (first) and unknown (last) bins, the intercept, the link and the classes.
It is parsed with :mod:`json` only and every field is checked for its type and shape
before NumPy sees it, so a hostile or corrupt file gives one :class:`InputError`
sentence, never code run or NumPy's own error. interpret need not be installed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.glassbox._additive import AdditiveModel, Binning, Term

MAX_JSON_BYTES = 512 * 1024 * 1024
"""The largest EBM JSON file read (512 MiB)."""

MAX_CELLS = 50_000_000
"""The most score cells (over all terms, bags included) an EBM JSON may declare."""

_HEAD = re.compile(r'^\s*\{\s*(?:"version"\s*:\s*"[^"]{0,40}"\s*,\s*)?"ebm"\s*:\s*\{')
_LINKS = {"logit": "logit", "mlogit": "mlogit", "vlogit": "mlogit", "identity": "identity"}
_NONFINITE = {"nan": math.nan, "+inf": math.inf, "-inf": -math.inf, "inf": math.inf}


def looks_like_ebm_json(head: bytes | str) -> bool:
    """Whether the start of a file is interpret's EBM JSON (``{"version": "1.0", "ebm": {``).

    XGBoost's JSON starts with ``{"learner":`` or ``{"version": [..]``, so the two are told
    apart by content, not by the ``.json`` suffix.
    """
    if isinstance(head, bytes):
        head = head[:4096].decode("utf-8", errors="replace")
    return bool(_HEAD.match(head.lstrip("\ufeff")))


class _Bad(Exception):
    """A field that is not what the format says; the message names it."""


def _reject_constant(token: str) -> Any:
    raise _Bad(f"the bare JSON constant {token} (interpret writes non-finite numbers as text)")


# ------------------------------------------------------------------------------ checks
def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{where} must be an object, got {_kind(value)}")
    return value


def _list(value: Any, where: str, *, min_len: int = 0, max_len: int | None = None) -> list:
    if not isinstance(value, list):
        raise _Bad(f"{where} must be a list, got {_kind(value)}")
    if min_len == max_len and len(value) != min_len:
        raise _Bad(f"{where} must have exactly {min_len} entries, got {len(value)}")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        bound = f"{min_len}" if max_len is None else f"{min_len} to {max_len}"
        raise _Bad(
            f"{where} must have {bound}{'+' if max_len is None else ''} entries, got {len(value)}"
        )
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{where} must be text, got {_kind(value)}")
    return value


def _number(value: Any, where: str, *, finite: bool = True) -> float:
    if isinstance(value, str) and not finite and value in _NONFINITE:
        return _NONFINITE[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"{where} must be a number, got {_kind(value)}")
    out = float(value)
    if finite and not math.isfinite(out):
        raise _Bad(f"{where} must be finite, got {value!r}")
    return out


def _kind(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return f"{type(value).__name__} {text[:30]}{'...' if len(text) > 30 else ''}"


def _array(value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A nested list of finite numbers of exactly ``shape``, as float64."""
    out = np.empty(shape, dtype=np.float64)
    flat = out.reshape(-1)
    position = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal position
        if depth == len(shape):
            flat[position] = _number(node, where)
            position += 1
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            got = f"{len(node)} entries" if isinstance(node, list) else _kind(node)
            raise _Bad(
                f"{where} must have shape {shape} but level {depth} has {got} "
                f"(expected {shape[depth]})"
            )
        for item in node:
            walk(item, depth + 1)

    walk(value, 0)
    return out


# ------------------------------------------------------------------------------ reading
def _binnings(feature: dict[str, Any], where: str) -> tuple[str, list[Binning]]:
    kind = _str(feature.get("type"), f"{where}.type")
    if kind == "continuous":
        levels = _list(feature.get("cuts"), f"{where}.cuts", min_len=1, max_len=8)
        low, high = feature.get("min"), feature.get("max")
        bounds = None
        if low is not None and high is not None:
            bounds = (_number(low, f"{where}.min"), _number(high, f"{where}.max"))
        out = []
        for i, level in enumerate(levels):
            cuts = [_number(c, f"{where}.cuts[{i}]") for c in _list(level, f"{where}.cuts[{i}]")]
            if any(b <= a for a, b in zip(cuts[:-1], cuts[1:], strict=True)):
                raise _Bad(f"{where}.cuts[{i}] must be strictly increasing")
            out.append(Binning("numeric", cuts=np.asarray(cuts, dtype=np.float64), bounds=bounds))
        return kind, out
    if kind in ("nominal", "ordinal"):
        levels = _list(feature.get("categories"), f"{where}.categories", min_len=1, max_len=8)
        out = []
        for i, level in enumerate(levels):
            mapping: dict[str, int] = {}
            for p, entry in enumerate(_list(level, f"{where}.categories[{i}]")):
                names = entry if isinstance(entry, list) else [entry]
                for name in names:
                    name = _str(name, f"{where}.categories[{i}][{p}]")
                    if name in mapping:
                        raise _Bad(f"{where}.categories[{i}] lists {name[:30]!r} twice")
                    mapping[name] = p + 1
            out.append(Binning("categorical", levels=mapping))
        return kind, out
    raise _Bad(f"{where}.type must be 'continuous', 'nominal' or 'ordinal', got {kind[:30]!r}")


def _outputs(ebm: dict[str, Any]) -> tuple[str, np.ndarray | None, tuple[str, ...]]:
    outputs = _list(ebm.get("outputs"), "ebm.outputs", min_len=1, max_len=1)
    out = _dict(outputs[0], "ebm.outputs[0]")
    task = _str(out.get("task"), "ebm.outputs[0].task")
    link = _LINKS.get(_str(out.get("link"), "ebm.outputs[0].link"))
    if task == "regression":
        if link != "identity":
            raise _Bad(f"a regression's link must be 'identity', got {out.get('link')!r}")
        return "identity", None, ("prediction",)
    if task != "classification":
        raise _Bad(
            f"ebm.outputs[0].task must be 'classification' or 'regression', got {task[:30]!r}"
        )
    classes = _list(out.get("classes"), "ebm.outputs[0].classes", min_len=2, max_len=100_000)
    if all(isinstance(c, str) for c in classes):
        labels = np.asarray(classes, dtype=object)
    elif all(isinstance(c, bool) for c in classes):
        labels = np.asarray(classes, dtype=bool)
    elif all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        labels = (
            np.asarray(classes, dtype=np.int64) if all(abs(c) < 2**62 for c in classes) else None
        )
    elif all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        labels = np.asarray([_number(c, "ebm.outputs[0].classes") for c in classes])
    else:
        labels = None
    if labels is None:
        raise _Bad("ebm.outputs[0].classes must be all text or all numbers")
    if len({str(c) for c in classes}) != len(classes):
        raise _Bad("ebm.outputs[0].classes must not repeat a class")
    want = "logit" if len(classes) == 2 else "mlogit"
    if link != want:
        raise _Bad(f"{len(classes)} classes need the link {want!r}, got {out.get('link')!r}")
    names = (str(classes[1]),) if len(classes) == 2 else tuple(str(c) for c in classes)
    return want, labels, names


def model_from_ebm_json(document: Any, *, source: str = "EBM JSON") -> AdditiveModel:
    """An :class:`AdditiveModel` from interpret's parsed EBM JSON (``to_jsonable()``).

    Parameters
    ----------
    document : dict
        The parsed JSON: ``{"version": ..., "ebm": {...}}`` or the inner ``ebm`` object.
    source : str
        Recorded as the model's ``source``.

    Returns
    -------
    AdditiveModel
        Binned terms with the export's scores (weights, standard deviations and bagged
        scores when the export has them), the link ("identity", "logit", "mlogit"), the
        classes; predictions equal the EBM's own.

    Raises
    ------
    InputError
        One sentence naming the first field that is missing, of the wrong type or shape,
        non-finite where a number must be finite, or too large.
    """
    try:
        return _model(document, source)
    except _Bad as exc:
        raise InputError(
            f"the EBM JSON is not a valid interpret export: {exc}; write it again with "
            "ebm.to_json(path)."
        ) from None


def _model(document: Any, source: str) -> AdditiveModel:
    document = _dict(document, "the document")
    ebm = _dict(document["ebm"], "ebm") if "ebm" in document else document
    link, classes, output_names = _outputs(ebm)
    k = 1 if link != "mlogit" else len(output_names)
    intercept = _list(ebm.get("intercept"), "ebm.intercept", min_len=k, max_len=k)
    intercept = np.asarray([_number(v, "ebm.intercept") for v in intercept])

    features = _list(ebm.get("features"), "ebm.features", min_len=1, max_len=100_000)
    names: list[str] = []
    types: list[str] = []
    binnings: list[list[Binning]] = []
    for i, feature in enumerate(features):
        feature = _dict(feature, f"ebm.features[{i}]")
        names.append(_str(feature.get("name"), f"ebm.features[{i}].name"))
        kind, levels = _binnings(feature, f"ebm.features[{i}]")
        types.append(kind)
        binnings.append(levels)
    if len(set(names)) != len(names):
        raise _Bad("ebm.features must not repeat a feature name")
    position = {n: i for i, n in enumerate(names)}

    terms_json = _list(ebm.get("terms"), "ebm.terms", max_len=100_000)
    cells = 0
    terms = []
    for t, term in enumerate(terms_json):
        where = f"ebm.terms[{t}]"
        term = _dict(term, where)
        tf = _list(term.get("term_features"), f"{where}.term_features", min_len=1)
        if len(tf) > 2:
            raise _Bad(f"{where} reads {len(tf)} features; whybox reads main terms and pairs only")
        feats = []
        for name in tf:
            name = _str(name, f"{where}.term_features")
            if name not in position:
                raise _Bad(f"{where}.term_features names {name[:30]!r}, which is not a feature")
            feats.append(position[name])
        if len(set(feats)) != len(feats):
            raise _Bad(f"{where}.term_features repeats a feature")
        bins = tuple(binnings[f][min(len(binnings[f]), len(feats)) - 1] for f in feats)
        shape = tuple(b.n_bins for b in bins)
        score_shape = shape if k == 1 else (*shape, k)
        n_cells = math.prod(score_shape)
        bags = term.get("bagged_scores")
        n_bags = len(bags) if isinstance(bags, list) else 0
        cells += n_cells * (3 + n_bags)
        if cells > MAX_CELLS:
            raise _Bad(f"the terms declare more than {MAX_CELLS:,} score cells")
        scores = _array(term.get("scores"), score_shape, f"{where}.scores")
        weights = None
        if term.get("bin_weights") is not None:
            weights = _array(term["bin_weights"], shape, f"{where}.bin_weights")
            if np.any(weights < 0):
                raise _Bad(f"{where}.bin_weights must not be negative")
        std = None
        if term.get("standard_deviations") is not None:
            std = _array(term["standard_deviations"], score_shape, f"{where}.standard_deviations")
        bagged = None
        if bags is not None:
            _list(bags, f"{where}.bagged_scores", min_len=1, max_len=10_000)
            bagged = _array(bags, (n_bags, *score_shape), f"{where}.bagged_scores")
            bagged = bagged.reshape(n_bags, *shape, k)
        terms.append(
            Term(
                features=tuple(feats),
                name=" & ".join(names[f] for f in feats),
                bins=bins,
                scores=scores.reshape(*shape, k),
                weights=weights,
                standard_deviations=None if std is None else std.reshape(*shape, k),
                bagged_scores=bagged,
            )
        )
    return AdditiveModel(
        feature_names=tuple(names),
        terms=tuple(terms),
        intercept=intercept,
        link=link,
        output_names=output_names,
        source=source,
        classes=classes,
        feature_types=tuple(types),
    )


def read_ebm_json(content: bytes | str, *, name: str = "the EBM JSON") -> AdditiveModel:
    """Parse interpret's EBM JSON export (the text of ``ebm.to_json(path)``) safely.

    Parameters
    ----------
    content : bytes or str
        The file's content (UTF-8).
    name : str
        How to name the file in messages.

    Returns
    -------
    AdditiveModel
        See :func:`model_from_ebm_json`; its ``source`` names the EBM class.

    Raises
    ------
    InputError
        One sentence: too large, not UTF-8 JSON, nested too deep, or a field that is not
        what interpret writes.
    """
    size = len(content)
    if size > MAX_JSON_BYTES:
        raise InputError(
            f"{name} is {size:,} bytes, more than the {MAX_JSON_BYTES:,} an EBM JSON may be; "
            "check that it is an EBM export."
        )
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        document = json.loads(text.lstrip("\ufeff"), parse_constant=_reject_constant)
    except _Bad as exc:
        raise InputError(
            f"{name} is not a valid interpret export: it holds {exc}; write it again with "
            "ebm.to_json(path)."
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(
            f"{name} could not be parsed as JSON ({str(exc)[:80] or type(exc).__name__}); "
            "check that the file is complete."
        ) from None
    source = "ExplainableBoosting model (JSON)"
    if isinstance(document, dict) and isinstance(document.get("ebm"), dict):
        outputs = document["ebm"].get("outputs")
        if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
            task = outputs[0].get("task")
            if task == "classification":
                source = "ExplainableBoostingClassifier (JSON)"
            elif task == "regression":
                source = "ExplainableBoostingRegressor (JSON)"
    try:
        return _model(document, source)
    except _Bad as exc:
        raise InputError(
            f"{name} is not a valid interpret export: {exc}; write it again with ebm.to_json(path)."
        ) from None
