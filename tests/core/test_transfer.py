"""Few-shot transfer: fine-tune a model on a few examples of a new digit, and judge it."""

import json

import torch

from ebm_studio.cli import main
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.quality.transfer import mean_pairwise_distance, transfer_figures

TINY = ["--width", "4", "--batch-size", "8", "--quiet"]


def test_init_from_fine_tunes_the_source_model_on_a_few_examples(tmp_path, capsys):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    assert main(["train", "--out", str(base), "--digits", "0,1,2,3,4,5,6,7,8", "--limit", "64", "--steps", "3",
                 *TINY]) == 0
    # the target's own --width is ignored: the architecture comes from the source
    assert main(["train", "--out", str(tuned), "--init-from", str(base), "--digits", "9", "--max-examples", "10",
                 "--steps", "2", "--lr", "1e-4", "--quiet", "--batch-size", "8", "--width", "16"]) == 0
    src, run = load_run(base), load_run(tuned)
    assert run.config.data.digits == [9] and run.config.data.limit == 10
    assert run.config.model == src.config.model and run.config.train.lr == 1e-4
    a, b = src.model.state_dict(), run.model.state_dict()
    assert a.keys() == b.keys()
    moved = [k for k in a if a[k].dtype.is_floating_point and not torch.equal(a[k], b[k])]
    assert moved, "fine-tuning changed no weight"
    # close to the source, not a fresh random net: two small steps moved the weights only a little
    w = "features.0.weight"
    assert (a[w] - b[w]).norm() < 0.1 * a[w].norm()

    capsys.readouterr()
    assert main(["evaluate", str(tuned), "--n", "20", "--steps", "3", "--digit", "9", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["target_digit"] == 9 and 0 <= figures["share_target"] <= 1
    assert figures["nn_example_distance"] > 0 and figures["example_diversity"] > 0


def test_init_from_a_model_that_is_not_there_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), "--init-from", str(tmp_path / "nope"), "--steps", "1",
                 "--quiet"]) != 0
    assert "nope" in capsys.readouterr().err


def test_transfer_figures_see_copies_and_the_target_digit():
    from ebm_studio.core.data import load_mnist
    from ebm_studio.core.quality import load_meter

    test = load_mnist("test")
    nines = test.images[test.labels == 9][:40]
    ones = test.images[test.labels == 1][:40]
    meter = load_meter()
    copies = transfer_figures(meter, nines[:10].repeat(2, 1, 1, 1), 9, examples=nines[:10])
    fresh = transfer_figures(meter, nines[10:40], 9, examples=nines[:10])
    wrong = transfer_figures(meter, ones, 9, examples=nines[:10])
    assert copies["nn_example_distance"] == 0.0 and fresh["nn_example_distance"] > 3
    assert fresh["share_target"] > 0.9 and wrong["share_target"] < 0.1
    assert mean_pairwise_distance(torch.zeros(5, 1, 28, 28)) == 0.0
