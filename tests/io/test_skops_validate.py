"""The checks of a skops file's content read each node of its schema once."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox.io import _skops_validate as validate
from whybox.io import load_model


def _list(*items, **extra):
    return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
            "content": list(items), **extra}  # fmt: skip


def _int(value, key):
    return {"__class__": "int", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True, "__id__": key}  # fmt: skip


def _ref(key):
    return {"__class__": "list", "__module__": "builtins", "__loader__": "CachedNode",
            "__id__": key}  # fmt: skip


def _nest(levels, inner):
    for _ in range(levels):
        inner = _list(inner)
    return inner


@pytest.fixture(scope="module")
def gradient_boosting_file(tmp_path_factory):
    """A pipeline shaped like ``load_applications``' (text columns one-hot encoded, the
    rest imputed, 100 boosted trees), saved with skops."""
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame(
        {
            "purpose": rng.choice(["car", "home", "study"], n),
            "region": rng.choice(["north", "south"], n),
            "income": rng.normal(size=n),
            "age": rng.normal(size=n),
        }
    )
    X.loc[rng.random(n) < 0.1, "income"] = np.nan
    y = ((X.purpose == "home") ^ (X.age > 0)).astype(int)
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [("text", OneHotEncoder(handle_unknown="ignore"), ["purpose", "region"])],
                    remainder=SimpleImputer(strategy="median"),
                ),
            ),
            ("model", GradientBoostingClassifier(n_estimators=100, max_depth=2, random_state=0)),
        ]
    ).fit(X, y)
    path = tmp_path_factory.mktemp("skops") / "pipeline.skops"
    sio.dump(model, path)
    return path, model, X


def test_each_state_of_a_100_tree_pipeline_is_evaluated_at_most_once(
    gradient_boosting_file, monkeypatch
):
    # Interned numbers and strings share one object id across all 100 trees: every
    # request for one of them evaluated all its states again (18.7 million JSON decodes
    # and 31 s for load_applications' pipeline). Now the count is bounded by the schema.
    path, model, X = gradient_boosting_file
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    n_states = sum(s["__loader__"] != "CachedNode" for s in validate._nodes(schema))
    evaluated = []
    original = validate._Schema._value

    def counting(self, state, depth):
        evaluated.append(id(state))
        return original(self, state, depth)

    monkeypatch.setattr(validate._Schema, "_value", counting)
    loaded = load_model(path)  # checks the file, then builds it
    assert 0 < len(evaluated) <= n_states
    assert len(set(evaluated)) == len(evaluated)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def _lists(levels):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


def test_a_value_evaluated_once_is_still_refused_deeper_than_the_limit():
    # the shared list holds 15 levels of lists; met 30 levels down it is read to
    # level 45, met again 35 and 36 levels down its innermost node is at 50 and 51
    shared = _list(_nest(14, _int(1, 2)), __id__=7)
    shallow, exact, deep = _nest(30, shared), _nest(35, _ref(7)), _nest(36, _ref(7))
    for order in ([shallow, exact, deep], [deep, exact, shallow]):
        schema = validate._Schema(None, _list(*order))
        for branch in order:
            if branch is deep:
                with pytest.raises(validate._Bad, match="nested more than 50 levels deep"):
                    schema.value(branch)
            else:
                assert schema.value(branch) == _lists(45 if branch is shallow else 50)


def test_states_sharing_an_id_must_hold_the_same_value():
    one, two = _int(1, 5), _int(2, 5)
    schema = validate._Schema(None, _list(_list(one), _list(two)))
    for place in (one, two, _ref(5), one):
        with pytest.raises(validate._Bad, match="two different objects share one id"):
            schema.value(place)
    other_one = _int(1, 5)
    schema = validate._Schema(None, _list(_list(one), _list(other_one)))
    assert schema.value_of([one, other_one, _ref(5)]) == 1
