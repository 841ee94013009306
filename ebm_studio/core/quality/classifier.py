"""The judge's eyes: a small, robust MNIST classifier whose features define the quality meter.

Trained by ``scripts/train_classifier.py`` on MNIST-train and shipped in ``resources/classifier/``.

Why it is trained the way it is:

- **Light augmentation** (random rotation, scale, shift of a couple of pixels) so an off-centre or
  slightly tilted sample is still read as the digit it is; a generator is not penalised for
  positioning that a human would not notice.
- **Outlier exposure**: alongside digits, every batch holds synthetic non-digits (uniform noise,
  salt-and-pepper, smooth random blobs, flat grey/black images) trained towards the *uniform*
  prediction. A plain classifier is confidently wrong on such inputs (a plain net of ours called
  uniform noise an "8" with 100 % confidence), which would make the meter's *confidence* figure
  reward exactly the failures an energy-based model produces. Blurred digits are deliberately
  *not* among the training outliers, so the calibration's "blobs" set is a held-out check.

The penultimate layer (:data:`FEATURES` = 128 units) is the space in which the classifier-FID is
measured. The network takes images in the studio's convention: (N, 1, 28, 28), [0, 1], white ink
on black.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

FEATURES = 128
ARCHITECTURE = ("conv5x5(32)-BN-ReLU-pool | conv3x3(48)-BN-ReLU-pool | conv3x3(96)-BN-ReLU | "
                "conv3x3(64)-BN-ReLU-pool | fc(576->128)-ReLU [features] | dropout 0.3 | fc(128->10)")


class DigitClassifier(nn.Module):
    """About 190k parameters (~0.75 MB of float32), ~9 M multiply-adds per image."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),    # 14x14
            nn.Conv2d(32, 48, 3, padding=1), nn.BatchNorm2d(48), nn.ReLU(), nn.MaxPool2d(2),   # 7x7
            nn.Conv2d(48, 96, 3, padding=1), nn.BatchNorm2d(96), nn.ReLU(),
            nn.Conv2d(96, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),   # 3x3
            nn.Flatten(),
        )
        self.fc = nn.Linear(64 * 3 * 3, FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, 128) for images (N, 1, 28, 28) in [0, 1]."""
        return F.relu(self.fc(self.conv(x * 2.0 - 1.0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 10)."""
        return self.out(self.dropout(self.features(x)))

    def logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both at once (one pass through the convolutions), as the meter needs."""
        f = self.features(x)
        return self.out(self.dropout(f)), f
