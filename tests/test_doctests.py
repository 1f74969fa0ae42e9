"""The Examples sections of whybox's docstrings run, and print what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import whybox

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules():
    yield whybox
    for info in pkgutil.walk_packages(whybox.__path__, prefix="whybox."):
        if not info.name.endswith("__main__"):  # running it would start the CLI
            yield importlib.import_module(info.name)


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    seen = set()
    for module in _modules():
        for test in finder.find(module):
            if test.examples and test.name not in seen:
                seen.add(test.name)
                yield test


EXAMPLES = sorted(_examples(), key=lambda t: t.name)


MAIN_ENTRY_POINTS = {
    "explain",
    "audit",
    "TreeExplainer",
    "KernelExplainer",
    "LinearExplainer",
    "LimeTabularExplainer",
    "AnchorTabular",
    "CounterfactualExplainer",
    "partial_dependence",
    "permutation_importance",
    "accumulated_local_effects",
    "group_metrics",
    "reason_codes",
    "faithfulness",
    "IntegratedGradients",
}


def test_the_main_entry_points_have_examples():
    names = {t.name.rsplit(".", 1)[-1] for t in EXAMPLES}
    assert not MAIN_ENTRY_POINTS - names, sorted(MAIN_ENTRY_POINTS - names)


@pytest.mark.parametrize("example", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_example_runs(example):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    with np.printoptions(precision=4, suppress=True, legacy=False):
        result = runner.run(example, out=lambda text: print(text, end=""))
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
