"""The induction demo: it learns induction (loss far below ln V on the repeat), the cache
round-trips a state_dict only, and a bad cache file is retrained with a warning."""

import math
import pickle
import warnings

import numpy as np
import pytest

from tests._requires import requires
from whybox import InputError
from whybox.datasets import (
    InductionTransformer,
    induction_transformer_architecture,
    load_induction_transformer,
)

torch = requires("torch")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "whybox-induction-cache"


@pytest.fixture(scope="module")
def demo(cache):
    return load_induction_transformer(cache_dir=cache)


def test_demo_learns_induction_within_the_time_budget(demo):
    assert isinstance(demo, InductionTransformer)
    v = demo.vocab_size
    # Tokens of the random half are i.i.d. uniform: the expected cross-entropy of any
    # predictor is at least ln V (Gibbs' inequality). 512 x 11 predictions give a mean
    # with a standard error of about 0.02 nats here, so 0.1 is 5 standard errors.
    assert demo.first_half_loss >= math.log(v) - 0.1
    # The repeat is determined by the first half: induction brings the loss close to 0.
    # At most a tenth of ln V (measured: 0.14 nats against ln 64 = 4.16).
    assert demo.second_half_loss <= 0.1 * math.log(v)
    # The budget is 2 minutes on CPU (measured 10-30 s on a shared 2-core box);
    # a cached model took 0 s.
    assert demo.train_seconds < 120.0
    assert demo.n_tokens == 2 * demo.half_length == 24
    assert "trained" in demo.description or "cache" in demo.description


def test_losses_are_the_models_own_cross_entropy(demo):
    x = demo.sample(512, random_state=3)
    with torch.no_grad():
        logp = torch.log_softmax(demo.model(x).double(), -1)
    half = demo.half_length
    loss = -logp[:, :-1].gather(-1, x[:, 1:, None])[..., 0].numpy()
    # the stored losses use other sequences: fresh ones agree within sampling error
    assert abs(loss[:, : half - 1].mean() - demo.first_half_loss) < 0.1
    assert loss[:, half:].mean() <= 0.1 * math.log(demo.vocab_size)


def test_sample_is_a_repeat_and_pairs_differ_in_the_first_half_only(demo):
    x = demo.sample(5, random_state=1)
    h = demo.half_length
    assert x.dtype == torch.long and tuple(x.shape) == (5, 2 * h)
    assert torch.equal(x[:, :h], x[:, h:])
    assert torch.equal(x, demo.sample(5, random_state=1))
    assert int(x.min()) >= 0 and int(x.max()) < demo.vocab_size
    clean, corrupted = demo.sample_pairs(40, random_state=2)
    assert torch.equal(clean[:, h:], corrupted[:, h:])
    assert torch.equal(clean[:, :h], clean[:, h:])
    assert (clean[:, :h] != corrupted[:, :h]).float().mean() > 0.9


def test_second_call_reads_the_cache_and_gives_the_same_model(demo, cache):
    again = load_induction_transformer(cache_dir=cache)
    assert again.from_cache and again.train_seconds == 0.0
    assert again.cache_path == demo.cache_path
    for name, tensor in demo.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name])
    x = demo.sample(8)
    with torch.no_grad():
        assert torch.equal(demo.model(x), again.model(x))


def test_cache_file_is_a_plain_state_dict(demo):
    state = torch.load(demo.cache_path, weights_only=True)
    assert set(state) == set(demo.model.state_dict())
    assert all(isinstance(t, torch.Tensor) for t in state.values())


def test_cache_dir_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("WHYBOX_CACHE", str(tmp_path / "env-cache"))
    demo = load_induction_transformer(steps=3)
    assert demo.cache_path is not None
    assert demo.cache_path.startswith(str(tmp_path / "env-cache"))
    assert load_induction_transformer(steps=3).from_cache


def test_cache_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WHYBOX_CACHE", str(tmp_path))
    demo = load_induction_transformer(steps=3, cache_dir=False)
    assert demo.cache_path is None and not demo.from_cache
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    a = load_induction_transformer(steps=3, cache_dir=False)
    b = load_induction_transformer(steps=3, cache_dir=False)
    c = load_induction_transformer(1, steps=3, cache_dir=False)
    sa, sb, sc = (m.model.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["embed.weight"], sc["embed.weight"])


class _Marker:
    """Unpickling it would call ``open(path, "w")``: a file appears if code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("kind", ["garbage", "wrong_shape", "wrong_names", "code", "nan"])
def test_a_bad_cache_file_is_retrained_with_a_warning(tmp_path, kind):
    first = load_induction_transformer(steps=3, cache_dir=tmp_path)
    path = first.cache_path
    state = first.model.state_dict()
    marker = tmp_path / "code-ran"
    if kind == "garbage":
        with open(path, "wb") as f:
            f.write(b"not a torch file")
    elif kind == "wrong_shape":
        state["embed.weight"] = torch.zeros(3, 3)
        torch.save(state, path)
    elif kind == "wrong_names":
        state["extra"] = torch.zeros(1)
        torch.save(state, path)
    elif kind == "nan":
        state["W_pos"] = torch.full_like(state["W_pos"], float("nan"))
        torch.save(state, path)
    else:
        with open(path, "wb") as f:
            pickle.dump({"embed.weight": _Marker(marker)}, f, protocol=2)
    with pytest.warns(UserWarning, match="is ignored because"):
        again = load_induction_transformer(steps=3, cache_dir=tmp_path)
    assert not again.from_cache
    assert not marker.exists()  # weights_only=True: no code ran while reading
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name])
    # the file was replaced by a good one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_induction_transformer(steps=3, cache_dir=tmp_path).from_cache


def test_unwritable_cache_warns_and_returns_the_model(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with pytest.warns(UserWarning, match="could not write"):
        demo = load_induction_transformer(steps=3, cache_dir=blocker / "sub")
    assert not demo.from_cache


def test_training_restores_torch_threads_and_random_state():
    threads = torch.get_num_threads()
    before = torch.random.get_rng_state()
    load_induction_transformer(steps=3, cache_dir=False)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"random_state": -1}, "random_state"),
        ({"random_state": 1.5}, "random_state"),
        ({"random_state": None}, "random_state"),
        ({"steps": 0}, "steps"),
        ({"cache_dir": 3}, "cache_dir"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        load_induction_transformer(**kwargs)


def test_architecture_shapes_and_refusals():
    m = induction_transformer_architecture(10, n_ctx=6, d_model=8, n_heads=2, n_layers=3)
    assert tuple(m.W_E.shape) == (10, 8) and tuple(m.W_U.shape) == (8, 10)
    assert tuple(m.blocks[2].attn.W_O.shape) == (2, 4, 8)
    out = m(torch.zeros(2, 6, dtype=torch.long))
    assert tuple(out.shape) == (2, 6, 10)
    with pytest.raises(InputError, match="n_ctx=6"):
        m(torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(InputError, match="multiple of n_heads"):
        induction_transformer_architecture(10, d_model=10, n_heads=4)


def test_attention_is_causal():
    torch.manual_seed(0)
    m = induction_transformer_architecture(12, n_ctx=8, d_model=8, n_heads=2).eval()
    x = torch.randint(0, 12, (3, 8))
    y = x.clone()
    y[:, 5:] = (y[:, 5:] + 1) % 12
    with torch.no_grad():
        # changing tokens 5.. leaves the logits of positions 0..4 exactly as they were
        np.testing.assert_array_equal(m(x)[:, :5].numpy(), m(y)[:, :5].numpy())
