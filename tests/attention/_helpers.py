"""Shared builders of the attention tests: random maps, tiny transformers, references.

References are written independently of the code under test: rollout as explicit
products over the real tokens only, and attention recomputed by hand (autograd through
the hand-written probabilities) for the gradients.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np

from tests._requires import requires
from whybox.attention import AttentionMaps

torch = requires("torch")

nn = torch.nn


def random_maps(n=2, layers=3, heads=2, t=5, seed=0, pad_last=(0, 2)):
    """Row-stochastic random maps; sample i has its last pad_last[i] tokens padded."""
    rng = np.random.default_rng(seed)
    w = rng.random((n, layers, heads, t, t)) ** 3
    pad = np.zeros((n, t), dtype=bool)
    for i, k in enumerate(pad_last):
        if k:
            pad[i, t - k :] = True
    w = w * ~pad[:, None, None, None, :]  # no weight on padding keys, as a model gives
    w /= w.sum(-1, keepdims=True)
    return AttentionMaps(weights=w, layer_names=[f"l{i}" for i in range(layers)], padding_mask=pad)


def rollout_reference(maps, fusion, residual):
    """Rollout of each sample computed on its real tokens only, layer matrices multiplied."""
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}[fusion]
    n, _, _, t, _ = maps.shape
    out = np.zeros((n, t, t))
    for i in range(n):
        real = np.flatnonzero(~maps.padding_mask[i])
        mats = []
        for layer in range(maps.n_layers):
            a = fuse(maps.weights[i, layer][:, real][:, :, real], axis=0)
            if residual:
                a = 0.5 * a + 0.5 * np.eye(len(real))
            mats.append(a / a.sum(axis=1, keepdims=True))
        block = reduce(lambda acc, m: m @ acc, mats, np.eye(len(real)))
        out[i][np.ix_(real, real)] = block
    return out


class _CLSClassifier(nn.Module):
    """Embeddings -> a stack of post-norm encoder layers -> linear head on token 0."""

    def __init__(self, vocab=12, d=8, heads=2, layers=2, batch_first=True):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d, heads, dim_feedforward=16, dropout=0.0, batch_first=batch_first
            )
            for _ in range(layers)
        )
        self.head = nn.Linear(d, 3)
        self.batch_first = batch_first

    def forward(self, ids):
        x = self.embedding(ids)
        pad = ids == 0
        if not self.batch_first:
            x = x.transpose(0, 1)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return self.head(x[:, 0] if self.batch_first else x[0])


def tiny_classifier(batch_first=True, seed=0):
    torch.manual_seed(seed)
    return _CLSClassifier(batch_first=batch_first).double().eval()


IDS = torch.tensor([[1, 4, 5, 6, 7], [1, 8, 9, 0, 0], [1, 3, 3, 10, 0]])


def manual_forward(model, ids):
    """The classifier's forward with attention written out, returning the probabilities.

    They stay in the graph, so gradients with respect to them are total derivatives
    (through every later layer, later attention included), as in Chefer et al.
    """
    x = model.embedding(ids)
    pad = ids == 0
    probs = []
    for layer in model.layers:
        mha = layer.self_attn
        e, h = mha.embed_dim, mha.num_heads
        q, k, v = nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias).split(e, -1)
        q, k, v = (z.reshape(len(ids), -1, h, e // h).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(e // h)
        scores = scores.masked_fill(pad[:, None, None, :], -math.inf)
        p = torch.softmax(scores, dim=-1)
        probs.append(p)
        mixed = (p @ v).transpose(1, 2).reshape(len(ids), -1, e)
        x = layer.norm1(x + mha.out_proj(mixed))
        x = layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))
    return model.head(x[:, 0]), probs


def chefer_reference(probs, grads, pad, query_rows):
    """R = I; R += mean_h(A*dA)^+ @ R per layer; (R - I)[query] per sample, by loops."""
    n, t = pad.shape
    out = np.zeros((n, t))
    for i in range(n):
        r = np.eye(t)
        for a, g in zip(probs, grads, strict=True):
            cam = np.zeros((t, t))
            for head in range(a.shape[1]):
                cam += np.maximum(a[i, head] * g[i, head], 0.0)
            cam /= a.shape[1]
            cam[:, pad[i]] = 0.0
            cam[pad[i], :] = 0.0
            r = r + cam @ r
        out[i] = (r - np.eye(t))[query_rows[i]]
    return out


class UsesAveragedWeights(nn.Module):
    """A model that reads the head-averaged weights MultiheadAttention returns by default."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 4)
        self.mha = nn.MultiheadAttention(4, 2, batch_first=True)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = self.proj(x)
        mixed, avg = self.mha(h, h, h)  # need_weights=True, average_attn_weights=True
        return self.out((mixed + avg @ h).mean(1))
