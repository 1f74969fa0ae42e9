"""The synthetic loan applications: their columns, their missing values and the planted
log-odds, recovered by maximum likelihood."""

import numpy as np
import pandas as pd
import pytest

from whybox._exceptions import InputError
from whybox.datasets import load_applications, make_applications
from whybox.datasets._applications import (
    CATEGORIES,
    CREDIT_SCORE_EFFECT,
    INCOME_EFFECT,
    INTERCEPT,
    LOAN_EFFECT,
    MISSING_SHARE,
    NUMERIC_COLUMNS,
    SELF_EMPLOYED_INCOME_EFFECT,
    TEXT_COLUMNS,
)


def test_columns_types_and_missing_values():
    X, y = make_applications(20000)
    assert list(X.columns) == [*TEXT_COLUMNS, *NUMERIC_COLUMNS] and len(TEXT_COLUMNS) == 5
    for column, (levels, _, _) in CATEGORIES.items():
        assert not pd.api.types.is_numeric_dtype(X[column])
        assert set(X[column]) == set(levels)
    for column, share in MISSING_SHARE.items():
        assert X[column].dtype == np.float64
        # the missing share within 5 binomial standard deviations
        sd = np.sqrt(share * (1 - share) / len(X))
        assert abs(X[column].isna().mean() - share) <= 5 * sd
    assert set(y) == {0, 1} and y.name == "approved"
    X2, y2 = make_applications(20000)
    pd.testing.assert_frame_equal(X, X2)
    assert (y == y2).all()
    assert not X.equals(make_applications(20000, random_state=1)[0])


def test_bad_n_samples_is_one_sentence():
    with pytest.raises(InputError, match="n_samples"):
        make_applications(10)


def _design(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The true model's design (first level of each text column as the reference) and its
    true coefficients, intercept first."""
    columns, truth = [np.ones(len(X))], [INTERCEPT]
    for column, (levels, _, effects) in CATEGORIES.items():
        truth[0] += effects[0]
        for level, effect in zip(levels[1:], effects[1:], strict=True):
            columns.append((X[column] == level).to_numpy(dtype=float))
            truth.append(effect - effects[0])
    log_income = np.log(X["income"].to_numpy() / 40000.0)
    columns += [
        log_income,
        (X["employment"] == "self_employed").to_numpy() * log_income,
        np.log(X["loan_amount"].to_numpy() / 10000.0),
        X["credit_score"].to_numpy() - 650.0,
        (X["age"].to_numpy() - 45.0) ** 2,
    ]
    truth += [INCOME_EFFECT, SELF_EMPLOYED_INCOME_EFFECT, LOAN_EFFECT, CREDIT_SCORE_EFFECT, -0.0015]
    return np.column_stack(columns), np.asarray(truth)


def test_planted_log_odds_are_recovered_by_maximum_likelihood():
    """Rows with no missing value are a random subset (values are hidden at random after
    the decision): the unpenalised logistic MLE on the true design must find the planted
    coefficients within 4.5 standard errors (inverse Fisher information) each."""
    from scipy.optimize import minimize
    from scipy.special import expit

    X, y = make_applications(60000)
    keep = X[list(NUMERIC_COLUMNS)].notna().all(axis=1).to_numpy()
    design, truth = _design(X[keep])
    target = y.to_numpy()[keep].astype(float)

    def loss(beta):
        z = design @ beta
        value = np.sum(np.logaddexp(0.0, z) - target * z)
        return value, design.T @ (expit(z) - target)

    beta = minimize(loss, np.zeros(len(truth)), jac=True, method="BFGS",
                    options={"gtol": 1e-8, "maxiter": 5000}).x  # fmt: skip
    p = expit(design @ beta)
    fisher = design.T @ (design * (p * (1 - p))[:, None])
    se = np.sqrt(np.diag(np.linalg.inv(fisher)))
    assert np.all(np.abs(beta - truth) <= 4.5 * se), np.abs(beta - truth) / se


def test_region_is_planted_with_no_effect():
    assert all(e == 0.0 for e in CATEGORIES["region"][2])


def test_load_applications_fits_a_pipeline_on_a_held_out_split():
    from sklearn.pipeline import Pipeline

    case = load_applications()
    assert isinstance(case.model, Pipeline)
    assert len(case.X_test) == 1000 and len(case.X_train) == 3000
    assert case.text_columns == TEXT_COLUMNS
    assert case.X_test["credit_score"].isna().any()  # the pipeline imputes them
    proba = case.model.predict_proba(case.X_test)[:, 1]
    assert np.all((proba > 0) & (proba < 1))
    # better than the majority class on held-out rows
    assert case.model.score(case.X_test, case.y_test) > max(
        case.y_test.mean(), 1 - case.y_test.mean()
    )


def test_the_fitted_pipeline_is_explained_in_its_input_columns():
    """TreeSHAP of the demo pipeline: one value per input column (text columns included) that
    add up to the pipeline's own decision_function."""
    import whybox

    case = load_applications(n_samples=800)
    ex = whybox.TreeExplainer(case.model, progress=False)(case.X_test)
    assert ex.feature_names == tuple(case.X_test.columns)
    total = ex.base_values[:, 0] + ex.values[:, :, 0].sum(axis=1)
    np.testing.assert_allclose(total, case.model.decision_function(case.X_test), rtol=0, atol=1e-9)
    # region has no planted effect: it matters least of the text columns
    importance = np.abs(ex.values[:, :, 0]).mean(axis=0)
    text = [list(case.X_test.columns).index(c) for c in TEXT_COLUMNS]
    assert min(text, key=lambda j: importance[j]) == list(case.X_test.columns).index("region")
