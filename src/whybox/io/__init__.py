"""Reading models and data from files, and writing files atomically.

Safe formats are read without running code from the file: skops for scikit-learn (an
exact allowlist of types), XGBoost JSON/UBJSON and LightGBM text (their structure is
checked first) and CatBoost binary. Pickle, joblib, pickled PyTorch files and
torch.export programs (.pt2) can run code, so they are read only when the caller says
the file is trusted.

Outputs are checked before any work (:func:`report_paths`: never an input file, never a
folder) and a report's HTML and JSON are written as one pair (:func:`write_pair`): both
carry one report id, so :func:`pair_matches` tells a pair cut in two by a killed writer,
and :func:`recover_pair` (run by the next write) completes or removes what it left.
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
