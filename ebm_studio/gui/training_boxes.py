"""The Training panel's optimisation and sampler settings, built once (functions of the panel they
fill in, so the panel's module keeps the config logic)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout

from ..core.device import cuda_available
from .fields import Choice, NumberField

BUDGETS = ["epochs", "minutes", "steps", "unlimited"]


def compact_form(box: QGroupBox) -> QFormLayout:
    """A form whose long rows wrap under their label when the dock is narrow."""
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def pair(a, b) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(a)
    row.addWidget(b)
    return row


def build_optimisation_box(panel) -> QGroupBox:
    opt_box = QGroupBox("Optimisation")
    form = compact_form(opt_box)
    panel.batch_size = NumberField("batch size", 128, 1, 65536, integer=True, tooltip="Images per training step")
    form.addRow("Batch size", panel.batch_size)
    budget_row = QHBoxLayout()
    panel.budget_kind = QComboBox()
    panel.budget_kind.addItems(BUDGETS)
    panel.budget_value = NumberField("budget", 1, 0, 1e9, open_low=True, tooltip="How long to train")
    panel.budget_kind.currentTextChanged.connect(lambda t: panel.budget_value.setEnabled(t != "unlimited"))
    budget_row.addWidget(panel.budget_value)
    budget_row.addWidget(panel.budget_kind)
    form.addRow("Train for", budget_row)
    panel.objective = Choice({"dsm": "Denoising score matching", "recovery": "Contrastive divergence",
                              "cd": "Contrastive divergence, short-run (seed)"})
    panel.objective.setToolTip("DSM: fit the energy's gradient to denoise data at many noise levels (no sampling "
                              "while training).\nContrastive divergence: maximum likelihood with the model's own "
                              "Langevin samples: at each noise level, lower the energy of noised data and raise "
                              "that of a few Langevin steps from a noisier copy (recovery likelihood); sampled "
                              "the same way.\nShort-run (seed): the seed's plain CD on E(x), a toy for comparison.")
    panel.objective.currentIndexChanged.connect(panel._update_enabled)
    panel.objective.activated.connect(panel._objective_chosen)
    form.addRow("Objective", panel.objective)
    panel.optimizer = QComboBox()
    panel.optimizer.addItems(["adam", "sgd"])
    form.addRow("Optimizer", panel.optimizer)
    panel.lr = NumberField("learning rate", 1e-4, 0, 10, open_low=True, tooltip="Step size of the optimizer (live)")
    form.addRow("Learning rate", panel.lr)
    panel.beta1 = NumberField("beta1", 0.0, 0, 0.999999, tooltip="Adam's first-moment decay (momentum for SGD)")
    form.addRow("β1 / momentum", panel.beta1)
    panel.alpha = NumberField("alpha", 0.1, 0, 1000,
                             tooltip="Energy regulariser α·(E(data)² + E(samples)²): keeps energies near "
                                     "zero (live). Contrastive divergence: α·(gap between them)², which bounds "
                                     "a runaway")
    form.addRow("α (regulariser)", panel.alpha)
    panel.contrast = NumberField("contrast", 0.0, 0, 100,
                                tooltip="DSM: weight of contrastive refinement on the sampler's own chains, "
                                        "which raises the energy where failed samples form. By default it runs "
                                        "in the last 30 % of a run with a budget (minutes, epochs or steps), at "
                                        "a tenth of the learning rate; an unlimited run never reaches that "
                                        "phase (0 = off; live)")
    form.addRow("Contrast", panel.contrast)
    panel.seed = NumberField("seed", 0, 0, 2**31 - 1, integer=True, tooltip="Runs are reproducible from their seed")
    form.addRow("Seed", panel.seed)
    panel.device = Choice({"auto": "Auto", "cpu": "CPU", "cuda": "CUDA"})
    if not cuda_available():
        item = panel.device.model().item(2)
        item.setEnabled(False)
        item.setToolTip("No CUDA GPU detected on this machine")
    form.addRow("Device", panel.device)
    from ..core.precision import bf16_is_fast

    auto = "Auto (bf16 where fast)" if bf16_is_fast("cpu") else "Auto (float32 here)"
    panel.precision = Choice({"auto": auto, "fp32": "float32", "bf16": "bfloat16"})
    panel.precision.setToolTip("Arithmetic of the network while training and sampling. bfloat16 autocast is "
                              "~1.5x faster on CPUs with AMX / AVX-512 BF16 units and on recent GPUs, with "
                              "gradients within ~0.3 % of float32; elsewhere Auto keeps float32")
    form.addRow("Precision", panel.precision)
    panel.on_divergence = Choice({"recover": "Recover and go on", "pause": "Recover and pause", "stop": "Stop"})
    panel.on_divergence.setToolTip("When training diverges (NaN or exploding energies/gradients) the last good "
                                  "weights are always restored; then lower the learning rate and carry on, "
                                  "pause for you to decide, or stop")
    form.addRow("On divergence", panel.on_divergence)
    return opt_box


#: How the studio names ``sampler.method`` (noise-conditional conv models), fastest first.
METHOD_NAMES = {"fast-pc": "fast predictor-corrector", "pc": "predictor-corrector (all levels)",
                "recovery": "recovery chain (CD-trained)",
                "heun": "Heun ODE", "dpm++2m": "DPM-Solver++ 2M", "euler-a": "Euler ancestral",
                "euler": "Euler ODE (DDIM)"}


def build_sampler_box(panel) -> QGroupBox:
    samp_box = QGroupBox("Sampler (Langevin / Gibbs)")
    form = compact_form(samp_box)
    panel.schedule = Choice({"annealed": "Annealed noise levels", "ancestral": "Ancestral (reverse diffusion)",
                             "constant": "Constant step"})
    panel.schedule.setToolTip("Annealed: Langevin steps from large noise (coarse shapes) down to fine noise (sharp "
                             "strokes);\nancestral: the exact reverse of the noising process, levels × steps "
                             "levels, no step size to tune;\nboth need a noise-conditional energy (trained by DSM)")
    panel.schedule.currentIndexChanged.connect(panel._update_enabled)
    form.addRow("Schedule", panel.schedule)
    panel.sigma_max = NumberField("sigma max", 1.0, 0, 100, open_low=True, tooltip="Largest noise level")
    panel.sigma_min = NumberField("sigma min", 0.02, 0, 100, open_low=True, tooltip="Smallest noise level")
    panel.levels = NumberField("levels", 10, 1, 10000, integer=True, tooltip="Noise levels in the ladder")
    panel.per_level = NumberField("steps per level", 10, 1, 100000, integer=True, tooltip="Langevin steps per level")
    panel.eps = NumberField("eps", 1e-4, 0, 10, open_low=True, tooltip="Step size at the smallest noise level")
    form.addRow("σ max / min", pair(panel.sigma_max, panel.sigma_min))
    form.addRow("Levels × steps", pair(panel.levels, panel.per_level))
    form.addRow("ε (finest step)", panel.eps)
    panel.method = Choice(METHOD_NAMES)
    panel.method.setMinimumContentsLength(10)  # long names must not widen the panel
    panel.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    panel.method.setToolTip("Ancestral: how samples are drawn from noise after training (Generate, Evaluate, the "
                            "CLI's sample and evaluate): the fast predictor-corrector chain (Langevin corrector steps "
                            "at large noise only, ~110 evaluations), the slow reference walk down all 300 levels "
                            "(~600), or a few-step ODE/SDE solver of the energy's score")
    panel.method.currentIndexChanged.connect(panel._update_enabled)
    panel.solver_steps = NumberField("solver steps", 20, 1, 10000, integer=True,
                                     tooltip="Fast predictor-corrector: its noise levels with corrector steps; a "
                                             "solver: its steps from σ max to 0 (Heun: two evaluations a step)")
    form.addRow("Draw with", pair(panel.method, panel.solver_steps))
    panel.negatives = Choice({"buffer": "Replay buffer (PCD)", "data": "From data (CD)",
                              "noise": "From noise (short-run)"})
    form.addRow("Start chains from", panel.negatives)
    panel.buffer_size = NumberField("buffer size", 8192, 1, 1_000_000, integer=True,
                                   tooltip="Persistent chains kept between steps")
    form.addRow("Buffer size", panel.buffer_size)
    panel.reinit = NumberField("reinit probability", 0.05, 0, 1, tooltip="Chance a buffer chain restarts from noise")
    form.addRow("Reinit prob.", panel.reinit)
    panel.steps = NumberField("sampler steps", 60, 0, 1_000_000, integer=True,
                             tooltip="Langevin steps (Gibbs sweeps) per training step (live)")
    form.addRow("Steps", panel.steps)
    panel.step_size = NumberField("step size", 10.0, 0, 1e6, tooltip="Langevin step: x ← x − step·∇E + noise (live)")
    form.addRow("Step size", panel.step_size)
    panel.noise = NumberField("noise", 0.005, 0, 10, tooltip="Standard deviation of the Langevin noise (live)")
    form.addRow("Noise", panel.noise)
    panel.grad_clip = NumberField("gradient clip", 0.03, 0, 1e6, tooltip="Per-pixel clip of ∇E (0 = off) (live)")
    form.addRow("Gradient clip", panel.grad_clip)
    panel.beta0 = NumberField("Gibbs beta0", 1.0, 0, 1, tooltip="Boltzmann machines: annealed Gibbs sampling from "
                             "inverse temperature β₀ up to 1 (1 = off; ~0.3 lets chains from noise visit more "
                             "digits) (live)")
    form.addRow("Gibbs β₀", panel.beta0)
    return samp_box
