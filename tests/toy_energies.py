"""Hand-made energies the tests share (importable because pytest puts ``tests/`` on the path for
its conftest.py): small, exact, and with a known lowest-energy image."""

import torch
from torch import nn


class TemplateEnergy(nn.Module):
    """Squared distance to a vertical bar: the bar itself is the single lowest-energy image."""

    def __init__(self):
        super().__init__()
        t = torch.zeros(1, 1, 28, 28)
        t[..., 6:22, 12:16] = 1.0
        self.register_buffer("template", t)

    def forward(self, x):
        return ((x - self.template) ** 2).flatten(1).sum(1)
