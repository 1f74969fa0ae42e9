"""Shared test settings."""

import importlib.util

if importlib.util.find_spec("torch") is not None:
    import torch

    # Two pytest workers share two cores: one thread each keeps torch from oversubscribing.
    torch.set_num_threads(1)
