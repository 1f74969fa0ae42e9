"""``whybox.explain``: pick a SHAP explainer for a model, run it, record why."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from whybox._exceptions import InputError, UnsupportedModelError
from whybox._explanation import OUTPUT_SPACES, Explanation
from whybox._utils import check_random_state
from whybox.adapters import Model, NotSeparableError, adapt_data, adapt_model

METHODS: dict[str, str] = {
    "additive": "whybox.shapley:AdditiveExplainer",
    "tree": "whybox.shapley.tree:TreeExplainer",
    "exact": "whybox.shapley:ExactExplainer",
    "kernel": "whybox.shapley:KernelExplainer",
    "linear": "whybox.shapley:LinearExplainer",
    "permutation": "whybox.shapley:PermutationExplainer",
}
"""The registry: method name -> ``module:class`` of an explainer with a ``supports(model)``
classmethod. Classes are imported when first needed."""

MAX_AUTO_EXACT_PLAYERS = 12
"""In ``method="auto"``, models with at most this many players are explained exactly."""


def load_method(name: str) -> type | None:
    """The explainer class registered as ``name``, or None when it cannot be imported."""
    module_name, _, attr = METHODS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, attr, None)


def _supports(cls: type, model: Any) -> bool:
    """``cls.supports(model)``, False when the check itself fails."""
    try:
        return bool(cls.supports(model))
    except Exception:
        return False


def is_tree_model(model: Any) -> bool:
    """Whether path-dependent TreeSHAP (``method="tree"``) can explain ``model`` (a
    native model or a :class:`whybox.adapters.Model`): a supported tree type whose
    trees whybox reads (not, e.g., a HistGradientBoosting regressor with a log link),
    or a scikit-learn Pipeline of column-separable steps ending in one."""
    native = model.estimator if isinstance(model, Model) else model
    tree_cls = load_method("tree")
    if tree_cls is None or not _supports(tree_cls, native):
        return False
    return _tree_refusal(tree_cls, native) is None


def _tree_refusal(tree_cls: type, native: Any) -> str | None:
    """Why TreeExplainer refuses a model of a type it supports, as a phrase; None
    when it takes it."""
    try:
        tree_cls(native)
    except NotSeparableError as exc:
        return f"a Pipeline whose step {exc.step} mixes input columns"
    except (InputError, UnsupportedModelError):
        return "a tree model whose trees TreeExplainer cannot read"
    return None


def _n_players(model: Model, data: Any, feature_groups: Any) -> int:
    from whybox._utils import resolve_players

    checked = model.check_data(adapt_data(data, name="background"), name="background")
    return resolve_players(feature_groups, checked.feature_names).n_players


def explain(
    model: Any,
    X: Any,
    *,
    background: Any = None,
    method: str = "auto",
    output: str = "auto",
    random_state: Any = 0,
    feature_groups: Mapping[str, Sequence[Any]] | None = None,
    max_evals: int | str = "auto",
    progress: bool | None = None,
) -> Explanation:
    """Explain the predictions of ``model`` on ``X`` with SHAP values, choosing the method.

    The methods come from an explicit registry (:data:`METHODS`), each an explainer
    class that says whether it ``supports(model)``:

    - ``"additive"``: :class:`whybox.shapley.AdditiveExplainer`, exact SHAP values of an
      additive model with pairs (interpret's EBMs, a :class:`whybox.glassbox.AdditiveModel`)
      in closed form per term: interventional with a background; without one, the
      model's own terms (each term centred on the training data the EBM stores, pairs
      split exactly between their two features).
    - ``"tree"``: :class:`whybox.TreeExplainer` (TreeSHAP; Lundberg et al. 2020) for
      tree ensembles. Path-dependent without a background; interventional with the
      given background.
    - ``"exact"``: :class:`whybox.ExactExplainer`, all ``2**p`` coalitions, any model.
    - ``"linear"``: :class:`whybox.LinearExplainer`, Linear SHAP in closed form for
      linear and logistic models (their margin).
    - ``"kernel"``: :class:`whybox.KernelExplainer`, KernelSHAP with a budget of
      ``max_evals`` coalitions and a standard error per value, any model.
    - ``"permutation"``: :class:`whybox.PermutationExplainer`, sampled antithetic
      permutations, any model.

    ``method="auto"`` picks ``"additive"`` for an EBM or AdditiveModel explained in its
    raw output (or the log-odds of a binary one), with or without a background;
    ``"tree"`` for a tree model, or a scikit-learn Pipeline of
    column-separable steps ending in one (explained in the pipeline's input columns),
    when ``output`` is ``"auto"`` or the trees' native space (and no
    ``feature_groups`` are given); ``"linear"`` for a linear model (or such a pipeline
    ending in one) explained in its margin; otherwise ``"exact"`` for at most 12
    players and ``"kernel"`` beyond. A pipeline step that mixes columns (e.g. PCA) is
    named in ``params["chosen_by"]``. All of them compute
    the same quantity for a given background (interventional SHAP values), so auto
    changes the algorithm, not the definition; without a background only the tree
    method's path-dependent variant is available. When the installed TreeExplainer
    cannot take the background (interventional TreeSHAP), auto falls back to
    ``"exact"``/``"kernel"`` and says so in ``params["chosen_by"]``.

    Parameters
    ----------
    model : object
        A fitted model whybox can adapt (scikit-learn estimator or Pipeline, XGBoost,
        LightGBM, a callable) or a :class:`whybox.adapters.Model`.
    X : array-like of shape (n_samples, n_features) or DataFrame
        The rows to explain.
    background : array-like of shape (n_background, n_features) or DataFrame, optional
        Reference rows (e.g. a sample of the training data). Required by ``"exact"`` and
        ``"permutation"``, which sample more than 100 rows down to 100 (with a warning);
        interventional TreeSHAP uses every row (its cost is linear in the background
        size).
    method : {"auto", "additive", "tree", "linear", "exact", "kernel", "permutation"}, default="auto"
    output : {"auto", "raw", "probability", "log_odds"}, default="auto"
        The output space explained; ``"auto"`` is the model's native space.
    random_state : int, numpy Generator or None, default=0
        Seeds the sampled coalitions or permutations and any background sample.
        None draws fresh entropy (results then differ between runs).
    feature_groups : dict of str to list of (str or int), optional
        Explain groups of columns as single players (not with ``"tree"``).
    max_evals : int or "auto", default="auto"
        The KernelSHAP budget (coalitions per row; ``"kernel"`` only).
    progress : bool or None, default=None
        Show a progress bar; None lets the explainer decide by the amount of work.

    Returns
    -------
    Explanation
        ``values`` of shape (n_samples, n_players, n_outputs) in ``output_space``.
        ``method`` names the algorithm used; ``params["explain_method"]`` the registry
        name and ``params["chosen_by"]`` why it was chosen (e.g. ``"auto: tree model"``).

    Raises
    ------
    InputError
        Unknown ``method`` or ``output``, a missing background for a method that needs
        one, ``feature_groups`` with the tree method, or data that does not fit.
    UnsupportedModelError
        If the model cannot be adapted, or ``method="tree"`` for a model that is not a
        tree ensemble.

    Examples
    --------
    >>> import whybox
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import GradientBoostingClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> model = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0)
    >>> ex = whybox.explain(model.fit(X, y), X.iloc[:5])
    >>> ex.params["chosen_by"], ex.method
    ('auto: tree model', 'tree_path_dependent')
    >>> ex.values.shape, ex.feature_names[0]
    ((5, 30, 1), 'mean radius')
    """
    random_state = check_random_state(random_state)
    choices = ("auto", *METHODS)
    if not isinstance(method, str) or method not in choices:
        raise InputError(f"method must be one of {choices}, got {method!r}; use method='auto'.")
    if not isinstance(output, str) or output not in ("auto", *OUTPUT_SPACES):
        raise InputError(
            f"output must be one of {('auto', *OUTPUT_SPACES)}, got {output!r}; "
            "use output='auto' for the model's native space."
        )
    adapted = adapt_model(model)
    resolved = adapted.resolve_output(output)
    native = model.estimator if isinstance(model, Model) else model

    if method == "auto":
        name, reason = _choose(native, adapted, output, resolved, background, feature_groups)
    else:
        name, reason = method, f"user: method={method!r}"
        if name == "tree":
            tree_cls = load_method("tree")
            if tree_cls is None:
                raise InputError(
                    "method='tree' needs whybox.shapley.tree.TreeExplainer, which is not "
                    "available in this installation; use method='exact' or 'permutation'."
                )
            if not _supports(tree_cls, native):
                raise UnsupportedModelError(
                    f"method='tree' explains tree ensembles but the model is a "
                    f"{type(native).__name__}; use method='auto', 'exact' or 'permutation'."
                )
            if feature_groups is not None:
                raise InputError(
                    "feature_groups is not supported by method='tree', got "
                    f"{len(feature_groups)} groups; use method='exact' or 'permutation'."
                )
        elif background is None and name != "additive":
            raise InputError(
                f"method={name!r} needs background data (reference rows for absent "
                "features), got background=None; pass background=X_train or a sample of it."
            )

    explainer = None
    if name == "tree":
        tree_cls = load_method("tree")
        perturbation = "tree_path_dependent" if background is None else "interventional"
        try:
            explainer = tree_cls(
                native,
                background=background,
                feature_perturbation=perturbation,
                output=output,
                progress=progress,
            )
        except InputError:
            if method != "auto" or background is None:
                raise
            # This TreeExplainer cannot compute interventional values with this
            # background: the model-agnostic methods compute the same quantity.
            name, reason = _model_agnostic(
                adapted,
                background,
                feature_groups,
                "auto: tree model but TreeExplainer cannot use the background; ",
            )
    if explainer is None:  # the model-agnostic explainers share their arguments
        extra = {"max_evals": max_evals} if name == "kernel" else {}
        explainer = load_method(name)(
            adapted,
            background,
            output=output,
            feature_groups=feature_groups,
            random_state=random_state,
            progress=progress,
            **extra,
        )
    result = explainer(X)
    params = {**result.params, "explain_method": name, "chosen_by": reason}
    # The tree explainer reads the native model; keep the adapted model's output
    # names (e.g. the class_names it was given).
    return replace(result, params=params, output_names=adapted.output_names)


def _choose(
    native: Any,
    adapted: Model,
    output: str,
    resolved: str,
    background: Any,
    feature_groups: Any,
) -> tuple[str, str]:
    """The registry name ``method="auto"`` picks, and the reason as one phrase."""
    prefix = "auto: "
    additive_cls = load_method("additive")
    if additive_cls is not None and _supports(additive_cls, native):
        if (
            output == "auto"
            or resolved == "raw"
            or (
                output == "log_odds" and adapted.n_outputs == 1 and adapted.task == "classification"
            )
        ):
            if background is None:
                return "additive", "auto: additive model, the model's own terms (exact)"
            return "additive", "auto: additive model, exact interventional SHAP per term"
        prefix = f"auto: additive model but output={output!r} is not additive in its terms; "
    tree_cls = load_method("tree")
    supported = tree_cls is not None and _supports(tree_cls, native)
    refusal = _tree_refusal(tree_cls, native) if supported else None
    if refusal is not None:
        prefix = f"auto: {refusal}; "
    elif supported:
        if feature_groups is not None:
            prefix = "auto: tree model but feature_groups given; "
        elif output == "auto" or resolved == adapted.native_space:
            if background is None:
                return "tree", "auto: tree model"
            return "tree", "auto: tree model (interventional with the background)"
        else:
            prefix = (
                f"auto: tree model but output={output!r} is not the trees' native space "
                f"{adapted.native_space!r}; "
            )
    if background is None:
        raise InputError(
            "explain needs background data (reference rows for absent features) to explain "
            f"a {type(native).__name__} with output={output!r}"
            + (f" ({refusal})" if refusal is not None else "")
            + ", got background=None; pass background=X_train or a sample of it."
        )
    linear_cls = load_method("linear")
    if (
        prefix == "auto: "
        and linear_cls is not None
        and _supports(linear_cls, native)
        and (resolved == "raw" or (output == "log_odds" and adapted.n_outputs == 1))
    ):
        return "linear", "auto: linear model, closed-form interventional SHAP"
    return _model_agnostic(adapted, background, feature_groups, prefix)


def _model_agnostic(
    adapted: Model, background: Any, feature_groups: Any, prefix: str
) -> tuple[str, str]:
    """``"exact"`` for at most 12 players, else ``"kernel"``, with the reason."""
    p = _n_players(adapted, background, feature_groups)
    kind = "feature groups" if feature_groups is not None else "features"
    if p <= MAX_AUTO_EXACT_PLAYERS:
        return "exact", f"{prefix}{p} {kind} <= {MAX_AUTO_EXACT_PLAYERS}, exact enumeration"
    return "kernel", f"{prefix}{p} {kind} > {MAX_AUTO_EXACT_PLAYERS}, KernelSHAP"
