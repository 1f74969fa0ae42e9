"""The audit: one model and one labelled dataset in, one :class:`Report` out.

The audit only orchestrates public library calls (explain, permutation_importance,
confusion_analysis, error_analysis, the plots): whatever it shows, a user can
reproduce with a few lines of the library. Each section is a function of an
:class:`~whybox.report._context.AuditContext` in its own module (``_section_*.py``);
this module checks the inputs, computes what several sections share (the SHAP values,
permutation importance, LIME) and runs the sections in order.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox._utils import check_random_state, is_dask_collection, is_torch_model
from whybox._version import __version__
from whybox.adapters import adapt_data, adapt_model
from whybox.inspection import permutation_importance
from whybox.report._audit_images import audit_images
from whybox.report._context import AuditContext
from whybox.report._inputs import (
    check_enough,
    check_rows,
    check_target,
    check_train,
    default_rows,
    labels_match,
    sample_rows,
)
from whybox.report._interactive import context_payload
from whybox.report._report import Report, Section
from whybox.report._section_challenger import challenger_notes, challenger_section
from whybox.report._section_confusion import confusion_section
from whybox.report._section_effects import effects_section
from whybox.report._section_errors import errors_section
from whybox.report._section_failures import failures_section
from whybox.report._section_fairness import fairness_section, split_sensitive
from whybox.report._section_glassbox import glassbox_section
from whybox.report._section_importance import importance_section
from whybox.report._section_local import local_section
from whybox.report._section_performance import performance_section
from whybox.report._section_quality import quality_section
from whybox.report._section_shap import shap_section

_MAX_EXPLAINED_ROWS = 1000
_MAX_IMPORTANCE_ROWS = 5000
_BACKGROUND_ROWS = 100
_TRAIN_SAMPLE_ROWS = 1000  # training rows standing for the distribution (LIME, anchors, ...)
_TOP_FEATURES = 3
_AUTO_PROGRESS_ROWS = 100  # progress=None shows the bar from this many rows


def _units(context: AuditContext) -> str:
    """What the SHAP values are measured in, in words (e.g. "log-odds of 'benign'")."""
    model, ex, data = context.model, context.explanation, context.data
    if model.task == "regression":
        return "the predicted value"
    target = f"{ex.output_names[0]!r}" if len(ex.output_names) == 1 else "each class"
    if ex.output_space == "probability":
        return f"probability of {target}"
    if ex.output_space == "raw" and len(ex.output_names) == 1:
        # a binary margin that is the log-odds (logistic boosting, logistic regression)
        probe = data.values[: min(data.n_samples, 50)]
        if np.allclose(model.predict(probe, "raw"), model.predict(probe, "log_odds"), atol=1e-6):
            return f"log-odds of {target}"
    if ex.output_space == "log_odds":
        return f"log-odds of {target}"
    return f"the raw margin of {target}"


def _with_explanation(context: AuditContext) -> AuditContext:
    """The SHAP values of up to 1000 rows (the chosen rows among them).

    Tree models get path-dependent TreeSHAP (no background needed, exact and fast: the
    trees' own training covers stand for the data); other models interventional SHAP
    values against 100 rows sampled from the training rows, or from the audited rows
    when none were given.
    """
    from whybox._explain import is_tree_model

    data, rng = context.data, context.rng
    explained = np.union1d(sample_rows(data.n_samples, _MAX_EXPLAINED_ROWS, rng), context.rows)
    background = None
    if not is_tree_model(context.model):
        source = context.train if context.train is not None else data
        background = source.take(sample_rows(source.n_samples, _BACKGROUND_ROWS, rng))
    context = context.replace(explained=explained, background=background)
    ex = context.explain(data.take(explained), progress=context.inner_progress)
    return context.replace(explanation=ex)


def _with_permutation(context: AuditContext) -> AuditContext:
    """Permutation importance on up to 5000 rows; log loss for classifiers (a proper score
    that moves with every probability, where accuracy only moves when a label flips)."""
    if context.full is not None:  # all rows of a dask X, computed on the cluster
        return context.replace(permutation=context.full.permutation)
    data = context.data
    scoring = "neg_log_loss" if context.task == "classification" else "r2"
    perm = permutation_importance(
        context.model, data, context.y, scoring=scoring, n_repeats=5,
        random_state=context.random_state,
        max_samples=min(data.n_samples, _MAX_IMPORTANCE_ROWS),
    )  # fmt: skip
    return context.replace(permutation=perm)


def _with_lime(context: AuditContext) -> AuditContext:
    """LIME on the chosen rows, sampling from the training distribution (the audited
    rows without training rows)."""
    from whybox.lime import LimeTabularExplainer

    explainer = LimeTabularExplainer(
        context.model,
        context.reference,
        random_state=context.random_state,
        progress=context.inner_progress,
    )
    return context.replace(lime=explainer(context.data.take(list(context.rows))))


def _importance(context: AuditContext) -> tuple[AuditContext, tuple[Section, ...]]:
    """Permutation importance, the top features by mean |SHAP value|, the SHAP units, and
    the "Global importance" section."""
    context = _with_permutation(context)
    shap_importance = context.explanation.global_importance().mean(axis=1)
    context = context.replace(
        units=_units(context), top_features=tuple(shap_importance.index[:_TOP_FEATURES].tolist())
    )
    return context, (importance_section(context),)


def _local(context: AuditContext) -> tuple[AuditContext, tuple[Section, ...]]:
    """LIME on the chosen rows and the "Local explanations" section."""
    context = _with_lime(context)
    return context, (local_section(context),)


def _sections(*makers: Any) -> Any:
    """A step that adds the sections ``makers`` make (a maker returns None to add none)."""

    def run(context: AuditContext) -> tuple[AuditContext, tuple[Section, ...]]:
        made = (make(context) for make in makers)
        return context, tuple(section for section in made if section is not None)

    return run


# The steps after "predict", in order: (name on the progress bar, context -> (context,
# sections)). The order fixes the draws of the audit's own generator (the SHAP rows and
# background, the effects' rows, the surrogate's split).
_PLAN = (
    ("confusion", _sections(confusion_section)),
    ("errors", _sections(errors_section)),
    ("shap", lambda context: (_with_explanation(context), ())),
    ("importance", _importance),
    ("glassbox", _sections(glassbox_section)),
    ("effects", _sections(effects_section)),
    ("failures", _sections(failures_section)),
    ("plots", _sections(shap_section, fairness_section)),
    ("local", _local),
    ("quality", _sections(quality_section)),
    ("challenger", _sections(challenger_section)),
)  # fmt: skip
# the sections in the report's order
_ORDER = ("performance", "challenger", "confusion", "errors", "failures", "glassbox",
          "importance", "shap",
          "effects", "fairness", "local", "quality")  # fmt: skip


class _Steps:
    """The audit's progress bar over its steps, and the seconds spent in each."""

    def __init__(self, show: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=1 + len(_PLAN), desc="whybox audit", disable=not show, leave=False)
        self.seconds: dict[str, float] = {}
        self._current = ("", time.perf_counter())

    def start(self, name: str) -> None:
        """End the current step and start ``name``."""
        now = time.perf_counter()
        previous, since = self._current
        self.seconds[previous] = self.seconds.get(previous, 0.0) + now - since
        self._current = (name, now)
        self.bar.set_postfix_str(name)

    def done(self) -> None:
        self.bar.update()

    def __enter__(self) -> _Steps:
        return self

    def __exit__(self, *exc: Any) -> None:
        # closed on every exit, so an error is not printed inside the bar
        self.bar.close()
        self.start("")


def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    X_train: Any = None,
    y_train: Any = None,
    rows: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    random_state: int | None = 0,
    progress: bool | None = True,
    source: str = "",
    sensitive_features: Any = None,
    max_samples: int = 10_000,
) -> Report:
    """Audit a fitted model on labelled, held-out data (and, best, its training data).

    Runs, through the public library: performance metrics; confusion and error
    analysis; SHAP values (``whybox.explain``: TreeSHAP for tree models, exact or
    permutation estimates otherwise) and permutation importance side by side; SHAP
    beeswarm and dependence plots; feature effects of the top features (partial
    dependence with ICE, ALE with a bootstrap band, H-statistics); where the model
    fails (significant failing slices, calibration, a global surrogate tree with its
    held-out fidelity); with ``sensitive_features``, fairness (group metrics and disparities,
    proxies, flip tests); for each chosen row a SHAP waterfall, LIME, an anchor and,
    for a binary classifier, reason codes and counterfactuals; and the additivity
    error of the explanation.

    The training data is the reference the methods compare against: with ``X_train``,
    seeded samples of it are the SHAP background of a model that needs one (100 rows;
    a tree model gets path-dependent TreeSHAP, which reads the training covers stored
    in its trees), and, up to 1,000 rows, the distribution LIME and the anchors sample
    from, the counterfactuals' plausibility and ranges, and the rows that set and
    average the feature effects (PD/ICE grids, ALE bins, H-statistics). Without it the
    audited rows stand in for it, and the report says so at the top.

    Parameters
    ----------
    model : object
        A fitted model that ``whybox.adapters.adapt_model`` accepts, or a PyTorch
        image classifier (``torch.nn.Module``), audited by
        :func:`~whybox.report.audit_images` (X: images (n, C, H, W), y: class indices).
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The model's input columns (held-out data).
    y : array-like of shape (n_samples,)
        The true targets.
    X_train : DataFrame or ndarray of shape (n_train, n_features), optional
        The rows the model was trained on (or a sample of them), with the columns of
        ``X`` and the same kind (numeric, or text/categorical) each; sensitive
        attributes that ``X`` holds but the model does not take may be left out.
    y_train : array-like of shape (n_train,), optional
        The targets of ``X_train`` (needs ``X_train``): the "Model performance" section
        then shows the training scores beside the held-out ones, and their gap
        (overfitting).
    rows : sequence of int, optional
        Row positions to explain one by one. Default: a confident error, a confident
        correct prediction and the least certain row (classification), or the
        largest, smallest and median error (regression).
    class_names : sequence of str, optional
        Display names for the classes, in the model's class order.
    random_state : None, int or Generator, default=0
        Seeds every stochastic step (row sampling, permutations, LIME, anchors,
        counterfactuals): the same seed gives the same report.
    progress : bool or None, default=True
        Show a progress bar over the audit's steps on stderr; None shows it for 100
        rows or more.
    source : str, optional
        Where the model and data came from, shown in the report.
    sensitive_features : str, sequence of str, Series or DataFrame, optional
        Sensitive attributes to audit the model for fairness: column names of ``X``
        (a column the model was not fitted on is left out of its input) or the
        attributes themselves, one value per row, or a list mixing both. Adds the
        "Fairness" section (group metrics and disparities with bootstrap intervals, the
        intersections of several attributes, proxy detection, and a flip test for
        attributes the model takes). An attribute with more than 20 distinct values is
        refused: bin a continuous one first, e.g.
        ``pd.cut(X["age"], bins=[18, 25, 40, 65]).astype(str)``.
        With a dask X: column names of X, or dask Series of X's partitions.
    max_samples : int, default=10_000
        A dask X only: at most this many rows, drawn at random without replacement with
        ``random_state``, are brought into memory for the per-row sections (errors,
        failing slices, surrogate, SHAP, effects, local explanations, quality, proxies and
        flip tests). An in-memory X is audited whole, as before.

    Returns
    -------
    Report
        ``report.save(path)`` writes the HTML and its JSON as a pair.

    Raises
    ------
    InputError
        Empty data, a length mismatch between X and y, columns the model does not
        take, missing values it cannot handle, unknown labels, rows out of range or
        repeated, fewer than 10 rows, or a classifier's target with a single class;
        ``X_train`` whose columns differ from those of ``X`` (names or kinds), ``y_train``
        without ``X_train`` or of another length, or with missing values or unknown labels.
        With a dask X: ``y`` not a dask collection of X's partitions, a ``random_state``
        that is not an int, ``max_samples`` below 1, ``rows`` beyond X's rows.

    Notes
    -----
    ``X`` may be a ``dask.dataframe.DataFrame`` (``y`` a dask Series of the same
    partitions, e.g. ``df["y"]`` and ``df.drop(columns="y")``; ``X_train``/``y_train`` in
    memory; ``random_state`` an int). The performance metrics (ROC AUC on the sample:
    it is not a sum over rows), the confusion counts, the calibration bins, the fairness
    group metrics and permutation importance (each column permuted within its partition)
    are then reduced over all rows on the workers; the other sections read the sample,
    and the report says which is which (``notes``, ``meta["sampled rows"]``,
    ``results["sample_rows"]``: the sample's row positions in X). ``rows`` are positions
    in all of X; they join the sample.

    Examples
    --------
    The demo (skipped as a test: the full audit takes about half a minute):

    >>> from whybox import audit
    >>> from whybox.datasets import load_demo
    >>> case = load_demo()
    >>> report = audit(case.model, case.X_test, case.y_test,
    ...                X_train=case.X_train, y_train=case.y_train,
    ...                class_names=case.class_names, progress=False)  # doctest: +SKIP
    >>> [s.id for s in report.sections]  # doctest: +SKIP
    ['performance', 'challenger', 'confusion', 'errors', 'failures', 'importance', 'shap',
     'effects', 'local', 'quality']
    >>> report.meta["background"], report.notes  # doctest: +SKIP
    ('training data', ())
    >>> report.save("report.html")  # doctest: +SKIP
    (PosixPath('report.html'), PosixPath('report.json'))
    """
    random_state = check_random_state(random_state)
    if is_dask_collection(X):
        from whybox.report._audit_dask import audit_dask

        return audit_dask(
            model, X, y, X_train=X_train, y_train=y_train, rows=rows, class_names=class_names,
            random_state=random_state, progress=progress, source=source,
            sensitive_features=sensitive_features, max_samples=max_samples, run=audit_tabular,
        )  # fmt: skip
    if is_torch_model(model):
        if sensitive_features is not None:
            raise InputError(
                "sensitive_features applies to tabular models; a PyTorch image model has no "
                "columns to audit for fairness."
            )
        if X_train is not None or y_train is not None:
            raise InputError(
                "X_train and y_train apply to tabular models; the audit of a PyTorch image "
                "model takes no training data, so leave them out."
            )
        return audit_images(
            model, X, y, rows=rows, class_names=class_names, random_state=random_state,
            progress=progress, source=source,
        )  # fmt: skip
    return audit_tabular(
        model, X, y, X_train=X_train, y_train=y_train, rows=rows, class_names=class_names,
        random_state=random_state, progress=progress, source=source,
        sensitive_features=sensitive_features,
    )  # fmt: skip


def audit_tabular(
    model: Any,
    X: Any,
    y: Any,
    *,
    X_train: Any,
    y_train: Any,
    rows: Sequence[int] | None,
    class_names: Sequence[str] | None,
    random_state: Any,
    progress: bool | None,
    source: str,
    sensitive_features: Any,
    full: Any = None,
) -> Report:
    """The audit of a tabular model on in-memory rows. ``full``, with a dask X, is a
    callable context -> :class:`~whybox.report._context.FullData` (the all-row results,
    called once the sample's inputs are checked), whose results the sections show."""
    t0 = time.perf_counter()
    m = adapt_model(model, class_names=class_names)
    given = [str(c) for c in getattr(X, "columns", ())]
    X, sensitive_frame, sensitive_inputs = split_sensitive(m, X, sensitive_features)
    audited = adapt_data(X)
    data = m.check_data(audited)
    y = check_target(y, data.n_samples)
    check_enough(m, y, data.n_samples)
    row_list = check_rows(rows, data.n_samples)
    # the sensitive attributes split off X (not model inputs) may be in X_train or not
    split_off = [c for c in given if c not in audited.feature_names]
    train, y_train = check_train(m, audited, X_train, y_train, ignored=split_off)
    show = data.n_samples >= _AUTO_PROGRESS_ROWS if progress is None else bool(progress)
    made: dict[str, Section] = {}
    with _Steps(show) as steps:
        steps.start("predict")
        if m.task == "classification":
            y = labels_match(m, y)
            pred = m.predict_label(data.values)
        else:
            y = y.astype(np.float64)
            pred = m.predict(data.values)[:, 0]
        context = AuditContext(
            model=m,
            data=data,
            y=y,
            pred=pred,
            rows=tuple(row_list if row_list is not None else default_rows(m, data, y, pred)),
            class_names=tuple(class_names) if class_names is not None else None,
            display=(
                {str(c): str(n) for c, n in zip(m.classes, class_names or m.classes, strict=True)}
                if m.task == "classification"
                else {}
            ),
            random_state=random_state,
            rng=np.random.default_rng(random_state),
            progress=show,
            sensitive_features=sensitive_frame,
            sensitive_inputs=tuple(sensitive_inputs),
            train=train,
            y_train=y_train,
        )
        if train is not None:
            context = context.replace(
                train_sample=train.take(
                    sample_rows(train.n_samples, _TRAIN_SAMPLE_ROWS, context.rng)
                )
            )
        if full is not None:
            steps.start("all rows")
            context = context.replace(full=full(context))
        made["performance"] = performance_section(context)
        steps.done()
        for name, run in _PLAN:
            steps.start(name)
            context, sections = run(context)
            made.update((s.id, s) for s in sections)
            steps.done()
    shown = tuple(made[s] for s in _ORDER if s in made)
    results: dict[str, Any] = {}
    for section in shown:
        results.update(section.results)
    meta = {
        "subtitle": source or "model audit",
        "model": type(m.estimator).__name__,
        "task": m.task,
        "outputs": ", ".join(m.output_names),
        "rows": data.n_samples,
        "features": data.n_features,
        "explainer": context.explanation.method,
        **_background_meta(context),
        "random_state": random_state,
        "whybox version": __version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "audit time (s)": round(time.perf_counter() - t0, 2),
        "explanation quality checks (s)": round(steps.seconds["quality"], 2),
    }
    return Report(
        "whybox audit", meta, shown, results, notes=challenger_notes(context, _notes(context)),
        interactive=context_payload(context, made.get("local")),
    )  # fmt: skip


def _background_meta(context: AuditContext) -> dict[str, Any]:
    """The report's record of which data was the background: ``"background"`` is
    ``"training data"`` or ``"audited rows"``, with the rows each use drew."""
    train, bg = context.train, context.background
    return {
        "training rows": 0 if train is None else train.n_samples,
        "background": "audited rows" if train is None else "training data",
        "SHAP background rows": (
            "none (path-dependent TreeSHAP: the trees' training covers)"
            if bg is None
            else bg.n_samples
        ),
        "reference rows (LIME, anchors, counterfactuals, effects, quality)": (
            context.reference.n_samples
        ),
    }


def _notes(context: AuditContext) -> tuple[str, ...]:
    """The notes shown at the top of the report: the audited rows standing in for the
    training data, when no training data was given."""
    if context.train is not None:
        return ()
    bg, m = context.background, context.model
    classifier = m.task == "classification"
    uses = [f"the SHAP background ({bg.n_samples} rows)"] if bg is not None else []
    lime = "LIME and the anchors sample" if classifier else "LIME samples"
    uses.append(f"the distribution {lime} from")
    if classifier and len(m.classes) == 2:
        uses.append("the counterfactuals' plausibility and ranges")
    uses += ["the rows that set the partial dependence grids and ALE bins",
             "the quality checks' baselines"]  # fmt: skip
    tree = (
        " (the SHAP values are path-dependent TreeSHAP, which reads the training covers "
        "stored in the trees, so they do not depend on it)"
        if bg is None
        else ""
    )
    changed = ["base values"] if bg is not None else []
    changed += ["LIME weights"] + (["anchor coverage"] if classifier else [])
    changed.append("the ranges of the effect curves")
    return (
        "No training data was given (X_train, or --train on the command line), so the "
        f"audited rows stood in for it{tree}: {', '.join(uses[:-1])} and {uses[-1]} were drawn "
        "from the audited rows. The model is then explained relative to the audited data, "
        "not to the data it learned from: where the two differ (a shift, or few audited "
        f"rows), {', '.join(changed[:-1])} and {changed[-1]} change. Give the training data "
        "for the textbook reference.",
    )
