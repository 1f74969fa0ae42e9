"""whybox's leaf layer: helpers every subpackage shares.

It imports nothing of whybox but ``_exceptions`` and ``adapters``, so any module can use
it without loading an algorithm (numba kernels, torch).

- ``_validation``: argument checks, each raising a one-sentence ``InputError``.
- ``_json``: the one JSON rule (NaN as null, infinities as ``"inf"``/``"-inf"``).
- ``_result``: ``Result``, the base of every result dataclass.
- ``_progress``: progress bars over rows.
- ``_players``: features and groups of features as players.
- ``_model``: model preparation for the model-agnostic methods, the torch check.
- ``_dask``: dask collections recognised without importing dask.
"""

from whybox._utils._dask import is_dask_collection, require_dask
from whybox._utils._json import (
    from_json_array,
    from_json_column,
    from_json_frame,
    from_json_number,
    from_json_series,
    json_dumps,
    json_number,
    json_value,
)
from whybox._utils._model import is_torch_model, prepare_model
from whybox._utils._players import Players, resolve_players
from whybox._utils._progress import progress_bar
from whybox._utils._result import Result
from whybox._utils._validation import (
    as_float_array,
    check_batch_size,
    check_confidence_level,
    check_int,
    check_random_state,
    rows_to_draw,
    shorten,
)

__all__ = [
    "is_dask_collection",
    "require_dask",
    "Players",
    "Result",
    "as_float_array",
    "check_batch_size",
    "check_confidence_level",
    "check_int",
    "check_random_state",
    "from_json_array",
    "from_json_column",
    "from_json_frame",
    "from_json_number",
    "from_json_series",
    "is_torch_model",
    "json_dumps",
    "json_number",
    "json_value",
    "prepare_model",
    "progress_bar",
    "resolve_players",
    "rows_to_draw",
    "shorten",
]
