"""
Using shap's plots with whybox's values
=======================================

Many teams already draw their SHAP values with the ``shap`` package's plots.
:meth:`whybox.Explanation.to_shap` hands whybox's values (with their base values,
data and feature names) to ``shap.Explanation``, so every ``shap.plots`` function
draws them, and :meth:`whybox.Explanation.from_shap` reads shap's values back into
whybox, where the quality checks and the audit use them.
"""

# %%
# whybox's TreeSHAP values in shap's layout
# -----------------------------------------

import matplotlib.pyplot as plt
import numpy as np
import shap

import whybox
from whybox.datasets import load_demo

case = load_demo()
ex = whybox.explain(case.model, case.X_test, progress=False)
sv = ex.to_shap()
print(type(sv).__module__, sv.values.shape, np.shape(sv.base_values))

# %%
# Are they shap's own values? ``shap.TreeExplainer`` on the same model and rows:

own = shap.TreeExplainer(case.model)(case.X_test)
print(f"max |whybox - shap| = {np.abs(sv.values - own.values).max():.1e}")

# %%
# shap's plots
# ------------
# shap draws on the current pyplot figure; ``show=False`` leaves it to the page.

shap.plots.waterfall(sv[0], max_display=8, show=False)
plt.tight_layout()

# %%

shap.plots.scatter(sv[:, "worst concave points"], color=sv, show=False)
plt.tight_layout()

# %%

plt.figure(figsize=(8, 5))
shap.plots.heatmap(sv[:60], max_display=8, show=False)
plt.tight_layout()

# %%
# Back into whybox
# ----------------
# :meth:`~whybox.Explanation.from_shap` needs the output space, which a
# ``shap.Explanation`` does not record: TreeSHAP of a boosted classifier is in log-odds,
# the model's raw margin.

back = whybox.Explanation.from_shap(own, output="raw", output_names=["benign"])
print(back.method, back.values.shape, back.output_space)
print(back.global_importance().head(3))

# %%
# Caveat
# ------
# shap's plots label the axis "SHAP value" whatever the output space: here the values
# are log-odds, not probabilities, and the base value is the average margin, not the
# average prediction. Keep ``ex.output_space`` next to any figure you share.
