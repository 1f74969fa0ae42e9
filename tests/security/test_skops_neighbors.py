"""skops files of nearest-neighbour models: KD and ball trees load without trust and
every array their compiled query code follows is checked before skops builds them."""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.neighbors import (
    KernelDensity,
    KNeighborsClassifier,
    KNeighborsRegressor,
    LocalOutlierFactor,
    NearestNeighbors,
    RadiusNeighborsClassifier,
    RadiusNeighborsRegressor,
)

from tests.security._archives import load_the_old_way, refusal, toy_data
from whybox.io import load_model
from whybox.io._skops_validate import _nodes as _states

_TREES = ("KDTree", "BallTree")
# positions in the state tuple of a KD or ball tree (BinaryTree.__getstate__)
DATA, IDX, NODES, BOUNDS, LEAF_SIZE, N_LEVELS, N_NODES, N_CALLS, METRIC, WEIGHT = (
    0, 1, 2, 3, 4, 5, 6, 10, 11, 12,
)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return toy_data(40, 3, third_class_above=0.8)


def _models():
    weights = np.array([1.0, 2.0, 0.5])
    return {
        "knn_auto_kd_tree": KNeighborsClassifier(3),
        "knn_ball_tree_p1": KNeighborsClassifier(3, algorithm="ball_tree", p=1, leaf_size=3),
        "knn_kd_tree_manhattan": KNeighborsClassifier(
            4, algorithm="kd_tree", metric="manhattan", weights="distance", leaf_size=2
        ),
        "knn_regressor_kd_tree_chebyshev": KNeighborsRegressor(
            3, algorithm="kd_tree", metric="chebyshev", leaf_size=1
        ),
        "knn_regressor_ball_tree_minkowski_p3_weighted": KNeighborsRegressor(
            3, algorithm="ball_tree", p=3, metric_params={"w": weights}
        ),
        "radius_classifier_kd_tree_p2": RadiusNeighborsClassifier(
            2.0, algorithm="kd_tree", p=2, outlier_label="most_frequent"
        ),
        "radius_regressor_ball_tree_chebyshev": RadiusNeighborsRegressor(
            3.0, algorithm="ball_tree", metric="chebyshev"
        ),
        "nearest_neighbors_kd_tree": NearestNeighbors(n_neighbors=4, leaf_size=1),
        "lof_novelty_kd_tree": LocalOutlierFactor(n_neighbors=5, novelty=True),
        "kernel_density_ball_tree": KernelDensity(algorithm="ball_tree", bandwidth=0.7),
    }


def _outputs(model, X):
    """What a fitted neighbour model computes from a tree query, for comparison."""
    rng = np.random.default_rng(1)
    probe = np.vstack([X[:5], rng.normal(size=(5, X.shape[1]))])
    if isinstance(model, KernelDensity):
        return [model.score_samples(probe)]
    if isinstance(model, LocalOutlierFactor):
        return [model.score_samples(probe), *model.kneighbors(probe)]
    if isinstance(model, (RadiusNeighborsClassifier, RadiusNeighborsRegressor)):
        dist, ind = model.radius_neighbors(probe, sort_results=True)
        return [model.predict(probe), *dist, *ind]
    out = [*model.kneighbors(probe)]
    if not isinstance(model, NearestNeighbors):
        out.append(model.predict(probe))
    return out


@pytest.mark.parametrize("name", list(_models()))
def test_fitted_neighbour_models_with_a_tree_load_without_trust_and_query_the_same(
    name, data, tmp_path
):
    X, y = data
    model = _models()[name]
    model.fit(X, y * 1.0 if hasattr(model, "predict") and not hasattr(model, "novelty") else None)
    assert getattr(model, "_fit_method", None) in ("kd_tree", "ball_tree", None)
    path = tmp_path / f"{name}.skops"
    sio.dump(model, path)
    loaded = load_model(path)
    tree = loaded.tree_ if isinstance(loaded, KernelDensity) else loaded._tree
    assert type(tree).__name__ in _TREES
    for got, expected in zip(_outputs(loaded, X), _outputs(model, X), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_kernel_density_with_sample_weights_on_a_kd_tree_loads_the_same(data, tmp_path):
    X, _ = data
    model = KernelDensity(algorithm="kd_tree").fit(X, sample_weight=np.linspace(1, 2, len(X)))
    sio.dump(model, tmp_path / "kde.skops")
    loaded = load_model(tmp_path / "kde.skops")
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.tree_.sample_weight, model.tree_.sample_weight)


def _tamper(tmp_path, model, position, edit, metric_position=None, name="knn.skops"):
    """Dump ``model``, then change one item of its tree's state tuple (of its
    metric's state tuple when ``metric_position`` is given): ``edit`` is applied to
    the array of a ``.npy`` item; any other item gets the JSON value ``edit``."""
    src = tmp_path / f"clean_{name}"
    sio.dump(model, src)
    replace = {}
    with zipfile.ZipFile(src) as archive:
        schema = json.loads(archive.read("schema.json"))
        by_id = {s["__id__"]: s for s in _states(schema) if "file" in s}
        trees = [s for s in _states(schema) if s.get("__class__") in _TREES]
        assert len(trees) == 1
        items = trees[0]["content"]["content"]
        if metric_position is not None:
            items = items[METRIC]["content"]["content"]
            position = metric_position
        state = by_id.get(items[position].get("__id__"), items[position])
        if callable(edit):
            buffer = io.BytesIO()
            np.save(buffer, edit(np.load(io.BytesIO(archive.read(state["file"])))))
            replace[state["file"]] = buffer.getvalue()
        else:
            items[position] = {"__class__": type(edit).__name__, "__module__": "builtins",
                               "__loader__": "JsonNode", "content": json.dumps(edit),
                               "is_json": True, "__id__": 7}  # fmt: skip
    replace["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp_path / name, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
    return tmp_path / name


def _set(index, value, field=None):
    def edit(a):
        a = a.copy()
        if field is None:
            a[index] = value
        else:
            a[field][index] = value
        return a

    return edit


_KD = KNeighborsClassifier(3, algorithm="kd_tree", leaf_size=4)
_KD_P3 = KNeighborsClassifier(3, algorithm="kd_tree", p=3)
_BALL_W = KNeighborsRegressor(3, algorithm="ball_tree", metric_params={"w": np.ones(3)})


@pytest.mark.parametrize(
    ("model", "position", "edit", "metric_position", "reason"),
    [
        (_KD, IDX, _set(0, 10**9), None, "idx_array is not a permutation of its 40 points"),
        (_KD, IDX, _set(1, -1), None, "idx_array is not a permutation"),
        (_KD, IDX, lambda a: np.zeros_like(a), None, "idx_array is not a permutation"),
        (_KD, IDX, lambda a: a.astype(np.int32), None, "idx_array is not a permutation"),
        (_KD, IDX, lambda a: a[:-1], None, "idx_array is not a permutation"),
        (_KD, NODES, _set(0, 41, "idx_end"), None, "node 0 has idx_start 0, idx_end 41"),
        (_KD, NODES, _set(-1, 10**9, "idx_end"), None, "node 14 has idx_start"),
        (_KD, NODES, _set(7, 0, "is_leaf"), None, "node 7 has idx_start"),
        (_KD, NODES, _set(0, 1, "is_leaf"), None, "node 0 has"),
        (_KD, NODES, _set(2, 5, "idx_start"), None, "node 2 has idx_start 5"),
        (_KD, NODES, _set(1, np.nan, "radius"), None, "node radii are not finite"),
        (_KD, NODES, _set(1, -1.0, "radius"), None, "node radii are not finite and non-neg"),
        (_KD, NODES, lambda a: a[:-1], None, "node_data is not 15 records"),
        (_KD, NODES, lambda a: a.astype(a.dtype.newbyteorder()), None, "node_data is not 15"),
        (
            _KD,
            BOUNDS,
            lambda a: a[:, :-1],
            None,
            "node_bounds is a float64 array of shape "
            "(2, 14, 3), expected float64 of shape (2, 15, 3)",
        ),  # fmt: skip
        (_KD, BOUNDS, lambda a: a[:1], None, "expected float64 of shape (2, 15, 3)"),
        (_KD, BOUNDS, _set((0, 0, 0), np.inf), None, "node_bounds holds values that are not"),
        (_KD, DATA, lambda a: a[:, :2].copy(), None, "node_bounds is a float64 array"),
        (_KD, DATA, lambda a: a.astype(np.float32), None, "data is a float32 array"),
        (_KD, DATA, _set((3, 1), np.nan), None, "data holds values that are not finite"),
        (_KD, LEAF_SIZE, 0, None, "leaf_size is 0, not at least 1"),
        (_KD, LEAF_SIZE, 1, None, "has n_levels 4 and n_nodes 15, expected 6 and 63"),
        (_KD, N_LEVELS, 30, None, "has n_levels 30 and n_nodes 15, expected 4 and 15"),
        (_KD, N_NODES, 2**20, None, "n_nodes 1048576, expected 4 and 15"),
        (_KD, N_NODES, "15", None, "n_nodes is str, not an integer"),
        (_KD, N_CALLS, 2**40, None, "n_calls is 1099511627776, not between 0 and"),
        (_KD, WEIGHT, [1.0] * 40, None, "sample_weight is list, not an array"),
        (_KD, 0, 3.0, 0, "KDTree's metric's p is 3.0, not 2.0"),
        (_KD, 1, lambda a: a.astype(np.float32), 1, "weights or matrix are not"),
        (_KD_P3, 1, lambda a: np.ones(3), 1, "has 3 weights, expected none (a KD tree takes"),
        (_KD_P3, 0, float("inf"), 0, "metric's p is inf, not a finite number above 0"),
        (_BALL_W, 1, lambda a: a[:2], 1, "BallTree's metric has 2 weights, expected none or 3"),
        (_BALL_W, 1, lambda a: -a, 1, "weights are not finite and non-negative"),
        (_BALL_W, 0, -1.0, 0, "metric's p is -1.0, not a finite number above 0"),
        (
            _BALL_W,
            BOUNDS,
            lambda a: np.concatenate([a, a]),
            None,
            "expected float64 of shape (1, 1, 3)",
        ),  # fmt: skip
    ],
)
def test_inconsistent_tree_arrays_are_refused_before_skops_builds_them(
    model, position, edit, metric_position, reason, data, tmp_path
):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = _tamper(tmp_path, model, position, edit, metric_position)
    message = refusal(path)
    assert "'knn.skops' was refused" in message and reason in message
    assert "save the model again with skops.io.dump" in message


_QUERY = "print(m.kneighbors(np.zeros((4, 3)) + float(sys.argv[2]))[1].tolist(), flush=True)"


@pytest.mark.parametrize(
    ("position", "edit", "reason"),
    [
        (IDX, _set(0, 10**9), "idx_array is not a permutation of its 40 points"),
        (NODES, _set(7, 10**9, "idx_end"), "node 7 has idx_start"),
    ],
    ids=["idx_array_entry_1e9", "idx_end_1e9"],
)
def test_a_crafted_kd_tree_is_refused_and_crashed_the_old_path(
    position, edit, reason, data, tmp_path, subprocess_loader
):
    X, y = data
    model = KNeighborsClassifier(40, algorithm="kd_tree", leaf_size=4).fit(X, y)
    path = _tamper(tmp_path, model, position, edit)
    returncode, results, stderr = subprocess_loader([path])
    assert returncode == 0, stderr
    assert results[str(path)].startswith("InputError: model file 'knn.skops' was refused: ")
    assert reason in results[str(path)]
    # skops builds the same file when told to trust its types; the first query
    # follows the crafted index
    run = load_the_old_way(path, _QUERY, 0)
    assert run.returncode < 0  # killed by a signal (SIGSEGV)


def test_a_ball_tree_with_a_metric_the_allowlist_leaves_out_is_refused_by_type(data, tmp_path):
    X, y = data
    model = KNeighborsClassifier(3, algorithm="ball_tree", metric="seuclidean")
    sio.dump(model.set_params(metric_params={"V": np.ones(3)}).fit(X, y), tmp_path / "se.skops")
    message = refusal(tmp_path / "se.skops")
    # the tree itself is allowed; its metric is the one type refused
    assert "holds 1 type(s) whybox does not load without trust" in message
    assert "SEuclideanDistance64" in message and "--trust-model-file" in message
    assert message.endswith("or refit the nearest-neighbours model with algorithm='brute'.")


def test_a_distance_metric_outside_a_tree_is_refused(data, tmp_path):
    X, y = data
    sio.dump(KNeighborsClassifier(3, algorithm="kd_tree", p=3).fit(X, y), tmp_path / "k.skops")
    with zipfile.ZipFile(tmp_path / "k.skops") as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {n: archive.read(n) for n in archive.namelist()}
    attrs = schema["content"]["content"]
    tree = attrs["_tree"]["content"]["content"]
    # a copy of the tree's metric as the model's metric_params: its weights are
    # checked against no tree's features
    attrs["metric_params"] = json.loads(
        json.dumps(tree[METRIC]).replace('"__id__": ', '"__id__": 1')
    )
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(tmp_path / "knn.skops", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    message = refusal(tmp_path / "knn.skops")
    assert (
        "a distance metric (sklearn.metrics._dist_metrics.MinkowskiDistance64) is held " in message
    )
    assert "outside a KD or ball tree" in message
