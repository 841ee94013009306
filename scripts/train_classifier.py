"""Train the quality meter's MNIST classifier and record its accuracy and calibration.

    python scripts/train_classifier.py [--epochs 3] [--threads 2]

Writes resources/classifier/classifier.safetensors, classifier.json (architecture, test accuracy,
seed, date) and reference_stats.safetensors (feature mean/covariance of MNIST-test, used by the
classifier-FID). Then run scripts/calibrate_meter.py to document the meter's calibration.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time

import torch
from torch.nn import functional as F

from ebm_studio.core.atomic import atomic_write_text
from ebm_studio.core.checkpoint import save_tensors
from ebm_studio.core.data import load_mnist
from ebm_studio.core.quality.classifier import DigitClassifier
from ebm_studio.core.resources import CLASSIFIER_DIR


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random affine: rotation +-12 degrees, scale 0.9-1.1, shift +-2 px."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=g) * 2 - 1) * (12 * torch.pi / 180)
    scale = 0.9 + 0.2 * torch.rand(n, generator=g)
    shift = (torch.rand(n, 2, generator=g) * 2 - 1) * (2 / 14)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def evaluate(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            correct += (model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train, test = load_mnist("train"), load_mnist("test")
    model = DigitClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = args.epochs * (len(train) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    step = 0
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(train), generator=g)
        for i in range(0, len(train) - 127, 128):
            idx = perm[i:i + 128]
            x, y = augment(train.images[idx], g), train.labels[idx]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
        print(f"epoch {epoch}: test accuracy {evaluate(model, test.images, test.labels):.4f}", flush=True)
    acc = evaluate(model, test.images, test.labels)
    model.eval()
    CLASSIFIER_DIR.mkdir(parents=True, exist_ok=True)
    save_tensors(CLASSIFIER_DIR / "classifier.safetensors", model.state_dict())
    with torch.no_grad():
        feats = torch.cat([model.features(test.images[i:i + 1000]) for i in range(0, len(test), 1000)]).double()
    mu = feats.mean(0)
    cov = torch.cov(feats.T)
    save_tensors(CLASSIFIER_DIR / "reference_stats.safetensors", {"mu": mu, "cov": cov})
    info = {
        "architecture": "DigitClassifier (4 conv + BN, 128-d penultimate features)",
        "test_accuracy": acc,
        "epochs": args.epochs,
        "seed": args.seed,
        "train_seconds": round(time.time() - t0, 1),
        "date": datetime.date.today().isoformat(),
        "reference": "MNIST-test (10000 images) penultimate features",
    }
    atomic_write_text(CLASSIFIER_DIR / "classifier.json", json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
