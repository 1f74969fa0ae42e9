"""CounterfactualExplainer: constrained, diverse, always-valid counterfactuals."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils import check_int, check_random_state, json_value, prepare_model
from whybox.adapters import adapt_data
from whybox.counterfactuals._constraints import FeatureSpace, RowSpace, _same, build_space
from whybox.counterfactuals._recourse import action_sentence, cost_weights
from whybox.counterfactuals._result import Counterfactuals, Recourse
from whybox.counterfactuals._search import SearchSettings, Target, search, split_values

_METHODS = ("auto", "genetic", "tree")
_MAX_PLAUSIBILITY_ROWS = 2000  # desired-outcome training rows kept for the kNN check


def _check_weight(value: Any, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (math.isfinite(float(value)) and float(value) >= 0)
    ):
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}; e.g. {name}=0.5.")
    return float(value)


def _unreachable(t: Any, out0: np.ndarray, rs: Any) -> str | None:
    """The not-found status of a row that needs no search or cannot have one, else None."""
    if t.judge(out0)[0][0]:
        return "not found: the model already gives this row the desired outcome"
    if rs.infeasible is not None:
        return f"not found: {rs.infeasible}"
    return None


class CounterfactualExplainer:
    """Counterfactual explanations: the smallest changes that give the outcome asked for.

    A counterfactual of a row ``x`` is a row ``x'`` the model gives a desired outcome
    (another class, or a prediction in a range) that is close to ``x`` (Wachter,
    Mittelstadt & Russell 2017). Several are returned per row, chosen to be
    diverse as in DiCE (Mothilal, Sharma & Tan 2020), and they respect actionability
    constraints (Ustun, Spangher & Liu 2019): immutable features, allowed ranges,
    monotone directions, integer values and observed categories.

    The search works in a constrained space (see ``__call__``); every counterfactual
    returned is re-checked by a model call and by a check of every constraint
    before it is returned.

    Parameters
    ----------
    model : object
        A fitted classifier or regressor whybox can adapt (scikit-learn estimator or
        Pipeline, XGBoost, LightGBM, CatBoost, a callable) or a whybox ``Model``.
    background : array-like of shape (n_background, n_features) or DataFrame
        Training-like rows, the reference data. They give each numeric feature's scale
        (median absolute deviation, MAD; the standard deviation when the MAD is 0, then
        1), its default allowed range (the data's minimum to maximum, widened to hold
        the row being explained), which numeric features are integer-valued, the levels
        of the categorical features, and the rows for the plausibility check.
    immutable : sequence of str or int, default=()
        Features that may not change (names or positions).
    ranges : dict, optional
        Feature -> ``(low, high)``, the values a numeric feature may take (use
        ``-np.inf``/``np.inf`` for an open side); for a categorical feature, a list
        of the levels it may take. A row whose own value lies outside a mutable
        feature's range must change that feature.
    monotone : dict, optional
        Feature -> ``"increase"`` or ``"decrease"``: the only direction the feature
        may move (age can only increase).
    integer : sequence of str or int, optional
        Numeric features whose changed values must be integers, on top of the
        numeric features whose values in ``background`` are all whole numbers.
    categorical_features : sequence of str or int, optional
        Numeric columns to treat as categorical (moved only among the observed
        levels); text, bool and pandas category columns are categorical already.
    plausibility : {"knn", None}, default="knn"
        ``"knn"``: score each counterfactual by its distance to the training rows
        the model gives the desired outcome (see :class:`Counterfactuals`);
        None: skip the check.
    n_neighbors : int, default=5
        The ``k`` of the kNN plausibility check.
    method : {"auto", "genetic", "tree"}, default="auto"
        ``"tree"``: for tree models (scikit-learn trees, forests and boosting,
        XGBoost, LightGBM, CatBoost), candidate values come from the split
        thresholds; ``"genetic"``: the model-agnostic genetic search; ``"auto"``:
        ``"tree"`` for tree models, else ``"genetic"``.
    random_state : int, numpy Generator or None, default=0
        Seeds the search of every call (a numpy Generator is drawn from call after
        call; an int or None gives each call its own fresh generator from it).

    Raises
    ------
    InputError
        ``background`` does not fit the model; a constraint names an unknown feature (with
        the closest names), puts a feature both in ``immutable`` and in ``ranges`` or
        ``monotone``, has ``low > high``, a direction other than increase/decrease,
        a monotone or integer categorical feature, or makes every feature immutable;
        ``plausibility``, ``n_neighbors`` or ``method`` is invalid.
    UnsupportedModelError
        ``method="tree"`` for a model whose trees whybox cannot read (e.g. a Pipeline).

    References
    ----------
    .. [1] S. Wachter, B. Mittelstadt and C. Russell, "Counterfactual explanations
       without opening the black box: automated decisions and the GDPR", Harvard
       Journal of Law & Technology 31(2), 2018 (arXiv 2017).
    .. [2] R. K. Mothilal, A. Sharma and C. Tan, "Explaining machine learning
       classifiers through diverse counterfactual explanations", FAT* 2020.
    .. [3] B. Ustun, A. Spangher and Y. Liu, "Actionable recourse in linear
       classification", FAT* 2019.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from whybox.counterfactuals import CounterfactualExplainer
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"income": rng.normal(50, 10, 300).round(1),
    ...                   "debt": rng.uniform(0, 40, 300).round(1),
    ...                   "age": rng.integers(20, 70, 300)})
    >>> approved = (X["income"] - X["debt"] > 25).astype(int)
    >>> model = LogisticRegression(max_iter=1000).fit(X, approved)
    >>> explainer = CounterfactualExplainer(
    ...     model, X, immutable=["age"], monotone={"debt": "decrease"})
    >>> denied = X[model.predict(X) == 0].iloc[:2]
    >>> res = explainer(denied, n_counterfactuals=2)
    >>> res.status, res.desired
    (('found', 'found'), (1, 1))
    >>> res.counterfactuals[0].columns.tolist()
    ['income', 'debt', 'age', 'prediction', 'probability']
    >>> explainer.recourse(denied.iloc[0], costs={"income": 1.0, "debt": 2.0}).status
    'found'
    """

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        immutable: Sequence[Any] = (),
        ranges: Mapping[Any, Any] | None = None,
        monotone: Mapping[Any, str] | None = None,
        integer: Sequence[Any] | None = None,
        categorical_features: Sequence[Any] | None = None,
        plausibility: str | None = "knn",
        n_neighbors: int = 5,
        method: str = "auto",
        random_state: Any = 0,
    ) -> None:
        random_state = check_random_state(random_state)
        self.model = prepare_model(model, background)
        self.background = self.model.check_data(
            adapt_data(background, name="background"), name="background"
        )
        self.space: FeatureSpace = build_space(
            self.background,
            immutable=immutable,
            ranges=ranges,
            monotone=monotone,
            integer=integer,
            categorical_features=categorical_features,
        )
        if plausibility not in ("knn", None):
            raise InputError(
                f"plausibility must be 'knn' or None, got {plausibility!r}; use "
                "plausibility='knn' to score counterfactuals against the data."
            )
        self.plausibility = plausibility
        self.n_neighbors = check_int(n_neighbors, "n_neighbors", 1, "n_neighbors=5")
        if method not in _METHODS:
            raise InputError(
                f"method must be one of {_METHODS}, got {method!r}; e.g. method='auto'."
            )
        self._splits = None
        self._strict = False
        from whybox.shapley.tree import parse_ensemble, reads_trees

        if method == "tree" or (method == "auto" and reads_trees(self.model)):
            try:
                ens = parse_ensemble(self.model)
            except UnsupportedModelError:
                if method == "tree":
                    raise
                ens = None
            if ens is not None:
                self._splits = split_values(ens, self.space.n_features)
                self._strict = bool(ens.strict_less)
        self.method = "tree" if self._splits is not None else "genetic"
        self.random_state = random_state
        self._params = {
            "immutable": [self.space.names[j] for j in np.flatnonzero(self.space.immutable)],
            "ranges": None
            if ranges is None
            else {str(k): [json_value(v) for v in r] for k, r in ranges.items()},
            "monotone": None if monotone is None else {str(k): v for k, v in monotone.items()},
            "integer": [self.space.names[j] for j in np.flatnonzero(self.space.integer)],
            "categorical": [self.space.names[j] for j in np.flatnonzero(self.space.categorical)],
            "plausibility": plausibility,
            "n_neighbors": self.n_neighbors,
            "method": self.method,
        }
        self._y_scale = 1.0
        if self.model.task == "regression":
            pred = self.model.predict(self.background, "raw")[:, 0]
            s = float(np.std(pred))
            self._y_scale = s if s > 0 else 1.0
        self._reference_cache: dict[Any, Any] = {}

    # ------------------------------------------------------------ helpers
    def _rows(self, X: Any) -> tuple[Any, np.ndarray]:
        if isinstance(X, pd.Series):
            X = X.to_frame().T
        elif not isinstance(X, pd.DataFrame):
            arr = np.asarray(X, dtype=object if self.space.categorical.any() else None)
            if arr.ndim == 1:
                X = arr.reshape(1, -1)
        given = adapt_data(X, self.space.names if not isinstance(X, pd.DataFrame) else None)
        data = self.model.check_data(given, name="X")
        return data, self.space.encode(data.values, grow=True)

    def _targets(self, X_enc: np.ndarray, desired_class: Any, desired_range: Any) -> list[Target]:
        m = self.model
        n = len(X_enc)
        if m.task == "classification":
            if desired_range is not None:
                raise InputError(
                    "desired_range is for regressors but this model is a classifier; give "
                    "desired_class (a label or 'opposite') instead."
                )
            classes = list(np.asarray(m.classes).tolist())
            if isinstance(desired_class, str) and desired_class == "opposite":
                if len(classes) != 2:
                    raise InputError(
                        f"desired_class='opposite' needs a binary classifier but this one has "
                        f"{len(classes)} classes {classes}; give one of them as desired_class."
                    )
                idx = m.predict_label(self.space.dataset(X_enc))
                ks = [1 - classes.index(v.item() if isinstance(v, np.generic) else v) for v in idx]
            else:
                key = (
                    desired_class.item() if isinstance(desired_class, np.generic) else desired_class
                )
                hits = [i for i, c in enumerate(classes) if c == key]
                if not hits:
                    raise InputError(
                        f"desired_class {desired_class!r} is not a class of the model; choose "
                        f"one of {classes} or 'opposite' (binary classifiers)."
                    )
                ks = [hits[0]] * n
            return [Target(m, self.space, class_index=k) for k in ks]
        if desired_range is None:
            raise InputError(
                "desired_range is required for a regressor, got None; give the range of "
                "predictions wanted, e.g. desired_range=(100.0, np.inf)."
            )
        try:
            lo, hi = (float(v) for v in desired_range)
        except (TypeError, ValueError):
            raise InputError(
                f"desired_range must be a pair (low, high) of numbers, got {desired_range!r}; "
                "e.g. desired_range=(100.0, 150.0)."
            ) from None
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise InputError(
                f"desired_range must have low <= high, got ({lo:g}, {hi:g}); swap the bounds."
            )
        if not (isinstance(desired_class, str) and desired_class == "opposite"):
            raise InputError(
                "desired_class is for classifiers but this model is a regressor; give "
                "desired_range=(low, high) only."
            )
        return [Target(m, self.space, low=lo, high=hi, y_scale=self._y_scale) for _ in range(n)]

    def _desired_label(self, t: Target) -> Any:
        if t.class_index is not None:
            v = np.asarray(self.model.classes)[t.class_index]
            return v.item() if isinstance(v, np.generic) else v
        return (t.low, t.high)

    def _predicted(self, t: Target, out: np.ndarray) -> list[Any]:
        if t.class_index is not None:
            classes = np.asarray(self.model.classes)
            idx = (out[:, 1] > 0.5).astype(int) if out.shape[1] == 2 else out.argmax(axis=1)
            return [v.item() if isinstance(v, np.generic) else v for v in classes[idx]]
        return [float(v) for v in out[:, 0]]

    def _reference(self, t: Target) -> tuple[np.ndarray, float, float] | None:
        """Desired-outcome training rows, their median and 95th-percentile kNN distance."""
        key = (t.class_index, t.low, t.high)
        if key in self._reference_cache:
            return self._reference_cache[key]
        valid, _ = t(self.space.data)
        t.n_evals -= len(self.space.data)  # bookkeeping: not part of a row's search
        rows = self.space.data[valid]
        k = self.n_neighbors
        result = None
        if len(rows) > k:
            if len(rows) > _MAX_PLAUSIBILITY_ROWS:
                pick = np.random.default_rng(0).choice(
                    len(rows), _MAX_PLAUSIBILITY_ROWS, replace=False
                )
                rows = rows[np.sort(pick)]
            D = self.space.pairwise(rows, rows)
            np.fill_diagonal(D, np.inf)
            own = np.sort(D, axis=1)[:, :k].mean(axis=1)
            result = (rows, float(np.median(own)), float(np.quantile(own, 0.95)))
        self._reference_cache[key] = result
        return result

    def _settings(self, n: int, max_evals: int, weights: np.ndarray, sw: float, dw: float):
        return SearchSettings(
            n_counterfactuals=n,
            max_evals=max_evals,
            weights=weights,
            sparsity_weight=sw,
            diversity_weight=dw,
        )

    def _finish(self, rs: RowSpace, Z: np.ndarray, t: Target) -> tuple[np.ndarray, np.ndarray]:
        """Re-check ``Z`` with a real model call and every constraint; keep valid rows."""
        if len(Z) == 0:
            return Z, np.zeros((0, 1))
        out = t.outputs(Z)
        valid, _ = t.judge(out)
        Z, out = Z[valid], out[valid]
        broken = self.space.violations(Z, rs)
        if broken:  # an internal error, never the user's: fail loudly
            raise AssertionError(f"counterfactual search broke constraints: {broken}")
        return Z, out

    def _frame(self, Z: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(self.space.decode(Z), columns=list(self.space.names))
        frame = frame.infer_objects()
        for j in np.flatnonzero(self.space.integer):
            col = frame.iloc[:, j].to_numpy(dtype=np.float64)
            if np.all(np.isfinite(col)) and np.all(col == np.round(col)):
                frame[self.space.names[j]] = col.astype(np.int64)
        return frame

    # ------------------------------------------------------------ explain
    def __call__(
        self,
        X: Any,
        *,
        desired_class: Any = "opposite",
        desired_range: tuple[float, float] | None = None,
        n_counterfactuals: int = 4,
        max_evals: int = 20_000,
        sparsity_weight: float = 0.5,
        diversity_weight: float = 0.5,
    ) -> Counterfactuals:
        """Find ``n_counterfactuals`` diverse, valid counterfactuals for each row of ``X``.

        The search minimises, over rows the constraints allow, a DiCE-style
        objective: a validity loss (a row the model does not give the desired
        outcome is penalised by ``1 +`` its gap to it: the best other class's
        probability minus the desired one's, or the distance of the prediction to
        ``desired_range`` in units of the predictions' spread), plus proximity (the
        MAD-scaled L1 distance to ``x``, categorical features counting 1 per change)
        plus ``sparsity_weight`` per changed feature; diversity enters when the set
        is picked (``cost - diversity_weight * distance to the nearest row already
        picked``).

        ``method="genetic"``: a genetic search (elitism, tournament selection,
        uniform crossover, mutations that set, revert or nudge one feature) over
        data quantiles and a grid inside each feature's bounds, batched model calls
        for the whole population. ``method="tree"``: candidate values are the points
        just past each split threshold of the model; every single-feature change and
        the pairs of nearest changes are tried exactly in one batch each, the genetic
        search only filling in when fewer than ``3 * n_counterfactuals`` are found.
        Then the best rows are sparsified (each changed feature is reverted when the
        row stays valid: the number of changes never grows), each remaining change
        is pulled back toward ``x`` as far as validity allows, and a diverse set is
        picked; two rows closer to each other than a quarter of their distance to
        ``x`` count as one. When fewer than ``n_counterfactuals`` distinct rows come
        out, the search restarts (up to ``n_counterfactuals - 1`` times, a quarter
        of ``max_evals`` each) with the features already used frozen. Every row
        returned is re-checked with a model call; a row that fails is dropped.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features), DataFrame or Series
            The rows to explain (a 1-D array or Series: one row).
        desired_class : label or "opposite", default="opposite"
            Classifiers: the class wanted; ``"opposite"`` (binary only) is the class
            the model does not predict for the row.
        desired_range : (float, float), optional
            Regressors (required): the range the prediction must reach, inclusive.
        n_counterfactuals : int, default=4
        max_evals : int, default=20000
            The search budget per row, in model-evaluated rows (restarts add up to
            a quarter each; the sparsification and pull-back passes add at most
            about ``33 * n_features`` per pooled row). ``metrics["n_evals"]``
            reports what was spent.
        sparsity_weight, diversity_weight : float >= 0, default=0.5

        Returns
        -------
        Counterfactuals
            Per row the counterfactuals (cheapest first), their metrics and a status.
            A row with an infeasible combination of constraints, or already given
            the desired outcome, gets ``"not found: <reason>"`` at once.

        Raises
        ------
        InputError
            ``X`` does not fit the model; ``desired_class`` is not a class (the
            classes are listed), ``"opposite"`` with more than two classes,
            ``desired_range`` missing for a regressor, given for a classifier, or
            not a pair with low <= high; ``n_counterfactuals``, ``max_evals`` or a
            weight is out of range.
        """
        n_cf = check_int(n_counterfactuals, "n_counterfactuals", 1, "n_counterfactuals=4")
        max_evals = check_int(max_evals, "max_evals", 100, "max_evals=20000")
        sw = _check_weight(sparsity_weight, "sparsity_weight")
        dw = _check_weight(diversity_weight, "diversity_weight")
        seed = self.random_state
        rng = np.random.default_rng(seed)
        data, X_enc = self._rows(X)
        targets = self._targets(X_enc, desired_class, desired_range)
        settings = self._settings(n_cf, max_evals, self.space.default_weights(), sw, dw)
        space = self.space

        frames, statuses, preds, desired = [], [], [], []
        metric_rows, detail_rows = [], []
        for i, t in enumerate(targets):
            t0 = time.perf_counter()
            x = X_enc[i]
            out0 = t.outputs(x[None, :])
            preds.append(self._predicted(t, out0)[0])
            desired.append(self._desired_label(t))
            rs = space.row_space(x)
            note = ""
            Z = np.empty((0, space.n_features))
            out = np.zeros((0, 1))
            status = _unreachable(t, out0, rs)
            if status is None:
                found = search(
                    space,
                    rs,
                    t,
                    settings,
                    rng,
                    splits=self._splits,
                    strict_less=self._strict,
                )
                Z, out = self._finish(rs, found.Z, t)
                if len(Z) == n_cf:
                    status = "found"
                elif len(Z) == 0:
                    status = (
                        "not found: no counterfactual found within the budget "
                        f"(max_evals={max_evals}); raise max_evals or loosen the constraints"
                    )
                else:
                    status = "partial"
                    note = (
                        f"found {len(Z)} of {n_cf} distinct counterfactuals within "
                        f"max_evals={max_evals}"
                    )
            frame = self._frame(Z)
            frame["prediction"] = self._predicted(t, out) if len(Z) else []
            if t.class_index is not None:
                frame["probability"] = out[:, t.class_index] if len(Z) else []
            frames.append(frame)
            statuses.append(status)
            m, details = self._metrics(i, rs, Z, t)
            m.update(
                {
                    "row": i,
                    "status": status,
                    "n_found": len(Z),
                    "n_evals": t.n_evals,
                    "time_s": time.perf_counter() - t0,
                    "note": note,
                }
            )
            metric_rows.append(m)
            detail_rows.extend(details)

        mcols = [
            "row", "status", "n_found", "validity", "proximity_continuous",
            "proximity_categorical", "proximity", "sparsity", "diversity", "plausibility",
            "n_implausible", "n_evals", "time_s", "note",
        ]  # fmt: skip
        dcols = [
            "row", "cf", "proximity_continuous", "proximity_categorical", "sparsity",
            "plausibility", "implausible",
        ]  # fmt: skip
        params = dict(self._params)
        params.update(
            {
                "desired_class": json_value(desired_class),
                "desired_range": None
                if desired_range is None
                else [json_value(float(v)) for v in desired_range],
                "n_counterfactuals": n_cf,
                "max_evals": max_evals,
                "sparsity_weight": sw,
                "diversity_weight": dw,
                "random_state": json_value(seed),
            }
        )
        return Counterfactuals(
            feature_names=space.names,
            task=self.model.task,
            original=self._frame(X_enc),
            original_prediction=tuple(preds),
            desired=tuple(desired),
            counterfactuals=tuple(frames),
            status=tuple(statuses),
            metrics=pd.DataFrame(metric_rows, columns=mcols),
            details=pd.DataFrame(detail_rows, columns=dcols),
            params=params,
        )

    def _metrics(
        self, i: int, rs: RowSpace, Z: np.ndarray, t: Target
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        space = self.space
        k = len(Z)
        nan = float("nan")
        if k == 0:
            return {
                "validity": nan,
                "proximity_continuous": nan,
                "proximity_categorical": nan,
                "proximity": nan,
                "sparsity": nan,
                "diversity": nan,
                "plausibility": nan,
                "n_implausible": 0,
            }, []
        cont, cat = space.distance(Z, rs.x)
        changed = (~_same(Z, rs.x)).sum(axis=1)
        plaus = np.full(k, nan)
        implausible = np.zeros(k, dtype=bool)
        ref = self._reference(t) if self.plausibility == "knn" else None
        if ref is not None:
            rows, typical, cut = ref
            D = space.pairwise(Z, rows)
            knn = np.sort(D, axis=1)[:, : self.n_neighbors].mean(axis=1)
            plaus = knn / typical if typical > 0 else np.where(knn > 0, np.inf, 1.0)
            implausible = knn > cut
        if k >= 2:
            D = space.pairwise(Z, Z)
            diversity = float(D[np.triu_indices(k, 1)].mean())
        else:
            diversity = nan
        details = [
            {
                "row": i,
                "cf": c,
                "proximity_continuous": float(cont[c]),
                "proximity_categorical": float(cat[c]),
                "sparsity": int(changed[c]),
                "plausibility": float(plaus[c]),
                "implausible": bool(implausible[c]),
            }
            for c in range(k)
        ]
        return {
            "validity": 1.0,  # _finish dropped every row the model rejects
            "proximity_continuous": float(cont.mean()),
            "proximity_categorical": float(cat.mean()),
            "proximity": float((cont + cat).mean()),
            "sparsity": float(changed.mean()),
            "diversity": diversity,
            "plausibility": float(np.mean(plaus)),
            "n_implausible": int(implausible.sum()),
        }, details

    # ------------------------------------------------------------ recourse
    def recourse(
        self,
        x: Any,
        *,
        costs: Mapping[Any, float] | None = None,
        desired_class: Any = "opposite",
        desired_range: tuple[float, float] | None = None,
        max_evals: int = 20_000,
    ) -> Recourse:
        """The cheapest actionable counterfactual of one row, with its actions in words.

        Minimises ``cost = sum_j cost_j * |x'_j - x_j|`` over the rows the
        constraints allow and the model gives the desired outcome (integer
        features: per step; categorical: ``cost_j`` per change of level); immutable
        features never change (Ustun, Spangher & Liu 2019). The search is the one of
        ``__call__`` with these costs in place of the MAD weights and no sparsity or
        diversity term; the result is re-checked by a model call.

        Parameters
        ----------
        x : array-like of shape (n_features,) or (1, n_features), Series or DataFrame
            One row.
        costs : dict, optional
            Feature -> cost per unit of change (per change for categorical
            features); a feature left out costs ``1/MAD`` per unit (1 per change).
        desired_class, desired_range, max_evals
            As in ``__call__``. The search is seeded by the explainer's
            ``random_state``.

        Returns
        -------
        Recourse
            The counterfactual, its cost, and one sentence per change, e.g.
            ``"increase income from 32,000 to 41,500"``; or ``"not found: <reason>"``.

        Raises
        ------
        InputError
            ``x`` is not one row, ``costs`` names an unknown or immutable feature or
            holds a non-positive cost, or as in ``__call__``.
        """
        max_evals = check_int(max_evals, "max_evals", 100, "max_evals=20000")
        weights = cost_weights(self.space, costs)
        data, X_enc = self._rows(x)
        if len(X_enc) != 1:
            raise InputError(
                f"recourse takes one row, got {len(X_enc)}; pass x=X.iloc[[i]] or X[i] "
                "(call the explainer itself for several rows)."
            )
        t = self._targets(X_enc, desired_class, desired_range)[0]
        seed = self.random_state
        rng = np.random.default_rng(seed)
        space = self.space
        x0 = X_enc[0]
        out0 = t.outputs(x0[None, :])
        before = self._predicted(t, out0)[0]
        rs = space.row_space(x0)
        Z = np.empty((0, space.n_features))
        out = np.zeros((0, 1))
        status = _unreachable(t, out0, rs)
        if status is None:
            s = self._settings(1, max_evals, weights, 0.0, 0.0)
            found = search(space, rs, t, s, rng, splits=self._splits, strict_less=self._strict)
            Z, out = self._finish(rs, found.Z, t)
            status = (
                "found"
                if len(Z)
                else (
                    "not found: no counterfactual found within the budget "
                    f"(max_evals={max_evals}); raise max_evals or loosen the constraints"
                )
            )
        original = self._frame(X_enc).iloc[0]
        rows, actions = [], []
        cost = float("nan")
        cf = None
        after = None
        if len(Z):
            z = Z[0]
            cf = self._frame(Z[:1]).iloc[0]
            after = self._predicted(t, out[:1])[0]
            cost = 0.0
            for j in np.flatnonzero(~_same(z[None, :], x0)[0]):
                name = space.names[j]
                unit = float(weights[j])
                step = 1.0 if space.categorical[j] else abs(float(z[j] - x0[j]))
                cost += unit * step
                rows.append((name, original[name], cf[name], unit, unit * step))
                actions.append(
                    action_sentence(name, original[name], cf[name], bool(space.categorical[j]))
                )
        changes = pd.DataFrame(rows, columns=["feature", "original", "new", "unit_cost", "cost"])
        changes = changes.astype({"original": object, "new": object})
        params = dict(self._params)
        params.update(
            {
                "costs": None if costs is None else {str(k): float(v) for k, v in costs.items()},
                "desired_class": json_value(desired_class),
                "desired_range": None
                if desired_range is None
                else [json_value(float(v)) for v in desired_range],
                "max_evals": max_evals,
                "random_state": json_value(seed),
            }
        )
        return Recourse(
            feature_names=space.names,
            original=original,
            counterfactual=cf,
            original_prediction=before,
            prediction=after,
            desired=self._desired_label(t),
            cost=cost,
            actions=tuple(actions),
            changes=changes,
            status=status,
            params=params,
        )
