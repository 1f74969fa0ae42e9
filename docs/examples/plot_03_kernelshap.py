"""
KernelSHAP on a black box
=========================

A model whybox cannot open (a neural network, an SVM, a plain function) is explained
from its predictions alone. KernelSHAP (Lundberg & Lee, 2017) evaluates the model on
*coalitions*: the explained row with some features replaced by background rows, and
fits the Shapley values to those evaluations. whybox's estimator samples coalitions in
complementary pairs, fits them with a ridge-penalised polynomial (PolySHAP) and
enforces exact local accuracy; it also reports a standard error for every value.
"""

# %%
# A neural network on the wine data
# ---------------------------------
# 178 wines, 13 chemical measurements, 3 cultivars (bundled with scikit-learn).

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import whybox

data = load_wine(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.25, random_state=0, stratify=data.target
)
model = make_pipeline(
    StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=2000, random_state=0)
).fit(X_train, y_train)
print(f"held-out accuracy: {model.score(X_test, y_test):.3f}")

# %%
# A background from the training data
# -----------------------------------
# The background is what "a feature is absent" means: its value is drawn from these
# rows. :func:`whybox.shapley.summarize_background` condenses the training data into 30
# weighted k-means centres (each weight is its cluster's share of the rows), which keeps
# the number of model calls down.

bg = whybox.summarize_background(X_train, 30, random_state=0)
print(bg.data.shape, "weights sum to", round(float(bg.weights.sum()), 6))

# %%
# KernelSHAP with a fixed budget of coalitions
# --------------------------------------------
# We explain the predicted probabilities of all three classes for 10 wines, with 512
# coalitions per row (of the 8,192 that exist for 13 features).

X_explain = X_test.iloc[:10]
kernel = whybox.KernelExplainer(
    model, bg, output="probability", max_evals=512, random_state=0, progress=False
)
ex = kernel(X_explain)
print("values:", ex.values.shape, "outputs:", ex.output_names)
print("largest additivity error:", float(ex.additivity_error.max()))
se = ex.quality["standard_error"]
print(f"median standard error of a value: {np.median(se):.4f}")

# %%
# How good is the estimate? With 13 features the exact Shapley values are still
# affordable (:class:`whybox.shapley.ExactExplainer` enumerates all 8,192 coalitions), so we
# can compare them and see whether the reported standard errors are honest.

exact = whybox.ExactExplainer(model, bg, output="probability", progress=False)(X_explain)
err = np.abs(ex.values - exact.values)
print(f"mean |KernelSHAP - exact| = {err.mean():.5f}")
print(f"share of values within 2 standard errors: {(err <= 2 * se + 1e-12).mean():.2f}")

# %%
# The first wine's explanation for the class the model predicts:

row = ex[0]
predicted = int(np.argmax(row.model_output))
print("predicted class:", ex.output_names[predicted], f"({data.target_names[predicted]})")
ax = plt.figure(figsize=(7, 5), layout="constrained").add_subplot()
fig = whybox.plots.waterfall(row, target=predicted, ax=ax)

# %%
# Caveat
# ------
# KernelSHAP's values are *interventional*: a feature is removed by drawing it from the
# background independently of the others, so the model is evaluated on combinations
# (a high alcohol content with another wine's colour) that may never occur. The answer
# depends on the background you pass; use training data, and read the standard errors
# before trusting the order of two close values.
