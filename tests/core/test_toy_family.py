"""Adding a family is its own package plus one registration line (ARCHITECTURE.md).

The toy family below is what a new package would hold: a model, a trainer (a StepTrainer with
its own step), a sampler (a step generator of ChainSteps) and the record saying what it can do.
The one line that plugs it in is ``register(TOY)`` (in the studio: an entry in
``families.PACKAGES``); nothing else is edited, and the generic paths (make_trainer, the trainer's
step generator, draw_from_noise, save_run / load_run, the saved config) then treat it like any
other family."""

import pytest
import torch
from torch import nn

from ebm_studio.core import config, families
from ebm_studio.core.chain import ChainStep
from ebm_studio.core.checkpoint import load_run, save_run
from ebm_studio.core.config import RunConfig, config_to_toml
from ebm_studio.core.family import Family
from ebm_studio.core.trainer import StepTrainer


# --- the toy package -------------------------------------------------------------------------
class ToyEnergy(nn.Module):
    """E(x) = |x - mu|^2 / 2: a Gaussian of unit variance around a learned mean image."""

    def __init__(self):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(1, 1, 28, 28))

    def energy(self, x):
        return 0.5 * (x - self.mu).pow(2).flatten(1).sum(1)

    forward = energy


def build_toy(cfg) -> ToyEnergy:
    return ToyEnergy()


class ToyTrainer(StepTrainer):
    build_model = staticmethod(build_toy)

    def _step(self, batch):
        loss = self.model.energy(batch).mean()  # maximum likelihood of the mean
        grad_norm = self.backward_and_step(loss)
        return {"loss": float(loss.detach()), "grad_norm": float(grad_norm), "e_data": float(loss.detach()),
                "e_samples": 0.0}


def toy_chain(model, cfg, x0, steps=None, mask=None, generator=None, settings=None, compile=None):
    """Exact gradient steps halfway to the mean, one ChainStep each."""
    n = cfg.sampler.total_steps() if steps is None else steps
    x = x0.clone()
    with torch.no_grad():
        yield ChainStep(0, x, model.energy(x))
        for k in range(1, n + 1):
            x = x - 0.5 * (x - model.mu)
            yield ChainStep(k, x, model.energy(x))


TOY = Family(name="toy", label="Toy Gaussian", build=build_toy, trainer=ToyTrainer, sampler=toy_chain,
             preset="dsm", model_fields=(), chart_labels=lambda cfg: ("E(data)", "E(samples)"))


# --- the test --------------------------------------------------------------------------------
@pytest.fixture
def registry(monkeypatch):
    """The registries as they are, restored after the test (the toy family is not left behind)."""
    monkeypatch.setattr(families, "_RECORDS", dict(families._RECORDS))
    monkeypatch.setattr(config, "MODEL_FIELDS", dict(config.MODEL_FIELDS))


def test_a_toy_family_trains_samples_and_saves_through_the_generic_paths(registry, tmp_path):
    with pytest.raises(Exception, match="model.family"):
        RunConfig().with_overrides(**{"model.family": "toy"})
    families.register(TOY)  # the one registration line

    cfg = RunConfig().with_overrides(**{"model.family": "toy", "train.lr": 0.05, "train.batch_size": 32,
                                        "sampler.schedule": "constant", "sampler.steps": 12, "train.device": "cpu"})
    target = torch.full((1, 1, 28, 28), 0.25)
    data = (target + 0.05 * torch.randn(256, 1, 28, 28, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    trainer = families.make_trainer(cfg, data)
    assert isinstance(trainer, ToyTrainer)
    records = list(trainer.steps(200))
    assert records[-1].loss < records[0].loss
    assert float((trainer.model.mu.detach() - target).abs().max()) < 0.05

    samples = families.draw_from_noise(trainer.model, cfg, 5, seed=1)
    assert samples.shape == (5, 1, 28, 28) and float((samples - target).abs().max()) < 0.06
    assert families.family("toy").chart_labels(cfg) == ("E(data)", "E(samples)")

    save_run(tmp_path / "run", trainer.export_model(), cfg, trainer)
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert '[model]\nfamily = "toy"\n\n' in saved  # the toy model uses no other [model] key
    loaded = load_run(tmp_path / "run")
    assert isinstance(loaded.model, ToyEnergy) and torch.equal(loaded.model.mu.detach(), trainer.model.mu.detach())
    assert "family = \"toy\"" in config_to_toml(loaded.config)


def test_a_family_cannot_be_registered_twice(registry):
    families.register(TOY)
    with pytest.raises(ValueError, match="twice"):
        families.register(TOY)
