"""The shared argument checks: one sentence naming the argument, what was given, the fix."""

import numpy as np
import pytest

from whybox import InputError
from whybox._utils import check_batch_size, check_int, check_random_state, shorten


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", True, None])
def test_check_int_refuses_with_one_sentence(bad):
    with pytest.raises(InputError, match=r"^n_repeats must be a positive integer, got .*; e\.g\."):
        check_int(bad, "n_repeats", 1, "n_repeats=5")


def test_check_int_accepts_numpy_integers_and_names_other_minimums():
    assert check_int(np.int32(3), "n") == 3 and isinstance(check_int(np.int32(3), "n"), int)
    assert check_int(0, "n_bootstrap", 0) == 0
    with pytest.raises(InputError, match="n_bootstrap must be a non-negative integer"):
        check_int(-1, "n_bootstrap", 0)
    with pytest.raises(InputError, match="n_runs must be an integer >= 2, got 1"):
        check_int(1, "n_runs", 2)


def test_check_batch_size_means_one_call_for_none():
    assert check_batch_size(None) is None
    assert check_batch_size(np.int64(7)) == 7
    for bad in (0, True, 1.5):
        with pytest.raises(InputError, match="batch_size must be a positive integer"):
            check_batch_size(bad)


def test_check_random_state_keeps_seeds_and_refuses_others():
    rng = np.random.default_rng(0)
    assert check_random_state(rng) is rng and check_random_state(np.int8(3)) == 3
    for bad in (-1, 1.0, "0", True):
        with pytest.raises(InputError, match="random_state must be None, a non-negative int"):
            check_random_state(bad)


def test_shorten_cuts_the_middle():
    text = shorten("a" * 100, limit=20)
    assert len(text) == 20 and "..." in text
