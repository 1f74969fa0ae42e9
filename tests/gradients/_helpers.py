"""Models and inputs shared by the gradient tests (float64, seeded).

Importing this module skips the importing test module when torch is missing (fails
under ``WHYBOX_REQUIRE_ALL=1``); captum is imported by the first test that uses it.
"""

import pytest

from tests._requires import lazy, requires

torch = requires("torch")
captum_attr = lazy("captum.attr")

# captum warns that it switched requires_grad on for our inputs
IGNORE_CAPTUM_INPUT_WARNING = pytest.mark.filterwarnings(
    r"ignore:Input Tensor \d+ did not already require gradients"
)

RULES = ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]


def float64_net(seed, build):
    """``nn.Sequential(*build(nn))`` in float64 and eval mode, its weights drawn after
    ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(*build(torch.nn)).double().eval()


def make_cnn():
    return float64_net(
        0,
        lambda nn: [
            nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(48, 4),
        ],
    )  # fmt: skip


def make_mlp(n_in=5, smooth=False):
    return float64_net(
        1,
        lambda nn: [
            nn.Linear(n_in, 8), nn.Tanh() if smooth else nn.ReLU(), nn.Linear(8, 8),
            nn.Softplus(), nn.Linear(8, 3),
        ],
    )  # fmt: skip


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


class TwoInputs(torch.nn.Module):
    """An image branch and a metadata branch joined in one head (float64, eval mode).

    ``forward(image, meta, mask, scale=1.0)``: ``mask`` (n, 8) gates the metadata
    features per sample and ``scale`` multiplies the output, so the output depends on
    both additional arguments.
    """

    def __init__(self, smooth=False):
        super().__init__()
        torch.manual_seed(5)
        nn = torch.nn
        act = nn.Softplus if smooth else nn.ReLU
        self.conv = nn.Sequential(nn.Conv2d(1, 2, 3), act(), nn.AvgPool2d(2), nn.Flatten())
        self.meta = nn.Sequential(nn.Linear(3, 8), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(2 * 3 * 3 + 8, 6), act(), nn.Linear(6, 3))
        self.double().eval()

    def forward(self, image, meta, mask, scale=1.0):
        joined = torch.cat([self.conv(image), self.meta(meta) * mask], dim=1)
        return self.head(joined) * scale


def two_inputs(n=5, seed=6):
    """(image (n, 1, 8, 8), metadata (n, 3)) and the extra arguments (mask (n, 8), 2.0)."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 1, 8, 8, generator=g, dtype=torch.float64)
    meta = torch.randn(n, 3, generator=g, dtype=torch.float64)
    mask = (torch.rand(n, 8, generator=g) > 0.3).double()
    return (image, meta), (mask, 2.0)
