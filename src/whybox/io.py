"""Reading models and data from files, and writing files atomically.

Safe formats are read without running code from the file: skops for scikit-learn
(only scikit-learn, NumPy and SciPy types are instantiated), XGBoost JSON/UBJSON and
LightGBM text models. Pickle and joblib files run code when loaded, so they are read
only when the caller says the file is trusted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError

SAFE_MODEL_FORMATS = (
    "skops (.skops) for scikit-learn, XGBoost JSON/UBJSON (.json, .ubj), LightGBM text (.txt) "
    "or CatBoost binary (.cbm); a PyTorch model as a torch.export program (.pt2)"
)
_CATBOOST_CLASSIFIER_LOSSES = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".jbl"}
_SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_model(path: str | os.PathLike, *, trust: bool = False) -> Any:
    """Load a fitted model from a file, choosing the reader by the file's suffix.

    Parameters
    ----------
    path : str or PathLike
        ``.skops`` (scikit-learn, read with skops), ``.json``/``.ubj``/``.ubjson``
        (XGBoost), ``.txt``/``.lgb`` (LightGBM text model), ``.cbm`` (CatBoost binary
        model), ``.pt2`` (a PyTorch ``torch.export`` program), or
        ``.pkl``/``.pickle``/``.joblib``/``.pt``/``.pth`` (pickles: only with ``trust=True``).
    trust : bool, default=False
        Whether the file comes from a source you trust. Pickle and joblib files
        execute code when loaded, and skops files that hold types from outside
        scikit-learn, NumPy and SciPy need it too.

    Returns
    -------
    object
        The model: a scikit-learn estimator, an ``xgboost.Booster``, a
        ``lightgbm.Booster``, a ``CatBoostClassifier``/``CatBoostRegressor``
        (by the model's loss function), or a ``torch.nn.Module``.

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
    if suffix in (".json", ".ubj", ".ubjson"):
        try:
            import xgboost as xgb
        except ImportError:
            raise InputError(
                f"model file '{p.name}' is an XGBoost model but xgboost is not installed; "
                "run pip install 'whybox[xgboost]'."
            ) from None
        booster = xgb.Booster()
        try:
            booster.load_model(str(p))
        except Exception as exc:
            raise InputError(
                f"model file '{p.name}' could not be read as an XGBoost model ({_short(exc)}); "
                "save it with model.save_model('model.json')."
            ) from None
        return booster
    if suffix in (".txt", ".lgb"):
        try:
            import lightgbm as lgb
        except ImportError:
            raise InputError(
                f"model file '{p.name}' is a LightGBM model but lightgbm is not installed; "
                "run pip install 'whybox[lightgbm]'."
            ) from None
        try:
            return lgb.Booster(model_file=str(p))
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


def _load_torch(p: Path, trust: bool) -> Any:
    """A PyTorch model: a torch.export program (.pt2), or a pickled module (trusted only)."""
    try:
        import torch
    except ImportError:
        raise InputError(
            f"model file '{p.name}' is a PyTorch model but torch is not installed; "
            "run pip install 'whybox[torch]'."
        ) from None
    if p.suffix.lower() != ".pt2" and not trust:
        raise InputError(
            f"model file '{p.name}' is a pickled PyTorch module, which runs code when loaded; "
            "pass --trust-model-file if you trust its source, or save the model with "
            "torch.export.save(torch.export.export(model, (example,)), 'model.pt2')."
        )
    try:
        if p.suffix.lower() == ".pt2":
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


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the named arrays of a NumPy ``.npz`` file (images and labels, say).

    Raises
    ------
    InputError
        If the file is missing, not an .npz file, unreadable or empty.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"data file '{p}' does not exist; check the path given to --data.")
    if p.suffix.lower() != ".npz":
        raise InputError(
            f"data file '{p.name}' must be an .npz file of arrays (np.savez('data.npz', "
            "images=X, labels=y)) for a PyTorch model."
        )
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:
        raise InputError(
            f"data file '{p.name}' could not be read as .npz ({_short(exc)}); write it with "
            "np.savez."
        ) from None
    if not arrays:
        raise InputError(f"data file '{p.name}' holds no arrays; save the images and labels.")
    return arrays


def _load_catboost(p: Path) -> Any:
    try:
        import catboost
    except ImportError:
        raise InputError(
            f"model file '{p.name}' is a CatBoost model but catboost is not installed; "
            "run pip install 'whybox[catboost]'."
        ) from None
    try:
        model = catboost.CatBoost().load_model(str(p))
        loss = str(model.get_all_params().get("loss_function", "RMSE")).split(":")[0]
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as a CatBoost model ({_short(exc)}); "
            "save it with model.save_model('model.cbm')."
        ) from None
    kind = (
        catboost.CatBoostClassifier
        if loss in _CATBOOST_CLASSIFIER_LOSSES
        else catboost.CatBoostRegressor
    )
    return kind().load_model(str(p))


def _load_skops(p: Path, trust: bool) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be read as a skops file ({_short(exc)}); "
            "save it with skops.io.dump(model, 'model.skops')."
        ) from None
    outside = [t for t in untrusted if not t.startswith(_SKOPS_TRUSTED_PREFIXES)]
    if outside and not trust:
        raise InputError(
            f"model file '{p.name}' holds types from outside scikit-learn, NumPy and SciPy "
            f"({', '.join(outside[:3])}); pass --trust-model-file if you trust its source."
        )
    try:
        return sio.load(p, trusted=untrusted)
    except Exception as exc:
        raise InputError(
            f"model file '{p.name}' could not be loaded by skops ({_short(exc)}); "
            "check that it was written by skops.io.dump with compatible library versions."
        ) from None


def load_data(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table from a CSV or Parquet file.

    Raises
    ------
    InputError
        If the file is missing, of another kind, unreadable or has no rows.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"data file '{p}' does not exist; check the path given to --data.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".gz"):
            frame = pd.read_csv(p)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            raise InputError(
                f"data file '{p.name}' has the unknown suffix '{suffix}'; give a .csv or "
                ".parquet file."
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"data file '{p.name}' could not be read ({_short(exc)}); check it is a valid "
            f"{'CSV' if suffix != '.parquet' else 'Parquet'} file."
        ) from None
    if frame.shape[0] == 0:
        raise InputError(f"data file '{p.name}' has no rows; give a file with at least one row.")
    return frame


def check_output_path(path: str | os.PathLike, *, name: str = "--out") -> Path:
    """Check that ``path`` can be written (its folder exists) before any work is done."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"the folder '{folder}' for {name} does not exist; create it or choose another path."
        )
    if p.is_dir():
        raise InputError(f"{name} '{p}' is a folder; give a file path such as '{p}/report.html'.")
    return p


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an existing file is replaced
    only once the new one is complete.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
