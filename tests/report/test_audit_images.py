"""The digits CNN demo, the image-model audit, PyTorch model files, and the sanity check."""

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from tests._cli import run_cli
from tests._requires import requires
from whybox import InputError

torch = requires("torch")

from whybox.datasets import load_digits_cnn  # noqa: E402
from whybox.gradients import GradCAM, IntegratedGradients  # noqa: E402
from whybox.report import audit  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits_cnn(random_state=0)


def test_demo_cnn_trains_to_high_accuracy_deterministically(digits):
    assert digits.test_accuracy > 0.95
    again = load_digits_cnn(random_state=0)
    x = torch.from_numpy(digits.X_test[:20])
    with torch.no_grad():
        np.testing.assert_array_equal(digits.model(x).numpy(), again.model(x).numpy())
    assert not digits.model.training


def test_ig_completeness_below_one_percent_on_the_demo(digits):
    ex = IntegratedGradients(digits.model)(digits.X_test[:32])
    gap = ex.quality["relative_completeness_delta"][:, 0]
    assert gap.max() < 0.01
    np.testing.assert_allclose(ex.additivity_error, ex.quality["completeness_delta"][:, 0])


def _rank_corr(a, b):
    return np.array([spearmanr(u.ravel(), v.ravel()).statistic for u, v in zip(a, b, strict=True)])


def test_sanity_check_maps_change_when_weights_are_randomised(digits):
    """Adebayo et al. 2018: a map that survives weight randomisation does not explain the model."""
    x = digits.X_test[:24]
    target = digits.y_test[:24].tolist()
    random_model = load_digits_cnn(random_state=0, epochs=0).model  # same architecture, untrained
    for make in (
        lambda m: IntegratedGradients(m),
        lambda m: GradCAM(m, "conv2"),
    ):
        trained = make(digits.model)(x, target=target).values[..., 0]
        again = make(digits.model)(x, target=target).values[..., 0]
        randomised = make(random_model)(x, target=target).values[..., 0]
        assert np.median(_rank_corr(trained, again)) == pytest.approx(1.0)
        assert np.median(_rank_corr(trained, randomised)) < 0.5


def test_audit_of_an_image_model(digits, tmp_path):
    report = audit(
        digits.model,
        digits.X_test[:200],
        digits.y_test[:200],
        class_names=digits.class_names,
        progress=False,
    )
    ids = [s.id for s in report.sections]
    assert ids == ["performance", "confusion", "attributions", "quality"]
    attributions = report.section("attributions")
    figures = [b for b in attributions.blocks if b.kind == "figure"]
    assert [f.title for f in figures] == ["Integrated gradients", "Grad-CAM (conv2)"]
    ig = report.results["integrated_gradients"]
    assert ig.values.shape[1:] == (1, 8, 8, 1)
    assert ig.quality["relative_completeness_delta"].max() < 0.01
    # every map carries its tests: IG's completeness is judged, Grad-CAM's is not
    cam = report.results["grad_cam"]
    assert ig.quality["additivity"]["passes"] and not cam.quality["additivity"]["judged"]
    assert ig.quality["faithfulness"]["gain"] > ig.quality["faithfulness"]["aopc_random_spread"]
    rows = report.section("quality").blocks[0].rows
    assert [r[0] for r in rows] == ["Integrated gradients", "Grad-CAM"]
    # sanity check: every layer randomised, both maps lose their ranking (IG on its signed
    # map: its |map| keeps the zero pixels of the input, whatever the model)
    sanity = report.results["sanity"]
    assert sanity["Integrated gradients"].similarity_metric == "spearman"
    for check in sanity.values():
        assert len(check.steps) == 3 and check.passes and check.final_similarity < 0.5
    # a map no better than random patch orders is flagged, in the table and the summary
    f = cam.quality["faithfulness"]
    assert f["passes_overall"] == (f["gain"] > f["aopc_random_spread"])
    assert (rows[1][-1] == "FAILS") == (not cam.quality["passes"])
    assert ("Flagged: Grad-CAM" in report.section("quality").summary) == (not f["passes_overall"])
    report.save_html(tmp_path / "r.html")
    assert "Grad-CAM" in (tmp_path / "r.html").read_text()


def test_audit_rejects_bad_labels(digits):
    with pytest.raises(InputError, match="integer class indices in 0..9"):
        audit(digits.model, digits.X_test[:5], np.array([0, 1, 2, 3, 10]), progress=False)
    with pytest.raises(InputError, match="one class index per image"):
        audit(digits.model, digits.X_test[:5], np.zeros(4, dtype=int), progress=False)
    with pytest.raises(InputError, match="channels, height, width"):
        audit(digits.model, digits.X_test[:5, 0, 0], np.zeros(5, dtype=int), progress=False)


def test_cli_audits_an_exported_model_and_npz_images(digits, tmp_path, capsys):
    x = torch.from_numpy(digits.X_test[:4])
    program = torch.export.export(
        digits.model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    torch.export.save(program, tmp_path / "cnn.pt2")
    np.savez(tmp_path / "digits.npz", images=digits.X_test[:120], labels=digits.y_test[:120])
    out = tmp_path / "audit.html"
    code = run_cli(
        "audit", "--model", str(tmp_path / "cnn.pt2"), "--data", str(tmp_path / "digits.npz"),
        "--target", "labels", "--out", str(out), "--quiet", "--trust-model-file",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    saved = json.loads(out.with_suffix(".json").read_text())
    assert [s["id"] for s in saved["sections"]] == [
        "performance", "confusion", "attributions", "quality",
    ]  # fmt: skip

    torch.save(digits.model, tmp_path / "cnn.pt")
    code = run_cli(
        "audit", "--model", str(tmp_path / "cnn.pt"), "--data", str(tmp_path / "digits.npz"),
        "--target", "labels", "--out", str(out),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--trust-model-file" in err and len(err.strip().splitlines()) == 1

    code = run_cli(
        "audit", "--model", str(tmp_path / "cnn.pt2"), "--data", str(tmp_path / "digits.npz"),
        "--target", "y", "--out", str(out), "--trust-model-file",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "['images', 'labels']" in err


def test_cli_digits_demo(tmp_path, capsys):
    out = tmp_path / "digits.html"
    assert run_cli("audit", "--demo", "digits", "--out", str(out), "--quiet") == 0
    assert out.exists() and out.with_suffix(".json").exists()
    assert "wrote" in capsys.readouterr().out


def test_training_data_is_refused_for_an_image_model():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    X = np.zeros((10, 1, 2, 2), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    with pytest.raises(InputError, match="X_train and y_train apply to tabular models"):
        audit(model, X, y, X_train=X, progress=False)
