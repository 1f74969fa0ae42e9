"""Workload W12 "real pipeline": a saved scikit-learn Pipeline on a table with text columns.

The data: ``whybox.datasets.make_applications`` (9 columns, 5 of them text, missing
numbers, a planted log-odds), split into training rows and 1,000 held-out rows. The
model: ``Pipeline(ColumnTransformer([OneHotEncoder(handle_unknown="ignore") on the text
columns], remainder=...), final)`` with four final steps of 100 trees each:
``GradientBoostingClassifier`` (which reads no missing values, so the remainder is a
median ``SimpleImputer``), ``HistGradientBoostingClassifier``, ``XGBClassifier`` and
``LGBMClassifier`` (the remainder passed through with its NaN). Each pipeline is saved
with skops (XGBoost and LightGBM types need ``--trust-model-file``), its rows as CSV.

Timed:

- ``whybox audit --model m.skops --data test.csv --target approved [--train train.csv]``
  in a fresh process per run (imports included, as a user runs it); ``--train`` is
  given when the installed CLI has it. The report's own clock gives the seconds of the
  explanation quality checks.
- ``whybox.TreeExplainer(pipeline)`` on all held-out rows (path-dependent), and
  interventional against ``n_background`` training rows: the median of ``repeats``
  calls after one warm-up call (numba compiles once per process).

Checked: the path-dependent values plus the base value equal the pipeline's own
margin (``decision_function``; XGBoost ``predict(output_margin=True)``, LightGBM
``predict(raw_score=True)``) within 1e-9, and on ``n_exact`` rows the interventional
values equal ``whybox.ExactExplainer`` on the whole pipeline with the same background
within 1e-9 (the exact enumeration sends 2^9 coalitions x the background through the
pipeline per row, so it runs on a few rows). Both are in the margin: ExactExplainer gets
the pipeline's own margin call as a function. XGBoost adds its trees in float32, so its
own margin, and Exact's values from it, are judged within 1e-5.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import namedtuple
from pathlib import Path

import numpy as np
from pandas.api.types import is_numeric_dtype
from sklearn.base import BaseEstimator, ClassifierMixin

Config = namedtuple("Config", "n_train n_test n_trees n_background n_exact repeats finals")

FINALS = ("gbc", "hgb", "xgb", "lgbm")
FULL = Config(3000, 1000, 100, 100, 20, 3, FINALS)
QUICK = Config(1000, 1000, 100, 100, 5, 1, FINALS)
SEED = 0
TOLERANCE = 1e-9
XGBOOST_TOLERANCE = 1e-5
TARGET = "approved"


def make_split(cfg: Config):
    """Training and held-out rows of the synthetic applications, stratified by decision."""
    from sklearn.model_selection import train_test_split

    from whybox.datasets import make_applications

    X, y = make_applications(cfg.n_train + cfg.n_test, random_state=SEED)
    parts = train_test_split(X, y, test_size=cfg.n_test, stratify=y, random_state=SEED)
    return tuple(p.reset_index(drop=True) for p in parts)


def make_pipeline(final: str, text_columns: list[str], n_trees: int, threads: int | None):
    """The W12 pipeline with the named final step (not fitted)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder(handle_unknown="ignore")
    remainder: object = "passthrough"
    if final == "gbc":
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(n_estimators=n_trees, random_state=SEED)
        remainder = SimpleImputer(strategy="median")  # GradientBoosting reads no NaN
    elif final == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=n_trees, early_stopping=False, random_state=SEED
        )
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)  # reads no sparse
    elif final == "xgb":
        from xgboost import XGBClassifier

        model = XGBClassifier(n_estimators=n_trees, max_depth=4, n_jobs=threads, random_state=SEED)
    elif final == "lgbm":
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(n_estimators=n_trees, n_jobs=threads or -1, verbose=-1,
                               random_state=SEED)  # fmt: skip
    else:
        raise ValueError(f"final must be one of {FINALS}, got {final!r}")
    prepare = ColumnTransformer([("text", encoder, text_columns)], remainder=remainder)
    return Pipeline([("prepare", prepare), ("model", model)])


def library_margin(pipeline, X) -> np.ndarray:
    """The pipeline's own margin (log-odds of class 1), by the final library's public call."""
    name = type(pipeline[-1]).__name__
    if name == "XGBClassifier":
        return np.asarray(pipeline.predict(X, output_margin=True), dtype=np.float64)
    if name == "LGBMClassifier":
        return np.asarray(pipeline.predict(X, raw_score=True), dtype=np.float64)
    return np.asarray(pipeline.decision_function(X), dtype=np.float64)


class _Margin(ClassifierMixin, BaseEstimator):
    """The fitted pipeline whose ``decision_function`` is its final library's own margin
    (a Pipeline ending in XGBoost has none), so ExactExplainer explains the space TreeSHAP
    does. Not fitted again: it only forwards."""

    def __init__(self, pipeline=None):
        self.pipeline = pipeline

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self):
        return self.pipeline.classes_

    @property
    def feature_names_in_(self):
        return self.pipeline.feature_names_in_

    @property
    def n_features_in_(self):
        return self.pipeline.n_features_in_

    def fit(self, X, y):
        return self

    def predict(self, X):
        return self.pipeline.predict(X)

    def decision_function(self, X):
        return library_margin(self.pipeline, X)

    def predict_proba(self, X):
        return self.pipeline.predict_proba(X)


def has_train_flag() -> bool:
    """Whether the installed ``whybox audit`` takes ``--train``."""
    out = subprocess.run(
        [sys.executable, "-m", "whybox", "audit", "--help"], capture_output=True, text=True
    )
    return "--train" in out.stdout


def time_audit(folder: Path, final: str, use_train: bool, repeats: int) -> dict:
    """Median wall seconds of ``whybox audit`` in fresh processes, and the report's clock."""
    walls, metas = [], []
    for i in range(repeats):
        out = folder / f"report_{final}_{i}.html"
        command = [
            sys.executable, "-m", "whybox", "audit", "--model", str(folder / f"{final}.skops"),
            "--data", str(folder / "test.csv"), "--target", TARGET, "--out", str(out), "--quiet",
        ]  # fmt: skip
        if use_train:
            command += ["--train", str(folder / "train.csv")]
        if final in ("xgb", "lgbm"):
            command.append("--trust-model-file")  # skops trusts no XGBoost/LightGBM type
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        metas.append(json.loads(out.with_suffix(".json").read_text())["meta"])
    meta = metas[sorted(range(len(walls)), key=walls.__getitem__)[len(walls) // 2]]  # median run's
    return {
        "wall": statistics.median(walls),
        "walls": walls,
        "audit": float(meta["audit time (s)"]),
        "quality": float(meta["explanation quality checks (s)"]),
        "explainer": meta.get("explainer", "?"),
    }


def median_time(call, repeats: int):
    """(median seconds of ``repeats`` calls after one warm-up call, the last result)."""
    result = call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def check_shap(pipeline, X_train, X_test, cfg: Config, threads: int | None) -> dict:
    """TreeSHAP of the pipeline: timings and the two exactness checks."""
    import whybox

    out: dict = {}
    explainer = whybox.TreeExplainer(pipeline, n_jobs=threads, progress=False)
    out["path_s"], ex = median_time(lambda: explainer(X_test), cfg.repeats)
    out["method"] = ex.method
    out["chosen_by"] = ex.params.get("chosen_by", "")
    total = ex.base_values[:, 0] + ex.values[:, :, 0].sum(axis=1)
    out["path_vs_library"] = float(np.max(np.abs(total - library_margin(pipeline, X_test))))
    out["n_features"] = ex.values.shape[1]
    background = X_train.sample(cfg.n_background, random_state=SEED).reset_index(drop=True)
    inter = whybox.TreeExplainer(
        pipeline, background=background, feature_perturbation="interventional",
        n_jobs=threads, progress=False,
    )  # fmt: skip
    out["interventional_s"], ex_i = median_time(lambda: inter(X_test), cfg.repeats)
    rows = X_test.iloc[: cfg.n_exact]
    exact = whybox.ExactExplainer(
        _Margin(pipeline), background, output="raw", max_background=None, progress=False
    )
    t0 = time.perf_counter()
    ex_e = exact(rows)
    out["exact_s"] = time.perf_counter() - t0
    out["interventional_vs_exact"] = float(np.max(np.abs(ex_i.values[: cfg.n_exact] - ex_e.values)))
    return out


def _tolerance(name: str) -> float:
    """1e-9, except for XGBoost, whose own margin is a float32 sum of its trees: its
    rounding (float32 epsilon 1.2e-7 times margins of order 10, and Exact's 2^9
    coalitions of them) allows 1e-5."""
    return XGBOOST_TOLERANCE if name == "XGBClassifier" else TOLERANCE


def _verdict(value: float, name: str) -> str:
    return f"ok at {_tolerance(name):g}" if value <= _tolerance(name) else "FAILS"


def run(workload: str, quick: bool = False, threads: int | None = None) -> None:
    import skops.io as sio

    cfg = QUICK if quick else FULL
    X_train, X_test, y_train, y_test = make_split(cfg)
    text_columns = [c for c in X_train.columns if not is_numeric_dtype(X_train[c])]
    use_train = has_train_flag()
    print(f"\n== W12 real pipeline: {len(X_test)} held-out rows, {len(X_train)} training rows, "
          f"{X_test.shape[1]} columns ({len(text_columns)} text); audit "
          f"{'with' if use_train else 'without'} --train ({cfg.repeats} fresh processes)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        X_test.assign(**{TARGET: y_test}).to_csv(folder / "test.csv", index=False)
        X_train.assign(**{TARGET: y_train}).to_csv(folder / "train.csv", index=False)
        for final in cfg.finals:
            try:
                pipeline = make_pipeline(final, text_columns, cfg.n_trees, threads)
            except ImportError as exc:
                print(f"   {final}: skipped ({exc})")
                continue
            pipeline.fit(X_train, y_train)
            sio.dump(pipeline, folder / f"{final}.skops")
            name = type(pipeline[-1]).__name__
            audit = time_audit(folder, final, use_train, cfg.repeats)
            if "error" in audit:
                print(f"   {name}: whybox audit failed: {audit['error']}")
            else:
                print(f"   {name}: whybox audit {audit['wall']:.1f} s wall (median; runs "
                      f"{', '.join(f'{w:.1f}' for w in audit['walls'])}); report clock "
                      f"{audit['audit']:.1f} s, quality checks {audit['quality']:.1f} s; "
                      f"explainer {audit['explainer']}")  # fmt: skip
            try:
                shap = check_shap(pipeline, X_train, X_test, cfg, threads)
            except Exception as exc:
                print(f"   {name}: TreeExplainer(pipeline) failed: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''}")  # fmt: skip
                if not quick:
                    traceback.print_exc(limit=3)
                continue
            print(f"   {name}: TreeSHAP {len(X_test)} rows, path-dependent {shap['path_s']:.3f} s, "
                  f"interventional ({cfg.n_background} background rows) "
                  f"{shap['interventional_s']:.3f} s; {shap['n_features']} input columns")  # fmt: skip
            print(f"      base + values vs the pipeline's own margin: max |diff| "
                  f"{shap['path_vs_library']:.2e} ({_verdict(shap['path_vs_library'], name)}); "
                  f"interventional vs ExactExplainer on {cfg.n_exact} rows: max |diff| "
                  f"{shap['interventional_vs_exact']:.2e} "
                  f"({_verdict(shap['interventional_vs_exact'], name)}; exact took "
                  f"{shap['exact_s']:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    run("W12", quick="--quick" in sys.argv)
