"""One-sentence InputErrors at the public entry points (issue #19, items 11 and 15)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import whybox
from whybox import InputError
from whybox._utils import Result, check_random_state
from whybox.adapters import adapt_data, adapt_model

RNG = np.random.default_rng(0)
X_NUM = RNG.normal(size=(120, 3))
Y_CLS = (X_NUM[:, 0] + 0.3 * RNG.normal(size=120) > 0).astype(int)
Y_REG = X_NUM @ np.array([1.0, -2.0, 0.5])
FRAME = pd.DataFrame(X_NUM, columns=["a", "b", "c"])


@pytest.fixture(scope="module")
def clf():
    return LogisticRegression().fit(X_NUM, Y_CLS)


@pytest.fixture(scope="module")
def reg():
    return LinearRegression().fit(X_NUM, Y_REG)


# ---------------------------------------------------------------- item 11: check_data
def test_check_data_finds_inf_after_the_probe_rows(clf):
    X = X_NUM.copy()
    X[100, 1] = np.inf
    with pytest.raises(InputError, match=r"infinite value \(inf\) in column 'x1' at row 100"):
        adapt_model(clf).check_data(adapt_data(X))


def test_check_data_finds_text_in_a_numeric_column_after_the_probe_rows():
    model = adapt_model(LinearRegression().fit(FRAME, Y_REG))
    frame = FRAME.astype(object)
    frame.loc[97, "c"] = "n/a " * 30
    with pytest.raises(InputError) as info:
        model.check_data(adapt_data(frame), name="X")
    msg = str(info.value)
    assert "column 'c'" in msg and "row 97" in msg and "text" in msg
    assert "'n/a n/a n/a" in msg and "n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a n/a" not in msg


def test_check_data_finds_a_word_in_a_column_of_numbers_read_as_text():
    # how a CSV reads a column of numbers with one word in it: text throughout
    model = adapt_model(LinearRegression().fit(FRAME, Y_REG))
    frame = FRAME.astype(str)
    frame.loc[110, "b"] = "oops"
    with pytest.raises(
        InputError, match=r"column 'b' holds numbers but also text: 'oops' at row 110"
    ):
        model.check_data(adapt_data(frame), name="X")


def test_a_column_of_words_with_numbers_among_them_stays_text():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"t": ["1", "2", "x"] * 40})
    pipe = make_pipeline(OneHotEncoder(), LinearRegression()).fit(frame, np.arange(120.0))
    data = adapt_data(frame)
    assert adapt_model(pipe).check_data(data) is data  # the model takes these words


def test_check_data_finds_inf_in_a_mixed_frame_after_the_probe_rows():
    model = adapt_model(LinearRegression().fit(FRAME, Y_REG))
    frame = FRAME.assign(c=FRAME["c"].astype(object))
    frame.loc[80, "c"] = -np.inf
    with pytest.raises(InputError, match=r"\(-inf\) in column 'c' at row 80"):
        model.check_data(adapt_data(frame), name="X")


def test_explainer_reports_the_bad_row_not_a_later_model_error(clf):
    X = X_NUM.copy()
    X[90, 2] = np.inf
    with pytest.raises(InputError, match=r"column 'x2' at row 90"):
        whybox.inspection.permutation_importance(clf, X, Y_CLS, n_repeats=1)


def test_check_data_keeps_text_columns_and_nan():
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"n": np.r_[np.nan, np.arange(99.0)], "t": ["a", "b"] * 50})
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["t"]), remainder="passthrough"),
        HistGradientBoostingRegressor(max_iter=5),
    ).fit(frame, np.arange(100.0))
    data = adapt_data(frame)
    assert adapt_model(pipe).check_data(data) is data  # text and NaN left to the model


# ---------------------------------------------------------------- item 15: random_state
@pytest.mark.parametrize("bad", ["x", 1.5, -1, True, [0.5]])
def test_check_random_state_refuses(bad):
    with pytest.raises(InputError, match=r"^random_state must be None, a non-negative int"):
        check_random_state(bad)


@pytest.mark.parametrize(
    "good",
    [None, 0, np.int64(3), 2**70, np.random.default_rng(1), np.random.RandomState(1),
     np.random.SeedSequence(1)],
)  # fmt: skip
def test_check_random_state_accepts_what_default_rng_takes(good):
    assert check_random_state(good) is good or check_random_state(good) == good
    np.random.default_rng(check_random_state(good))


def _entry_points():
    """Every stochastic public entry point, called with ``random_state=rs``."""
    from whybox import counterfactuals, fairness, glassbox, inspection, shapley

    def bg(cls):
        return lambda clf, reg, rs: cls(reg, X_NUM[:20], random_state=rs)

    group = np.where(X_NUM[:, 1] > 0, "g1", "g0")
    return {
        "explain": lambda clf, reg, rs: whybox.explain(
            reg, X_NUM[:2], background=X_NUM[:20], method="kernel", random_state=rs
        ),
        "ExactExplainer": bg(shapley.ExactExplainer),
        "KernelExplainer": bg(shapley.KernelExplainer),
        "PermutationExplainer": bg(shapley.PermutationExplainer),
        "LinearExplainer": bg(shapley.LinearExplainer),
        # the seed is checked before the model (a regressor, not an additive model)
        "AdditiveExplainer": bg(shapley.AdditiveExplainer),
        "challengers": lambda clf, reg, rs: glassbox.challengers(
            clf, X_NUM, Y_CLS, X_NUM, Y_CLS, random_state=rs
        ),
        "summarize_background": lambda clf, reg, rs: shapley.summarize_background(
            X_NUM, 5, random_state=rs
        ),
        "LimeTabularExplainer": lambda clf, reg, rs: whybox.LimeTabularExplainer(
            clf, X_NUM, random_state=rs
        ),
        "LimeTextExplainer": lambda clf, reg, rs: whybox.LimeTextExplainer(
            lambda texts: np.full((len(texts), 1), 0.5), random_state=rs
        ),
        "LimeImageExplainer": lambda clf, reg, rs: whybox.LimeImageExplainer(
            lambda imgs: np.full((len(imgs), 1), 0.5), random_state=rs
        ),
        "AnchorTabular": lambda clf, reg, rs: whybox.AnchorTabular(clf, X_NUM, random_state=rs),
        "AnchorText": lambda clf, reg, rs: whybox.AnchorText(
            lambda texts: np.zeros(len(texts), dtype=int), random_state=rs
        ),
        "CounterfactualExplainer": lambda clf, reg, rs: counterfactuals.CounterfactualExplainer(
            clf, X_NUM, random_state=rs
        ),
        "permutation_importance": lambda clf, reg, rs: inspection.permutation_importance(
            clf, X_NUM, Y_CLS, n_repeats=2, random_state=rs
        ),
        "partial_dependence": lambda clf, reg, rs: inspection.partial_dependence(
            reg, X_NUM, features=["x0"], random_state=rs
        ),
        "accumulated_local_effects": lambda clf, reg, rs: inspection.accumulated_local_effects(
            reg, X_NUM, features=["x0"], random_state=rs
        ),
        "h_statistic": lambda clf, reg, rs: inspection.h_statistic(reg, X_NUM, random_state=rs),
        "global_surrogate": lambda clf, reg, rs: inspection.global_surrogate(
            reg, X_NUM, random_state=rs
        ),
        "importance_comparison": lambda clf, reg, rs: inspection.importance_comparison(
            reg, X_NUM, Y_REG, random_state=rs
        ),
        "group_metrics": lambda clf, reg, rs: fairness.group_metrics(
            Y_CLS, clf.predict(X_NUM), group, random_state=rs
        ),
        "proxy_detection": lambda clf, reg, rs: fairness.proxy_detection(
            clf, X_NUM, group, random_state=rs
        ),
        "audit": lambda clf, reg, rs: whybox.audit(clf, X_NUM, Y_CLS, random_state=rs),
    }


@pytest.mark.parametrize("entry", sorted(_entry_points()))
@pytest.mark.parametrize("bad", ["x", -3])
def test_every_stochastic_entry_point_refuses_a_bad_random_state(entry, bad, clf, reg):
    call = _entry_points()[entry]
    with pytest.raises(InputError, match="random_state"):
        call(clf, reg, bad)


# ---------------------------------------------------------------- item 15: y and outputs
@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.c_[Y_CLS, Y_CLS], r"^y must hold one target per row of X, shape \(120,\)"),
        (Y_CLS[:-1], r"^y must hold one target per row of X.*got shape \(119,\)"),
        (np.r_[Y_CLS[:7], np.nan, Y_CLS[8:]], r"^y has 1 missing value\(s\) \(NaN\), the first at row 7"),
        (Y_CLS + 1, r"^y holds label\(s\) \[2\] that are not among the model's classes \[0, 1\]"),
        (np.where(Y_CLS == 1, "yes", "no"), r"label\(s\) \['(yes|no)', '(yes|no)'\]"),
    ],
)  # fmt: skip
def test_permutation_importance_checks_y(clf, y, match):
    with pytest.raises(InputError, match=match):
        whybox.inspection.permutation_importance(clf, X_NUM, y, n_repeats=1)


def test_permutation_importance_takes_a_column_y(clf):
    col = whybox.inspection.permutation_importance(clf, X_NUM, Y_CLS[:, None], random_state=0)
    flat = whybox.inspection.permutation_importance(clf, X_NUM, Y_CLS, random_state=0)
    np.testing.assert_array_equal(col.importances, flat.importances)


def test_permutation_importance_refuses_nan_in_a_regression_target(reg):
    y = Y_REG.copy()
    y[110] = np.nan
    with pytest.raises(InputError, match="first at row 110"):
        whybox.inspection.permutation_importance(reg, X_NUM, y, n_repeats=1)


def _one_short(X):
    return np.asarray(X).sum(axis=1)[:-1]


def _at_most_25(X):  # right on the 20 background rows, wrong on the masked batches
    return np.asarray(X).sum(axis=1)[:25]


@pytest.mark.parametrize("name", ["ExactExplainer", "KernelExplainer", "PermutationExplainer"])
@pytest.mark.parametrize("f", [_one_short, _at_most_25])
def test_model_function_of_the_wrong_length_is_named(name, f):
    explainer = getattr(whybox.shapley, name)
    with pytest.raises(InputError, match=r"^the model function returned \d+ outputs for \d+ rows"):
        explainer(f, X_NUM[:20])(X_NUM[:2])


_TABULAR_MODULES = ("whybox", "whybox.shapley", "whybox.inspection", "whybox.lime",
                    "whybox.fairness", "whybox.debugging", "whybox.counterfactuals",
                    "whybox.anchors", "whybox.glassbox")  # fmt: skip


def _seeded_public_callables(modules: tuple[str, ...] = _TABULAR_MODULES) -> set[str]:
    """Public functions and methods with a ``random_state`` parameter, by name."""
    import importlib
    import inspect

    found = set()
    for module in modules:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and issubclass(obj, Result):
                continue  # a result records the seed it was made with; it draws nothing
            if inspect.isclass(obj):
                members = {"": obj.__init__, "__call__": vars(obj).get("__call__")}
                members.update(
                    {k: v for k, v in vars(obj).items() if not k.startswith("_") and callable(v)}
                )
                for key, fn in members.items():
                    try:
                        params = inspect.signature(fn).parameters
                    except (TypeError, ValueError):
                        continue
                    if "random_state" in params:
                        found.add(name if key == "" else f"{name}.{key}")
            elif callable(obj) and "random_state" in inspect.signature(obj).parameters:
                found.add(name)
    return found


def test_the_list_of_stochastic_entry_points_is_complete():
    # a new public entry point with a seed must be added to _entry_points()
    assert _seeded_public_callables() == set(_entry_points())


def _more_entry_points():
    """The seeded entry points of evaluate, concepts and gradients."""
    from whybox import concepts, evaluate, gradients

    def ex(reg):
        return whybox.explain(reg, X_NUM[:3], background=X_NUM[:20], method="exact")

    def explain_fn(X, model=None):
        return whybox.explain(model or LinearRegression().fit(X_NUM, Y_REG), X,
                              background=X_NUM[:20], method="exact")  # fmt: skip

    def net():
        from tests._requires import requires

        torch = requires("torch")
        return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))

    return {
        "faithfulness": lambda clf, reg, rs: evaluate.faithfulness(reg, ex(reg), random_state=rs),
        "faithfulness_correlation": lambda clf, reg, rs: evaluate.faithfulness_correlation(
            reg, ex(reg), random_state=rs
        ),
        "infidelity": lambda clf, reg, rs: evaluate.infidelity(reg, ex(reg), random_state=rs),
        "sensitivity_n": lambda clf, reg, rs: evaluate.sensitivity_n(reg, ex(reg), random_state=rs),
        "quality": lambda clf, reg, rs: evaluate.quality(
            reg, ex(reg), background=X_NUM[:20], random_state=rs
        ),
        "local_lipschitz": lambda clf, reg, rs: evaluate.local_lipschitz(
            explain_fn, X_NUM[:2], random_state=rs
        ),
        "model_randomization": lambda clf, reg, rs: evaluate.model_randomization(
            reg, lambda m, X: explain_fn(X, m), X_NUM[:5], y=Y_REG, kind="labels", random_state=rs
        ),
        "probe": lambda clf, reg, rs: concepts.probe(X_NUM, Y_CLS, random_state=rs),
        "TCAV": lambda clf, reg, rs: concepts.TCAV(net(), "0", random_state=rs),
        "SparseAutoencoder": lambda clf, reg, rs: concepts.SparseAutoencoder(
            8, k=2, random_state=rs
        ),
        "GradientShap": lambda clf, reg, rs: gradients.GradientShap(
            net(), X_NUM[:5].astype(np.float32), random_state=rs
        ),
        "SmoothGrad": lambda clf, reg, rs: gradients.SmoothGrad(net(), random_state=rs),
    }


@pytest.mark.parametrize("bad", ["x", -3])
@pytest.mark.parametrize("entry", sorted(_more_entry_points()))
def test_seeded_entry_points_of_evaluate_concepts_gradients_refuse_a_bad_random_state(
    entry, bad, clf, reg
):
    with pytest.raises(InputError, match="random_state"):
        _more_entry_points()[entry](clf, reg, bad)


def test_the_list_of_seeded_evaluate_concepts_gradients_entry_points_is_complete():
    found = _seeded_public_callables(("whybox.evaluate", "whybox.concepts", "whybox.gradients"))
    assert found == set(_more_entry_points())


def test_a_one_output_callable_classifier_is_binary():
    # found by the model-family tests: predict_label indexed a class that did not exist,
    # and counterfactuals refused "a classifier with 1 classes"
    from whybox.counterfactuals import CounterfactualExplainer

    def f(Z):
        return 1.0 / (1.0 + np.exp(-3.0 * np.asarray(Z, dtype=float)[:, 0]))

    model = adapt_model(f, task="classification", output_names=["pos"])
    assert model.classes.tolist() == ["not pos", "pos"]
    assert model.class_names == ("not pos", "pos")
    np.testing.assert_array_equal(
        model.predict_label(X_NUM), np.where(f(X_NUM) > 0.5, "pos", "not pos")
    )
    y = np.where(Y_CLS == 1, "pos", "not pos")
    imp = whybox.inspection.permutation_importance(model, X_NUM, y, n_repeats=2, random_state=0)
    assert imp.to_frame().shape[0] == 3
    res = CounterfactualExplainer(model, X_NUM, random_state=0)(X_NUM[:1])
    cf = res.counterfactuals[0][["x0", "x1", "x2"]].to_numpy(dtype=float)
    assert len(cf) and ((f(cf) > 0.5) != (f(X_NUM[:1]) > 0.5)[0]).all()  # each flips


def test_a_torch_module_given_to_a_model_agnostic_explainer_gets_the_fix():
    from tests._requires import requires

    torch = requires("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 1)).double()
    with pytest.raises(InputError, match=r"^model is a PyTorch Sequential, which takes tensors"):
        whybox.explain(net, X_NUM[:2], background=X_NUM[:10], method="exact")

    def f(X):  # the fix the message gives
        return net(torch.as_tensor(X, dtype=torch.float64)).detach().numpy()

    ex = whybox.explain(f, X_NUM[:2], background=X_NUM[:10], method="exact")
    np.testing.assert_allclose(
        ex.values.sum(axis=1) + ex.base_values, f(X_NUM[:2]), rtol=0, atol=1e-12
    )
