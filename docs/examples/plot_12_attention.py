"""
Attention maps, rollout, and why attention is not an explanation
================================================================

A transformer's attention weights say how much each token mixes in from each other
token. They are easy to read and tempting to treat as an explanation; they are not
one (Jain & Wallace, 2019): the weights describe the routing of information, not how
much a token *matters* to the prediction. whybox keeps them in their own package,
:mod:`whybox.attention`, and offers methods that connect them to the output.

We use whybox's demo: a one-layer transformer that classifies generated sentences as
positive or negative (the label is the majority sentiment of its words).
"""

# %%
# The model and its attention weights
# -----------------------------------

import matplotlib.pyplot as plt
import numpy as np
import torch

import whybox
from whybox.attention import attention_weights, attention_x_gradient, rollout_relevance
from whybox.datasets import load_text_transformer

text = load_text_transformer()
print(f"held-out accuracy: {text.test_accuracy:.3f}")
positive, negative = set(text.positive_words), set(text.negative_words)

# The interesting sentences hold words of both sentiments: the model must weigh them.
sentences = [
    s for s in text.test_sentences if set(s.split()) & positive and set(s.split()) & negative
][:20]
ids = text.encode(sentences)
maps = attention_weights(text.model, ids, tokenizer=text)
print("weights:", maps.weights.shape, "(samples, layers, heads, query tokens, key tokens)")
print(repr(sentences[0]))

# %%
# Each head's weights for the first sentence: row ``q`` is how token ``q`` mixes in the
# others. The classifier reads only the ``[CLS]`` token (row 0).

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
for head in range(2):
    whybox.plots.attention(maps, row=0, head=head, ax=axes[head])

# %%
# Rollout and attention x gradient for the [CLS] token
# ----------------------------------------------------
# *Attention rollout* (Abnar & Zuidema, 2020) multiplies the layers' attention,
# with the residual connection, into each token's share of ``[CLS]``; it has no
# target class and sums to 1. *Attention x gradient* (Chefer, Gur & Wolf, 2021) keeps
# only the attention that raises the predicted class's logit.

rollout = rollout_relevance(maps, query=0)
axg = attention_x_gradient(text.model, ids, tokenizer=text)
tokens = maps.tokens[0]
n = len(text.tokenize(sentences[0]))
print(f"{'token':12s} {'rollout':>8s} {'attn x grad':>12s}")
for k in range(n):
    print(f"{tokens[k]:12s} {rollout[0, k]:8.3f} {axg.values[0, k, 0]:12.4f}")

# %%
# Does the attention point at the words that decide?
# --------------------------------------------------
# A direct test on the 20 sentences: delete the word each method ranks highest and
# measure how much the margin of the predicted class (its logit minus the other's)
# falls, with the model itself. We also count how often that word is a sentiment word
# *of the predicted class*, i.e. one that argues for the decision.


def logits(batch):
    """The model's logits for a list of sentences."""
    with torch.no_grad():
        return text.model(text.encode(batch)).numpy()


def margin(values, cls):
    return values[:, cls] - values[:, 1 - cls]


before = logits(sentences)
pred = before.argmax(axis=1)
methods = {
    "raw attention (mean of heads)": lambda i, m: maps.weights[i, 0, :, 0, 1 : m + 1].mean(0),
    "rollout": lambda i, m: rollout[i, 1 : m + 1],
    "attention x gradient": lambda i, m: axg.values[i, 1 : m + 1, 0],
}
for name, scores in methods.items():
    drops, supports, sentiment = [], 0, 0
    for i, sentence in enumerate(sentences):
        words = sentence.split()
        top = int(np.argmax(scores(i, len(words))))
        shorter = " ".join(words[:top] + words[top + 1 :])
        after = logits([shorter])
        drops.append(margin(before[i : i + 1], pred[i])[0] - margin(after, pred[i])[0])
        supports += words[top] in (positive if pred[i] == 1 else negative)
        sentiment += words[top] in positive | negative
    print(
        f"{name:30s} top word: sentiment {sentiment}/20, for the decision {supports}/20; "
        f"mean margin drop {np.mean(drops):.2f}"
    )

# %%
# Raw attention finds the sentiment words, but often the one that argues *against* the
# decision: a weight has no sign. Attention x gradient, which involves the output,
# more often picks the word the decision rests on, and deleting it costs more.
#
# LIME on the same model, for comparison: it perturbs the words and watches the
# output, so its weights have a sign.


def predicted_probability(batch):
    """Class probabilities, the function LIME explains."""
    with torch.no_grad():
        return torch.softmax(text.model(text.encode(batch)), dim=1).numpy()


lime = whybox.LimeTextExplainer(
    predicted_probability,
    class_names=text.class_names,
    n_perturbations=500,
    random_state=0,
    progress=False,
)
lime_ex = lime(sentences[0])
order = np.argsort(-np.abs(lime_ex.values[0, :, 0]))
print("LIME explains", lime_ex.output_names[0], "for", repr(sentences[0]))
words0 = text.tokenize(sentences[0])
print(f"  {'word':10s} {'LIME':>7s} {'attn x grad':>12s}")
for j in order[:4]:
    word = lime_ex.feature_names[j]
    # attention x gradient of the word's first occurrence (token 0 is [CLS])
    print(
        f"  {word:10s} {lime_ex.values[0, j, 0]:+7.3f} {axg.values[0, words0.index(word), 0]:12.4f}"
    )

# %%
# Caveat
# ------
# Attention is not explanation. Raw weights show where information is routed, and a
# model can route through tokens that do not matter (a filler word, a separator) or be
# given very different attention with the same prediction. Rollout assumes information
# mixes linearly along attention paths. To explain an output, use a method that involves
# the output: attention x gradient, integrated gradients or LIME, and check it with a
# deletion test as above. Even those can disagree, as the table above shows for the
# first sentence (the
# :ref:`quality-checks example <sphx_glr_auto_examples_plot_13_quality_checks.py>`
# measures such disagreement).
