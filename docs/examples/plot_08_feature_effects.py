"""
Partial dependence, ICE and ALE
===============================

How does the prediction change with one feature? Three answers:

- **partial dependence** (PD, Friedman 2001): set the feature to each grid value in
  *every* row, predict, and average;
- **ICE** curves (Goldstein et al., 2015): the same, one curve per row, which shows
  whether rows respond differently (an interaction) where the average hides it;
- **accumulated local effects** (ALE, Apley & Zhu, 2020): within narrow bins of the
  feature, the average change of the prediction as the feature moves across the bin,
  using only the rows that are in that bin, accumulated along the feature.

PD and ICE ask the model about rows that may not exist; ALE stays on the data. The
difference matters when features are correlated, as this example shows.
"""

# %%
# A gradient-boosted model of diabetes progression
# ------------------------------------------------
# 442 patients, 10 baseline measurements (bundled with scikit-learn); the target is a
# measure of disease progression one year later.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import train_test_split

import whybox
from whybox import inspection

data = load_diabetes(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
model = GradientBoostingRegressor(
    n_estimators=100, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=0
).fit(X_train, y_train)
print(f"held-out R²: {model.score(X_test, y_test):.2f}")

# %%
# PD with ICE for body-mass index
# -------------------------------
# ``kind="both"`` returns the average and the individual curves. Parallel ICE curves
# mean the feature acts the same way in every row.

pd_bmi = inspection.partial_dependence(model, X_train, "bmi", kind="both", grid_resolution=30)
print(
    "ICE curves:", pd_bmi.individual.shape, "| PD at the grid's ends:", pd_bmi.average[0, [0, -1]]
)
ax = plt.figure(figsize=(6, 4), layout="constrained").add_subplot()
fig = whybox.plots.partial_dependence(pd_bmi, max_ice_lines=60, ax=ax)

# %%
# ALE with a bootstrap band
# -------------------------
# The band shows how much the curve moves when the rows are resampled: with 331
# training rows, the wiggles inside it are noise.

ale_bmi = inspection.accumulated_local_effects(
    model, X_train, "bmi", n_bins=10, n_bootstrap=100, random_state=0
)
print("ALE range:", round(float(np.ptp(ale_bmi.effect)), 1), "| rows per bin:", ale_bmi.counts)
ax = plt.figure(figsize=(6, 4), layout="constrained").add_subplot()
fig = whybox.plots.ale(ale_bmi, ax=ax)

# %%
# Interactions: Friedman's H-statistic
# ------------------------------------
# A feature's overall H² is the share of the prediction's variance that its
# interactions with all the other features explain (0: none). Computed on a sample of
# 100 rows to stay fast.

h = inspection.h_statistic(model, X_train, max_samples=100, random_state=0)
order = np.argsort(-h.overall[0])[:4]
print({h.feature_names[j]: round(float(h.overall[0, j]), 3) for j in order})

# %%
# The caveat: correlated features
# -------------------------------
# Total cholesterol (``s1``) and LDL cholesterol (``s2``) are strongly correlated. To
# compute the PD of ``s1`` at a high value, PD pairs it with every patient's ``s2``,
# including low ones: patients who do not exist. The left panel shows the data (dots)
# and the points PD evaluates the model at (crosses); the right one compares PD with
# ALE, which only moves ``s1`` within a bin, among patients who have such values.

print(f"correlation of s1 and s2: {X_train['s1'].corr(X_train['s2']):.2f}")
pd_s1 = inspection.partial_dependence(model, X_train, "s1", grid_resolution=20)
ale_s1 = inspection.accumulated_local_effects(model, X_train, "s1", n_bins=10)

grid = pd_s1.grid_values[0]
gx, gy = np.meshgrid(grid, X_train["s2"].to_numpy())
# How far is each evaluated point from the nearest real patient (in standardised units)?
pts = np.c_[gx.ravel(), gy.ravel()] / X_train[["s1", "s2"]].std().to_numpy()
real = X_train[["s1", "s2"]].to_numpy() / X_train[["s1", "s2"]].std().to_numpy()
dist = np.sqrt(((pts[:, None, :] - real[None, :, :]) ** 2).sum(-1)).min(axis=1)
typical = np.sort(np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1)), axis=1)[:, 1]
share = (dist > np.quantile(typical, 0.99)).mean()
print(
    f"share of PD's evaluation points farther from any patient than 99% of patients are: {share:.2f}"
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.scatter(gx.ravel(), gy.ravel(), marker="x", s=4, color="0.75", label="PD evaluates here")
ax1.scatter(X_train["s1"], X_train["s2"], s=8, label="patients")
ax1.set(xlabel="s1 (total cholesterol)", ylabel="s2 (LDL)")
ax1.legend(loc="upper left")
pd_centred = pd_s1.average[0] - pd_s1.average[0].mean()
ax2.plot(grid, pd_centred, label="PD (centred)")
ax2.plot(ale_s1.grids[0], ale_s1.effect[0], label="ALE")
ax2.set(xlabel="s1", ylabel="effect on progression")
ax2.legend()
fig.tight_layout()

# %%
# Caveat
# ------
# With correlated features, trust ALE over PD: PD's curve partly describes how the model
# extrapolates to impossible rows. Neither is causal: a rising curve says the *model*
# predicts more progression for higher values, not that lowering a patient's value
# would lower their progression.
