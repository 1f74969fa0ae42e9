"""
Inside the network: induction heads, sparse autoencoders and several inputs
===========================================================================

Attribution methods say which *inputs* an output depends on. Mechanistic
interpretability asks what happens *inside*: which components compute what, and
which directions of a layer's activations carry which features. Three tools of
:mod:`whybox.concepts`, each checked against something we know independently:

- **induction heads** (Olsson et al., 2022) in a two-layer attention-only
  transformer trained to continue repeated sequences: scores of each head's
  attention, patching of each head between a clean and a corrupted run, and the
  logit lens (nostalgebraist, 2020) on the residual stream;
- a **sparse autoencoder** (Gao et al., 2024; Bricken et al., 2023) on activations in
  superposition (Elhage et al., 2022), where the true feature directions are known;
- **several inputs**: integrated gradients of a model with an image and a metadata
  vector, whose attributions add up *jointly* to the change in the output.
"""

# %%
# A transformer that has learnt induction
# ---------------------------------------
# :func:`whybox.datasets.load_induction_transformer` trains a two-layer,
# two-heads-per-layer attention-only transformer on sequences in which a random block
# of tokens repeats (about 10-30 s on one CPU thread the first time; the weights are
# cached afterwards). On a repeated random sequence ``r r`` the first half cannot be
# predicted, the second can: by *induction* (find the earlier copy of the current
# token, predict the token that followed it).

import matplotlib.pyplot as plt
import numpy as np
import torch

import whybox
from whybox.concepts import (
    SparseAutoencoder,
    attention_patterns,
    head_patching,
    head_scores,
    logit_lens,
)
from whybox.datasets import load_induction_transformer, make_superposition
from whybox.gradients import IntegratedGradients

induction = load_induction_transformer()
half = induction.half_length
print(f"{induction.vocab_size} token ids, sequences r r of 2 x {half} tokens")
print(f"loss on the random half: {induction.first_half_loss:.2f} nats (ln 64 = {np.log(64):.2f})")
print(f"loss on the repeat     : {induction.second_half_loss:.2f} nats")

# %%
# Which head does what?
# ---------------------
# :func:`~whybox.concepts.head_scores` measures, for every head, the two halves of
# the circuit: *prefix matching* (attention from a token to the token that followed
# its earlier copy: the induction head) and *previous token* (attention to the token
# just before: the head that lets the induction head's keys match).

sequences = induction.sample(64, random_state=1)
scores = head_scores(induction.model, sequences)
print("prefix matching (layers x heads):\n", np.round(scores.prefix_matching, 2))
print("previous token  (layers x heads):\n", np.round(scores.previous_token, 2))
for name, table in [
    ("induction", scores.prefix_matching),
    ("previous-token", scores.previous_token),
]:
    layer, head = np.unravel_index(np.argmax(table), table.shape)
    print(f"strongest {name} head: layer {layer}, head {head} (score {table[layer, head]:.2f})")

# %%
# The patterns of one repeated sequence. Layer 0 head 1 attends one token back (a
# sub-diagonal); both heads of layer 1 attend to the diagonal offset by the half
# length: the token after the earlier copy. (:func:`whybox.plots.attention_heads`
# draws the same grid, titled with the scores, as a figure of its own.)

maps = attention_patterns(induction.model, sequences[:1])
fig, axes = plt.subplots(2, 2, figsize=(9, 8.5), layout="constrained")
for layer in range(2):
    for head in range(2):
        whybox.plots.attention(maps, row=0, layer=layer, head=head, ax=axes[layer, head])
        axes[layer, head].set_title(f"layer {layer}, head {head}", fontsize=9)

# %%
# Attention patterns are correlational. Patching is causal: run a corrupted input
# ``r' r`` (the second half is the same tokens, but no longer a repeat) and put one
# head's output from the clean run ``r r`` back in. The share of the clean-vs-corrupted
# logit difference that comes back says how much that head *suffices*; the reverse
# (clean run, one head corrupted) says how much it is *needed*.

clean, corrupted = induction.sample_pairs(64, random_state=2)
patching = head_patching(induction.model, clean, corrupted)
print("restored by the clean head alone (sufficiency):\n", np.round(patching.restored_fraction, 2))
print("destroyed by corrupting the head (necessity):\n", np.round(patching.destroyed_fraction, 2))
print("restored by a whole layer:", np.round(patching.layer_restored_fraction, 2))

# %%
# The two layer-1 heads share the induction job (each restores about half, the layer
# all of it). Layer 0 head 1 restores nothing by itself, since its output only matters
# through the induction heads' keys, yet corrupting it destroys most of the effect:
# the previous-token head.
#
# The logit lens reads the residual stream after each block through the model's own
# unembedding: how likely the correct next token already is at each stage.

lens = logit_lens(induction.model, sequences)
# position t predicts token t + 1; the repeat is predictable from position `half` on
on_repeat = lens.next_token_probability[:, :, half:].mean(axis=(1, 2))
on_random = lens.next_token_probability[:, :, : half - 1].mean(axis=(1, 2))
for stage, p_rep, p_rand in zip(lens.stage_names, on_repeat, on_random, strict=True):
    print(f"{stage:10s} P(correct next token): repeat {p_rep:.3f}, random half {p_rand:.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
positions = np.arange(1, 2 * half)
for stage, probability in zip(lens.stage_names, lens.next_token_probability, strict=True):
    ax.plot(positions, probability.mean(axis=0), marker="o", markersize=3, label=stage)
ax.axvline(half + 0.5, color="grey", linestyle=":")
ax.set_xlabel("position of the predicted token")
ax.set_ylabel("P(correct next token)")
ax.set_title("Logit lens: the repeat becomes predictable only after block 1")
ax.legend()

# %%
# Only after block 1, the block of the induction heads, is the repeat predictable
# (chance is 1/64 = 0.016): the circuit needs both layers, as the patching said.
#
# Caveat
# ~~~~~~
# A circuit found in a toy model trained on a toy task is a clean, checkable story,
# and a *hypothesis* about larger models, not a proof: there, heads share jobs with
# many others, the same behaviour can run through several paths, and scores such as
# prefix matching can be high for heads whose effect on the output is small. Test
# each claim causally (patching, ablation) in the model you care about.

# %%
# A sparse autoencoder on features in superposition
# -------------------------------------------------
# :func:`whybox.datasets.make_superposition` draws 64 sparse features (each on with
# probability 0.03) along 64 random unit directions in only 16 dimensions: more
# features than dimensions, so no basis of the space is the features. A sparse
# autoencoder (SAE) learns a larger dictionary of directions (here 128) and explains
# each vector by a few of them (TopK: at most ``k = 4``). Because the true directions
# are known, we can check whether the SAE's decoder rows found them.

data = make_superposition(20000, n_true_features=64, n_dims=16, random_state=0)
print("activations:", data.activations.shape, "| true directions:", data.directions.shape)
print(f"features on per vector: {(data.features > 0).sum(axis=1).mean():.2f} on average")

sae = SparseAutoencoder(
    128, k=4, learning_rate=3e-3, batch_size=256, epochs=20, dead_window=200, random_state=0
).fit(data.activations)
metrics = sae.evaluate(data.activations)
print(
    f"L0 {metrics.l0:.2f} | explained variance {metrics.explained_variance:.3f} "
    f"| dead latents {metrics.dead_fraction:.1%}"
)

# %%
# Ground truth: for each true direction, the best cosine similarity with a decoder row
# ``W_dec`` (unit rows). For comparison, the same with 128 random unit directions: in
# 16 dimensions a random dictionary also comes somewhat close to any direction.

best = (data.directions @ sae.W_dec.T).max(axis=1)
rng = np.random.default_rng(1)  # not 0: make_superposition's seed
random_rows = rng.standard_normal((128, 16))
random_rows /= np.linalg.norm(random_rows, axis=1, keepdims=True)
best_random = (data.directions @ random_rows.T).max(axis=1)
print(f"mean best cosine, SAE decoder     : {best.mean():.3f}")
print(f"mean best cosine, random directions: {best_random.mean():.3f}")
print(f"true features with a latent at cosine > 0.9: {(best > 0.9).sum()} of {len(best)}")

fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
bins = np.linspace(0, 1, 41)
ax.hist(best_random, bins=bins, alpha=0.6, label="random dictionary")
ax.hist(best, bins=bins, alpha=0.6, label="SAE decoder rows")
ax.set_xlabel("best cosine similarity with a true feature direction")
ax.set_ylabel("true features")
ax.legend(loc="upper left")

# %%
# Does the matching latent also *fire* with its feature? The latent whose decoder row
# is closest to feature 0 should be on when feature 0 is clearly on, and off otherwise.
# (With at most ``k`` latents per vector, a weak feature value can lose its place to
# the other features of the vector.)

latent = int(np.argmax(data.directions[0] @ sae.W_dec.T))
codes = sae.encode(data.activations)[:, latent]
value = data.features[:, 0]
print(f"latent {latent} fires on")
print(f"  {np.mean(codes[value > 0.3] > 0):6.1%} of the vectors with feature 0 above 0.3")
print(f"  {np.mean(codes[(value > 0) & (value <= 0.3)] > 0):6.1%} of those with it in (0, 0.3]")
print(f"  {np.mean(codes[value == 0] > 0):6.1%} of those with it off")
print(f"correlation with the feature's value: {np.corrcoef(codes, value)[0, 1]:.2f}")

# %%
# Caveat
# ~~~~~~
# An SAE's latents are a dictionary the optimiser found, not the model's features by
# definition: another seed, dictionary size or ``k`` gives another dictionary, some
# latents split or merge features, and some are dead. Here a ground truth says which
# latents are right; in a real model there is none, so a latent that *looks*
# interpretable (:meth:`~whybox.concepts.SparseAutoencoder.top_activations`) still
# needs causal checks: clamp it with :meth:`~whybox.concepts.SparseAutoencoder.steer`
# or ablate it, and see whether the output changes as the interpretation predicts.

# %%
# A model with several inputs
# ---------------------------
# Many models take more than one tensor: here a small image (1 x 6 x 6) and a vector of
# 4 metadata values, plus a mask that says which metadata values were observed.
# Attribution methods of :mod:`whybox.gradients` take a tuple ``X`` (one tensor per
# forward argument, in order) and return one :class:`~whybox.Explanation` per input;
# ``additional_forward_args`` are passed after the inputs unchanged and are not
# explained. We train the model briefly on a made-up rule: the class is 1 when the
# image's top-left quadrant is bright and the first metadata value, if observed, is
# high.


class ImageAndMetadata(torch.nn.Module):
    """A convolution on the image, a linear layer on the masked metadata, one head."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.meta = torch.nn.Linear(4, 8)
        self.head = torch.nn.Linear(16 + 8, 2)

    def forward(self, image, metadata, mask):
        seen = torch.relu(self.pool(torch.relu(self.conv(image)))).flatten(1)
        known = torch.relu(self.meta(metadata * mask))
        return self.head(torch.cat([seen, known], dim=1))


torch.manual_seed(0)
n = 512
images = torch.rand(n, 1, 6, 6)
metadata = torch.randn(n, 4)
mask = (torch.rand(n, 4) > 0.25).float()
evidence = images[:, 0, :3, :3].mean(dim=(1, 2)) - 0.5 + 0.3 * metadata[:, 0] * mask[:, 0]
labels = (evidence > 0).long()

two_inputs = ImageAndMetadata()
optimiser = torch.optim.Adam(two_inputs.parameters(), lr=0.01)
for _ in range(300):
    optimiser.zero_grad()
    loss = torch.nn.functional.cross_entropy(two_inputs(images, metadata, mask), labels)
    loss.backward()
    optimiser.step()
two_inputs.eval()
with torch.no_grad():
    accuracy = (two_inputs(images, metadata, mask).argmax(1) == labels).float().mean()
print(f"training accuracy: {accuracy:.3f}")

# %%
# Integrated gradients of class 1 for 8 samples, with zero baselines for both inputs.
# ``completeness_tolerance=1e-3`` integrates a sample again with twice the steps while
# its completeness gap is above 0.1% of the output difference, up to ``max_steps=400``
# (the ReLUs make the path piecewise linear, with kinks a fixed rule can miss).

X = (images[:8], metadata[:8])
ig_image, ig_metadata = IntegratedGradients(two_inputs, completeness_tolerance=1e-3)(
    X, target=1, additional_forward_args=(mask[:8],)
)
print("image values:", ig_image.values.shape, "| metadata values:", ig_metadata.values.shape)

# %%
# Completeness holds *jointly*: the image's and the metadata's attributions together
# add up to ``f(x) - f(baseline)``, which we compute with the model itself.

with torch.no_grad():
    at_x = two_inputs(images[:8], metadata[:8], mask[:8])[:, 1]
    at_baseline = two_inputs(torch.zeros(8, 1, 6, 6), torch.zeros(8, 4), mask[:8])[:, 1]
image_part = ig_image.values.reshape(8, -1).sum(axis=1)
metadata_part = ig_metadata.values.reshape(8, -1).sum(axis=1)
print("image share      :", np.round(image_part, 3))
print("metadata share   :", np.round(metadata_part, 3))
print("sum of both      :", np.round(image_part + metadata_part, 3))
print("f(x) - f(baseline):", np.round((at_x - at_baseline).numpy(), 3))
print("steps used        :", ig_image.quality["n_steps"].ravel().astype(int))
gap = ig_image.quality["relative_completeness_delta"].max()
print(f"largest relative completeness gap: {gap:.1e}")

# %%
# The mask is a forward argument, not an input: a metadata value the mask hides
# cannot move the output, and its attribution is exactly zero. The observed first
# value carries most of the metadata's attribution, as the rule says.

values = ig_metadata.values[..., 0]
hidden = mask[:8].numpy() == 0
print(f"largest |attribution| of a hidden metadata value: {np.abs(values[hidden]).max():.1e}")
print("mean |attribution| per metadata value:", np.round(np.abs(values).mean(axis=0), 3))

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8), layout="constrained")
for i in range(4):
    whybox.plots.image(ig_image, images[:8].numpy(), row=i, sign="all", ax=axes[i])
    axes[i].set_title(f"sample {i}: image part {image_part[i]:+.2f}", fontsize=9)

# %%
# Caveat
# ~~~~~~
# Joint completeness says nothing about how the total is split *between* the inputs:
# that split depends on the baselines (here zeros for both; an image baseline of
# 0.5 grey would move attribution between the image and the metadata) and on the
# path, which moves all inputs at once. Choose each input's baseline deliberately and
# report it; compare the inputs' shares only under the same baselines.
