"""Running the ``whybox`` command line in-process, for the CLI and audit tests."""

import numpy as np
import pandas as pd

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


def small_table(n_rows):
    """A seeded table: ``age``, ``debt`` and a binary ``label`` driven by debt."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"age": rng.uniform(18, 70, n_rows).round(1), "debt": rng.normal(0, 1, n_rows)}
    )
    frame["label"] = (frame.debt + 0.5 * rng.normal(size=n_rows) > 0).astype(int)
    return frame
