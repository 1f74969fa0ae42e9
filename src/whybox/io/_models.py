"""Reading model files without running code from them.

Safe formats are read without running code from the file: skops for scikit-learn
(only the exact types listed in ``_skops_types`` are built, and trees are checked
first), XGBoost JSON/UBJSON and LightGBM text models (their structure is checked
before the library reads them) and CatBoost binary models. Pickle, joblib, pickled
PyTorch files and torch.export programs (.pt2) can run code, so they are read only
when the caller says the file is trusted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whybox._exceptions import InputError
from whybox.io._native import StructureError, check_lightgbm, check_xgboost
from whybox.io._text import short_error as _short

SAFE_MODEL_FORMATS = (
    "skops (.skops) for scikit-learn, XGBoost JSON/UBJSON (.json, .ubj), LightGBM text (.txt), "
    "CatBoost binary (.cbm) or interpret's EBM JSON (.json, ebm.to_json)"
)
_CATBOOST_CLASSIFIER_LOSSES = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".jbl"}


def load_model(path: str | os.PathLike, *, trust: bool = False) -> Any:
    """Load a fitted model from a file, choosing the reader by the file's suffix.

    Parameters
    ----------
    path : str or PathLike
        ``.skops`` (scikit-learn, read with skops), ``.json``/``.ubj``/``.ubjson``
        (XGBoost; a ``.json`` that starts as interpret's EBM export, ``{"version": ...,
        "ebm": {``, is read as an EBM, without interpret), ``.txt``/``.lgb`` (LightGBM text model), ``.cbm`` (CatBoost binary
        model), or, only with ``trust=True``, ``.pt2`` (a PyTorch ``torch.export``
        program, which can run code) and ``.pkl``/``.pickle``/``.joblib``/``.pt``/``.pth``
        (pickles).
    trust : bool, default=False
        Whether the file comes from a source you trust. Pickle and joblib files
        execute code when loaded, and skops files that hold types outside whybox's
        list of scikit-learn estimators and their attribute types need it too.

    Returns
    -------
    object
        The model: a scikit-learn estimator, an XGBoost model (the
        ``XGBClassifier``/``XGBRegressor`` a file was saved from, whose ``predict``
        uses ``best_iteration`` after early stopping, else an ``xgboost.Booster``), a
        ``lightgbm.Booster``, a ``CatBoostClassifier``/``CatBoostRegressor``
        (by the model's loss function), a ``torch.nn.Module``, or for an EBM JSON a
        :class:`whybox.glassbox.AdditiveModel` (predicts as the EBM did; explained
        exactly by :class:`whybox.shapley.AdditiveExplainer`).

    Raises
    ------
    InputError
        If the file is missing, unreadable, corrupt, of an unknown kind, or needs
        ``trust=True``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file '{p}' does not exist; check the path given to --model.")
    suffix = p.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        if not trust:
            raise InputError(
                f"model file '{p.name}' is a {suffix[1:]} file, which runs code when loaded; "
                "pass --trust-model-file if you trust its source, or save the model as "
                f"{SAFE_MODEL_FORMATS}."
            )
        import joblib

        try:
            return joblib.load(p)
        except Exception as exc:
            raise InputError(
                f"model file '{p.name}' could not be read as {suffix[1:]} ({_short(exc)}); "
                "check that the file is complete and was written by joblib or pickle."
            ) from None
    if suffix == ".skops":
        return _load_skops(p, trust)
    if suffix == ".json" and _starts_as_ebm_json(p):
        return _load_ebm_json(p)
    if suffix in (".json", ".ubj", ".ubjson"):
        xgb = _library(p, "xgboost", "an XGBoost model")
        raw = _read_checked(p, "an XGBoost model", check_xgboost, binary=True)
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(raw))
        except Exception as exc:
            raise InputError(
                f"model file '{p.name}' could not be read as an XGBoost model ({_short(exc)}); "
                "save it with model.save_model('model.json')."
            ) from None
        return _xgboost_estimator(booster, p)
    if suffix in (".txt", ".lgb"):
        lgb = _library(p, "lightgbm", "a LightGBM model")
        text = _read_checked(p, "a LightGBM text model", check_lightgbm, binary=False)
        try:
            return lgb.Booster(model_str=text)
        except Exception as exc:
            raise InputError(
                f"model file '{p.name}' could not be read as a LightGBM text model "
                f"({_short(exc)}); save it with booster.save_model('model.txt')."
            ) from None
    if suffix == ".cbm":
        return _load_catboost(p)
    if suffix in (".pt2", ".pt", ".pth"):
        return _load_torch(p, trust)
    raise InputError(
        f"model file '{p.name}' has the unknown suffix '{suffix}'; save the model as "
        f"{SAFE_MODEL_FORMATS}."
    )


def _starts_as_ebm_json(p: Path) -> bool:
    """Whether a ``.json`` file is interpret's EBM export, by its first bytes."""
    from whybox.glassbox import looks_like_ebm_json

    try:
        with p.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False  # the XGBoost branch says why the file cannot be read
    return looks_like_ebm_json(head)


def _load_ebm_json(p: Path) -> Any:
    """interpret's EBM JSON, parsed with json only and checked field by field."""
    from whybox.glassbox import MAX_JSON_BYTES, read_ebm_json

    try:
        size = p.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(
                f"model file '{p.name}' is {size:,} bytes, more than the {MAX_JSON_BYTES:,} an "
                "EBM JSON may be; check that it is an EBM export."
            )
        content = p.read_bytes()
    except OSError as exc:
        raise InputError(
            f"model file '{p.name}' could not be read ({_short(exc)}); check the path and "
            "that the file is complete."
        ) from None
    return read_ebm_json(content, name=f"model file '{p.name}'")


def _library(p: Path, module: str, kind: str) -> Any:
    """Import the library that reads the model file ``p``, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"model file '{p.name}' is {kind} but {module} is not installed; "
            f"run pip install 'whybox[{module}]'."
        ) from None


def _xgboost_estimator(booster: Any, p: Path) -> Any:
    """The scikit-learn wrapper a file was saved from (its ``predict`` stops at
    ``best_iteration`` after early stopping, a ``Booster``'s does not), else the Booster."""
    import json

    import xgboost as xgb

    kind = json.loads(booster.attr("scikit_learn") or "{}").get("_estimator_type")
    wrapper = {"classifier": xgb.XGBClassifier, "regressor": xgb.XGBRegressor}.get(kind)
    if wrapper is None:
        return booster
    model = wrapper()
    model.load_model(booster.save_raw())  # the checked bytes, not the file read again
    return model


def _read_checked(p: Path, kind: str, check: Any, *, binary: bool) -> Any:
    """The file's content, after ``check`` found its structure sound."""
    try:
        content = p.read_bytes() if binary else p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as {kind} ({_short(exc)}); "
            "check the path and that the file is complete."
        ) from None
    try:
        check(content)
    except StructureError as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as {kind}: {exc}; the file is corrupt "
            "or truncated, save the model again with the library's save_model."
        ) from None
    return content


def _load_torch(p: Path, trust: bool) -> Any:
    """A PyTorch model, read only when trusted: a torch.export program or a pickled module.

    A ``.pt2`` archive is not safe to open from an untrusted source: ``torch.export.load``
    unpickles parts of it (sample inputs with a ``weights_only=False`` fallback, weights
    and constants marked ``use_pickle``, custom and opaque objects, legacy members),
    parses its symbolic shapes with sympy (which evaluates strings), and resolves each
    graph node's target as any attribute path under ``torch``, so calling the program
    can call any function reachable from there.
    """
    is_program = p.suffix.lower() == ".pt2"
    if not trust:
        if is_program:
            raise InputError(
                f"model file '{p.name}' is a torch.export program, which can run code when "
                "loaded or called (torch unpickles parts of it and looks its operators up "
                "by name); pass --trust-model-file (trust=True) if you trust its source."
            )
        raise InputError(
            f"model file '{p.name}' is a pickled PyTorch module, which runs code when loaded; "
            "pass --trust-model-file (trust=True) if you trust its source."
        )
    torch = _library(p, "torch", "a PyTorch model")
    try:
        with _quiet():
            if is_program:
                return torch.export.load(p).module()
            model = torch.load(p, weights_only=False, map_location="cpu")
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as a PyTorch model ({_short(exc)}); "
            "save it with torch.export.save (.pt2) or torch.save(model) (.pt)."
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(
            f"model file '{p.name}' holds a {type(model).__name__}, not a torch.nn.Module; "
            "save the whole module (torch.save(model, path)), not its state_dict."
        )
    return model


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Python warnings and log records (torch logs tracebacks while it falls
    back between loaders) for the length of a load, so a failure is whybox's one line."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _load_catboost(p: Path) -> Any:
    catboost = _library(p, "catboost", "a CatBoost model")
    try:
        raw = p.read_bytes()  # one read: both loads below see the same bytes
        model = catboost.CatBoost().load_model(blob=raw)
        loss = str(model.get_all_params().get("loss_function", "RMSE")).split(":")[0]
        kind = (
            catboost.CatBoostClassifier
            if loss in _CATBOOST_CLASSIFIER_LOSSES
            else catboost.CatBoostRegressor
        )
        return kind().load_model(blob=raw)
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as a CatBoost model ({_short(exc)}); "
            "save it with model.save_model('model.cbm')."
        ) from None


def _load_skops(p: Path, trust: bool) -> Any:
    """A skops file: only allowlisted types unless trusted; trees checked before loading."""
    import skops.io as sio
    from skops.io._protocol import PROTOCOL

    from whybox.io._skops_types import allowed_skops_types
    from whybox.io._skops_validate import check_loaded_model, check_skops_archive

    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as a skops file ({_short(exc)}); "
            "save it with skops.io.dump(model, 'model.skops')."
        ) from None
    allowed = allowed_skops_types()
    refused = [t for t in untrusted if t not in allowed]
    if refused and not trust:
        shown = ", ".join(_shorten(t) for t in refused[:4])
        if len(refused) > 4:
            shown += f" and {len(refused) - 4} more"
        # a neighbour search's tree with an unchecked metric: brute force holds no tree
        neighbours = any(t.startswith("sklearn.metrics._dist_metrics.") for t in refused)
        refit = (
            ", or refit the nearest-neighbours model with algorithm='brute'" if neighbours else ""
        )
        raise InputError(
            f"model file '{p.name}' holds {len(refused)} type(s) whybox does not load "
            f"without trust ({shown}); they could run code, so pass --trust-model-file "
            f"(trust=True) only if you trust the file's source{refit}."
        )
    check_skops_archive(p, None if trust else PROTOCOL)
    try:
        model = sio.load(p, trusted=untrusted)
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be loaded by skops ({_short(exc)}); "
            "check that it was written by skops.io.dump with compatible library versions."
        ) from None
    check_loaded_model(model, p.name)
    return model


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
