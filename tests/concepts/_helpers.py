"""Models shared by the concept tests: closed-form gradients and separable branches."""

import numpy as np

from tests._requires import requires

torch = requires("torch")

nn = torch.nn

D = 6
E = np.eye(D)
W = 2.0 * E[0]
U = E[1]


class QuadraticHead(nn.Module):
    """f(h) = w.h + (u.h)^2 / 2 on an identity encoder: grad_h f = w + (u.h) u."""

    def __init__(self, w, u):
        super().__init__()
        self.encoder = nn.Linear(D, D)
        with torch.no_grad():
            self.encoder.weight.copy_(torch.eye(D))
            self.encoder.bias.zero_()
        self.register_buffer("w", torch.as_tensor(w))
        self.register_buffer("u", torch.as_tensor(u))
        self.unused = nn.Linear(D, 1)

    def forward(self, x):
        h = self.encoder(x)
        f = h @ self.w + 0.5 * (h @ self.u) ** 2
        return torch.stack([f, -f], dim=1)


class TwoBranch(nn.Module):
    """Output 0 reads branch ``a`` only, output 1 reads branch ``b`` only."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        ha = torch.tanh(self.a(x))
        hb = self.b(x)
        return torch.cat([self.head(ha), hb.sum(dim=1, keepdim=True)], dim=1)


def tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 2, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(2 * 8 * 8, 3),
    ).double()
