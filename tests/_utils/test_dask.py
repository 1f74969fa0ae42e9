"""Dask collections are recognised by exact type, and whybox never imports dask itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests._requires import requires
from whybox import InputError
from whybox._utils import is_dask_collection, require_dask


def test_dask_collections_are_recognised_and_nothing_else():
    requires("dask")
    import dask.array as da
    import dask.dataframe as dd

    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert is_dask_collection(da.zeros((4, 2), chunks=2))
    assert is_dask_collection(dd.from_pandas(frame, npartitions=1))
    assert is_dask_collection(dd.from_pandas(frame, npartitions=1)["a"])
    for other in (np.zeros((2, 2)), frame, frame["a"], [[1.0]], None):
        assert not is_dask_collection(other)


def test_importing_whybox_does_not_import_dask():
    code = "import whybox, sys; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_require_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(InputError, match=r"--scheduler needs dask .*whybox\[dask\]"):
        require_dask("--scheduler")
