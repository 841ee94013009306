"""The contrastive term's chain pool is saved with the run, so a resumed run continues its chains:
two budgets of 2 steps with a save and a resume in between train exactly what 4 steps do."""

import torch
from safetensors.torch import load_file

from ebm_studio.core.config import RunConfig
from ebm_studio.core.session import Budget, TrainingSession

TINY = {"model.width": 8, "data.limit": 256, "train.batch_size": 16, "train.device": "cpu",
        "train.contrast": 0.05, "train.contrast_phase": 0.0, "train.contrast_chains": 8, "sampler.levels": 12}


def _train(run_dir, steps, resume=False):
    session = TrainingSession(RunConfig().with_overrides(**TINY), run_dir=run_dir, resume=resume,
                              autosave_minutes=0, tensorboard=False)
    list(session.run(Budget(steps=steps)))
    session.save()
    session.close()
    return session


def test_a_resumed_run_continues_the_pools_chains_exactly(tmp_path):
    straight = _train(tmp_path / "straight", 4)
    assert straight.trainer.pool is not None and (straight.trainer.pool.level >= 0).any()
    _train(tmp_path / "halves", 2)
    half = load_file(str(tmp_path / "halves" / "trainer.safetensors"))
    assert half["extra.pool.x"].shape == (8, 1, 28, 28)
    resumed = _train(tmp_path / "halves", 2, resume=True)
    assert resumed.trainer.step == 4
    a = load_file(str(tmp_path / "straight" / "trainer.safetensors"))
    b = load_file(str(tmp_path / "halves" / "trainer.safetensors"))
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
