"""
The audit: one call, one self-contained report
==============================================

:func:`whybox.audit` runs the checks of the other examples on one model and gathers
them into a report: performance, confusion and error analysis, global importance
(SHAP beside permutation importance), where the model fails, feature effects, local
explanations of chosen rows (SHAP, LIME, an anchor, counterfactuals), the tests of
every explanation, and what an interpretable model would cost. ``Report.save`` writes
``report.html`` (one file, nothing fetched when it is opened, interactive: pick any
row to draw its waterfall) and ``report.json`` (the same figures as numbers) as one
pair.

The command line does the same: ``whybox audit --demo --out report.html``.
"""

# %%
# Audit the demo model
# --------------------
# The training data is the reference for LIME, the anchors, the counterfactuals and
# the quality checks, and the interpretable challengers are fitted on it. ``rows``
# picks the rows explained locally (one here, to keep the example fast).

import base64
import io
import json
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import whybox
from whybox.datasets import load_demo
from whybox.io import pair_matches

case = load_demo()
report = whybox.audit(
    case.model,
    case.X_test,
    case.y_test,
    X_train=case.X_train,
    y_train=case.y_train,
    rows=[0],
    class_names=case.class_names,
    progress=False,
)
print(report.title)

# %%
# The sections and their summaries
# --------------------------------

for section in report.sections:
    print(f"[{section.id}] {section.title}")
    if section.summary:
        print("    ", section.summary)

# %%
# Save the pair
# -------------
# Both files go into a temporary folder here; they carry one report id, which
# :func:`whybox.io.pair_matches` checks.

folder = Path(tempfile.mkdtemp())
html_path, json_path = report.save(folder / "report.html")
for path in (html_path, json_path):
    print(f"{path.name:12s} {path.stat().st_size / 1e6:.2f} MB")
print("the two files belong together:", pair_matches(html_path, json_path))

# %%
# The JSON holds the figures as numbers: for example the quality section's verdicts.

doc = json.loads(json_path.read_text())
print(sorted(doc))
print("report id:", doc["meta"]["report id"])
shutil.rmtree(folder)  # the example leaves nothing behind
quality = report.section("quality")
print(quality.title, "->", quality.summary)

# %%
# Every figure of the HTML is a PNG with the numbers behind it; here is the first
# figure of the SHAP section as the report shows it.

figure = next(b for b in report.section("shap").blocks if b.kind == "figure")
print(figure.title, "| numbers in the JSON:", sorted(figure.data)[:5])
image = plt.imread(io.BytesIO(base64.b64decode(figure.png_base64)), format="png")
ax = plt.figure(figsize=(8, 8 * image.shape[0] / image.shape[1])).add_axes((0, 0, 1, 1))
ax.imshow(image)
ax.set_axis_off()

# %%
# Caveat
# ------
# The audit explains and tests the model on the data you give it: held-out rows for
# performance and importance, training rows as the reference. It cannot tell whether
# the data represent the people the model will be used on, and a report that passes
# every check still describes associations the model learnt, not causes.
