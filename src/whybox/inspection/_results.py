"""Result types of the inspection functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class PermutationImportance:
    """Permutation importance of each feature (or feature group).

    Attributes
    ----------
    importances : ndarray of shape (n_features, n_repeats), float64
        The drop in score when the feature is permuted, one column per repeat
        (positive: the model relies on the feature). Units: those of the score.
    importances_mean : ndarray of shape (n_features,)
    importances_std : ndarray of shape (n_features,)
    feature_names : tuple of str
        One name per feature or feature group.
    baseline_score : float
        The score on the unpermuted data.
    scoring : str
        The scorer's name.
    params : dict
        n_repeats, random_state and the other settings, to reproduce the result.
    """

    importances: np.ndarray
    importances_mean: np.ndarray
    importances_std: np.ndarray
    feature_names: tuple[str, ...]
    baseline_score: float
    scoring: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Mean and std per feature, sorted by mean importance, largest first."""
        frame = pd.DataFrame(
            {"importance_mean": self.importances_mean, "importance_std": self.importances_std},
            index=pd.Index(list(self.feature_names), name="feature"),
        )
        return frame.sort_values("importance_mean", ascending=False, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "importances": self.importances.tolist(),
            "importances_mean": self.importances_mean.tolist(),
            "importances_std": self.importances_std.tolist(),
            "feature_names": list(self.feature_names),
            "baseline_score": float(self.baseline_score),
            "scoring": self.scoring,
            "params": self.params,
        }
