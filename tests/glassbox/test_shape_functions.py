"""shape_functions: each term's curve, band, density and importance, proved against the
libraries' own views (EBM's explain_global and term_importances, pyGAM's partial_dependence)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from tests._requires import requires
from whybox._exceptions import InputError, UnsupportedModelError
from whybox.glassbox import (
    AdditiveModel,
    Binning,
    ShapeFunctions,
    Term,
    from_ebm,
    shape_functions,
)


def _data(n=500, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.uniform(size=n),
            "c": rng.choice(["x", "y", "z"], size=n),
        }
    )
    X.loc[rng.random(n) < 0.05, "a"] = np.nan
    z = X["a"].fillna(0) + X["b"] * (X["c"] == "x") + rng.normal(size=n) * 0.3
    if classes == 0:
        return X, z.to_numpy()
    return X, np.digitize(z, np.quantile(z, np.linspace(0, 1, classes + 1)[1:-1]))


def _ebm(kind="binary"):
    glassbox = requires("interpret.glassbox")
    X, y = _data(classes={"binary": 2, "multiclass": 3, "regression": 0}[kind])
    cls = (
        glassbox.ExplainableBoostingRegressor
        if kind == "regression"
        else glassbox.ExplainableBoostingClassifier
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ebm = cls(interactions=[(0, 1), (1, 2)], outer_bags=4, max_rounds=150, random_state=0)
        ebm.fit(X, y)
    return ebm, X


@pytest.mark.parametrize("kind", ["binary", "regression", "multiclass"])
def test_ebm_curves_equal_explain_global(kind):
    ebm, _ = _ebm(kind)
    shapes = shape_functions(ebm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        view = ebm.explain_global()
    assert [t.name for t in shapes.terms] == list(ebm.term_names_)
    for i, term in enumerate(shapes.terms):
        if kind == "multiclass" and term.kind == "pair":
            continue  # explain_global leaves out a multiclass EBM's pairs
        data = view.data(i)
        # explain_global gives (n_bins,) for one output, (n_bins, n_classes) for several
        scores = np.moveaxis(term.scores, 0, -1)
        scores = scores[..., 0] if scores.shape[-1] == 1 else scores
        np.testing.assert_array_equal(scores, data["scores"])
        if term.kind == "pair":
            for axis, key in enumerate(("left_names", "right_names")):
                if term.levels[axis]:
                    assert term.levels[axis] == tuple(data[key])
                else:
                    np.testing.assert_array_equal(term.edges[axis], np.asarray(data[key], float))
            continue
        lower = np.moveaxis(term.lower, 0, -1).reshape(scores.shape)
        upper = np.moveaxis(term.upper, 0, -1).reshape(scores.shape)
        np.testing.assert_array_equal(lower, data["lower_bounds"])
        np.testing.assert_array_equal(upper, data["upper_bounds"])
        if term.kind == "numeric":
            np.testing.assert_array_equal(term.edges[0], np.asarray(data["names"], float))
        else:
            assert term.levels[0] == tuple(data["names"])
        # the missing bin's score, which explain_global leaves out
        np.testing.assert_array_equal(
            term.missing, np.reshape(ebm.term_scores_[i], (*ebm.term_scores_[i].shape[:1], -1))[0]
        )


@pytest.mark.parametrize("kind", ["binary", "regression", "multiclass"])
def test_ebm_importances_equal_term_importances(kind):
    ebm, _ = _ebm(kind)
    shapes = shape_functions(ebm)
    np.testing.assert_allclose(shapes.importances, ebm.term_importances(), rtol=1e-12, atol=0)
    # the weights are the training bin weights of the value bins
    for i, term in enumerate(shapes.terms):
        inner = tuple(slice(1, -1) for _ in term.features)
        np.testing.assert_array_equal(term.weights, np.asarray(ebm.bin_weights_[i])[inner])


def test_ebm_band_from_the_bags():
    ebm, _ = _ebm()
    term = shape_functions(ebm).terms[0]
    std = np.asarray(ebm.bagged_scores_[0]).std(axis=0)[1:-1]
    np.testing.assert_allclose(term.upper[0] - term.scores[0], std, rtol=1e-9, atol=1e-12)


def test_x_weighs_the_bins_by_counting_rows():
    ebm, X = _ebm()
    shapes = shape_functions(ebm, X)
    additive = from_ebm(ebm)
    values = additive.term_values(X)  # (n, terms, 1)
    for t, term in enumerate(shapes.terms):
        # the importance is the mean |term value| over the rows of X
        assert term.importance == pytest.approx(np.abs(values[:, t, 0]).mean(), rel=1e-12)
    counts = X["c"].value_counts()
    np.testing.assert_array_equal(shapes.terms[2].weights, [counts["x"], counts["y"], counts["z"]])


def test_hand_built_additive_model_closed_form():
    cut = Binning("numeric", cuts=np.array([0.0, 1.0]))
    cat = Binning("categorical", levels={"u": 1, "v": 2})
    main = Term(
        (0,), "a", bins=(cut,), scores=np.array([5.0, -1.0, 0.0, 2.0, 9.0]),
        weights=np.array([1.0, 1.0, 2.0, 1.0, 0.0]),
    )  # fmt: skip
    pair = Term(
        (0, 1), "a & c", bins=(cut, cat), scores=np.arange(20.0).reshape(5, 4) - 10,
        weights=np.ones((5, 4)),
    )  # fmt: skip
    model = AdditiveModel(("a", "c"), (main, pair), np.array([0.5]), "identity", ("y",), "hand")
    shapes = shape_functions(model)
    a, ac = shapes.terms
    assert a.kind == "numeric" and a.binned
    np.testing.assert_array_equal(a.scores, [[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(a.missing, [5.0])
    np.testing.assert_array_equal(a.edges[0], [-1.0, 0.0, 1.0, 2.0])  # extrapolated bounds
    assert a.lower is None and a.upper is None
    # (5*1 + 1*1 + 0*2 + 2*1 + 9*0) / 5
    assert a.importance == pytest.approx(8.0 / 5.0, rel=1e-15)
    assert ac.kind == "pair" and ac.levels == ((), ("u", "v"))
    np.testing.assert_array_equal(ac.scores[0], (np.arange(20.0).reshape(5, 4) - 10)[1:-1, 1:-1])
    assert ac.importance == pytest.approx(np.abs(np.arange(20.0) - 10).mean(), rel=1e-15)


def test_round_trip_and_frame():
    ebm, _ = _ebm("multiclass")
    shapes = shape_functions(ebm)
    back = ShapeFunctions.from_dict(json.loads(shapes.to_json()))
    for t, u in zip(shapes.terms, back.terms, strict=True):
        assert t.name == u.name and t.kind == u.kind and t.levels == u.levels
        np.testing.assert_array_equal(t.scores, u.scores)
    frame = shapes.to_frame()
    assert list(frame["term"]) == list(ebm.term_names_)
    assert frame.loc[frame["rank"] == 1, "importance"].item() == shapes.importances.max()
    assert shapes.top(2)[0].importance == shapes.importances.max()
    assert shapes.term("a").name == "a" and shapes.term(1).name == "b"
    with pytest.raises(InputError, match="term must be one of"):
        shapes.term("nope")


def test_refusals():
    with pytest.raises(UnsupportedModelError, match="additive"):
        shape_functions(object())
    ebm, _ = _ebm()
    with pytest.raises(InputError, match="grid_resolution"):
        shape_functions(ebm, grid_resolution=1)
    with pytest.raises(InputError, match="confidence_level"):
        shape_functions(ebm, confidence_level=1.5)


# ------------------------------------------------------------------------------ pyGAM
def _gam_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[
        rng.normal(size=n), rng.uniform(size=n), rng.integers(1, 4, size=n),
        rng.normal(size=n), rng.uniform(size=n),
    ]  # fmt: skip
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.5 * X[:, 2] + X[:, 3] * X[:, 4]
    return X, y + rng.normal(size=n) * 0.1


def _gam():
    pygam = requires("pygam")
    X, y = _gam_data()
    terms = pygam.s(0) + pygam.l(1) + pygam.f(2) + pygam.te(3, 4)
    return pygam.LinearGAM(terms).fit(X, y), X


def _grid(gam, term, X):
    """pyGAM's own grid of a term, with a known level in the factor column (pyGAM's
    generate_X_grid fills it with 0, which its own partial_dependence then refuses)."""
    grid = gam.generate_X_grid(term=term)
    grid[:, 2] = X[0, 2]
    return grid


def test_pygam_curves_equal_partial_dependence():
    gam, X = _gam()
    shapes = shape_functions(gam, confidence_level=0.9)
    for term in (0, 1):
        grid = _grid(gam, term, X)
        pdep, ci = gam.partial_dependence(term=term, X=grid, width=0.9)
        shape = shapes.terms[term]
        assert shape.kind == "curve" and not shape.binned
        np.testing.assert_array_equal(shape.edges[0], grid[:, term])
        np.testing.assert_allclose(shape.scores[0], pdep, rtol=0, atol=1e-12)
        np.testing.assert_allclose(shape.lower[0], ci[:, 0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(shape.upper[0], ci[:, 1], rtol=0, atol=1e-12)
    # the factor: one score per level
    factor = shapes.terms[2]
    assert factor.kind == "categorical" and factor.levels == (("1", "2", "3"),)
    rows = np.tile(X[0], (3, 1))
    rows[:, 2] = [1, 2, 3]
    np.testing.assert_allclose(
        factor.scores[0], gam.partial_dependence(term=2, X=rows), rtol=0, atol=1e-12
    )
    # the tensor term: pyGAM's mesh (generate_X_grid flattens it in "ij" order)
    grid = _grid(gam, 3, X)
    pdep, ci = gam.partial_dependence(term=3, X=grid, width=0.9)
    pair = shapes.terms[3]
    assert pair.kind == "pair" and pair.scores.shape == (1, 100, 100)
    np.testing.assert_allclose(pair.scores[0].ravel(), pdep, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pair.upper[0].ravel(), ci[:, 1], rtol=0, atol=1e-12)


def test_pygam_importance_over_x_is_the_centred_mean_abs_term():
    gam, X = _gam()
    shapes = shape_functions(gam, X)
    for i, shape in enumerate(shapes.terms):
        values = gam.partial_dependence(term=i, X=X)
        assert shape.importance == pytest.approx(np.abs(values - values.mean()).mean(), rel=1e-12)
        assert shape.weights.sum() == X.shape[0]
    assert shapes.weighting == f"the {X.shape[0]} rows of X"


def test_additive_model_of_an_ebm_gives_the_same_shapes():
    ebm, _ = _ebm()
    direct = shape_functions(ebm)
    via = shape_functions(from_ebm(ebm))  # the bins carry EBM's feature bounds
    for t, u in zip(direct.terms, via.terms, strict=True):
        for a, b in zip(t.edges, u.edges, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(t.scores, u.scores)
    np.testing.assert_array_equal(direct.importances, via.importances)
