"""The Explanation contract: shapes, slicing by position and name, additivity, round trips."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from whybox import Explanation, InputError


@pytest.fixture
def ex():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 3, 2))
    base = rng.normal(size=(5, 2))
    return Explanation(
        values=values,
        base_values=base,
        data=rng.normal(size=(5, 3)),
        feature_names=("age", "income", "debt"),
        output_names=("no", "yes"),
        method="test",
        model_output=values.sum(axis=1) + base,
    )


def test_fields_are_float64_and_fixed_rank(ex):
    assert ex.values.dtype == np.float64
    assert ex.values.shape == (5, 3, 2)
    assert ex.base_values.shape == (5, 2)
    assert ex.axes == ("samples", "features", "outputs")


def test_additivity_error_is_zero_when_values_add_up(ex):
    assert ex.additivity_error.shape == (5,)
    np.testing.assert_allclose(ex.additivity_error, 0.0, atol=1e-12)


def test_additivity_error_measures_the_gap(ex):
    shifted = Explanation(
        ex.values, ex.base_values, ex.data, ex.feature_names, ex.output_names,
        model_output=ex.model_output + np.array([[0.0, 0.5]] * 5),
    )  # fmt: skip
    np.testing.assert_allclose(shifted.additivity_error, 0.5)


def test_integer_index_drops_the_sample_axis(ex):
    row = ex[2]
    assert row.axes == ("features", "outputs")
    np.testing.assert_array_equal(row.values, ex.values[2])
    np.testing.assert_array_equal(row.base_values, ex.base_values[2])
    np.testing.assert_array_equal(row.data, ex.data[2])
    assert row.additivity_error.shape == ()


def test_feature_and_output_names_select(ex):
    sub = ex[:, "income"]
    assert sub.axes == ("samples", "outputs")
    np.testing.assert_array_equal(sub.values, ex.values[:, 1])
    np.testing.assert_array_equal(sub.data, ex.data[:, 1])
    one_output = ex[:, :, "yes"]
    assert one_output.axes == ("samples", "features")
    assert one_output.base_values.shape == (5,)
    np.testing.assert_array_equal(one_output.values, ex.values[:, :, 1])
    lists = ex[1:4, ["debt", "age"], ["yes"]]
    assert lists.feature_names == ("debt", "age")
    np.testing.assert_array_equal(lists.values, ex.values[1:4][:, [2, 0]][:, :, [1]])
    np.testing.assert_array_equal(lists.data, ex.data[1:4][:, [2, 0]])


def test_boolean_mask_on_samples(ex):
    mask = np.array([True, False, True, False, False])
    np.testing.assert_array_equal(ex[mask].values, ex.values[mask])


def test_bad_names_and_indices_raise(ex):
    with pytest.raises(KeyError, match="'height' is not one of the features"):
        ex[:, "height"]
    with pytest.raises(IndexError):
        ex[7]
    with pytest.raises(IndexError, match="too many indices"):
        ex[0, 0, 0, 0]


def test_wrong_shapes_raise_input_error():
    with pytest.raises(InputError, match="2 feature names"):
        Explanation(np.zeros((2, 3, 1)), np.zeros((2, 1)), None, ("a", "b"), ("y",))
    with pytest.raises(InputError, match="base_values must have shape"):
        Explanation(np.zeros((2, 3, 1)), np.zeros((2,)), None, ("a", "b", "c"), ("y",))
    with pytest.raises(InputError, match="output_space"):
        Explanation(
            np.zeros((2, 1, 1)), np.zeros((2, 1)), None, ("a",), ("y",), output_space="logit"
        )


def test_global_importance_is_mean_absolute_value(ex):
    imp = ex.global_importance()
    assert list(imp.columns) == ["no", "yes"]
    expected = np.abs(ex.values).mean(axis=0)
    for j, name in enumerate(ex.feature_names):
        np.testing.assert_allclose(imp.loc[name].to_numpy(), expected[j])
    assert imp.mean(axis=1).is_monotonic_decreasing


def test_to_frame_is_tidy(ex):
    frame = ex.to_frame()
    assert len(frame) == 5 * 3 * 2
    row = frame[(frame["sample"] == 3) & (frame.feature == "debt") & (frame.output == "yes")]
    assert row.value.item() == ex.values[3, 2, 1]
    assert row.feature_value.item() == ex.data[3, 2]
    assert row.base_value.item() == ex.base_values[3, 1]
    assert isinstance(frame, pd.DataFrame)


def test_json_round_trip(ex):
    back = Explanation.from_dict(json.loads(ex.to_json()))
    np.testing.assert_array_equal(back.values, ex.values)
    np.testing.assert_array_equal(back.base_values, ex.base_values)
    assert back.feature_names == ex.feature_names
    assert back.output_names == ex.output_names
    np.testing.assert_allclose(back.additivity_error, ex.additivity_error)


def test_interaction_axes_slice():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(4, 3, 3, 1))
    inter = Explanation(
        values, np.zeros((4, 1)), rng.normal(size=(4, 3)), ("a", "b", "c"), ("y",),
        axes=("samples", "features", "features", "outputs"),
    )  # fmt: skip
    row = inter[0]
    assert row.axes == ("features", "features", "outputs")
    np.testing.assert_array_equal(row.values, values[0])


def test_per_value_quality_follows_slicing_and_json_is_strict(ex):
    se = np.arange(ex.values.size, dtype=float).reshape(ex.values.shape)
    se[0, 0, 0] = np.nan
    with_se = replace(ex, quality={"standard_error": se, "note": "sampled"})
    np.testing.assert_array_equal(with_se[1, "income"].quality["standard_error"], se[1, 1])
    assert with_se[1, "income"].quality["note"] == "sampled"
    text = with_se.to_json()
    assert "NaN" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    back = Explanation.from_dict(json.loads(text))
    np.testing.assert_array_equal(back.quality["standard_error"], se)


def test_per_sample_output_quality_follows_base_values(ex):
    r2 = np.arange(ex.base_values.size, dtype=float).reshape(ex.base_values.shape)
    with_r2 = replace(ex, quality={"local_r2": r2})
    np.testing.assert_array_equal(with_r2[1:3].quality["local_r2"], r2[1:3])
    np.testing.assert_array_equal(with_r2[1, "income"].quality["local_r2"], r2[1])
    np.testing.assert_array_equal(with_r2[:, :, 0].quality["local_r2"], r2[:, 0])


def test_compute_of_an_in_memory_explanation_is_itself(ex):
    assert not ex.is_lazy
    assert ex.compute() is ex


def test_to_parquet_writes_one_row_per_sample(ex, tmp_path):
    ex.to_parquet(tmp_path / "ex.parquet")
    written = pd.read_parquet(tmp_path / "ex.parquet")
    assert list(written.columns) == [
        "row",
        *(f"shap:{f}:{o}" for f in ex.feature_names for o in ex.output_names),
        "base_value:no",
        "base_value:yes",
        "model_output:no",
        "model_output:yes",
    ]
    np.testing.assert_array_equal(written["row"], np.arange(5))
    np.testing.assert_array_equal(written["shap:income:yes"], ex.values[:, 1, 1])
    np.testing.assert_array_equal(written["base_value:no"], ex.base_values[:, 0])
    with pytest.raises(InputError, match="to_parquet needs"):  # the output axis dropped
        ex[:, :, "yes"].to_parquet(tmp_path / "bad.parquet")
    single = replace(  # a single output: no suffix
        ex,
        values=ex.values[:, :, 1:],
        base_values=ex.base_values[:, 1:],
        model_output=None,
        output_names=("yes",),
    )
    single.to_parquet(tmp_path / "single.parquet")
    written = pd.read_parquet(tmp_path / "single.parquet")
    assert list(written.columns) == ["row", "shap:age", "shap:income", "shap:debt", "base_value"]
    np.testing.assert_array_equal(written["shap:debt"], ex.values[:, 2, 1])
