"""Models and inputs shared by the gradient tests (float64, seeded)."""

import torch

RULES = ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]


def make_cnn():
    torch.manual_seed(0)
    return (
        torch.nn.Sequential(
            torch.nn.Conv2d(1, 3, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(48, 4),
        )
        .double()
        .eval()
    )


def make_mlp(n_in=5, smooth=False):
    torch.manual_seed(1)
    act = torch.nn.Tanh() if smooth else torch.nn.ReLU()
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, 8), act, torch.nn.Linear(8, 8), torch.nn.Softplus(),
        torch.nn.Linear(8, 3),
    ).double().eval()  # fmt: skip


def make_linear(n_in=5, bias=0.7):
    torch.manual_seed(2)
    lin = torch.nn.Linear(n_in, 2).double().eval()
    with torch.no_grad():
        lin.bias.fill_(bias)
    return lin


class IgnoresLast(torch.nn.Module):
    """An MLP that never looks at its last input feature (a dummy input)."""

    def __init__(self):
        super().__init__()
        self.net = make_mlp(4, smooth=True)

    def forward(self, x):
        return self.net(x[:, :4])


def images(n=5, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g, dtype=torch.float64)
    # every image spans exactly [0, 1], so SmoothGrad's sigma is noise_level for each
    x[:, 0, 0, 0], x[:, 0, 0, 1] = 0.0, 1.0
    return x


def table(n=6, d=5, seed=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


def vals(ex):
    return ex.values[..., 0]


def loop_gradient(model, point, target):
    p = point[None].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(p)[0, target], p)
    return g[0]
