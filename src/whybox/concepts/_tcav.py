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
    layer_activations,
    layer_gradients,
    layer_name,
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
        The same score for random-vs-random CAVs (one per run): the null distribution.
    cavs : ndarray of shape (n_concepts, n_random, n_activations), float64
        Unit concept activation vectors in the flattened activation space, pointing
        from the random examples towards the concept examples.
    cav_accuracies : ndarray of shape (n_concepts, n_random), float64
        Held-out accuracy of the linear classifier behind each CAV (0.5 is chance
        for balanced sets; a CAV near chance does not represent its concept).
    random_cav_accuracies : ndarray of shape (n_random,), float64
        The same for the random-vs-random classifiers.
    p_values : ndarray of shape (n_concepts,), float64
        Two-sided t-test (Student's, ``scipy.stats.ttest_ind``) of ``scores[c]``
        against ``random_scores``.
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
    ``n_random`` runs. In each run the random examples are split at random into two
    disjoint halves A and B; the concept CAV separates the concept from A, and a
    random CAV separates B from A. The concept's scores are compared with the random
    scores by a two-sided t-test; a concept is significant when its p-value is below
    ``significance / n_concepts`` (Bonferroni).

    Parameters
    ----------
    model : torch.nn.Module
        Called on a float tensor (n_samples, *input_shape); returns (n_samples,
        n_outputs) or (n_samples,). Run in eval mode (a model in training mode is
        switched for the call, with a warning, and switched back).
    layer : str or torch.nn.Module
        The layer whose output is the activation space: a dotted name from
        ``model.named_modules()`` or the submodule itself. Its output (or its first
        element) must be a tensor (n_samples, ...); it is flattened per sample.
    n_random : int, default 10
        Runs (random splits), at least 2 for the t-test.
    random_state : int, numpy Generator or None, default 0
        Seeds the random splits and the classifiers; a fixed seed gives the same
        result whatever ``batch_size``; None draws afresh.
    classifier : {"logistic", "sgd"}, default "logistic"
        The linear classifier: scikit-learn's ``LogisticRegression`` (L2, C=1) or
        ``SGDClassifier`` (hinge loss, a linear SVM), both with balanced class weights.
    significance : float, default 0.05
        Family-wise significance level of the t-tests (Bonferroni over the concepts).
    output : {"raw", "probability"}, default "raw"
        The output space whose gradient is taken (logits or probabilities).
    batch_size : int, optional
        The most inputs per forward/backward pass; None passes each set at once.
        Changes memory and speed, never the values.

    Notes
    -----
    The runs share the concept examples while the random-vs-random CAVs draw fresh
    halves, so the t-test treats scores that are correlated through the concept set
    as independent. A concept set that is itself a sample of the random
    distribution therefore comes out significant more often than ``significance`` (more so
    with many runs). Read ``cav_accuracies`` with the p-value (a CAV near chance
    does not stand for its concept), and repeat with other random examples before
    trusting a borderline result.

    Raises
    ------
    InputError
        Unknown ``layer``, ``n_random`` below 2, unknown ``classifier``,
        ``significance`` outside (0, 1), bad ``output`` or ``batch_size``.
    UnsupportedModelError
        ``model`` is not a ``torch.nn.Module``.

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
    >>> result = TCAV(model, "0", n_random=4)(X, concepts, random_examples, target=0)
    >>> result.scores  # one TCAV score per run
    array([[1., 1., 1., 1.]])
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
    ) -> TCAVResult:
        """TCAV scores of each concept for the targeted output on ``X``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, *input_shape)
            The inputs whose sensitivity is measured (typically inputs of the class
            ``target``); a tensor must be on the model's device.
        concepts : dict of str to array-like of shape (n_examples, *input_shape)
            Concept name -> example inputs of that concept, at least 2 each.
        random_examples : array-like of shape (n_random_examples, *input_shape)
            Counterexamples drawn from a broad distribution, at least 4 (each run
            splits them into two halves of at least 2).
        target : None, int, sequence of int or callable, optional
            The output whose gradient is taken: None for each input's largest output
            (the predicted class), an output index for all inputs, one index per
            input, or a callable mapping the output tensor (n, n_outputs) to one
            scalar per input.

        Returns
        -------
        TCAVResult
            Scores (n_concepts, n_random) in [0, 1], random scores (n_random,), CAVs,
            CAV accuracies, p-values and significance.

        Raises
        ------
        InputError
            No concepts, a concept with fewer than 2 examples, fewer than 4 random
            examples, examples whose shape differs from the inputs', a target out of
            range.
        """
        torch = import_torch()
        model = self.model
        x = model.as_input(X)
        names, examples = self._concepts(concepts, x)
        rand = model.as_input(random_examples, "random_examples")
        _check_shape(rand, x, "random_examples")
        if len(rand) < 4:
            raise InputError(
                f"random_examples has {len(rand)} example(s); give at least 4 (each run "
                "splits them into two halves of at least 2), ideally as many as the "
                "concept examples or more."
            )
        with model.evaluation():
            with torch.no_grad():
                out = torch.cat([model.forward(x[sl]) for sl in batches(len(x), self.batch_size)])
            tgt = model.resolve_target(target, out)
            _, grads = layer_gradients(model, self.layer, x, tgt, self.batch_size)
            concept_acts = [
                flat_numpy(layer_activations(model, self.layer, e, self.batch_size))
                for e in examples
            ]
            random_acts = flat_numpy(layer_activations(model, self.layer, rand, self.batch_size))
        grad = flat_numpy(grads)

        rng = np.random.default_rng(self.random_state)
        n_c, n_r, d = len(names), self.n_random, grad.shape[1]
        cavs = np.empty((n_c, n_r, d))
        accs = np.empty((n_c, n_r))
        random_cavs = np.empty((n_r, d))
        random_accs = np.empty(n_r)
        half = len(random_acts) // 2
        for r in range(n_r):
            order = rng.permutation(len(random_acts))
            negatives, null_positives = random_acts[order[:half]], random_acts[order[half:]]
            for c in range(n_c):
                cavs[c, r], accs[c, r] = self._cav(concept_acts[c], negatives, rng)
            random_cavs[r], random_accs[r] = self._cav(null_positives, negatives, rng)

        scores = (np.einsum("crd,nd->crn", cavs, grad) > 0).mean(axis=2)
        random_scores = (random_cavs @ grad.T > 0).mean(axis=1)
        p_values = np.array([_two_sided_t_test(s, random_scores) for s in scores])
        significant = p_values < self.significance / n_c
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
                "n_random": self.n_random,
                "classifier": self.classifier,
                "random_state": json_value(self.random_state),
                "output": model.output,
                "batch_size": self.batch_size,
                "n_inputs": int(len(x)),
                "n_concept_examples": [int(len(a)) for a in concept_acts],
                "n_random_examples": int(len(random_acts)),
                "whybox_version": __version__,
            },
        )

    # ------------------------------------------------------------------ helpers
    def _concepts(self, concepts: Any, x: Any) -> tuple[tuple[str, ...], list[Any]]:
        if not isinstance(concepts, Mapping) or len(concepts) == 0:
            raise InputError(
                f"concepts must be a non-empty dict of concept name -> example inputs, got "
                f"{type(concepts).__name__}; e.g. concepts={{'striped': striped_images}}."
            )
        names, examples = [], []
        for name, value in concepts.items():
            if not isinstance(name, str):
                raise InputError(
                    f"concept names must be str, got {name!r} of type {type(name).__name__}."
                )
            e = self.model.as_input(value, f"concepts[{name!r}]")
            _check_shape(e, x, f"concepts[{name!r}]")
            if len(e) < 2:
                raise InputError(
                    f"concepts[{name!r}] has {len(e)} example; give at least 2 examples "
                    "of each concept (tens are typical)."
                )
            names.append(name)
            examples.append(e)
        return tuple(names), examples

    def _cav(
        self, positives: np.ndarray, negatives: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, float]:
        """Unit CAV (towards ``positives``) and the held-out accuracy of its classifier.

        A third of each class (at least one example) is held out to measure accuracy;
        the classifier is fitted on the rest.
        """
        train_p, test_p = _split(len(positives), rng)
        train_n, test_n = _split(len(negatives), rng)
        X_train = np.concatenate([positives[train_p], negatives[train_n]])
        y_train = np.r_[np.ones(len(train_p)), np.zeros(len(train_n))]
        X_test = np.concatenate([positives[test_p], negatives[test_n]])
        y_test = np.r_[np.ones(len(test_p)), np.zeros(len(test_n))]
        clf = self._classifier(rng)
        clf.fit(X_train, y_train)
        accuracy = float(np.mean(clf.predict(X_test) == y_test))
        w = np.asarray(clf.coef_, dtype=np.float64).ravel()
        if clf.classes_[1] != 1:  # pragma: no cover - sklearn sorts classes
            w = -w
        norm = np.linalg.norm(w)
        return (w / norm if norm > 0 else w), accuracy

    def _classifier(self, rng: np.random.Generator) -> Any:
        seed = int(rng.integers(2**31 - 1))
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


def _check_shape(examples: Any, x: Any, name: str) -> None:
    if tuple(examples.shape[1:]) != tuple(x.shape[1:]):
        raise InputError(
            f"{name} has examples of shape {tuple(examples.shape[1:])} but the inputs have "
            f"shape {tuple(x.shape[1:])}; give examples of the same shape as the inputs."
        )


def _split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random (train, test) split of range(n) with a third (at least 1) held out."""
    order = rng.permutation(n)
    n_test = max(1, int(round(n / 3)))
    return order[n_test:], order[:n_test]


def _two_sided_t_test(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of Student's two-sample t-test, defined when both samples are constant.

    Two constant samples give p = 1 when they are equal and p = 0 when they differ
    (scipy returns NaN and a precision warning for that case).
    """
    from scipy.stats import ttest_ind

    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        return float(ttest_ind(a, b).pvalue)
