"""Result types of the inspection functions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._utils import Result


def t_interval(samples: np.ndarray, confidence_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Student-t confidence interval of the mean of each row of ``samples``.

    Parameters
    ----------
    samples : ndarray of shape (n_rows, n_draws)
    confidence_level : float in (0, 1)

    Returns
    -------
    lower, upper : ndarray of shape (n_rows,)
        ``mean -+ t_{1-a/2, n-1} * sd / sqrt(n)`` with ``sd`` the sample standard
        deviation (``ddof=1``); NaN with fewer than two draws.
    """
    from scipy.stats import t as student_t

    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[1]
    mean = samples.mean(axis=1)
    if n < 2:
        nan = np.full(samples.shape[0], np.nan)
        return nan, nan.copy()
    half = student_t.ppf(0.5 + confidence_level / 2, n - 1) * samples.std(axis=1, ddof=1)
    half /= math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True, eq=False)
class PermutationImportance(Result):
    """Permutation importance of each feature (or feature group).

    Attributes
    ----------
    importances : ndarray of shape (n_features, n_repeats_done), float64
        The drop in score when the feature is permuted, one column per repeat
        (positive: the model relies on the feature). Units: those of the score.
    importances_mean : ndarray of shape (n_features,)
    importances_std : ndarray of shape (n_features,)
        Standard deviation over the repeats with ``ddof=0`` (as scikit-learn).
    feature_names : tuple of str
        One name per feature or feature group.
    baseline_score : float
        The score on the unpermuted data.
    scoring : str
        The scorer's name.
    params : dict
        n_repeats, random_state and the other settings, to reproduce the result.
    confidence_level : float, default=0.95
        The level of ``importances_lower`` / ``importances_upper``.
    importances_lower, importances_upper : ndarray of shape (n_features,)
        Student-t confidence interval of each mean importance over the repeats
        (``ddof=1``; NaN with one repeat); computed from ``importances`` when not
        given. Every repeat permutes the same rows, so the interval covers the
        randomness of the permutations only, not the sampling of the data: it says
        how precisely the importance *on these rows* is known, not how it would vary
        on new data.
    """

    importances: np.ndarray
    importances_mean: np.ndarray
    importances_std: np.ndarray
    feature_names: tuple[str, ...]
    baseline_score: float
    scoring: str
    params: dict[str, Any] = field(default_factory=dict)
    confidence_level: float = 0.95
    importances_lower: np.ndarray | None = None
    importances_upper: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.importances_lower is None or self.importances_upper is None:
            imp = np.asarray(self.importances, dtype=np.float64)
            lower, upper = t_interval(imp if imp.ndim == 2 else imp[:, None], self.confidence_level)
            object.__setattr__(self, "importances_lower", lower)
            object.__setattr__(self, "importances_upper", upper)

    @property
    def n_repeats_done(self) -> int:
        """The repeats computed (fewer than ``params["n_repeats"]`` after an early stop)."""
        imp = np.asarray(self.importances)
        return int(imp.shape[1]) if imp.ndim == 2 else 1

    def to_frame(self) -> pd.DataFrame:
        """Mean, std and confidence interval per feature, largest mean importance first."""
        frame = pd.DataFrame(
            {
                "importance_mean": self.importances_mean,
                "importance_std": self.importances_std,
                "ci_lower": self.importances_lower,
                "ci_upper": self.importances_upper,
            },
            index=pd.Index(list(self.feature_names), name="feature"),
        )
        return frame.sort_values("importance_mean", ascending=False, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """The fields as strict JSON data (an undefined interval bound is null), with
        ``n_repeats_done``; :meth:`from_dict` reads it back."""
        return super().to_dict() | {"n_repeats_done": self.n_repeats_done}
