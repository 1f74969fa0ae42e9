"""Stability of explanations: local Lipschitz estimate and seed stability.

Ground truths: a brute-force loop over the very perturbations the function drew (read
back from what explain_fn received), the closed form of a linear explanation, Quantus'
LocalLipschitzEstimate fed the same perturbations, scipy's spearmanr/kendalltau, and
the property that a deterministic explainer is perfectly seed-stable.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

import whybox
from tests._requires import requires
from tests.evaluate._helpers import assert_round_trip, cancer_case
from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.evaluate._agreement import kendall_rows, spearman_rows
from whybox.evaluate._stability import local_lipschitz, seed_stability


class Recorder:
    """An explain_fn that records what it is given (the stacked perturbations)."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = []

    def __call__(self, Z):
        self.calls.append(Z.copy() if hasattr(Z, "copy") else np.array(Z))
        return self.fn(Z)


@pytest.fixture(scope="module")
def cancer():
    return cancer_case(260)


def _norm(d, norm):
    return {"l2": np.linalg.norm(d), "l1": np.abs(d).sum(), "linf": np.abs(d).max()}[norm]


# ---------------------------------------------------------------------- local Lipschitz
@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
def test_lipschitz_equals_brute_force_on_the_same_perturbations(norm):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 4)) * [1.0, 2.0, 0.5, 3.0]
    w = np.array([1.0, -2.0, 0.5, 3.0])
    rec = Recorder(lambda Z: np.sin(Z) * w + Z**2)
    res = local_lipschitz(rec, X, radius=0.2, n_perturbations=6, norm=norm, random_state=1)
    assert len(rec.calls) == 1  # every copy of every row in ONE call
    Z = rec.calls[0]
    n, m = 9, 6
    assert Z.shape == ((m + 1) * n, 4)
    np.testing.assert_array_equal(Z[:n], X)
    expected = np.empty((n, m))
    for i in range(n):
        x = X[i]
        e_x = np.sin(x) * w + x**2
        for j in range(m):
            xp = Z[(j + 1) * n + i]
            e_p = np.sin(xp) * w + xp**2
            expected[i, j] = _norm(e_p - e_x, norm) / _norm(xp - x, norm)
    np.testing.assert_allclose(res.ratios, expected, rtol=1e-12)
    np.testing.assert_allclose(res.estimate, expected.max(axis=1), rtol=1e-12)
    assert res.kept.all() and res.kept_share == 1.0
    # the perturbations stay in the L-inf ball of radius * std per feature
    delta = Z[n:].reshape(m, n, 4) - X[None]
    assert np.all(np.abs(delta) <= 0.2 * X.std(axis=0) + 1e-12)
    assert np.abs(delta).max(axis=(0, 1)).min() > 0.1 * X.std(axis=0).min()


def test_lipschitz_of_a_linear_explanation_has_its_closed_form():
    # e(x) = coef * (x - mean): ||e(x) - e(x')|| / ||x - x'|| = ||coef * d|| / ||d||,
    # which lies in [min |coef|, max |coef|] and equals |c| when coef = c * ones.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5))
    mean = X.mean(axis=0)
    coef = np.array([0.5, -1.0, 2.0, 3.0, -4.0])
    rec = Recorder(lambda Z: coef * (Z - mean))
    res = local_lipschitz(rec, X, n_perturbations=15, random_state=0)
    d = (rec.calls[0][30:].reshape(15, 30, 5) - X[None]).transpose(1, 0, 2)
    closed = np.linalg.norm(coef * d, axis=-1) / np.linalg.norm(d, axis=-1)
    np.testing.assert_allclose(res.ratios, closed, rtol=1e-12)
    assert np.all(res.estimate <= 4.0 + 1e-12) and np.all(res.estimate >= 0.5 - 1e-12)
    # an isotropic linear explanation: exactly |c| for every neighbour, in every norm
    for norm in ("l2", "l1", "linf"):
        iso = local_lipschitz(lambda Z: -2.5 * (Z - mean), X, norm=norm, random_state=3)
        np.testing.assert_allclose(iso.ratios, 2.5, rtol=1e-12)
    # one feature: the ratio is |coef| whatever the perturbation
    one = local_lipschitz(lambda Z: 7.0 * Z, X[:, :1], n_perturbations=4, random_state=0)
    np.testing.assert_allclose(one.estimate, 7.0, rtol=1e-12)


def test_lipschitz_prediction_filter_matches_the_models_labels(cancer):
    X, y, _ = cancer
    Xs = X.iloc[:, :6]
    lr = LogisticRegression(max_iter=2000).fit(Xs, y)
    rec = Recorder(lambda Z: np.asarray(Z, dtype=float) * lr.coef_[0])
    # a large radius so that some predictions flip
    res = local_lipschitz(
        rec, Xs.iloc[:40], radius=1.5, n_perturbations=8, model=lr, random_state=0
    )
    Z = rec.calls[0]
    assert isinstance(Z, pd.DataFrame) and list(Z.columns) == list(Xs.columns)
    labels = lr.predict(Z).reshape(9, 40)
    kept = (labels[1:] == labels[0][None]).T
    np.testing.assert_array_equal(res.kept, kept)
    assert 0 < res.kept_share < 1
    assert np.all(np.isnan(res.ratios[~kept])) and not np.any(np.isnan(res.ratios[kept]))
    full = local_lipschitz(rec, Xs.iloc[:40], radius=1.5, n_perturbations=8, random_state=0)
    expect = np.where(
        kept.any(axis=1), np.nanmax(np.where(kept, full.ratios, np.nan), axis=1), np.nan
    )
    np.testing.assert_allclose(res.estimate, expect, rtol=1e-12)
    # a regressor filters nothing
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit(Xs, y)
    r2 = local_lipschitz(
        rec, Xs.iloc[:40], radius=1.5, n_perturbations=8, model=reg, random_state=0
    )
    assert r2.kept.all()


def test_lipschitz_matches_quantus_on_the_same_perturbations():
    # Quantus' LocalLipschitzEstimate draws its own noise; fed our perturbations through
    # a replaying perturb_func (one block of neighbours per step), it must give the same
    # estimate: max over steps of ||a - a'||_2 / (||x - x'||_2 + 1e-10).
    torch = requires("torch")
    quantus = requires("quantus")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    net = net.double().eval()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 6))
    y = net(torch.from_numpy(X)).argmax(1).numpy()

    def grads(model, inputs, targets, **_):
        x = torch.as_tensor(np.asarray(inputs), dtype=torch.float64).requires_grad_(True)
        out = model(x)
        (g,) = torch.autograd.grad(out[torch.arange(len(x)), torch.as_tensor(targets)].sum(), x)
        return g.detach().numpy()

    rec = Recorder(lambda Z: grads(net, Z, np.tile(y, len(Z) // len(y))))
    m, n = 7, len(X)
    ours = local_lipschitz(rec, X, n_perturbations=m, random_state=3)
    blocks = rec.calls[0].reshape(m + 1, n, -1)
    step = iter(range(1, m + 1))

    def replay(arr, indices, **_):
        return blocks[next(step)].reshape(arr.shape).copy()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = quantus.LocalLipschitzEstimate(
            nr_samples=m, perturb_func=replay, normalise=False, abs=False,
            disable_warnings=True, display_progressbar=False,
        )  # fmt: skip
        q = metric(
            model=net, x_batch=X, y_batch=y, a_batch=None, explain_func=grads,
            batch_size=n, device="cpu",
        )  # fmt: skip
    np.testing.assert_allclose(ours.estimate, np.asarray(q), rtol=1e-7)


def test_lipschitz_images_use_the_value_range():
    rng = np.random.default_rng(4)
    X = rng.uniform(0.2, 0.9, size=(5, 1, 4, 4)).astype(np.float32)
    rec = Recorder(lambda Z: np.asarray(Z, dtype=np.float64) ** 2)
    res = local_lipschitz(rec, X, radius=0.1, n_perturbations=3, random_state=0)
    Z = rec.calls[0]
    assert Z.dtype == np.float32 and Z.shape == (20, 1, 4, 4)
    span = float(X.max() - X.min())
    np.testing.assert_allclose(res.scale, span)
    assert np.abs(Z[5:] - np.tile(X, (3, 1, 1, 1))).max() <= 0.1 * span + 1e-6
    # brute force on the float32 copies as handed over
    xf, zf = X.reshape(5, -1).astype(float), Z.reshape(20, -1).astype(float)
    ratio = [
        np.linalg.norm(zf[(j + 1) * 5 + i] ** 2 - xf[i] ** 2)
        / np.linalg.norm(zf[(j + 1) * 5 + i] - xf[i])
        for i in range(5)
        for j in range(3)
    ]
    np.testing.assert_allclose(res.ratios.reshape(-1), ratio, rtol=1e-10)


def test_lipschitz_explanation_output_and_batching(cancer):
    X, _, model = cancer
    import whybox

    Xs = X.iloc[:25]
    res = local_lipschitz(lambda Z: whybox.explain(model, Z), Xs, n_perturbations=4, random_state=0)
    batched = local_lipschitz(
        lambda Z: whybox.explain(model, Z), Xs, n_perturbations=4, batch_size=30, random_state=0
    )
    np.testing.assert_allclose(res.estimate, batched.estimate, rtol=1e-10)
    assert res.method.startswith("tree") and res.outputs == ("1",) * 25
    # same seed, same result; other seed, other neighbours
    again = local_lipschitz(
        lambda Z: whybox.explain(model, Z), Xs, n_perturbations=4, random_state=0
    )
    np.testing.assert_array_equal(res.ratios, again.ratios)
    assert res.to_frame().shape == (25, 4)
    import json

    json.dumps(res.to_dict())


def test_lipschitz_dataframe_keeps_text_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=10), "c": list("xyxyxyxyxy"), "b": rng.normal(size=10) * 5}
    )
    rec = Recorder(lambda Z: Z[["a", "b"]].to_numpy(dtype=float) * [1.0, 3.0])
    res = local_lipschitz(rec, frame, n_perturbations=3, random_state=0)
    Z = rec.calls[0]
    assert list(Z["c"]) == list(frame["c"]) * 4
    np.testing.assert_allclose(res.scale, frame[["a", "b"]].to_numpy().std(axis=0))
    assert np.all((res.estimate >= 1.0 - 1e-12) & (res.estimate <= 3.0 + 1e-12))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"radius": 0}, "radius"),
        ({"radius": -1.0}, "radius"),
        ({"n_perturbations": 0}, "n_perturbations"),
        ({"norm": "l3"}, "norm"),
        ({"scale": [1.0, 2.0]}, "scale"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_lipschitz_bad_arguments(kwargs, match):
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(InputError, match=match):
        local_lipschitz(lambda Z: Z, X, **kwargs)


def test_lipschitz_bad_inputs():
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(InputError, match="rows"):
        local_lipschitz(lambda Z: Z[:3], X)
    one_row = Explanation(
        values=np.zeros((3, 3, 1)), base_values=np.zeros((3, 1)), data=None,
        feature_names=("a", "b", "c"), output_names=("p",),
    )  # fmt: skip
    with pytest.raises(InputError, match="returned 3 rows"):
        local_lipschitz(lambda Z: one_row, X)
    with pytest.raises(InputError, match="scale="):
        local_lipschitz(lambda Z: Z, np.ones((4, 3)))
    with pytest.raises(InputError, match="explain_fn"):
        local_lipschitz("not callable", X)
    with pytest.raises(InputError, match="numeric"):
        local_lipschitz(lambda Z: Z, np.array([["a", "b"]] * 3))
    with pytest.raises(InputError, match="explain_fn failed"):
        local_lipschitz(lambda Z: 1 / 0, X)
    multi = Explanation(
        values=np.zeros((28, 3, 2)), base_values=np.zeros((28, 2)), data=None,
        feature_names=("a", "b", "c"), output_names=("p", "q"),
    )  # fmt: skip
    with pytest.raises(InputError, match="target="):
        local_lipschitz(lambda Z: multi, X, n_perturbations=6)
    # with target= it works, and a bad name is refused
    assert np.all(local_lipschitz(lambda Z: multi, X, n_perturbations=6, target="q").estimate == 0)
    with pytest.raises(InputError, match="output"):
        local_lipschitz(lambda Z: multi, X, n_perturbations=6, target="zz")


# ---------------------------------------------------------------------- rank helpers
def test_rank_correlations_equal_scipy_including_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(40, 9)).astype(float)  # many ties
    b = a + rng.integers(0, 3, size=(40, 9))
    rho = spearman_rows(a, b)
    tau = kendall_rows(a, b)
    for i in range(40):
        if np.ptp(a[i]) and np.ptp(b[i]):
            assert rho[i] == pytest.approx(stats.spearmanr(a[i], b[i]).statistic, abs=1e-12)
            assert tau[i] == pytest.approx(stats.kendalltau(a[i], b[i]).statistic, abs=1e-12)
    # conventions: identical rankings 1 (even constant), one constant row 0
    c = np.zeros((1, 5))
    assert spearman_rows(c, c)[0] == 1.0 and kendall_rows(c, c)[0] == 1.0
    assert spearman_rows(c, np.arange(5.0)[None])[0] == 0.0
    assert kendall_rows(c, np.arange(5.0)[None])[0] == 0.0
    # the many-feature path (scipy row by row) agrees with the definition
    big_a, big_b = rng.normal(size=(2, 2100)), rng.normal(size=(2, 2100))
    expect = [stats.kendalltau(big_a[i], big_b[i]).statistic for i in range(2)]
    np.testing.assert_allclose(kendall_rows(big_a, big_b), expect, atol=1e-12)


# ---------------------------------------------------------------------- seed stability
def test_seed_stability_equals_a_direct_computation():
    rng0 = np.random.default_rng(0)
    base = rng0.normal(size=(6, 8))

    def factory(seed):
        noise = np.random.default_rng(seed).normal(scale=0.4, size=base.shape)
        return lambda X: base + noise

    seeds = (3, 11, 42)
    res = seed_stability(factory, None, seeds=seeds, top_k=3)
    vals = np.stack([factory(s)(None) for s in seeds])
    np.testing.assert_allclose(res.values, vals)
    pairs = [(0, 1), (0, 2), (1, 2)]
    for i in range(6):
        jac, rho, tau = [], [], []
        for a, b in pairs:
            ta = set(np.argsort(-np.abs(vals[a, i]), kind="stable")[:3])
            tb = set(np.argsort(-np.abs(vals[b, i]), kind="stable")[:3])
            jac.append(len(ta & tb) / len(ta | tb))
            rho.append(stats.spearmanr(np.abs(vals[a, i]), np.abs(vals[b, i])).statistic)
            tau.append(stats.kendalltau(np.abs(vals[a, i]), np.abs(vals[b, i])).statistic)
        assert res.top_k_jaccard[i] == pytest.approx(np.mean(jac), abs=1e-12)
        assert res.spearman[i] == pytest.approx(np.mean(rho), abs=1e-12)
        assert res.kendall[i] == pytest.approx(np.mean(tau), abs=1e-12)
    np.testing.assert_allclose(res.value_std, vals.std(axis=0, ddof=1))
    assert res.summary()["n_seeds"] == 3 and res.to_frame().shape == (6, 5)


def test_deterministic_explainer_is_perfectly_stable(cancer):
    import whybox

    X, _, model = cancer
    res = seed_stability(lambda s: lambda Z: whybox.explain(model, Z), X.iloc[:30])
    np.testing.assert_array_equal(res.top_k_jaccard, 1.0)
    np.testing.assert_array_equal(res.spearman, 1.0)
    np.testing.assert_array_equal(res.kendall, 1.0)
    assert np.all(res.value_std < 1e-12)
    assert res.summary()["top_k_jaccard"] == 1.0


def test_lime_with_few_samples_is_less_stable_than_with_many(cancer):
    from whybox import LimeTabularExplainer

    X, _, model = cancer
    rows = X.iloc[:12]

    def run(n_samples):
        return seed_stability(
            lambda s: LimeTabularExplainer(model, X, n_perturbations=n_samples, random_state=s),
            rows,
            seeds=(0, 1, 2, 3),
        )

    few, many = run(60), run(1500)
    assert few.summary()["top_k_jaccard"] < many.summary()["top_k_jaccard"]
    assert few.summary()["spearman"] < many.summary()["spearman"]
    assert few.relative_std > many.relative_std
    assert many.summary()["top_k_jaccard"] > 0.6


def test_seed_stability_errors():
    f = lambda s: lambda X: np.ones((2, 3))  # noqa: E731
    with pytest.raises(InputError, match="seeds"):
        seed_stability(f, None, seeds=(1,))
    with pytest.raises(InputError, match="seeds"):
        seed_stability(f, None, seeds=(1, 1))
    with pytest.raises(InputError, match="k must"):
        seed_stability(f, None, top_k=0)
    with pytest.raises(InputError, match="callable"):
        seed_stability(lambda s: 3, None)
    with pytest.raises(InputError, match="shape"):
        seed_stability(lambda s: lambda X: np.ones((2, 3 + s)), None, seeds=(0, 1))


def test_results_round_trip_through_strict_json(cancer):
    X, _, model = cancer
    rows = X.iloc[:6]
    lip = local_lipschitz(
        lambda Z: whybox.explain(model, Z), rows, n_perturbations=3, model=model, radius=2.0,
        random_state=0,
    )  # fmt: skip
    assert_round_trip(lip)
    seeds = seed_stability(lambda s: lambda Z: whybox.explain(model, Z), rows, seeds=(0, 1))
    back = assert_round_trip(seeds)
    assert back.summary() == seeds.summary()


def test_lipschitz_missing_cells_stay_missing_and_count_as_no_change():
    """A row with a missing value still gets an estimate: the NaN cell stays NaN in each
    neighbour, moves by 0 in ||x - x'|| and the column's scale is the std of the values
    present (regression: a NaN made every estimate NaN)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=12), "c": list("xy") * 6, "b": rng.normal(size=12) * 5}
    )
    frame.loc[[1, 4], "a"] = np.nan
    rec = Recorder(lambda Z: np.nan_to_num(Z[["a", "b"]].to_numpy(dtype=float)) * 2.0)
    res = local_lipschitz(rec, frame, n_perturbations=4, random_state=0)
    Z = rec.calls[0]
    assert Z["a"].isna().to_numpy().reshape(5, 12)[:, [1, 4]].all()
    np.testing.assert_allclose(res.scale, [np.nanstd(frame["a"]), frame["b"].std(ddof=0)])
    # e(x) = 2 x on the cells present, so every ratio is exactly 2
    np.testing.assert_allclose(res.ratios, 2.0, rtol=1e-12)
    np.testing.assert_allclose(res.estimate, 2.0, rtol=1e-12)
