"""Baseline generative models that are not energy-based: a VAE and a RealNVP flow.

They exist to be compared with the studio's energy models on equal terms (``ebm-studio
compare``): the same data, the same training front-end (a :class:`~..trainer.StepTrainer`
driven by a :class:`~..session.TrainingSession`), the same wall-clock budget and the same
quality meter. Both are trained by maximum likelihood (the VAE by its evidence lower bound),
and both draw a sample in one pass from a Gaussian latent prior; neither needs a Markov chain.
"""

BASELINE_FAMILIES = ("vae", "flow")
