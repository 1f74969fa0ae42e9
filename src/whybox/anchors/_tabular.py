"""Anchors for tabular classifiers: rules on binned features, sampled from background rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._discretize import MISSING, Discretizer, fit_discretizer
from whybox._exceptions import InputError, UnsupportedModelError
from whybox._utils import Players, check_int, resolve_players
from whybox.adapters import Dataset, Model, adapt_data, adapt_model
from whybox.anchors._explainer import AnchorExplainer
from whybox.anchors._result import Anchor
from whybox.anchors._search import Labeller, Rule

Predicate = tuple[int, int, int]
"""``(player, lowest code, highest code)``: the player's code lies in that range (a
column's bin; for a group of several columns, how many of them are outside the explained
row's bin)."""


class AnchorTabular(AnchorExplainer):
    """Anchors (Ribeiro, Singh & Guestrin 2018) for classifiers on tables.

    An anchor of a row ``x`` is a rule, such as ``"mean radius > 17.2 AND worst
    texture <= 21"``, under which the model predicts the class it predicts for ``x``
    on at least a fraction ``threshold`` of perturbations (the rule's *precision*),
    chosen to hold on as much of the data as possible (its *coverage*). The search is
    a beam search with KL-LUCB precision estimates (see Notes).

    Parameters
    ----------
    model : object
        A fitted classifier whybox can adapt (scikit-learn estimator or Pipeline,
        XGBoost, LightGBM, CatBoost) or a :class:`whybox.adapters.Model`; a callable
        returning class probabilities must be adapted with
        ``adapt_model(f, task="classification", output_names=[...])``. The anchored
        prediction is the class of highest probability (a binary classifier's positive
        class when its probability exceeds 0.5).
    background : array-like of shape (n_background, n_features) or DataFrame
        The rows perturbations are drawn from and quantiles are taken on, typically the
        training data, with the model's columns (float64, or mixed text and numbers for
        a model that takes a DataFrame).
    categorical_features : sequence of (str or int), optional
        Columns (names or positions) whose values are levels, not numbers, in
        addition to the text, category and bool columns of a DataFrame.
    feature_groups : dict of str to list of (str or int), optional
        Columns anchored as one feature (e.g. the one-hot columns of one categorical):
        group name -> column names or positions. A group of several columns is one
        candidate condition, "every column in the row's bin", written as the group's
        name and its columns' conditions, e.g. ``"colour (colour_red > 0, colour_blue
        <= 0)"``; its columns are copied together from one background row in the
        perturbations, so a rule never holds part of the group. A group of one column
        keeps that column's conditions. Columns in no group are features of their own,
        after the groups.
    discretizer : {"quartile", "decile"}, default="quartile"
        Where numeric features are cut into bins (:func:`whybox._discretize.fit_discretizer`).
    threshold : float, default=0.95
        The precision an anchor must reach (``tau``), in (0, 1).
    delta : float, default=0.1
        Confidence parameter in (0, 1): with probability at least ``1 - delta`` every
        rule the search accepts has precision at least ``threshold``.
    epsilon : float, default=0.15
        KL-LUCB's tolerance in (0, 1): the beam holds rules within ``epsilon`` of the
        most precise ones (``tau`` in the paper's code; here ``tau`` is the threshold).
    beam_size : int, default=2
        Rules kept per size of the beam search (``B``).
    samples_per_pull : int, default=100
        Perturbations drawn each time a rule's precision is sampled (the bandit's pull).
    batch_size : int, default=10000
        Perturbations per model call. Never changes the result.
    max_anchor_size : int or None, default=None
        The most predicates in a rule (rounds of the beam search); None: the number of
        features (groups counting as one).
    max_check_samples : int, default=10000
        Perturbations after which a rule whose precision bounds still straddle
        ``threshold`` is rejected.
    coverage_samples : int, default=10000
        Training rows (a random sample when there are more) on which coverage is
        measured.
    n_examples : int, default=10
        Perturbations kept as examples, with the same and with a different prediction.
    random_state : int, numpy Generator or None, default=0
        Seeds the coverage sample and the perturbations (None: fresh entropy). The same
        seed gives the same anchor whatever ``batch_size``; with an int seed, every row
        is explained with the same stream, so explaining rows together equals
        explaining them one by one.
    progress : bool or None, default=None
        Show a tqdm bar over the explained rows; None shows it for 100 or more rows.

    Attributes
    ----------
    model : whybox.adapters.Model
    background : whybox.adapters.Dataset
        The background rows in the model's column order.
    discretizer : whybox._discretize.Discretizer
        The bins the predicates are made of.
    class_names : tuple of str
        The name of each class (a binary classifier's negative class first).
    feature_names : tuple of str
    players : whybox._utils.Players
        The features the rules are made of: the groups, then the columns in no group
        (every column on its own without ``feature_groups``).

    Raises
    ------
    UnsupportedModelError
        If the model is a regressor: anchors need a predicted class.
    InputError
        If ``background`` does not fit the model, ``categorical_features`` names an
        unknown column, ``feature_groups`` is not a dict, has an empty group, names an
        unknown column, puts a column in two groups or names a group like a column in
        no group, ``discretizer`` is unknown, or a number is out of its range.

    Notes
    -----
    *Predicates.* Numeric features are cut at quantiles of the background. For a
    row in bin ``b`` of a feature, the predicates are the one-sided conditions that
    contain the row: ``x > e_k`` for every cut ``e_k`` below it and ``x <= e_k`` for
    every cut at or above it; two predicates on one feature read as one interval,
    ``e_i < x <= e_k``. A categorical feature gives ``x = level``; a missing value
    ``x is missing``. A group of several columns gives one predicate: each of its
    columns lies in the row's bin (has the row's level); the anchor's ``bins`` entry
    for it is ``(0, 0)``, the number of its columns allowed outside the row's bin.

    *Perturbations.* ``D(z | A)`` takes a uniformly drawn background row and replaces
    the columns of its anchored features (all the columns of an anchored group) by
    those of a background row, drawn uniformly among the rows where ``A`` holds (by the
    instance's own values when no background row satisfies ``A``), as in the paper's
    sampling from the training data. ``A`` holds on every perturbation. Coverage is
    the fraction of the coverage sample where ``A`` holds.

    *Search.* See :mod:`whybox.anchors._search`: beam search over rule sizes,
    KL-LUCB (Kaufmann & Kalyanakrishnan 2013) to choose each round's ``beam_size``
    best rules, and a check of each on fresh perturbations until its KL lower
    confidence bound reaches ``threshold`` (accepted) or its upper bound falls below
    it. The accepted rule of largest coverage is returned; candidates that cannot
    beat its coverage are pruned.

    References
    ----------
    Ribeiro, Singh & Guestrin (2018), "Anchors: High-Precision Model-Agnostic
    Explanations", AAAI. Kaufmann & Kalyanakrishnan (2013), "Information Complexity
    in Bandit Subset Selection", COLT.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from whybox.anchors import AnchorTabular
    >>> X, y = load_iris(return_X_y=True)
    >>> model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    >>> explainer = AnchorTabular(model, X)
    >>> anchors = explainer(X[[0, 100]])  # one Anchor per row
    >>> len(anchors)
    2
    >>> print(anchors[1])
    IF x3 > 1.8 THEN '2' (precision 1.00, coverage 0.23)
    >>> anchors[1].to_frame()[["rule", "prediction", "meets_threshold"]]
           rule prediction  meets_threshold
    0  x3 > 1.8          2             True
    """

    method = "anchor_tabular"

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        categorical_features: Sequence[str | int] | None = None,
        feature_groups: Any = None,
        discretizer: str = "quartile",
        threshold: float = 0.95,
        delta: float = 0.1,
        epsilon: float = 0.15,
        beam_size: int = 2,
        samples_per_pull: int = 100,
        batch_size: int | None = 10_000,
        max_anchor_size: int | None = None,
        max_check_samples: int = 10_000,
        coverage_samples: int = 10_000,
        n_examples: int = 10,
        random_state: Any = 0,
        progress: bool | None = None,
    ) -> None:
        self.model: Model = adapt_model(model)
        if self.model.task != "classification":
            raise UnsupportedModelError(
                "AnchorTabular explains classifiers but the model is a regressor; anchors "
                "need a predicted class: wrap the regressor in a function returning class "
                "probabilities (e.g. of prediction > cut) and pass "
                "adapt_model(f, task='classification', output_names=[...])."
            )
        self._settings(
            random_state=random_state, progress=progress, threshold=threshold, delta=delta,
            epsilon=epsilon, beam_size=beam_size, samples_per_pull=samples_per_pull,
            batch_size=batch_size, max_anchor_size=max_anchor_size,
            max_check_samples=max_check_samples, n_examples=n_examples,
        )  # fmt: skip
        check_int(coverage_samples, "coverage_samples", 1, "coverage_samples=10000")
        self.background: Dataset = self.model.check_data(
            adapt_data(background, name="background"), name="background"
        )
        self.players: Players = resolve_players(feature_groups, self.feature_names)
        self.discretizer: Discretizer = fit_discretizer(
            self.background, kind=discretizer, categorical=categorical_features
        )
        sizes = np.array([len(cols) for cols in self.players.columns])
        self._grouped = sizes > 1  # players of several columns
        self._first = np.array([cols[0] for cols in self.players.columns])
        self._by_player = np.concatenate(self.players.columns)  # columns, player by player
        self._starts = np.cumsum(sizes) - sizes
        self.class_names = self.model.class_names
        self._codes = self.discretizer.transform(self.background)
        n_background = self.background.n_samples
        rows = np.arange(n_background)
        if n_background > coverage_samples:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(n_background, size=int(coverage_samples), replace=False))
        self._coverage_codes = self._codes[rows]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.background.feature_names

    # ------------------------------------------------------------------ public
    def __call__(self, X: Any) -> list[Anchor]:
        """The anchor of every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_features,), DataFrame or Series
            The rows, with the background's columns; a 1-D array or a Series is one
            row. DataFrame columns in another order are put back in the model's order.

        Returns
        -------
        list of Anchor
            One per row, in order (a list of one for one row): the rule, the predicted
            class it anchors, its precision (with KL bounds), coverage, example
            perturbations, model calls and time.

        Raises
        ------
        InputError
            If ``X`` does not have the background's columns.
        """
        return self._explain_all(self._check_rows(X, "X"))

    def holds(self, anchor: Anchor, X: Any) -> np.ndarray:
        """Where an anchor from this explainer holds.

        Parameters
        ----------
        anchor : Anchor
            An anchor made by this explainer (same columns and bins).
        X : array-like of shape (n_samples, n_features) or DataFrame

        Returns
        -------
        ndarray of shape (n_samples,), bool
            True on the rows that satisfy every condition of the anchor.

        Raises
        ------
        InputError
            If the anchor was made with other columns or bins, or ``X`` does not have
            the background's columns.
        """
        if (
            not isinstance(anchor, Anchor)
            or anchor.method != self.method
            or anchor.columns != self.feature_names
            or anchor.params.get("discretizer") != self.discretizer.to_dict()
            or anchor.params.get("feature_groups") != self._groups_param()
        ):
            raise InputError(
                "anchor must be an Anchor made by an AnchorTabular with these columns, bins "
                f"and feature groups, got {type(anchor).__name__} from "
                f"{getattr(anchor, 'method', None)!r}; use the explainer that made the anchor."
            )
        codes = self.discretizer.transform(self._dataset(self._check_rows(X, "X")))
        instance = self.discretizer.transform(self._dataset(anchor.instance[None, :]))[0]
        rule = tuple((p, lo, hi) for p, (lo, hi) in zip(anchor.features, anchor.bins, strict=True))
        return _holds(self._player_codes(codes, instance), rule)

    # ------------------------------------------------------------------ internals
    def _player_codes(self, codes: np.ndarray, row_codes: np.ndarray) -> np.ndarray:
        """Each player's code, from bin ``codes`` of shape (n, n_features).

        A column's code is its bin; a group of several columns' is the number of its
        columns whose bin differs from the explained row's (``row_codes``).
        """
        own = codes[:, self._first]
        if not self._grouped.any():
            return own
        outside = (codes != row_codes)[:, self._by_player].astype(np.int64)
        return np.where(self._grouped, np.add.reduceat(outside, self._starts, axis=1), own)

    def _groups_param(self) -> dict[str, list[int]] | None:
        return self.players.groups_as_dict() if self.players.grouped else None

    def _dataset(self, values: np.ndarray) -> Dataset:
        return Dataset(values, self.feature_names, self.background.categorical)

    def _check_rows(self, X: Any, name: str) -> np.ndarray:
        d = len(self.feature_names)
        if isinstance(X, pd.Series):
            X = X.to_frame().T
        if isinstance(X, pd.DataFrame):
            data = adapt_data(X, name=name)
            if set(data.feature_names) != set(self.feature_names):
                missing = [c for c in self.feature_names if c not in data.feature_names]
                extra = [c for c in data.feature_names if c not in self.feature_names]
                raise InputError(
                    f"{name} has the columns {list(data.feature_names)[:5]} but the background "
                    f"has {list(self.feature_names)[:5]} (missing {missing[:5]}, "
                    f"unexpected {extra[:5]}); give {name} the background's columns."
                )
            data = data.select(self.feature_names)
        else:
            try:
                arr = np.asarray(X)
            except Exception as exc:  # ragged lists and the like
                raise InputError(
                    f"{name} could not be read as an array ({exc}); give a numpy array or "
                    "a DataFrame."
                ) from None
            data = adapt_data(arr[None, :] if arr.ndim == 1 else arr, name=name)
            if data.n_features != d:
                raise InputError(
                    f"{name} has {data.n_features} columns but the background has {d}; "
                    f"give {name} the background's columns."
                )
        values = data.values
        if values.dtype == object and self.background.is_numeric:
            try:  # a row of numbers held as objects (e.g. a Series of a mixed frame)
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                pass  # check_data names the non-numeric columns
        values = self.model.check_data(self._dataset(values), name=name).values
        return values if self.background.is_numeric else values.astype(object)

    def _explain_one(self, row: np.ndarray) -> Anchor:
        start = time.perf_counter()
        problem = _TabularProblem(self, row)
        check = self._search(problem)
        rule = check.rule
        return self._anchor(
            problem,
            check,
            start,
            conditions=tuple(problem.describe(predicate) for predicate in rule),
            features=tuple(p for p, _, _ in rule),
            feature_names=tuple(self.players.names[p] for p, _, _ in rule),
            bins=tuple((lo, hi) for _, lo, hi in rule),
            prediction=self.class_names[problem.target],
            instance=row,
            columns=self.feature_names,
        )

    def _own_params(self) -> dict[str, Any]:
        return {
            "discretizer": self.discretizer.to_dict(),
            "categorical_features": [
                n
                for n, c in zip(self.feature_names, self.discretizer.categorical, strict=True)
                if c
            ],
            "feature_groups": self._groups_param(),
            "coverage_rows": int(len(self._coverage_codes)),
            "background_rows": int(self.background.n_samples),
        }

    def _labels(self, values: np.ndarray) -> np.ndarray:
        """The index of the predicted class (into ``class_names``) of each row."""
        proba = self.model.predict(self._dataset(values), "probability")
        if proba.shape[1] == 1:
            return (proba[:, 0] > 0.5).astype(np.int64)
        return proba.argmax(axis=1)


class _TabularProblem:
    """The anchor search's view of one row: its predicates, coverage and perturbations."""

    def __init__(self, explainer: AnchorTabular, row: np.ndarray) -> None:
        self.explainer = explainer
        self.row = row
        self.columns = explainer.players.columns
        self.n_features = explainer.players.n_players
        self.labeller = Labeller(explainer._labels, explainer.settings.batch_size)
        self.target = int(self.labeller(row[None, :])[0])
        self.row_codes = explainer.discretizer.transform(explainer._dataset(row[None, :]))[0]
        self.predicates = _predicates(explainer.discretizer, self.row_codes, self.columns)
        self._codes = explainer._player_codes(explainer._codes, self.row_codes)
        self._coverage_codes = explainer._player_codes(explainer._coverage_codes, self.row_codes)
        self._cache: dict[frozenset, tuple[np.ndarray, float]] = {}

    def children(self, rule: Rule) -> list[Rule]:
        position = {item[0]: i for i, item in enumerate(rule)}
        out = []
        for j, lo, hi in self.predicates:
            i = position.get(j)
            if i is None:
                out.append(rule + ((j, lo, hi),))
                continue
            old = rule[i]
            merged = (j, max(lo, old[1]), min(hi, old[2]))
            if merged != old:
                out.append(rule[:i] + (merged,) + rule[i + 1 :])
        return out

    def coverage(self, rule: Rule) -> float:
        return self._satisfying(rule)[1]

    def describe(self, predicate: Predicate) -> str:
        """The predicate as text: a column's condition, or a group's name and the row's
        condition on each of its columns."""
        p, lo, hi = predicate
        disc, cols = self.explainer.discretizer, self.columns[p]
        if len(cols) == 1:
            return disc.describe(int(cols[0]), lo, hi)
        members = ", ".join(disc.describe(j, int(self.row_codes[j])) for j in cols)
        return f"{self.explainer.players.names[p]} ({members})"

    def draw(
        self, requests: Sequence[tuple[Rule, int]], rng: np.random.Generator
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        train = self.explainer.background.values
        blocks = []
        for rule, n in requests:
            rows = train[rng.integers(len(train), size=n)]
            if rule:
                cols = np.concatenate([self.columns[p] for p, _, _ in rule])
                donors = self._satisfying(rule)[0]
                if donors.size:
                    rows[:, cols] = train[np.ix_(donors[rng.integers(donors.size, size=n)], cols)]
                else:
                    rows[:, cols] = self.row[cols]
            blocks.append(rows)
        return self.labeller.hits(blocks, self.target)

    def _satisfying(self, rule: Rule) -> tuple[np.ndarray, float]:
        """Training rows where ``rule`` holds, and its coverage."""
        key = frozenset(rule)
        if key not in self._cache:
            self._cache[key] = (
                np.flatnonzero(_holds(self._codes, rule)),
                float(_holds(self._coverage_codes, rule).mean()),
            )
        return self._cache[key]


def _holds(codes: np.ndarray, rule: Sequence[Predicate]) -> np.ndarray:
    """Rows of player ``codes`` (n, n_players) where every predicate of ``rule`` holds."""
    mask = np.ones(len(codes), dtype=bool)
    for p, lo, hi in rule:
        mask &= (codes[:, p] >= lo) & (codes[:, p] <= hi)
    return mask


def _predicates(
    disc: Discretizer, codes: np.ndarray, columns: Sequence[np.ndarray]
) -> list[Predicate]:
    """The predicates a row with bin ``codes`` satisfies, for players owning ``columns``
    (see AnchorTabular's Notes)."""
    out: list[Predicate] = []
    for p, cols in enumerate(columns):
        if len(cols) > 1:
            out.append((p, 0, 0))  # no column of the group outside the row's bin
            continue
        j = int(cols[0])
        b = int(codes[j])
        if b == MISSING or disc.levels[j] is not None:
            out.append((p, b, b))
            continue
        top = disc.n_bins(j) - 1
        out.extend((p, k, top) for k in range(1, b + 1))  # x > e[k-1]
        out.extend((p, 0, k) for k in range(b, top))  # x <= e[k]
    return out
