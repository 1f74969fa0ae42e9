"""
LIME for tables
===============

LIME (Ribeiro, Singh & Guestrin, 2016) explains one prediction by fitting a simple,
weighted linear model to the black box's answers on perturbed copies of the row. For a
table the perturbations are drawn from the training data's quartiles and the surrogate
reads conditions such as ``worst area > 1,040``; for text, words are removed. whybox's
LIME is deterministic for a ``random_state`` and reports the surrogate's **local R²**,
how well the linear model fits the black box near the row.
"""

# %%
# Tables: the breast cancer demo model
# ------------------------------------

import matplotlib.pyplot as plt
import numpy as np

import whybox
from whybox.datasets import load_demo

case = load_demo()
lime = whybox.LimeTabularExplainer(
    case.model, case.X_train, n_perturbations=2000, max_features=6, random_state=0, progress=False
)
ex = lime(case.X_test.iloc[:3])
print("values:", ex.values.shape, "output space:", ex.output_space)
print("local R² per row and class:\n", np.round(ex.quality["local_r2"], 3))

# %%
# A binary classifier is explained in one output, the probability of class 1
# ("benign"). Each weight belongs to a condition on the feature (a quartile bin of the
# training data), which :func:`whybox.lime.conditions` spells out; with
# ``max_features=6`` only six features get a non-zero weight.

conds = whybox.lime.conditions(ex[0])
w = ex.values[0, :, 0]
for j in np.argsort(-np.abs(w))[:6]:
    print(f"  {conds[j]:40s} {w[j]:+.3f}")
ax = plt.figure(figsize=(7, 4), layout="constrained").add_subplot()
fig = whybox.plots.lime_bar(ex[0], max_display=6, ax=ax)

# %%
# A second seed
# -------------
# LIME samples its perturbations, so the weights move with the seed. Comparing the
# top features of two seeds is a quick check of how much to trust the ranking
# (:func:`whybox.evaluate.seed_stability` does it properly).

ex_seed1 = whybox.LimeTabularExplainer(
    case.model, case.X_train, n_perturbations=2000, max_features=6, random_state=1, progress=False
)(case.X_test.iloc[:1])
top = {s: set(np.flatnonzero(e.values[0, :, 0])) for s, e in ((0, ex[:1]), (1, ex_seed1))}
print("seed 0:", sorted(ex.feature_names[j] for j in top[0]))
print("seed 1:", sorted(ex.feature_names[j] for j in top[1]))
print("shared top features:", len(top[0] & top[1]), "of 6")

# %%
# LIME for text and images
# ------------------------
# :class:`whybox.lime.LimeTextExplainer` takes any function from a list of strings to class
# probabilities and removes words; :func:`whybox.plots.lime_text` highlights them in an
# escaped HTML fragment. :class:`whybox.lime.LimeImageExplainer` removes superpixels. The
# :ref:`attention example <sphx_glr_auto_examples_plot_12_attention.py>` uses LIME on a
# small transformer's sentences.

# %%
# Caveat
# ------
# LIME's answer depends on choices that are not the model's: the kernel width, the
# discretisation and the sampling distribution. Two seeds can rank features differently
# (the :ref:`quality-checks example <sphx_glr_auto_examples_plot_13_quality_checks.py>`
# measures this), and a low local R² means the linear surrogate does not describe the
# model near this row: read the weights only where the fit is good.
