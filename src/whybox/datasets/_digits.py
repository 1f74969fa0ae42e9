"""The deep-model demo: a small CNN trained in seconds on scikit-learn's bundled digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from whybox.adapters._torch import import_torch


@dataclass(frozen=True, eq=False)
class DigitsCNN:
    """A trained digits CNN with its data.

    Attributes
    ----------
    model : torch.nn.Module
        In eval mode, float32, on the CPU. Input (n, 1, 8, 8) pixel intensities in
        [0, 1]; output (n, 10) logits (raw scores) for the digits 0-9.
    X_train, X_test : ndarray of shape (n, 1, 8, 8), float32
    y_train, y_test : ndarray of shape (n,), int64
    class_names : tuple of str
        ``("0", ..., "9")``.
    test_accuracy : float
        Accuracy on ``X_test``.
    description : str
    """

    model: Any
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    test_accuracy: float
    description: str


def digits_cnn_architecture() -> Any:
    """The untrained demo architecture (two 3x3 convolutions, max-pooling, a linear head).

    Layers are modules (not functional calls) so every method can hook them; the
    last convolution is ``"conv2"``, the usual Grad-CAM layer.
    """
    torch = import_torch()
    nn = torch.nn
    from collections import OrderedDict

    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 16, 3, padding=1),
            relu1=nn.ReLU(),
            conv2=nn.Conv2d(16, 32, 3, padding=1),
            relu2=nn.ReLU(),
            pool=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc=nn.Linear(32 * 4 * 4, 10),
        )
    )


def load_digits_cnn(random_state: int = 0, *, epochs: int = 15) -> DigitsCNN:
    """Train the demo CNN on the 8x8 digits bundled with scikit-learn (no download).

    1,797 images of handwritten digits (Alpaydin & Kaynak 1998), scaled to [0, 1];
    a quarter is held out, stratified. Training is Adam on
    minibatches of 64 for ``epochs`` passes (about a second on one CPU core) and
    reaches about 98% test accuracy.

    Parameters
    ----------
    random_state : int, default 0
        Seeds the split, the initial weights and the minibatch order.
    epochs : int, default 15

    Returns
    -------
    DigitsCNN
    """
    torch = import_torch()
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X = (bunch.images / 16.0).astype(np.float32)[:, None]
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    torch.manual_seed(random_state)
    model = digits_cnn_architecture()
    gen = torch.Generator().manual_seed(random_state)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), 64):
            idx = order[start : start + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
    return DigitsCNN(
        model=model,
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        class_names=tuple(str(c) for c in range(10)),
        test_accuracy=acc,
        description=(
            f"CNN (2 conv layers) trained on scikit-learn's 8x8 digits ({len(X_train)} "
            f"images); test accuracy {acc:.3f} on {len(X_test)} held-out images."
        ),
    )
