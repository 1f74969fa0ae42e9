"""Output paths checked before work, and files written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from whybox._exceptions import InputError


def check_output_path(path: str | os.PathLike, *, name: str = "--out") -> Path:
    """Check that ``path`` can be written (its folder exists) before any work is done."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"the folder '{folder}' for {name} does not exist; create it or choose another path."
        )
    if p.is_dir():
        raise InputError(f"{name} '{p}' is a folder; give a file path such as '{p}/report.html'.")
    return p


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an existing file is replaced
    only once the new one is complete.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
