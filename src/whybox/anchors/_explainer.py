"""What the anchor explainers share: their settings, the loop over inputs, the result."""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox._utils import check_random_state, json_value, progress_bar
from whybox._version import __version__
from whybox.anchors._result import Anchor
from whybox.anchors._search import AnchorProblem, Check, SearchSettings, anchor_search


class AnchorExplainer(abc.ABC):
    """The part of :class:`~whybox.anchors.AnchorTabular` and
    :class:`~whybox.anchors.AnchorText` that does not depend on the data type.

    Subclasses set ``method``, call :meth:`_settings` from ``__init__``, and implement
    ``_explain_one(item) -> Anchor`` (with :meth:`_search` and :meth:`_anchor`) and
    ``_own_params() -> dict``.
    """

    method = ""

    def _settings(self, *, random_state: Any, progress: bool | None, **search: Any) -> None:
        """Check and keep the search settings, the seed and the progress bar setting."""
        self.random_state = check_random_state(random_state)
        self.progress = progress
        self.settings = SearchSettings(**search)

    def _explain_all(self, items: Sequence[Any]) -> list[Anchor]:
        """The anchor of every item (row or text), in order, with a progress bar."""
        anchors = []
        with progress_bar(len(items), self.progress, "anchors") as bar:
            for item in items:
                anchors.append(self._explain_one(item))
                bar.update(1)
        return anchors

    @abc.abstractmethod
    def _explain_one(self, item: Any) -> Anchor:
        """The anchor of one input (a row or a text)."""

    @abc.abstractmethod
    def _own_params(self) -> dict[str, Any]:
        """The explainer's own settings, recorded in every Anchor's params."""

    def _search(self, problem: AnchorProblem) -> Check:
        """The anchor search on ``problem``, seeded afresh by ``random_state`` (so with an
        int seed every input is explained with the same stream)."""
        return anchor_search(problem, self.settings, np.random.default_rng(self.random_state))

    def _anchor(self, problem: Any, check: Check, start: float, **fields: Any) -> Anchor:
        """The :class:`Anchor` of a finished search: the fields every anchor has from
        ``check`` and ``problem.labeller``, the wall time since ``start``
        (``time.perf_counter()``), and the data-specific ``fields``."""
        return Anchor(
            precision=check.precision,
            precision_bounds=(check.lower, check.upper),
            n_precision_samples=check.n,
            coverage=check.coverage,
            meets_threshold=check.accepted,
            examples_same=check.same,
            examples_different=check.different,
            n_model_rows=problem.labeller.n_rows,
            n_model_calls=problem.labeller.n_calls,
            time_seconds=time.perf_counter() - start,
            method=self.method,
            params=self._params(),
            **fields,
        )

    def _params(self) -> dict[str, Any]:
        """Everything to reproduce an anchor: the search settings, the subclass's own
        settings, the seed and the whybox version."""
        return {
            **self.settings.to_params(),
            **self._own_params(),
            "random_state": json_value(self.random_state),
            "whybox_version": __version__,
        }
