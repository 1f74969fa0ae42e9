"""Every public parameter name is in ARCHITECTURE.md's glossary, with one meaning.

The public API is every name in ``__all__`` of whybox and its public subpackages: functions,
classes (``__init__``) and their public methods (``__call__`` included). Result dataclasses
are built by whybox, not by users, so their fields are not parameters.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"
PACKAGES = (
    "whybox",
    "whybox.adapters",
    "whybox.anchors",
    "whybox.attention",
    "whybox.concepts",
    "whybox.counterfactuals",
    "whybox.datasets",
    "whybox.debugging",
    "whybox.distributed",
    "whybox.evaluate",
    "whybox.fairness",
    "whybox.glassbox",
    "whybox.gradients",
    "whybox.inspection",
    "whybox.integrations",
    "whybox.integrations.mlflow",
    "whybox.io",
    "whybox.lime",
    "whybox.plots",
    "whybox.report",
    "whybox.shapley",
)
# Python's own: exceptions take *args/**kwargs; `self`/`cls` are not parameters a user names.
NOT_PARAMETERS = {"self", "cls", "args", "kwargs"}
# Names that once meant something else, or two things: they must not come back.
RETIRED = {
    "alpha": "ridge (a penalty), significance (a test level) or opacity (an overlay)",
    "training_data": "background",
    "data": "background",
    "predict_fn": "model",
    "predict_proba": "model",
    "sensitive": "sensitive_features",
    "explanation_row": "explanation",
    "index": "row",
    "bins": "n_bins",
    "names": "feature_names",
    "cluster_threshold": "correlation_threshold",
    "n_features": "max_features (n_features is the column count in shapes)",
}


def glossary() -> dict[str, str]:
    """The glossary's rows: name -> meaning (a row may name several: `a`, `b`)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Glossary of parameter names", 1)[1].split("\n## ", 1)[0]
    names = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0]):
                names[name] = cells[1]
    return names


def public_callables():
    """(qualified name, callable) for every public function, class and method."""
    seen = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if id(obj) in seen or inspect.ismodule(obj):
                continue
            seen.add(id(obj))
            qual = f"{package}.{name}"
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                if not dataclasses.is_dataclass(obj):
                    yield qual, obj.__init__
                for attr, member in vars(obj).items():
                    if (not attr.startswith("_") or attr == "__call__") and callable(member):
                        yield f"{qual}.{attr}", member
                    elif isinstance(member, (classmethod, staticmethod)) and not attr.startswith(
                        "_"
                    ):
                        yield f"{qual}.{attr}", member.__func__
            elif callable(obj):
                yield qual, obj


def parameters():
    for qual, fn in public_callables():
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        for name in signature.parameters:
            if name not in NOT_PARAMETERS:
                yield qual, name


def test_the_glossary_reads():
    names = glossary()
    assert {"model", "background", "output", "target", "random_state"} <= set(names)
    assert all(meaning for meaning in names.values())


def test_every_public_parameter_is_in_the_glossary():
    known = glossary()
    missing = sorted({f"{name} ({qual})" for qual, name in parameters() if name not in known})
    assert not missing, (
        "add these parameter names to ARCHITECTURE.md's glossary, or use a glossary word: "
        + ", ".join(missing)
    )


@pytest.mark.parametrize("retired", sorted(RETIRED))
def test_retired_names_stay_retired(retired):
    users = sorted(qual for qual, name in parameters() if name == retired)
    assert not users, f"{retired!r} is retired (use {RETIRED[retired]}): {users}"
    assert retired not in glossary()


def test_random_state_defaults_to_zero():
    """Deterministic by default: every seeded public entry point defaults to 0."""
    others = []
    for qual, fn in public_callables():
        try:
            p = inspect.signature(fn).parameters.get("random_state")
        except (TypeError, ValueError):
            continue
        if p is not None and p.default != 0:
            others.append(f"{qual} (default {p.default!r})")
    assert not others, others
