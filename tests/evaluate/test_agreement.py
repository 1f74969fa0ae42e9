"""Agreement between explanations (Krishna et al. 2022).

Ground truths: properties that must hold (identical explanations agree fully; a reversed
ranking shares no top-k feature for k < d/2) and a 3-row example computed by hand from
the definitions of Krishna et al. (2022).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.evaluate._helpers import assert_round_trip
from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.evaluate import METRICS, agreement


def _tab(values, names=None, data=None, method="m", model_output=None):
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[..., None]
    n, d, k = values.shape
    return Explanation(
        values=values,
        base_values=np.zeros((n, k)),
        data=data,
        feature_names=names or tuple(f"f{j}" for j in range(d)),
        output_names=tuple(f"o{j}" for j in range(k)),
        method=method,
        model_output=model_output,
    )


# ---------------------------------------------------------------------- agreement
def test_identical_explanations_agree_fully():
    v = np.random.default_rng(0).normal(size=(7, 6))
    res = agreement({"a": _tab(v), "b": _tab(v), "c": v.copy()}, top_k=3)
    for metric in METRICS:
        np.testing.assert_array_equal(res.matrix(metric).to_numpy(), 1.0)
    assert "every feature is in their top 3 on the same share of rows" in res.summary


def test_reversed_ranking_shares_no_top_k_feature():
    d = 10
    base = np.tile(np.arange(1.0, d + 1), (4, 1))  # feature d-1 most important
    rev = base[:, ::-1].copy()
    for k in range(1, d // 2 + 1):
        res = agreement({"x": _tab(base), "y": _tab(rev)}, top_k=k)
        expect = 0.0 if k < d / 2 else (2 * k - d) / k
        assert res.matrix("feature_agreement").loc["x", "y"] == pytest.approx(expect)
        assert res.matrix("rank_agreement").loc["x", "y"] == 0.0
    res = agreement({"x": _tab(base), "y": _tab(rev)}, top_k=2)
    assert res.matrix("rank_correlation").loc["x", "y"] == pytest.approx(-1.0)


def test_metrics_equal_a_hand_computation_on_three_rows():
    # Top-2 by |value| (ties by position). Row 0: A -> [0, 1], B -> [1, 0];
    # row 1: A -> [2, 0], B -> [2, 1]; row 2: A -> [3, 1], B -> [3, 1], signs differ on 1.
    A = np.array([[5.0, -4.0, 1.0, 0.5], [3.0, 0.1, -9.0, 1.0], [0.0, 2.0, 1.0, -6.0]])
    B = np.array([[4.0, -5.0, 0.2, 0.1], [0.5, 2.0, -7.0, 1.0], [0.1, -3.0, 1.0, -8.0]])
    res = agreement({"A": _tab(A), "B": _tab(B)}, top_k=2)
    per = {m: res.per_row[m][0, 1] for m in METRICS}
    # feature agreement: |{0,1}&{1,0}|=2, |{2,0}&{2,1}|=1, |{3,1}&{3,1}|=2 -> /2
    np.testing.assert_allclose(per["feature_agreement"], [1.0, 0.5, 1.0])
    # rank agreement: same feature at the same position: 0, 1 (pos 0), 2
    np.testing.assert_allclose(per["rank_agreement"], [0.0, 0.5, 1.0])
    # sign agreement: shared features with equal sign: row0 {0:+/+, 1:-/-} 2, row1 {2: -/-} 1,
    # row2 {3: -/-, 1: +/-} 1
    np.testing.assert_allclose(per["sign_agreement"], [1.0, 0.5, 0.5])
    # signed rank agreement: row0 0, row1 (pos 0: 2, -/-) 1, row2 (pos 0: 3 -/- yes, pos 1: 1 +/- no) 1
    np.testing.assert_allclose(per["signed_rank_agreement"], [0.0, 0.5, 0.5])
    rho = [stats.spearmanr(np.abs(A[i]), np.abs(B[i])).statistic for i in range(3)]
    np.testing.assert_allclose(per["rank_correlation"], rho, atol=1e-12)
    assert res.matrix("sign_agreement").loc["A", "B"] == pytest.approx(2 / 3)
    # top-k shares and the plain-language summary (f0 and f1 differ by one row each;
    # the tie goes to the first)
    np.testing.assert_allclose(res.top_k_share[0], [2 / 3, 2 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(res.top_k_share[1], [1 / 3, 1.0, 1 / 3, 1 / 3])
    assert "A and B share 1.7 of their top 2 features on average" in res.summary
    assert "disagree most on 'f0' (top-2 for A on 67% of rows, for B on 33%)" in res.summary
    frame = res.to_frame()
    assert frame.loc[0, "shared_top_k"] == pytest.approx(5 / 3)
    back = assert_round_trip(res)
    assert back.summary == res.summary
    pd.testing.assert_frame_equal(back.to_frame(), res.to_frame())


def test_agreement_aligns_names_and_accepts_images_and_global_importance():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(5, 4))
    names = ("a", "b", "c", "d")
    shuffled = _tab(v[:, [2, 0, 3, 1]], names=("c", "a", "d", "b"))
    res = agreement({"x": _tab(v, names=names), "y": shuffled}, top_k=2)
    np.testing.assert_array_equal(res.matrix("rank_agreement").to_numpy(), 1.0)
    # a global permutation importance: one ranking for every row
    from whybox.inspection._results import PermutationImportance

    pi = PermutationImportance(
        importances=np.array([[0.3], [0.0], [0.2], [-0.1]]),
        importances_mean=np.array([0.3, 0.0, 0.2, -0.1]),
        importances_std=np.zeros(4),
        feature_names=names,
        baseline_score=0.9,
        scoring="accuracy",
    )
    glob = np.tile([3.0, 0.0, 2.0, 0.0], (5, 1))
    r1 = agreement({"x": _tab(v, names=names), "pi": pi}, top_k=2)
    r2 = agreement({"x": _tab(v, names=names), "pi": _tab(glob, names=names)}, top_k=2)
    for m in METRICS:
        np.testing.assert_allclose(r1.per_row[m], r2.per_row[m])
    # gradient maps (n, C, H, W, 1) are flattened into features
    img = rng.normal(size=(3, 1, 2, 2, 1))
    ex = Explanation(
        values=img, base_values=np.zeros((3, 1)), data=None, feature_names=(),
        output_names=("7",), axes=("samples", "channels", "height", "width", "outputs"),
    )  # fmt: skip
    r3 = agreement({"ig": ex, "flat": img.reshape(3, 4)}, top_k=2)
    np.testing.assert_array_equal(r3.matrix("signed_rank_agreement").to_numpy(), 1.0)
    assert r3.feature_names[3] == "(0, 1, 1)"


def test_agreement_of_real_explainers(cancer):
    import whybox

    X, _, model = cancer
    rows = X.iloc[:15]
    shap_ex = whybox.explain(model, rows)
    lime_ex = whybox.LimeTabularExplainer(model, X, n_perturbations=500, random_state=0)(rows)
    res = agreement({"SHAP": shap_ex, "LIME": lime_ex}, top_k=5)
    fa = res.per_row["feature_agreement"][0, 1]
    sets = [
        len(
            set(np.argsort(-np.abs(shap_ex.values[i, :, 0]), kind="stable")[:5])
            & set(np.argsort(-np.abs(lime_ex.values[i, :, 0]), kind="stable")[:5])
        )
        / 5
        for i in range(15)
    ]
    np.testing.assert_allclose(fa, sets)
    assert res.summary.startswith("SHAP and LIME share")


def test_agreement_errors():
    v = np.ones((4, 3))
    with pytest.raises(InputError, match="at least two"):
        agreement({"a": _tab(v)})
    with pytest.raises(InputError, match="rows"):
        agreement({"a": _tab(v), "b": _tab(np.ones((5, 3)))})
    with pytest.raises(InputError, match="features"):
        agreement({"a": _tab(v), "b": _tab(np.ones((4, 2)))})
    with pytest.raises(InputError, match="other features"):
        agreement({"a": _tab(v), "b": _tab(v, names=("x", "y", "z"))})
    with pytest.raises(InputError, match="k must"):
        agreement({"a": _tab(v), "b": _tab(v)}, top_k=0)
    with pytest.raises(InputError, match="mapping"):
        agreement([_tab(v), _tab(v)])
    data = np.arange(12.0).reshape(4, 3)
    with pytest.raises(InputError, match="other rows"):
        agreement({"a": _tab(v, data=data), "b": _tab(v, data=data + 1)})
    multi = _tab(np.ones((4, 3, 2)))
    with pytest.raises(InputError, match="target="):
        agreement({"a": multi, "b": multi})
    # with model_output, each row's predicted class is compared
    mo = np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    vals = np.random.default_rng(0).normal(size=(4, 3, 2))
    res = agreement({"a": _tab(vals, model_output=mo), "b": vals[np.arange(4), :, mo.argmax(1)]})
    np.testing.assert_array_equal(res.matrix("rank_agreement").to_numpy(), 1.0)


def test_disagreement_matrix_plot():
    from matplotlib.figure import Figure

    from whybox.plots._agreement import disagreement_matrix

    rng = np.random.default_rng(0)
    exs = {name: _tab(rng.normal(size=(6, 5))) for name in ("SHAP", "LIME", "IG$")}
    res = agreement(exs, top_k=2)
    fig = disagreement_matrix(res, metric="rank_correlation")
    assert isinstance(fig, Figure)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts}
    mat = res.matrix("rank_correlation")
    for a in exs:
        for b in exs:
            assert texts[f"cell:{a}:{b}"] == f"{mat.loc[a, b]:.2f}"
    assert fig.axes[0].images[0].get_gid() == "matrix"
    with pytest.raises(InputError, match="metric"):
        disagreement_matrix(res, metric="nope")
    with pytest.raises(InputError, match="Agreement"):
        disagreement_matrix(pd.DataFrame())


def test_top_k_above_the_features_is_an_error_and_the_default_fits():
    ex = _tab(np.random.default_rng(0).normal(size=(10, 6)))
    with pytest.raises(InputError, match="top_k must be at most the number of features"):
        agreement({"a": ex, "b": ex}, top_k=7)
    assert agreement({"a": ex, "b": ex}).k == 5
    assert agreement({"a": _tab(np.ones((4, 3))), "b": _tab(np.ones((4, 3)))}).k == 3
