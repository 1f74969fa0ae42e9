"""skops files of libsvm models: arrays libsvm reads without bounds checks are checked."""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
import skops.io as sio
from sklearn.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM

from tests.security._archives import load_the_old_way, refusal, toy_data
from tests.security._archives import rewrite as _rewrite
from whybox import InputError
from whybox.io import load_model
from whybox.io._skops_validate import _nodes as _states


@pytest.fixture(scope="module")
def data():
    return toy_data(60, 4, third_class_above=0.8)


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SVC(probability=True) is deprecated in 1.9
        return model.fit(X, y)


def _tamper(tmp_path, model, edits, name="svm.skops"):
    """Dump ``model``, then rewrite attributes of its state inside the archive.

    ``edits`` maps an attribute name to a function: of the array for a ``.npy``
    member, of the dict of arrays for a sparse matrix's ``.npz`` member; any other
    attribute gets the JSON value given (a fresh object, not a shared id).
    """
    src = tmp_path / f"clean_{name}"
    sio.dump(model, src)
    replace = {}
    with zipfile.ZipFile(src) as archive:
        schema = json.loads(archive.read("schema.json"))
        attrs = schema["content"]["content"]
        by_id = {s["__id__"]: s for s in _states(schema) if "file" in s}
        for key, edit in edits.items():
            state = attrs[key]
            state = by_id.get(state.get("__id__"), state)  # a CachedNode: the one stored
            if not callable(edit):
                attrs[key] = {"__class__": type(edit).__name__, "__module__": "builtins",
                              "__loader__": "JsonNode", "content": json.dumps(edit),
                              "is_json": True, "__id__": 1 + len(replace)}  # fmt: skip
                continue
            buffer = io.BytesIO()
            if state["file"].endswith(".npz"):
                with np.load(io.BytesIO(archive.read(state["file"]))) as npz:
                    np.savez(buffer, **edit({k: npz[k] for k in npz.files}))
            else:
                np.save(buffer, edit(np.load(io.BytesIO(archive.read(state["file"])))))
            replace[state["file"]] = buffer.getvalue()
    replace["schema.json"] = json.dumps(schema).encode()
    _rewrite(src, tmp_path / name, replace)
    return tmp_path / name


def _drop_last_column(a):
    return np.ascontiguousarray(a[:, :-1])


def _drop_last_sparse_column(m):
    rows, cols = (int(n) for n in m["shape"])  # libsvm stores every value, zeros too
    data = m["data"].reshape(rows, cols)[:, :-1].ravel()
    indices = np.tile(np.arange(cols - 1, dtype=np.int32), rows)
    indptr = np.arange(0, data.size + 1, cols - 1, dtype=np.int32)
    return {**m, "data": data, "indices": indices, "indptr": indptr,
            "shape": np.array([rows, cols - 1])}  # fmt: skip


_MODELS = {
    "svc_binary": (lambda: SVC(), "binary"),
    "svc_multiclass_probability": (lambda: SVC(probability=True, random_state=0), "multi"),
    "svc_linear": (lambda: SVC(kernel="linear"), "multi"),
    "svc_poly": (lambda: SVC(kernel="poly", degree=2, coef0=1.0), "binary"),
    "nusvc_multiclass": (lambda: NuSVC(nu=0.3), "multi"),
    "svr": (lambda: SVR(), "regression"),
    "nusvr": (lambda: NuSVR(), "regression"),
    "one_class": (lambda: OneClassSVM(nu=0.2), "none"),
}


def _target(kind, X, y):
    return {"binary": y > 0, "multi": y, "regression": X[:, 0], "none": None}[kind]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("name", list(_MODELS))
def test_fitted_svms_load_the_same_and_a_dual_coef_one_column_short_is_refused(
    data, tmp_path, name, sparse
):
    X, y = data
    make, kind = _MODELS[name]
    features = sp.csr_matrix(X) if sparse else X
    model = _fit(make(), features, _target(kind, X, y))
    sio.dump(model, tmp_path / "clean.skops")
    loaded = load_model(tmp_path / "clean.skops")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    np.testing.assert_array_equal(
        loaded.decision_function(features) if kind != "regression" else loaded.predict(X),
        model.decision_function(features) if kind != "regression" else model.predict(X),
    )
    if name == "svc_multiclass_probability":
        np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    edit = _drop_last_sparse_column if sparse else _drop_last_column
    path = _tamper(tmp_path, model, {"_dual_coef_": edit})
    message = refusal(path)
    assert f"the {type(model).__name__}'s _dual_coef_ " in message
    assert "one column per support vector" in message
    assert "save the model again with skops.io.dump" in message


def test_a_precomputed_kernel_svc_loads_and_a_support_index_past_the_samples_is_refused(
    data, tmp_path
):
    X, y = data
    gram = X @ X.T
    model = SVC(kernel="precomputed").fit(gram, y)
    sio.dump(model, tmp_path / "clean.skops")
    np.testing.assert_array_equal(
        load_model(tmp_path / "clean.skops").predict(gram), model.predict(gram)
    )

    def far(support):
        support[-1] = 10**6
        return support

    with pytest.raises(InputError, match=r"SVC's support_ holds an index outside 0 to 59"):
        load_model(_tamper(tmp_path, model, {"support_": far}))


def test_a_truncated_dual_coef_passes_sklearns_check_but_whybox_refuses_it(
    data, tmp_path, subprocess_loader
):
    X, y = data
    model = SVC().fit(X, y > 0)
    path = _tamper(tmp_path, model, {"_dual_coef_": lambda a: np.ascontiguousarray(a[:, :2])})
    returncode, results, stderr = subprocess_loader([path])
    assert returncode == 0, stderr
    n_sv = len(model.support_)
    assert results[str(path)].startswith(
        f"InputError: model file 'svm.skops' was refused: the SVC's _dual_coef_ is a float64 "
        f"array of shape (1, 2), expected float64 of shape (1, {n_sv})"
    )
    # Loaded the old way, scikit-learn's own check (CVE-2020-28975) lets it through and
    # libsvm reads the coefficients of the other support vectors past the array's end.
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "clean.npy", model.decision_function(X))
    call = (
        "got = m.decision_function(np.load(sys.argv[2]))\n"
        "print('same' if np.allclose(got, np.load(sys.argv[3])) else 'wrong', flush=True)"
    )
    run = load_the_old_way(path, call, tmp_path / "X.npy", tmp_path / "clean.npy")
    assert run.returncode < 0 or run.stdout.strip() == "wrong", run.stderr


def test_a_support_array_a_million_long_is_refused_and_crashed_the_old_path(
    data, tmp_path, subprocess_loader
):
    X, _ = data
    model = SVR().fit(X, X[:, 0])
    n_sv = len(model.support_)
    long = {"support_": lambda a: np.arange(10**6, dtype=np.int32) % len(X)}
    path = _tamper(tmp_path, model, long)
    returncode, results, stderr = subprocess_loader([path])
    assert returncode == 0, stderr
    assert results[str(path)].startswith(
        "InputError: model file 'svm.skops' was refused: the SVR's support_vectors_ is a "
        f"float64 array of shape ({n_sv}, 4), expected float64 of shape (1000000, 4)"
    )
    run = load_the_old_way(path, "m.predict(np.zeros((3, 4)))")
    assert run.returncode < 0  # killed by a signal (SIGSEGV)


def _sparse_edit(edit):
    def apply(m):
        m = dict(m)
        edit(m)
        return m

    return apply


def _set(key, index, value):
    def edit(a):
        a[key][index] = value

    return edit


@pytest.mark.parametrize(
    ("make", "sparse", "edits", "reason"),
    [
        (
            lambda: SVC(),
            True,  # scikit-learn compares _n_support with the vectors only when dense
            {"_n_support": lambda a: a + np.array([5, 0, 0], dtype=np.int32)},
            r"the SVC's _n_support sums to \d+, not its \d+ support vectors",
        ),
        (
            lambda: SVC(),
            False,
            {"_n_support": lambda a: a + np.array([1000, -1000, 0], dtype=np.int32)},
            "the SVC's _n_support holds a negative count",
        ),
        (
            lambda: NuSVC(nu=0.3),
            False,
            {"_intercept_": lambda a: a[:1].copy()},
            "the NuSVC's _intercept_ has 1 items, expected 3",
        ),
        (
            lambda: SVC(probability=True, random_state=0),
            False,
            {"_probA": lambda a: a[:1].copy(), "_probB": lambda a: a[:1].copy()},
            r"the SVC's _probA and _probB have 1 and 1 items, expected 3 each",
        ),
        (
            lambda: SVC(),
            True,  # the sparse predict copies _probA when _effective_probability is set
            {"_effective_probability": True},
            r"the SVC's _probA and _probB have 0 and 0 items, expected 3 each \(one per",
        ),
        (
            lambda: SVC(),
            False,
            {"_dual_coef_": lambda a: a.astype(np.float32)},
            "the SVC's _dual_coef_ is a float32 array",
        ),
        (
            lambda: SVC(),
            False,
            {"support_": lambda a: a.astype(np.int64)},
            "the SVC's support_ is a 1-d int64 array, libsvm needs a 1-d int32 one",
        ),
        (lambda: SVC(), False, {"kernel": "magic"}, "the SVC's kernel is 'magic', not one of"),
        (lambda: SVC(), True, {"kernel": "precomputed"}, "sparse with a precomputed kernel"),
        (lambda: SVR(), False, {"coef0": 1e400}, "the SVR's coef0 is inf, not a finite number"),
        (lambda: SVC(), False, {"degree": -3}, "the SVC's degree is -3, not between 0"),
        (
            lambda: SVC(),
            False,
            {"classes_": lambda a: a[:2].copy()},
            "the SVC's classes_ does not hold the 3 classes of _n_support",
        ),
        (
            lambda: OneClassSVM(),
            False,
            {"support_vectors_": lambda a: np.ascontiguousarray(a[:, :3])},
            r"the OneClassSVM's support_vectors_ is a float64 array of shape \(\d+, 3\)",
        ),
        (
            lambda: OneClassSVM(),
            True,
            {"support_vectors_": _sparse_edit(_set("indptr", 1, 10**6))},
            "the OneClassSVM's support_vectors_'s indptr does not run from 0",
        ),
        (
            lambda: SVR(),
            True,
            {"support_vectors_": _sparse_edit(_set("indices", 0, 7))},
            "the SVR's support_vectors_ has a column index outside 0 to 3",
        ),
        (
            lambda: NuSVR(),
            False,
            {"shape_fit_": [60, 5]},
            "the NuSVR's n_features_in_ is 4 but shape_fit_\\[1\\] is 5",
        ),
    ],
)
def test_inconsistent_svm_arrays_are_refused_before_skops_builds_them(
    data, tmp_path, make, sparse, edits, reason
):
    X, y = data
    model = make()
    target = X[:, 0] if isinstance(model, (SVR, NuSVR)) else y
    model = _fit(model, sp.csr_matrix(X) if sparse else X, target)
    with pytest.raises(InputError, match=reason) as info:
        load_model(_tamper(tmp_path, model, edits))
    assert "\n" not in str(info.value)


def _csc(m):
    m["format"] = np.array(b"csc")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_set("indices", 0, 10**6), "a sparse matrix has a column index outside 0 to 3"),
        (_set("indptr", -1, 10**6), "a sparse matrix's indptr does not run from 0"),
        (_csc, "a sparse matrix is stored in format"),
    ],
)
def test_any_sparse_matrix_in_a_file_is_checked_before_scipy_builds_it(
    data, tmp_path, edit, reason
):
    # csr_matrix is allowed for SVMs fitted on sparse data; scipy's compiled code
    # follows its indptr and indices, and load_npz builds whatever format it names.
    from sklearn.linear_model import LogisticRegression

    X, y = data
    model = LogisticRegression().fit(X, y).sparsify()
    sio.dump(model, tmp_path / "clean.skops")
    np.testing.assert_array_equal(load_model(tmp_path / "clean.skops").predict(X), model.predict(X))
    path = _tamper(tmp_path, model, {"coef_": _sparse_edit(edit)})
    with pytest.raises(InputError, match=reason) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_a_gradient_boosting_init_predicting_too_few_columns_is_refused(data, tmp_path):
    # GradientBoosting's compiled predict_stages adds tree k's values into column k of
    # what init_ predicts, for k up to n_trees_per_iteration_, without bounds checks.
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = data
    model = GradientBoostingClassifier(n_estimators=3, init=LogisticRegression()).fit(X, y)
    sio.dump(model, tmp_path / "clean.skops")
    loaded = load_model(tmp_path / "clean.skops")
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
    model.init_ = LogisticRegression().fit(X, y > 0)  # two columns for three trees
    sio.dump(model, tmp_path / "init.skops")
    message = refusal(tmp_path / "init.skops")
    assert (
        "a GradientBoostingClassifier is inconsistent (its init_ predicts a float64 array "
        "of shape (1, 2) for one row, not (1, 3)"
    ) in message
    # Loaded the old way it predicts without a word: column 2 of a two-column array
    # is the next row's column 0, and for the last row memory past the array's end.
    call = "print(m.decision_function(np.zeros((5, 4))).shape, flush=True)"
    run = load_the_old_way(tmp_path / "init.skops", call)
    assert run.returncode < 0 or run.stdout.strip() == "(5, 2)", run.stderr


def test_one_vs_rest_svcs_load_with_their_unfitted_template_and_each_is_checked(data, tmp_path):
    from sklearn.multiclass import OneVsRestClassifier

    X, y = data
    model = OneVsRestClassifier(SVC()).fit(X, y)  # .estimator is an unfitted SVC
    sio.dump(model, tmp_path / "clean.skops")
    loaded = load_model(tmp_path / "clean.skops")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with zipfile.ZipFile(tmp_path / "clean.skops") as archive:
        schema = json.loads(archive.read("schema.json"))
        fitted = next(
            s["content"]["content"]
            for s in _states(schema)
            if s["__class__"] == "SVC" and "_intercept_" in s["content"]["content"]
        )
        member = fitted["_intercept_"]["file"]
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(0))
    _rewrite(tmp_path / "clean.skops", tmp_path / "ovr.skops", {member: buffer.getvalue()})
    with pytest.raises(InputError, match="the SVC's _intercept_ has 0 items, expected 1"):
        load_model(tmp_path / "ovr.skops")
