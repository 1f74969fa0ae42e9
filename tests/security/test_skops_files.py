"""skops files: no code from an untrusted file, no crash from a crafted tree (#19 items 1-2)."""

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, TweedieRegressor
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from skops.io._protocol import PROTOCOL

from tests.security._archives import load_the_old_way, refusal, runstring_node, toy_data
from tests.security._archives import rewrite as _rewrite
from whybox import InputError
from whybox.io import load_model
from whybox.io._skops_validate import _nodes as _states


@pytest.fixture(scope="module")
def data():
    return toy_data(120, 4, third_class_above=1)


def _runstring_file(path, marker):
    """A skops file whose only object is ``runstring(code, {})``: numpy's test helper
    that ``exec``s its first argument. The code writes ``marker``."""
    schema = {**runstring_node(marker), "protocol": PROTOCOL, "_skops_version": "0.16.0"}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))


def test_a_numpy_function_that_runs_code_is_refused_and_never_runs(tmp_path):
    path, marker = tmp_path / "evil.skops", tmp_path / "marker"
    _runstring_file(path, marker)
    message = refusal(path)
    assert "numpy.testing._private.utils.runstring" in message
    assert "--trust-model-file" in message and "trust=True" in message
    assert not marker.exists()
    # The old rule trusted every name starting with "numpy." and handed skops the
    # untrusted list: the payload is live, it runs under exactly that call.
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == ["numpy.testing._private.utils.runstring"]
    assert all(t.startswith(("sklearn.", "numpy.", "scipy.")) for t in untrusted)
    sio.load(path, trusted=untrusted)
    assert marker.read_text() == "ran"


def test_refused_types_are_listed_on_one_line_and_shortened(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    steps = [FunctionTransformer(f) for f in (eval, exec, compile, getattr, setattr, print)]
    sio.dump(make_pipeline(*steps), tmp_path / "many.skops")
    message = refusal(tmp_path / "many.skops")
    assert "holds 6 type(s)" in message and "and 2 more" in message
    assert "builtins.compile, builtins.eval" in message


def test_knn_with_a_kd_tree_and_brute_force_load_without_trust(data, tmp_path):
    X, y = data
    for algorithm in ("kd_tree", "brute"):
        model = KNeighborsClassifier(algorithm=algorithm).fit(X, y)
        sio.dump(model, tmp_path / f"{algorithm}.skops")
        loaded = load_model(tmp_path / f"{algorithm}.skops")
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def _legit_models(X, y):
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["colour"] = pd.Categorical(np.array(["red", "green", "blue"])[np.arange(120) % 3])
    ct = ColumnTransformer(
        [("num", StandardScaler(), list("abcd")), ("cat", OneHotEncoder(), ["colour"])]
    )
    return {
        "tree": (DecisionTreeClassifier(max_depth=4, random_state=0), X, y),
        "forest": (RandomForestClassifier(5, random_state=0), X, y),
        "forest_nan": (RandomForestClassifier(5, random_state=0), np.where(X > 1, np.nan, X), y),
        "gb_multiclass": (GradientBoostingClassifier(n_estimators=5, random_state=0), X, y),
        "gb_binary": (GradientBoostingClassifier(n_estimators=5, random_state=0), X, y > 0),
        "hgb": (HistGradientBoostingClassifier(max_iter=5), X, y),
        "hgb_categorical": (
            HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype"),
            frame,
            y,
        ),
        "pipeline_ct": (make_pipeline(ct, RandomForestClassifier(5, random_state=0)), frame, y),
        "svc": (SVC(probability=True, random_state=0), X, y),
        "mlp": (MLPClassifier(hidden_layer_sizes=(5,), max_iter=30, random_state=0), X, y),
        "calibrated": (CalibratedClassifierCV(LogisticRegression(), cv=3), X, y),
        "splines": (make_pipeline(SplineTransformer(), LogisticRegression()), X, y),
        "tweedie": (TweedieRegressor(), X, y),
    }


def test_a_broad_set_of_fitted_models_loads_without_trust_and_predicts_the_same(data, tmp_path):
    X, y = data
    import warnings

    for name, (model, features, target) in _legit_models(X, y).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(features, target)
        sio.dump(model, tmp_path / f"{name}.skops")
        loaded = load_model(tmp_path / f"{name}.skops")
        assert type(loaded) is type(model), name
        np.testing.assert_array_equal(loaded.predict(features), model.predict(features), name)


def _tree_file(tmp_path, X, y, edit, name="tree.skops"):
    """Dump a fitted tree, then ``edit(nodes)`` its node array inside the archive."""
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    src = tmp_path / f"clean_{name}"
    sio.dump(model, src)
    with zipfile.ZipFile(src) as archive:
        schema = json.loads(archive.read("schema.json"))
        tree = next(s for s in _states(schema) if s["__loader__"] == "TreeNode")
        member = tree["content"]["content"]["nodes"]["file"]
        nodes = np.load(io.BytesIO(archive.read(member)))
    edit(nodes)
    buffer = io.BytesIO()
    np.save(buffer, nodes, allow_pickle=False)
    _rewrite(src, tmp_path / name, {member: buffer.getvalue()})
    return tmp_path / name


def test_a_tree_with_a_child_index_of_a_billion_is_refused_and_the_process_survives(
    data, tmp_path, subprocess_loader
):
    X, y = data

    def far_child(nodes):
        nodes["left_child"][0] = 10**9

    path = _tree_file(tmp_path, X, y, far_child)
    returncode, results, stderr = subprocess_loader([path])
    assert returncode == 0, stderr
    assert results[str(path)].startswith(
        "InputError: model file 'tree.skops' was refused: node 0's left child is 1000000000"
    )
    # The same file, loaded the way the old code did, kills the process at predict
    # (every row goes left at the root, to node 10**9).
    run = load_the_old_way(path, "m.predict(np.full((3, 4), -1e30))")
    assert run.returncode < 0  # killed by a signal (SIGSEGV)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda n: n["feature"].__setitem__(0, 4), "node 0 splits on feature 4 of a tree with 4"),
        (lambda n: n["right_child"].__setitem__(0, 0), "node 0's right child is 0"),
        (
            lambda n: n["right_child"].__setitem__(0, n["left_child"][0]),
            "has 2 parents; a tree node has exactly one",
        ),
        (
            lambda n: n["right_child"].__setitem__(
                int(np.flatnonzero(n["left_child"] == -1)[0]), 2
            ),
            "has a right child but no left child",
        ),
        (lambda n: n["n_node_samples"].__setitem__(0, 7), "sample counts do not add up"),
    ],
)
def test_inconsistent_trees_are_refused_before_skops_builds_them(data, tmp_path, edit, reason):
    X, y = data
    path = _tree_file(tmp_path, X, y, edit)
    with pytest.raises(InputError, match=reason) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_a_tree_reading_more_features_than_its_estimator_is_refused(data, tmp_path):
    X, y = data
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    sio.dump(model, tmp_path / "clean.skops")
    with zipfile.ZipFile(tmp_path / "clean.skops") as archive:
        schema = json.loads(archive.read("schema.json"))
    n_features_in = schema["content"]["content"]["n_features_in_"]
    n_features_in.update(content="2", __id__=1)  # a fresh object, not the shared int 4
    _rewrite(tmp_path / "clean.skops", tmp_path / "n.skops", {"schema.json": json.dumps(schema)})
    with pytest.raises(InputError, match="a tree reads 4 features but its estimator expects 2"):
        load_model(tmp_path / "n.skops")


def test_an_hgb_predictor_splitting_past_the_last_feature_is_refused(data, tmp_path):
    X, y = data
    sio.dump(HistGradientBoostingClassifier(max_iter=3).fit(X, y), tmp_path / "clean.skops")
    with zipfile.ZipFile(tmp_path / "clean.skops") as archive:
        schema = json.loads(archive.read("schema.json"))
        predictor = next(s for s in _states(schema) if s["__class__"] == "TreePredictor")
        member = predictor["content"]["content"]["nodes"]["file"]
        nodes = np.load(io.BytesIO(archive.read(member)))
    nodes["feature_idx"][0] = 10**6
    buffer = io.BytesIO()
    np.save(buffer, nodes)
    _rewrite(tmp_path / "clean.skops", tmp_path / "hgb.skops", {member: buffer.getvalue()})
    with pytest.raises(InputError, match="node 0 splits on feature 1000000 of 4"):
        load_model(tmp_path / "hgb.skops")


def test_a_second_state_under_a_checked_trees_id_cannot_swap_in_another_tree(data, tmp_path):
    # skops builds the first state it meets with an id and reuses it wherever the id
    # comes again; a different state under a shared id must be refused.
    X, y = data
    model = make_pipeline(
        DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y),
    )
    sio.dump(model, tmp_path / "clean.skops")
    with zipfile.ZipFile(tmp_path / "clean.skops") as archive:
        schema = json.loads(archive.read("schema.json"))
    states = [s for s in _states(schema) if s["__loader__"] == "JsonNode"]
    depth = next(s for s in states if s["content"] == "2")
    other = next(s for s in states if s["content"] not in ("2", "null") and "__id__" in s)
    other["__id__"] = depth["__id__"]
    _rewrite(tmp_path / "clean.skops", tmp_path / "dup.skops", {"schema.json": json.dumps(schema)})
    with pytest.raises(InputError, match="share"):
        load_model(tmp_path / "dup.skops")


def test_an_hgb_preprocessor_that_drops_columns_is_refused(data):
    # With categorical features HGB feeds its trees the output of _preprocessor; one
    # that drops the numeric columns would make the trees index past the row.
    from whybox.io._skops_validate import check_loaded_model

    X, y = data
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["colour"] = pd.Categorical(np.array(["red", "green", "blue"])[np.arange(120) % 3])
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features="from_dtype")
    model.fit(frame, y)
    check_loaded_model(model, "m.skops")  # as scikit-learn built it
    model._preprocessor.transformers_ = [
        t for t in model._preprocessor.transformers_ if t[0] != "numerical"
    ]
    with pytest.raises(InputError, match="categorical preprocessor is not the one") as info:
        check_loaded_model(model, "m.skops")
    assert "\n" not in str(info.value)


def test_the_allowlist_holds_exact_classes_and_a_few_named_array_functions():
    import importlib
    import inspect

    from whybox.io._skops_types import SCORE_FUNCTIONS, allowed_skops_types

    functions = {
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        "sklearn.utils.validation.check_array",
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.r_regression",
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
        "sklearn.feature_selection._mutual_info.mutual_info_regression",
    } | SCORE_FUNCTIONS
    allowed = allowed_skops_types()
    assert "numpy.testing._private.utils.runstring" not in allowed
    assert not any(
        n.startswith(("builtins.", "os.", "numpy.testing", "subprocess")) for n in allowed
    )
    assert "sklearn.metrics._dist_metrics.PyFuncDistance64" not in allowed
    for name in allowed:
        module, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module), attr)
        assert f"{obj.__module__}.{obj.__name__}" == name or name in functions, name
        assert inspect.isclass(obj) or name in functions, name
