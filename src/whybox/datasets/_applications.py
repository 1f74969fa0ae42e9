"""Synthetic loan applications with text categories and planted effects (generated).

The table a user typically saves a scikit-learn ``Pipeline`` for: five columns of text
categories, four numeric columns of which three have missing values, and a binary
decision drawn from a known log-odds formula (the constants below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from whybox._utils import check_int, check_random_state
from whybox.datasets._case import TrainTestCase

_MIN_SAMPLES = 200  # the fewest rows generated

#: Each text column: its categories, their probabilities and their planted log-odds
#: effects (the effect of a category is added to the log-odds of approval).
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]] = {
    "purpose": (
        ("car", "home", "education", "business", "debt_consolidation", "medical"),
        (0.25, 0.2, 0.1, 0.1, 0.25, 0.1),
        (0.3, 0.5, 0.2, -0.6, -0.4, -0.2),
    ),
    "housing": (
        ("own", "mortgage", "rent", "with_family"),
        (0.25, 0.35, 0.3, 0.1),
        (0.6, 0.3, -0.3, -0.1),
    ),
    "employment": (
        ("salaried", "self_employed", "unemployed", "retired", "student"),
        (0.55, 0.15, 0.08, 0.12, 0.1),
        (0.5, 0.0, -1.5, 0.2, -0.5),
    ),
    "region": (
        ("north", "south", "east", "west", "central"),
        (0.2, 0.2, 0.2, 0.2, 0.2),
        (0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    "education": (
        ("secondary", "vocational", "bachelor", "master", "doctorate"),
        (0.3, 0.25, 0.28, 0.14, 0.03),
        (-0.3, -0.1, 0.1, 0.3, 0.4),
    ),
}
#: The numeric columns' planted effects on the log-odds (see :func:`make_applications`).
INCOME_EFFECT = 1.5  # per unit of log(income / 40000)
LOAN_EFFECT = -1.0  # per unit of log(loan_amount / 10000)
CREDIT_SCORE_EFFECT = 0.012  # per point above 650
SELF_EMPLOYED_INCOME_EFFECT = 1.0  # extra, per unit of log(income / 40000), if self-employed
INTERCEPT = 0.2
#: The share of each numeric column's values hidden as missing, at random.
MISSING_SHARE = {"income": 0.05, "age": 0.0, "loan_amount": 0.03, "credit_score": 0.1}
TEXT_COLUMNS = tuple(CATEGORIES)
NUMERIC_COLUMNS = tuple(MISSING_SHARE)


@dataclass(frozen=True, eq=False)
class ApplicationsCase(TrainTestCase):
    """A fitted pipeline, the loan applications it learnt from and their planted truth.

    Attributes
    ----------
    model : Pipeline
        ``Pipeline([("prepare", ColumnTransformer([("text", OneHotEncoder(
        handle_unknown="ignore"), TEXT_COLUMNS)], remainder=SimpleImputer(
        strategy="median"))), ("model", GradientBoostingClassifier(n_estimators=100))])``
        fitted on ``X_train``; predicts 1 (approved) or 0 (denied).
    X_train, X_test : DataFrame of shape (n, 9)
        The applications (see :func:`make_applications`).
    y_train, y_test : Series named ``approved``
    class_names : tuple of str
        ``("denied", "approved")``.
    text_columns : tuple of str
        The five columns of text categories.
    description : str
    """

    class_names: tuple[str, ...]
    text_columns: tuple[str, ...]
    description: str


def _complete_applications(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Every column drawn independently, with no value hidden, and the true log-odds."""
    frame: dict[str, np.ndarray] = {}
    logit = np.full(n, INTERCEPT)
    for column, (levels, probabilities, effects) in CATEGORIES.items():
        codes = rng.choice(len(levels), size=n, p=probabilities)
        frame[column] = np.asarray(levels, dtype=object)[codes]
        logit += np.asarray(effects)[codes]
    income = np.round(np.exp(rng.normal(np.log(40000.0), 0.5, n)), -2)
    age = np.clip(np.round(rng.normal(42.0, 12.0, n)), 18, 80)
    loan = np.round(np.exp(rng.normal(np.log(10000.0), 0.7, n)), -2)
    score = np.clip(np.round(rng.normal(650.0, 60.0, n)), 300, 850)
    log_income = np.log(income / 40000.0)
    self_employed = frame["employment"] == "self_employed"
    logit += (
        INCOME_EFFECT * log_income
        + SELF_EMPLOYED_INCOME_EFFECT * self_employed * log_income
        + LOAN_EFFECT * np.log(loan / 10000.0)
        + CREDIT_SCORE_EFFECT * (score - 650.0)
        # age: a hump, approvals peak in the middle years
        - 0.0015 * (age - 45.0) ** 2
    )
    frame.update(income=income, age=age, loan_amount=loan, credit_score=score)
    return pd.DataFrame(frame), logit


def make_applications(
    n_samples: int = 4000, *, random_state: int | None = 0
) -> tuple[pd.DataFrame, pd.Series]:
    """Generate synthetic loan applications with text categories and their decisions.

    Every column is drawn independently. The approval log-odds are a fixed function
    of the complete values: ``INTERCEPT`` (0.2) plus, for each text column but
    ``region``, the planted effect of the row's category (``CATEGORIES``), plus
    ``1.5 log(income / 40000)`` (``2.5 log(income / 40000)`` for the self-employed:
    an interaction), ``- log(loan_amount / 10000)``, ``0.012 (credit_score - 650)`` and
    ``- 0.0015 (age - 45)^2`` (approvals peak at 45). ``region`` takes
    no part (its effects are all 0). The decision is drawn from the logistic of the
    log-odds; then a share of ``income`` (5%), ``loan_amount`` (3%) and ``credit_score``
    (10%) is hidden as missing, completely at random and after the decision was drawn.

    Parameters
    ----------
    n_samples : int, default=4000
        Rows to generate (>= 200).
    random_state : int or None, default=0

    Returns
    -------
    X : DataFrame of shape (n_samples, 9)
        purpose, housing, employment, region, education (text), income
        (currency units per year), age (years), loan_amount (currency units),
        credit_score (300-850), all float64 with NaN for a missing value.
    approved : Series of int (0 or 1), name ``approved``

    Raises
    ------
    InputError
        If ``n_samples`` is not an integer >= 200.

    Examples
    --------
    >>> from whybox.datasets import make_applications
    >>> X, y = make_applications(1000)
    >>> X.shape, list(X.select_dtypes("number").columns)
    ((1000, 9), ['income', 'age', 'loan_amount', 'credit_score'])
    """
    n = check_int(n_samples, "n_samples", _MIN_SAMPLES, "n_samples=4000")
    rng = np.random.default_rng(check_random_state(random_state))
    X, logit = _complete_applications(n, rng)
    approved = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    for column, share in MISSING_SHARE.items():
        hidden = rng.random(n) < share
        X.loc[hidden, column] = np.nan
    return X, pd.Series(approved, name="approved")


def load_applications(*, n_samples: int = 4000, random_state: int = 0) -> ApplicationsCase:
    """Fit a scikit-learn pipeline on synthetic loan applications with text categories.

    The data come from :func:`make_applications` (synthetic: no real person is in it).
    A quarter of the rows, stratified by decision, is held out (1,000 rows by default).
    The pipeline one-hot encodes the five text columns (unknown categories ignored),
    fills the missing numbers with the training median and fits a 100-tree
    ``GradientBoostingClassifier``. The truth an explanation should find: ``employment``,
    ``income``, ``credit_score`` and ``loan_amount`` matter most, ``region`` not at all.

    Parameters
    ----------
    n_samples : int, default=4000
        Rows generated, training and held-out together (>= 200).
    random_state : int, default=0
        Seeds the data, the split and the model.

    Returns
    -------
    ApplicationsCase

    Raises
    ------
    InputError
        If ``n_samples`` is not an integer >= 200.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = make_applications(n_samples, random_state=random_state)
    parts = train_test_split(X, y, test_size=0.25, stratify=y, random_state=random_state)
    X_train, X_test, y_train, y_test = (p.reset_index(drop=True) for p in parts)
    prepare = ColumnTransformer(
        [("text", OneHotEncoder(handle_unknown="ignore"), list(TEXT_COLUMNS))],
        remainder=SimpleImputer(strategy="median"),
    )
    model = Pipeline(
        [
            ("prepare", prepare),
            ("model", GradientBoostingClassifier(n_estimators=100, random_state=random_state)),
        ]
    ).fit(X_train, y_train)
    return ApplicationsCase(
        model=model,
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        class_names=("denied", "approved"),
        text_columns=TEXT_COLUMNS,
        description=(
            "A scikit-learn Pipeline (one-hot encoding of 5 text columns, median imputation, "
            "GradientBoostingClassifier) on whybox's synthetic loan applications "
            f"({len(X_train)} training rows); audited on {len(X_test)} held-out rows."
        ),
    )
