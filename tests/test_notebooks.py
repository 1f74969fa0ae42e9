"""The example notebooks under examples/ run top to bottom in a real Jupyter kernel.

The kernel is this interpreter (``sys.executable``, whybox's environment): its kernel
spec is installed into a temporary folder put first on ``JUPYTER_PATH``, under a name no
other spec has, so a fresh CI venv needs no ``ipykernel install`` of its own. A cell
that raises fails the test with the cell's error; each notebook has a time limit.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests._requires import requires

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
KERNEL = "whybox-test-kernel"
CELL_TIMEOUT = 120
"""Seconds a cell may run (the whole quickstart takes well under a minute on 2 cores)."""


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A kernel spec for ``sys.executable`` in a temporary prefix; its jupyter folder."""
    requires("nbclient")
    kernelspec = requires("ipykernel.kernelspec")
    prefix = tmp_path_factory.mktemp("kernel")
    kernelspec.install(kernel_name=KERNEL, display_name="whybox tests", prefix=str(prefix))
    return prefix / "share" / "jupyter"


def test_examples_exist():
    assert [p.name for p in NOTEBOOKS] and "quickstart.ipynb" in {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_error(path, kernel_path, tmp_path, monkeypatch):
    nbformat = requires("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    # connection files and IPython's profile in the test's folder, not the user's home
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s")
    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert any("text/html" in o.data for o in shown)  # the rich views were rendered
    if path.name == "quickstart.ipynb":  # the waterfall figure was drawn
        assert any("image/png" in o.data for o in shown)
