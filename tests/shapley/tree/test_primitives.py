"""The kernels' thread handling: numba's threads never change torch's thread count."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests._requires import requires

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import torch
    from sklearn.ensemble import GradientBoostingRegressor

    import whybox
    from whybox.shapley.tree import TreeExplainer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    model = GradientBoostingRegressor(n_estimators=5, max_depth=2).fit(X, X[:, 0])
    seen = [torch.get_num_threads()]
    TreeExplainer(model)(X[:20])
    seen.append(torch.get_num_threads())
    TreeExplainer(model, background=X[:20], feature_perturbation="interventional")(X[:20])
    seen.append(torch.get_num_threads())
    TreeExplainer(model).interaction_values(X[:5])
    seen.append(torch.get_num_threads())
    TreeExplainer(model, n_jobs=2)(X[:20])
    seen.append(torch.get_num_threads())
    print(*seen)
    """
)


def test_tree_kernels_leave_torch_threads_as_they_were():
    """With numba's OpenMP layer, starting numba's threads sets the OpenMP thread count
    torch reads; a user's ``OMP_NUM_THREADS=1`` must survive a TreeSHAP call (it became
    the CPU count for the rest of the process). A fresh process: numba starts once."""
    requires("torch")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: numba's count equals torch's")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NUMBA_NUM_THREADS", None)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1"] * 5
