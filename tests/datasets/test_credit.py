"""The synthetic credit data: its documented truth (a planted proxy, two groups)."""

import numpy as np
import pandas as pd

from whybox.datasets import load_credit


def test_demo_credit_loads_with_its_documented_truth():
    case = load_credit(n_samples=2000)
    assert case.proxy == "zip_region" and "group" not in case.X_train.columns
    assert set(case.group_train) == {"A", "B"}
    assert isinstance(case.X_test, pd.DataFrame) and np.isin(case.y_test, [0, 1]).all()
