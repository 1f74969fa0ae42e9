"""Explainers on dask collections: lazy Explanations on a real two-worker cluster.

Proofs: every value computed on the cluster equals the in-memory call on the same rows,
bit for bit, for the methods that are deterministic per row (TreeSHAP both ways,
interaction values, the linear explainer, exact enumeration, KernelSHAP with its shared
design); PermutationSHAP gives each chunk the values the in-memory call gives that chunk
alone. The explainer is one key of the graph, read by every chunk's task.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox import InputError
from whybox.shapley import (
    ExactExplainer,
    KernelExplainer,
    LinearExplainer,
    PermutationExplainer,
    TreeExplainer,
)

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
get_task_stream = pytest.importorskip("distributed").get_task_stream

N, D, CHUNK = 1200, 4, 300


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = X[:, 0] + X[:, 1] * X[:, 2] - 0.5 * (X[:, 3] > 0)
    return X, y


@pytest.fixture(scope="module")
def boosted(table) -> GradientBoostingRegressor:
    X, y = table
    return GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)


def _same(lazy, eager) -> None:
    """``lazy`` is a lazy Explanation with X's row chunks whose computation is ``eager``."""
    assert lazy.is_lazy
    for name in ("values", "base_values", "data", "model_output"):
        assert isinstance(getattr(lazy, name), da.Array), name
    done = lazy.compute()
    assert not done.is_lazy
    for name in ("values", "base_values", "data", "model_output"):
        np.testing.assert_array_equal(getattr(done, name), getattr(eager, name), err_msg=name)
    assert done.feature_names == eager.feature_names
    # the params record the number of X's row chunks (empty ones included)
    assert done.params == {**eager.params, "dask_chunks": done.params["dask_chunks"]}
    assert done.params["dask_chunks"] >= len(lazy.values.chunks[0])
    assert done.output_names == eager.output_names
    assert (done.method, done.output_space, done.axes) == (
        eager.method,
        eager.output_space,
        eager.axes,
    )


def _explainer_keys(collection, explainer) -> int:
    """How many keys of the graph hold the explainer (a copy without a progress bar that
    shares its parsed ensemble)."""
    graph = dict(collection.__dask_graph__())
    held = [getattr(task, "value", task) for task in graph.values()]
    return sum(
        type(h) is type(explainer) and h.ensemble is explainer.ensemble and h.progress is False
        for h in held
    )


@pytest.mark.parametrize("perturbation", ["tree_path_dependent", "interventional"])
def test_tree_explainer_on_a_dask_array_equals_the_in_memory_call(
    dask_client, table, boosted, perturbation
):
    X, _ = table
    background = X[:50] if perturbation == "interventional" else None
    ex = TreeExplainer(boosted, background=background, feature_perturbation=perturbation)
    dX = da.from_array(X, chunks=(CHUNK, 2))  # column chunks are joined per row chunk
    lazy = ex(dX)
    assert lazy.values.chunks[0] == dX.chunks[0]
    assert lazy.values.shape == (N, D, 1)
    _same(lazy, ex(X))


def test_interaction_values_on_a_dask_array(dask_client, table, boosted):
    X, _ = table
    ex = TreeExplainer(boosted)
    lazy = ex.interaction_values(da.from_array(X[:600], chunks=200))
    assert lazy.axes == ("samples", "features", "features", "outputs")
    assert lazy.values.chunks[0] == (200, 200, 200)
    _same(lazy, ex.interaction_values(X[:600]))


def test_the_explainer_is_one_key_of_the_graph(dask_client, table, boosted):
    X, _ = table
    ex = TreeExplainer(boosted)
    sizes = {}
    for chunk in (300, 150, 75):
        dX = da.from_array(X, chunks=(chunk, D))
        lazy = ex(dX)
        for arr in (lazy.values, lazy.base_values, lazy.model_output):
            assert _explainer_keys(arr, ex) == 1
        # the tasks added to X's graph
        sizes[N // chunk] = len(dict(lazy.values.__dask_graph__())) - len(dict(dX.dask))
    # a fixed number of tasks per chunk (its explanation, its values' block and the links
    # between them), none of them a copy of the explainer
    per_chunk = (sizes[16] - sizes[8]) / 8
    assert per_chunk == (sizes[8] - sizes[4]) / 4
    assert per_chunk <= 4


def test_unknown_chunk_sizes_are_counted(dask_client, table, boosted):
    X, _ = table
    ex = TreeExplainer(boosted)
    dX = da.from_array(X, chunks=(CHUNK, D))
    kept = dX[dX[:, 0] > 0]
    assert np.isnan(kept.shape[0])
    lazy = ex(kept)
    rows = X[X[:, 0] > 0]
    assert lazy.values.shape[0] == len(rows)
    _same(lazy, ex(rows))


def test_linear_explainer_on_a_dask_array(dask_client, table):
    X, y = table
    ex = LinearExplainer(LinearRegression().fit(X, y), X[:100])
    _same(ex(da.from_array(X, chunks=(CHUNK, D))), ex(X))


def test_exact_explainer_on_a_dask_array_and_a_dask_dataframe(dask_client, table, boosted):
    X, _ = table
    rows = X[:400]
    ex = ExactExplainer(boosted, X[:20])
    eager = ex(rows)
    _same(ex(da.from_array(rows, chunks=(100, D))), eager)
    frame = pd.DataFrame(rows, columns=[f"x{i}" for i in range(D)])
    ex_frame = ExactExplainer(boosted, pd.DataFrame(X[:20], columns=frame.columns))
    lazy = ex_frame(dd.from_pandas(frame, npartitions=3))
    assert lazy.feature_names == tuple(frame.columns)
    _same(lazy, ex_frame(frame))


def test_a_pipeline_with_a_text_column_on_a_dask_dataframe(dask_client):
    rng = np.random.default_rng(1)
    n = 900
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n),
            "income": rng.lognormal(3.0, 0.5, n),
            "age": rng.normal(40.0, 10.0, n).round(),
        }
    )
    y = 1.5 * (frame.colour == "red") + 0.03 * frame.age + 0.01 * frame.income
    pipe = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"])],
            remainder="passthrough",
        ),
        GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0),
    ).fit(frame, y)
    ex = TreeExplainer(pipe)
    lazy = ex(dd.from_pandas(frame, npartitions=4))
    assert lazy.feature_names == ("colour", "income", "age")
    assert lazy.data.dtype == object
    _same(lazy, ex(frame))


def test_kernel_explainer_shares_its_design_across_chunks(dask_client, table, boosted):
    X, _ = table
    ex = KernelExplainer(boosted, X[:20], max_evals=10)
    rows = X[:300]
    lazy = ex(da.from_array(rows, chunks=(100, D)))
    assert isinstance(lazy.quality["standard_error"], da.Array)
    done = lazy.compute()
    eager = ex(rows)
    _same(lazy, eager)
    np.testing.assert_array_equal(done.quality["standard_error"], eager.quality["standard_error"])


def test_permutation_explainer_draws_per_chunk(dask_client, table, boosted):
    X, _ = table
    ex = PermutationExplainer(boosted, X[:20], n_permutations=3)
    rows = X[:300]
    done = ex(da.from_array(rows, chunks=(100, D))).compute()
    for start in (0, 100, 200):
        alone = ex(rows[start : start + 100])
        np.testing.assert_array_equal(done.values[start : start + 100], alone.values)
    # the in-memory call on all rows draws other orderings for the later rows
    assert not np.array_equal(done.values[100:], ex(rows).values[100:])


def test_to_parquet_writes_every_row_once_from_the_workers(dask_client, table, tmp_path):
    X, _ = table
    y = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])  # three classes: three outputs
    model = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(X, y)
    ex = TreeExplainer(model)
    lazy = ex(da.from_array(X, chunks=(CHUNK, D)))
    with get_task_stream() as stream:
        lazy.to_parquet(tmp_path / "lazy")
    # each chunk explained once, though three fields of it are written
    explained = [t for t in stream.data if str(t["key"]).startswith("_explain_chunk")]
    assert len(explained) == N // CHUNK
    written = pd.read_parquet(tmp_path / "lazy").sort_values("row", ignore_index=True)
    np.testing.assert_array_equal(written["row"], np.arange(N))
    eager = ex(X)
    features, outputs = eager.feature_names, eager.output_names
    assert len(outputs) == 3
    assert list(written.columns) == [
        "row",
        *(f"shap:{f}:{o}" for f in features for o in outputs),
        *(f"base_value:{o}" for o in outputs),
        *(f"model_output:{o}" for o in outputs),
    ]
    for j, f in enumerate(features):
        for k, o in enumerate(outputs):
            np.testing.assert_array_equal(written[f"shap:{f}:{o}"], eager.values[:, j, k])
    for k, o in enumerate(outputs):
        np.testing.assert_array_equal(written[f"base_value:{o}"], eager.base_values[:, k])
        np.testing.assert_array_equal(written[f"model_output:{o}"], eager.model_output[:, k])
    # the in-memory Explanation writes the same table with pandas
    eager.to_parquet(tmp_path / "eager.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "eager.parquet"), written)


def test_what_needs_numbers_on_a_lazy_explanation(dask_client, table, boosted):
    X, _ = table
    ex = TreeExplainer(boosted)
    lazy = ex(da.from_array(X, chunks=(CHUNK, D)))
    eager = ex(X)
    with pytest.raises(InputError, match="compute"):
        lazy.to_dict()
    with pytest.raises(InputError, match="compute"):
        lazy.to_frame()
    as_dict = lazy.compute().to_dict()
    assert as_dict.pop("params") == {**eager.to_dict()["params"], "dask_chunks": N // CHUNK}
    assert as_dict == {k: v for k, v in eager.to_dict().items() if k != "params"}
    pd.testing.assert_frame_equal(lazy.global_importance(), eager.global_importance())
    err = lazy.additivity_error
    assert isinstance(err, da.Array)
    np.testing.assert_array_equal(err.compute(), eager.additivity_error)
    for key in (slice(10, 400), (slice(None), "x1"), (slice(None), ["x0", "x2"]), 3):
        part = lazy[key]  # slicing stays lazy
        assert part.is_lazy
        np.testing.assert_array_equal(part.compute().values, eager[key].values)
    with pytest.raises(InputError, match="to_parquet needs"):
        ex.interaction_values(da.from_array(X[:10], chunks=5)).to_parquet("unused")


def test_a_filtered_dataframe_with_an_empty_first_partition(dask_client, table, boosted):
    X, _ = table
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(D)])
    ex = TreeExplainer(boosted)
    ddf = dd.from_pandas(frame, npartitions=4)
    kept = ddf.map_partitions(lambda p: p[p.index >= CHUNK])  # the first partition: no row
    lazy = ex(kept)
    assert lazy.values.chunks[0] == (CHUNK, CHUNK, CHUNK)  # an empty chunk is left out
    _same(lazy, ex(frame.iloc[CHUNK:]))
    with pytest.raises(InputError, match="at least one row"):
        ex(ddf.map_partitions(lambda p: p.iloc[:0]))


def _frames_with_a_bad_middle(X: np.ndarray, bad: str):
    """A dask DataFrame of three delayed pandas frames (columns a..d), the middle one
    with column 'b' renamed ('columns') or holding int64 ('dtypes'); dask's own check
    of the meta is off, so the frame reaches whybox as a user may build it."""
    import dask

    names = ["a", "b", "c", "d"]
    frames = [pd.DataFrame(X[i * 100 : (i + 1) * 100], columns=names) for i in range(3)]
    if bad == "columns":
        frames[1] = frames[1].rename(columns={"b": "B"})
    else:
        frames[1]["b"] = np.arange(100, dtype=np.int64)
    parts = [dask.delayed(lambda f: f)(f) for f in frames]
    return dd.from_delayed(parts, meta=frames[0].iloc[:0], verify_meta=False)


@pytest.mark.parametrize(
    "bad,message",
    [
        ("columns", r"^partition 1 of X lacks the column 'b'; give every partition"),
        ("dtypes", r"^partition 1 of X holds int64 in column 'b', not float64 as the meta says;"),
    ],
)
def test_a_partition_unlike_the_meta_is_named(dask_client, table, boosted, bad, message):
    X, _ = table
    ex = TreeExplainer(boosted)
    with pytest.raises(InputError, match=message):
        ex(_frames_with_a_bad_middle(X, bad))


def test_a_partition_dask_cannot_build_is_named(dask_client, table, boosted):
    import dask

    X, _ = table
    frames = [pd.DataFrame(X[i * 100 : (i + 1) * 100], columns=list("abcd")) for i in range(3)]
    frames[2] = frames[2].rename(columns={"c": "z"})
    ddf = dd.from_delayed([dask.delayed(lambda f: f)(f) for f in frames], meta=frames[0].iloc[:0])
    # dask's own check of the meta fails inside the partition's task: traced to partition 2
    with pytest.raises(InputError, match=r"^partition 2 of X cannot be computed \(ValueError: "):
        TreeExplainer(boosted)(ddf)
