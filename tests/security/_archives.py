"""Editing skops archives: the crafted files of the security tests start from real ones."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from whybox import InputError
from whybox.io import load_model


def rewrite(src, dst, replace):
    """Copy a zip archive, replacing members by name (``replace``: name -> bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))


def load_the_old_way(path, call, *args):
    """Run ``call`` (Python using ``m``, ``np`` and ``sys.argv``) on the file in a child
    process, the model loaded as before the checks: every type the file names trusted.

    Returns the finished process (text output), so a crash shows as a negative return
    code instead of killing the test run.
    """
    code = (
        "import sys, numpy as np, skops.io as sio\n"
        "m = sio.load(sys.argv[1], trusted=sio.get_untrusted_types(file=sys.argv[1]))\n"
        f"{call}\n"
    )
    argv = [sys.executable, "-c", code, str(path), *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def refusal(path):
    """The message of the InputError ``whybox.io.load_model`` refuses the file with,
    checked to be one line."""
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def toy_data(n_rows, n_features, third_class_above=None):
    """Seeded normal features and two classes by the sign of the first two features'
    sum, plus one where the third feature is above ``third_class_above``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, n_features))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    if third_class_above is not None:
        y = y + (X[:, 2] > third_class_above)
    return X, y


# skops schema nodes, for crafted files
def json_node(value):
    """A skops node of a JSON value (str, int, bool)."""
    return {"__class__": type(value).__name__, "__module__": "builtins",
            "__loader__": "JsonNode", "content": json.dumps(value), "is_json": True}  # fmt: skip


def empty_dict_node():
    """A skops node of an empty dict."""
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
            "content": {}, "key_types": {"__class__": "list", "__module__": "builtins",
                                        "__loader__": "ListNode", "content": []}}  # fmt: skip


def runstring_node(marker):
    """A node that calls numpy's ``runstring`` (it ``exec``s its first argument) with
    code writing ``marker``."""
    code = json_node(f"open({str(marker)!r}, 'w').write('ran')")
    return {
        "__class__": "runstring",
        "__module__": "numpy.testing._private.utils",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [code, empty_dict_node()],
        },  # fmt: skip
    }
