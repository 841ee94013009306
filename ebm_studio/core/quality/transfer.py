"""Figures for few-shot transfer: did the model learn the new digit, or copy its few examples?

Seed 004 fine-tunes a flow trained on 0-8 on ten 9s. Judging such a model needs three things the
general meter does not say: how many samples are the *target* digit (and how surely), how far each
sample is from the nearest of the few training examples (0 = a copy: memorised), and how varied
the samples are compared with the examples themselves (mean pairwise distance).
"""

from __future__ import annotations

import torch


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).double()


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between distinct images of ``x`` (N >= 2): a diversity figure."""
    f = _flat(x)
    d = torch.cdist(f, f)
    n = f.shape[0]
    return float(d.sum() / (n * (n - 1)))


def transfer_figures(meter, samples: torch.Tensor, digit: int, examples: torch.Tensor | None = None) -> dict:
    """Share of samples the meter's classifier calls ``digit``, its mean probability, and, given the
    training ``examples``, the nearest-example distance and the diversity of samples and examples."""
    if not 0 <= int(digit) <= 9:
        raise ValueError(f"digit must be 0-9, got {digit}")
    x = samples.reshape(-1, 1, 28, 28).float()
    probs, _ = meter.predict(x)
    out = {
        "target_digit": int(digit),
        "share_target": round(float((probs.argmax(1) == digit).double().mean()), 4),
        "p_target": round(float(probs[:, digit].double().mean()), 4),
        "sample_diversity": round(mean_pairwise_distance(x[:1000]), 3),
    }
    if examples is not None and len(examples):
        e = examples.reshape(-1, 1, 28, 28).float()
        out["nn_example_distance"] = round(float(torch.cdist(_flat(x), _flat(e)).min(1).values.mean()), 3)
        if len(e) >= 2:
            out["example_diversity"] = round(mean_pairwise_distance(e), 3)
    return out
