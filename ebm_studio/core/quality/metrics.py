"""The quality meter: honest numbers for a set of generated digits.

- **classifier-FID**: Fréchet distance between Gaussians fitted to the shipped classifier's
  penultimate features of the samples and of MNIST-test. Low = samples look like MNIST overall
  (quality *and* diversity). It is an MNIST-specific analogue of FID (which uses Inception).
- **confidence**: mean top-class softmax probability. Blobs and strokes get low confidence.
- **coverage**: entropy (bits) of the histogram of predicted classes; log2(10) = 3.32 means all
  ten digits equally often. Catches mode collapse (e.g. an RBM making mostly 3s).
- **nn_distance**: mean L2 distance (784 pixels in [0, 1]) from each sample to its nearest
  MNIST-train image. Near 0 means memorised copies; real test digits sit around 5-6.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
import torch

from ..errors import DataError, EbmStudioError
from ..resources import CLASSIFIER_DIR
from .classifier import DigitClassifier


@dataclass
class QualityReport:
    n: int
    fid: float
    confidence: float
    coverage_bits: float
    nn_distance: float
    class_histogram: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        hist = " ".join(f"{d}:{c}" for d, c in enumerate(self.class_histogram))
        return "\n".join([
            f"samples          {self.n}",
            f"classifier-FID   {self.fid:.3f}   (lower is better; real MNIST-test ~ see README)",
            f"confidence       {self.confidence:.3f}   (mean top-class probability)",
            f"coverage         {self.coverage_bits:.3f} bits of {math.log2(10):.3f} (digit diversity)",
            f"nn-distance      {self.nn_distance:.3f}   (to nearest training image; ~0 = memorised)",
            f"class histogram  {hist}",
        ])


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """||mu1-mu2||^2 + Tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2), via symmetric eigendecompositions."""
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    c1, c2 = torch.as_tensor(cov1, dtype=torch.float64), torch.as_tensor(cov2, dtype=torch.float64)
    s1 = _sqrt_psd(c1)
    middle = _sqrt_psd(s1 @ c2 @ s1)
    value = (mu1 - mu2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * torch.trace(middle)
    return float(value.clamp_min(0.0))


def _sqrt_psd(c: torch.Tensor) -> torch.Tensor:
    c = (c + c.T) / 2
    w, v = torch.linalg.eigh(c)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def as_sample_tensor(samples) -> torch.Tensor:
    """Validate samples: (N, 28, 28) or (N, 1, 28, 28), finite, in [0, 1] (tiny overshoot clipped)."""
    if isinstance(samples, np.ndarray):
        if samples.dtype == object or not np.issubdtype(samples.dtype, np.number):
            raise DataError(f"samples must be a numeric array, got dtype {samples.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    elif torch.is_tensor(samples):
        t = samples.detach().float().cpu()
    else:
        raise DataError(f"samples must be a numpy array or a tensor, got {type(samples).__name__}")
    if t.ndim == 3:
        t = t.unsqueeze(1)
    if t.ndim != 4 or tuple(t.shape[1:]) != (1, 28, 28):
        raise DataError(f"samples must have shape (N, 28, 28) or (N, 1, 28, 28), got {tuple(t.shape)}")
    if t.shape[0] < 2:
        raise DataError(f"need at least 2 samples to measure quality, got {t.shape[0]}")
    if not torch.isfinite(t).all():
        raise DataError("samples contain NaN or infinite values")
    if t.min() < -0.01 or t.max() > 1.01:
        raise DataError(f"samples must be in [0, 1], got range [{float(t.min()):.3g}, {float(t.max()):.3g}]")
    return t.clamp(0, 1)


class QualityMeter:
    def __init__(self, classifier: DigitClassifier, ref_mu: torch.Tensor, ref_cov: torch.Tensor,
                 train_images: torch.Tensor, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.classifier = classifier.to(self.device).eval()
        self.ref_mu, self.ref_cov = ref_mu.double(), ref_cov.double()
        self.train_flat = train_images.reshape(train_images.shape[0], -1).to(self.device)
        self._train_sq = self.train_flat.pow(2).sum(1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        probs, feats = [], []
        for i in range(0, x.shape[0], batch):
            logits, f = self.classifier.logits_and_features(x[i:i + batch].to(self.device))
            probs.append(logits.softmax(1).cpu())
            feats.append(f.double().cpu())
        return torch.cat(probs), torch.cat(feats)

    @torch.no_grad()
    def nearest_train_distance(self, x: torch.Tensor, exclude_exact: bool = False, chunk: int = 256) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1).to(self.device)
        out = []
        for i in range(0, flat.shape[0], chunk):
            q = flat[i:i + chunk]
            d2 = q.pow(2).sum(1, keepdim=True) + self._train_sq[None] - 2 * q @ self.train_flat.T
            if exclude_exact:
                d2 = torch.where(d2 < 1e-3, torch.full_like(d2, float("inf")), d2)  # exact copies, up to cancellation error
            out.append(d2.min(1).values.clamp_min(0).sqrt().cpu())
        return torch.cat(out)

    def evaluate(self, samples, exclude_exact_matches: bool = False) -> QualityReport:
        x = as_sample_tensor(samples)
        probs, feats = self.predict(x)
        mu, cov = feats.mean(0), torch.cov(feats.T)
        hist = torch.bincount(probs.argmax(1), minlength=10)
        p = hist.double() / hist.sum()
        entropy = max(0.0, float(-(p[p > 0] * p[p > 0].log2()).sum()))
        return QualityReport(
            n=x.shape[0],
            fid=frechet_distance(mu, cov, self.ref_mu, self.ref_cov),
            confidence=float(probs.max(1).values.mean()),
            coverage_bits=entropy,
            nn_distance=float(self.nearest_train_distance(x, exclude_exact_matches).mean()),
            class_histogram=[int(c) for c in hist],
        )


def classifier_info() -> dict:
    path = CLASSIFIER_DIR / "classifier.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EbmStudioError(f"{path}: quality meter metadata missing or unreadable ({exc})") from None


@lru_cache(maxsize=2)
def load_meter(device: str = "cpu") -> QualityMeter:
    """The shipped meter (classifier + MNIST-test reference statistics + MNIST-train for nn-distance)."""
    from ..checkpoint import _load_state_checked, load_tensors
    from ..data import load_mnist

    weights = CLASSIFIER_DIR / "classifier.safetensors"
    stats = CLASSIFIER_DIR / "reference_stats.safetensors"
    if not weights.exists() or not stats.exists():
        raise EbmStudioError(f"quality meter files missing in {CLASSIFIER_DIR}; run scripts/train_classifier.py")
    clf = DigitClassifier()
    tensors, _ = load_tensors(weights)
    _load_state_checked(clf, tensors, weights)
    ref, _ = load_tensors(stats)
    if set(ref) != {"mu", "cov"}:
        raise EbmStudioError(f"{stats}: expected tensors 'mu' and 'cov'")
    return QualityMeter(clf, ref["mu"], ref["cov"], load_mnist("train").images, device=device)
