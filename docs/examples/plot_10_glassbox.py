"""
Glass-box models: an EBM's exact SHAP values and shape functions
================================================================

An Explainable Boosting Machine (EBM, Lou et al. 2013; Nori et al. 2019) is a
generalised additive model with a few pairwise terms: its prediction is an intercept
plus one learnt curve per feature and one surface per pair. The curves *are* the
model, so no approximation is needed to explain it (Rudin, 2019: prefer such a model
where it is as accurate as the black box). whybox reads an EBM's terms and computes
its SHAP values in closed form, pairs included, and draws its shape functions.
"""

# %%
# An EBM on the diabetes data
# ---------------------------

import matplotlib.pyplot as plt
import numpy as np
from interpret.glassbox import ExplainableBoostingRegressor
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

import whybox
from whybox.glassbox import shape_functions

data = load_diabetes(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
# Fewer bags and pairs than interpret's defaults, to keep the example fast.
ebm = ExplainableBoostingRegressor(outer_bags=4, interactions=3, n_jobs=1, random_state=0)
ebm.fit(X_train, y_train)
print(f"held-out R²: {ebm.score(X_test, y_test):.2f}")
print("terms:", ebm.term_names_)

# %%
# Exact SHAP values
# -----------------
# Without a background, the values are the model's own terms centred on the training
# data; a main term's value is its score at the row minus its mean, and a pair's score
# is split between its two features by the exact two-player Shapley rule.

ex = whybox.explain(ebm, X_test)
print(ex.method, "|", ex.params["chosen_by"])
print("largest additivity error:", float(ex.additivity_error.max()))

# %%
# With a background the values are the interventional Shapley values, the quantity
# :class:`whybox.shapley.ExactExplainer` computes by enumerating all 1,024 coalitions
# of the 10 features through ``ebm.predict``. We compare the two on 10 rows.

background = X_train.sample(30, random_state=0)
closed_form = whybox.explain(ebm, X_test.iloc[:10], background=background)
brute_force = whybox.shapley.ExactExplainer(ebm.predict, background, progress=False)(
    X_test.iloc[:10]
)
print(closed_form.method, "vs exact enumeration:")
print(f"  max difference {np.abs(closed_form.values - brute_force.values).max():.1e}")

# %%
# Shape functions: the model itself
# ---------------------------------
# Each term's score per bin, with the band across the bags and the training density.

shapes = shape_functions(ebm)
for term in shapes.top(5):
    print(f"{term.name:10s} {term.kind:8s} importance {term.importance:.2f}")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
whybox.plots.shape_function(shapes, "bmi", ax=axes[0])
whybox.plots.shape_function(shapes, "s5", ax=axes[1])
pair = next(t.name for t in shapes.terms if t.kind == "pair")
fig = whybox.plots.shape_function(shapes, pair, ax=axes[2])

# %%
# One patient's prediction, term by term: the waterfall of the exact SHAP values.

ax = plt.figure(figsize=(7, 5), layout="constrained").add_subplot()
fig = whybox.plots.waterfall(ex[0], ax=ax)

# %%
# Caveat
# ------
# A glass box is transparent about the *model*, not about the world: the curve of
# ``s1`` is how this model uses total cholesterol given the other terms, and with
# correlated features (``s1`` and ``s2``) the split of credit between their curves is
# partly arbitrary. The jumps between bins are the boosting's, not biology's; read the
# band across the bags before trusting a wiggle.
