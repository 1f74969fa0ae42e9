"""LIME for text: which words of a document move a classifier's probabilities."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._explanation import Explanation
from whybox.lime._surrogate import PresenceLime, cosine_distance_to_ones

_WORD = re.compile(r"\w+")


class LimeTextExplainer(PresenceLime):
    """LIME for text classifiers: a weighted linear surrogate on the presence of words.

    The interpretable features of a document are its distinct words (``bow=True``,
    removing a word removes every occurrence) or its word positions (``bow=False``).
    Each perturbation removes a random number of features, chosen uniformly from 1 to
    all of them, picked uniformly at random (Ribeiro, Singh & Guestrin 2016), so
    sparse and dense documents are both seen. A removed word is deleted, or replaced
    by ``mask_string``; the text between words is kept. Each perturbation is weighed
    by ``exp(-d^2 / (2 kernel_width^2))`` with ``d`` 100 times the cosine distance
    between its 0/1 presence vector and the document's (all ones), the LIME authors'
    convention. The model sees the perturbed documents ``batch_size`` at a time.

    Any tokenizer works: the default splits on non-word characters; a callable
    ``tokenizer(text) -> list of str`` returns the words in order, each a substring of
    the text (its positions are found in order, so the highlighted-text view marks
    the right characters).

    Parameters
    ----------
    model : callable
        ``model(list of str) -> array-like of shape (n_texts, n_classes)``: class
        probabilities (e.g. a text pipeline's ``predict_proba``). A two-class model
        explains the positive class (column 1) only, as everywhere in whybox; with more
        classes every class is explained.
    class_names : sequence of str, optional
        One name per column of ``model``'s output; default ``class_0, ...``.
    tokenizer : callable, optional
        ``tokenizer(text) -> list of str``; default: the runs of word characters
        (regular expression ``\\w+``).
    bow : bool, default=True
        Features are distinct words (True) or word positions (False).
    mask_string : str, optional
        What a removed word is replaced with; default: nothing (deleted).
    n_perturbations : int, default=5000
        Samples: the document itself and ``n_perturbations - 1`` perturbations.
    kernel_width : float, default=25.0
        Width of the proximity kernel, on the scale of 100 x cosine distance.
    max_features : int, default=10
        The most words a surrogate uses (fewer when the document has fewer).
    feature_selection : {"auto", "forward_selection", "lasso_path", "highest_weights", "none"}
        As in :class:`LimeTabularExplainer`.
    ridge : float, default=1.0
        Ridge penalty of the surrogate; 0 gives weighted least squares.
    random_state : int, numpy Generator or None, default=0
        Seeds the perturbations (None: fresh entropy); the same seed gives the same
        explanation whatever ``batch_size``.
    batch_size : int or None, default=1000
        Documents per call of ``model`` (None: all in one call). Never changes the
        result.
    progress : bool or None, default=None
        Show a tqdm progress bar over the perturbed documents; None shows it for 100
        or more.

    Raises
    ------
    InputError
        If ``model`` or ``tokenizer`` is not callable, or a parameter is out of range.

    References
    ----------
    .. [1] M. T. Ribeiro, S. Singh and C. Guestrin, "'Why should I trust you?':
       Explaining the predictions of any classifier", KDD 2016.
    """

    method = "lime_text"

    def __init__(
        self,
        model: Callable[[list[str]], Any],
        *,
        class_names: Sequence[str] | None = None,
        tokenizer: Callable[[str], Sequence[str]] | None = None,
        bow: bool = True,
        mask_string: str | None = None,
        n_perturbations: int = 5000,
        kernel_width: float = 25.0,
        max_features: int = 10,
        feature_selection: str = "auto",
        ridge: float = 1.0,
        random_state: Any = 0,
        batch_size: int | None = 1000,
        progress: bool | None = None,
    ) -> None:
        self._presence_settings(
            model, class_names, "texts", "pipeline.predict_proba",
            n_perturbations=n_perturbations, kernel_width=kernel_width,
            max_features=max_features, feature_selection=feature_selection, ridge=ridge,
            random_state=random_state, batch_size=batch_size, progress=progress,
            default_perturbations=5000, default_width=25.0,
        )  # fmt: skip
        if tokenizer is not None and not callable(tokenizer):
            raise InputError(
                f"tokenizer must be a callable text -> list of str or None, got "
                f"{type(tokenizer).__name__}; pass e.g. str.split."
            )
        if mask_string is not None and not isinstance(mask_string, str):
            raise InputError(
                f"mask_string must be a str or None, got {type(mask_string).__name__}; "
                "e.g. mask_string='UNK'."
            )
        self.tokenizer = tokenizer
        self.bow = bool(bow)
        self.mask_string = mask_string

    def tokens(self, text: str) -> list[tuple[str, int, int]]:
        """The words of ``text`` with their character spans ``(word, start, end)``.

        Raises
        ------
        InputError
            If the tokenizer returns something other than substrings of the text, in
            order.
        """
        if self.tokenizer is None:
            return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
        words = self.tokenizer(text)
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise InputError(
                "tokenizer must return a list of str (the words of the text, in order), got "
                f"{type(words).__name__}; return e.g. text.split()."
            )
        out = []
        pos = 0
        for w in words:
            if not w:
                continue
            start = text.find(w, pos)
            if start < 0:
                raise InputError(
                    f"tokenizer returned {w!r}, which does not occur in the text after "
                    f"character {pos}; return substrings of the text, in order (normalise the "
                    "text before explaining it instead)."
                )
            out.append((w, start, start + len(w)))
            pos = start + len(w)
        return out

    def __call__(self, text: str) -> Explanation:
        """Explain the model's prediction for one document.

        Parameters
        ----------
        text : str

        Returns
        -------
        Explanation
            One sample: ``values`` of shape (1, n_words, n_outputs), float64, the
            surrogate's weight of each word's presence on the class probability
            (0 for words not selected); the features are the distinct words
            (``bow=True``, named by the word) or the word positions (named
            ``"word@start"``), in order of first appearance; ``data`` (1, n_words)
            the words. ``base_values``: the surrogate's intercept (all words
            removed), so ``values.sum(features) + base_values`` is its prediction for
            the whole document and ``additivity_error`` its distance from
            ``model_output``, the model's probability. ``quality["local_r2"]``
            (1, n_outputs): the weighted R^2 on the perturbations.
            ``params["text"]`` and ``params["spans"]`` (per feature, its
            ``[start, end]`` character spans) let :func:`whybox.plots.lime_text`
            highlight the document.

        Raises
        ------
        InputError
            If ``text`` is not a str with at least one word, or ``model`` returns
            something other than (n_texts, n_classes) probabilities.
        """
        if not isinstance(text, str):
            raise InputError(
                f"text must be a str, got {type(text).__name__}; explain one document at a "
                "time, e.g. explainer(docs[0])."
            )
        toks = self.tokens(text)
        if not toks:
            raise InputError(
                f"text has no words to explain ({text[:40]!r}); give a document with words "
                "or a tokenizer that finds them."
            )
        names, feature_of, spans = self._features(toks)
        d = len(names)
        rng = np.random.default_rng(self.random_state)
        Z = _removal_samples(rng, self.n_perturbations, d)
        pieces, is_word = _pieces(text, toks)
        Y = self._predict(Z[:, feature_of] > 0, pieces, is_word)
        words = np.empty((1, d), dtype=object)
        words[0] = [text[s[0][0] : s[0][1]] for s in spans]
        return self._explain(
            Z,
            Y,
            100.0 * cosine_distance_to_ones(Z),
            feature_names=names,
            data=words,
            params={
                "text": text,
                "spans": spans,
                "bow": self.bow,
                "mask_string": self.mask_string,
                "tokenizer": "\\w+" if self.tokenizer is None else repr(self.tokenizer),
                "kernel": "exp(-d^2 / (2 kernel_width^2)), d = 100 x cosine distance",
            },
        )

    def _features(
        self, toks: list[tuple[str, int, int]]
    ) -> tuple[list[str], np.ndarray, list[list[list[int]]]]:
        """Feature names, the feature of each token, and each feature's spans."""
        if not self.bow:
            names = [f"{w}@{s}" for w, s, _ in toks]
            return names, np.arange(len(toks)), [[[s, e]] for _, s, e in toks]
        index: dict[str, int] = {}
        spans: list[list[list[int]]] = []
        feature_of = np.empty(len(toks), dtype=np.intp)
        for i, (w, s, e) in enumerate(toks):
            j = index.setdefault(w, len(index))
            if j == len(spans):
                spans.append([])
            spans[j].append([s, e])
            feature_of[i] = j
        return list(index), feature_of, spans

    def _predict(self, keep: np.ndarray, pieces: np.ndarray, is_word: np.ndarray) -> np.ndarray:
        """Class probabilities of the perturbed documents (a word kept where ``keep``)."""
        mask = "" if self.mask_string is None else self.mask_string

        def texts(start: int, stop: int) -> list[str]:
            shown = np.broadcast_to(pieces, (stop - start, len(pieces))).copy()
            hidden = np.zeros(shown.shape, dtype=bool)
            hidden[:, is_word] = ~keep[start:stop]
            shown[hidden] = mask
            return ["".join(row) for row in shown]

        return self._predict_batches(texts, keep.shape[0])


def _removal_samples(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """0/1 rows: the document (all ones), then rows each removing 1..d random features.

    Returns
    -------
    ndarray of shape (n, d), float64
    """
    n_removed = rng.integers(1, d + 1, size=n - 1)
    rank = np.argsort(np.argsort(rng.random((n - 1, d)), axis=1), axis=1)
    Z = np.ones((n, d))
    Z[1:] = rank >= n_removed[:, None]
    return Z


def _pieces(text: str, toks: list[tuple[str, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The text cut into alternating gaps and words; which pieces are words."""
    pieces: list[str] = []
    is_word: list[bool] = []
    pos = 0
    for _, s, e in toks:
        pieces += [text[pos:s], text[s:e]]
        is_word += [False, True]
        pos = e
    pieces.append(text[pos:])
    is_word.append(False)
    return np.array(pieces, dtype=object), np.array(is_word)
