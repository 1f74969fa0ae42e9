"""Anchors for tables.

Ground truths: closed forms (models whose decision depends on one or two features cut
at the training median, so the best anchor, its precision and coverage are known),
exact precision under the perturbation distribution by enumerating every (base row,
donor row) pair, and fresh samples drawn independently of the explainer.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest

from whybox import InputError, UnsupportedModelError
from whybox._discretize import fit_discretizer
from whybox.adapters import adapt_model
from whybox.anchors import AnchorTabular

TAU = 0.95


def _data(n=400, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def _classifier(fn, name="pos"):
    """A callable returning the positive class's probability, as a binary classifier."""
    return adapt_model(
        lambda Z: fn(np.asarray(Z, dtype=float)).astype(float)[:, None],
        task="classification",
        output_names=[name],
    )


def _intervals(anchor, X):
    """Raw-value intervals (low, high] of the anchor's conditions, from its bins, with a
    check that each condition's text describes its interval."""
    disc = fit_discretizer(X)
    out = []
    for j, (lo, hi), text in zip(anchor.features, anchor.bins, anchor.conditions, strict=True):
        e = disc.edges[j]
        low = -np.inf if lo == 0 else e[lo - 1]
        high = np.inf if hi == len(e) else e[hi]
        name = f"x{j}"
        if low == -np.inf:
            expected = f"{name} <= {high:.4g}"
        elif high == np.inf:
            expected = f"{name} > {low:.4g}"
        else:
            expected = f"{low:.4g} < {name} <= {high:.4g}"
        assert text == expected
        out.append((j, low, high))
    return out


def _satisfied(X, intervals):
    mask = np.ones(len(X), dtype=bool)
    for j, low, high in intervals:
        mask &= (X[:, j] > low) & (X[:, j] <= high)
    return mask


def _perturb(X, intervals, row, base, donors):
    """D(z | A): base rows with the anchored columns copied from donor rows where A holds."""
    Z = X[base].copy()
    cols = [j for j, _, _ in intervals]
    if cols:
        Z[:, cols] = X[donors][:, cols] if donors is not None else row[cols]
    return Z


def _exact_precision(label, X, intervals, row, target):
    """Precision under D(. | A), exactly: every (base row, donor row) pair once."""
    sat = np.flatnonzero(_satisfied(X, intervals))
    n = len(X)
    if sat.size == 0:
        Z = _perturb(X, intervals, row, np.arange(n), None)
    else:
        Z = _perturb(X, intervals, row, np.repeat(np.arange(n), sat.size), np.tile(sat, n))
    return float(np.mean(label(Z) == target))


def _fresh_precision(label, X, intervals, row, target, n=5000, seed=123):
    rng = np.random.default_rng(seed)
    sat = np.flatnonzero(_satisfied(X, intervals))
    base = rng.integers(len(X), size=n)
    donors = sat[rng.integers(sat.size, size=n)] if sat.size else None
    return float(np.mean(label(_perturb(X, intervals, row, base, donors)) == target))


# ---------------------------------------------------------------------- closed forms
def test_one_feature_model_gives_the_median_rule_exactly():
    X = _data()
    med = np.median(X[:, 0])
    model = _classifier(lambda Z: Z[:, 0] > med)
    explainer = AnchorTabular(model, X, random_state=0)
    a = explainer(np.array([1.2, -0.3, 0.5, 0.1]))[0]
    # "x0 > median" has precision 1 and coverage 1/2, the largest of any exact anchor
    assert a.conditions == (f"x0 > {med:.4g}",)
    assert a.features == (0,) and a.feature_names == ("x0",)
    assert a.prediction == "pos" and a.meets_threshold
    assert a.precision == 1.0 and a.coverage == 0.5
    assert a.precision_bounds[0] >= TAU and a.precision_bounds[1] == 1.0
    assert len(a.examples_different) == 0 and a.examples_same.shape == (10, 4)
    assert np.all(a.examples_same[:, 0] > med)
    assert str(a) == f"IF x0 > {med:.4g} THEN 'pos' (precision 1.00, coverage 0.50)"
    b = explainer([-1.0, 2.0, 0.0, 0.0])[0]
    assert b.conditions == (f"x0 <= {med:.4g}",) and b.prediction == "not pos"
    assert b.coverage == 0.5


def test_two_feature_and_model_needs_both_medians():
    X = _data()
    m0, m1 = np.median(X[:, 0]), np.median(X[:, 1])

    def label(Z):
        return ((Z[:, 0] > m0) & (Z[:, 1] > m1)).astype(int)

    # a beam of 4 keeps all four one-sided rules of precision 1/2 on x0 and x1 (the
    # rest have 1/4 or 1/3), so the search meets the best pair whatever the noise
    explainer = AnchorTabular(_classifier(label), X, beam_size=4, random_state=1)
    row = np.array([1.0, 1.0, 0.1, -0.2])
    a = explainer(row)[0]
    assert set(a.conditions) == {f"x0 > {m0:.4g}", f"x1 > {m1:.4g}"}
    assert a.coverage == np.mean((X[:, 0] > m0) & (X[:, 1] > m1))
    assert a.precision == 1.0 and a.meets_threshold
    # either condition alone holds on 1/2 of the perturbations only
    for j, m in ((0, m0), (1, m1)):
        single = [(j, m, np.inf)]
        assert _exact_precision(label, X, single, row, 1) == pytest.approx(0.5, abs=0.05)


def test_prediction_that_holds_everywhere_gives_the_empty_anchor():
    X = _data(n=200)
    explainer = AnchorTabular(_classifier(lambda Z: Z[:, 0] < 100), X, random_state=0)
    a = explainer(X[0])[0]
    assert a.conditions == () and len(a) == 0
    assert a.coverage == 1.0 and a.precision == 1.0 and a.meets_threshold
    assert str(a).startswith("IF (always) THEN 'pos'")
    assert explainer.holds(a, X).all()


# ---------------------------------------------------------------------- precision holds
@pytest.mark.parametrize(
    "row", [[1.5, 0.5, 0.0, 0.0], [-1.2, 0.3, 0.5, -0.5], [0.4, 1.5, 0.0, 0.0]]
)
def test_reported_precision_holds_on_fresh_perturbations(row):
    X = _data(n=300, seed=3)
    row = np.asarray(row)

    def label(Z):
        return (Z[:, 0] + 0.5 * Z[:, 1] > 0.2).astype(int)

    explainer = AnchorTabular(_classifier(label), X, random_state=0)
    a = explainer(row)[0]
    target = int(label(row[None])[0])
    assert a.meets_threshold and a.prediction == ("pos" if target else "not pos")
    intervals = _intervals(a, X)
    # coverage: the fraction of training rows satisfying the written conditions
    covered = _satisfied(X, intervals)
    assert a.coverage == covered.mean()
    np.testing.assert_array_equal(explainer.holds(a, X), covered)
    # the true precision under D(. | A), by enumeration, clears the threshold and lies
    # within the reported KL bounds
    exact = _exact_precision(label, X, intervals, row, target)
    assert exact >= TAU
    assert a.precision_bounds[0] <= exact <= a.precision_bounds[1]
    # 5,000 fresh perturbations drawn here: precision >= threshold minus 3 binomial sd
    fresh = _fresh_precision(label, X, intervals, row, target)
    assert fresh >= TAU - 3 * math.sqrt(TAU * (1 - TAU) / 5000)
    # the examples are perturbations where the anchor holds, labelled as reported
    for examples, same in ((a.examples_same, True), (a.examples_different, False)):
        if len(examples):
            assert _satisfied(examples.astype(float), intervals).all()
            assert np.all((label(examples.astype(float)) == target) == same)


def test_multiclass_sklearn_model_on_a_frame():
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    iris = load_iris(as_frame=True)
    X, y = iris.data, iris.target
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    model = adapt_model(tree, class_names=list(iris.target_names))
    explainer = AnchorTabular(model, X, random_state=0)
    row = X.iloc[[120]]
    target = int(tree.predict(row)[0])
    # columns in another order are put back in the model's order
    a = explainer(row[list(reversed(X.columns))])[0]
    assert type(a.prediction) is str and a.prediction == iris.target_names[target]
    assert a.meets_threshold
    assert a.columns == tuple(X.columns)
    series = explainer(X.iloc[120])[0]  # a Series is one row too
    assert (series.conditions, series.precision) == (a.conditions, a.precision)
    covered = explainer.holds(a, X)
    assert a.coverage == covered.mean()
    # exact precision under D(. | A) on the frame, with the tree's own predict
    values = X.to_numpy()
    sat = np.flatnonzero(covered)
    base = np.repeat(np.arange(len(values)), sat.size)
    Z = values[base].copy()
    cols = list(a.features)
    Z[:, cols] = values[np.tile(sat, len(values))][:, cols]
    exact = np.mean(tree.predict(pd.DataFrame(Z, columns=X.columns)) == target)
    assert exact >= TAU
    assert a.precision_bounds[0] <= exact <= a.precision_bounds[1]


def test_categorical_column_through_a_pipeline(colour_pipeline):
    frame, y, pipe = colour_pipeline
    # the tree predicts "red" exactly, so "color = red" has precision 1 and the
    # largest coverage of any exact anchor
    explainer = AnchorTabular(pipe, frame, random_state=0)
    red = frame[y].iloc[[0]]
    a = explainer(red)[0]
    assert a.prediction == "True" and a.meets_threshold
    assert a.conditions == ("color = red",) and a.precision == 1.0
    assert a.coverage == y.mean()
    assert a.examples_same.dtype == object
    assert json.loads(a.to_json())["instance"] == ["red", float(red["size"].iloc[0])]


# ---------------------------------------------------------------------- reproducibility
def test_same_seed_same_anchor_whatever_the_batch_size():
    X = _data(n=300, seed=3)
    model = _classifier(lambda Z: Z[:, 0] + 0.5 * Z[:, 1] > 0.2)
    row = np.array([0.4, 1.5, 0.0, 0.0])

    def fields(a):
        d = a.to_dict()
        for key in ("time_seconds", "n_model_calls", "params"):
            d.pop(key)
        return d

    first = AnchorTabular(model, X, random_state=7)(row)[0]
    again = AnchorTabular(model, X, random_state=7)(row)[0]
    small = AnchorTabular(model, X, random_state=7, batch_size=37)(row)[0]
    assert fields(first) == fields(again) == fields(small)
    assert small.n_model_calls > first.n_model_calls
    assert small.params["batch_size"] == 37 and first.params["random_state"] == 7
    assert first.params["whybox_version"]
    json.dumps(first.to_dict(), allow_nan=False)
    # one model call per batch of perturbations, however many; the default seed is 0
    [whole] = AnchorTabular(model, X, random_state=7, batch_size=None)(row)
    assert fields(whole) == fields(first) and whole.params["batch_size"] is None
    [default] = AnchorTabular(model, X)(row)
    [zero] = AnchorTabular(model, X, random_state=0)(row)
    assert fields(default) == fields(zero) and default.params["random_state"] == 0


def test_rows_together_equal_row_by_row():
    X = _data(n=200)
    med = np.median(X[:, 1])
    explainer = AnchorTabular(_classifier(lambda Z: Z[:, 1] > med), X, random_state=3)
    rows = X[:3]
    batch = explainer(rows)
    assert len(batch) == 3
    for a, row in zip(batch, rows, strict=True):
        [b] = explainer(row)  # a 1-D row is one row
        assert (a.conditions, a.precision, a.coverage, a.n_model_rows) == (
            b.conditions,
            b.precision,
            b.coverage,
            b.n_model_rows,
        )


def test_coverage_sample_and_json():
    X = _data(n=500)
    med = np.median(X[:, 0])
    explainer = AnchorTabular(
        _classifier(lambda Z: Z[:, 0] > med), X, coverage_samples=100, random_state=0
    )
    a = explainer(X[np.argmax(X[:, 0])])[0]
    assert a.params["coverage_rows"] == 100 and a.params["background_rows"] == 500
    assert a.coverage * 100 == round(a.coverage * 100)  # a fraction of the 100 rows
    d = json.loads(a.to_json())
    assert d["conditions"] == list(a.conditions) and d["bins"] == [list(b) for b in a.bins]


# ---------------------------------------------------------------------- feature groups
_COLOURS = ("red", "green", "blue")


def _colour_data(n=400, seed=0):
    """One-hot columns of a colour (a group) and two normal columns x0, x1."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(_COLOURS, n)
    onehot = np.column_stack([colour == c for c in _COLOURS]).astype(float)
    X = np.column_stack([onehot, rng.normal(size=(n, 2))])
    return pd.DataFrame(X, columns=[f"colour_{c}" for c in _COLOURS] + ["x0", "x1"])


def _colour_rule_holds(X, anchor, row, edges):
    """Where the anchor holds, from its conditions' own meaning: the colour group (player
    0) is the row's colour; x0, x1 (players 1, 2) lie in the range of their bins (the
    training quartiles ``edges``)."""
    mask = np.ones(len(X), dtype=bool)
    for p, (lo, hi) in zip(anchor.features, anchor.bins, strict=True):
        if p == 0:
            mask &= (X[:, :3] == row[:3]).all(axis=1)
            continue
        e = edges[p + 2]
        low = -np.inf if lo == 0 else e[lo - 1]
        high = np.inf if hi == len(e) else e[hi]
        mask &= (X[:, p + 2] > low) & (X[:, p + 2] <= high)
    return mask


def test_grouped_one_hot_columns_are_anchored_together_and_precision_holds():
    frame = _colour_data()
    X = frame.to_numpy()
    med = np.median(X[:, 3])

    def label(Z):
        return ((Z[:, 0] == 1) & (Z[:, 3] > med)).astype(int)

    model = _classifier(label)
    groups = {"colour": ["colour_red", "colour_green", "colour_blue"]}
    explainer = AnchorTabular(model, frame, feature_groups=groups, random_state=0)
    assert explainer.players.names == ("colour", "x0", "x1")
    # without the group, the anchor of a green row is "colour_red <= 0": part of the colour
    green = X[np.flatnonzero(X[:, 1] == 1)[0]]
    alone = AnchorTabular(model, frame, random_state=0)(green)[0]
    assert alone.conditions == ("colour_red <= 0",)
    edges = fit_discretizer(X).edges
    rng = np.random.default_rng(1)
    grouped = 0
    for row in X[:8]:
        a = explainer(row)[0]
        target = int(label(row[None])[0])
        assert a.meets_threshold and a.params["feature_groups"] == {
            "colour": [0, 1, 2],
            "x0": [3],
            "x1": [4],
        }
        # no condition names a single colour column; the group's names all three
        assert not set(a.feature_names) & set(groups["colour"])
        if "colour" in a.feature_names:
            grouped += 1
            i = a.feature_names.index("colour")
            assert a.features[i] == 0 and a.bins[i] == (0, 0)
            members = ", ".join(
                f"colour_{c} {'>' if h else '<='} 0" for c, h in zip(_COLOURS, row[:3], strict=True)
            )
            assert a.conditions[i] == f"colour ({members})"
        covered = _colour_rule_holds(X, a, row, edges)
        assert a.coverage == covered.mean()
        np.testing.assert_array_equal(explainer.holds(a, frame), covered)
        # every perturbation the explainer showed holds the rule and one colour exactly
        for examples, same in ((a.examples_same, True), (a.examples_different, False)):
            Z = examples.astype(float)
            assert len(Z) == 0 or _colour_rule_holds(Z, a, row, edges).all()
            np.testing.assert_array_equal(Z[:, :3].sum(axis=1), 1.0)
            assert np.all((label(Z) == target) == same)
        # 5,000 fresh perturbations drawn here, the anchored columns (the whole group)
        # copied from training rows where the rule holds
        cols = [j for p in a.features for j in ((0, 1, 2) if p == 0 else (p + 2,))]
        Z = X[rng.integers(len(X), size=5000)]
        donors = np.flatnonzero(covered)
        Z[:, cols] = X[donors[rng.integers(donors.size, size=5000)]][:, cols]
        fresh = np.mean(label(Z) == target)
        assert fresh >= TAU - 3 * math.sqrt(TAU * (1 - TAU) / 5000)
    assert grouped >= 3  # the red rows above the median need the colour


def test_model_of_one_group_is_anchored_by_that_group_alone():
    X = _data(seed=5)
    frame = pd.DataFrame(X, columns=["height", "weight", "x2", "x3"])
    m0, m1 = np.median(X[:, 0]), np.median(X[:, 1])
    model = _classifier(lambda Z: (Z[:, 0] > m0) & (Z[:, 1] > m1))
    explainer = AnchorTabular(
        model, frame, feature_groups={"size": ["height", "weight"]}, random_state=0
    )
    q3 = np.percentile(X[:, :2], 75, axis=0)
    row = np.array([q3[0] + 0.5, q3[1] + 0.5, 0.0, 0.0])  # top quartile of both
    a = explainer(row)[0]
    # "size as in the row" (both in their top quartile) has precision 1; any rule
    # without it holds on rows where the model says no
    assert a.conditions == (f"size (height > {q3[0]:.4g}, weight > {q3[1]:.4g})",)
    assert (a.features, a.feature_names, a.bins) == ((0,), ("size",), ((0, 0),))
    assert a.prediction == "pos" and a.meets_threshold and a.precision == 1.0
    covered = (X[:, 0] > q3[0]) & (X[:, 1] > q3[1])
    assert a.coverage == covered.mean()
    np.testing.assert_array_equal(explainer.holds(a, X), covered)
    assert a.params["feature_groups"] == {"size": [0, 1], "x2": [2], "x3": [3]}


def test_groups_of_one_column_give_the_ungrouped_anchor():
    X = _data(n=300, seed=3)
    model = _classifier(lambda Z: Z[:, 0] + 0.5 * Z[:, 1] > 0.2)
    singles = {f"x{j}": [j] for j in range(4)}
    plain = AnchorTabular(model, X, random_state=4)
    grouped = AnchorTabular(model, X, feature_groups=singles, random_state=4)

    def fields(a):
        d = a.to_dict()
        for key in ("time_seconds", "params"):
            d.pop(key)
        return d

    for row in ([1.5, 0.5, 0.0, 0.0], [-1.2, 0.3, 0.5, -0.5], [0.4, 1.5, 0.0, 0.0]):
        a, b = plain(row)[0], grouped(row)[0]
        assert len(a) >= 1 and fields(a) == fields(b)
        assert a.params["feature_groups"] is None
        assert b.params["feature_groups"] == {f"x{j}": [j] for j in range(4)}
        np.testing.assert_array_equal(plain.holds(a, X), grouped.holds(b, X))


def test_bad_feature_groups_are_named():
    X = _data(n=100)
    model = _classifier(lambda Z: Z[:, 0] > 0)
    for groups, message in (
        (["x0", "x1"], "feature_groups must be a dict mapping a group name to a list"),
        ({"g": []}, r"feature_groups\['g'\] is empty"),
        ({"g": ["x0", "z"]}, r"feature_groups\['g'\] names the column 'z', which is not one"),
        ({"g": [0, 7]}, r"feature_groups\['g'\] names column position 7 but the data has 4"),
        (
            {"a": ["x0", "x1"], "b": [1, 2]},
            r"the column 'x1' is in both feature_groups\['a'\] and feature_groups\['b'\]",
        ),
        ({"x3": ["x0", "x1"]}, "the group name 'x3' is also the name of a column in no group"),
    ):
        with pytest.raises(InputError, match=message):
            AnchorTabular(model, X, feature_groups=groups)
    # an anchor is read with the groups it was made with
    grouped = AnchorTabular(model, X, feature_groups={"g": ["x0", "x1"]}, random_state=0)
    plain = AnchorTabular(model, X, random_state=0)
    with pytest.raises(InputError, match="with these columns, bins and feature groups"):
        plain.holds(grouped(X[0])[0], X)
    with pytest.raises(InputError, match="with these columns, bins and feature groups"):
        grouped.holds(plain(X[0])[0], X)


# ---------------------------------------------------------------------- bad input
def test_bad_input_is_named():
    X = _data(n=100)
    model = _classifier(lambda Z: Z[:, 0] > 0)
    explainer = AnchorTabular(model, X, random_state=0)
    with pytest.raises(InputError, match="X has 3 columns but the background has 4"):
        explainer(np.zeros(3))
    with pytest.raises(InputError, match="X has 3 columns but the background has 4"):
        explainer(np.zeros((2, 3)))
    with pytest.raises(InputError, match="X is empty"):
        explainer(np.zeros((0, 4)))
    with pytest.raises(InputError, match="X has the columns"):
        explainer(pd.DataFrame(np.zeros((2, 4)), columns=list("abcd")))
    for value in (0, 1.0, 1.5, "high", True):
        with pytest.raises(InputError, match="threshold must be a number strictly between"):
            AnchorTabular(model, X, threshold=value)
    for settings, message in (
        ({"delta": 0}, "delta must be a number strictly between 0 and 1"),
        ({"beam_size": 0}, "beam_size must be a positive integer, got 0"),
        ({"max_anchor_size": 2.5}, "max_anchor_size must be a positive integer"),
        ({"coverage_samples": 0}, "coverage_samples must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"discretizer": "entropy"}, "discretizer must be one of"),
        ({"categorical_features": ["z"]}, "categorical_features names the column 'z'"),
        ({"random_state": -1}, "random_state must be None, a non-negative int"),
    ):
        with pytest.raises(InputError, match=message):
            AnchorTabular(model, X, **settings)
    with pytest.raises(InputError, match="anchor must be an Anchor made by an AnchorTabular"):
        other = AnchorTabular(model, X, discretizer="decile", random_state=0)
        explainer.holds(other(X[0])[0], X)


def test_regressor_and_mismatched_background_are_refused():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X = _data(n=100)
    with pytest.raises(UnsupportedModelError, match="AnchorTabular explains classifiers"):
        AnchorTabular(LinearRegression().fit(X, X[:, 0]), X)
    clf = LogisticRegression().fit(X, X[:, 0] > 0)
    with pytest.raises(InputError, match="background has 3 columns but the model"):
        AnchorTabular(clf, X[:, :3])
