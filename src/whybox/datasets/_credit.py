"""Synthetic credit data with a planted proxy bias (generated, never downloaded)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from whybox._utils import check_int, check_random_state
from whybox.datasets._case import TrainTestCase

_MIN_SAMPLES = 200  # the fewest rows generated

#: Regions 0-2 are where most of group "B" lives: the planted proxy.
PROXY_REGIONS = (0, 1, 2)
#: How much the historical decisions held against group "B" (log-odds), when biased.
HISTORICAL_PENALTY = 1.6


@dataclass(frozen=True, eq=False)
class CreditCase(TrainTestCase):
    """A fitted credit model, its data, the sensitive attribute and the planted truth.

    Attributes
    ----------
    model : HistGradientBoostingClassifier
        Fitted on ``X_train``; predicts 1 (approved) or 0 (denied). It never sees
        ``group``.
    X_train, X_test : DataFrame of shape (n, 8)
        The applicants' features (see :func:`load_credit`).
    y_train, y_test : Series named ``approved``
        The historical decisions the model learnt from.
    group_train, group_test : Series named ``group``
        The sensitive attribute, "A" or "B" (not a column of X).
    class_names : tuple of str
        ``("denied", "approved")``.
    biased : bool
        Whether the historical decisions penalised group "B".
    proxy : str
        The column planted as a proxy for ``group`` (``"zip_region"``).
    description : str
    """

    group_train: pd.Series
    group_test: pd.Series
    class_names: tuple[str, ...]
    biased: bool
    proxy: str
    description: str


def make_credit_data(
    n_samples: int = 6000, *, biased: bool = True, random_state: int | None = 0
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Generate synthetic loan applications, their decisions and a sensitive group.

    Every column is drawn independently of ``group`` except ``zip_region``: applicants
    of group "B" (30%) live in regions 0-2 with probability 0.8, those of group "A" with
    probability 0.1 (regions 0-9, uniform within each part). The approval log-odds are
    a fixed function of income, debt ratio, credit history, late payments, employment
    and loan amount; ``age`` and ``zip_region`` take no part. With ``biased=True`` the
    historical decisions also subtract ``HISTORICAL_PENALTY`` (1.6) from the log-odds
    of every group "B" applicant: a model trained on them and denied ``group`` learns
    to use ``zip_region`` in its place. With ``biased=False`` (the control) nothing
    depends on the group, so the proxy exists in the data but the decisions give the
    model no reason to use it.

    Parameters
    ----------
    n_samples : int, default=6000
        Rows to generate (>= 200).
    biased : bool, default=True
        Plant the historical penalty against group "B".
    random_state : int or None, default=0

    Returns
    -------
    X : DataFrame of shape (n_samples, 8)
        income (currency units per year), debt_ratio (share of income), credit_history_years,
        late_payments (count), employment_years, loan_amount, age (years), zip_region (0-9).
    approved : Series of int (0 or 1), name ``approved``
    group : Series of str ("A" or "B"), name ``group``

    Raises
    ------
    InputError
        If ``n_samples`` is not an integer >= 200.
    """
    n = check_int(n_samples, "n_samples", _MIN_SAMPLES, "n_samples=6000")
    rng = np.random.default_rng(check_random_state(random_state))
    group = np.where(rng.random(n) < 0.3, "B", "A")
    in_proxy = rng.random(n) < np.where(group == "B", 0.8, 0.1)
    zip_region = np.where(
        in_proxy, rng.integers(0, len(PROXY_REGIONS), n), rng.integers(len(PROXY_REGIONS), 10, n)
    )
    income = np.round(np.exp(rng.normal(10.6, 0.45, n)), -2)
    debt_ratio = np.clip(rng.beta(2.0, 5.0, n), 0.0, 0.95).round(3)
    history = np.clip(rng.gamma(3.0, 2.5, n), 0.0, 40.0).round(1)
    late = rng.poisson(0.8, n)
    employment = np.clip(rng.gamma(2.0, 3.0, n), 0.0, 40.0).round(1)
    loan = np.round(np.exp(rng.normal(9.3, 0.6, n)), -2)
    age = np.clip(np.round(rng.normal(42.0, 12.0, n)), 18, 85).astype(int)
    logit = (
        1.8 * (np.log(income) - 10.6)
        - 5.0 * (debt_ratio - 0.28)
        + 0.12 * (history - 7.5)
        - 0.7 * (late - 0.8)
        + 0.06 * (employment - 6.0)
        - 0.9 * (np.log(loan) - 9.3)
        + 0.4
    )
    if biased:
        logit = logit - HISTORICAL_PENALTY * (group == "B")
    approved = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "income": income,
            "debt_ratio": debt_ratio,
            "credit_history_years": history,
            "late_payments": late,
            "employment_years": employment,
            "loan_amount": loan,
            "age": age,
            "zip_region": zip_region,
        }
    )
    return X, pd.Series(approved, name="approved"), pd.Series(group, name="group")


def load_credit(*, biased: bool = True, n_samples: int = 6000, random_state: int = 0) -> CreditCase:
    """Train a credit model on synthetic applications with a known, planted proxy bias.

    The data come from :func:`make_credit_data` (documented as synthetic: no real
    person is in it). A quarter of the rows, stratified by decision, is held out.
    The ground truth an audit should find: with ``biased=True``, a selection-rate gap
    against group "B" and ``zip_region`` flagged as a proxy for ``group``; with
    ``biased=False``, neither.

    Parameters
    ----------
    biased : bool, default=True
    n_samples : int, default=6000
    random_state : int, default=0
        Seeds the data, the split and the model.

    Returns
    -------
    CreditCase
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    X, y, group = make_credit_data(n_samples, biased=biased, random_state=random_state)
    parts = train_test_split(X, y, group, test_size=0.25, stratify=y, random_state=random_state)
    X_train, X_test, y_train, y_test, g_train, g_test = (p.reset_index(drop=True) for p in parts)
    model = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=random_state
    ).fit(X_train, y_train)
    kind = "with a planted historical penalty against group B" if biased else "unbiased control"
    return CreditCase(
        model=model,
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        group_train=g_train,
        group_test=g_test,
        class_names=("denied", "approved"),
        biased=bool(biased),
        proxy="zip_region",
        description=(
            f"HistGradientBoostingClassifier on whybox's synthetic credit data ({kind}; "
            f"{len(X_train)} training rows); audited on {len(X_test)} held-out rows. The "
            "sensitive attribute 'group' is not a model input; 'zip_region' is its planted proxy."
        ),
    )
