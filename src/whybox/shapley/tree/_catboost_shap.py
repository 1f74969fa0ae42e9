"""SHAP values of CatBoost models with categorical features, by CatBoost itself.

whybox's kernels read CatBoost's float-feature splits (``_readers._catboost``); a model
with categorical features splits on one-hot values and on CTR statistics of category
combinations, which only CatBoost computes. For those models whybox asks CatBoost for
its own SHAP values (``get_feature_importance(type="ShapValues")``: path-dependent
TreeSHAP on its trees, or with reference rows its Independent Tree SHAP, which is
interventional; in the model's raw output space, one value per input column) and lays
them out as whybox does. Symmetric trees only: on Depthwise and Lossguide trees
CatBoost's own values do not add up to its prediction (CatBoost 1.2.10).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError, UnsupportedModelError


def catboost_has_categorical(model: Any) -> bool:
    """Whether a fitted CatBoost model has categorical (or text) input columns.

    Parameters
    ----------
    model : catboost.CatBoost, CatBoostClassifier or CatBoostRegressor

    Returns
    -------
    bool
        True when ``get_cat_feature_indices()`` (or ``get_text_feature_indices()``) is
        not empty: whybox's tree kernels cannot read such a model, and
        :func:`catboost_shap_values` explains it.
    """
    cats = list(model.get_cat_feature_indices())
    texts = list(getattr(model, "get_text_feature_indices", lambda: [])())
    return bool(cats or texts)


def catboost_expected_value(model: Any) -> np.ndarray:
    """The base value of CatBoost's path-dependent SHAP values, without rows.

    Each tree's leaf values averaged with its leaves' training weights, summed over the
    trees, scaled and shifted by the model's ``scale_and_bias`` (from its JSON dump):
    the ``base_value`` that :func:`catboost_shap_values` returns without a background.

    Parameters
    ----------
    model : catboost.CatBoost, CatBoostClassifier or CatBoostRegressor
        A fitted model.

    Returns
    -------
    ndarray of shape (n_outputs,), float64

    Raises
    ------
    UnsupportedModelError
        If the model is not fitted or has non-symmetric trees.
    """
    from whybox.shapley.tree._readers._catboost import _catboost_json

    if not model.is_fitted():
        raise UnsupportedModelError(
            f"the model {type(model).__name__} is not fitted; call fit(X, y) first."
        )
    _require_symmetric(model)
    raw = _catboost_json(model)
    scale, bias = raw.get("scale_and_bias", [1.0, [0.0]])
    bias = np.atleast_1d(np.asarray(bias, dtype=np.float64))
    total: np.ndarray | float = 0.0
    for tree in raw.get("oblivious_trees", []):
        weights = np.asarray(tree["leaf_weights"], dtype=np.float64)
        values = np.asarray(tree["leaf_values"], dtype=np.float64).reshape(len(weights), -1)
        total = total + weights @ values / weights.sum()
    out = scale * np.atleast_1d(np.asarray(total, dtype=np.float64)) + bias
    return out.astype(np.float64)


def _require_symmetric(model: Any) -> None:
    """Refuse non-symmetric trees: CatBoost's own ``ShapValues`` on them do not add up
    to its prediction (CatBoost 1.2.10: off by up to 1.0 on Depthwise and Lossguide
    trees, with and without categorical features)."""
    policy = str(model.get_all_params().get("grow_policy", "SymmetricTree"))
    if policy != "SymmetricTree":
        raise UnsupportedModelError(
            f"the CatBoost model has non-symmetric trees (grow_policy={policy!r}), on which "
            "CatBoost's own SHAP values do not add up to its prediction; train with "
            "grow_policy='SymmetricTree' (the default), or use whybox.ExactExplainer or "
            "PermutationExplainer."
        )


def _frame(model: Any, frame: Any, name: str = "frame") -> pd.DataFrame:
    """``frame`` with the model's columns in the model's order."""
    names = [str(n) for n in (model.feature_names_ or ())]
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame, dtype=object), columns=names or None)
    have = [str(c) for c in frame.columns]
    if names and set(have) != set(names):
        missing = [n for n in names if n not in have]
        extra = [c for c in have if c not in names]
        raise InputError(
            f"{name} has the columns {have[:5]} but the CatBoost model was fitted on "
            f"{names[:5]} (missing {missing[:5]}, unexpected {extra[:5]}); give the "
            "model's columns."
        )
    frame = frame.set_axis(have, axis=1)
    return frame[names] if names else frame


def _label(model: Any, n: int) -> np.ndarray:
    """A label for ``n`` rows (CatBoost asks one of a Pool it computes Independent Tree
    SHAP on; the raw values do not depend on it): the first class, or 0 per output."""
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) >= 2:
        return np.repeat(np.asarray(classes)[:1], n)
    k = len(np.atleast_1d(model.get_scale_and_bias()[1]))  # the outputs (targets)
    return np.zeros((n, k)) if k > 1 else np.zeros(n)


def catboost_shap_values(
    model: Any, frame: pd.DataFrame, background: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CatBoost's own SHAP values of ``frame``, in whybox's layout.

    Parameters
    ----------
    model : catboost.CatBoost, CatBoostClassifier or CatBoostRegressor
        A fitted model, with or without categorical features.
    frame : DataFrame of shape (n_samples, n_features)
        The rows, with the model's columns (matched by name, reordered to the model's
        order); categorical columns hold their categories (text or integers, as
        CatBoost takes them; a missing category is refused by CatBoost).
    background : DataFrame of shape (n_background, n_features), optional
        Reference rows, as ``frame``. Without it the values are path-dependent (the
        trees' training weights stand in for the data); with it they are interventional
        (CatBoost's Independent Tree SHAP: the exact Shapley values of
        ``v(S) = mean_z f(x_S, z_notS)`` over the background rows, every row weighted
        ``1 / n_background``), the game of :class:`whybox.ExactExplainer`.

    Returns
    -------
    values : ndarray of shape (n_samples, n_features, n_outputs), float64
        SHAP values in the model's raw output space (CatBoost's
        ``RawFormulaVal``): regression one output; a binary classifier one output, the
        positive class's log-odds; a multiclass classifier one output per class (in
        ``classes_`` order); multi-target regression one per target.
    base_value : ndarray of shape (n_outputs,), float64
        The expected value (with a background: its mean raw output);
        ``values.sum(axis=1) + base_value`` equals
        ``model.predict(frame, prediction_type="RawFormulaVal")``.

    Raises
    ------
    InputError
        If ``frame`` (or ``background``) has no rows, lacks the model's columns, or
        CatBoost cannot read a value (e.g. a missing category, which CatBoost itself refuses).
    UnsupportedModelError
        If the model is not fitted, or has non-symmetric trees (``grow_policy``
        ``"Depthwise"`` or ``"Lossguide"``), on which CatBoost's own SHAP values do not
        add up to its prediction.

    Notes
    -----
    Source: ``model.get_feature_importance(type="ShapValues", data=Pool(frame,
    cat_features=..., text_features=...), reference_data=Pool(background, ...))``
    (``reference_data`` only with a background), which returns ``(n_samples, n_features +
    1)`` (one output) or ``(n_samples, n_outputs, n_features + 1)``, the expected value
    last.
    """
    from catboost import CatBoostError, Pool

    if not model.is_fitted():
        raise UnsupportedModelError(
            f"the model {type(model).__name__} is not fitted; call fit(X, y) first."
        )
    _require_symmetric(model)
    frame = _frame(model, frame)
    if frame.shape[0] == 0:
        raise InputError("frame has no rows; give at least one row to explain.")
    cats = [int(j) for j in model.get_cat_feature_indices()]
    texts = [int(j) for j in getattr(model, "get_text_feature_indices", lambda: [])()]
    kw = dict(cat_features=cats or None, text_features=texts or None)
    try:
        if background is None:
            raw = model.get_feature_importance(type="ShapValues", data=Pool(frame, **kw))
        else:
            background = _frame(model, background, "background")
            if background.shape[0] == 0:
                raise InputError(
                    "background has no rows; pass at least one reference row (e.g. 100 "
                    "rows sampled from the training data)."
                )
            pool = Pool(frame, label=_label(model, len(frame)), **kw)
            reference = Pool(background, label=_label(model, len(background)), **kw)
            raw = model.get_feature_importance(
                type="ShapValues", data=pool, reference_data=reference
            )
    except CatBoostError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "CatBoostError"
        raise InputError(
            f"CatBoost could not compute SHAP values ({reason[:200]}); give each "
            "categorical column text or integer categories (no missing values) and each "
            "other column numbers."
        ) from None
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 2:  # one output: (n_samples, n_features + 1)
        raw = raw[:, None, :]
    # (n_samples, n_outputs, n_features + 1) -> (n_samples, n_features, n_outputs)
    values = np.ascontiguousarray(np.moveaxis(raw[:, :, :-1], 1, 2))
    base_value = raw[0, :, -1].copy()
    return values, base_value
