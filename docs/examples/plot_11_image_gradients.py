"""
Integrated gradients and Grad-CAM on an image classifier
========================================================

For a PyTorch model, whybox's gradient methods return the same
:class:`~whybox.Explanation` as the Shapley explainers, with values shaped like the
input. Two complementary views of a small CNN that reads 8x8 handwritten digits:

- **integrated gradients** (Sundararajan, Taly & Yan, 2017): the gradient averaged along
  the straight path from a baseline (a black image) to the input, times the
  difference. They satisfy *completeness*: the attributions add up to
  ``f(input) - f(baseline)``, which we check against the model's own output;
- **Grad-CAM** (Selvaraju et al., 2017): a convolutional layer's activation maps,
  weighted by the average gradient of the class score, upsampled to the image: coarse,
  class-specific, and cheap.
"""

# %%
# The digits CNN
# --------------
# :func:`whybox.datasets.load_digits_cnn` trains a two-layer CNN on the digits bundled
# with scikit-learn in a few seconds (no download).

import matplotlib.pyplot as plt
import numpy as np
import torch

import whybox
import whybox.gradients as wg
from whybox.datasets import load_digits_cnn

digits = load_digits_cnn()
print(digits.model)
print(f"held-out accuracy: {digits.test_accuracy:.3f}")
X = digits.X_test[:8]

# %%
# Integrated gradients, checked against the model
# -----------------------------------------------
# ``target=None`` explains each image's predicted class. whybox raises the number of
# integration steps for any image whose completeness gap is above 1% of the output
# difference.

ig = wg.IntegratedGradients(digits.model)(X)
print("values:", ig.values.shape, "axes:", ig.axes)
with torch.no_grad():
    logits = digits.model(torch.from_numpy(X)).numpy()
    at_baseline = digits.model(torch.zeros_like(torch.from_numpy(X))).numpy()
predicted = logits.argmax(axis=1)
expected = logits[np.arange(len(X)), predicted] - at_baseline[np.arange(len(X)), predicted]
total = ig.values.reshape(len(X), -1).sum(axis=1)
print("predicted:", predicted, "| true:", digits.y_test[:8])
print("sum of attributions    :", np.round(total, 3))
print("f(x) - f(black image)  :", np.round(expected, 3))
print("relative completeness gap:", np.round(ig.quality["relative_completeness_delta"].ravel(), 4))

# %%
# Grad-CAM on the second convolution
# ----------------------------------

cam = wg.GradCAM(digits.model, "conv2")(X)
print("Grad-CAM values:", cam.values.shape)

# %%
# Each column is one test image: the digit, its integrated gradients (red raises the
# predicted class's score, blue lowers it) and its Grad-CAM map.

fig, axes = plt.subplots(3, 6, figsize=(10, 5.4), layout="constrained")
for i in range(6):
    axes[0, i].imshow(X[i, 0], cmap="gray_r")
    axes[0, i].set_title(f"label {digits.y_test[i]}, pred {predicted[i]}", fontsize=8)
    whybox.plots.image(ig, X, row=i, sign="all", ax=axes[1, i])
    axes[1, i].set_title("integrated gradients", fontsize=8)
    whybox.plots.image(cam, X, row=i, ax=axes[2, i])
    axes[2, i].set_title("Grad-CAM", fontsize=8)
for ax in axes.ravel():
    ax.set_axis_off()

# %%
# Other gradient methods take the same call: ``wg.Saliency``, ``wg.InputXGradient``,
# ``wg.SmoothGrad``, ``wg.GradientShap``, ``wg.DeepLift``, ``wg.DeepShap`` and
# ``wg.GradCAMPlusPlus``, each ``explainer(X, target=...)``.

sal = wg.Saliency(digits.model)(X)
print("saliency:", sal.values.shape, sal.method)

# %%
# Caveat
# ------
# A map that looks like the digit is not evidence that it explains the model: some
# gradient methods produce nearly the same picture for a network with random weights
# (Adebayo et al., 2018). Run the sanity checks (see the :ref:`quality-checks example
# <sphx_glr_auto_examples_plot_13_quality_checks.py>` and
# :func:`whybox.evaluate.model_randomization`) before reading a map. The baseline is a
# choice too: integrated gradients explain the difference from *a black image*, and say
# nothing about black pixels, which are never credited.
