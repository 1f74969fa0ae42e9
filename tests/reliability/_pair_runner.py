"""Run ``whybox audit`` in this process and stop it at one step of writing the report pair.

Used by ``test_report_pair.py`` in a child process::

    python _pair_runner.py STEP ACTION MARK -- AUDIT ARGS...

STEP is ``none``, ``write-K`` (the K-th temporary file, after half its text is
written: 1 is the JSON, 2 the HTML) or ``replace-K-before`` / ``replace-K-after``
(around the K-th rename onto a report path: 1 is the JSON, the commit point, 2 the
HTML). ACTION is ``kill`` (SIGKILL to itself), ``term`` (SIGTERM to itself), ``raise``
(an OSError, as a full disk would) or ``interrupt`` (KeyboardInterrupt, as Ctrl-C).
MARK is ``real`` to run the real audit, else the text of a tiny stand-in report (the
audit is not what is tested here, and takes seconds).
"""

import os
import signal
import sys
from pathlib import Path


def act(action: str) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif action == "raise":
        raise OSError(28, "No space left on device", "r.html")
    elif action == "interrupt":
        raise KeyboardInterrupt
    else:
        raise SystemExit(f"unknown action {action!r}")


def install(step: str, action: str, mark: str, out: Path, patch=setattr) -> None:
    """Patch whybox so that writing the pair at ``out`` stops at ``step``.

    ``patch(obj, name, value)`` sets an attribute: ``setattr`` in a child process,
    pytest's ``monkeypatch.setattr`` in the test process.
    """
    import whybox.io._outputs as outputs
    import whybox.report
    from whybox.report._report import Report, Section, Text

    targets = {out.name, out.with_suffix(".json").name}
    if mark != "real":

        def stand_in(*args, **kwargs):
            return Report("stand-in", {"subtitle": mark}, (Section("s", "S", (Text(mark),)),))

        patch(whybox.report, "audit", stand_in)

    kind, _, rest = step.partition("-")
    number, _, when = rest.partition("-")
    calls = [0]
    if kind == "write":
        real_write = outputs._write_synced

        def write(path, text):
            calls[0] += 1
            if calls[0] == int(number):
                Path(path).write_text(text[: len(text) // 2], encoding="utf-8")
                act(action)
            real_write(path, text)

        patch(outputs, "_write_synced", write)
    elif kind == "replace":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if Path(dst).name not in targets:  # numba, matplotlib...: not ours
                return real_replace(src, dst, *args, **kwargs)
            calls[0] += 1
            if calls[0] == int(number) and when == "before":
                act(action)
            real_replace(src, dst, *args, **kwargs)
            if calls[0] == int(number) and when == "after":
                act(action)

        patch(os, "replace", replace)


def main() -> None:
    step, action, mark = sys.argv[1:4]
    assert sys.argv[4] == "--"
    argv = sys.argv[5:]
    install(step, action, mark, Path(argv[argv.index("--out") + 1]))

    from whybox.cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
