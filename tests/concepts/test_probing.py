"""Linear probes with a control task (Hewitt & Liang 2019)."""

import json

import numpy as np
import pytest

from tests.concepts._helpers import torch
from whybox import InputError
from whybox.concepts import ProbeResult, probe

nn = torch.nn


def test_probe_linearly_encoded_labels_are_selective():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    y = (X @ rng.normal(size=10) > 0).astype(int)
    r = probe(X, y, cv=5, random_state=0)
    assert isinstance(r, ProbeResult)
    assert r.accuracy > 0.9
    assert abs(r.control_accuracy - 0.5) < 0.15
    assert r.selectivity > 0.3
    assert r.selectivity == pytest.approx(r.accuracy - r.control_accuracy, abs=0)
    assert r.fold_scores.shape == (5,) and r.n_features == 10 and r.n_samples == 200
    assert r.task == "classification" and r.scoring == "accuracy"
    assert list(r.to_frame().columns) == ["task", "control", "selectivity"]
    # Every sample is its own type: the control labels are a permutation of the labels.
    np.testing.assert_array_equal(np.sort(r.control_labels), np.sort(y))


def test_probe_random_activations_have_no_selectivity():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 10))
    y = rng.integers(0, 2, size=200)
    r = probe(X, y, random_state=0)
    assert abs(r.accuracy - 0.5) < 0.15
    assert abs(r.selectivity) < 0.15


def test_control_labels_are_constant_per_type_and_keep_the_distribution():
    rng = np.random.default_rng(2)
    n_types, reps = 20, 5
    types = np.repeat(np.arange(n_types), reps)
    type_label = np.array(["noun"] * 12 + ["verb"] * 6 + ["adj"] * 2)
    labels = type_label[types]
    X = rng.normal(size=(n_types * reps, 4))
    r = probe(X, labels, types=types, cv=2, random_state=5)
    control = r.control_labels.reshape(n_types, reps)
    assert (control == control[:, :1]).all()
    np.testing.assert_array_equal(np.sort(control[:, 0]), np.sort(type_label))
    assert not np.array_equal(control[:, 0], type_label)
    again = probe(X, labels, types=types, cv=2, random_state=5)
    np.testing.assert_array_equal(again.control_labels, r.control_labels)
    np.testing.assert_array_equal(again.fold_scores, r.fold_scores)


def test_probe_that_memorises_types_has_low_selectivity():
    # Ten types, each a point in 40 dimensions: any labelling of the types is linearly
    # separable, so the probe fits the control task as well as the task (Hewitt & Liang).
    rng = np.random.default_rng(3)
    types = np.repeat(np.arange(10), 12)
    X = rng.normal(size=(10, 40))[types] + 0.01 * rng.normal(size=(120, 40))
    labels = np.array([0, 1] * 5)[types]
    r = probe(X, labels, types=types, cv=3, random_state=0)
    assert r.accuracy > 0.95 and r.control_accuracy > 0.95
    assert abs(r.selectivity) < 0.05


def test_probe_regression_uses_r2():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 5))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    r = probe(X, y, random_state=0)
    assert r.task == "regression" and r.scoring == "r2"
    assert r.accuracy > 0.99
    assert r.control_accuracy < 0.2
    np.testing.assert_allclose(np.sort(r.control_labels), np.sort(y))


def test_probe_captures_activations_from_model_layer_inputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double().eval()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 3))
    labels = (x[:, 0] > 0).astype(int)
    with torch.no_grad():
        weight, bias = model[0].weight.numpy(), model[0].bias.numpy()
    acts = x @ weight.T + bias
    control = rng.integers(0, 2, size=60)
    from_model = probe((model, "0", x), labels, y_control=control, cv=3, random_state=0)
    from_acts = probe(acts, labels, y_control=control, cv=3, random_state=0)
    np.testing.assert_array_equal(from_model.fold_scores, from_acts.fold_scores)
    np.testing.assert_array_equal(from_model.control_fold_scores, from_acts.control_fold_scores)
    assert from_model.params["layer"] == "0" and from_model.n_features == 4
    np.testing.assert_array_equal(from_model.control_labels, control)
    # Default types are the distinct inputs: duplicates share a control label.
    dup = np.concatenate([x[:30], x[:30]])
    r = probe((model, "0", dup), np.r_[labels[:30], labels[:30]], cv=3, random_state=0)
    np.testing.assert_array_equal(r.control_labels[:30], r.control_labels[30:])


def test_probe_errors():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(20, 3))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    with pytest.raises(InputError, match=r"y must have one entry per sample, shape \(20,\)"):
        probe(X, y[:-1])
    with pytest.raises(InputError, match="y has 1 distinct class"):
        probe(X, np.zeros(20, int))
    with pytest.raises(InputError, match="class 1 of y has 2 sample"):
        probe(X, np.r_[np.zeros(18, int), np.ones(2, int)], cv=5)
    with pytest.raises(InputError, match=r"y_control must have one entry per sample"):
        probe(X, y, y_control=y[:5])
    with pytest.raises(InputError, match=r"types must have one entry per sample"):
        probe(X, y, types=np.arange(3))
    with pytest.raises(InputError, match="cv must be an integer >= 2, got 1"):
        probe(X, y, cv=1)
    with pytest.raises(InputError, match="task must be one of"):
        probe(X, y, task="ranking")
    with pytest.raises(InputError, match=r"activations must have shape \(n_samples"):
        probe(X[:, 0], y)
    with pytest.raises(InputError, match=r"must be \(model, layer, inputs\)"):
        probe((nn.Linear(3, 1), X), y)
    with pytest.raises(InputError, match="'nope' is not a submodule"):
        probe((nn.Linear(3, 1).double(), "nope", X), y)


def test_probe_fold_with_one_control_class_predicts_that_class():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(20, 3))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    control = np.zeros(20, int)
    control[0] = 1  # the fold that tests sample 0 trains on one class only
    r = probe(X, y, y_control=control, cv=2, random_state=0)
    assert 0.9 in r.control_fold_scores.tolist()


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_probe_result_is_a_result_with_a_strict_json_round_trip(kind):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 3))
    if kind == "classification":
        y = np.where(X[:, 0] > 0, "yes", "no")
    else:
        y = X @ np.array([1.0, 0.5, -1.0])
    r = probe(X, y, cv=2, random_state=0)
    text = r.to_json()
    assert "NaN" not in text and "Infinity" not in text
    back = ProbeResult.from_dict(json.loads(text))
    for name in ("accuracy", "control_accuracy", "selectivity", "n_features", "n_samples"):
        assert getattr(back, name) == getattr(r, name)
    np.testing.assert_array_equal(back.fold_scores, r.fold_scores)
    np.testing.assert_array_equal(back.control_fold_scores, r.control_fold_scores)
    np.testing.assert_array_equal(back.control_labels, r.control_labels)
    assert (back.task, back.scoring, back.params) == (r.task, r.scoring, r.params)
    html = r._repr_html_()
    assert isinstance(html, str) and "ProbeResult" in html


# ---------------------------------------------------------------------- token ids
def test_probe_keeps_token_ids_integer_on_the_text_demo(text_demo):
    # Before: the ids were cast to float and the embedding raised a raw RuntimeError.
    demo = text_demo
    ids = demo.encode(list(demo.sentences[:120]))
    y = demo.labels[:120]
    types = np.arange(120)  # one type per sentence: the same control task both ways
    r = probe((demo.model, "encoder", ids), y, types=types, random_state=0)
    with torch.no_grad():
        acts = demo.model.encoder(demo.model.embedding(ids), src_key_padding_mask=ids == 0)
    given = probe(acts.double().numpy(), y, types=types, random_state=0)
    np.testing.assert_array_equal(r.fold_scores, given.fold_scores)
    np.testing.assert_array_equal(r.control_fold_scores, given.control_fold_scores)
    assert r.params["layer"] == "encoder" and r.accuracy > 0.9


def test_probe_takes_a_tuple_of_inputs_and_additional_forward_args():
    class Gated(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Identity()

        def forward(self, x, mask, scale):
            return self.hidden(x * mask * scale).sum(dim=1, keepdim=True)

    rng = np.random.default_rng(5)
    x = torch.as_tensor(rng.normal(size=(60, 4)))
    mask = torch.as_tensor(rng.integers(0, 2, size=(60, 4)))
    y = (x[:, 0] * mask[:, 0] > 0).numpy().astype(int)
    model = Gated().double().eval()
    r = probe((model, "hidden", (x, mask)), y, additional_forward_args=3.0, batch_size=7)
    given = probe((x * mask * 3.0).numpy(), y, types=np.arange(60))
    np.testing.assert_array_equal(r.fold_scores, given.fold_scores)
    with pytest.raises(InputError, match="additional_forward_args is only used when"):
        probe(x.numpy(), y, additional_forward_args=3.0)
