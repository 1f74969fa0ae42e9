"""skops files: searches, calibration and stacking load without trust; their scorers
and splitters are allowlisted by exact name and a scorer's state is checked."""

import io
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import StackingClassifier, StackingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    RepeatedStratifiedKFold,
    ShuffleSplit,
    StratifiedKFold,
)
from sklearn.tree import DecisionTreeClassifier
from skops.io._protocol import PROTOCOL

from tests.security._archives import empty_dict_node, json_node, refusal, runstring_node, toy_data
from whybox.io import load_model
from whybox.io._skops_validate import _nodes as _states


@pytest.fixture(scope="module")
def data():
    return toy_data(60, 3)


def _models():
    lr = LogisticRegression()
    return {
        "grid_default_scorer": (GridSearchCV(lr, {"C": [0.1, 1.0]}, cv=3), "clf"),
        "grid_roc_auc_kfold": (
            GridSearchCV(lr, {"C": [0.1, 1.0]}, cv=KFold(3), scoring="roc_auc"),
            "clf",
        ),
        "grid_multimetric": (
            GridSearchCV(
                lr,
                {"C": [0.1, 1.0]},
                cv=StratifiedKFold(3, shuffle=True, random_state=0),
                scoring=["accuracy", "f1_macro", "neg_log_loss", "average_precision"],
                refit="accuracy",
            ),
            "clf",
        ),
        "grid_repeated_cv": (
            GridSearchCV(lr, {"C": [1.0]}, cv=RepeatedStratifiedKFold(n_splits=2, n_repeats=2)),
            "clf",
        ),
        "grid_regression": (
            GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3, scoring="neg_mean_squared_error"),
            "reg",
        ),
        "randomized_search": (
            RandomizedSearchCV(
                lr,
                {"C": [0.1, 1.0, 10.0]},
                n_iter=2,
                cv=ShuffleSplit(3, random_state=np.random.RandomState(0)),
                random_state=0,
            ),
            "clf",
        ),
        "calibrated_cv": (CalibratedClassifierCV(lr, cv=StratifiedKFold(3)), "clf"),
        "stacking_cv": (
            StackingClassifier(
                [("lr", lr), ("tree", DecisionTreeClassifier(max_depth=2, random_state=0))],
                cv=StratifiedKFold(3),
            ),
            "clf",
        ),
        "stacking_regressor_cv": (StackingRegressor([("ridge", Ridge())], cv=KFold(3)), "reg"),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_fitted_meta_estimators_load_without_trust_and_predict_the_same(name, data, tmp_path):
    X, y = data
    model, kind = _models()[name]
    model.fit(X, y if kind == "clf" else X[:, 0] * 2.0 + 1.0)
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if kind == "clf":
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    if hasattr(model, "scorer_"):
        assert repr(loaded.scorer_) == repr(model.scorer_)
        assert loaded.score(X, y if kind == "clf" else X[:, 0] * 2.0 + 1.0) == pytest.approx(
            model.score(X, y if kind == "clf" else X[:, 0] * 2.0 + 1.0)
        )


def _scorer_file(tmp_path, data, edit):
    """A fitted ``GridSearchCV(scoring="f1")`` whose ``_Scorer`` state ``edit`` changes
    (``edit(attrs)`` on the scorer's attribute dict in ``schema.json``)."""
    X, y = data
    search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=KFold(2), scoring="f1")
    blob = sio.dumps(search.fit(X, y))
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {name: archive.read(name) for name in archive.namelist()}
    scorers = [s for s in _states(schema) if s.get("__class__") == "_Scorer"]
    assert scorers
    for scorer in scorers:
        edit(scorer["content"]["content"])
    members["schema.json"] = json.dumps(schema).encode()
    path = tmp_path / "search.skops"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def _function(module, name):
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode"}


def _object_node(module, name):
    """An object of an allowlisted class, built from an empty attribute dict."""
    return {"__class__": name, "__module__": module, "__loader__": "ObjectNode",
            "content": empty_dict_node()}  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (
            lambda a: a.update(_score_func=_function("builtins", "eval")),
            "builtins.eval",
        ),
        (
            lambda a: a.update(_score_func=_function("numpy.testing._private.utils", "runstring")),
            "numpy.testing._private.utils.runstring",
        ),
    ],
    ids=["eval", "runstring"],
)
def test_a_scorer_whose_function_is_swapped_for_code_execution_is_refused(
    edit, refused, data, tmp_path
):
    path = _scorer_file(tmp_path, data, edit)
    message = refusal(path)
    # the scorer and the splitter are allowed now: the swapped function is the only
    # type refused
    assert f"holds 1 type(s) whybox does not load without trust ({refused})" in message
    assert "--trust-model-file" in message


def test_code_hidden_in_a_scorers_keyword_arguments_is_refused_and_never_runs(data, tmp_path):
    marker = tmp_path / "marker"

    def edit(attrs):
        attrs["_kwargs"]["content"]["average"] = runstring_node(marker)

    path = _scorer_file(tmp_path, data, edit)
    message = refusal(path)
    assert "holds 1 type(s)" in message and "numpy.testing._private.utils.runstring" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda a: a.update(_response_method=json_node("fit")), "response method is 'fit'"),
        (
            lambda a: a.update(_response_method=json_node("__init__")),
            "response method is '__init__'",
        ),
        (lambda a: a.update(_sign=json_node(5)), "sign is 5, not 1 or -1"),
        (lambda a: a.update(_sign=json_node(True)), "sign is bool, not an integer"),
        (
            lambda a: a.update(_score_func=json_node("f1_score")),
            "score function is stored as JsonNode",
        ),
        (
            lambda a: a["_kwargs"]["content"].update(
                average=_object_node("sklearn.model_selection._split", "KFold")
            ),
            "keyword arguments are not plain data",
        ),
        (lambda a: a.update(extra=json_node(1)), "not scikit-learn's four"),
    ],
    ids=["fit", "dunder", "sign", "bool_sign", "func_not_function", "kwargs_object", "extra"],
)
def test_an_inconsistent_scorer_is_refused_before_skops_builds_it(edit, reason, data, tmp_path):
    path = _scorer_file(tmp_path, data, edit)
    message = refusal(path)
    assert reason in message and "search.skops' was refused" in message


def test_an_untouched_scorer_file_loads_without_trust_with_its_scorer(data, tmp_path):
    path = _scorer_file(tmp_path, data, lambda a: None)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("schema.json"))["protocol"] == PROTOCOL
    loaded = load_model(path)
    assert repr(loaded.scorer_) == (
        "make_scorer(f1_score, response_method='predict', average=binary)"
    )


def test_the_score_functions_are_exactly_those_of_sklearns_named_scorers():
    from sklearn.metrics import get_scorer, get_scorer_names

    from whybox.io._skops_types import SCORE_FUNCTIONS, allowed_skops_types

    named = set()
    for name in get_scorer_names():
        func = getattr(get_scorer(name), "_score_func", None)
        if func is not None:
            named.add(f"{func.__module__}.{func.__name__}")
    assert SCORE_FUNCTIONS == named
    assert SCORE_FUNCTIONS <= allowed_skops_types()
