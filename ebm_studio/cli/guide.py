"""``ebm-studio guide``: train the class guide p(y | x, sigma) that ``sample --label D`` steers by."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .options import add_quiet, nonneg_int, positive_float, positive_int


def register(sub) -> None:
    gd = sub.add_parser("guide", help="train the class guide that lets 'sample --label D' ask for a digit",
                        description="Train a classifier of noised images p(y | x, sigma) on the run's data and save "
                                    "it beside the run as guide.safetensors (class-conditional sampling by guidance).")
    gd.add_argument("model", help="run directory (or 'pretrained' with --out)")
    gd.add_argument("--minutes", type=positive_float, default=2.0, help="training budget")
    gd.add_argument("--width", type=positive_int, default=16, help="channel width of the classifier")
    gd.add_argument("--out", type=Path, help="directory to write guide.safetensors to (default: the run directory)")
    gd.add_argument("--seed", type=nonneg_int, default=0)
    add_quiet(gd, help=None)
    gd.set_defaults(run=lambda a: guide(a.model, a.minutes, a.width, a.out, a.seed, a.quiet))


def guide(model: str, minutes: float, width: int, out: Path | None, seed: int, quiet: bool) -> int:
    import torch

    from ..core.conv.guidance import guide_accuracy, save_guide, train_guide
    from ..core.data import load_dataset, load_mnist
    from ..core.device import configure_threads
    from ..core.errors import ConfigError, DataError
    from ..core.families import family
    from ..core.models_io import open_model

    configure_threads()
    run = open_model(model)
    if not family(run.config.model.family).guidable:
        raise ConfigError("class guides steer the convolutional EBM; this run is a " + run.config.model.family)
    if str(model).startswith("pretrained") and out is None:
        raise ConfigError("give --out: the shipped models' folder is not written to")
    target = out or run.path
    d = run.config.data
    data = load_dataset(d.source, "train", d.digits, d.limit)
    if data.labels is None or bool((data.labels < 0).any()):
        raise DataError(f"{d.source}: the class guide needs labelled images (MNIST or IDX with labels)")
    s = run.config.sampler
    t0, last = time.monotonic(), None
    for net, last in train_guide(data.images, data.labels, s.sigma_min, s.sigma_max, width=width, seed=seed):
        if not quiet and last.step % 50 == 0:
            print(f"\rstep {last.step}  loss {last.loss:.3f}  batch accuracy {last.accuracy:.3f}", end="",
                  file=sys.stderr)
        if time.monotonic() - t0 >= minutes * 60:
            break
    test = load_mnist("test")
    keep = torch.ones(len(test.labels), dtype=torch.bool) if d.digits is None else torch.isin(
        test.labels, torch.tensor(d.digits))
    acc = guide_accuracy(net.eval(), test.images[keep][:2000], test.labels[keep][:2000])
    path = save_guide(target, net, {"steps": last.step, "seconds": round(last.seconds), "test_accuracy_by_sigma": acc})
    print(f"\nsaved {path}; MNIST-test accuracy by noise level: {acc}", file=sys.stderr)
    return 0
