"""
Pipelines, explained in their input columns
===========================================

The model users save is usually a scikit-learn ``Pipeline``: a ``ColumnTransformer``
that one-hot encodes the text columns and imputes or scales the numbers, in front of a
linear model or a tree ensemble. whybox explains such a pipeline **in its input
columns**: one SHAP value for ``employment``, not one per one-hot column, computed
exactly (closed form for a linear model, TreeSHAP for trees) because every step is
column-separable (each transformed column is a function of one input column).

The background, the reference the SHAP values are measured against, is a sample of the
**training data**.
"""

# %%
# Synthetic loan applications with text columns
# ---------------------------------------------
# :func:`whybox.datasets.load_applications` generates applications (no real person is in
# them) with five text columns and four numeric ones, some missing. The planted truth:
# ``employment``, ``income``, ``credit_score`` and ``loan_amount`` matter, ``region``
# does not.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import whybox
from whybox.adapters import column_map
from whybox.datasets import load_applications

case = load_applications(n_samples=2000)
X_train, X_test, y_train = case.X_train, case.X_test, case.y_train
text = list(case.text_columns)
numbers = [c for c in X_train.columns if c not in text]
print(X_train.head(3).T)

# %%
# A logistic regression behind a ColumnTransformer
# ------------------------------------------------

pipe = Pipeline(
    [
        (
            "prepare",
            ColumnTransformer(
                [
                    ("text", OneHotEncoder(handle_unknown="ignore"), text),
                    ("num", make_pipeline(SimpleImputer(), StandardScaler()), numbers),
                ]
            ),
        ),
        ("model", LogisticRegression(max_iter=1000)),
    ]
).fit(X_train, y_train)
print(f"held-out accuracy: {pipe.score(X_test, case.y_test):.3f}")

# %%
# :func:`~whybox.adapters.column_map` shows which input column each of the model's
# columns comes from: this is what lets whybox add the one-hot columns' contributions
# into one player per input column.

cmap = column_map(pipe)
print(len(cmap.output_names), "model columns from", cmap.n_inputs, "input columns")
for name, g in list(zip(cmap.output_names, cmap.groups, strict=True))[:6]:
    print(f"  {name:32s} <- {cmap.input_names[g]}")

# %%
# Linear SHAP in closed form, with 200 training rows as the background. The values
# add up to the pipeline's own ``decision_function`` (the log-odds).

background = X_train.sample(200, random_state=0)
ex = whybox.LinearExplainer(pipe, background)(X_test)
print("players:", ex.feature_names)
margin = pipe.decision_function(X_test)
recon = ex.values[:, :, 0].sum(axis=1) + ex.base_values[:, 0]
print(f"max |sum of SHAP + base - decision_function| = {np.abs(recon - margin).max():.1e}")
print(ex.global_importance())

# %%
# The bundled gradient-boosted pipeline: interventional TreeSHAP
# --------------------------------------------------------------
# ``case.model`` is a ``GradientBoostingClassifier`` behind a one-hot encoder and a
# median imputer. TreeSHAP credits each split on a one-hot column to the input column
# it comes from; with a background and ``feature_perturbation="interventional"`` the
# values are the exact Shapley values of the input columns against that background.

tree_ex = whybox.TreeExplainer(
    case.model, background=background, feature_perturbation="interventional", progress=False
)(X_test)
print(tree_ex.global_importance().head(5))
print("largest additivity error:", float(tree_ex.additivity_error.max()))
ax = plt.figure(figsize=(7, 4.5), layout="constrained").add_subplot()
fig = whybox.plots.bar(tree_ex, max_display=9, ax=ax)

# %%
# One applicant, in words of the table the user knows:

ax = plt.figure(figsize=(7, 5), layout="constrained").add_subplot()
fig = whybox.plots.waterfall(tree_ex[0], ax=ax)

# %%
# Caveat
# ------
# The background sets the question: "why does this applicant differ from *these*
# applicants?". Use training data (or a sample of it), not zeros or the explained rows
# themselves. And a step that mixes columns (``PCA``, ``PolynomialFeatures``, a custom
# transformer) has no input-column decomposition: :func:`whybox.explain` then falls back
# to a model-agnostic estimator and says so in ``ex.params["chosen_by"]``.
