"""performance_sums and the audit of a dask X on a real two-worker cluster (issue #22
item 3): the sums over all rows equal sklearn's metrics on every row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from tests._requires import requires
from whybox import InputError
from whybox.adapters import adapt_model


@pytest.fixture(autouse=True)
def _dask():
    requires("dask")
    requires("distributed")


def _frame(n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n_rows, 3)), columns=["a", "b", "c"])
    frame["y"] = frame.a - frame.b * frame.c + rng.normal(0, 0.5, n_rows)
    return frame


def _parts(frame: pd.DataFrame, n_parts: int):
    import dask.dataframe as dd

    ddf = dd.from_pandas(frame, npartitions=n_parts, sort=False)
    return ddf[["a", "b", "c"]], ddf["y"]


def test_classifier_sums_are_sklearn_on_every_row(dask_client):
    from whybox.distributed import performance_sums

    frame = _frame(1500)
    frame["y"] = np.digitize(frame.y, [-0.7, 0.7])  # three classes
    X = frame[["a", "b", "c"]]
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, frame.y)
    sums = performance_sums(adapt_model(model), *_parts(frame, 5))
    assert sums["n"] == 1500
    np.testing.assert_array_equal(
        sums["matrix"], metrics.confusion_matrix(frame.y, model.predict(X))
    )
    assert sums["log_loss_sum"] / 1500 == pytest.approx(
        metrics.log_loss(frame.y, y_proba=model.predict_proba(X)), rel=1e-12
    )


def test_regressor_sums_are_sklearn_on_every_row(dask_client):
    from whybox.distributed import performance_sums

    frame = _frame(1500, seed=1)
    X = frame[["a", "b", "c"]]
    model = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(X, frame.y)
    sums = performance_sums(adapt_model(model), *_parts(frame, 4))
    pred = model.predict(X)
    residual = frame.y - pred
    assert sums["n"] == 1500
    assert 1 - sums["sq_sum"] / sums["m2"] == pytest.approx(
        metrics.r2_score(frame.y, pred), rel=1e-12
    )
    assert sums["abs_sum"] == pytest.approx(np.abs(residual).sum(), rel=1e-12)
    assert sums["sq_sum"] == pytest.approx((residual**2).sum(), rel=1e-12)


def test_y_of_other_partitions_is_refused_in_one_sentence(dask_client):
    from whybox.distributed import performance_sums

    frame = _frame(300)
    model = HistGradientBoostingRegressor(max_iter=5).fit(frame[["a", "b", "c"]], frame.y)
    X, _ = _parts(frame, 3)
    _, y = _parts(frame, 2)
    with pytest.raises(InputError, match="y has 2 partitions but X has 3"):
        performance_sums(adapt_model(model), X, y)


def test_audit_runs_its_reductions_on_the_cluster(dask_client):
    from whybox.report import audit

    frame = _frame(1200, seed=2)
    frame["y"] = (frame.y > 0).astype(int)
    X = frame[["a", "b", "c"]]
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, frame.y)
    from distributed import get_task_stream

    with get_task_stream(client=dask_client) as stream:
        report = audit(model, *_parts(frame, 4), max_samples=250, progress=False)
    pred = model.predict(X)
    assert report.meta["rows"] == 1200 and report.meta["sampled rows"] == 250
    np.testing.assert_array_equal(
        report.results["confusion"].matrix, metrics.confusion_matrix(frame.y, pred)
    )
    assert report.results["permutation_importance"].params["n_samples_per_repeat"] == 1200
    assert report.results["errors"].n_samples == 250
    # the reductions ran on the workers, one task per partition (the client is dask's
    # default scheduler)
    ran = [str(t["key"]) for t in stream.data]
    for reduction in ("_performance_part", "_calibration_part", "_pi_part"):
        assert sum(reduction in key for key in ran) == 4, reduction
