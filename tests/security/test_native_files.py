"""Corrupt XGBoost, LightGBM and CatBoost files are one clear error, never a crash (#19 item 4).

Every crafted file is loaded by ``whybox.io.load_model`` in one child process
(``subprocess_loader``): a crash would show as a negative return code, not kill pytest.
"""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from tests._requires import lazy

xgb = lazy("xgboost")
lgb = lazy("lightgbm")
catboost = lazy("catboost")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _xgb_json(X, y, path):
    xgb.XGBClassifier(n_estimators=3, max_depth=3).fit(X, y).save_model(path)
    return json.loads(path.read_text())


def _trees(model):
    return model["learner"]["gradient_booster"]["model"]["trees"]


def _edit_xgb(model, path, edit):
    model = json.loads(json.dumps(model))
    edit(_trees(model)[0])
    path.write_text(json.dumps(model))
    return path


def _lgb_text(X, y):
    booster = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1).fit(X, y).booster_
    return booster.model_to_string()


def _edit_line(text, key, edit):
    """Apply ``edit`` to the value of the first ``key=`` line of the first tree."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("Tree=0"))
    i = next(i for i in range(start, len(lines)) if lines[i].startswith(key + "="))
    values = lines[i].strip().split("=", 1)[1].split()
    lines[i] = f"{key}={' '.join(edit(values))}\n"
    return "".join(lines)


@pytest.fixture(scope="module")
def crafted(data, tmp_path_factory, subprocess_loader):
    """Crafted files, each with the start of the message it must give."""
    X, y = data
    d = tmp_path_factory.mktemp("native")
    model = _xgb_json(X, y, d / "clean.json")
    cases = {}

    def far_child(tree):
        tree["left_children"][0] = 10**9

    cases[_edit_xgb(model, d / "far_child.json", far_child)] = (
        "tree 0 node 0's left child is 1000000000, outside 0.."
    )

    def loop(tree):
        tree["left_children"][1] = 0

    cases[_edit_xgb(model, d / "loop.json", loop)] = "tree 0 node 0 is reached twice"

    def far_feature(tree):
        tree["split_indices"][0] = 7

    cases[_edit_xgb(model, d / "far_feature.json", far_feature)] = (
        "tree 0 node 0 splits on feature 7 of 4"
    )

    def short_array(tree):
        tree["split_conditions"].pop()

    cases[_edit_xgb(model, d / "short.json", short_array)] = "tree 0 'split_conditions' has"

    def categories(tree):
        tree["split_type"][0] = 1

    cases[_edit_xgb(model, d / "categories.json", categories)] = (
        "tree 0's categorical splits do not match"
    )

    # A repeated key: a parser keeping the first copy would read unchecked children.
    text = (d / "far_child.json").read_text()
    good = json.dumps(_trees(model)[0]["left_children"])
    first = text.index('"left_children"')
    (d / "repeat.json").write_text(text[:first] + f'"left_children": {good}, ' + text[first:])
    cases[d / "repeat.json"] = "a JSON object repeats a key"

    # UBJSON: the same far child, patched into XGBoost's own binary file.
    xgb.XGBClassifier(n_estimators=3, max_depth=3).fit(X, y).save_model(d / "clean.ubj")
    raw = bytearray((d / "clean.ubj").read_bytes())
    key = b"left_children[$l#L"
    at = raw.index(key) + len(key) + 8  # past the 8-byte count: the first int32
    raw[at : at + 4] = struct.pack(">i", 10**9)
    (d / "far_child.ubj").write_bytes(bytes(raw))
    cases[d / "far_child.ubj"] = "tree 0 node 0's left child is 1000000000"
    (d / "cut.ubj").write_bytes(bytes(raw[: len(raw) // 2]))
    cases[d / "cut.ubj"] = "the UBJSON data ends early"

    text = _lgb_text(X, y)
    lines = text.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if line.startswith("Tree=1")) + 3
    (d / "cut.txt").write_text("".join(lines[:cut]))
    cases[d / "cut.txt"] = "it has no 'end of trees' line; the file is truncated"
    (d / "far_child.txt").write_text(_edit_line(text, "left_child", lambda v: ["99", *v[1:]]))
    cases[d / "far_child.txt"] = "tree 0 node 0's left child 99 is out of range"
    (d / "far_feature.txt").write_text(_edit_line(text, "split_feature", lambda v: ["4", *v[1:]]))
    cases[d / "far_feature.txt"] = "tree 0 node 0 splits on feature 4 of 4"
    (d / "short.txt").write_text(_edit_line(text, "threshold", lambda v: v[1:]))
    cases[d / "short.txt"] = "tree 0 threshold has 2 entries, not 3"
    (d / "shared.txt").write_text(_edit_line(text, "right_child", lambda v: [v[0], v[0], *v[2:]]))
    cases[d / "shared.txt"] = "tree 0 node "

    clf = catboost.CatBoostClassifier(iterations=3, depth=2, verbose=0, allow_writing_files=False)
    clf.fit(X, y).save_model(str(d / "clean.cbm"))
    raw = (d / "clean.cbm").read_bytes()
    for size in (8, len(raw) // 4, len(raw) // 2, 3 * len(raw) // 4):
        (d / f"cut{size}.cbm").write_bytes(raw[:size])
        cases[d / f"cut{size}.cbm"] = "could not be read as a CatBoost model"

    clean = [d / "clean.json", d / "clean.ubj", d / "clean.cbm"]
    (d / "clean.txt").write_text(text)
    clean.append(d / "clean.txt")
    returncode, results, stderr = subprocess_loader([*cases, *clean])
    return cases, clean, returncode, results, stderr


def test_the_child_process_survives_every_crafted_file(crafted):
    cases, clean, returncode, results, stderr = crafted
    assert returncode == 0, stderr
    assert len(results) == len(cases) + len(clean)
    for path in clean:
        assert results[str(path)].startswith("loaded "), results[str(path)]


def test_each_crafted_file_is_one_input_error_naming_the_defect(crafted):
    cases, _, _, results, _ = crafted
    for path, reason in cases.items():
        result = results[str(path)]
        assert result.startswith(f"InputError: model file '{path.name}' could not be read as ")
        assert reason in result, (path.name, result)


_OLD_WAY = {
    # what load_model did before: the library reads the file as it is
    "far_child.json": "import xgboost as xgb, numpy as np\n"
    "b = xgb.Booster(); b.load_model(sys.argv[1])\n"
    "b.predict(xgb.DMatrix(np.full((3, 4), -1e30)))\n",
    "cut.txt": "import lightgbm as lgb\nlgb.Booster(model_file=sys.argv[1])\n",
}


@pytest.mark.parametrize("name", sorted(_OLD_WAY))
def test_the_crafted_files_crash_the_libraries_that_read_them_unchecked(crafted, name):
    cases = crafted[0]
    path = next(p for p in cases if p.name == name)
    run = subprocess.run(
        [sys.executable, "-c", "import sys\n" + _OLD_WAY[name], str(path)],
        capture_output=True,
        timeout=300,
    )
    assert run.returncode < 0  # killed by a signal: SIGSEGV / SIGABRT
