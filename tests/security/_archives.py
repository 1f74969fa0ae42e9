"""Editing skops archives: the crafted files of the security tests start from real ones."""

import subprocess
import sys
import zipfile


def rewrite(src, dst, replace):
    """Copy a zip archive, replacing members by name (``replace``: name -> bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))


def load_the_old_way(path, call, *args):
    """Run ``call`` (Python using ``m``, ``np`` and ``sys.argv``) on the file in a child
    process, the model loaded as before the checks: every type the file names trusted.

    Returns the finished process (text output), so a crash shows as a negative return
    code instead of killing the test run.
    """
    code = (
        "import sys, numpy as np, skops.io as sio\n"
        "m = sio.load(sys.argv[1], trusted=sio.get_untrusted_types(file=sys.argv[1]))\n"
        f"{call}\n"
    )
    argv = [sys.executable, "-c", code, str(path), *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)
