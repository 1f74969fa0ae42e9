"""
Debugging a model: importance, failing slices and calibration
=============================================================

Explanations of single rows are half the story; debugging asks where the model as a
whole goes wrong. This example:

1. compares three global importances (impurity-based MDI, permutation, mean absolute
   SHAP value) on a random forest given a useless, high-cardinality column, which MDI
   is known to over-rate (Strobl et al., 2007);
2. finds the subgroups where a simple model makes significantly more errors than
   overall (exact tests, Benjamini-Hochberg over every candidate);
3. checks whether the predicted probabilities can be read as probabilities.
"""

# %%
# Three importances and a planted noise column
# --------------------------------------------
# A random forest on the synthetic credit data, with one extra column of random
# numbers (``noise_id``, thousands of distinct values) that carries no information.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import whybox
from whybox import debugging, inspection
from whybox.datasets import load_credit

credit = load_credit()
rng = np.random.default_rng(0)
X_train = credit.X_train.assign(noise_id=rng.integers(0, 10_000, len(credit.X_train)))
X_test = credit.X_test.assign(noise_id=rng.integers(0, 10_000, len(credit.X_test)))
y_train, y_test = credit.y_train, credit.y_test
forest = RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1).fit(X_train, y_train)

X_eval, y_eval = X_test.iloc[:500], y_test.iloc[:500]
cmp = inspection.importance_comparison(forest, X_eval, y_eval, n_repeats=5, random_state=0)
table = cmp.to_frame()
print(table.round(4).iloc[:, :3])
for name in ("mdi", "permutation", "shap_mean_abs"):
    order = table[name].rank(ascending=False).astype(int)
    print(f"rank of noise_id by {name}: {order['noise_id']} of {len(table)}")
for warning in cmp.warnings:
    print("-", warning)
ax = plt.figure(figsize=(8, 5), layout="constrained").add_subplot()
fig = whybox.plots.importance_comparison(cmp, max_display=9, ax=ax)

# %%
# MDI is computed on the training data, where the deep trees split on the noise to
# memorise rows; permutation importance and SHAP, measured on held-out rows, rank it at
# or near the bottom.
#
# Permutation importance with early stopping
# ------------------------------------------
# Repeats are added until the ranking of the top 3 is settled at 95% family-wise
# confidence, up to 30 repeats; each importance comes with a Student-t interval.

imp = inspection.permutation_importance(
    forest, X_eval, y_eval, n_repeats=30, early_stop=True, top_k=3, random_state=0
)
print(f"repeats used: {imp.importances.shape[1]} of 30")
print(imp.to_frame().round(4))

# %%
# Where does a simple scorecard fail?
# -----------------------------------
# A depth-2 decision tree is easy to read, but where does it go wrong?
# :func:`whybox.debugging.find_slices` tests every condition on one or two features
# (quartile bins) for an error rate above the overall one and keeps those that survive
# the false-discovery-rate control.

scorecard = DecisionTreeClassifier(max_depth=2, random_state=0).fit(credit.X_train, y_train)
slices = debugging.find_slices(scorecard, credit.X_test, y_test)
print(
    f"overall error rate {slices.overall_error_rate:.3f}; {slices.n_candidates} candidates tested"
)
for sl in slices.slices[:4]:
    print(f"  {sl.description:52s} n={sl.n:4d} error rate +{sl.difference:.3f}")
ax = plt.figure(figsize=(9.5, 4), layout="constrained").add_subplot()
fig = whybox.plots.slices(slices, max_display=6, ax=ax)

# %%
# The gradient-boosted model's most confident errors are the first rows to read:

errors = debugging.error_analysis(credit.model, credit.X_test, y_test, top_k=3)
for case in errors.high_confidence_errors:
    print(f"row {case.row}: true {case.true}, predicted {case.predicted} at {case.confidence:.2f}")

# %%
# Calibration
# -----------
# When the model says 0.8, is it right 80% of the time? The expected calibration error
# (ECE) is the average gap between confidence and accuracy over the bins.

cal = debugging.calibration(credit.model, credit.X_test, y_test)
print(f"ECE {cal.ece:.3f}, Brier score {cal.brier_score:.3f}")
ax = plt.figure(figsize=(5, 4.5), layout="constrained").add_subplot()
fig = whybox.plots.calibration(cal, ax=ax)

# %%
# Caveat
# ------
# A slice is an association with errors, found by testing many candidates: it points
# where to look (more data, a missing feature, a label problem), not at the cause.
# Permutation importance breaks correlations too: with correlated features, permute
# them together (``feature_groups="correlated"``) or both will look unimportant.
