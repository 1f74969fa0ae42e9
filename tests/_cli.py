"""Running the ``whybox`` command line in-process, for the CLI and audit tests."""

from whybox.cli import main


def run_cli(*args):
    """Run ``whybox`` with ``args`` (each turned into text); return its exit status."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code
    return 0


def one_line_error(capsys, *args):
    """Run ``whybox`` with ``args``, check it fails with exit status 2 and one line on
    stderr (no traceback), and return that line."""
    code = run_cli(*args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:2000]
    assert "Traceback" not in err
    return lines[0]
