"""Boltzmann machines (seed 002): Bernoulli RBM, Gaussian-hidden "Hopfield" RBM, L1-sparse RBM
and a deep Boltzmann machine, trained by (persistent) contrastive divergence with block Gibbs
sampling and scored by annealed importance sampling. Plain PyTorch, no Qt."""

BOLTZMANN_FAMILIES = ("rbm", "hopfield", "sparse-rbm", "dbm")
