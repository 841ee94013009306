"""(Persistent) contrastive divergence for Boltzmann machines, as a step generator.

The gradient of the negative log-likelihood of an energy model is
    grad F(v_data) - E_model[grad F(v)],
so the loss we differentiate is  mean F(data) - mean F(fantasy)  (+ penalties), with fantasy
particles from k block-Gibbs sweeps started at the data (CD-k), at uniform noise, or carried
over from the previous step (persistent CD). Adam with a power-law decaying learning rate
lr / (1 + decay * epoch), as in paysage. Inputs are binarised (threshold or stochastically).

The deep Boltzmann machine is pre-trained greedily (an RBM per layer, ``pretrain_epochs`` each)
inside the same generator, then trained jointly with a mean-field positive phase and
persistent Gibbs chains; an event in the record marks each phase.
"""

from __future__ import annotations

import torch

from ..trainer import StepTrainer
from .dbm import DBM
from .rbm import RBM


def binarize(x: torch.Tensor, mode: str, generator=None) -> torch.Tensor:
    flat = x.reshape(x.shape[0], -1)
    if mode == "stochastic":
        return torch.bernoulli(flat.clamp(0, 1), generator=generator)
    return (flat > 0.5).to(flat.dtype)


class BoltzmannTrainer(StepTrainer):
    def __init__(self, cfg, data, model=None, device=None):
        super().__init__(cfg, data, model, device)
        self.base_lr = self.cfg.train.lr
        self.chains: torch.Tensor | None = None  # persistent visible states
        self.chains_h2: torch.Tensor | None = None  # DBM: persistent top-layer states
        self.negatives = torch.empty(0, 1, 28, 28, device=self.device)
        if model is None:
            with torch.no_grad():
                sample = binarize(self.data[: min(len(self.data), 5000)], "threshold")
                self.model.init_from_data(sample)
        self.phase = "joint"
        self._pretrain: list[RBM] = []

    # --- lr schedule --------------------------------------------------------------------------
    def _decayed_lr(self) -> float:
        return self.base_lr / (1.0 + self.cfg.train.lr_decay * self.step / self.steps_per_epoch)

    def update_settings(self, cfg) -> None:
        super().update_settings(cfg)
        self.base_lr = cfg.train.lr

    # --- one step -----------------------------------------------------------------------------
    def _negative_start(self, v_data: torch.Tensor) -> torch.Tensor:
        t = self.cfg.train
        n = v_data.shape[0]
        if t.negatives == "data":
            return v_data.clone()
        if t.negatives == "noise":
            return torch.bernoulli(torch.full_like(v_data, 0.5), generator=self.generator)
        if self.chains is None or self.chains.shape != v_data.shape:
            self.chains = torch.bernoulli(torch.full((n, v_data.shape[1]), 0.5, device=self.device), generator=self.generator)
        return self.chains

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        for group in self.optimizer.param_groups:
            group["lr"] = self._decayed_lr()
        v_data = binarize(batch, self.cfg.train.binarize, self.generator)
        if isinstance(self.model, DBM):
            return self._dbm_step(v_data)
        return self._rbm_step(self.model, v_data, self.optimizer, persistent_owner=True)

    def _rbm_step(self, rbm: RBM, v_data, optimizer, persistent_owner: bool) -> dict[str, float]:
        t = self.cfg.train
        v = self._negative_start(v_data) if persistent_owner else v_data.clone()
        with torch.no_grad():
            for _ in range(max(1, self.cfg.sampler.steps)):
                h = rbm.sample_hidden(v, self.generator)
                mean_v = rbm.visible_mean(h)
                v = torch.bernoulli(mean_v, generator=self.generator)
        if persistent_owner and t.negatives == "buffer":
            self.chains = v
        if persistent_owner:
            self.negatives = mean_v[:64].reshape(-1, 1, 28, 28)
        f_data, f_model = rbm.free_energy(v_data), rbm.free_energy(v)
        loss = f_data.mean() - f_model.mean()
        total = loss + t.l1 * rbm.W.abs().sum()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(rbm.parameters(), t.max_grad_norm or float("inf"))
        if torch.isfinite(grad_norm):
            optimizer.step()
        return {"loss": float(loss.detach()), "grad_norm": float(grad_norm),
                "e_data": float(f_data.detach().mean()), "e_samples": float(f_model.detach().mean())}

    # --- deep Boltzmann machine ---------------------------------------------------------------
    def _dbm_step(self, v_data: torch.Tensor) -> dict[str, float]:
        t = self.cfg.train
        dbm: DBM = self.model
        per_layer = int(round(t.pretrain_epochs * self.steps_per_epoch))
        if self.step < 2 * per_layer:
            layer = 0 if self.step < per_layer else 1
            if not self._pretrain:
                h1, h2 = dbm.W1.shape[1], dbm.W2.shape[1]
                self._pretrain = [RBM(dbm.n_visible, h1).to(self.device), RBM(h1, h2).to(self.device)]
                self._pretrain[0].init_from_data(v_data)
                self._pretrain_opt = [torch.optim.Adam(r.parameters(), lr=self._decayed_lr()) for r in self._pretrain]
            rbm = self._pretrain[layer]
            inputs = v_data
            if layer == 1:
                with torch.no_grad():
                    inputs = torch.bernoulli(self._pretrain[0].hidden_mean(v_data), generator=self.generator)
            stats = self._rbm_step(rbm, inputs, self._pretrain_opt[layer], persistent_owner=False)
            if layer == 0:
                with torch.no_grad():
                    h = rbm.sample_hidden(v_data[:64], self.generator)
                    self.negatives = rbm.visible_mean(h).reshape(-1, 1, 28, 28)
            self.phase = f"pre-training layer {layer + 1}"
            if self.step == 2 * per_layer - 1:
                dbm.load_pretrained(*self._pretrain)
                self.optimizer = self._make_optimizer()
            return stats
        self.phase = "joint training"
        mu1, mu2 = dbm.mean_field(v_data)
        mu1, mu2 = mu1.detach(), mu2.detach()
        n = v_data.shape[0]
        if self.chains is None or self.chains.shape != v_data.shape:
            self.chains = torch.bernoulli(torch.full_like(v_data, 0.5), generator=self.generator)
            self.chains_h2 = torch.bernoulli(torch.full((n, dbm.W2.shape[1]), 0.5, device=self.device), generator=self.generator)
        v, h2 = self.chains, self.chains_h2
        with torch.no_grad():
            for _ in range(max(1, self.cfg.sampler.steps)):
                v, h1, h2, mean_v = dbm.gibbs(v, None, h2, self.generator)
        self.chains, self.chains_h2 = v, h2
        self.negatives = mean_v[:64].reshape(-1, 1, 28, 28)
        e_data = dbm.joint_energy(v_data, mu1, mu2)
        e_model = dbm.joint_energy(v, h1, h2)
        loss = e_data.mean() - e_model.mean()
        total = loss + t.l1 * (dbm.W1.abs().sum() + dbm.W2.abs().sum())
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(dbm.parameters(), t.max_grad_norm or float("inf"))
        if torch.isfinite(grad_norm):
            self.optimizer.step()
        return {"loss": float(loss.detach()), "grad_norm": float(grad_norm),
                "e_data": float(e_data.detach().mean()), "e_samples": float(e_model.detach().mean())}

    # --- state --------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, torch.Tensor]:
        out = {}
        if self.chains is not None:
            out["chains"] = self.chains.clone()
        if self.chains_h2 is not None:
            out["chains_h2"] = self.chains_h2.clone()
        return out

    def restore_extra(self, extra: dict[str, torch.Tensor]) -> None:
        if "chains" in extra:
            self.chains = extra["chains"].to(self.device).clone()
        if "chains_h2" in extra:
            self.chains_h2 = extra["chains_h2"].to(self.device).clone()

    def sample(self, n: int, steps: int | None = None, x0=None, **_) -> torch.Tensor:
        from ..families import sample_chain

        x0 = torch.rand((n, 1, 28, 28), generator=self.generator, device=self.device) if x0 is None else x0
        last = None
        for last in sample_chain(self.model, self.cfg, x0, steps=steps, generator=self.generator):
            pass
        return last.x.detach()
