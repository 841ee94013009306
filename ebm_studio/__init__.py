"""EBM Studio: an interactive lab for energy-based generative models of handwritten digits.

The package is split in two: :mod:`ebm_studio.core` is plain PyTorch/numpy (data, energy models,
samplers, trainers, checkpoints, export) and never imports Qt, so the CLI, the tests and the GUI
all drive the same engine; :mod:`ebm_studio.gui` is a thin Qt layer of views and workers on top.
"""

__version__ = "0.1.0"
