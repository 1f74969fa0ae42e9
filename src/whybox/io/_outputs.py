"""Output paths checked before work, and files written atomically, alone or as a pair.

A report is two files, the HTML page and its JSON. :func:`write_pair` writes them so
that a reader can always tell whether they belong together:

1. both texts go to temporary files in the target folders, named
   ``.whybox-<pid>-<id>.<name>.tmp``, and are flushed to disk (``fsync``);
2. the JSON is renamed into place: this is the commit point;
3. the HTML is renamed into place.

Both files carry the same report id (``meta["report id"]`` in the JSON, a
``<meta name="whybox-report-id">`` tag in the HTML; :func:`read_report_id` reads
either), so the guarantee is:

- an exception, Ctrl-C or (through the CLI) SIGTERM at any point leaves either the
  complete new pair or the old pair untouched, and no temporary file: a failure after
  the commit point puts the old JSON back (it was kept as a hard link);
- SIGKILL or a power cut before the commit point leaves the old pair untouched (and
  temporary files, removed by the next write to the same paths);
- SIGKILL or a power cut between the two renames (each rename is made durable with an
  ``fsync`` of the folder before the next step) leaves the new JSON beside the old
  HTML; their report ids differ (:func:`pair_matches` says False), and the complete
  new HTML is left as a temporary file that the next write to the same paths (or
  :func:`recover_pair`) renames into place, completing the interrupted write;
- SIGKILL after both renames leaves the new pair (and the old JSON's temporary
  backup, removed by the next write).

Two renames cannot be made one atomic step on an ordinary file system, so a reader
that must never act on a mixed pair checks :func:`pair_matches` first. The same check
tells two runs writing the same paths at once apart (whichever renamed last wins
each file); temporary files of a live process are never removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from whybox._exceptions import InputError

#: the key of the report id in a report's metadata (``meta``), shared by HTML and JSON
REPORT_ID_KEY = "report id"
_TMP_PREFIX = ".whybox-"
_TMP = re.compile(r"^\.whybox-(\d+)-([0-9a-f]+)\.(.+)\.tmp$")
_BACKUP = ".bak"  # the kept old JSON: .whybox-<pid>-<id>.<json name>.bak.tmp
_HTML_ID = re.compile(r'<meta name="whybox-report-id" content="([0-9a-f]+)">')
_STALE_SECONDS = 24 * 3600  # where a process cannot be asked whether it lives


def _quote(path: Path | str, limit: int = 120) -> str:
    """A path for a message, cut in the middle when long."""
    text = str(path)
    if len(text) <= limit:
        return f"'{text}'"
    head = (limit - 3) // 2
    return f"'{text[:head]}...{text[len(text) - (limit - 3 - head) :]}'"


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode (links, symlinks) or resolved path."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass  # one of them does not exist (yet)
    return a.resolve() == b.resolve()


def _input_option(p: Path, input_paths: dict[str, Any] | None) -> str | None:
    """The option whose input file ``p`` is (compared as files), or None."""
    for option, given in (input_paths or {}).items():
        if given is not None and _same_file(p, Path(given)):
            return option
    return None


def check_output_path(
    path: str | os.PathLike,
    *,
    name: str = "--out",
    input_paths: dict[str, str | os.PathLike | None] | None = None,
) -> Path:
    """Check, before any work, that a file can be written at ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    name : str, default="--out"
        How the path is called in messages (the option or argument that gave it).
    input_paths : dict of str to path, optional
        Input files by the option that gave them (``{"--model": "model.json"}``): the
        output may be none of them, compared as files (hard links and symlinks to an
        input count as the input).

    Returns
    -------
    Path

    Raises
    ------
    InputError
        If the folder does not exist or cannot be written, ``path`` is a folder, or it
        is one of ``input_paths``.
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"the folder {_quote(folder)} for {name} does not exist; create it or choose "
            "another path."
        )
    if p.is_dir():
        raise InputError(
            f"{name} {_quote(p)} is a folder; give a file path such as {_quote(p / 'report.html')}."
        )
    option = _input_option(p, input_paths)
    if option is not None:
        raise InputError(
            f"{name} {_quote(p)} is the file given to {option}; writing there would "
            f"overwrite it, so choose another path for {name}."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"the folder {_quote(folder)} for {name} cannot be written; choose a folder you "
            "can write to."
        )
    return p


def report_paths(
    path: str | os.PathLike,
    *,
    name: str = "--out",
    input_paths: dict[str, str | os.PathLike | None] | None = None,
) -> tuple[Path, Path]:
    """The HTML and JSON paths of a report, both checked before any work.

    The JSON goes beside the HTML with the suffix ``.json`` (``r.html`` gives
    ``r.json``).

    Parameters
    ----------
    path : str or path-like
        Where the HTML goes.
    name : str, default="--out"
        How ``path`` is called in messages.
    input_paths : dict of str to path, optional
        Input files neither output may overwrite (see :func:`check_output_path`).

    Returns
    -------
    (Path, Path)
        The HTML path and the JSON path.

    Raises
    ------
    InputError
        If ``path`` ends in ``.json`` (the two files would be one), or either path fails
        :func:`check_output_path`.
    """
    html = Path(path)
    if html.suffix.lower() == ".json":
        raise InputError(
            f"{name} {_quote(html)} ends in .json, but {name} names the HTML report and the "
            "JSON is written beside it with the suffix .json, so both would be one file; "
            f"give an HTML path such as {_quote(html.with_suffix('.html'))}."
        )
    html = check_output_path(html, name=name, input_paths=input_paths)
    json_path = html.with_suffix(".json")
    if json_path.is_dir():
        raise InputError(
            f"the JSON report {_quote(json_path)}, written beside {name}, would replace a "
            f"folder of that name; move the folder or choose another {name}."
        )
    option = _input_option(json_path, input_paths)
    if option is not None:
        raise InputError(
            f"{name} {_quote(html)} puts its JSON report at {_quote(json_path)}, the file "
            f"given to {option}, which it would overwrite; choose another {name}, such "
            f"as {_quote(html.with_name(html.stem + '-report.html'))}."
        )
    return html, json_path


def read_report_id(path: str | os.PathLike) -> str | None:
    """The report id written into a report file (HTML or JSON), or None.

    Parameters
    ----------
    path : str or path-like
        An HTML or JSON report written by :func:`write_pair` (``Report.save`` or
        ``whybox audit``).

    Returns
    -------
    str or None
        None when the file is missing, unreadable or carries no id.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if p.suffix.lower() == ".json":
        try:
            rid = json.loads(text).get("meta", {}).get(REPORT_ID_KEY)
        except (ValueError, AttributeError):
            return None
        return rid if isinstance(rid, str) else None
    match = _HTML_ID.search(text, 0, 4096)  # the tag is in <head>
    return match.group(1) if match else None


def pair_matches(html_path: str | os.PathLike, json_path: str | os.PathLike) -> bool:
    """Whether an HTML report and a JSON report come from the same write.

    Parameters
    ----------
    html_path, json_path : str or path-like

    Returns
    -------
    bool
        True when both carry the same report id; False for a mixed pair (a write
        killed between its two renames), a missing file or a file without an id.
    """
    rid = read_report_id(html_path)
    return rid is not None and rid == read_report_id(json_path)


def _alive(pid: int, path: Path) -> bool:
    """Whether the process that made a temporary file may still be writing it."""
    if pid == os.getpid():
        return False
    if os.name == "posix":
        try:
            os.kill(pid, 0)  # signal 0: a question, not a signal
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:  # elsewhere (Windows) a process cannot be asked safely: go by age
        return time.time() - path.stat().st_mtime < _STALE_SECONDS
    except OSError:
        return False


def _leftovers(target: Path) -> list[tuple[Path, str, str]]:
    """Temporary files of ours for ``target`` whose writer is gone: (path, id, kind)."""
    folder = target.parent if str(target.parent) else Path(".")
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _TMP.match(entry.name)
        if not match:
            continue
        stem = match.group(3)
        kind = "new" if stem == target.name else "old" if stem == target.name + _BACKUP else ""
        if kind and not _alive(int(match.group(1)), entry):
            found.append((entry, match.group(2), kind))
    return found


def recover_pair(html_path: str | os.PathLike, json_path: str | os.PathLike) -> bool:
    """Finish or undo a pair write that was killed, and remove its temporary files.

    A new HTML left as a temporary file whose report id is the JSON's (the write was
    killed between its two renames) is renamed into place; every other temporary file
    of a dead writer for these two paths is removed. Temporary files of a live
    process are left alone. :func:`write_pair` calls this first.

    Parameters
    ----------
    html_path, json_path : str or path-like
        The report's two files, as :func:`write_pair` writes them.

    Returns
    -------
    bool
        True when an interrupted write was completed.
    """
    html, jsn = Path(html_path), Path(json_path)
    committed = read_report_id(jsn)
    completed = False
    for tmp, rid, kind in _leftovers(html):
        if kind == "new" and rid == committed and not completed:
            os.replace(tmp, html)  # fully written and fsynced before the JSON's rename
            completed = True
        else:
            tmp.unlink(missing_ok=True)
    for tmp, _, _ in _leftovers(jsn):
        tmp.unlink(missing_ok=True)  # the JSON's rename never happened, or its backup
    if completed:
        _fsync_dir(html.parent)
    return completed


def _temp_path(target: Path, token: str, tail: str = "") -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    return folder / f"{_TMP_PREFIX}{os.getpid()}-{token}.{target.name}{tail}.tmp"


def _write_synced(path: Path, text: str) -> None:
    """Write ``text`` to a new file at ``path`` and flush it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_old(target: Path, backup: Path) -> bool:
    """Keep the current ``target`` at ``backup`` (a hard link, else a copy); False if none."""
    if not target.is_file():
        return False
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return True


def write_pair(
    html_path: str | os.PathLike,
    html_text: str,
    json_path: str | os.PathLike,
    json_text: str,
    *,
    pair_id: str | None = None,
) -> None:
    """Write a report's HTML and JSON as a pair (see the module docstring's guarantee).

    Parameters
    ----------
    html_path, json_path : str or path-like
        Where the two files go; they must be different files.
    html_text, json_text : str
        Their contents, which should both carry ``pair_id`` (``Report.save`` does it).
    pair_id : str, optional
        Lower-case hex report id, used in the temporary files' names so that
        :func:`recover_pair` can complete a write killed between the renames.
        Default: a fresh random id.

    Raises
    ------
    InputError
        If both paths name one file or ``pair_id`` is not hex.
    OSError
        If a file cannot be written; the old pair is then left as it was.
    """
    html, jsn = Path(html_path), Path(json_path)
    if _same_file(html, jsn):
        raise InputError(
            f"the HTML and JSON reports must be two files, got {_quote(html)} for both; "
            "give the JSON another name."
        )
    token = uuid.uuid4().hex if pair_id is None else pair_id
    if not re.fullmatch(r"[0-9a-f]+", token):
        raise InputError(
            f"pair_id must be lower-case hex such as uuid.uuid4().hex, got {_quote(token, 40)}."
        )
    recover_pair(html, jsn)
    tmp_json, tmp_html = _temp_path(jsn, token), _temp_path(html, token)
    backup = _temp_path(jsn, token, _BACKUP)
    had_old = ready = False
    try:
        _write_synced(tmp_json, json_text)
        _write_synced(tmp_html, html_text)
        had_old = _keep_old(jsn, backup)
        ready = True
        os.replace(tmp_json, jsn)  # the commit point
        _fsync_dir(jsn.parent)
        os.replace(tmp_html, html)
        _fsync_dir(html.parent)
    except BaseException:
        # which renames happened is read from the disk: an interrupt (Ctrl-C, SIGTERM)
        # can arrive just after a rename returns
        json_moved = ready and not tmp_json.exists()
        if json_moved and tmp_html.exists():  # new JSON, old HTML: put the old JSON back
            if had_old:
                os.replace(backup, jsn)
            else:
                jsn.unlink(missing_ok=True)
        for tmp in (tmp_json, tmp_html, backup):
            tmp.unlink(missing_ok=True)
        raise
    backup.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, content: str) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an existing file is replaced
    only once the new one is complete. The temporary file is removed on any
    exception; one left by a killed process is removed by the next :func:`write_pair`
    to the same path.

    Parameters
    ----------
    path : str or path-like
    content : str
        The text written (UTF-8).
    """
    p = Path(path)
    tmp = _temp_path(p, uuid.uuid4().hex)
    try:
        _write_synced(tmp, content)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(p.parent)
