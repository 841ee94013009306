"""The quality meter: honest numbers for a set of generated digits.

Loss curves of an energy-based model say little about its samples (the energy is only defined up
to a constant, and a contrastive loss near zero can mean "converged" or "the sampler is stuck"),
so the studio judges samples directly, with a fixed judge shipped in ``resources/classifier/``
(see :mod:`.classifier`). Each figure answers one question, and none is enough on its own:

- **classifier-FID** -- *do the samples, as a population, look like MNIST?* The Fréchet distance
  between Gaussians fitted to the judge's 128-d penultimate features of the samples and of the
  10,000 MNIST-test digits. It sees quality *and* diversity at once (a generator making one
  perfect "1" over and over still scores badly). It is an MNIST analogue of the usual FID (which
  uses an ImageNet Inception net, meaningless on 28x28 digits), so its values are comparable only
  with other classifier-FIDs from this same shipped judge, and it is biased upwards at small n:
  compare with what real digits score *at the same n* (``CALIBRATION.md``).
- **confidence** -- *is each sample a legible digit?* The mean top-class softmax probability.
  The judge was trained to answer "don't know" (a flat prediction) on noise, blobs and blank
  images, so garbage scores low here instead of being confidently called an "8".
- **coverage_bits** -- *are all ten digits produced?* The entropy, in bits, of the histogram of
  predicted classes: log2(10) = 3.32 for all ten equally often, 0 for a single class. It catches
  mode collapse, which confidence cannot (a model making only sharp 3s is very confident).
- **nn_distance** -- *is the model copying its training set?* The mean Euclidean distance (over
  the 784 pixels in [0, 1]) from each sample to its nearest MNIST-train image. Near 0 means
  memorised copies; real unseen digits sit around 4 (see the calibration). A low FID together
  with a near-zero nn_distance is a lookup table, not a generative model.
- **unsure / illegible** -- *how many samples would a person hesitate over?* The shares of samples
  whose top class the judge gives less than 0.9 / 0.5. A mean confidence of 0.95 can be every
  sample a little unsure or one in ten a blot; these count the malformed ones (a stray dot, an
  open loop, a squiggle) that a 10x10 grid shows. Real MNIST-test: 1-2 % / 0.1 %.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import torch

from ..data import load_mnist
from ..device import resolve_device
from ..errors import CheckpointError, DataError, EbmStudioError
from ..resources import CLASSIFIER_DIR
from ..tensor_files import load_tensors
from .classifier import FEATURES, DigitClassifier

WEIGHTS_FILE = "classifier.safetensors"
INFO_FILE = "classifier.json"
STATS_FILE = "reference_stats.safetensors"
MAX_COVERAGE_BITS = math.log2(10)
UNSURE_BELOW = 0.9  # top-class probability under which a sample counts as unsure
ILLEGIBLE_BELOW = 0.5  # ... and as illegible


# --- the report -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityReport:
    """The meter's verdict on one set of samples (see the module docstring for what each means)."""

    n: int
    fid: float
    confidence: float
    coverage_bits: float
    nn_distance: float
    class_histogram: list[int] = field(default_factory=list)
    unsure: float = 0.0  # share of samples with top-class probability < UNSURE_BELOW
    illegible: float = 0.0  # share with top-class probability < ILLEGIBLE_BELOW

    def as_dict(self) -> dict:
        """Plain JSON-serialisable figures."""
        return asdict(self)

    def __str__(self) -> str:
        ref = _real_reference()
        ref_head = f"real MNIST-test, n={ref['n']}" if ref else "real MNIST-test"

        def r(key: str, fmt: str) -> str:
            return format(ref[key], fmt) if ref and key in ref else "-"

        rows = [
            ("classifier-FID", f"{self.fid:.2f}", r("fid", ".2f"), "lower is better; biased up at small n"),
            ("confidence", f"{self.confidence:.3f}", r("confidence", ".3f"), "mean top-class probability"),
            ("coverage (bits)", f"{self.coverage_bits:.2f}", r("coverage_bits", ".2f"),
             f"digit diversity, {MAX_COVERAGE_BITS:.2f} = all ten"),
            ("nn-distance", f"{self.nn_distance:.2f}", r("nn_distance", ".2f"),
             "to nearest training image; ~0 = copies"),
            ("unsure", f"{self.unsure:.1%}", r("unsure", ".1%"), f"share with top class < {UNSURE_BELOW}"),
            ("illegible", f"{self.illegible:.1%}", r("illegible", ".1%"), f"share with top class < {ILLEGIBLE_BELOW}"),
        ]
        head = f"{self.n} samples"
        lines = [f"{head:18s} {'value':>9s}  {ref_head:>23s}  meaning"]
        lines += [f"{name:18s} {value:>9s}  {real:>23s}  {meaning}" for name, value, real, meaning in rows]
        lines.append(f"{'predicted classes':18s} " + " ".join(f"{d}:{c}" for d, c in enumerate(self.class_histogram)))
        return "\n".join(lines)


@lru_cache(maxsize=1)
def _real_reference() -> dict | None:
    """What 1000 random real MNIST-test digits score (from the calibration in classifier.json)."""
    try:
        row = json.loads((CLASSIFIER_DIR / INFO_FILE).read_text())["calibration"]["mnist-test"]["1000"]
        return dict(row) if isinstance(row, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- the figures, as plain functions ----------------------------------------------------------
def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2).

    d^2 = ||mu1 - mu2||^2 + Tr(C1) + Tr(C2) - 2 Tr((C1^1/2 C2 C1^1/2)^1/2).

    Computed in float64 with symmetric eigendecompositions only: C1^1/2 from ``eigh`` of C1
    (negative round-off eigenvalues clipped to 0), and the trace of the square root of the
    symmetric PSD matrix C1^1/2 C2 C1^1/2 as the sum of the square roots of its eigenvalues. This
    avoids the general (non-symmetric) ``sqrtm`` of C1 C2, which can return complex parts and
    fails on the singular covariances that small or collapsed sample sets produce.
    """
    mu1, mu2 = (torch.as_tensor(np.asarray(m), dtype=torch.float64).reshape(-1) for m in (mu1, mu2))
    c1, c2 = (torch.as_tensor(np.asarray(c), dtype=torch.float64) for c in (cov1, cov2))
    d = mu1.shape[0]
    if mu2.shape[0] != d or c1.shape != (d, d) or c2.shape != (d, d):
        raise DataError(f"Fréchet distance: mismatched shapes {tuple(mu1.shape)}, {tuple(c1.shape)}, "
                        f"{tuple(mu2.shape)}, {tuple(c2.shape)}")
    for t in (mu1, mu2, c1, c2):
        if not torch.isfinite(t).all():
            raise DataError("Fréchet distance: statistics contain NaN or infinite values")
    s1 = _sqrt_psd(c1)
    middle = s1 @ c2 @ s1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = eig.clamp_min(0).sqrt().sum()
    value = (mu1 - mu2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * trace_sqrt
    return float(value.clamp_min(0.0))  # tiny negative round-off for identical Gaussians


def _sqrt_psd(c: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = torch.linalg.eigh((c + c.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def coverage_bits(class_histogram) -> float:
    """Entropy in bits of a histogram of predicted classes (0 = one class, log2(10) = uniform)."""
    h = torch.as_tensor(np.asarray(class_histogram), dtype=torch.float64)
    if h.sum() <= 0:
        return 0.0
    p = h[h > 0] / h.sum()
    return max(0.0, float(-(p * p.log2()).sum()))


def as_sample_tensor(samples) -> torch.Tensor:
    """Validate samples into float32 (N, 1, 28, 28) on the CPU, or raise :class:`DataError`.

    Accepts a numpy array or a torch tensor of shape (N, 28, 28) or (N, 1, 28, 28) with N >= 2,
    finite values in [0, 1] (an overshoot of up to 0.01, e.g. from a sampler's last step, is
    clipped; anything beyond is a convention error such as [-1, 1] or 0..255 pixels).
    """
    if isinstance(samples, np.ndarray):
        if samples.dtype.kind not in "biuf":
            raise DataError(f"samples must be a numeric array, got dtype {samples.dtype}")
        t = torch.from_numpy(np.array(samples, dtype=np.float32, copy=True))  # also fine for read-only arrays
    elif torch.is_tensor(samples):
        if samples.is_complex():
            raise DataError(f"samples must be real numbers, got dtype {samples.dtype}")
        t = samples.detach().to("cpu", torch.float32)
    else:
        raise DataError(f"samples must be a numpy array or a torch tensor, got {type(samples).__name__}")
    if t.ndim == 3:
        t = t.unsqueeze(1)
    if t.ndim != 4 or tuple(t.shape[1:]) != (1, 28, 28):
        raise DataError(f"samples must have shape (N, 28, 28) or (N, 1, 28, 28), got {tuple(samples.shape)}")
    if t.shape[0] < 2:
        raise DataError(f"need at least 2 samples to measure quality, got {t.shape[0]}")
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).flatten(1).any(1).sum())
        raise DataError(f"{bad} of {t.shape[0]} samples contain NaN or infinite values")
    lo, hi = float(t.min()), float(t.max())
    if lo < -0.01 or hi > 1.01:
        raise DataError(f"samples must have pixels in [0, 1], got range [{lo:.3g}, {hi:.3g}]")
    return t.clamp(0.0, 1.0)


# --- the meter --------------------------------------------------------------------------------
NN_COST = 3  # the nearest-neighbour search costs ~3x the classifier pass per sample: progress weights


class MeterProgress(NamedTuple):
    """One step of :meth:`QualityMeter.evaluate_steps`: ``done`` of ``total`` units, and at the end the report."""

    done: int
    total: int
    result: QualityReport | None = None


class QualityMeter:
    """A judge (classifier + MNIST-test feature statistics) and the training set it guards."""

    def __init__(self, classifier: DigitClassifier, ref_mu: torch.Tensor, ref_cov: torch.Tensor,
                 train_images: torch.Tensor, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.classifier = classifier.to(self.device).eval()
        self.ref_mu = torch.as_tensor(ref_mu, dtype=torch.float64).cpu()
        self.ref_cov = torch.as_tensor(ref_cov, dtype=torch.float64).cpu()
        self.train_flat = train_images.reshape(train_images.shape[0], -1).to(self.device, torch.float32)

    def predict(self, x: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities (N, 10) and penultimate features (N, 128, float64) of valid images."""
        parts = list(self._predict_batches(x, batch))
        return torch.cat([p for p, _ in parts]), torch.cat([f for _, f in parts])

    @torch.no_grad()
    def _predict_batches(self, x: torch.Tensor, batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(0, x.shape[0], batch):
            logits, f = self.classifier.logits_and_features(x[i:i + batch].to(self.device))
            yield logits.float().softmax(1).cpu(), f.double().cpu()

    def nearest_train_distance(self, x: torch.Tensor, exclude_exact: bool = False, chunk: int = 256,
                               candidates: int = 8) -> torch.Tensor:
        """Per-sample Euclidean distance (N,) to the nearest MNIST-train image.

        ``torch.cdist`` (matrix-product form, fast) shortlists the ``candidates`` nearest training
        images of each sample; their distances are then recomputed exactly from pixel
        differences, so an exact copy of a training image scores exactly 0 (the matrix-product
        form alone leaves ~0.03 of float32 cancellation error). With ``exclude_exact``, training
        images identical to the sample are skipped: use it to measure real training images
        themselves, which are otherwise at distance 0 by construction.
        """
        return torch.cat(list(self._nearest_chunks(x, exclude_exact, chunk, candidates)))

    @torch.no_grad()
    def _nearest_chunks(self, x: torch.Tensor, exclude_exact: bool, chunk: int,
                        candidates: int) -> Iterator[torch.Tensor]:
        flat = x.reshape(x.shape[0], -1).to(self.device, torch.float32)
        k = min(candidates, self.train_flat.shape[0])
        for i in range(0, flat.shape[0], chunk):
            q = flat[i:i + chunk]
            approx = torch.cdist(q, self.train_flat, compute_mode="use_mm_for_euclid_dist")
            idx = approx.topk(k, dim=1, largest=False).indices                       # (c, k)
            exact = (q[:, None, :] - self.train_flat[idx]).norm(dim=2)               # (c, k)
            if exclude_exact:
                exact = exact.masked_fill(exact == 0, float("inf"))
                lost = torch.isinf(exact).all(1)
                if lost.any():  # every shortlisted neighbour was an identical duplicate: go exhaustive
                    for j in lost.nonzero().flatten().tolist():
                        d = (self.train_flat - q[j]).norm(dim=1)
                        exact[j, 0] = d[d > 0].min() if (d > 0).any() else float("nan")
            yield exact.min(1).values.cpu()

    def evaluate(self, samples, exclude_exact_matches: bool = False) -> QualityReport:
        """Score a set of samples: np.ndarray or tensor, (N, 28, 28) or (N, 1, 28, 28), [0, 1], N >= 2."""
        last = None
        for last in self.evaluate_steps(samples, exclude_exact_matches):
            pass
        return last.result

    def evaluate_steps(self, samples, exclude_exact_matches: bool = False, batch: int = 1000,
                       chunk: int = 256) -> Iterator[MeterProgress]:
        """:meth:`evaluate` as a step generator, for a progress bar and a Cancel between two
        chunks: a :class:`MeterProgress` after each classifier batch and each nearest-neighbour
        chunk; the last one carries the report (the same figures as :meth:`evaluate`)."""
        x = as_sample_tensor(samples)
        n = int(x.shape[0])
        total = n * (1 + NN_COST)
        probs, feats, nearest, done = [], [], [], 0
        for p, f in self._predict_batches(x, batch):
            probs.append(p)
            feats.append(f)
            done += len(p)
            yield MeterProgress(done, total)
        for d in self._nearest_chunks(x, exclude_exact_matches, chunk, 8):
            nearest.append(d)
            done += NN_COST * len(d)
            if done < total:
                yield MeterProgress(done, total)
        probs, feats = torch.cat(probs), torch.cat(feats)
        hist = torch.bincount(probs.argmax(1), minlength=10)
        top = probs.max(1).values.double()
        yield MeterProgress(total, total, QualityReport(
            n=n,
            fid=frechet_distance(feats.mean(0), torch.cov(feats.T), self.ref_mu, self.ref_cov),
            confidence=float(top.mean()),
            coverage_bits=coverage_bits(hist),
            nn_distance=float(torch.cat(nearest).double().mean()),
            class_histogram=[int(c) for c in hist],
            unsure=float((top < UNSURE_BELOW).double().mean()),
            illegible=float((top < ILLEGIBLE_BELOW).double().mean()),
        ))


# --- the shipped meter ------------------------------------------------------------------------
def classifier_info() -> dict:
    """The shipped judge's record: architecture, test accuracy, seed, date, calibration."""
    path = CLASSIFIER_DIR / INFO_FILE
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EbmStudioError(f"{path}: quality meter metadata missing or unreadable ({exc})") from None
    if not isinstance(info, dict):
        raise EbmStudioError(f"{path}: quality meter metadata is not a JSON object")
    return info


def load_classifier(folder=None) -> DigitClassifier:
    """The shipped classifier, checked tensor by tensor; :class:`CheckpointError` if unusable."""
    path = Path(folder or CLASSIFIER_DIR) / WEIGHTS_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: quality meter classifier missing; run scripts/train_classifier.py")
    tensors, _ = load_tensors(path)
    model = DigitClassifier()
    expected = model.state_dict()
    if set(tensors) != set(expected):
        diff = sorted(set(tensors) ^ set(expected))[:3]
        raise CheckpointError(f"{path}: weights do not match the quality meter's classifier ({diff})")
    for key, ref in expected.items():
        t = tensors[key]
        if tuple(t.shape) != tuple(ref.shape) or t.is_floating_point() != ref.is_floating_point():
            raise CheckpointError(f"{path}: {key} has shape {tuple(t.shape)} {t.dtype}, expected {tuple(ref.shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{path}: {key} contains NaN or infinite values")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    return model.eval()


def load_reference_stats(folder=None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-test feature mean (128,) and covariance (128, 128), float64, checked."""
    path = Path(folder or CLASSIFIER_DIR) / STATS_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: quality meter reference statistics missing; run scripts/train_classifier.py")
    stats, _ = load_tensors(path)
    mu, cov = stats.get("mu"), stats.get("cov")
    if mu is None or cov is None or tuple(mu.shape) != (FEATURES,) or tuple(cov.shape) != (FEATURES, FEATURES):
        raise CheckpointError(f"{path}: expected tensors 'mu' ({FEATURES},) and 'cov' ({FEATURES}, {FEATURES})")
    mu, cov = mu.double(), cov.double()
    if not (torch.isfinite(mu).all() and torch.isfinite(cov).all()) or not torch.allclose(cov, cov.T, atol=1e-6):
        raise CheckpointError(f"{path}: reference statistics are not finite or the covariance is not symmetric")
    return mu, cov


@lru_cache(maxsize=2)
def load_meter(device: str | torch.device = "cpu") -> QualityMeter:
    """The shipped meter: classifier, MNIST-test reference statistics, MNIST-train for nn-distance.

    Cached per device (the first call takes a few seconds, mostly reading MNIST-train). Raises an
    :class:`EbmStudioError` if the shipped files are missing or corrupt.
    """
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    model = load_classifier()
    mu, cov = load_reference_stats()
    return QualityMeter(model, mu, cov, load_mnist("train").images, device=dev)
