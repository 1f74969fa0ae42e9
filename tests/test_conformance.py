"""The conformance suite: every public explainer and inspector under one contract.

In the spirit of scikit-learn's ``check_estimator``, each method in ``CASES`` is run on
the same small data (60 rows, 4 named columns, a DataFrame, a binary target) through
the same checks:

- ``shapes``: the result's shapes and axis names, the feature names taken from the
  DataFrame's columns, one output named for the positive class, an output space
  (``Explanation.values/axes/feature_names/output_names/output_space``);
- ``json``: the result is a ``whybox._utils.Result`` whose strict JSON reads back
  equal: ``type(r).from_dict(json.loads(r.to_json()))``, NaN-aware;
- ``views``: ``to_frame()`` is a non-empty DataFrame and ``_repr_html_()`` an HTML
  table (what a notebook shows);
- ``seed``: two runs with the same ``random_state`` are equal, and the default
  ``random_state`` is 0 (a method without randomness: two runs are equal);
- ``batch_size`` / ``n_jobs``: the result does not depend on them, to the last bit
  (glossary: "memory only: never changes a result" / "never changes a result");
- ``wrong_columns``, ``nan``, ``empty``: an ``InputError`` for X with a column too
  many, X with a missing value the model cannot take, and X with no rows.

One test id per method and check (``test_contract[<method>-<check>]``); a check that
does not apply (no ``random_state``, no ``batch_size``) has no id. The models are
batch-invariant (:class:`RowwiseClassifier`, the torch MLP) so that a ``batch_size``
difference is whybox's own; TreeExplainer explains a GradientBoostingClassifier,
LinearExplainer and ``explain`` a LogisticRegression. The torch methods
(IntegratedGradients, Saliency, SmoothGrad, GradientShap) need torch.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

import whybox
from tests._requires import requires
from whybox import Explanation, InputError
from whybox._utils import Result
from whybox.anchors import Anchor, AnchorTabular
from whybox.counterfactuals import CounterfactualExplainer, Counterfactuals
from whybox.glassbox import AdditiveModel, Binning, Term
from whybox.gradients import GradientShap, IntegratedGradients, Saliency, SmoothGrad
from whybox.inspection import (
    AccumulatedLocalEffects,
    GlobalSurrogate,
    HStatistic,
    PartialDependence,
    PermutationImportance,
    accumulated_local_effects,
    global_surrogate,
    h_statistic,
    partial_dependence,
    permutation_importance,
)
from whybox.lime import LimeTabularExplainer
from whybox.shapley import (
    AdditiveExplainer,
    ExactExplainer,
    KernelExplainer,
    LinearExplainer,
    PermutationExplainer,
    TreeExplainer,
)

FEATURES = ["age", "income", "debt", "tenure"]
N_ROWS = 60
EXPLAINED = 5
"""Rows explained by the local methods (the first of X); inspectors get all of X."""


# ---------------------------------------------------------------------- data and models
@functools.cache
def data() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(
        n_samples=N_ROWS, n_features=len(FEATURES), n_informative=3, n_redundant=0,
        random_state=0,
    )  # fmt: skip
    return pd.DataFrame(X, columns=FEATURES), y


class RowwiseClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier whose output row depends on its input row alone, bit for bit.

    Its probability is ``0.5 + 0.5 * z / (1 + |z|)`` of the logistic regression's
    margin ``z``, written with elementwise operations only (no BLAS product, no
    transcendental function): however the rows are batched, each output is the same
    float. scikit-learn's LogisticRegression is not batch-invariant in the last bit
    (its matrix product blocks rows differently), which would blur the ``batch_size``
    check. It refuses NaN and other columns, as scikit-learn models do.
    """

    def fit(self, X: Any, y: Any) -> RowwiseClassifier:
        X, y = validate_data(self, X, y)
        fitted = LogisticRegression().fit(X, y)
        self.classes_ = fitted.classes_
        self.coef_, self.intercept_ = fitted.coef_[0], fitted.intercept_[0]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        z = self.intercept_ + sum(X[:, j] * self.coef_[j] for j in range(X.shape[1]))
        p = 0.5 + 0.5 * z / (1.0 + np.abs(z))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(np.intp)]


@functools.cache
def classifier() -> RowwiseClassifier:
    """The model of the model-agnostic methods."""
    return RowwiseClassifier().fit(*data())


@functools.cache
def logistic() -> LogisticRegression:
    """A linear model for LinearExplainer and explain (refuses NaN, as scikit-learn does)."""
    return LogisticRegression().fit(*data())


@functools.cache
def boosting() -> GradientBoostingClassifier:
    """A small tree ensemble for TreeExplainer (refuses NaN in its own predict)."""
    return GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(*data())


@functools.cache
def additive() -> AdditiveModel:
    """A glass-box model for AdditiveExplainer: a binned main term per column (cut at
    the column's quartiles) and one pair, with a logit link (takes NaN: the missing bin)."""
    X, y = data()
    terms = []
    for j, name in enumerate(FEATURES):
        cuts = np.quantile(X[name], [0.25, 0.5, 0.75])
        scores = np.array([0.0, -1.0, -0.2, 0.3, 1.1, 0.0]) * (j + 1) / 4
        terms.append(Term((j,), name, bins=(Binning("numeric", cuts=cuts),), scores=scores))
    cut = (Binning("numeric", cuts=[0.0]), Binning("numeric", cuts=[0.0]))
    cell = np.zeros((4, 4))
    cell[2, 2] = 0.8
    terms.append(Term((0, 1), "age & income", bins=cut, scores=cell, weights=np.ones((4, 4))))
    return AdditiveModel(
        tuple(FEATURES), tuple(terms), [0.1], "logit", ("1",), "hand", classes=np.unique(y)
    )


def mlp() -> Any:
    """A tiny torch MLP (4 inputs, 6 softsign units, 2 logits), batch-invariant as
    :class:`RowwiseClassifier`: elementwise operations only."""
    torch = requires("torch")
    return _mlp(torch)


@functools.cache
def _mlp(torch: Any) -> Any:
    class RowwiseMLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            gen = torch.Generator().manual_seed(0)
            shapes = {"w1": (6, 4), "b1": (6,), "w2": (2, 6), "b2": (2,)}
            for name, shape in shapes.items():
                value = torch.randn(shape, generator=gen, dtype=torch.float64)
                self.register_parameter(name, torch.nn.Parameter(value))

        def forward(self, x: Any) -> Any:
            h = self.b1 + sum(x[:, i : i + 1] * self.w1[:, i] for i in range(x.shape[1]))
            h = h / (1.0 + h.abs())
            return self.b2 + sum(h[:, j : j + 1] * self.w2[:, j] for j in range(h.shape[1]))

    return RowwiseMLP().eval()


def background() -> pd.DataFrame:
    return data()[0].iloc[20:]


# ---------------------------------------------------------------------- the methods
@dataclass(frozen=True)
class Case:
    """One public method, called the same way by every check.

    ``run(X, **knobs)`` returns the method's result for the rows ``X``; ``knobs`` are
    the method's own ``random_state`` / ``batch_size`` / ``n_jobs`` arguments, those
    in ``knobs`` only. ``local``: the method explains rows one by one (gets the first
    ``EXPLAINED`` rows), else it describes the model over all of X.
    """

    name: str
    run: Callable[..., Any]
    knobs: frozenset[str]
    local: bool = True
    needs_torch: bool = False
    takes_nan: bool = False
    """The model reads a missing value (e.g. an additive model's missing bin): no
    ``nan`` check."""

    def __call__(self, X: pd.DataFrame | None = None, **knobs: Any) -> Any:
        if X is None:
            X = data()[0].iloc[:EXPLAINED] if self.local else data()[0]
        return self.run(X, **knobs)


CASES = [
    Case("TreeExplainer", lambda X, **k: TreeExplainer(boosting(), **k)(X), frozenset({"n_jobs"})),
    Case(
        "LinearExplainer",
        lambda X, **k: LinearExplainer(logistic(), background(), **k)(X),
        frozenset({"random_state"}),
    ),
    Case(
        "AdditiveExplainer",
        lambda X, **k: AdditiveExplainer(additive(), background(), **k)(X),
        frozenset({"random_state"}),
        takes_nan=True,
    ),
    Case(
        "ExactExplainer",
        lambda X, **k: ExactExplainer(classifier(), background(), **k)(X),
        frozenset({"random_state", "batch_size"}),
    ),
    Case(
        "KernelExplainer",
        lambda X, **k: KernelExplainer(classifier(), background(), max_evals=40, **k)(X),
        frozenset({"random_state", "batch_size"}),
    ),
    Case(
        "PermutationExplainer",
        lambda X, **k: PermutationExplainer(classifier(), background(), n_permutations=3, **k)(X),
        frozenset({"random_state", "batch_size"}),
    ),
    Case(
        "explain",
        lambda X, **k: whybox.explain(logistic(), X, background=background(), **k),
        frozenset({"random_state"}),
    ),
    Case(
        "LimeTabularExplainer",
        lambda X, **k: LimeTabularExplainer(classifier(), background(), n_perturbations=200, **k)(
            X
        ),
        frozenset({"random_state", "batch_size"}),
    ),
    Case(
        "AnchorTabular",
        lambda X, **k: AnchorTabular(
            classifier(),
            background(),
            threshold=0.9,
            samples_per_pull=50,
            max_check_samples=500,
            coverage_samples=500,
            **k,
        )(X.iloc[:2]),
        frozenset({"random_state", "batch_size"}),
    ),
    Case(
        "CounterfactualExplainer",
        lambda X, **k: CounterfactualExplainer(classifier(), background(), **k)(
            X.iloc[:2], n_counterfactuals=2, max_evals=400
        ),
        frozenset({"random_state"}),
    ),
    Case(
        "partial_dependence",
        lambda X, **k: partial_dependence(
            classifier(), X, "age", kind="both", grid_resolution=8, **k
        ),
        frozenset({"random_state", "batch_size"}),
        local=False,
    ),
    Case(
        "accumulated_local_effects",
        lambda X, **k: accumulated_local_effects(
            classifier(), X, "age", n_bins=6, n_bootstrap=5, **k
        ),
        frozenset({"random_state", "batch_size"}),
        local=False,
    ),
    Case(
        "h_statistic",
        lambda X, **k: h_statistic(classifier(), X, max_samples=20, **k),
        frozenset({"random_state", "batch_size"}),
        local=False,
    ),
    Case(
        "permutation_importance",
        lambda X, **k: permutation_importance(
            classifier(), X, data()[1][: len(X)], n_repeats=3, **k
        ),
        frozenset({"random_state", "batch_size"}),
        local=False,
    ),
    Case(
        "global_surrogate",
        lambda X, **k: global_surrogate(classifier(), X, **k),
        frozenset({"random_state"}),
        local=False,
    ),
    Case(
        "IntegratedGradients",
        lambda X, **k: IntegratedGradients(mlp(), n_steps=8, **k)(X, 1),
        frozenset({"batch_size"}),
        needs_torch=True,
    ),
    Case(
        "Saliency",
        lambda X, **k: Saliency(mlp(), **k)(X, 1),
        frozenset({"batch_size"}),
        needs_torch=True,
    ),
    Case(
        "SmoothGrad",
        lambda X, **k: SmoothGrad(mlp(), n_draws=5, **k)(X, 1),
        frozenset({"random_state", "batch_size"}),
        needs_torch=True,
    ),
    Case(
        "GradientShap",
        lambda X, **k: GradientShap(mlp(), background(), n_draws=5, **k)(X, 1),
        frozenset({"random_state", "batch_size"}),
        needs_torch=True,
    ),
]


# ---------------------------------------------------------------------- comparing results
MEASUREMENTS = frozenset({"time_seconds", "time_s"})
"""Fields (and table columns) that time a run: a measurement, not part of the result."""


def assert_same(
    a: Any, b: Any, where: str = "result", ignore: frozenset[str] = frozenset()
) -> None:
    """``a`` and ``b`` equal field by field: arrays exactly (NaN equal to NaN).

    Dataclass fields, dict keys and DataFrame columns named in ``ignore`` are skipped.
    """
    if isinstance(a, BaseEstimator) or isinstance(b, BaseEstimator):
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        assert_same(_fitted_state(a), _fitted_state(b), where, ignore)
        return
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        for f in dataclasses.fields(a):
            if f.name not in ignore:
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}", ignore)
        return
    if isinstance(a, pd.DataFrame):
        drop = [c for c in a.columns if c in ignore]
        pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop), obj=where)
        return
    if isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
        return
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        assert a_arr.shape == b_arr.shape, f"{where}: shape {a_arr.shape} != {b_arr.shape}"
        np.testing.assert_array_equal(a_arr, b_arr, err_msg=where)
        return
    if isinstance(a, dict):
        assert isinstance(b, dict), f"{where}: {b!r} is not a dict"
        keys = set(a) - ignore
        assert keys == set(b) - ignore, f"{where}: keys {keys ^ (set(b) - ignore)}"
        for key in keys:
            assert_same(a[key], b[key], f"{where}[{key!r}]", ignore)
        return
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]", ignore)
        return
    if isinstance(a, (float, np.floating)) and math.isnan(a):
        assert isinstance(b, (float, np.floating)) and math.isnan(b), f"{where}: nan != {b!r}"
        return
    assert a == b, f"{where}: {a!r} != {b!r}"


def _fitted_state(estimator: BaseEstimator) -> dict[str, Any]:
    """A fitted estimator's learned attributes (``tree_`` as its arrays)."""
    state = {}
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("_"):
            if hasattr(value, "__getstate__") and type(value).__name__ == "Tree":
                value = {k: v for k, v in value.__getstate__().items()}
            state[name] = value
    return state


def results(result: Any) -> list[Any]:
    """The result objects a call returned (AnchorTabular returns a list of Anchor)."""
    return list(result) if isinstance(result, list) else [result]


# ---------------------------------------------------------------------- the checks
def check_shapes(case: Case) -> None:
    X = data()[0].iloc[:EXPLAINED] if case.local else data()[0]
    result = case()
    if hasattr(result, "output_names"):
        # a binary classifier has one output, the positive class (labels 0/1); a torch
        # method explains its target, logit 1
        assert tuple(result.output_names) == ("1",)
        assert result.output_space in ("raw", "probability", "log_odds")
    if isinstance(result, Explanation):
        n, d = len(X), len(FEATURES)
        assert result.axes == ("samples", "features", "outputs")
        k = len(result.output_names)
        assert result.values.shape == (n, d, k)
        assert result.values.dtype == np.float64
        assert tuple(result.feature_names) == tuple(FEATURES)
        assert result.base_values.shape == (n, k)
        if result.data is not None:
            assert np.shape(result.data) == (n, d)
        if result.model_output is not None:
            assert np.shape(result.model_output) == (n, k)
        return
    if isinstance(result, list):  # anchors: one per row, in order
        assert len(result) == 2 and all(isinstance(a, Anchor) for a in result)
        for row, anchor in enumerate(result):
            assert tuple(anchor.columns) == tuple(FEATURES)
            assert [FEATURES[j] for j in anchor.features] == list(anchor.feature_names)
            assert len(anchor.conditions) == len(anchor.features)
            np.testing.assert_array_equal(np.asarray(anchor.instance, dtype=float), X.iloc[row])
        return
    if isinstance(result, Counterfactuals):
        assert tuple(result.feature_names) == tuple(FEATURES)
        assert np.shape(result.original) == (2, len(FEATURES))
        assert len(result.counterfactuals) == 2
        for frame in result.counterfactuals:
            assert list(frame.columns)[: len(FEATURES)] == FEATURES
        return
    if isinstance(result, PartialDependence):
        assert tuple(result.feature_names) == ("age",)
        k = len(result.output_names)
        grid = len(result.grid_values[0])
        assert result.average.shape == (k, grid)
        assert result.individual.shape == (k, len(X), grid)
        return
    if isinstance(result, AccumulatedLocalEffects):
        assert tuple(result.feature_names) == ("age",)
        k = len(result.output_names)
        shape = (k, len(result.grids[0]))
        assert result.effect.shape == shape
        assert result.lower.shape == shape and result.upper.shape == shape
        return
    if isinstance(result, HStatistic):
        assert tuple(result.feature_names) == tuple(FEATURES)
        k, d = len(result.output_names), len(FEATURES)
        assert result.overall.shape == (k, d)
        assert result.pairwise.shape == (k, d, d)
        return
    if isinstance(result, PermutationImportance):
        assert tuple(result.feature_names) == tuple(FEATURES)
        d = len(FEATURES)
        assert result.importances.shape == (d, 3)
        assert result.importances_mean.shape == (d,) and result.importances_std.shape == (d,)
        return
    if isinstance(result, GlobalSurrogate):
        assert tuple(result.feature_names) == tuple(FEATURES)
        return
    raise AssertionError(f"no shape contract for {type(result).__name__}")


def _not_json(constant: str) -> None:
    raise AssertionError(f"to_json wrote {constant}, which strict JSON does not allow")


# Fields a result deliberately keeps out of its JSON, with the reason.
NOT_IN_JSON = {
    # a fitted scikit-learn tree: rebuilding one from JSON would hand unchecked node
    # arrays to compiled code (the rules, fidelity and sizes are in the JSON)
    "GlobalSurrogate": frozenset({"tree"}),
}


def check_json(case: Case) -> None:
    for result in results(case()):
        assert isinstance(result, Result), f"{type(result).__name__} is not a whybox Result"
        loaded = json.loads(result.to_json(), parse_constant=_not_json)
        ignore = NOT_IN_JSON.get(type(result).__name__, frozenset())
        assert_same(type(result).from_dict(loaded), result, ignore=ignore)


def check_views(case: Case) -> None:
    for result in results(case()):
        frame = result.to_frame()
        assert isinstance(frame, pd.DataFrame) and not frame.empty
        html = result._repr_html_()
        assert isinstance(html, str) and "<table" in html


def check_seed(case: Case) -> None:
    if "random_state" not in case.knobs:
        assert_same(case(), case(), "two runs", MEASUREMENTS)
        return
    first = case(random_state=0)
    assert_same(case(random_state=0), first, "two runs, random_state=0", MEASUREMENTS)
    assert_same(case(), first, "the default random_state vs 0", MEASUREMENTS)


def check_batch_size(case: Case) -> None:
    # a result records its batch_size, and AnchorTabular counts its model calls
    ignore = MEASUREMENTS | {"batch_size", "n_model_calls"}
    assert_same(case(batch_size=7), case(batch_size=None), "batch_size=7 vs None", ignore)


def check_n_jobs(case: Case) -> None:
    ignore = MEASUREMENTS | {"n_jobs"}
    assert_same(case(n_jobs=2), case(n_jobs=1), "n_jobs=2 vs 1", ignore)


def check_wrong_columns(case: Case) -> None:
    X = data()[0].iloc[:EXPLAINED] if case.local else data()[0]
    with pytest.raises(InputError, match="column|shape"):
        case(X.assign(extra=1.0))


def check_nan(case: Case) -> None:
    X = (data()[0].iloc[:EXPLAINED] if case.local else data()[0]).copy()
    X.iloc[0, 1] = np.nan
    with pytest.raises(InputError, match="NaN|missing"):
        case(X)


def check_empty(case: Case) -> None:
    with pytest.raises(InputError, match="empty|no samples|no rows"):
        case(data()[0].iloc[:0])


CHECKS: dict[str, tuple[Callable[[Case], None], str | None]] = {
    "shapes": (check_shapes, None),
    "json": (check_json, None),
    "views": (check_views, None),
    "seed": (check_seed, None),
    "batch_size": (check_batch_size, "batch_size"),
    "n_jobs": (check_n_jobs, "n_jobs"),
    "wrong_columns": (check_wrong_columns, None),
    "nan": (check_nan, None),
    "empty": (check_empty, None),
}


def _params() -> list[Any]:
    params = []
    for case in CASES:
        for check, (_, knob) in CHECKS.items():
            if check == "nan" and case.takes_nan:
                continue
            if knob is None or knob in case.knobs:
                params.append(pytest.param(case, check, id=f"{case.name}-{check}"))
    return params


@pytest.mark.parametrize(("case", "check"), _params())
def test_contract(case: Case, check: str) -> None:
    if case.needs_torch:
        requires("torch")
    CHECKS[check][0](case)


def test_every_public_explainer_and_inspector_is_in_the_suite():
    names = {case.name for case in CASES}
    assert {
        "TreeExplainer", "LinearExplainer", "AdditiveExplainer", "ExactExplainer", "KernelExplainer",
        "PermutationExplainer", "explain", "LimeTabularExplainer", "AnchorTabular",
        "CounterfactualExplainer", "partial_dependence", "accumulated_local_effects",
        "h_statistic", "permutation_importance", "global_surrogate", "IntegratedGradients",
        "Saliency", "SmoothGrad", "GradientShap",
    } <= names  # fmt: skip
