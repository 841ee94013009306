"""The Qt-free engine of EBM Studio: infrastructure, the trainer/sampler protocol, one package per
model family (conv/, boltzmann/, baselines/), the composition root that collects them (families.py),
and sessions, checkpoints and the quality meter above it (ARCHITECTURE.md). Plain PyTorch/numpy so
the GUI, the CLI and the tests drive the very same code; import-linter (pyproject.toml) enforces
that nothing here imports Qt or the GUI, and the layering.
"""
