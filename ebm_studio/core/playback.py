"""A steppable chain for the canvas: start from one image, watch it descend the energy.

:class:`ChainPlayer` keeps N chains started from the same seed image (with different noise, to
show the spread), advances them one sampler step at a time through the family's own sampler
(Langevin for the convolutional EBM, Gibbs sweeps for Boltzmann machines), and records the
energy trace and every k-th state for a film strip or GIF. Settings (step size, noise, total
steps) may change between steps. Clamped pixels (``mask``) never change: inpainting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .chain import ChainStep
from .config import RunConfig
from .conv.inpaint_guidance import guided_for_mask
from .conv.langevin import LangevinSettings
from .conv.recovery_chain import recovery_chain, recovery_ladder, recovery_plan
from .conv.schedules import ancestral_schedule, annealed_schedule
from .families import sample_chain


@dataclass
class PlaybackSettings:
    total_steps: int = 200
    step_size: float = 10.0
    noise: float = 0.005
    grad_clip: float = 0.03
    record_every: int = 5
    anneal_from: float | None = None  # noise-conditional models: anneal sigma from here to sigma_min
    # (for a model sampled by the ancestral sampler: noise the seed to this level and reverse the
    # noising, SDEdit; otherwise annealed Langevin down the levels)
    seed_is_noisy: bool = False  # with anneal_from: the seed already carries noise of that level (denoising),
    # so the ancestral sampler does not add its own first

    @classmethod
    def for_model(cls, cfg: RunConfig, anneal_from: float | None = None, total_steps: int | None = None,
                  record_every: int = 5, seed_is_noisy: bool = False) -> "PlaybackSettings":
        """The canvas's settings for a model: for a laddered sampler the Langevin step of its finest
        noise level (a = eps: step a / sigma_min, noise sqrt(2a)) and its own number of steps;
        otherwise the sampler's step size and noise. ``anneal_from`` only for a noise ladder."""
        s = cfg.sampler
        laddered = s.schedule in ("annealed", "ancestral")
        step, noise = (s.eps / s.sigma_min, (2 * s.eps) ** 0.5) if laddered else (s.step_size, s.noise)
        return cls(total_steps=total_steps or (s.chain_steps() if laddered else 200), step_size=step, noise=noise,
                   grad_clip=s.grad_clip, record_every=record_every,
                   anneal_from=anneal_from if laddered else None, seed_is_noisy=seed_is_noisy)


class ChainPlayer:
    def __init__(self, model, cfg: RunConfig, seed_image: np.ndarray, n_chains: int = 1,
                 mask: np.ndarray | None = None, seed: int = 0, settings: PlaybackSettings | None = None):
        """``seed_image`` (28, 28), or (B, 28, 28) for a batch (the command line's inpaint/denoise):
        ``n_chains`` chains from each; ``mask`` (28, 28) for all or (B, 28, 28), True = clamped."""
        self.model, self.cfg = model, cfg
        s = cfg.sampler
        self.settings = settings or PlaybackSettings(step_size=s.step_size, noise=s.noise, grad_clip=s.grad_clip)
        self.seed_images = np.asarray(seed_image, dtype=np.float32).reshape(-1, 28, 28).copy()
        self.seed_image = self.seed_images[0]
        self.mask = None if mask is None else np.asarray(mask, dtype=bool).reshape(-1, 28, 28).copy()
        self.n_chains = max(1, int(n_chains))
        self.seed = seed
        self.reset()

    def _sampler_settings(self) -> LangevinSettings:
        s = self.settings
        step_size, noise, sigma, clamp = s.step_size, s.noise, None, (0.0, 1.0)
        grad_clip = s.grad_clip or None
        if s.anneal_from is not None:
            k = min(self.step_index, s.total_steps - 1)
            step_size, noise, sigma = self._schedule()[k]
            if self._ancestral():  # noisy images in between; the last step lands in the pixel range
                grad_clip = None
                clamp = (0.0, 1.0) if k >= s.total_steps - 1 else None
        # "steps" is not a limit here: the player decides when to stop (total_steps)
        return LangevinSettings(steps=1 << 60, step_size=step_size, noise=noise, grad_clip=grad_clip,
                                sigma=sigma, clamp=clamp)

    def _ancestral(self) -> bool:
        return self.cfg.sampler.schedule == "ancestral"

    def _recovery(self) -> bool:
        """An energy trained by recovery likelihood: its chain is its own (its moves are tethered to
        the level above, which per-step settings cannot say), from ``anneal_from`` or sigma_max."""
        m = self.cfg.sampler
        return self._ancestral() and m.method == "recovery"

    def _recovery_levels(self) -> tuple[list[float], int]:
        """The recovery chain's ladder and its moves a level, as near total_steps long as whole levels allow."""
        s, m = self.settings, self.cfg.sampler
        sigmas = recovery_ladder(m, s.anneal_from)
        return sigmas, max(1, round((s.total_steps - 1) / max(1, len(sigmas) - 1)))

    def _recovery_chain(self, x0: torch.Tensor, mask: torch.Tensor | None, sigmas: list[float], per: int):
        """The recovery chain, then its last state for as long as the canvas asks (a longer total)."""
        last = None
        model = guided_for_mask(self.model, mask, self.cfg.sampler.inpaint_guidance)
        for last in recovery_chain(model, x0, sigmas, per, self.cfg.sampler.recovery_step, mask=mask,
                                   generator=self.generator, add_noise=not self.settings.seed_is_noisy):
            yield last
        while True:
            last = ChainStep(last.step + 1, last.x, last.energy, last.grad)
            yield last

    def _schedule(self) -> list[tuple[float, float, float]]:
        """The (step, noise, sigma) ladder from ``anneal_from`` down to sigma_min over total_steps:
        SDEdit for models sampled ancestrally, annealed Langevin otherwise; cached per setting."""
        s, m = self.settings, self.cfg.sampler
        key = (s.anneal_from, s.total_steps, m.sigma_min, m.levels, m.eps, m.schedule, m.snr)
        if getattr(self, "_schedule_key", None) == key:
            return self._schedule_cache
        top = max(s.anneal_from, m.sigma_min)
        if self._ancestral():
            # SDEdit (Meng et al. 2022): noise the seed to level anneal_from, then reverse the noising
            per = max(1, m.steps_per_level)
            levels = max(1, (s.total_steps - 1) // per)
            sched = ancestral_schedule(top, m.sigma_min, levels, corrector=per - 1, snr=m.snr)
            sched += [(0.0, 0.0, m.sigma_min)] * max(0, s.total_steps - len(sched))  # extra steps: stay put
            cache = sched[: max(1, s.total_steps)]
            if s.seed_is_noisy:  # the seed is already at level anneal_from: no first noise injection
                cache[0] = (0.0, 0.0, top)
        else:
            levels = max(1, min(m.levels, s.total_steps - 1))
            per_level = max(1, (s.total_steps - 1) // levels)
            sched = annealed_schedule(top, m.sigma_min, levels, per_level, m.eps)
            sched += [sched[-2] if len(sched) > 1 else sched[-1]] * max(0, s.total_steps - len(sched))
            cache = sched[: max(1, s.total_steps)]
            if len(sched) >= s.total_steps:  # finish on the noise-free denoising step
                cache[-1] = (m.sigma_min, 0.0, m.sigma_min)
        self._schedule_cache, self._schedule_key = cache, key
        return cache

    def reset(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)
        x0 = torch.from_numpy(self.seed_images).unsqueeze(1).repeat_interleave(self.n_chains, 0)
        mask = None if self.mask is None else torch.from_numpy(self.mask).unsqueeze(1)
        if mask is not None and mask.shape[0] > 1:
            mask = mask.repeat_interleave(self.n_chains, 0)
        if self._recovery():  # its ladder is fixed when it starts, and so is each state's level
            sigmas, per = self._recovery_levels()
            self._recovery_sigmas = [level for level, _, _ in recovery_plan(sigmas, per)] + [sigmas[-1]]
            self._chain = self._recovery_chain(x0, mask, sigmas, per)
        else:
            self._chain = sample_chain(self.model, self.cfg, x0, steps=1 << 60, mask=mask, generator=self.generator,
                                       settings=self._sampler_settings)
        self.energies: list[np.ndarray] = []
        self.sigmas: list[float | None] = []  # the noise level each energy was evaluated at (None: default)
        self.frames: list[np.ndarray] = []
        self.step_index = 0
        self.sigmas.append(self._step_sigma())
        self._absorb(next(self._chain))

    def _step_sigma(self) -> float | None:
        """The noise level the next step's energy is evaluated at (the settings the chain will read)."""
        if self._recovery():  # the state about to be absorbed: evaluated at the level of its next move
            i = self.step_index + (1 if self.energies else 0)
            return self._recovery_sigmas[min(i, len(self._recovery_sigmas) - 1)]
        return self._sampler_settings().sigma

    def _absorb(self, st: ChainStep) -> None:
        self.current = st.x[:, 0].detach().float().cpu().numpy().copy()
        self.grad = None if st.grad is None else st.grad[:, 0].detach().float().cpu().numpy().copy()
        self.energies.append(st.energy.detach().float().cpu().numpy().copy())
        self.step_index = st.step
        if st.step % max(1, self.settings.record_every) == 0:
            self.frames.append(self.current.copy())

    @property
    def done(self) -> bool:
        return self.step_index >= self.settings.total_steps

    def step(self) -> bool:
        """Advance one sampler step; False (and nothing happens) once total_steps is reached."""
        if self.done:
            return False
        self.sigmas.append(self._step_sigma())
        self._absorb(next(self._chain))
        if self.done and self.step_index % max(1, self.settings.record_every) != 0:
            self.frames.append(self.current.copy())
        return True

    @property
    def current_sigma(self) -> float | None:
        """The noise level of the latest energies (None: the model's default, its finest level)."""
        return self.sigmas[-1] if self.sigmas else None

    def energy_trace(self) -> np.ndarray:
        """(steps + 1, n_chains) energies, the initial state first."""
        return np.stack(self.energies)

    def frames_array(self) -> np.ndarray:
        """(T, n_chains, 28, 28) recorded states for a film strip or GIF."""
        return np.stack(self.frames)
