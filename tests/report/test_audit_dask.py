"""The audit of a dask X (issue #22 item 3): the reductions over all rows equal the
in-memory functions and sklearn on every row; the per-row sections read a stated,
reproducible sample of at most ``max_samples`` rows.

Run in this process on dask's synchronous scheduler (the cluster run is in
tests/distributed/test_audit.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from tests._requires import requires
from whybox import InputError
from whybox.debugging import calibration
from whybox.fairness import group_metrics
from whybox.report import audit

N_ROWS = 1600
MAX_SAMPLES = 400


@pytest.fixture(autouse=True)
def _dask():
    requires("dask")
    import dask

    with dask.config.set(scheduler="sync"):
        yield


def _frame(task: str) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(N_ROWS, 4)), columns=["a", "b", "c", "d"])
    frame["grp"] = rng.choice(["F", "M"], N_ROWS)
    signal = frame.a + 0.5 * frame.b - 0.3 * frame.c * frame.d + 0.3 * (frame.grp == "M")
    noisy = signal + rng.normal(0, 0.6, N_ROWS)
    frame["y"] = (noisy > 0).astype(int) if task == "classification" else noisy
    return frame


def _dask_frame(frame: pd.DataFrame, n_parts: int):
    import dask.dataframe as dd

    return dd.from_pandas(frame, npartitions=n_parts, sort=False)


@pytest.fixture(scope="module")
def classified():
    """A classifier (not fitted on 'grp'), its rows, and the audit of them as a dask X of
    4 partitions, 'grp' a sensitive column, row N_ROWS - 1 asked for."""
    requires("dask")
    import dask

    frame = _frame("classification")
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0)
    model.fit(frame[["a", "b", "c", "d"]], frame.y)
    ddf = _dask_frame(frame, 4)
    with dask.config.set(scheduler="sync"):
        report = audit(
            model, ddf.drop(columns="y"), ddf["y"], sensitive_features="grp",
            rows=[N_ROWS - 1], max_samples=MAX_SAMPLES, progress=False,
        )  # fmt: skip
    return model, frame, report


def _metrics(report) -> dict[str, float]:
    table = report.section("performance").blocks[0]
    return dict(table.rows)


def test_performance_is_sklearn_on_every_row(classified):
    model, frame, report = classified
    X, y = frame[["a", "b", "c", "d"]], frame.y
    pred, proba = model.predict(X), model.predict_proba(X)
    shown = _metrics(report)  # each value to 4 significant digits
    perf = report.section("performance")
    assert shown["accuracy"] == float(f"{metrics.accuracy_score(y, pred):.4g}")
    assert shown["balanced accuracy"] == float(f"{metrics.balanced_accuracy_score(y, pred):.4g}")
    assert shown["log loss"] == float(f"{metrics.log_loss(y, y_proba=proba):.4g}")
    # ROC AUC is not a sum over rows: computed on the sample, and named so
    sample = report.results["sample_rows"]
    auc = metrics.roc_auc_score(y.iloc[sample], proba[sample, 1])
    assert shown["ROC AUC (sample)"] == float(f"{auc:.4g}")
    assert f"on all {N_ROWS} rows" in perf.blocks[0].caption
    assert f"on {N_ROWS} rows" in perf.summary
    # the exact values behind the table: the confusion counts and the log-loss sum
    analysis = report.results["confusion"]
    np.testing.assert_array_equal(analysis.matrix, metrics.confusion_matrix(y, pred))
    assert analysis.accuracy == pytest.approx(metrics.accuracy_score(y, pred), rel=1e-15)


def test_calibration_is_the_in_memory_one_on_every_row(classified):
    model, frame, report = classified
    cal = report.results["failures"]["calibration"]
    expected = calibration(model, frame[["a", "b", "c", "d"]], frame.y)
    assert cal.params["n_samples"] == N_ROWS
    for got, want in zip(cal.curves, expected.curves, strict=True):
        np.testing.assert_array_equal(got.counts, want.counts)
        np.testing.assert_allclose(got.mean_predicted, want.mean_predicted, rtol=1e-12)
        np.testing.assert_allclose(got.observed, want.observed, rtol=1e-12)
    assert cal.ece == pytest.approx(expected.ece, rel=1e-12)
    assert cal.brier_score == pytest.approx(expected.brier_score, rel=1e-12)


def test_group_metrics_are_the_in_memory_ones_on_every_row(classified):
    model, frame, report = classified
    X = frame[["a", "b", "c", "d"]]
    gm = report.results["fairness"]["group_metrics"]
    expected = group_metrics(
        frame.y.to_numpy(), model.predict(X), {"grp": frame.grp.to_numpy()},
        y_prob=model.predict_proba(X)[:, 1], task="classification", pos_label=1, random_state=0,
    )  # fmt: skip
    assert gm.by_group["count"].sum() == N_ROWS
    pd.testing.assert_frame_equal(gm.by_group, expected.by_group, rtol=1e-12)
    # counts are exact, so the count bootstrap draws what the in-memory one draws
    pd.testing.assert_frame_equal(gm.disparities, expected.disparities, rtol=1e-9)


def test_permutation_importance_scores_every_row(classified):
    model, frame, report = classified
    perm = report.results["permutation_importance"]
    proba = model.predict_proba(frame[["a", "b", "c", "d"]])
    assert perm.scoring == "neg_log_loss"
    assert perm.params["n_samples_per_repeat"] == N_ROWS
    assert perm.params["permuted_within"] == "partition"
    assert perm.baseline_score == pytest.approx(
        -metrics.log_loss(frame.y, y_proba=proba), rel=1e-12
    )


def test_the_sample_is_the_stated_draw_and_no_more(classified):
    _, frame, report = classified
    sample = report.results["sample_rows"]
    drawn = np.random.default_rng(0).choice(N_ROWS, MAX_SAMPLES, replace=False)
    np.testing.assert_array_equal(sample, np.union1d(drawn, [N_ROWS - 1]))
    assert report.meta["rows"] == N_ROWS
    assert report.meta["sampled rows"] == len(sample) <= MAX_SAMPLES + 1
    assert "default_rng(0)" in report.meta["sample"]
    note = report.notes[0]
    assert f"Over all {N_ROWS} rows" in note and f"sample of {len(sample)} rows" in note
    assert "random_state=0" in note and "ROC AUC" in note
    # the per-row sections read the sample only
    assert report.results["errors"].n_samples == len(sample)
    ex = report.section("shap").results["explanation"]
    assert ex.values.shape[0] <= len(sample)
    for s in ("errors", "shap", "effects", "local", "quality"):
        assert report.section(s).summary.startswith(f"On the sample of {len(sample)} rows.")
    assert report.section("confusion").summary.startswith(f"Counts over all {N_ROWS} rows.")


def test_rows_asked_for_are_named_by_their_position_in_all_rows(classified):
    _, frame, report = classified
    local = report.section("local")
    figure = local.blocks[0]
    assert figure.title.startswith(f"Row {N_ROWS - 1}: ")
    assert figure.data["row"] == N_ROWS - 1
    np.testing.assert_array_equal(
        figure.data["feature_values"], frame[["a", "b", "c", "d"]].iloc[N_ROWS - 1].to_numpy()
    )


def test_the_sample_is_the_same_rows_whatever_the_partitions():
    from whybox.report._audit_dask import _gather, _sample_positions

    frame = _frame("classification")
    positions = _sample_positions(N_ROWS, 100, 3, [5])
    np.testing.assert_array_equal(positions, _sample_positions(N_ROWS, 100, 3, [5]))
    assert len(positions) in (100, 101) and 5 in positions
    for n_parts in (3, 7):
        ddf = _dask_frame(frame, n_parts)
        lengths = [int(n) for n in ddf.map_partitions(len).compute()]
        (got,) = _gather([list(ddf.to_delayed())], lengths, positions)
        pd.testing.assert_frame_equal(
            got, frame.iloc[positions].reset_index(drop=True), check_dtype=False
        )  # dask reads text as its own string dtype


def test_regression_metrics_are_sklearn_on_every_row():
    import dask

    frame = _frame("regression")
    X = frame[["a", "b", "c", "d"]]
    model = HistGradientBoostingRegressor(max_iter=15, random_state=0).fit(X, frame.y)
    ddf = _dask_frame(frame, 3)
    with dask.config.set(scheduler="sync"):
        report = audit(
            model, ddf.drop(columns="y"), ddf["y"], max_samples=300, progress=False,
            random_state=4, sensitive_features="grp",
        )  # fmt: skip
    pred = model.predict(X)
    shown = _metrics(report)
    assert shown["R²"] == float(f"{metrics.r2_score(frame.y, pred):.4g}")
    assert shown["mean absolute error"] == float(
        f"{metrics.mean_absolute_error(frame.y, pred):.4g}"
    )
    rmse = float(np.sqrt(metrics.mean_squared_error(frame.y, pred)))
    assert shown["root mean squared error"] == float(f"{rmse:.4g}")
    perm = report.results["permutation_importance"]
    assert perm.scoring == "r2"
    assert perm.baseline_score == pytest.approx(metrics.r2_score(frame.y, pred), rel=1e-12)
    drawn = np.sort(np.random.default_rng(4).choice(N_ROWS, 300, replace=False))
    np.testing.assert_array_equal(report.results["sample_rows"], drawn)
    assert "confusion" not in [s.id for s in report.sections]
    gm = report.results["fairness"]["group_metrics"]
    expected = group_metrics(
        frame.y.to_numpy(), pred, {"grp": frame.grp.to_numpy()}, task="regression",
        n_bootstrap=0,
    )  # fmt: skip
    pd.testing.assert_frame_equal(gm.by_group, expected.by_group, rtol=1e-12)
    assert np.isfinite(gm.disparities["difference_ci_low"]).all()  # the Poisson bootstrap


def test_bad_input_is_one_sentence_before_any_work():
    frame = _frame("classification")
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    model.fit(frame[["a", "b", "c", "d"]], frame.y)
    ddf = _dask_frame(frame, 4)
    X, y = ddf[["a", "b", "c", "d"]], ddf["y"]
    cases = [
        ({"y": frame.y}, "y must be a dask Series"),
        ({"y": _dask_frame(frame, 2)["y"]}, "y has 2 partitions but X has 4"),
        ({"random_state": None}, "random_state must be an int seed"),
        ({"max_samples": 0}, "max_samples"),
        ({"rows": [N_ROWS]}, "rows"),
        ({"sensitive_features": "age"}, "not a column of X"),
        ({"sensitive_features": [frame.grp]}, "column names of X or dask Series"),
    ]
    for change, message in cases:
        kwargs = {"y": y, "progress": False, **change}
        with pytest.raises(InputError, match=message) as info:
            audit(model, X, **kwargs)
        assert str(info.value).count(". ") <= 1, str(info.value)


def test_max_samples_leaves_an_in_memory_audit_as_it_was():
    frame = _frame("classification").iloc[:150]
    X = frame[["a", "b", "c", "d"]]
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, frame.y)

    def content(report) -> dict:
        out = report.to_dict()
        for key in ("created", "audit time (s)", "explanation quality checks (s)"):
            out["meta"].pop(key)
        for section in out["sections"]:  # wall times (the anchors' "time (s)") differ
            for block in section["blocks"]:
                if "time (s)" in block.get("columns", ()):
                    at = block["columns"].index("time (s)")
                    block["rows"] = [r[:at] + r[at + 1 :] for r in block["rows"]]
        return out

    plain = audit(model, X, frame.y, progress=False)
    limited = audit(model, X, frame.y, progress=False, max_samples=20)
    assert "sampled rows" not in limited.meta and "sample_rows" not in limited.results
    assert content(limited) == content(plain)
