"""Output paths are checked before any work, and files are written atomically."""

import os
import stat

import pytest

from whybox import InputError
from whybox.io import check_output_path, write_atomic


def test_check_output_path(tmp_path):
    assert check_output_path(tmp_path / "r.html") == tmp_path / "r.html"
    with pytest.raises(InputError, match="does not exist; create it"):
        check_output_path(tmp_path / "missing" / "r.html")
    with pytest.raises(InputError, match="is a folder"):
        check_output_path(tmp_path)


def test_write_atomic_replaces_only_when_complete(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    write_atomic(target, "first")
    assert target.read_text() == "first"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "second")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left
