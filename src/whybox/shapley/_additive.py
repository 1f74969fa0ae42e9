"""Exact SHAP values of additive models with pairs (EBMs, GAMs), in closed form per term.

An additive model is ``f(x) = b + sum_t g_t(x_{S_t})`` with each term ``g_t`` reading one
or two columns. Shapley values are linear in the game, so the SHAP values of ``f`` are the
sum over terms of the SHAP values of each term, and each term is a game of at most two
players (every other feature is a null player for it):

- a main term ``g(x_i)``: ``phi_i = g(x_i) - E[g(z_i)]``;
- a pair ``g(x_a, x_b)``, with ``v(S) = E_z g(x_S, z_rest)`` (``v({}) = E g(z_a, z_b)``
  over the joint distribution, ``v({a}) = E g(x_a, z_b)``, ``v({b}) = E g(z_a, x_b)``,
  ``v({a, b}) = g(x_a, x_b)``): ``phi_a = (v(a) - v({}) + v(ab) - v(b)) / 2`` and
  ``phi_b = (v(b) - v({}) + v(ab) - v(a)) / 2``, the exact two-player Shapley split.

The expectations need only each term's marginal (main) or joint (pair) distribution of
bins, so with binned terms the cost is ``O(rows x terms)`` lookups after
``O(background x terms + bins)`` set-up, never ``rows x background`` per pair. With a
background these are the interventional (marginal) SHAP values :class:`ExactExplainer`
computes. Without one, the distribution is the one the EBM stores (``bin_weights_``: the
training data's histogram per term), which is the model's own local explanation: each
term's score at the row, centred on its training mean, the pairs split as above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils import check_random_state, is_dask_collection, json_value, resolve_players
from whybox.adapters import Model, adapt_data, adapt_model
from whybox.glassbox import AdditiveModel, Term, from_ebm, is_ebm
from whybox.shapley._background import WeightedBackground
from whybox.shapley._masking import prepare_background, shapley_explanation

_BLOCK_CELLS = 1 << 20  # function-term pairs: rows x background cells evaluated at once
_MODEL_AGNOSTIC = "the model-agnostic whybox.ExactExplainer or whybox.PermutationExplainer"

MODEL_TERMS = (
    "the model's own terms: each term's score at the row minus its mean over the training "
    "data the model stores (bin_weights_), a pair split between its two features by the "
    "exact two-player Shapley split against that data's joint and marginal histograms; "
    "exact, not an approximation (equal to interventional SHAP with the training data as "
    "background)"
)
"""``params["explains"]`` without a background."""

INTERVENTIONAL = (
    "interventional SHAP values against the background, exact: each main term's value at "
    "the row minus its background mean, each pair split between its two features by the "
    "exact two-player Shapley split of v(S) = E_z f(x_S, z_rest)"
)
"""``params["explains"]`` with a background."""


def _additive_of(model: Any) -> AdditiveModel:
    """The :class:`AdditiveModel` of an EBM, an AdditiveModel or a Model wrapping one."""
    native = model.estimator if isinstance(model, Model) else model
    if isinstance(native, AdditiveModel):
        return native
    if is_ebm(native):
        return from_ebm(native)
    import whybox.glassbox as glassbox

    reader = getattr(glassbox, "from_pygam", None)
    if reader is not None and type(native).__module__.split(".")[0] == "pygam":
        return reader(native)
    raise UnsupportedModelError(
        "AdditiveExplainer explains additive models (interpret's ExplainableBoosting"
        f"Classifier/Regressor or a whybox.glassbox.AdditiveModel), got "
        f"{type(native).__name__}; explain it with {_MODEL_AGNOSTIC}."
    )


def _pair_split(
    s_ab: np.ndarray, v_a: np.ndarray, v_b: np.ndarray, v_0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The two-player Shapley split of one pair term at each row, each (n, k)."""
    phi_a = 0.5 * ((v_a - v_0) + (s_ab - v_b))
    phi_b = 0.5 * ((v_b - v_0) + (s_ab - v_a))
    return phi_a, phi_b


class AdditiveExplainer:
    """Exact SHAP values of an additive model with pairs (an EBM or GAM), in closed form.

    For ``f(x) = intercept + sum_t g_t(x_{S_t})`` with each term reading one or two
    columns (see the module docs): a main term gives its feature
    ``g(x_i) - E[g(z_i)]``; a pair ``g(x_a, x_b)`` is split between ``a`` and ``b`` by
    the exact Shapley values of the two-player game ``v(S) = E_z g(x_S, z_rest)``.

    - With a ``background``, ``E`` is the mean over the background rows (weighted for a
      :class:`WeightedBackground`): the interventional (marginal) SHAP values, equal to
      :class:`ExactExplainer` with every background row, at ``O(rows x terms)`` cost
      after binning the background once.
    - Without one, ``E`` is over the training data as the EBM stores it
      (``bin_weights_``: each main term's histogram, each pair's joint histogram and its
      marginals): the model's own local explanation, each term's score at the row
      centred on its training mean, and the base value the intercept plus the terms'
      training means. This is not an approximation: it equals the interventional values
      with the whole training set as background (up to sample weights).

    Parameters
    ----------
    model : object
        interpret's fitted ``ExplainableBoostingClassifier`` (binary or multiclass) or
        ``ExplainableBoostingRegressor``, a :class:`whybox.glassbox.AdditiveModel`
        (e.g. read from a GAM), or a :class:`whybox.adapters.Model` of one.
    background : array-like of shape (n_background, n_features), DataFrame or WeightedBackground, optional
        Reference rows; every row is used. None explains the model's own terms
        (binned terms only: a function term has no stored training distribution).
    output : {"auto", "raw", "log_odds"}, default="auto"
        The terms add up in the raw space (log-odds of a binary classifier, one margin
        per class of a multiclass one, the prediction of a regressor); ``"log_odds"`` is
        the same for a binary classifier. Probabilities are not additive in the terms:
        explain them with :class:`ExactExplainer` or :class:`PermutationExplainer`.
    feature_groups : dict of str to list of (str or int), optional
        Players made of several columns (their values are summed, which is exact for
        additive games: a pair inside one group gives it its whole effect).
    random_state : int, numpy Generator or None, default=0
        Accepted for the explainers' common signature; nothing is sampled.
    progress : bool or None, default=None
        Accepted for the common signature; the computation is a few array lookups.

    Attributes
    ----------
    model : whybox.adapters.Model
    additive : whybox.glassbox.AdditiveModel
        The model's terms.
    output : str
    background : whybox.adapters.Dataset or None
    expected_value : ndarray of shape (n_outputs,)
        The base value: the intercept plus each term's mean under the background (or
        the stored training distribution), i.e. the mean raw output over the background.
    feature_names : tuple of str

    Raises
    ------
    UnsupportedModelError
        If the model is not an additive model whybox reads.
    InputError
        If ``output`` is not additive, the background does not fit the model, a function
        term has no background to average over, a term's stored weights are all zero, or
        ``feature_groups`` is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> from whybox.glassbox import AdditiveModel, Binning, Term
    >>> from whybox.shapley import AdditiveExplainer
    >>> cut = Binning("numeric", cuts=[0.0])  # bins: missing, <= 0, > 0, unknown
    >>> both = np.zeros((4, 4)); both[2, 2] = 1.0  # 1 when a > 0 and b > 0
    >>> pair = Term((0, 1), "a & b", bins=(cut, cut), scores=both)
    >>> m = AdditiveModel(("a", "b"), (pair,), [0.0], "identity", ("y",), "hand")
    >>> import pandas as pd
    >>> bg = pd.DataFrame({"a": [-1.0, 1.0, -1.0, 1.0], "b": [-1.0, -1.0, 1.0, 1.0]})
    >>> ex = AdditiveExplainer(m, bg)(pd.DataFrame({"a": [1.0], "b": [1.0]}))
    >>> ex.values[0, :, 0].tolist(), ex.base_values[0].tolist()
    ([0.375, 0.375], [0.25])
    """

    _owner = "AdditiveExplainer"

    def __init__(
        self,
        model: Any,
        background: Any = None,
        *,
        output: str = "auto",
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        random_state: Any = 0,
        progress: bool | None = None,
    ) -> None:
        self.random_state = check_random_state(random_state)
        self.progress = progress
        self.additive = _additive_of(model)
        native = model.estimator if isinstance(model, Model) else model
        self.model = adapt_model(model if isinstance(model, Model) else native)
        self.output = self._resolve_output(output)
        weights = None
        if isinstance(background, WeightedBackground):
            background, weights = background.data, np.asarray(background.weights, float)
        self.background = None
        if background is not None:
            self.background, _ = prepare_background(
                self.model, background, max_background=None, random_state=None, owner=self._owner
            )
            if weights is not None:
                weights = weights / weights.sum()
        self._weights = weights
        self.players = resolve_players(feature_groups, self._feature_names())
        self._stats = self._term_stats()
        self.expected_value = self.additive.intercept + sum(
            (s["v0"] for s in self._stats), np.zeros(self.additive.n_outputs)
        )
        """ndarray of shape (n_outputs,): the base value."""

    # -- set-up -------------------------------------------------------------------
    def _feature_names(self) -> tuple[str, ...]:
        if self.background is not None:
            return self.background.feature_names
        return self.model.feature_names or self.additive.feature_names

    def _resolve_output(self, output: Any) -> str:
        if output in ("auto", "raw"):
            return "raw"
        if output == "log_odds" and self.additive.link == "logit":
            return "log_odds"
        if output in ("probability", "log_odds"):
            raise InputError(
                f"output={output!r} is not additive in the terms of {self.additive.source}: "
                "AdditiveExplainer explains the raw output the terms add up to, output='raw' "
                f"(the log-odds of a binary classifier); explain {output} with "
                f"{_MODEL_AGNOSTIC}."
            )
        raise InputError(
            "output must be 'auto' or 'raw' (or 'log_odds' for a binary classifier), got "
            f"{output!r}; use output='auto'."
        )

    def _bin_distribution(self, term: Term, cols: list[np.ndarray] | None) -> np.ndarray:
        """The term's bin (or cell) probabilities, shape (*n_bins,)."""
        shape = term.scores.shape[:-1]
        if cols is None:
            if term.weights is None:
                raise InputError(
                    f"term {term.name!r} has no stored training weights, so its model-own "
                    "explanation is undefined; pass background=X_train (or a sample)."
                )
            p = np.asarray(term.weights, dtype=np.float64).reshape(shape)
        else:
            idx = term.bin_indices([cols[f] for f in term.features])
            flat = np.ravel_multi_index(idx, shape)
            p = np.bincount(flat, weights=self._weights, minlength=int(np.prod(shape)))
            p = p.reshape(shape).astype(np.float64)
        total = p.sum()
        if not total > 0:
            raise InputError(
                f"term {term.name!r} has zero total training weight, so its mean is "
                "undefined; pass background=X_train (or a sample)."
            )
        return p / total

    def _term_stats(self) -> list[dict[str, Any]]:
        cols = None
        if self.background is not None:
            cols = self.additive.columns(self.background)
        stats = []
        for term in self.additive.terms:
            if term.is_binned:
                p = self._bin_distribution(term, cols)
                s = term.scores
                if term.is_pair:
                    pa, pb = p.sum(axis=1), p.sum(axis=0)
                    stats.append(
                        {
                            "va": np.einsum("ijk,j->ik", s, pb),  # E g(x_a, z_b) per bin of a
                            "vb": np.einsum("ijk,i->jk", s, pa),  # E g(z_a, x_b) per bin of b
                            "v0": np.einsum("ijk,ij->k", s, p),
                        }
                    )
                else:
                    stats.append({"v0": np.einsum("ik,i->k", s, p)})
                continue
            if cols is None:
                raise InputError(
                    f"term {term.name!r} is a function of its columns with no stored training "
                    "distribution, so the model-own explanation is undefined; pass "
                    "background=X_train (or a sample of it)."
                )
            z = [cols[f] for f in term.features]
            g = term.values(z)
            v0 = g.mean(axis=0) if self._weights is None else self._weights @ g
            stats.append({"v0": v0, "z": z})
        return stats

    # -- the explainer ------------------------------------------------------------
    @classmethod
    def supports(cls, model: Any) -> bool:
        """Whether ``model`` is an additive model this explainer reads."""
        native = model.estimator if isinstance(model, Model) else model
        if isinstance(native, AdditiveModel) or is_ebm(native):
            return True
        import whybox.glassbox as glassbox

        return (
            getattr(glassbox, "from_pygam", None) is not None
            and type(native).__module__.split(".")[0] == "pygam"
        )

    @property
    def method(self) -> str:
        """``"additive_interventional"`` with a background, ``"additive_model_terms"`` without."""
        return "additive_model_terms" if self.background is None else "additive_interventional"

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of the players: the features, or the feature groups."""
        return self.players.names

    def _cross_mean(self, term: Term, xs: np.ndarray, z: np.ndarray, first: bool) -> np.ndarray:
        """``E_z g(x_a, z_b)`` (``first``) or ``E_z g(z_a, x_b)`` per row, in blocks."""
        n, m = xs.shape[0], z.shape[0]
        out = np.empty((n, self.additive.n_outputs))
        block = max(1, _BLOCK_CELLS // max(m, 1))
        for start in range(0, n, block):
            x = xs[start : start + block]
            r = x.shape[0]
            xr, zt = np.repeat(x, m), np.tile(z, r)
            g = term.values([xr, zt] if first else [zt, xr]).reshape(r, m, -1)
            out[start : start + r] = (
                g.mean(axis=1)
                if self._weights is None
                else np.einsum("rmk,m->rk", g, self._weights)
            )
        return out

    def _values(self, cols: list[np.ndarray], n: int) -> np.ndarray:
        """SHAP values per input column, shape (n, n_features, n_outputs)."""
        d, k = self.additive.n_features, self.additive.n_outputs
        values = np.zeros((n, d, k))
        for term, st in zip(self.additive.terms, self._stats, strict=True):
            x = [cols[f] for f in term.features]
            if term.is_binned:
                idx = term.bin_indices(x)
                if term.is_pair:
                    phi_a, phi_b = _pair_split(
                        term.scores[idx], st["va"][idx[0]], st["vb"][idx[1]], st["v0"]
                    )
                    values[:, term.features[0]] += phi_a
                    values[:, term.features[1]] += phi_b
                else:
                    values[:, term.features[0]] += term.scores[idx[0]] - st["v0"]
                continue
            g = term.values(x)
            if not term.is_pair:
                values[:, term.features[0]] += g - st["v0"]
                continue
            za, zb = st["z"]
            v_a = self._cross_mean(term, np.asarray(x[0]), np.asarray(zb), first=True)
            v_b = self._cross_mean(term, np.asarray(x[1]), np.asarray(za), first=False)
            phi_a, phi_b = _pair_split(g, v_a, v_b, st["v0"])
            values[:, term.features[0]] += phi_a
            values[:, term.features[1]] += phi_b
        return values

    def __call__(self, X: Any) -> Any:
        """Explain the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            The rows, with the model's columns (a DataFrame's matched by name; text and
            pandas category columns, missing values and categories the model never saw
            are read as the model reads them: the missing and unknown bins). A dask
            array or DataFrame is explained lazily, chunk by chunk (see
            ``whybox.distributed.explain_dask``), with the in-memory values.

        Returns
        -------
        Explanation
            ``values`` of shape (n_samples, n_players, n_outputs), float64, in
            ``output_space`` (raw, or log_odds for a binary classifier when asked);
            ``base_values`` (n_samples, n_outputs); ``model_output`` the model's own raw
            prediction (EBM's ``decision_function``, a regressor's ``predict``), so
            ``additivity_error`` is reported (zero up to rounding); ``method``
            ``"additive_interventional"`` or ``"additive_model_terms"``; ``params`` with
            ``explains`` (in words), ``feature_perturbation``, ``background_rows``,
            ``n_terms``, ``n_pairs`` and ``model_family``.

        Raises
        ------
        InputError
            If ``X`` does not have the model's columns.
        """
        if is_dask_collection(X):  # lazy, chunk by chunk, on the dask scheduler
            from whybox.distributed import explain_dask

            return explain_dask(self, X)
        data = self.model.check_data(adapt_data(X, name="X"), name="X")
        cols = self.additive.columns(data)
        values = self._values(cols, data.n_samples)
        if self.players.grouped:
            values = np.einsum("pd,ndk->npk", self.players.membership().astype(float), values)
        f_x = self.model.predict(data, "raw")
        return shapley_explanation(self, values, data.values, f_x, self._params())

    def _params(self) -> dict[str, Any]:
        terms = self.additive.terms
        return {
            "explains": MODEL_TERMS if self.background is None else INTERVENTIONAL,
            "feature_perturbation": (
                "model_terms" if self.background is None else "interventional"
            ),
            "output": self.output,
            "background_rows": None if self.background is None else self.background.n_samples,
            "background_weighted": self._weights is not None,
            "feature_groups": self.players.groups_as_dict() if self.players.grouped else None,
            "n_terms": len(terms),
            "n_pairs": sum(t.is_pair for t in terms),
            "model_family": self.additive.source,
            "random_state": json_value(self.random_state),
        }
