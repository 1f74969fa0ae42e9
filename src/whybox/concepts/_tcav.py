"""Testing with Concept Activation Vectors (TCAV, Kim et al. 2018)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import Result, check_batch_size, check_int, check_random_state, json_value
from whybox._version import __version__
from whybox.adapters._torch import (
    TargetLike,
    adapt_torch_model,
    batches,
    import_torch,
    target_param,
)
from whybox.concepts._activations import (
    flat_numpy,
    forward_rows,
    layer_activations,
    layer_gradients,
    layer_name,
    n_rows,
)

CLASSIFIERS = ("logistic", "sgd")


@dataclass(frozen=True, eq=False)
class TCAVResult(Result):
    """TCAV scores of each concept for one layer and one targeted output.

    Attributes
    ----------
    concepts : tuple of str
        The concept names, in the order given.
    layer : str
        The dotted name of the layer whose activations the CAVs live in.
    scores : ndarray of shape (n_concepts, n_random), float64
        TCAV score of each concept in each run: the fraction of the inputs whose
        directional derivative along that run's CAV is positive, in [0, 1].
    random_scores : ndarray of shape (n_random,), float64
        The same score for each run's random-vs-random CAV (a random pseudo-concept
        against the run's negatives): the null distribution, paired with the runs.
    cavs : ndarray of shape (n_concepts, n_random, n_activations), float64
        Unit concept activation vectors in the flattened activation space, pointing
        from the random examples towards the concept examples.
    cav_accuracies : ndarray of shape (n_concepts, n_random), float64
        Balanced accuracy (the mean of both classes' recalls; 0.5 is chance) of the
        linear classifier behind each CAV on the examples its run did not use: the
        concept's other examples against the random examples outside the run. A CAV
        near chance does not represent its concept.
    random_cav_accuracies : ndarray of shape (n_random,), float64
        The same for the random-vs-random classifiers, on the other runs'
        pseudo-concepts and negatives (about 0.5 by construction).
    p_values : ndarray of shape (n_concepts,), float64
        Two-sided paired sign-flip (permutation) test of the run differences
        ``scores[c] - random_scores`` against a zero mean: exact (all ``2**n_random``
        sign choices) up to 16 runs, Monte Carlo (``2**16`` choices) above.
    significant : ndarray of shape (n_concepts,), bool
        ``p_values < significance / n_concepts`` (Bonferroni over the concepts).
    significance : float
        The family-wise significance level.
    params : dict
        Target, n_random, classifier, random_state and the other settings.

    Notes
    -----
    A :class:`~whybox._utils.Result`: ``to_dict()``/``to_json()`` write every field
    (strict JSON: a NaN p-value is null) and ``TCAVResult.from_dict`` reads them back;
    ``to_frame()`` is the per-concept table.
    """

    concepts: tuple[str, ...]
    layer: str
    scores: np.ndarray
    random_scores: np.ndarray
    cavs: np.ndarray
    cav_accuracies: np.ndarray
    random_cav_accuracies: np.ndarray
    p_values: np.ndarray
    significant: np.ndarray
    significance: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def score_mean(self) -> np.ndarray:
        """Mean TCAV score of each concept over the runs, shape (n_concepts,)."""
        return self.scores.mean(axis=1)

    @property
    def mean_cavs(self) -> np.ndarray:
        """Unit mean CAV of each concept over the runs, shape (n_concepts, n_activations).

        A steadier estimate of the concept's direction than any one run's CAV.
        """
        mean = self.cavs.mean(axis=1)
        norm = np.linalg.norm(mean, axis=1, keepdims=True)
        return mean / np.where(norm > 0, norm, 1.0)

    def to_frame(self) -> pd.DataFrame:
        """One row per concept: mean/std score, random mean, CAV accuracy, p-value."""
        return pd.DataFrame(
            {
                "tcav_score": self.scores.mean(axis=1),
                "tcav_score_std": self.scores.std(axis=1),
                "random_score": np.full(len(self.concepts), self.random_scores.mean()),
                "random_score_std": np.full(len(self.concepts), self.random_scores.std()),
                "cav_accuracy": self.cav_accuracies.mean(axis=1),
                "p_value": self.p_values,
                "significant": self.significant,
            },
            index=pd.Index(list(self.concepts), name="concept"),
        )


class TCAV:
    """Testing with Concept Activation Vectors (Kim et al. 2018, "Interpretability beyond
    feature attribution: quantitative testing with concept activation vectors").

    A concept (e.g. "striped") is given by example inputs. Its concept activation
    vector (CAV) at ``layer`` is the unit normal of a linear classifier that
    separates the concept examples' activations from random examples' activations,
    oriented towards the concept. The conceptual sensitivity of input ``x`` is the
    directional derivative ``S(x) = grad_h f_t(h(x)) . v``, the gradient of the
    targeted output with respect to the layer activation ``h`` dotted with the CAV
    ``v``; the TCAV score is the fraction of the inputs with ``S(x) > 0``.

    One score can come from a meaningless CAV, so the score is computed in
    ``n_random`` independent runs, and compared with random CAVs (Kim et al. 2018,
    section 3.3). The examples are shuffled and dealt out so that every run has its
    own: ``k`` examples of each concept, ``k`` random examples as a random
    pseudo-concept and ``m`` random examples as the negatives, with no example in two
    runs (``k`` is the smallest concept's count over ``n_random``, at most a
    ``2 * n_random``-th of the random examples; ``m`` the rest of the random
    examples per run, at least ``k``). In run ``r`` the concept CAV separates the
    run's concept examples from its negatives, and the random CAV separates its
    pseudo-concept from the same negatives, with the same classifier seed. The
    run's difference ``scores[c, r] - random_scores[r]`` is symmetric about 0 when
    the concept is no different from random examples, and the runs are independent,
    so a paired sign-flip test of the differences holds its level exactly; a concept
    is significant when its p-value is below ``significance / n_concepts``
    (Bonferroni).

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(*inputs, *additional_forward_args)`` on the inputs (one
        tensor (n_samples, *input_shape), or several); returns (n_samples,
        n_outputs) or (n_samples,). Run in eval mode (a model in training mode is
        switched for the call, with a warning, and switched back).
    layer : str or torch.nn.Module
        The layer whose output is the activation space: a dotted name from
        ``model.named_modules()`` or the submodule itself. Its output (or its first
        element) must be a tensor (n_samples, ...); it is flattened per sample.
    n_random : int, default 10
        Independent runs, at least 2. The smallest possible p-value is
        ``2 / 2**n_random``, so at least 6 runs are needed to reach 0.05 (a warning
        says when no concept can come out significant); every concept needs
        ``2 * n_random`` examples or more and the random examples ``4 * n_random``.
    random_state : int, numpy Generator or None, default 0
        Seeds the random splits and the classifiers; a fixed seed gives the same
        result whatever ``batch_size``; None draws afresh.
    classifier : {"logistic", "sgd"}, default "logistic"
        The linear classifier: scikit-learn's ``LogisticRegression`` (L2, C=1) or
        ``SGDClassifier`` (hinge loss, a linear SVM), both with balanced class weights.
    significance : float, default 0.05
        Family-wise significance level of the tests (Bonferroni over the concepts).
    output : {"raw", "probability"}, default "raw"
        The output space whose gradient is taken (logits or probabilities).
    batch_size : int, optional
        The most inputs per forward/backward pass; None passes each set at once.
        Changes memory and speed, never the values.

    Raises
    ------
    InputError
        Unknown ``layer``, ``n_random`` below 2, unknown ``classifier``,
        ``significance`` outside (0, 1), bad ``output`` or ``batch_size``.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.

    Notes
    -----
    Why disjoint examples per run: when every run reuses the same concept examples,
    the runs' scores share that sample's quirks, and a t-test that treats them as
    independent calls random example sets significant far more often than
    ``significance`` (11 of 40 seeds at 0.05 on the digits demo). Here a concept set
    drawn from the random examples' distribution is significant at most
    ``significance`` of the time (tested over many seeds); the price is fewer
    examples per CAV, so give each concept ``n_random`` times the examples one CAV
    needs.

    TCAV scores are fractions of inputs, and at a layer followed only by linear
    layers every input has the same gradient, so every score is 0 or 1: random
    CAVs then often score exactly as the concept does, those runs' differences are
    0 and carry no evidence. Choose an earlier layer or more runs. Read
    ``cav_accuracies`` with the p-value (a CAV near chance does not stand for its
    concept).

    References
    ----------
    Kim, B., Wattenberg, M., Gilmer, J., Cai, C., Wexler, J., Viegas, F. and
    Sayres, R. (2018). Interpretability beyond feature attribution: quantitative
    testing with concept activation vectors (TCAV). ICML 2018.

    Examples
    --------
    A model whose first output is the first coordinate of its layer ``"0"`` (an
    identity): every input's output rises along a concept of large first coordinates.

    >>> import numpy as np
    >>> import torch
    >>> from whybox.concepts import TCAV
    >>> encoder = torch.nn.Linear(4, 4)
    >>> head = torch.nn.Linear(4, 2, bias=False)
    >>> with torch.no_grad():  # h = x; the outputs are x0 and -x0
    ...     _ = encoder.weight.copy_(torch.eye(4)), encoder.bias.zero_()
    ...     _ = head.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]))
    >>> model = torch.nn.Sequential(encoder, head).eval()
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 4))
    >>> concepts = {"first_axis": rng.normal(size=(30, 4)) + [3.0, 0.0, 0.0, 0.0]}
    >>> random_examples = rng.normal(size=(40, 4))
    >>> result = TCAV(model, "0", n_random=6)(X, concepts, random_examples, target=0)
    >>> result.scores  # one TCAV score per run
    array([[1., 1., 1., 1., 1., 1.]])
    >>> result.to_frame().columns.tolist()[:3]
    ['tcav_score', 'tcav_score_std', 'random_score']
    """

    method = "tcav"

    def __init__(
        self,
        model: Any,
        layer: Any,
        *,
        n_random: int = 10,
        random_state: Any = 0,
        classifier: str = "logistic",
        significance: float = 0.05,
        output: str = "raw",
        batch_size: int | None = None,
    ) -> None:
        self.model = adapt_torch_model(model, output=output)
        self.layer = self.model.layer(layer)
        self.layer_name = layer_name(self.model, self.layer)
        if classifier not in CLASSIFIERS:
            raise InputError(
                f"classifier must be one of {CLASSIFIERS}, got {classifier!r}; use "
                "'logistic' for LogisticRegression or 'sgd' for a linear SVM."
            )
        if (
            isinstance(significance, bool)
            or not isinstance(significance, (float, int))
            or not 0.0 < float(significance) < 1.0
        ):
            raise InputError(
                f"significance must be a number in (0, 1), got {significance!r}; e.g. 0.05."
            )
        self.n_random = check_int(n_random, "n_random", 2, "n_random=10")
        self.random_state = check_random_state(random_state)
        self.classifier = classifier
        self.significance = float(significance)
        self.batch_size = check_batch_size(batch_size)

    def __call__(
        self,
        X: Any,
        concepts: Mapping[str, Any],
        random_examples: Any,
        target: TargetLike = None,
        *,
        additional_forward_args: Any = None,
    ) -> TCAVResult:
        """TCAV scores of each concept for the targeted output on ``X``.

        Parameters
        ----------
        X : array-like, torch.Tensor, or tuple of them, each (n_samples, ...)
            The inputs whose sensitivity is measured (typically inputs of the class
            ``target``); a tensor must be on the model's device. A tuple holds one
            input per forward argument (e.g. ``(input_ids, attention_mask)``);
            integer tensors (token ids) stay integers.
        concepts : dict of str to array-like, tensor or tuple
            Concept name -> example inputs of that concept, of the structure of ``X``
            (a tuple of the same length when ``X`` is one) and the same shape after
            the sample axis; at least ``2 * n_random`` examples each (every run uses
            its own, disjoint share).
        random_examples : array-like, tensor or tuple
            Counterexamples drawn from a broad distribution, structured like ``X``;
            at least ``4 * n_random`` (every run uses its own disjoint share as the
            concept's negatives and as a random pseudo-concept).
        target : None, int, sequence of int or callable, optional
            The output whose gradient is taken: None for each input's largest output
            (the predicted class), an output index for all inputs, one index per
            input, or a callable mapping the output tensor (n, n_outputs) to one
            scalar per input.
        additional_forward_args : None, tuple or object, optional
            Passed to the model after the inputs, unchanged, in every forward pass
            (``model(*inputs, *additional_forward_args)``), for ``X`` and for the
            examples alike; so it must not hold per-sample tensors: give those
            (an attention mask) inside ``X`` and the examples, as tuples.

        Returns
        -------
        TCAVResult
            Scores (n_concepts, n_random) in [0, 1], random scores (n_random,), CAVs,
            CAV accuracies, p-values and significance.

        Raises
        ------
        InputError
            No concepts, a concept with fewer than ``2 * n_random`` examples, fewer
            than ``4 * n_random`` random examples, examples whose structure or shape
            differs from the inputs', a per-sample tensor in
            ``additional_forward_args``, a target out of range.
        """
        torch = import_torch()
        model = self.model
        x = model.as_inputs(X)
        args = self._forward_args(additional_forward_args, x)
        names, examples = self._concepts(concepts, x)
        rand = model.as_inputs(random_examples, "random_examples")
        _check_shape(rand, x, "random_examples")
        n_r = self.n_random
        if n_rows(rand) < 4 * n_r:
            raise InputError(
                f"random_examples has {n_rows(rand)} example(s) but n_random={n_r} runs need "
                f"at least {4 * n_r} (each run takes its own disjoint share: a random "
                "pseudo-concept and the negatives); give more random examples or lower "
                "n_random."
            )
        with model.evaluation():
            with torch.no_grad():
                out = torch.cat(
                    [forward_rows(model, x, sl, args) for sl in batches(n_rows(x), self.batch_size)]
                )
            tgt = model.resolve_target(target, out)
            _, grads = layer_gradients(model, self.layer, x, tgt, self.batch_size, args)
            concept_acts = [
                flat_numpy(layer_activations(model, self.layer, e, self.batch_size, args))
                for e in examples
            ]
            random_acts = flat_numpy(
                layer_activations(model, self.layer, rand, self.batch_size, args)
            )
        grad = flat_numpy(grads)

        rng = np.random.default_rng(self.random_state)
        n_c, d = len(names), grad.shape[1]
        # Every run has its own examples: k concept examples of each concept, k random
        # examples as the pseudo-concept and m random examples as the negatives, all
        # disjoint between runs, so the runs are independent.
        k = min(min(len(a) for a in concept_acts) // n_r, len(random_acts) // (2 * n_r))
        m = (len(random_acts) - n_r * k) // n_r
        concept_order = [rng.permutation(len(a)) for a in concept_acts]
        random_order = rng.permutation(len(random_acts))
        pseudo = random_order[: n_r * k].reshape(n_r, k)
        negative = random_order[n_r * k : n_r * (k + m)].reshape(n_r, m)
        cavs = np.empty((n_c, n_r, d))
        accs = np.empty((n_c, n_r))
        random_cavs = np.empty((n_r, d))
        random_accs = np.empty(n_r)
        for r in range(n_r):
            seed = int(rng.integers(2**31 - 1))
            neg = random_acts[negative[r]]
            outside = np.setdiff1d(np.arange(len(random_acts)), np.r_[pseudo[r], negative[r]])
            for c in range(n_c):
                own = concept_order[c][r * k : (r + 1) * k]
                held_out = np.setdiff1d(np.arange(len(concept_acts[c])), own)
                cavs[c, r], clf = self._cav(concept_acts[c][own], neg, seed)
                accs[c, r] = _balanced_accuracy(
                    clf, concept_acts[c][held_out], random_acts[outside]
                )
            other = np.arange(n_r) != r
            random_cavs[r], clf = self._cav(random_acts[pseudo[r]], neg, seed)
            random_accs[r] = _balanced_accuracy(
                clf, random_acts[pseudo[other].ravel()], random_acts[negative[other].ravel()]
            )

        scores = (np.einsum("crd,nd->crn", cavs, grad) > 0).mean(axis=2)
        random_scores = (random_cavs @ grad.T > 0).mean(axis=1)
        p_values = np.array([sign_flip_test(s - random_scores, rng) for s in scores])
        threshold = self.significance / n_c
        if 2.0 / 2.0**n_r >= threshold:
            warnings.warn(
                f"with n_random={n_r} runs the smallest possible p-value is "
                f"{2.0 / 2.0**n_r:.3g}, not below significance / n_concepts = {threshold:.3g}, "
                "so no concept can come out significant; use n_random of at least "
                f"{int(np.ceil(np.log2(2.0 / threshold) + 1e-9))}.",
                UserWarning,
                stacklevel=2,
            )
        significant = p_values < threshold
        return TCAVResult(
            concepts=names,
            layer=self.layer_name,
            scores=scores,
            random_scores=random_scores,
            cavs=cavs,
            cav_accuracies=accs,
            random_cav_accuracies=random_accs,
            p_values=p_values,
            significant=significant,
            significance=self.significance,
            params={
                "method": self.method,
                "target": target_param(tgt),
                "n_random": n_r,
                "classifier": self.classifier,
                "test": "sign-flip permutation test of paired run differences",
                "random_state": json_value(self.random_state),
                "output": model.output,
                "batch_size": self.batch_size,
                "n_inputs": int(n_rows(x)),
                "n_concept_examples": [int(len(a)) for a in concept_acts],
                "n_random_examples": int(len(random_acts)),
                "n_positives_per_run": int(k),
                "n_negatives_per_run": int(m),
                "whybox_version": __version__,
            },
        )

    # ------------------------------------------------------------------ helpers
    def _forward_args(self, additional_forward_args: Any, x: tuple[Any, ...]) -> Any:
        """The additional forward arguments, refusing per-sample tensors (see __call__)."""
        torch = import_torch()
        args = self.model.forward_args(additional_forward_args)
        n = n_rows(x)
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor) and a.ndim > 0 and a.shape[0] == n and n > 1:
                raise InputError(
                    f"additional_forward_args[{i}] has one entry per input ({n}), but TCAV "
                    "also runs the concept and random examples with it; give per-sample "
                    "tensors inside X and the examples instead, e.g. X=(input_ids, "
                    "attention_mask) and concepts={'c': (ids, mask)}."
                )
        return additional_forward_args

    def _concepts(self, concepts: Any, x: tuple[Any, ...]) -> tuple[tuple[str, ...], list[Any]]:
        if not isinstance(concepts, Mapping) or len(concepts) == 0:
            raise InputError(
                f"concepts must be a non-empty dict of concept name -> example inputs, got "
                f"{type(concepts).__name__}; e.g. concepts={{'striped': striped_images}}."
            )
        names, examples = [], []
        need = 2 * self.n_random
        for name, value in concepts.items():
            if not isinstance(name, str):
                raise InputError(
                    f"concept names must be str, got {name!r} of type {type(name).__name__}."
                )
            e = self.model.as_inputs(value, f"concepts[{name!r}]")
            _check_shape(e, x, f"concepts[{name!r}]")
            if n_rows(e) < need:
                raise InputError(
                    f"concepts[{name!r}] has {n_rows(e)} example(s) but n_random="
                    f"{self.n_random} runs need at least {need} (each run takes its own "
                    "disjoint share, at least 2); give more examples or lower n_random."
                )
            names.append(name)
            examples.append(e)
        return tuple(names), examples

    def _cav(
        self, positives: np.ndarray, negatives: np.ndarray, seed: int
    ) -> tuple[np.ndarray, Any]:
        """Unit CAV (towards ``positives``) and the fitted linear classifier behind it."""
        X_train = np.concatenate([positives, negatives])
        y_train = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        clf = self._classifier(seed)
        clf.fit(X_train, y_train)
        w = np.asarray(clf.coef_, dtype=np.float64).ravel()
        if clf.classes_[1] != 1:  # pragma: no cover - sklearn sorts classes
            w = -w
        norm = np.linalg.norm(w)
        return (w / norm if norm > 0 else w), clf

    def _classifier(self, seed: int) -> Any:
        if self.classifier == "sgd":
            from sklearn.linear_model import SGDClassifier

            return SGDClassifier(
                loss="hinge",
                alpha=0.01,
                max_iter=1000,
                tol=1e-4,
                class_weight="balanced",
                random_state=seed,
            )
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced", random_state=seed)


def _check_shape(examples: tuple[Any, ...], x: tuple[Any, ...], name: str) -> None:
    if len(examples) != len(x):
        raise InputError(
            f"{name} has {len(examples)} input(s) per example but X has {len(x)}; give the "
            "examples in the structure of X (a tuple of the same length)."
        )
    for i, (e, t) in enumerate(zip(examples, x, strict=True)):
        if tuple(e.shape[1:]) != tuple(t.shape[1:]):
            part = f"{name}[{i}]" if len(x) > 1 else name
            raise InputError(
                f"{part} has examples of shape {tuple(e.shape[1:])} but the inputs have "
                f"shape {tuple(t.shape[1:])}; give examples of the same shape as the inputs."
            )


def _balanced_accuracy(clf: Any, positives: np.ndarray, negatives: np.ndarray) -> float:
    """Mean of the recalls of both classes (0.5 is chance whatever the class sizes)."""
    return 0.5 * float(np.mean(clf.predict(positives) == 1) + np.mean(clf.predict(negatives) == 0))


def sign_flip_test(differences: np.ndarray, rng: np.random.Generator) -> float:
    """Two-sided p-value of the paired sign-flip (permutation) test of a zero mean.

    Under the null hypothesis each difference is symmetric about 0 and the
    differences are independent, so every choice of their signs is equally likely;
    the p-value is the share of sign choices whose mean is at least as far from 0
    as the observed one. All ``2**n`` choices are enumerated for ``n <= 16``
    differences (an exact test); otherwise ``2**16`` random choices are drawn from
    ``rng`` and the observed one is counted among them (still a valid test).

    Parameters
    ----------
    differences : ndarray of shape (n,)
        One paired difference per run.
    rng : numpy Generator
        Draws the sign choices when ``n > 16``.

    Returns
    -------
    float
        In (0, 1]; 1 when every difference is 0.
    """
    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    observed = abs(d.sum())
    tolerance = 1e-9 * max(1.0, float(np.abs(d).sum()))
    if n <= 16:
        codes = np.arange(2**n, dtype=np.int64)[:, None] >> np.arange(n, dtype=np.int64)
        sums = np.abs((1.0 - 2.0 * (codes & 1)) @ d)
        return int(np.sum(sums >= observed - tolerance)) / len(sums)
    count, n_draws = 0, 2**16
    for start in range(0, n_draws, 4096):  # bounded memory for many runs
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(4096, n_draws - start), n))
        count += int(np.sum(np.abs(signs @ d) >= observed - tolerance))
    return (count + 1) / (n_draws + 1)
