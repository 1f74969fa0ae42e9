"""The audit's fairness section, reason codes and counterfactuals, against the planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier

from whybox import InputError, audit
from whybox.adapters import adapt_model
from whybox.cli import main
from whybox.datasets import load_credit
from whybox.report._section_fairness import split_sensitive


@pytest.fixture(scope="module")
def credit():
    return {b: load_credit(biased=b, n_samples=3000) for b in (True, False)}


def _section(report, sid):
    return next(s for s in report.sections if s.id == sid)


def test_biased_credit_fails_four_fifths_and_flags_the_proxy(credit):
    case = credit[True]
    report = audit(
        case.model, case.X_test, case.y_test, class_names=case.class_names,
        sensitive_features=case.group_test, progress=False,
    )  # fmt: skip
    fair = report.results["fairness"]
    gm = fair["group_metrics"]
    pred = case.model.predict(case.X_test)
    rate = {g: pred[case.group_test == g].mean() for g in ("A", "B")}
    assert gm.by_group.loc["B", "selection_rate"] == pytest.approx(rate["B"], abs=1e-12)
    assert gm.four_fifths["passed"] is False and gm.four_fifths["lowest_group"] == "B"
    assert fair["proxies"]["group"].flagged == ("zip_region",)
    assert fair["flip_tests"] == {}  # the model does not take 'group'
    summary = _section(report, "fairness").summary
    assert "fails the four-fifths rule" in summary and "'zip_region' predicts 'group'" in summary
    # every chosen row: reason codes and counterfactuals that really flip the decision
    cfs = report.results["counterfactuals"]
    n_found = 0
    for i, frame in enumerate(cfs.counterfactuals):
        if len(frame):
            flipped = case.model.predict(frame[list(case.X_test.columns)])
            assert (flipped != cfs.original_prediction[i]).all()
            n_found += len(frame)
    assert n_found > 0
    titles = [getattr(b, "title", "") for b in _section(report, "local").blocks]
    assert sum("reason codes for 'approved'" in t for t in titles) == len(cfs.status)


def test_unbiased_control_passes_and_flags_nothing(credit):
    case = credit[False]
    report = audit(
        case.model, case.X_test, case.y_test, sensitive_features=case.group_test, progress=False
    )
    fair = report.results["fairness"]
    assert fair["group_metrics"].four_fifths["passed"] is True
    assert fair["proxies"]["group"].flagged == ()
    assert "No proxy for 'group' found." in _section(report, "fairness").summary


def test_sensitive_column_names_and_the_flip_test(credit):
    case = credit[True]
    X = case.X_test.assign(group=case.group_test)
    # a column the model was not fitted on is only an attribute, not an input
    X_in, frame, inputs = split_sensitive(adapt_model(case.model), X, "group")
    assert list(X_in.columns) == list(case.X_test.columns) and inputs == []
    assert frame["group"].tolist() == case.group_test.tolist()
    # a model that takes the attribute directly gets a flip test, equal to brute force
    Xg = case.X_train.assign(is_b=(case.group_train == "B").astype(int))
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(Xg, case.y_train)
    Xt = case.X_test.assign(is_b=(case.group_test == "B").astype(int))[:300]
    report = audit(model, Xt, case.y_test[:300], sensitive_features=["is_b"], progress=False)
    flip = report.results["fairness"]["flip_tests"]["is_b"]
    changed = model.predict(Xt.assign(is_b=1 - Xt.is_b)) != model.predict(Xt)
    assert flip.overall == pytest.approx(changed.mean(), abs=1e-15)
    # the attribute is a model input: counterfactuals never use it as a lever
    cfs = report.results["counterfactuals"]
    for i, frame in enumerate(cfs.counterfactuals):
        assert (frame["is_b"] == cfs.original["is_b"].iloc[i]).all()
    with pytest.raises(InputError, match="not a column of X"):
        audit(case.model, case.X_test, case.y_test, sensitive_features="race", progress=False)
    with pytest.raises(InputError, match="one value per row"):
        audit(
            case.model,
            case.X_test,
            case.y_test,
            sensitive_features=case.group_test[:5],
            progress=False,
        )


def test_cli_sensitive_and_credit_demo(credit, tmp_path, capsys):
    case = credit[True]
    data = case.X_test.assign(group=case.group_test, approved=case.y_test)[:300]
    data.to_csv(tmp_path / "credit.csv", index=False)
    sio.dump(case.model, tmp_path / "model.skops")
    out = tmp_path / "r.html"
    args = ["audit", "--model", str(tmp_path / "model.skops"), "--data",
            str(tmp_path / "credit.csv"), "--target", "approved", "--out", str(out), "--quiet"]  # fmt: skip
    try:
        main(args + ["--sensitive", "group"])
    except SystemExit as exc:  # pragma: no cover - a failure shows here
        assert exc.code == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert "fairness" in [s["id"] for s in report["sections"]]
    with pytest.raises(SystemExit) as exc:
        main(args + ["--sensitive", "gruop"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'gruop' is not a column of credit.csv" in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--demo", "credit", "--sensitive", "group", "--out", str(out)])
    assert exc.value.code == 2


def test_multiclass_and_regression_fairness_sections():
    from sklearn.datasets import load_diabetes, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor

    wine = load_wine(as_frame=True)
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(wine.data, wine.target)
    strong = pd.Series(np.where(wine.data["alcohol"] > 13, "hi", "lo"), name="alc")
    report = audit(model, wine.data, wine.target, sensitive_features=strong, progress=False)
    fair = report.results["fairness"]
    by_class = fair["group_metrics_by_class"]
    assert set(by_class) == {"0", "1", "2"}
    # each class against the rest: its selection rates are the predicted-class shares
    pred = model.predict(wine.data)
    for c, gm in by_class.items():
        want = {g: (pred[strong == g] == int(c)).mean() for g in ("hi", "lo")}
        for g, rate in want.items():
            assert gm.by_group.loc[g, "selection_rate"] == pytest.approx(rate, abs=1e-12)
    # the detailed tables show the class with the largest selection-rate gap
    gaps = {c: gm.disparities.set_index("metric").loc["demographic_parity", "difference"]
            for c, gm in by_class.items()}  # fmt: skip
    assert fair["group_metrics"] is by_class[max(gaps, key=gaps.get)]
    diabetes = load_diabetes(as_frame=True)
    reg = RandomForestRegressor(n_estimators=10, max_depth=3, random_state=0)
    reg.fit(diabetes.data, diabetes.target)
    sex = pd.Series(np.where(diabetes.data["sex"] > 0, "M", "F"), name="sex")
    report = audit(reg, diabetes.data, diabetes.target, sensitive_features=sex, progress=False)
    gm = report.results["fairness"]["group_metrics"]
    assert gm.task == "regression" and gm.four_fifths is None
    pred = reg.predict(diabetes.data)
    assert gm.by_group.loc["M", "mean_prediction"] == pytest.approx(pred[sex == "M"].mean())
