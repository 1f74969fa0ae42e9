"""Long names drawn short, full in tables; class names in anchors and the report (#19 items 16, 20)."""

from __future__ import annotations

import base64
import io
import json
import struct

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import whybox
from whybox import InputError
from whybox.adapters import adapt_model
from whybox.anchors import AnchorTabular
from whybox.plots._common import ELLIPSIS, LABEL_CHARS, label_text, short_label, short_labels

# 212-character names that differ only in the middle
LONG = [f"{'customer_account_history_' * 4}{i:02d}{'_balance_in_euro_cents' * 5}" for i in range(4)]
MAX_PX = 1000  # a figure of the audit is ~700-800 px wide with short names


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 4)), columns=LONG)
    y = (X.iloc[:, 0] + 0.5 * rng.normal(size=150) > 0).astype(int).to_numpy()
    return X, y, LogisticRegression().fit(X, y)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])  # IHDR width, height


def _saved_size(fig) -> tuple[int, int]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")  # as the report does
    return _png_size(buf.getvalue())


# ---------------------------------------------------------------- the helper
def test_short_label_keeps_both_ends_within_the_limit():
    name = "a" * 20 + "MIDDLE" + "z" * 20
    out = short_label(name, 11)
    assert out == "aaaaa" + ELLIPSIS + "zzzzz" and len(out) == 11
    assert short_label("short") == "short"
    assert short_label("x" * 50 + "\n" + "n=3", 10).split("\n") == ["xxxxx…xxxx", "n=3"]


def test_short_labels_stay_distinct_and_bounded():
    out = short_labels(LONG + [LONG[0], "age"])
    assert len(set(out[:4])) == 4  # distinct in full: distinct when drawn
    assert out[4] == out[0]  # equal in full: equal when drawn
    assert out[5] == "age"
    assert all(len(o) <= LABEL_CHARS + 8 for o in out)
    for i, o in enumerate(out[:4]):
        assert f"{i:02d}" in o and o.startswith("customer") and o.endswith("cents")
    # names that still look alike after showing where they differ get a counter
    twins = ["p" * 40 + "X" + "q" * 40 + "A" + "r" * 40, "p" * 40 + "X" + "q" * 40 + "B" + "r" * 40]
    assert len(set(short_labels(twins))) == 2


def test_label_text_escapes_mathtext_after_shortening():
    assert label_text("$" * 3) == r"\$\$\$"
    assert label_text(["a$b", "c"]) == [r"a\$b", "c"]


# ---------------------------------------------------------------- figures
def test_figures_with_long_names_stay_small(case):
    X, y, model = case
    ex = whybox.explain(model, X.iloc[:40], background=X.iloc[:50])
    pi = whybox.inspection.permutation_importance(model, X, y, n_repeats=2, random_state=0)
    figs = {
        "bar": whybox.plots.bar(ex),
        "beeswarm": whybox.plots.beeswarm(ex),
        "waterfall": whybox.plots.waterfall(ex[0]),
        "permutation": whybox.plots.permutation_importance(pi),
    }
    for name, fig in figs.items():
        width, height = _saved_size(fig)
        assert width < MAX_PX and height < MAX_PX, (name, width, height)
        ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert all(len(t) <= 48 for t in ticks), name
        assert len(set(ticks)) == len(ticks), name
    assert ex.feature_names == tuple(LONG)  # results keep the full names


# ---------------------------------------------------------------- class names
def test_model_names_every_class(case):
    _, _, model = case
    assert adapt_model(model).class_names == ("0", "1")
    assert adapt_model(model, class_names=["bad", "good"]).class_names == ("bad", "good")
    with pytest.raises(InputError, match=r"class_names has 3 names but the model has 2"):
        adapt_model(model, class_names=["bad", "good", "ugly"])


def test_anchor_of_the_negative_class_is_named(case):
    X, y, model = case
    m = adapt_model(model, class_names=["bad", "good"])
    row = int(np.flatnonzero(model.predict(X) == 0)[0])
    (anchor,) = AnchorTabular(m, X, random_state=0)(X.to_numpy()[row])
    assert anchor.prediction == "bad"
    assert "THEN 'bad'" in str(anchor)


def test_audit_draws_short_names_keeps_full_names_and_names_anchor_classes(case):
    X, y, model = case
    row = int(np.flatnonzero(model.predict(X) == 0)[0])
    report = whybox.audit(model, X, y, class_names=["bad", "good"], rows=[row], progress=False)
    figures = [b for s in report.sections for b in s.blocks if b.kind == "figure"]
    assert figures
    for fig in figures:
        width, height = _png_size(base64.b64decode(fig.png_base64))
        assert width < MAX_PX and height < MAX_PX, (fig.title, width, height)
    text = json.dumps(report.to_dict(), default=str)
    assert all(name in text for name in LONG)  # tables and figure data keep full names
    anchors = [
        b
        for s in report.sections
        for b in s.blocks
        if getattr(b, "title", "") == f"Row {row}: anchor"
    ]
    assert len(anchors) == 1
    then = anchors[0].columns.index("THEN predict")
    assert anchors[0].rows[0][then] == "bad"
    assert "still predicts &#39;bad&#39;" in report.to_html()  # the caption, escaped
    cf = [b for s in report.sections for b in s.blocks if b.kind == "figure"]
    cf = [b for b in cf if b.title.startswith(f"Row {row}: counterfactuals")]
    assert len(cf) == 1 and "desired 'good'" in cf[0].caption
