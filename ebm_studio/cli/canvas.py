"""``ebm-studio inpaint`` and ``ebm-studio denoise``: the canvas's two main uses, headless and in batches.

Both run the canvas's own code path, :class:`~ebm_studio.core.playback.ChainPlayer` with the
canvas's settings for the model (``PlaybackSettings.for_model``): inpainting clamps the mask's
pixels and lets the chain fill in the rest, starting (for a noise-conditional energy) at noise
level ``--anneal-from`` (default: the top of the model's ladder, so a blank region is drawn from
scratch); denoising treats the image as carrying Gaussian noise of level ``--sigma`` and walks the
ladder down from there without adding any. A Boltzmann machine runs Gibbs sweeps instead.

In: one image file, a folder of them, or a .npy (N, 28, 28). A 28x28 picture is taken pixel for
pixel (only its polarity is fixed, white ink on black), any other size is made MNIST-style. Masks
likewise (pixels > 0.5 are kept); one mask serves every image. Out: a .npy (N, 28, 28), a .png
(one image), or a folder with one PNG per input, named as the inputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .options import DEVICE_CHOICES, add_quiet, finite_float, nonneg_int, positive_float, positive_int
from .progress import Progress

if TYPE_CHECKING:  # numpy is imported where it is used: the parser loads without it
    import numpy as np

#: denoise's default chain length: a short ladder from the input's noise level denoised better than
#: longer ones (figures: README, "inpaint and denoise, measured"; benchmarks/canvas_cli.py)
DENOISE_STEPS = 21
#: inpaint's default chains per image, the lowest-energy completion kept (figures: benchmarks/QUALITY.md)
INPAINT_CHAINS = 4
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def register(sub) -> None:
    ip = sub.add_parser("inpaint", help="fill in the unmasked part of digit images (the canvas's inpainting)",
                        description="Clamp the pixels of --mask (white = keep) and let the model's chain complete "
                                    "the rest.")
    ip.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    ip.add_argument("--mask", required=True, type=Path, help="mask image, folder or .npy: white (> 0.5) = kept pixels")
    ip.add_argument("--anneal-from", type=positive_float, metavar="SIGMA",
                    help="noise-conditional models: start the chain at this noise level (default: the model's "
                         "sigma_max, i.e. draw the free pixels from scratch)")
    ip.add_argument("--chains", type=positive_int, default=INPAINT_CHAINS, metavar="K",
                    help="run K chains per image and keep the completion of lowest energy, the likeliest of K "
                         f"draws (default {INPAINT_CHAINS}; 1: one chain's draw, as the canvas's first chain)")
    ip.add_argument("--guidance", type=finite_float, metavar="W",
                    help="noise-conditional models: weight of the reconstruction guidance that pulls the free "
                         "pixels to agree with the kept ones (default: the model's sampler.inpaint_guidance; 0 = off)")
    _common(ip, "chain steps (default: the model's own ladder; 200 for a Boltzmann machine)")
    ip.set_defaults(handler=lambda a: inpaint(a.model, a.image, a.mask, a.out, a.anneal_from, a.steps, a.seed,
                                          a.device, a.quiet, chains=a.chains, guidance=a.guidance))

    dn = sub.add_parser("denoise", help="remove Gaussian noise of a known level from digit images",
                        description="Walk the model's noise ladder down from --sigma (the noise the images carry).")
    dn.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    dn.add_argument("--sigma", required=True, type=positive_float, help="standard deviation of the images' noise")
    dn.add_argument("--chains", type=positive_int, default=1, metavar="K",
                    help="average K chains per image: one chain is a sample of the clean digit given the noisy one "
                         "(sharp, but off by about twice the posterior variance); their mean tends to the "
                         "least-squares estimate (default 1, as the canvas)")
    dn.add_argument("--mmse", action="store_true",
                    help="the least-squares estimate itself, by Tweedie's formula in one network evaluation, "
                         "instead of a chain's sample (noise-conditional conv models)")
    _common(dn, f"chain steps (default {DENOISE_STEPS}: from a small noise level a short ladder denoises best)")
    dn.set_defaults(handler=lambda a: denoise(a.model, a.image, a.out, a.sigma, a.steps, a.seed, a.device, a.quiet,
                                              chains=a.chains, mmse=a.mmse))


def _common(p: argparse.ArgumentParser, steps_help: str) -> None:
    p.add_argument("--image", required=True, type=Path, help="an image file, a folder of them, or a .npy (N, 28, 28)")
    p.add_argument("--out", required=True, type=Path, help=".npy, .png (one image) or a folder (one PNG per image)")
    p.add_argument("--steps", type=positive_int, help=steps_help)
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed")
    p.add_argument("--device", choices=list(DEVICE_CHOICES), default="auto")
    add_quiet(p)


def inpaint(model: str, image: Path, mask: Path, out: Path, anneal_from: float | None, steps: int | None,
            seed: int, device: str, quiet: bool, chains: int = 1, guidance: float | None = None) -> int:
    from ..core.errors import DataError

    names, images = load_images(image)
    _, masks = load_images(mask, as_mask=True)
    if len(masks) not in (1, len(images)):
        raise DataError(f"{mask}: {len(masks)} masks for {len(images)} images (give one, or one per image)")
    _check_out(out, len(images))
    run = _open(model, device, clamp=True)
    if guidance is not None:
        run.config = run.config.with_overrides(**{"sampler.inpaint_guidance": guidance})
    s = run.config.sampler
    top = anneal_from if anneal_from is not None else s.sigma_max
    result = complete(run.model, run.config, images, masks > 0.5, anneal_from=top, steps=steps, seed=seed,
                      quiet=quiet, desc="inpaint", chains=chains, pick="lowest")
    save_results(out, names, result)
    print(f"wrote {len(result)} completed image(s) to {out}", file=sys.stderr)
    return 0


def denoise(model: str, image: Path, out: Path, sigma: float, steps: int | None, seed: int, device: str,
            quiet: bool, chains: int = 1, mmse: bool = False) -> int:
    names, images = load_images(image)
    _check_out(out, len(images))
    run = _open(model, device)
    if mmse:
        result = mmse_denoise(run.model, run.config, images, sigma)
        save_results(out, names, result)
        print(f"wrote {len(result)} least-squares estimate(s) (Tweedie, sigma {sigma:g}) to {out}", file=sys.stderr)
        return 0
    if run.config.sampler.schedule not in ("annealed", "ancestral"):
        print(f"note: a {run.config.model.family} has no noise levels; --sigma is not used, the chain simply runs "
              "from the noisy images (few --steps keep them close)", file=sys.stderr)
    result = complete(run.model, run.config, images, None, anneal_from=sigma, steps=steps or DENOISE_STEPS,
                      seed=seed, quiet=quiet, desc="denoise", seed_is_noisy=True, chains=chains)
    save_results(out, names, result)
    print(f"wrote {len(result)} denoised image(s) to {out}", file=sys.stderr)
    return 0


def mmse_denoise(model, cfg, images: np.ndarray, sigma: float) -> np.ndarray:
    """Tweedie's least-squares estimate of the clean images, (N, 28, 28) in [0, 1]; ConfigError for a
    model that is not told the noise level (it has no score of noisy images to use)."""
    import numpy as np
    import torch

    from ..core.conv.gradient import takes_sigma, tweedie_denoise
    from ..core.errors import ConfigError

    if not (takes_sigma(model) and cfg.sampler.schedule in ("annealed", "ancestral")):
        raise ConfigError(f"--mmse needs a noise-conditional energy (a conv EBM trained by score matching or "
                          f"recovery likelihood); this {cfg.model.family} model is not told the noise level")
    x = torch.from_numpy(np.asarray(images, dtype=np.float32)).unsqueeze(1)
    out = torch.cat([tweedie_denoise(model, chunk, sigma) for chunk in x.split(256)])
    return out.clamp(0.0, 1.0)[:, 0].detach().cpu().numpy().astype(np.float32)


def complete(model, cfg, images: np.ndarray, mask: np.ndarray | None, anneal_from: float | None,
             steps: int | None = None, seed: int = 0, quiet: bool = True, desc: str = "chain",
             seed_is_noisy: bool = False, chains: int = 1, pick: str = "mean") -> np.ndarray:
    """Run the canvas's chain from every image (clamping ``mask``) to its end; (N, 28, 28) in [0, 1]:
    of ``chains`` chains per image their mean (``pick`` "mean") or the one of lowest energy ("lowest");
    "all": every chain's, (N, chains, 28, 28)."""
    import numpy as np

    from ..core.landscape import lowest_energy
    from ..core.playback import ChainPlayer, PlaybackSettings

    settings = PlaybackSettings.for_model(cfg, anneal_from=anneal_from, total_steps=steps, record_every=1 << 30,
                                          seed_is_noisy=seed_is_noisy)
    player = ChainPlayer(model, cfg, images, n_chains=chains, mask=mask, seed=seed, settings=settings)
    with Progress(desc, total=settings.total_steps, quiet=quiet) as bar:
        while player.step():
            bar.update(player.step_index)
    final = np.clip(player.current, 0.0, 1.0).reshape(len(images), chains, 28, 28)
    if pick == "all":
        return final.astype(np.float32)
    if pick == "lowest" and chains > 1:
        return lowest_energy(model, cfg, final).astype(np.float32)
    return final.mean(1).astype(np.float32)


def _open(model: str, device_name: str, clamp: bool = False):
    from ..core.device import configure_threads, resolve_device
    from ..core.errors import ConfigError
    from ..core.families import family
    from ..core.models_io import open_model

    configure_threads()
    run = open_model(model, device=resolve_device(device_name))
    name = run.config.model.family
    if not family(name).has_chain:
        raise ConfigError(f"a {name} draws each sample from its latent prior in one pass; there is no chain to "
                          "clamp or to start from an image (use an energy model)")
    if clamp and not family(name).clampable:
        raise ConfigError(f"a {name}'s chain cannot hold pixels fixed: it cannot inpaint")
    run.model = run.model.float()
    return run


def load_images(path: Path, as_mask: bool = False) -> tuple[list[str], np.ndarray]:
    """Names and (N, 28, 28) float32 images from an image file, a folder of them, or a .npy.
    ``as_mask``: taken as they are (28x28 only, no polarity guess)."""
    import numpy as np

    from ..core.array_files import load_samples_npy
    from ..core.errors import DataError

    if path.suffix.lower() == ".npy":
        arr = load_samples_npy(path)
        return [f"{i:05d}" for i in range(len(arr))], arr
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DataError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    else:
        files = [path]
    return [p.stem for p in files], np.stack([_load_one(p, as_mask) for p in files])


def _load_one(path: Path, as_mask: bool) -> np.ndarray:
    import numpy as np

    from ..core.errors import DataError
    from ..core.images import load_image_file, to_mnist_style, white_on_black

    gray = load_image_file(path)
    if as_mask:
        if gray.shape != (28, 28):
            raise DataError(f"{path}: a mask must be 28x28 pixels, got {gray.shape[1]}x{gray.shape[0]}")
        return gray.astype(np.float32)
    if gray.shape == (28, 28):  # pixel for pixel: the mask and the noise refer to these pixels
        return white_on_black(gray).astype(np.float32)
    return to_mnist_style(gray)


def _check_out(out: Path, n: int) -> None:
    from ..core.errors import ConfigError
    from ..core.output_paths import check_output_path

    suffix = out.suffix.lower()
    if suffix == ".png" and n > 1:
        raise ConfigError(f"{out}: {n} images give {n} results; write them to a folder or a .npy")
    check_output_path(out, "file" if suffix in (".npy", ".png") else "dir", None)


def save_results(out: Path, names: list[str], result: np.ndarray) -> None:
    import numpy as np

    from ..core.atomic import atomic_write_with
    from ..core.images import save_gray_png

    suffix = out.suffix.lower()
    if suffix == ".npy":
        atomic_write_with(out, lambda tmp: np.save(open(tmp, "wb"), result))
    elif suffix == ".png":
        save_gray_png(out, result[0])
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, img in zip(names, result):
            save_gray_png(out / f"{name}.png", img)
