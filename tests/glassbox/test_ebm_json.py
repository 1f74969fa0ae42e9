"""interpret's EBM JSON export read without interpret and without running code.

Proofs: the model read from ``ebm.to_json`` predicts exactly what the EBM predicts
(``decision_function``, ``predict_proba``, ``predict``; 1e-12, in practice bit for
bit), with interpret blocked from importing; ``load_model`` tells it from an XGBoost
JSON by content; every hostile variant gives one InputError sentence.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from tests._requires import requires
from tests.glassbox._helpers import fit_ebm, mixed_table
from whybox._exceptions import InputError
from whybox.glassbox import looks_like_ebm_json, model_from_ebm_json, read_ebm_json
from whybox.io import load_model
from whybox.shapley import AdditiveExplainer


def _data(n=300, seed=0):
    return mixed_table(n, seed)


def _fit(kind):
    X, rng = _data()
    return fit_ebm(kind, X, rng, labels=("no", "yes"), max_rounds=80), X


def _json(model, detail="all"):
    buf = io.StringIO()
    model.to_json(buf, detail=detail)
    return buf.getvalue()


def _rows(X):
    T = X.iloc[:40].copy()
    T.loc[:5, "c"] = "unseen"
    return T


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("detail", ["minimal", "all"])
def test_predictions_equal_the_ebm(kind, detail):
    model, X = _fit(kind)
    am = read_ebm_json(_json(model, detail).encode())
    T = _rows(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "regression":
            np.testing.assert_allclose(am.predict(T), model.predict(T), rtol=0, atol=1e-12)
        else:
            np.testing.assert_allclose(
                am.decision_function(T), model.decision_function(T), rtol=0, atol=1e-12
            )
            np.testing.assert_allclose(
                am.predict_proba(T), model.predict_proba(T), rtol=0, atol=1e-12
            )
            np.testing.assert_array_equal(am.predict(T), model.predict(T))
    assert [t.name for t in am.terms] == list(model.term_names_)


def test_load_model_reads_it_and_explains_it_like_the_ebm(tmp_path):
    model, X = _fit("binary")
    path = tmp_path / "ebm.json"
    path.write_text(_json(model))
    am = load_model(path)
    T = _rows(X)
    ours = AdditiveExplainer(am)(T)
    theirs = AdditiveExplainer(model)(T)
    np.testing.assert_allclose(ours.values, theirs.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.base_values, theirs.base_values, rtol=0, atol=1e-12)
    import whybox

    assert whybox.explain(am, T).params["explain_method"] == "additive"


def test_read_without_interpret(tmp_path):
    model, X = _fit("multiclass")
    path = tmp_path / "ebm.json"
    path.write_text(_json(model))
    rows = tmp_path / "rows.csv"
    _rows(X).to_csv(rows, index=False)
    code = (
        "import sys; sys.modules['interpret'] = None\n"
        "import numpy as np, pandas as pd\n"
        "from whybox.io import load_model\n"
        f"m = load_model({str(path)!r})\n"
        f"T = pd.read_csv({str(rows)!r})\n"
        "np.save(sys.argv[1], m.predict_raw(T))\n"
        "assert not any(k.startswith('interpret.') for k in sys.modules)\n"
    )
    out = tmp_path / "raw.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    T = pd.read_csv(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.decision_function(T)
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-12)


def test_an_xgboost_json_is_still_read_as_xgboost(tmp_path):
    xgb = requires("xgboost")
    X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    clf = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
    path = tmp_path / "model.json"
    clf.save_model(path)
    loaded = load_model(path)
    assert type(loaded).__module__.startswith("xgboost")
    assert not looks_like_ebm_json(path.read_bytes())


# ------------------------------------------------------------------ hostile files
def _doc():
    model, _ = _fit("binary")
    return json.loads(_json(model))


def _variants():
    def edit(fn):
        def make(doc):
            doc = copy.deepcopy(doc)
            fn(doc)
            return json.dumps(doc)

        return make

    ebm = lambda d: d["ebm"]  # noqa: E731
    return {
        "scores truncated": edit(lambda d: ebm(d)["terms"][0]["scores"].pop()),
        "pair scores with a missing row": edit(lambda d: ebm(d)["terms"][4]["scores"].pop()),
        "scores as text": edit(lambda d: ebm(d)["terms"][0].__setitem__("scores", "1,2,3")),
        "nan text in scores": edit(lambda d: ebm(d)["terms"][0]["scores"].__setitem__(1, "nan")),
        "bool in scores": edit(lambda d: ebm(d)["terms"][0]["scores"].__setitem__(1, True)),
        "nested list as a score": edit(
            lambda d: ebm(d)["terms"][0]["scores"].__setitem__(1, [1.0])
        ),
        "cuts decreasing": edit(lambda d: ebm(d)["features"][0]["cuts"][0].reverse()),
        "cuts as a dict": edit(lambda d: ebm(d)["features"][0].__setitem__("cuts", {"a": 1})),
        "unknown feature type": edit(lambda d: ebm(d)["features"][0].__setitem__("type", "x")),
        "unknown term feature": edit(
            lambda d: ebm(d)["terms"][0].__setitem__("term_features", ["nope"])
        ),
        "three-way term": edit(
            lambda d: ebm(d)["terms"][0].__setitem__("term_features", ["a", "b", "c"])
        ),
        "duplicate feature name": edit(lambda d: ebm(d)["features"][1].__setitem__("name", "a")),
        "intercept too long": edit(lambda d: ebm(d)["intercept"].append(1.0)),
        "intercept infinite": edit(lambda d: ebm(d)["intercept"].__setitem__(0, "+inf")),
        "classes mixed": edit(lambda d: ebm(d)["outputs"][0].__setitem__("classes", [0, "a"])),
        "link wrong": edit(lambda d: ebm(d)["outputs"][0].__setitem__("link", "probit")),
        "negative weights": edit(lambda d: ebm(d)["terms"][1]["bin_weights"].__setitem__(0, -1)),
        "no terms key": edit(lambda d: ebm(d).pop("terms")),
        "not an object": lambda doc: "[1, 2, 3]",
        "bare NaN": lambda doc: json.dumps(doc).replace('"nan"', "NaN", 1),
        "truncated file": lambda doc: json.dumps(doc)[:500],
        "deep nesting": lambda doc: (
            '{"version": "1.0", "ebm": ' + "[" * 100_000 + "]" * 100_000 + "}"
        ),
        "huge pair": edit(_huge_pair),
    }


def _huge_pair(d):
    """A pair whose bins declare 20,003 x 20,003 cells: refused before any allocation."""
    cuts = [float(i) for i in range(20_000)]
    for f in d["ebm"]["features"][:2]:
        f["cuts"] = [f["cuts"][0], cuts]
    d["ebm"]["terms"] = [t for t in d["ebm"]["terms"] if t["term_features"] == ["a", "b"]]


@pytest.mark.parametrize("variant", list(_variants()))
def test_hostile_json_gives_one_sentence(variant):
    text = _variants()[variant](_doc())
    with pytest.raises(InputError) as info:
        read_ebm_json(text.encode(), name="model file 'ebm.json'")
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    assert len(message) < 400


def test_not_utf8_and_too_large(monkeypatch):
    with pytest.raises(InputError, match="parsed as JSON"):
        read_ebm_json(b'{"ebm": "\xff\xfe"}')
    import whybox.glassbox._ebm_json as reader

    monkeypatch.setattr(reader, "MAX_JSON_BYTES", 10)
    with pytest.raises(InputError, match="more than"):
        read_ebm_json(b'{"version": "1.0", "ebm": {}}')


def test_model_from_parsed_document():
    doc = _doc()
    am = model_from_ebm_json(doc)
    assert am.link == "logit" and am.output_names == ("yes",)
    with pytest.raises(InputError, match="ebm.outputs"):
        model_from_ebm_json({"ebm": {"outputs": []}})
