"""Centred training of a Bernoulli RBM (Melchior, Fischer & Wiskott, JMLR 2016), kept outside the model.

Why: an ordinary RBM's weight gradient <v h^T>_data - <v h^T>_model mixes the units' means into
every weight, so the weights and biases pull against each other and PCD drifts (the anchor's
RBM-500: -130.8 nats uncentred against -84.86 centred). Centring subtracts offsets mu (visible)
and lambda (hidden) from the units:

    E(v, h) = -(v - mu)^T W (h - lambda) - b~^T (v - mu) - c~^T (h - lambda).

Expanding it, this is exactly an ordinary RBM (up to a constant, which cancels in Z) with

    W = W,   b = b~ - W lambda,   c = c~ - W^T mu,

so the model keeps the ordinary W, b, c: the sampler, AIS, export and every checkpoint see a
plain RBM and nothing needs converting. Only the *update* is centred. The centred gradient
(descent direction of F(data) - F(model); Delta = data mean - model mean) is

    g_W  = -Delta <(v - mu)(h - lambda)^T> = g_W(plain) - mu g_c^T - g_b lambda^T,
    g_b~ = g_b(plain),   g_c~ = g_c(plain),

two rank-one corrections of the plain gradient. The optimiser steps the centred parameters
(W, b~, c~): it is handed g_W, g_b~, g_c~ in the slots of W, b, c, and after its step the ordinary
biases are corrected for the change of W, b -= dW lambda and c -= dW^T mu (because b~ = b + W
lambda is what it moved). That is Adam or SGD on the centred parameters, exactly.

The offsets follow the data ("dd" centring): mu and lambda are moving averages of the batch's
mean image and mean hidden activation, mu <- (1 - r) mu + r <v>, lambda <- (1 - r) lambda + r <h>
(``train.centering_rate``, 0.01 in the paper). Moving an offset leaves the ordinary parameters,
and so the distribution, unchanged (the paper re-parameterises b~, c~ instead; the same thing).
The offsets are trainer state: they are saved with the trainer and restored on resume.
"""

from __future__ import annotations

import torch


class Centring:
    """The offsets of one RBM and the centred update of its gradient."""

    def __init__(self, n_visible: int, n_hidden: int, rate: float, device=None):
        self.rate = rate
        self.mu = torch.full((n_visible,), 0.5, device=device)
        self.lam = torch.full((n_hidden,), 0.5, device=device)

    @torch.no_grad()
    def start(self, v_mean: torch.Tensor, h_mean: torch.Tensor) -> None:
        """Offsets at the data's means before the first step (the paper's initialisation)."""
        self.mu.copy_(v_mean)
        self.lam.copy_(h_mean)

    @torch.no_grad()
    def centre(self, g_w: torch.Tensor, g_b: torch.Tensor, g_c: torch.Tensor) -> None:
        """Turn the plain gradient of W into the centred one, in place (g_b, g_c are already g_b~, g_c~)."""
        g_w.sub_(torch.outer(self.mu, g_c)).sub_(torch.outer(g_b, self.lam))

    @torch.no_grad()
    def correct_biases(self, rbm, w_before: torch.Tensor) -> None:
        """After the optimiser moved the centred parameters: the ordinary biases that go with them."""
        dw = rbm.W - w_before
        rbm.b.sub_(dw @ self.lam)
        if rbm.c.requires_grad:
            rbm.c.sub_(dw.T @ self.mu)

    @torch.no_grad()
    def follow(self, v_mean: torch.Tensor, h_mean: torch.Tensor) -> None:
        """Move the offsets towards this batch's means (the distribution does not change)."""
        self.mu.lerp_(v_mean, self.rate)
        self.lam.lerp_(h_mean, self.rate)

    def state(self) -> dict[str, torch.Tensor]:
        return {"centring.mu": self.mu.clone(), "centring.lambda": self.lam.clone()}

    def restore(self, extra: dict[str, torch.Tensor]) -> None:
        if "centring.mu" in extra and extra["centring.mu"].shape == self.mu.shape:
            self.mu.copy_(extra["centring.mu"])
        if "centring.lambda" in extra and extra["centring.lambda"].shape == self.lam.shape:
            self.lam.copy_(extra["centring.lambda"])
