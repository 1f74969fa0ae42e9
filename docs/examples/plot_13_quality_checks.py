"""
Testing an explanation: faithfulness, stability, sanity checks, agreement
=========================================================================

An explanation is a claim about a model, and claims can be tested. whybox measures:

- **additivity** (local accuracy): do the values add up to the model's own output?
- **faithfulness**: removing the features an explanation ranks first should change the
  prediction faster than removing features in a random order (deletion curves and
  AOPC, Samek et al. 2017);
- **stability**: does a stochastic explainer give the same answer for another seed?
- **sanity** (Adebayo et al., 2018): an explanation must change when the model is
  destroyed, here by refitting it on permuted labels;
- **agreement** between methods (Krishna et al., 2022): do SHAP and LIME name the same
  top features?
"""

# %%
# The model and its SHAP values
# -----------------------------

import matplotlib.pyplot as plt
import numpy as np

import whybox
from whybox import evaluate
from whybox.datasets import load_demo

case = load_demo()
model, X_train, X_test = case.model, case.X_train, case.X_test
rows = X_test.iloc[:30]
shap_ex = whybox.explain(model, rows, progress=False)

# %%
# Additivity and faithfulness in one call
# ---------------------------------------
# :func:`whybox.evaluate.quality` fills ``shap_ex.quality``. Additivity is also checked
# against the model library's own prediction (scikit-learn's ``decision_function``).

evaluate.quality(model, shap_ex, background=X_train, random_state=0)
add = shap_ex.quality["additivity"]
print(
    "additivity:",
    {k: add[k] for k in ("max_error", "passes")},
    "| library:",
    add["library"]["call"],
)
faith = shap_ex.quality["faithfulness"]
print(
    f"AOPC {faith['mean_aopc']:.3f} vs random orders {faith['mean_aopc_random']:.3f} "
    f"(gain {faith['gain']:.3f}) -> passes: {faith['passes_overall']}"
)

# %%
# The deletion curves behind that verdict: the model's log-odds as the top features
# are replaced by their training mean, against random orders.

f = evaluate.faithfulness(model, shap_ex, background=X_train, n_steps=15, random_state=0)
ax = plt.figure(figsize=(7, 4), layout="constrained").add_subplot()
fig = whybox.plots.deletion_curves(f, ax=ax)

# %%
# Stability of a stochastic explainer
# -----------------------------------
# TreeSHAP is exact and gives the same values every time. LIME samples: explain the
# same five rows with three seeds and compare the top-5 features.

stab = evaluate.seed_stability(
    lambda seed: whybox.LimeTabularExplainer(
        model, X_train, n_perturbations=1000, random_state=seed, progress=False
    ),
    rows.iloc[:5],
    seeds=(0, 1, 2),
    top_k=5,
)
print("LIME top-5 Jaccard across seeds per row:", np.round(stab.top_k_jaccard, 2))
print("LIME Spearman across seeds per row:    ", np.round(stab.spearman, 2))

# %%
# Sanity check: a model trained on noise must be explained differently
# --------------------------------------------------------------------
# ``kind="labels"`` refits a clone of the model on the rows given, with their labels
# permuted, and explains those rows again. If the explanation barely changes, it
# describes the data, not the model. The clone is refit on the training rows, so we
# pass those (TreeSHAP explains all 426 in a fraction of a second).

train_ex = whybox.explain(model, X_train, progress=False)
sanity = evaluate.model_randomization(
    model,
    lambda m, X: whybox.explain(m, X, progress=False),
    X_train,
    explanation=train_ex,
    y=case.y_train,
    kind="labels",
    random_state=0,
)
print("steps:", sanity.steps)
print(f"mean Spearman correlation with the original: {sanity.spearman.mean():.2f}")
print(f"mean top-5 sign agreement: {sanity.sign_agreement.mean():.2f}")
print("passes (explanation changed):", sanity.passes)

# %%
# Agreement between SHAP and LIME
# -------------------------------

lime_ex = whybox.LimeTabularExplainer(
    model, X_train, n_perturbations=1000, random_state=0, progress=False
)(rows.iloc[:5])
agree = evaluate.agreement({"TreeSHAP": shap_ex[:5], "LIME": lime_ex}, top_k=5)
print(agree.summary)
ax = plt.figure(figsize=(4.5, 3.5), layout="constrained").add_subplot()
fig = whybox.plots.disagreement_matrix(agree, ax=ax)

# %%
# Caveat
# ------
# These checks can fail an explanation, not certify it: a good AOPC with mean
# replacement still evaluates the model on rows that mix real and average values,
# and two methods that agree can both be wrong. Disagreement is expected when the
# methods answer different questions (LIME's local linear fit in probability space,
# SHAP's exact attribution of the log-odds): report which one you use and why.
