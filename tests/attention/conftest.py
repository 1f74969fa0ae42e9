"""Fixtures of the attention tests."""

import pytest

from tests._requires import requires


@pytest.fixture(scope="module")
def transformers():
    """The transformers library, or a skip (a failure under WHYBOX_REQUIRE_ALL=1)."""
    return requires("transformers")
