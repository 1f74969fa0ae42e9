"""Loading crafted model files in a child process, so a crash shows as a signal."""

import subprocess
import sys

import pytest

_LOADER = """
import sys
from whybox import InputError
from whybox.io import load_model
for path in sys.argv[1:]:
    try:
        result = "loaded " + type(load_model(path)).__name__
    except InputError as exc:
        result = "InputError: " + str(exc)
    print(path, "=>", result, flush=True)
"""


def load_in_subprocess(paths):
    """Load each file with ``whybox.io.load_model`` in one child Python process.

    Returns the child's return code (negative: killed by that signal), a dict from
    each path loaded to ``"loaded <type>"`` or ``"InputError: <message>"``, and the
    child's stderr.
    """
    run = subprocess.run(
        [sys.executable, "-c", _LOADER, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = {}
    for line in run.stdout.splitlines():
        path, _, result = line.partition(" => ")
        results[path] = result
    return run.returncode, results, run.stderr


@pytest.fixture(scope="session")
def subprocess_loader():
    return load_in_subprocess
