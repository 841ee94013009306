"""The Boltzmann trainer's moving average of the weights (``train.ema``): what is saved and sampled
is the average of the raw weights' path, the chains run on the raw weights, a run resumes exactly,
and a DBM averages only its joint training."""

import pytest
import torch

from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run
from ebm_studio.core.families import make_trainer
from ebm_studio.core.presets import preset_config


def _rbm_trainer(data, ema: float, **overrides):
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [12], "train.batch_size": 32,
                                                 "train.ema": ema, **overrides})
    return make_trainer(cfg, data)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_rbm_recipes_average_their_weights():
    assert all(preset_config(name).train.ema > 0 for name in ("rbm", "rbm-centred", "sparse-rbm"))
    assert preset_config("hopfield").train.ema == 0  # not measured: left as it was


def test_the_exported_model_is_the_average_of_the_raw_weights_path(mnist_small):
    decay = 0.9
    tr = _rbm_trainer(mnist_small.images, decay)
    path = []
    for record in tr.steps(8):
        path.append((record.step, _weights(tr.model)))
    # the average by hand: seeded with the first step's weights, then lerp'd with update_average's warm-up
    expected = dict(path[0][1])
    for step, w in path[1:]:
        n = step - 1  # the trainer's step count while it made this update
        rate = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        expected = {k: expected[k] + rate * (w[k] - expected[k]) for k in expected}
    exported = tr.export_model().state_dict()
    assert tr.export_model() is not tr.model
    for k in expected:
        torch.testing.assert_close(exported[k], expected[k])
    assert not torch.equal(exported["W"], tr.model.W)  # not just the last weights


def test_without_an_average_the_last_weights_are_saved_and_no_pair_is_stored(mnist_small):
    tr = _rbm_trainer(mnist_small.images, 0.0)
    list(tr.steps(3))
    assert tr.export_model() is tr.model
    assert not any(k.startswith(("raw.", "ema.")) for k in tr.extra_state())


@pytest.mark.parametrize("ema", [0.0, 0.95])
def test_a_run_resumes_exactly_with_or_without_the_average(ema, tmp_path, mnist_small):
    """Also the learning-rate schedule: a resumed run once restarted the power law at its step."""
    def trainer():
        return _rbm_trainer(mnist_small.images, ema, **{"train.seed": 3})

    straight = trainer()
    list(straight.steps(10))

    first = trainer()
    list(first.steps(4))
    save_run(tmp_path / "run", first.export_model(), first.cfg, trainer=first)
    run = load_run(tmp_path / "run", with_trainer_state=True)
    torch.testing.assert_close(run.model.W, first.export_model().W)  # the model file holds the average
    again = resume_trainer(run, mnist_small.images)
    assert again._decayed_lr() == pytest.approx(first._decayed_lr(), rel=1e-12)
    list(again.steps(6))
    torch.testing.assert_close(again.model.W, straight.model.W)
    torch.testing.assert_close(again.export_model().W, straight.export_model().W)


def test_a_file_without_the_pair_restarts_the_average_from_its_weights(mnist_small):
    tr = _rbm_trainer(mnist_small.images, 0.99)
    list(tr.steps(3))
    extra = {k: v for k, v in tr.extra_state().items() if not k.startswith(("raw.", "ema."))}
    tr.restore_extra(extra)  # as a trainer state written before averaging existed
    assert tr.export_model() is tr.model
    list(tr.steps(1))
    torch.testing.assert_close(tr.export_model().W, tr.model.W)  # re-seeded, then one step toward itself


def test_a_dbm_averages_its_joint_training_only(mnist_small):
    cfg = preset_config("dbm").with_overrides(**{"model.hidden": [16, 8], "train.batch_size": 64,
                                                 "train.pretrain_epochs": 0.25, "train.ema": 0.9})
    tr = make_trainer(cfg, mnist_small.images)
    per_layer = int(round(0.25 * tr.steps_per_epoch))
    list(tr.steps(2 * per_layer))  # both layers' pre-training, then the pre-trained weights are loaded
    assert tr.export_model() is tr.model
    list(tr.steps(1))  # the first joint step seeds the average with the joint weights
    torch.testing.assert_close(tr.export_model().W1, tr.model.W1)
    before = tr.export_model().W1.clone()
    list(tr.steps(1))
    rate = 1.0 - min(0.9, (1.0 + tr.step - 1) / (10.0 + tr.step - 1))
    torch.testing.assert_close(tr.export_model().W1, before + rate * (tr.model.W1 - before))
