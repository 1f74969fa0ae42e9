"""
TreeSHAP on XGBoost and LightGBM
================================

Tree ensembles get exact SHAP values from TreeSHAP (Lundberg et al., 2020): no sampling,
no background data needed, and fast enough for every row. Here we fit an XGBoost and a
LightGBM classifier on the breast cancer data bundled with scikit-learn, explain the
held-out rows, and check the defining property of SHAP values, *local accuracy*: for
every row, the SHAP values plus the base value equal the model's own raw output
(the margin, i.e. the log-odds), as computed by the model's library itself.
"""

# %%
# Data and models
# ---------------
# :func:`whybox.datasets.load_demo` splits the breast cancer data (569 rows, 30
# numeric features) into training and held-out rows.

import lightgbm as lgb
import matplotlib.pyplot as plt
import numpy as np
import xgboost as xgb

import whybox
from whybox.datasets import load_demo

case = load_demo()
X_train, X_test, y_train = case.X_train, case.X_test, case.y_train

xgb_model = xgb.XGBClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, n_jobs=1)
xgb_model = xgb_model.fit(X_train, y_train)
lgb_model = lgb.LGBMClassifier(n_estimators=100, num_leaves=15, verbose=-1, n_jobs=1)
lgb_model = lgb_model.fit(X_train, y_train)
print(
    f"held-out accuracy: XGBoost {xgb_model.score(X_test, case.y_test):.3f}, "
    f"LightGBM {lgb_model.score(X_test, case.y_test):.3f}"
)

# %%
# Exact SHAP values
# -----------------
# :func:`whybox.explain` sees a tree ensemble and picks path-dependent TreeSHAP; the
# choice is recorded in ``params["chosen_by"]``. Values come in the model's native
# output (``output_space="raw"``): the margin, which is the log-odds of "benign".

ex_xgb = whybox.explain(xgb_model, X_test, progress=False)
print(ex_xgb.method, "|", ex_xgb.params["chosen_by"])
print("values:", ex_xgb.values.shape, "output space:", ex_xgb.output_space)

# %%
# Local accuracy against the model's own margin
# ---------------------------------------------
# The sum of a row's SHAP values plus the base value must equal XGBoost's
# ``predict(output_margin=True)`` and LightGBM's ``predict(raw_score=True)``. We
# compute those with the libraries themselves, not with whybox. (XGBoost sums its
# trees in float32, so agreement to about 1e-6 is all its margin allows; LightGBM
# sums in float64.)

margin_xgb = xgb_model.predict(X_test, output_margin=True)
recon_xgb = ex_xgb.values[:, :, 0].sum(axis=1) + ex_xgb.base_values[:, 0]
print(f"XGBoost : max |SHAP sum + base - margin| = {np.abs(recon_xgb - margin_xgb).max():.2e}")

ex_lgb = whybox.TreeExplainer(lgb_model, progress=False)(X_test)
margin_lgb = lgb_model.predict(X_test, raw_score=True)
recon_lgb = ex_lgb.values[:, :, 0].sum(axis=1) + ex_lgb.base_values[:, 0]
print(f"LightGBM: max |SHAP sum + base - margin| = {np.abs(recon_lgb - margin_lgb).max():.2e}")
print("whybox's own check (additivity_error):", float(ex_lgb.additivity_error.max()))

# %%
# Global view: the beeswarm
# -------------------------
# Each dot is one held-out row; its position is the feature's SHAP value for that row
# and its colour the feature's value. Features are sorted by mean absolute SHAP value.

print(ex_xgb.global_importance().head(5))
ax = plt.figure(figsize=(7, 5.5), layout="constrained").add_subplot()
fig = whybox.plots.beeswarm(ex_xgb, max_display=10, ax=ax)

# %%
# Local view: the waterfall of one row
# ------------------------------------
# How the base value (the average margin over the training data) moves to this row's
# margin, one feature at a time.

ax = plt.figure(figsize=(7, 5), layout="constrained").add_subplot()
fig = whybox.plots.waterfall(ex_xgb[0], max_display=10, ax=ax)

# %%
# Caveat
# ------
# SHAP values explain the *model*, not the world: a large value for "worst radius"
# says the model leans on it, not that the radius causes the diagnosis. And
# path-dependent TreeSHAP conditions on the training data the trees saw; when
# features are strongly correlated, pass a background and
# ``feature_perturbation="interventional"`` for values that break those correlations
# deliberately (the two answer different questions).
