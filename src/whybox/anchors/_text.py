"""Anchors for text classifiers: rules made of words that must stay in the text."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import shorten
from whybox.anchors._explainer import AnchorExplainer
from whybox.anchors._result import Anchor
from whybox.anchors._search import Labeller, Rule

PERTURBATIONS = {"mask": "replace the word by mask_string", "drop": "delete the word"}
"""Name -> what a perturbation does to a word it removes."""

KEEP_PROBABILITY = 0.5
"""The probability that a perturbation keeps a word outside the anchor."""

_WORD = re.compile(r"\w+")


class AnchorText(AnchorExplainer):
    """Anchors (Ribeiro, Singh & Guestrin 2018) for text classifiers.

    The anchor of a text is a set of its words, such as ``{"terrible", "boring"}``,
    that keeps the classifier's prediction when the other words are removed at
    random: the prediction stays the same on at least a fraction ``threshold`` of
    such perturbations (the anchor's *precision*). Among such sets the search prefers
    the one that holds on the largest share of perturbations (its *coverage*), i.e.
    the fewest words.

    Parameters
    ----------
    model : callable
        ``model(list of str)`` returns, for n texts, either labels (array-like of
        shape (n,), any comparable values) or class probabilities (array-like of shape
        (n, n_classes); one column is the positive class's probability, predicted when
        above 0.5). The anchored prediction is the label, or the class of highest
        probability, of the explained text.
    tokenizer : callable or None, default=None
        ``tokenizer(str) -> list of str``: the words. None: runs of word characters
        (regular expression ``\\w+``), with the text between them kept as it is in
        every perturbation; with a tokenizer, perturbations join the words by spaces.
    mask_string : str, default="UNK"
        What a removed word becomes when ``perturbation="mask"``.
    perturbation : {"mask", "drop"}, default="mask"
        How a word outside the anchor is removed: replaced by ``mask_string``, or
        deleted.
    class_names : sequence of str, optional
        Names of the classes, indexed by the class index (the probability column, or an
        integer label); without it a class is named by its label or index.
    threshold, delta, epsilon, beam_size, samples_per_pull, batch_size, max_anchor_size, \
max_check_samples, n_examples, random_state
        As for :class:`whybox.anchors.AnchorTabular`; ``batch_size`` is texts per call
        of ``model``, and ``max_anchor_size`` (None) defaults to the number of
        distinct words.
    progress : bool or None, default=None
        Show a tqdm bar over the explained texts; None shows it for 100 or more texts.

    Raises
    ------
    InputError
        If ``model`` or ``tokenizer`` is not callable, ``perturbation`` is unknown,
        ``mask_string`` is not a str, or a number is out of its range.

    Notes
    -----
    The features are the distinct words of the text (a word that occurs several times
    is one feature; the predicate ``contains 'w'`` keeps all its occurrences). A
    perturbation keeps every anchored word and each other distinct word independently
    with probability :data:`KEEP_PROBABILITY` (0.5), as the paper's ``D`` for text, so
    the coverage of an anchor of ``k`` words is exactly ``0.5 ** k``. The search is
    that of :mod:`whybox.anchors._search`.

    References
    ----------
    Ribeiro, Singh & Guestrin (2018), "Anchors: High-Precision Model-Agnostic
    Explanations", AAAI. Kaufmann & Kalyanakrishnan (2013), "Information Complexity
    in Bandit Subset Selection", COLT.
    """

    method = "anchor_text"

    def __init__(
        self,
        model: Callable[[list[str]], Any],
        *,
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        mask_string: str = "UNK",
        perturbation: str = "mask",
        class_names: Sequence[str] | None = None,
        threshold: float = 0.95,
        delta: float = 0.1,
        epsilon: float = 0.15,
        beam_size: int = 2,
        samples_per_pull: int = 100,
        batch_size: int | None = 10_000,
        max_anchor_size: int | None = None,
        max_check_samples: int = 10_000,
        n_examples: int = 10,
        random_state: Any = 0,
        progress: bool | None = None,
    ) -> None:
        if not callable(model):
            raise InputError(
                f"model must be a function of a list of texts, got "
                f"{type(model).__name__}; pass e.g. pipeline.predict_proba."
            )
        if tokenizer is not None and not callable(tokenizer):
            raise InputError(
                f"tokenizer must be a function str -> list of str or None, got "
                f"{type(tokenizer).__name__}; leave it out to split on words."
            )
        if perturbation not in PERTURBATIONS:
            raise InputError(
                f"perturbation must be one of {sorted(PERTURBATIONS)}, got {perturbation!r}; "
                "use perturbation='mask'."
            )
        if not isinstance(mask_string, str):
            raise InputError(
                f"mask_string must be a str, got {type(mask_string).__name__}; "
                "e.g. mask_string='UNK'."
            )
        self._settings(
            random_state=random_state, progress=progress, threshold=threshold, delta=delta,
            epsilon=epsilon, beam_size=beam_size, samples_per_pull=samples_per_pull,
            batch_size=batch_size, max_anchor_size=max_anchor_size,
            max_check_samples=max_check_samples, n_examples=n_examples,
        )  # fmt: skip
        self.model = model
        self.tokenizer = tokenizer
        self.mask_string = mask_string
        self.perturbation = perturbation
        self.class_names = None if class_names is None else tuple(str(c) for c in class_names)

    def __call__(self, texts: str | Sequence[str]) -> list[Anchor]:
        """The anchor of every text.

        Parameters
        ----------
        texts : str or sequence of str
            The texts; a str is one text.

        Returns
        -------
        list of Anchor
            One per text, in order (a list of one for a str): ``conditions`` such as
            ``"contains 'terrible'"``, one per anchored word (``feature_names`` holds
            the words, ``features`` their positions among the text's distinct words);
            the predicted class; precision with KL bounds; coverage
            ``0.5 ** len(anchor)``; example perturbations (str) with the same and a
            different prediction; model calls and time.

        Raises
        ------
        InputError
            If ``texts`` is not a str or a non-empty sequence of str, a text has no
            words, or ``model`` returns an output of the wrong shape or
            ``class_names`` does not name its classes.
        """
        if isinstance(texts, str):
            texts = [texts]
        elif isinstance(texts, (list, tuple, np.ndarray, pd.Series)):
            texts = list(texts)
        else:
            raise InputError(
                f"texts must be a str or a list of str, got {type(texts).__name__}; "
                "e.g. explainer(['a text', 'another text'])."
            )
        if not texts:
            raise InputError("texts is empty; give at least one text, e.g. explainer('a text').")
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise InputError(
                f"texts must hold str only, got {type(bad[0]).__name__} {shorten(bad[0])}; "
                "give the texts as a list of str."
            )
        return self._explain_all(texts)

    def _explain_one(self, text: str) -> Anchor:
        start = time.perf_counter()
        problem = _TextProblem(self, text)
        prediction = self._class_name(problem.target)
        check = self._search(problem)
        return self._anchor(
            problem,
            check,
            start,
            conditions=tuple(f"contains {problem.vocabulary[w]!r}" for w in check.rule),
            features=tuple(int(w) for w in check.rule),
            feature_names=tuple(problem.vocabulary[w] for w in check.rule),
            prediction=prediction,
            instance=text,
        )

    def _class_name(self, label: Any) -> str:
        if self.class_names is None:
            return str(label)
        if not isinstance(label, (int, np.integer)) or not 0 <= label < len(self.class_names):
            raise InputError(
                f"class_names has {len(self.class_names)} names but model predicts the "
                f"class {label!r}; give one name per class index, or leave class_names out."
            )
        return self.class_names[int(label)]

    def _own_params(self) -> dict[str, Any]:
        return {
            "tokenizer": "words (\\w+)" if self.tokenizer is None else repr(self.tokenizer),
            "perturbation": self.perturbation,
            "mask_string": self.mask_string,
            "keep_probability": KEEP_PROBABILITY,
            "class_names": None if self.class_names is None else list(self.class_names),
        }


class _TextProblem:
    """The anchor search's view of one text: its words and perturbations."""

    def __init__(self, explainer: AnchorText, text: str) -> None:
        self.explainer = explainer
        if explainer.tokenizer is None:
            words = _WORD.findall(text)
            separators = _WORD.split(text)  # the text before, between and after the words
        else:
            words = list(explainer.tokenizer(text))
            if not all(isinstance(w, str) for w in words):
                raise InputError(
                    "tokenizer must return a list of str, got "
                    f"{sorted({type(w).__name__ for w in words})}; return the words as text."
                )
            separators = [""] + [" "] * (len(words) - 1) + [""] if words else [text]
        if not words:
            raise InputError(
                f"text has no words to anchor ({text[:40]!r}); give a text with at least one word."
            )
        self.vocabulary = list(dict.fromkeys(words))
        index = {w: i for i, w in enumerate(self.vocabulary)}
        self.n_features = len(self.vocabulary)
        self._word_of = np.array([index[w] for w in words], dtype=np.intp)
        self._words = np.array(words, dtype=object)
        self._separators = separators
        self._removed = explainer.mask_string if explainer.perturbation == "mask" else ""
        self._form: Any = None
        self.labeller = Labeller(self._labels, explainer.settings.batch_size)
        self.target = self.labeller(np.array([text], dtype=object))[0]

    def children(self, rule: Rule) -> list[Rule]:
        return [rule + (w,) for w in range(self.n_features) if w not in rule]

    def coverage(self, rule: Rule) -> float:
        return KEEP_PROBABILITY ** len(rule)

    def draw(
        self, requests: Sequence[tuple[Rule, int]], rng: np.random.Generator
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        blocks = []
        for rule, n in requests:
            keep = rng.random((n, self.n_features)) < KEEP_PROBABILITY
            keep[:, list(rule)] = True
            blocks.append(self._texts(keep))
        return self.labeller.hits(blocks, self.target)

    def _texts(self, keep: np.ndarray) -> np.ndarray:
        """The perturbed texts, shape (n,) of str, keeping the words marked in ``keep``."""
        tokens = np.where(keep[:, self._word_of], self._words, self._removed)
        out = np.full(len(keep), self._separators[0], dtype=object)
        for i in range(tokens.shape[1]):
            out = out + tokens[:, i] + self._separators[i + 1]
        return out

    def _labels(self, texts: np.ndarray) -> np.ndarray:
        out = np.asarray(self.explainer.model(list(texts)))
        n = len(texts)
        form = "labels" if out.ndim == 1 else out.shape[-1] if out.ndim == 2 else None
        if out.shape[:1] != (n,) or form in (None, 0) or self._form not in (None, form):
            expected = (
                "" if self._form is None else f" (its first output had the form {self._form!r})"
            )
            raise InputError(
                f"model returned an output of shape {out.shape} for {n} texts{expected}; "
                "it must return one label per text, shape (n_texts,), or class "
                "probabilities of shape (n_texts, n_classes), the same form every call."
            )
        self._form = form
        if form == "labels":
            return out
        if form == 1:
            return (out[:, 0] > 0.5).astype(np.int64)
        return out.argmax(axis=1)
