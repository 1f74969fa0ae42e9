"""
A fairness audit with proxy detection
=====================================

:func:`whybox.datasets.load_credit` generates loan applications with a **known, planted
bias**: the historical decisions the model learnt from penalised group "B", and the
feature ``zip_region`` is correlated with the group. The model never sees the group,
yet it can reproduce the bias through that proxy. An audit should find both: a gap in
outcomes between the groups, and the feature that carries it. The control data set
(``biased=False``) should show neither.
"""

# %%
# Group metrics: demographic parity and equalized odds
# ----------------------------------------------------
# Selection rate, true and false positive rates per group, their differences and
# ratios with bootstrap intervals, and the four-fifths rule.

import matplotlib.pyplot as plt

import whybox
from whybox import fairness
from whybox.datasets import load_credit

case = load_credit()
pred = case.model.predict(case.X_test)
gm = fairness.group_metrics(case.y_test, pred, case.group_test, random_state=0)
print(gm.by_group[["count", "selection_rate", "base_rate", "tpr", "fpr", "accuracy"]].round(3))

# %%

cols = ["metric", "difference", "difference_ci_low", "difference_ci_high", "ratio"]
print(gm.disparities[cols].round(3).to_string(index=False))
ff = gm.four_fifths
print(
    f"four-fifths rule: selection-rate ratio {ff['ratio']:.2f} "
    f"(95% interval {ff['ci_low']:.2f}-{ff['ci_high']:.2f}) -> passed={ff['passed']}"
)
ax = plt.figure(figsize=(7, 4), layout="constrained").add_subplot()
fig = whybox.plots.disparities(gm, ax=ax)

# %%
# Which feature stands in for the group?
# --------------------------------------
# A proxy must both *predict* the group (strength: out-of-fold Gini of a shallow tree
# on the feature alone) and *be used* by the model (reliance: its share of the mean
# absolute SHAP value). Each alone is not enough: age may correlate with the group and
# matter little, and income may matter a lot and say nothing about the group.

proxies = fairness.proxy_detection(case.model, case.X_test, case.group_test, random_state=0)
print(proxies.table.round(3).head(5))
print("flagged:", proxies.flagged, "| planted:", case.proxy)
for finding in proxies.findings:
    print("-", finding)

# %%
# The control: the same generator without the historical penalty
# ---------------------------------------------------------------

fair = load_credit(biased=False)
fair_pred = fair.model.predict(fair.X_test)
fair_gm = fairness.group_metrics(fair.y_test, fair_pred, fair.group_test, random_state=0)
dp = fair_gm.disparities.set_index("metric").loc["demographic_parity"]
print(
    f"demographic parity difference: {dp['difference']:.3f} "
    f"[{dp['difference_ci_low']:.3f}, {dp['difference_ci_high']:.3f}]"
)
fair_proxies = fairness.proxy_detection(fair.model, fair.X_test, fair.group_test, random_state=0)
print("flagged:", fair_proxies.flagged)

# %%
# Reason codes for denied applicants
# ----------------------------------
# Adverse-action notices list the principal reasons for a denial; with SHAP values
# these are the features that pushed the applicant's score down the most.

ex = whybox.explain(case.model, case.X_test.iloc[:20], progress=False)
denied = [i for i in range(20) if pred[i] == 0][:2]
codes = fairness.reason_codes(ex, rows=denied, top_k=3)
for row in denied:
    print(f"applicant {row}:")
    for reason in codes.for_row(row):
        print("   ", reason)

# %%
# Caveat
# ------
# Group metrics describe outcomes, not causes: a selection-rate gap may come from a
# difference in base rates, and the criteria conflict: when base rates differ, a score
# cannot in general be calibrated in every group and have equal error rates across
# groups (Kleinberg, Mullainathan & Raghavan 2016; Chouldechova 2017). A proxy flag says
# the model leans on a feature that reveals the group; whether using it is justified is
# a question for people, not for a library. And on real data the truth is not planted:
# these are the checks, not the verdict.
