"""Shared test settings.

Optional libraries are required per test through ``tests/_requires.py``; its hooks,
imported here, turn a skip for a missing module into a failure under
``WHYBOX_REQUIRE_ALL=1`` (set in CI).
"""

import importlib.util
import os

import numba

from tests._requires import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401

# pytester runs a small pytest session inside a test (tests/test_requires.py).
pytest_plugins = ["pytester"]

# Two pytest workers share two cores: one thread each by default for OpenMP
# (scikit-learn's histogram boosting, LightGBM, XGBoost), BLAS and numba; set before any
# of them loads. Oversubscribed spinning threads made the audit tests several times
# slower. numba keeps its pool so tests can still ask for n_jobs=2 explicitly.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
numba.set_num_threads(1)

if importlib.util.find_spec("torch") is not None:
    import torch

    # Two pytest workers share two cores: one thread each keeps torch from oversubscribing.
    torch.set_num_threads(1)
