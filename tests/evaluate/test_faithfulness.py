"""Faithfulness metrics: deletion/insertion curves, AOPC, correlations and infidelity.

Ground truths: closed forms for linear models, brute-force loops that build every
perturbed input and call the model, Quantus (FaithfulnessCorrelation, on the same
random subsets) and Captum (infidelity, on the same noise).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests._requires import requires
from tests.evaluate._helpers import assert_round_trip
from whybox import Explanation
from whybox._exceptions import InputError
from whybox.evaluate._faithfulness import (
    Faithfulness,
    _correlation_of_subsets,
    faithfulness,
    faithfulness_correlation,
    infidelity,
    sensitivity_n,
)
from whybox.evaluate._perturb import prepare


# ---------------------------------------------------------------------- fixtures
def _linear(w: np.ndarray, c: float = 0.5):
    def f(X):
        return np.asarray(X, dtype=np.float64) @ w + c

    return f


def _tab_explanation(values: np.ndarray, X: np.ndarray, names=None, method="test") -> Explanation:
    n, d = X.shape
    names = names or [f"x{j}" for j in range(d)]
    return Explanation(
        values=values.reshape(n, d, 1),
        base_values=np.zeros((n, 1)),
        data=X,
        feature_names=names,
        output_names=("output",),
        method=method,
    )


@pytest.fixture(scope="module")
def linear_case():
    rng = np.random.default_rng(0)
    n, d = 12, 9
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d)
    w = rng.normal(size=d) * 2
    f = _linear(w)
    true = w * (X - X.mean(axis=0))  # exact Shapley values with the mean baseline
    return X, w, f, true


# ---------------------------------------------------------------------- linear ground truth
def test_true_linear_attribution_is_optimal_and_beats_random_and_reversed(linear_case):
    # For f(x) = w.x + c and the mean baseline, removing a set S gives
    # f(x) - f(x_S<-mean) = sum_{j in S} w_j (x_j - mean_j) = sum_{j in S} phi_j, so the
    # explanation's order (largest phi first) maximises the drop at every count: its
    # AOPC is >= that of every order, and the reversed order's is <= every order's.
    X, w, f, true = linear_case
    for seed in range(3):
        rng = np.random.default_rng(seed)
        random_values = rng.normal(size=true.shape)
        res = {
            name: faithfulness(f, _tab_explanation(v, X), n_steps=5, n_random=8, random_state=seed)
            for name, v in [("true", true), ("random", random_values), ("reversed", -true)]
        }
        t, r, rev = res["true"], res["random"], res["reversed"]
        assert np.all(t.aopc[:, None] >= t.aopc_random - 1e-12)
        assert np.all(rev.aopc[:, None] <= rev.aopc_random + 1e-12)
        assert np.all(t.aopc >= r.aopc - 1e-12) and np.all(r.aopc >= rev.aopc - 1e-12)
        assert t.mean_aopc > r.mean_aopc > rev.mean_aopc
        assert t.deletion_auc.mean() < r.deletion_auc.mean() < rev.deletion_auc.mean()
        assert t.insertion_auc.mean() > r.insertion_auc.mean()
        assert t.passes_overall and not rev.passes_overall
        assert t.passes.mean() > 0.9
        # every curve starts at f(x) and ends at f(mean)
        f_mean = f(X.mean(axis=0)[None])[0]
        np.testing.assert_allclose(t.deletion[:, 0], f(X), atol=1e-12)
        np.testing.assert_allclose(t.deletion[:, -1], f_mean, atol=1e-12)


def test_linear_correlations_are_exactly_one(linear_case):
    # sum_{j in S} phi_j equals the output drop for every subset: correlation 1.
    X, w, f, true = linear_case
    ex = _tab_explanation(true, X)
    fc = faithfulness_correlation(f, ex, subset_size=3, n_subsets=20, random_state=1)
    np.testing.assert_allclose(fc.correlation, 1.0, atol=1e-10)
    np.testing.assert_allclose(fc.attribution_sums, fc.output_drops, atol=1e-10)
    sn = sensitivity_n(f, ex, n_subsets=10, random_state=1)
    assert list(sn.ns) == [1, 2, 4, 8]
    np.testing.assert_allclose(sn.correlation, 1.0, atol=1e-10)
    # a wrong explanation (features permuted) is not sensitive-n
    wrong = sensitivity_n(f, _tab_explanation(true[:, ::-1], X), n_subsets=10, random_state=1)
    assert np.nanmean(wrong.correlation) < 0.6


def test_infidelity_of_exact_linear_explanations_is_zero(linear_case):
    # Baseline perturbations I = (x - b) 1_S: I.phi with phi read as contributions is
    # sum_{S} phi_j = sum_{S} w_j (x_j - b_j) = f(x) - f(x - I), so INFD = 0 exactly.
    # Gaussian noise I: f(x) - f(x - I) = w . I, so the gradient phi = w gives INFD = 0.
    X, w, f, true = linear_case
    exact = infidelity(f, _tab_explanation(true, X), perturbation="baseline", random_state=0)
    np.testing.assert_allclose(exact.infidelity, 0.0, atol=1e-20)
    np.testing.assert_allclose(exact.scale, 1.0, atol=1e-10)
    wrong = infidelity(
        f, _tab_explanation(true[:, ::-1], X), perturbation="baseline", random_state=0
    )
    assert np.all(wrong.infidelity > 1e-3)
    assert np.all(wrong.infidelity_scaled <= wrong.infidelity + 1e-12)
    grad = np.broadcast_to(w, X.shape)
    g = infidelity(f, _tab_explanation(grad, X), noise_scale=0.5, random_state=0)
    np.testing.assert_allclose(g.infidelity, 0.0, atol=1e-20)
    g_wrong = infidelity(f, _tab_explanation(2 * grad[:, ::-1], X), noise_scale=0.5, random_state=0)
    assert np.all(g_wrong.infidelity > 1e-3)
    # optimal scaling undoes a wrong scale entirely
    g2 = infidelity(f, _tab_explanation(3 * grad, X), noise_scale=0.5, random_state=0)
    assert np.all(g2.infidelity > 1e-3)
    np.testing.assert_allclose(g2.infidelity_scaled, 0.0, atol=1e-20)
    np.testing.assert_allclose(g2.scale, 1 / 3, rtol=1e-10)


def test_brute_force_curves_aopc_auc():
    rng = np.random.default_rng(3)
    n, d, n_steps = 4, 7, 3

    def f(X):  # a nonlinear regression
        X = np.asarray(X, dtype=np.float64)
        return np.sin(X[:, 0]) * X[:, 1] + X[:, 2] ** 2 - np.tanh(X[:, 3:] @ np.arange(1, d - 2))

    X = rng.normal(size=(n, d))
    phi = rng.normal(size=(n, d))
    phi[0, :3] = 1.0  # ties: the earlier feature goes first
    base = rng.normal(size=d)
    res = faithfulness(
        f, _tab_explanation(phi, X), baseline=base, n_steps=n_steps, n_random=2, random_state=0
    )
    assert res.deletion.shape == (n, n_steps + 1)
    counts = [int(np.floor(k / n_steps * d + 0.5)) for k in range(n_steps + 1)]
    for i in range(n):
        order = sorted(range(d), key=lambda j: (-phi[i, j], j))
        for k, c in enumerate(counts):
            deleted = X[i].copy()
            deleted[order[:c]] = base[order[:c]]
            inserted = base.copy()
            inserted[order[:c]] = X[i, order[:c]]
            assert abs(res.deletion[i, k] - f(deleted[None])[0]) < 1e-12
            assert abs(res.insertion[i, k] - f(inserted[None])[0]) < 1e-12
    fx = f(X)
    np.testing.assert_allclose(res.deletion[:, 0], fx, atol=1e-12)
    np.testing.assert_allclose(res.insertion[:, -1], fx, atol=1e-12)
    np.testing.assert_allclose(res.random_deletion_mean[:, 0], fx, atol=1e-12)
    np.testing.assert_allclose(res.model_output, fx, atol=1e-12)
    aopc = np.array(
        [np.mean([fx[i] - res.deletion[i, k] for k in range(n_steps + 1)]) for i in range(n)]
    )
    np.testing.assert_allclose(res.aopc, aopc, atol=1e-12)
    h = 1.0 / n_steps
    auc = np.array([sum(h * (c[k] + c[k + 1]) / 2 for k in range(n_steps)) for c in res.deletion])
    np.testing.assert_allclose(res.deletion_auc, auc, atol=1e-12)
    np.testing.assert_allclose(res.aopc_gain, res.aopc - res.aopc_random.mean(axis=1))
    # batching never changes the result
    res_b = faithfulness(
        f, _tab_explanation(phi, X), baseline=base, n_steps=n_steps, n_random=2, random_state=0,
        batch_size=5,
    )  # fmt: skip
    np.testing.assert_array_equal(res_b.deletion, res.deletion)
    np.testing.assert_array_equal(res_b.random_insertion_mean, res.random_insertion_mean)


def test_background_baseline_with_one_row_equals_that_row(linear_case):
    X, w, f, true = linear_case
    ex = _tab_explanation(true, X)
    a = faithfulness(
        f, ex, baseline="background", background=X[3:4], n_steps=4, n_random=2, random_state=0
    )
    b = faithfulness(f, ex, baseline=X[3], n_steps=4, n_random=2, random_state=0)
    np.testing.assert_allclose(a.deletion, b.deletion, atol=1e-12)
    # feature groups as players: the attribution of a group is the sum of its columns,
    # and a linear model's drop for a removed group is that sum (mean baseline)
    groups = {"g0": [0, 4, 5], "g1": ["x1", "x2"], "g2": [3, 6, 7, 8]}
    ps = prepare(f, ex, segments=groups, rng=np.random.default_rng(0))
    cols = [[0, 4, 5], [1, 2], [3, 6, 7, 8]]
    np.testing.assert_allclose(ps.attributions, np.stack([true[:, c].sum(1) for c in cols], 1))
    fc = faithfulness_correlation(
        f, ex, segments=groups, subset_size=1, n_subsets=6, random_state=0
    )
    np.testing.assert_allclose(fc.attribution_sums, fc.output_drops, atol=1e-10)
    g = infidelity(f, ex, segments=groups, perturbation="baseline", random_state=0)
    np.testing.assert_allclose(g.infidelity, 0.0, atol=1e-20)
    # "mean" uses the background's column means when one is given
    c = faithfulness(f, ex, baseline="mean", background=X[:5], n_steps=4, n_random=0)
    np.testing.assert_allclose(c.baseline_output, f(X[:5].mean(axis=0)[None])[0], atol=1e-12)


def test_shap_beats_random_when_only_three_features_matter():
    from sklearn.ensemble import HistGradientBoostingRegressor

    import whybox

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 8))
    y = 3 * X[:, 0] + 2 * np.sign(X[:, 1]) + X[:, 2] ** 2 + 0.05 * rng.normal(size=600)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X, y)
    ex = whybox.explain(model, X[:40])
    rand = _tab_explanation(rng.normal(size=(40, 8)), X[:40])
    r_shap = faithfulness(model, ex, n_random=6, random_state=0)
    r_rand = faithfulness(model, rand, n_random=6, random_state=0)
    assert r_shap.passes_overall and r_shap.gain > 0
    assert r_shap.mean_aopc > r_rand.mean_aopc + 3 * r_shap.aopc_random_spread
    assert r_shap.gain > 5 * abs(r_rand.gain)
    fc_shap = faithfulness_correlation(model, ex, subset_size=2, n_subsets=20, random_state=0)
    fc_rand = faithfulness_correlation(model, rand, subset_size=2, n_subsets=20, random_state=0)
    assert fc_shap.mean_correlation > 0.6
    assert fc_rand.mean_correlation < fc_shap.mean_correlation - 0.4


def test_multiclass_output_selection():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import whybox

    data = load_iris(as_frame=True)
    X, y = data.data, data.target_names[data.target]
    model = LogisticRegression(max_iter=500).fit(X, y)
    rows = X.iloc[::15]
    ex = whybox.explain(model, rows, background=X.iloc[::5])
    res = faithfulness(model, ex, n_steps=4, n_random=2, random_state=0)
    assert list(res.outputs) == list(model.predict(rows))
    raw = model.decision_function(rows)  # the explanation's raw space: the margins
    np.testing.assert_allclose(res.model_output, raw.max(axis=1), atol=1e-10)
    res_v = faithfulness(model, ex, target="virginica", n_steps=4, n_random=0)
    assert set(res_v.outputs) == {"virginica"}
    np.testing.assert_allclose(res_v.model_output, raw[:, 2], atol=1e-10)
    with pytest.raises(InputError, match="target='nope'"):
        faithfulness(model, ex, target="nope")
    with pytest.raises(InputError, match="out of range"):
        faithfulness(model, ex, target=5)


# ---------------------------------------------------------------------- images
def test_patches_and_segments_on_a_toy_linear_image_model():
    torch = requires("torch")
    rng = np.random.default_rng(0)
    n, c, h, w = 3, 2, 6, 6
    weights = rng.normal(size=(c * h * w, 2))
    lin = torch.nn.Linear(c * h * w, 2, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(weights.T))
    model = torch.nn.Sequential(torch.nn.Flatten(), lin).eval()
    X = rng.normal(size=(n, c, h, w))
    target = np.array([0, 1, 1])
    vals = rng.normal(size=(n, c, h, w))
    ex = Explanation(
        values=vals[..., None],
        base_values=np.zeros((n, 1)),
        data=X,
        feature_names=(),
        output_names=("target",),
        axes=("samples", "channels", "height", "width", "outputs"),
        params={"target": target.tolist()},
    )
    # 4x4 patches on 6x6: 4 patches (4x4, 4x2, 2x4, 2x2), channels together
    patch = np.zeros((h, w), dtype=int)
    patch[:4, 4:] = 1
    patch[4:, :4] = 2
    patch[4:, 4:] = 3
    ps = prepare(model, ex, baseline="zeros", segments=("patches", 4), rng=np.random.default_rng(0))
    assert list(ps.n_players) == [4, 4, 4]
    manual = np.stack([[vals[i][:, patch == p].sum() for p in range(4)] for i in range(n)])
    np.testing.assert_allclose(ps.attributions, manual, atol=1e-12)
    res = faithfulness(model, ex, baseline="zeros", n_random=0)
    assert res.deletion.shape == (n, 5)
    W = weights.reshape(c, h, w, 2)
    for i in range(n):
        order = sorted(range(4), key=lambda p: (-manual[i, p], p))
        for k in range(5):
            xi = X[i].copy()
            xi[:, np.isin(patch, order[:k])] = 0.0
            assert abs(res.deletion[i, k] - (xi * W[..., target[i]]).sum()) < 1e-10
    # superpixels: a per-row label array with a different number of segments per row
    seg = np.zeros((n, h, w), dtype=int)
    seg[0, :, 3:] = 5  # 2 segments
    seg[1] = patch * 10  # 4 segments
    seg[2] = np.arange(h)[:, None] // 2  # 3 segments (rows 0-1, 2-3, 4-5)
    ps = prepare(model, ex, baseline="zeros", segments=seg, rng=np.random.default_rng(0))
    assert list(ps.n_players) == [2, 4, 3]
    np.testing.assert_allclose(
        ps.attributions[0, :2], [vals[0][..., :3].sum(), vals[0][..., 3:].sum()]
    )
    np.testing.assert_allclose(
        ps.attributions[2], [vals[2][:, 2 * r : 2 * r + 2].sum() for r in range(3)] + [0]
    )
    res = faithfulness(
        model, ex, baseline="zeros", segments=seg, n_steps=4, n_random=3, random_state=0
    )
    f_zero = np.zeros(n)
    np.testing.assert_allclose(res.deletion[:, -1], f_zero, atol=1e-12)
    np.testing.assert_allclose(res.random_insertion_mean[:, 0], f_zero, atol=1e-12)
    f_x = np.array([(X[i] * W[..., target[i]]).sum() for i in range(n)])
    np.testing.assert_allclose(res.insertion[:, -1], f_x, atol=1e-10)
    # row 0 has 2 players: its grid visits counts round(t * 2) = 0, 0.5->1?, ...
    order0 = np.argsort(-ps.attributions[0, :2], kind="stable")
    first = seg[0] == np.unique(seg[0])[order0[0]]
    x0 = X[0].copy()
    x0[:, first] = 0
    assert abs(res.deletion[0, 2] - (x0 * W[..., 0]).sum()) < 1e-10  # t = 0.5: one of two


def test_integrated_gradients_beat_a_random_map_on_digits(digits):
    from whybox.gradients import IntegratedGradients

    x = digits.X_test[:16]
    ex = IntegratedGradients(digits.model, n_steps=16)(x, target=digits.y_test[:16])
    rng = np.random.default_rng(0)
    rand = Explanation(
        values=rng.normal(size=ex.values.shape),
        base_values=ex.base_values,
        data=ex.data,
        feature_names=(),
        output_names=ex.output_names,
        axes=ex.axes,
        params=ex.params,
    )
    kw = dict(baseline="zeros", segments=("patches", 2), n_steps=8, n_random=6, random_state=0)
    r_ig = faithfulness(digits.model, ex, **kw)
    r_rand = faithfulness(digits.model, rand, **kw)
    assert r_ig.gain > 0 and r_ig.passes_overall
    assert r_ig.mean_aopc > r_rand.mean_aopc
    assert r_ig.deletion_auc.mean() < r_rand.deletion_auc.mean()
    np.testing.assert_allclose(r_ig.model_output, ex.model_output[:, 0], rtol=1e-5, atol=1e-5)
    assert list(r_ig.n_players) == [16] * 16
    # default players on 8x8 images: 4x4 patches
    assert list(faithfulness(digits.model, ex, n_random=0).n_players) == [4] * 16


# ---------------------------------------------------------------------- references
def test_faithfulness_correlation_matches_quantus_on_the_same_subsets(digits):
    quantus = requires("quantus")

    from whybox.gradients import Saliency

    n, size, runs = 6, 16, 12
    x = digits.X_test[:n]
    y = digits.y_test[:n]
    ex = Saliency(digits.model)(x, target=y)
    a = ex.values[..., 0].astype(np.float32)
    metric = quantus.FaithfulnessCorrelation(
        nr_runs=runs, subset_size=size, perturb_baseline=0.0, normalise=False, abs=False,
        return_aggregate=False, disable_warnings=True,
    )  # fmt: skip
    # Quantus draws from numpy's global RNG: np.random.choice(64, size, replace=False)
    # for each run, then each image; seed it, and draw the same subsets again after
    state = np.random.get_state()  # noqa: NPY002 - Quantus uses the global RNG
    try:
        np.random.seed(11)  # noqa: NPY002
        expected = np.asarray(
            metric(
                model=digits.model, x_batch=x, y_batch=y, a_batch=a, channel_first=True,
                device="cpu",
            )
        )  # fmt: skip
        np.random.seed(11)  # noqa: NPY002
        idx = np.stack(
            [
                np.stack([np.random.choice(64, size, replace=False) for _ in range(n)])  # noqa: NPY002
                for _ in range(runs)
            ],
            axis=1,
        )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    removed = np.zeros((n, runs, 64), dtype=bool)
    np.put_along_axis(removed, idx, True, axis=2)
    ps = prepare(
        digits.model, ex, baseline="zeros", segments=("patches", 1), rng=np.random.default_rng(0)
    )
    corr, _, _ = _correlation_of_subsets(ps, removed)
    np.testing.assert_allclose(corr, expected, atol=1e-5)


def test_infidelity_matches_captum_on_the_same_noise():
    torch = requires("torch")
    captum_metrics = requires("captum.metrics")
    torch.manual_seed(0)
    model = (
        torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        .double()
        .eval()
    )
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 5))
    target = [0, 2, 1, 2]
    values = rng.normal(size=(4, 5, 1))
    ex = Explanation(
        values=values, base_values=np.zeros((4, 1)), data=X, feature_names=[f"f{j}" for j in range(5)],
        output_names=("target",), params={"target": target},
    )  # fmt: skip
    k, scale, seed = 7, 0.3, 5
    ours = infidelity(model, ex, n_perturbations=k, noise_scale=scale, random_state=seed)
    noise = np.random.default_rng(seed).standard_normal((4, k, 5)) * scale * X.std(axis=0)
    noise_t = torch.as_tensor(noise.reshape(4 * k, 5))

    def perturb(inputs):  # captum repeats each input k times, consecutively
        return noise_t, inputs - noise_t

    xt = torch.as_tensor(X)
    at = torch.as_tensor(values[..., 0])
    tt = torch.as_tensor(target)
    raw = captum_metrics.infidelity(model, perturb, xt, at, target=tt, n_perturb_samples=k)
    norm = captum_metrics.infidelity(
        model, perturb, xt, at, target=tt, n_perturb_samples=k, normalize=True
    )
    np.testing.assert_allclose(ours.infidelity, raw.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.infidelity_scaled, norm.numpy(), rtol=1e-8, atol=1e-14)


# ---------------------------------------------------------------------- text
def test_text_words_are_deleted():
    import whybox

    def proba(texts):
        s = np.array(
            [t.count("good") - t.count("bad") + 0.3 * t.count("fine") for t in texts], float
        )
        p = 1 / (1 + np.exp(-s))
        return np.stack([1 - p, p], axis=1)

    text = "good food, bad service, fine view"
    ex = whybox.LimeTextExplainer(
        proba, class_names=["neg", "pos"], n_perturbations=300, random_state=0
    )(text)
    res = faithfulness(proba, ex, target="pos", n_random=3, random_state=0)
    words = list(ex.feature_names)
    assert ex.output_names == ("pos",)  # a binary classifier: the positive class
    phi = ex.values[0, :, 0]
    order = np.argsort(-phi, kind="stable")
    assert res.n_players[0] == len(words) == 6
    np.testing.assert_allclose(res.model_output, proba([text])[:, 1])
    for k in range(len(words) + 1):  # brute force: delete the first k words of the order
        drop = {words[j] for j in order[:k]}
        kept = re.sub(r"\w+", lambda m, drop=drop: "" if m.group() in drop else m.group(), text)
        assert abs(res.deletion[0, k] - proba([kept])[0, 1]) < 1e-12
    assert res.aopc[0] > res.aopc_random_mean[0]
    with pytest.raises(InputError, match="perturbation='baseline'"):
        infidelity(proba, ex, target="pos")


# ---------------------------------------------------------------------- results, plot
def test_results_are_json_ready_and_plot_has_gids(linear_case):
    from whybox.plots._faithfulness import deletion_curves

    X, w, f, true = linear_case
    ex = _tab_explanation(true, X)
    res = faithfulness(f, ex, n_steps=4, n_random=3, random_state=0)
    assert isinstance(res, Faithfulness)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["params"]["n_steps"] == 4 and d["params"]["random_state"] == 0
    assert res.summary()["passes_overall"] is True
    frame = res.to_frame()
    assert len(frame) == len(X) and frame["passes"].dtype == bool
    for r in (
        faithfulness_correlation(f, ex, n_subsets=5, random_state=0),
        sensitivity_n(f, ex, n_subsets=5, random_state=0),
        infidelity(f, ex, n_perturbations=5, random_state=0),
    ):
        json.dumps(r.to_dict(), allow_nan=False)
        assert len(r.to_frame()) > 0
    none = faithfulness(f, ex, n_steps=4, n_random=0)
    assert not none.passes_overall and not none.passes.any()
    json.dumps(none.to_dict(), allow_nan=False)
    fig = deletion_curves(res)
    gids = {a.get_gid() for a in fig.axes[0].get_children()}
    assert {"deletion", "insertion", "random_deletion", "random_band"} <= gids
    line = next(a for a in fig.axes[0].lines if a.get_gid() == "deletion")
    np.testing.assert_allclose(line.get_ydata(), res.deletion.mean(axis=0))
    with pytest.raises(InputError, match="Faithfulness"):
        deletion_curves("nope")


# ---------------------------------------------------------------------- errors
def test_errors(linear_case):
    from sklearn.linear_model import LinearRegression

    X, w, f, true = linear_case
    model = LinearRegression().fit(X, f(X))
    ex = _tab_explanation(true, X)
    other = _tab_explanation(true[:, :5], X[:, :5])
    with pytest.raises(InputError, match="another dataset"):
        faithfulness(model, other)
    with pytest.raises(InputError, match="baseline has shape"):
        faithfulness(model, ex, baseline=np.zeros(4))
    with pytest.raises(InputError, match="baseline must be one of"):
        faithfulness(model, ex, baseline="median")
    with pytest.raises(InputError, match="n_steps must be a positive integer"):
        faithfulness(model, ex, n_steps=0)
    with pytest.raises(InputError, match="n_random"):
        faithfulness(model, ex, n_random=-1)
    with pytest.raises(InputError, match="target='b'"):
        faithfulness(model, ex, target="b")
    with pytest.raises(InputError, match="background=None"):
        faithfulness(model, ex, baseline="background")
    with pytest.raises(InputError, match="subset_size"):
        faithfulness_correlation(model, ex, subset_size=9)
    with pytest.raises(InputError, match="ns must be"):
        sensitivity_n(model, ex, ns=[0])
    with pytest.raises(InputError, match="noise_scale"):
        infidelity(model, ex, noise_scale=0)
    with pytest.raises(InputError, match="perturbation must be"):
        infidelity(model, ex, perturbation="uniform")
    with pytest.raises(InputError, match="Explanation"):
        faithfulness(model, true)


def test_image_errors(digits):
    from whybox.gradients import Saliency

    ex = Saliency(digits.model)(digits.X_test[:2], target=digits.y_test[:2])
    small = Explanation(
        values=ex.values[:, :, :6, :6], base_values=ex.base_values, data=ex.data[:, :, :6, :6],
        feature_names=(), output_names=ex.output_names, axes=ex.axes, params=ex.params,
    )  # fmt: skip
    with pytest.raises(InputError, match=r"cannot take inputs of shape \(1, 6, 6\)"):
        faithfulness(digits.model, small)
    with pytest.raises(InputError, match="baseline has shape"):
        faithfulness(digits.model, ex, baseline=np.zeros((1, 6, 6)))
    with pytest.raises(InputError, match="segments must be"):
        faithfulness(digits.model, ex, segments=np.zeros((3, 3), dtype=int))
    with pytest.raises(InputError, match="patch size"):
        faithfulness(digits.model, ex, segments=("patches", 0))


def test_mixed_type_pipeline_uses_the_mode_for_text_columns():
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 80),
            "city": rng.choice(["a", "b", "b", "c"], 80),
            "income": rng.normal(3, 1, 80),
        }
    )
    y = (frame["age"] > 40) ^ (frame["city"] == "b")
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, y)
    rows = frame.iloc[:5]
    phi = np.array([[3.0, 2.0, 1.0]] * 5)  # order: age, city, income
    ex = _tab_explanation(phi, rows.to_numpy(dtype=object), names=list(frame.columns))
    res = faithfulness(model, ex, target=0, n_random=2, random_state=0)
    mean_age, mode_city = rows["age"].mean(), rows["city"].mode()[0]
    for k in range(4):
        X = rows.copy()
        if k >= 1:
            X["age"] = mean_age
        if k >= 2:
            X["city"] = mode_city
        if k >= 3:
            X["income"] = rows["income"].mean()
        margin = model.decision_function(X)  # the explanation's output space is "raw"
        np.testing.assert_allclose(res.deletion[:, k], margin, atol=1e-12)
    with pytest.raises(InputError, match="perturbation='baseline'"):
        infidelity(model, ex)
    with pytest.raises(InputError, match="baseline='zeros'"):
        faithfulness(model, ex, baseline="zeros")


def test_row_blocks_never_change_the_result(linear_case, monkeypatch):
    import whybox.evaluate._faithfulness as mod

    X, w, f, true = linear_case
    ex = _tab_explanation(true + np.random.default_rng(0).normal(size=true.shape), X)

    def run():
        return (
            faithfulness(f, ex, n_steps=4, n_random=3, random_state=2).random_deletion_mean,
            sensitivity_n(f, ex, n_subsets=4, random_state=2).correlation,
            faithfulness_correlation(f, ex, n_subsets=4, random_state=2).correlation,
            infidelity(f, ex, n_perturbations=4, random_state=2).infidelity,
            infidelity(
                f, ex, n_perturbations=4, perturbation="baseline", random_state=2
            ).infidelity,
        )

    whole = run()
    monkeypatch.setattr(mod, "MAX_MASK_CELLS", 50)  # a block of one or two rows
    for a, b in zip(whole, run(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_result_round_trips_through_strict_json(linear_case):
    X, w, f, true = linear_case
    ex = _tab_explanation(true, X)
    for r in (
        faithfulness(f, ex, n_steps=4, n_random=3, random_state=0),
        faithfulness(f, ex, n_steps=4, n_random=0),  # no random orders: empty arrays, NaN
        faithfulness_correlation(f, ex, n_subsets=5, random_state=0),
        sensitivity_n(f, ex, n_subsets=5, random_state=0),
        infidelity(f, ex, n_perturbations=5, random_state=0),
    ):
        back = assert_round_trip(r)
        assert back.to_json() == r.to_json()
