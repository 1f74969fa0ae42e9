"""
Counterfactuals and recourse
============================

A counterfactual answers "what would have to be different for the model to decide
otherwise?" (Wachter, Mittelstadt & Russell, 2017): a row close to the applicant's
that the model gives the desired outcome. Useful counterfactuals respect the world:
some features cannot change (age, where one lives), some only move one way (years of
credit history only grow), and several diverse options beat one. *Recourse* (Ustun,
Spangher & Liu, 2019) is the cheapest such change under costs the user sets, spelled
out as actions.
"""

# %%
# A denied applicant
# ------------------

import matplotlib.pyplot as plt
import numpy as np

import whybox
from whybox.datasets import load_credit

case = load_credit()
model, X_train, X_test = case.model, case.X_train, case.X_test
pred = model.predict(X_test)
denied = X_test.iloc[np.flatnonzero(pred == 0)[:2]]
print(denied.T)

# %%
# Counterfactuals under constraints
# ---------------------------------
# ``age`` and ``zip_region`` are immutable, ``credit_history_years`` can only increase
# and ``late_payments`` is an integer. Every counterfactual returned has been re-checked
# with a real model call, so validity is 1 whenever one is found.

cf = whybox.CounterfactualExplainer(
    model,
    X_train,
    immutable=["age", "zip_region"],
    monotone={"credit_history_years": "increase"},
    integer=["late_payments"],
    random_state=0,
)
res = cf(denied, n_counterfactuals=3)
print(res.status)
print(res.metrics[["n_found", "validity", "proximity", "sparsity", "diversity", "plausibility"]])

# %%
# The first applicant's options, cheapest first (``probability`` is the model's
# probability of approval), and the features any of them changes:

print(res.counterfactuals[0].round(3).T)
print("features changed:", res.changes(0))

# %%
# The plot shows each option's changes against the original row:

ax = plt.figure(figsize=(7, 4), layout="constrained").add_subplot()
fig = whybox.plots.counterfactuals(res, 0, ax=ax)

# %%
# Check the constraints ourselves: no counterfactual moved an immutable feature or
# shortened the credit history.

for i, frame in enumerate(res.counterfactuals):
    orig = res.original.iloc[i]
    assert (frame["age"] == orig["age"]).all() and (frame["zip_region"] == orig["zip_region"]).all()
    assert (frame["credit_history_years"] >= orig["credit_history_years"]).all()
print("constraints hold for every counterfactual")

# %%
# Recourse: the cheapest set of actions
# -------------------------------------
# Costs per unit of change: 1 per 1,000 of income, 10 per unit of debt ratio (i.e. 0.1
# per percentage point), 2 per year of credit history. The result is re-checked by the
# model.

rec = cf.recourse(
    denied.iloc[[0]],
    costs={"income": 1 / 1000, "debt_ratio": 10, "credit_history_years": 2},
)
print(rec.status, "| cost", round(rec.cost, 2))
for action in rec.actions:
    print(" -", action)
print("model before/after:", rec.original_prediction, "->", rec.prediction)

# %%
# Caveat
# ------
# A counterfactual says what changes *the model's* decision, not what changes the
# applicant's creditworthiness: the model may reward a change (a smaller loan) that
# the world would not, and the actions assume the other features stay put when in
# reality they move together (a raise often comes with a new job). Immutable and
# monotone constraints are the user's responsibility; whybox enforces the ones given.
# And the cheapest counterfactual sits just over the decision boundary (a probability
# of approval near 0.5): a small change to the model can undo it.
