"""Friedman's H-statistic: how much of a feature's effect is interaction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_batch_size, check_int, check_random_state, json_value
from whybox.inspection._features import (
    feature_index,
    model_and_data,
    output_space,
    predict_copies,
)

_DEFAULT_PAIR_FEATURES = 6


@dataclass(frozen=True, eq=False)
class HStatistic(Result):
    """Friedman's H^2 statistics of interaction, per output.

    Attributes
    ----------
    feature_names : tuple of str
        The features measured.
    overall : ndarray of shape (n_outputs, n_features), float64
        H^2_j: the share of the output's variance that feature j's interactions with
        all other features explain (0: no interaction).
    pairwise : ndarray of shape (n_outputs, n_features, n_features), float64
        H^2_jk: the share of the variance of the joint partial dependence of j and k
        that their interaction explains; symmetric, NaN for pairs not computed and on
        the diagonal.
    output_names : tuple of str
        One name per output (a binary classifier: the positive class).
    output_space : str
        "raw", "probability" or "log_odds": the output the partial dependences are of.
    params : dict
        The settings (``max_samples``, ``random_state``, the pairs computed,
        ``batch_size``) and ``n_samples``, the rows used.
    """

    feature_names: tuple[str, ...]
    overall: np.ndarray
    pairwise: np.ndarray
    output_names: tuple[str, ...]
    output_space: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Overall H^2 (and H, its square root) per feature and output, largest first."""
        frames = []
        for k, out in enumerate(self.output_names):
            frames.append(
                pd.DataFrame(
                    {
                        "feature": list(self.feature_names),
                        "output": out,
                        "h2": self.overall[k],
                        "h": np.sqrt(self.overall[k]),
                    }
                )
            )
        frame = pd.concat(frames, ignore_index=True)
        return frame.sort_values(["output", "h2"], ascending=[True, False], kind="stable")

    def pairs_frame(self) -> pd.DataFrame:
        """Pairwise H^2 per computed pair and output, largest first."""
        rows = []
        for k, out in enumerate(self.output_names):
            for a, b in itertools.combinations(range(len(self.feature_names)), 2):
                v = self.pairwise[k, a, b]
                if not np.isnan(v):
                    rows.append((self.feature_names[a], self.feature_names[b], out, v))
        frame = pd.DataFrame(rows, columns=["feature_1", "feature_2", "output", "h2"])
        return frame.sort_values(["output", "h2"], ascending=[True, False], kind="stable")


def _centred(a: np.ndarray) -> np.ndarray:
    return a - a.mean(axis=0, keepdims=True)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


def h_statistic(
    model: Any,
    X: Any,
    features: Any = None,
    *,
    pairs: Any = None,
    max_samples: int = 200,
    output: str | None = None,
    random_state: Any = 0,
    batch_size: int | None = None,
) -> HStatistic:
    """Friedman and Popescu's H^2 interaction statistics, overall and pairwise.

    With the partial dependence functions evaluated at the (sampled) rows
    themselves and each centred to mean 0 over them:

    - pairwise: ``H^2_jk = sum_i (PD_jk(x_i) - PD_j(x_ij) - PD_k(x_ik))^2 /
      sum_i PD_jk(x_i)^2``, the share of the joint effect of j and k that is not
      the sum of their separate effects;
    - overall: ``H^2_j = sum_i (f(x_i) - PD_j(x_ij) - PD_-j(x_i,-j))^2 /
      sum_i f(x_i)^2`` (f centred too), the share of the output's variance due to
      j's interactions with any other feature.

    Each feature costs ``max_samples^2`` model evaluations, and each pair as many;
    all are stacked into batched model calls.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt.
    X : array-like of shape (n_rows, n_features) or DataFrame
        The data; ``max_samples`` rows are drawn from it (all when fewer).
    features : sequence of str or int, optional
        The features measured; default all.
    pairs : sequence of pairs, or "all", optional
        The pairs for ``pairwise``; default all pairs among the (up to) six
        features of highest overall H^2; "all": every pair of ``features``.
    max_samples : int, default=200
        The most rows used (>= 2), drawn without replacement with ``random_state``
        when ``X`` has more. H^2 is a ratio of sums over these rows: with few rows it is
        noisy, and where the denominator is small (a feature with a weak effect)
        it is unstable and can exceed 1.
    output : {"raw", "probability", "log_odds"}, optional
        The output space; default probability for classifiers, the value for
        regressors.
    random_state : int, numpy Generator or None, default=0
        Seeds the row sample.
    batch_size : int, optional
        Model-input rows per model call; never changes the result.

    Returns
    -------
    HStatistic
        ``overall`` (n_outputs, n_features) and ``pairwise`` (n_outputs, n_features,
        n_features), unitless shares (0 = no interaction; usually <= 1).

    Raises
    ------
    InputError
        Unknown features, a pair naming one feature twice, ``max_samples`` < 2.

    References
    ----------
    .. [1] J. H. Friedman, B. E. Popescu, "Predictive learning via rule ensembles",
       Annals of Applied Statistics 2(3), 2008, section 8.1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import GradientBoostingRegressor
    >>> from whybox.inspection import h_statistic
    >>> X = np.random.default_rng(0).uniform(-1, 1, (200, 3))
    >>> y = X[:, 0] * X[:, 1] + X[:, 2]  # x0 and x1 interact, x2 acts alone
    >>> model = GradientBoostingRegressor(max_depth=2, random_state=0).fit(X, y)
    >>> result = h_statistic(model, X, max_samples=50, pairs="all")
    >>> result.overall.shape, result.pairwise.shape
    ((1, 3), (1, 3, 3))
    >>> result.pairs_frame()[["feature_1", "feature_2"]].iloc[0].tolist()  # strongest pair
    ['x0', 'x1']
    """
    random_state = check_random_state(random_state)
    max_samples = check_int(max_samples, "max_samples", 2, "max_samples=200")
    batch_size = check_batch_size(batch_size)
    m, data = model_and_data(model, X)
    rng = np.random.default_rng(random_state)
    if data.n_samples > max_samples:
        data = data.take(np.sort(rng.choice(data.n_samples, size=max_samples, replace=False)))
    n = data.n_samples
    cols = (
        list(range(data.n_features))
        if features is None
        else [feature_index(data, f) for f in features]
    )
    if len(set(cols)) != len(cols):
        raise InputError("features names a column twice; give each feature once.")
    space = output_space(m, output)
    f = _centred(m.predict(data, space))  # (n, k)
    rows = data.values

    def pd_matrix(columns: list[int]) -> np.ndarray:
        """F[l, i, :] = f(x_i with ``columns`` set to x_l's values): (n, n, k)."""
        return predict_copies(m, data, columns, rows[:, columns], space, batch_size)

    single = {}
    overall = np.empty((f.shape[1], len(cols)))
    for a, j in enumerate(cols):
        F = pd_matrix([j])
        pd_j = _centred(F.mean(axis=1))  # PD_j at x_lj, (n, k)
        pd_rest = _centred(F.mean(axis=0))  # PD_-j at x_i,-j, (n, k)
        single[j] = pd_j
        overall[:, a] = _ratio(((f - pd_j - pd_rest) ** 2).sum(axis=0), (f**2).sum(axis=0))

    if pairs is None:
        top = np.argsort(-overall.max(axis=0), kind="stable")[:_DEFAULT_PAIR_FEATURES]
        pair_list = list(itertools.combinations(sorted(top.tolist()), 2))
    elif isinstance(pairs, str) and pairs == "all":
        pair_list = list(itertools.combinations(range(len(cols)), 2))
    else:
        pair_list = []
        for pair in pairs:
            a, b = (cols.index(feature_index(data, p, "pairs")) for p in pair)
            if a == b:
                raise InputError(f"pairs holds {pair!r}, a feature paired with itself.")
            pair_list.append((min(a, b), max(a, b)))
    pairwise = np.full((f.shape[1], len(cols), len(cols)), np.nan)
    for a, b in pair_list:
        pd_jk = _centred(pd_matrix([cols[a], cols[b]]).mean(axis=1))
        num = ((pd_jk - single[cols[a]] - single[cols[b]]) ** 2).sum(axis=0)
        pairwise[:, a, b] = pairwise[:, b, a] = _ratio(num, (pd_jk**2).sum(axis=0))
    return HStatistic(
        feature_names=tuple(data.feature_names[j] for j in cols),
        overall=overall,
        pairwise=pairwise,
        output_names=m.output_names,
        output_space=space,
        params={
            "max_samples": max_samples,
            "n_samples": n,
            "random_state": json_value(random_state),
            "pairs": [
                [data.feature_names[cols[a]], data.feature_names[cols[b]]] for a, b in pair_list
            ],
            "batch_size": json_value(batch_size),
        },
    )
