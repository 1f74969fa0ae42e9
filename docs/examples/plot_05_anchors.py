"""
Anchors: IF-THEN rules that hold a prediction
=============================================

An anchor (Ribeiro, Singh & Guestrin, 2018) is a rule such as
``IF debt_ratio > 0.4 AND late_payments > 2 THEN denied`` under which the model keeps
its prediction on (nearly) every perturbation of the row: while the rule's conditions
hold, the other features can change as they do in the data, and the decision stays.
A bandit search adds conditions until the rule's *precision* clears a threshold with
statistical confidence; the *coverage* says how much of the data the rule applies to.
"""

# %%
# The credit model
# ----------------
# :func:`whybox.datasets.load_credit` trains a gradient-boosted classifier on synthetic
# loan applications (no real person is in them).

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import whybox
from whybox.datasets import load_credit

case = load_credit()
model, X_train, X_test = case.model, case.X_train, case.X_test
pred = model.predict(X_test)
print(X_test.columns.tolist())
print("approved share of held-out applicants:", round(float(pred.mean()), 3))

# %%
# Anchors for one denied and one approved applicant
# -------------------------------------------------
# The perturbations are drawn from the training data, one quartile bin per feature.

explainer = whybox.AnchorTabular(model, X_train, threshold=0.95, random_state=0, progress=False)
rows = [int(np.flatnonzero(pred == 0)[0]), int(np.flatnonzero(pred == 1)[0])]
anchors = explainer(X_test.iloc[rows])
# The model's classes are 0 and 1; ``case.class_names`` reads them as
# ("denied", "approved").
for a in anchors:
    print(case.class_names[int(a.prediction)], "|", a)
    lo, hi = a.precision_bounds
    print(f"   precision bounds [{lo:.3f}, {hi:.3f}], {a.n_model_rows} rows labelled by the model")

# %%
# ``to_frame`` gives one row per anchor, so several stack into a table:

pd.concat([a.to_frame() for a in anchors], ignore_index=True)

# %%
# Does the rule hold on real applicants?
# --------------------------------------
# The search measured precision on perturbations.
# :meth:`~whybox.anchors.AnchorTabular.holds` finds the held-out applicants the rule
# applies to, so we can check, with the model's own predictions, how often they get the
# anchored decision.

for a, label in zip(anchors, (0, 1), strict=True):
    covered = explainer.holds(a, X_test)
    share = (pred[covered] == label).mean() if covered.any() else float("nan")
    print(
        f"{case.class_names[label]}: rule holds on {covered.sum()} of {len(X_test)} held-out rows; "
        f"the model gives the anchored decision on {share:.3f} of them"
    )

# %%
# Perturbations where the rule holds but the model decides otherwise are kept as
# counter-examples (``examples_different``): the cases an anchor does not cover.

print(len(anchors[0].examples_same), "examples with the same decision,")
print(len(anchors[0].examples_different), "with a different one")

# %%
# The denied applicant's rule on the held-out applicants, drawn on two of its
# continuous features: the rule's rows (circled) sit where the model denies almost
# everyone, the rule's other conditions narrowing them further.

a = anchors[0]
fx, fy = [f for f in a.feature_names if X_test[f].nunique() > 20][:2]
covered = explainer.holds(a, X_test)
ax = plt.figure(figsize=(6.5, 4.5), layout="constrained").add_subplot()
for label, colour in ((0, "tab:red"), (1, "tab:blue")):
    rows_ = pred == label
    ax.scatter(
        X_test.loc[rows_, fx],
        X_test.loc[rows_, fy],
        s=6,
        alpha=0.4,
        color=colour,
        label=f"predicted {case.class_names[label]}",
    )
ax.scatter(
    X_test.loc[covered, fx],
    X_test.loc[covered, fy],
    s=40,
    facecolors="none",
    edgecolors="black",
    label="the anchor's rule holds",
)
ax.set(xlabel=fx, ylabel=fy)
ax.set_title("\n".join(textwrap.wrap(a.rule, 70)), fontsize=9)
ax.legend(fontsize=8)

# %%
# Caveat
# ------
# An anchor is a *sufficient* condition on the perturbation distribution, not a
# reason: it says the other features do not matter *while* the rule holds, and
# nothing about applicants outside it. Its precision is measured on the training
# data's quartile bins; a rule with tiny coverage can be precise and useless.
