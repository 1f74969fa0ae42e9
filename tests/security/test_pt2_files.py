""".pt2 programs need --trust-model-file; a bad one is one line (#19 items 3 and 13)."""

import pickle
import subprocess
import sys
import zipfile

from tests._requires import requires
from tests.security._archives import refusal
from whybox.io import load_model

torch = requires("torch")


class _WriteMarker:
    """Unpickling this object writes ``path``: a stand-in for any code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))


def _program(path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    torch.export.save(torch.export.export(model, (torch.zeros(1, 3),)), path)


def _poisoned_program(tmp_path, marker):
    """A real program whose sample inputs member is a pickle that writes ``marker``."""
    clean, poisoned = tmp_path / "clean.pt2", tmp_path / "evil.pt2"
    _program(clean)
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(poisoned, "w") as dst:
        names = src.namelist()
        assert any(n.endswith("data/sample_inputs/model.pt") for n in names)
        for name in names:
            data = src.read(name)
            if name.endswith("data/sample_inputs/model.pt"):
                data = pickle.dumps(_WriteMarker(marker))
            dst.writestr(name, data)
    return poisoned


def test_a_program_with_a_pickle_payload_is_refused_without_trust_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = _poisoned_program(tmp_path, marker)
    message = refusal(path)
    assert "torch.export program, which can run code" in message
    assert "--trust-model-file (trust=True)" in message
    assert not marker.exists()
    # The payload is live: torch.export.load, which the old code called for every
    # .pt2 without asking for trust, runs it.
    try:
        torch.export.load(path)
    except Exception:
        pass
    assert marker.read_text() == "ran"


def test_a_trusted_program_loads_and_matches(tmp_path):
    _program(tmp_path / "m.pt2")
    loaded = load_model(tmp_path / "m.pt2", trust=True)
    reference = torch.export.load(tmp_path / "m.pt2").module()
    x = torch.randn(1, 3)  # exported for one row
    assert torch.equal(loaded(x), reference(x))


def test_a_corrupt_trusted_program_is_one_line_on_stderr_and_nothing_else(tmp_path):
    # A truncated weight makes torch.export.load log a traceback (at WARNING, from
    # torch/export/__init__.py) before it raises; the user sees only whybox's line.
    # The CLI runs in a child process, so torch's log handlers write to its real stderr.
    clean, broken = tmp_path / "clean.pt2", tmp_path / "broken.pt2"
    _program(clean)
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:4] if name.endswith("data/weights/weight_0") else data)
    run = subprocess.run(
        [sys.executable, "-m", "whybox.cli", "audit", "--model", str(broken),
         "--data", str(tmp_path / "x.csv"), "--target", "y", "--out", str(tmp_path / "r.html"),
         "--trust-model-file"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "model file 'broken.pt2' could not be read as a PyTorch model" in lines[0]
