"""Fixtures shared by the tests of whybox.fairness."""

from __future__ import annotations

import pytest

from whybox.datasets import load_credit


@pytest.fixture(scope="package")
def credit():
    """The credit demo, biased and not, 4000 rows each (built once for the package)."""
    return {b: load_credit(biased=b, n_samples=4000) for b in (True, False)}
