"""Reading data files: CSV and Parquet agree, and each bad file is one clear error."""

import pandas as pd
import pytest

from whybox import InputError
from whybox.io import load_data


def test_load_data_csv_and_parquet_agree(xy, tmp_path):
    X, _ = xy
    X.to_csv(tmp_path / "d.csv", index=False)
    X.to_parquet(tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(load_data(tmp_path / "d.csv"), X)
    pd.testing.assert_frame_equal(load_data(tmp_path / "d.parquet"), X)


def test_load_data_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_data(tmp_path / "none.csv")
    (tmp_path / "d.xlsx").write_bytes(b"x")
    with pytest.raises(InputError, match=r"unknown suffix '\.xlsx'; give a \.csv or \.parquet"):
        load_data(tmp_path / "d.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="could not be read .*valid Parquet file"):
        load_data(tmp_path / "bad.parquet")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="has no rows"):
        load_data(tmp_path / "empty.csv")
