"""Reading models and data from files, and writing files atomically.

Safe formats are read without running code from the file: skops for scikit-learn,
XGBoost JSON/UBJSON, LightGBM text, CatBoost binary and torch.export programs. Pickle
and joblib files run code when loaded, so they are read only when the caller says the
file is trusted.
"""

from whybox.io._data import load_arrays, load_data
from whybox.io._models import SAFE_MODEL_FORMATS, load_model
from whybox.io._outputs import (
    REPORT_ID_KEY,
    check_output_path,
    pair_matches,
    read_report_id,
    recover_pair,
    report_paths,
    write_atomic,
    write_pair,
)

__all__ = [
    "REPORT_ID_KEY",
    "SAFE_MODEL_FORMATS",
    "check_output_path",
    "load_arrays",
    "load_data",
    "load_model",
    "pair_matches",
    "read_report_id",
    "recover_pair",
    "report_paths",
    "write_atomic",
    "write_pair",
]
