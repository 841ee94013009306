"""The judge's eyes: a small, robust MNIST classifier whose features define the quality meter.

Trained by ``scripts/train_classifier.py`` on MNIST-train (with small random shifts and
rotations so it is not fooled by off-centre samples) and shipped in ``resources/classifier/``.
Its penultimate layer (128 features) is the space in which the classifier-FID is measured.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FEATURES = 128


class DigitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 14
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 7
            nn.Flatten(),
        )
        self.fc = nn.Linear(64 * 7 * 7, FEATURES)
        self.out = nn.Linear(FEATURES, 10)
        self.dropout = nn.Dropout(0.3)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, 128) for images (N, 1, 28, 28) in [0, 1]."""
        return F.relu(self.fc(self.conv(x * 2.0 - 1.0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)))

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.out(f), f
