"""(Persistent) contrastive divergence for Boltzmann machines, as a step generator.

The gradient of the negative log-likelihood of an energy model is
    grad F(v_data) - E_model[grad F(v)],
so each step follows the gradient of  mean F(data) - mean F(fantasy)  (+ penalties), with fantasy
particles from k = ``sampler.steps`` block-Gibbs sweeps started at the data batch (CD-k,
``train.negatives = "data"``), at uniform noise ("noise"), or carried over from the previous step
(persistent CD, "buffer"). For RBMs the gradient is computed in closed form (no autograd).
Adam (or SGD) with paysage's power-law decaying learning rate lr / (1 + lr_decay * epoch);
penalties l1 * |W| and weight_decay * |W|^2 / 2 on the weights only; Glorot or PCA
initialisation (``train.init``); inputs binarised at 0.5 or stochastically (``train.binarize``).
``train.centering``: the centred update of a Bernoulli RBM (``centring.py``; the model stays an
ordinary RBM, the offsets are trainer state). ``train.tempering`` > 1: the persistent chains are
the coldest of that many parallel-tempering replicas (``tempering.py``). ``train.ema`` > 0: what
is saved and sampled is a moving average of the weights (``weight_average.py``), see
:class:`BoltzmannTrainer`.

The record's ``loss`` is that free-energy gap, mean F(data) - mean F(fantasy) (``e_data`` and
``e_samples`` are its two terms): negative while the model gives data lower free energy than its
own fantasies, near zero when they look alike. It is the quantity whose gradient is the
likelihood gradient, not the likelihood itself; ``ebm-studio evaluate`` estimates that by AIS.

The deep Boltzmann machine is pre-trained greedily (an RBM per layer, ``pretrain_epochs`` each)
inside the same generator, then trained jointly with a mean-field positive phase and
persistent Gibbs chains; the record's ``event`` marks where each phase begins.
"""

from __future__ import annotations

import math

import torch

from ..chain import drain
from ..errors import ConfigError
from ..trainer import StepTrainer
from ..weight_average import WeightAverage
from .ais import base_rate_bias
from .centring import Centring
from .dbm import DBM
from .gibbs import gibbs_sample_chain
from .rbm import RBM, sample_bernoulli
from .tempering import ParallelTempering


def boltzmann_parameters(model) -> int:
    """Parameters of the Boltzmann machine a [model] config describes, from its sizes alone."""
    h = [int(x) for x in model.hidden]
    if model.family == "dbm":
        h2 = h[1] if len(h) > 1 else h[0]
        return 784 * h[0] + h[0] * h2 + h[0] + h2 + 784
    return 784 * h[0] + h[0] + 784


def build_boltzmann(cfg) -> RBM | DBM:
    """The Boltzmann machine a run's config describes: an RBM (Gaussian hidden units for the
    "Hopfield" family) of ``hidden[0]`` units, or a two-layer DBM."""
    m = cfg.model
    if m.family == "dbm":
        return DBM(784, (m.hidden[0], m.hidden[1] if len(m.hidden) > 1 else m.hidden[0]))
    return RBM(784, m.hidden[0], hidden="gaussian" if m.family == "hopfield" else "bernoulli")


def binarize(x: torch.Tensor, mode: str, generator=None) -> torch.Tensor:
    flat = x.reshape(x.shape[0], -1)
    if mode == "stochastic":
        return sample_bernoulli(flat.clamp(0, 1), generator)
    return (flat > 0.5).to(flat.dtype)


class BoltzmannTrainer(StepTrainer):
    """PCD and its relatives for every Boltzmann family.

    With ``train.ema`` > 0 the model that is saved, sampled and scored is an exponential moving
    average of the weights, as for score models, but for another reason: the persistent chains
    herd around a few modes and the weights chase them (Tieleman & Hinton 2009's "fast weights"
    effect), so a short run's last weights give most of the model's mass to whichever digits the
    chains last left. The average over that oscillation is balanced (benchmarks/RBM.md). The
    chains keep running on the raw weights, which travel in the trainer state for an exact resume.
    A DBM averages from the start of its joint training."""

    build_model = staticmethod(build_boltzmann)
    #: A weight or bias past 50 puts a unit's input where sigmoid(50) = 1 - 2e-22: the units are
    #: deterministic and the Gibbs chains freeze, while the free energies stay finite and, inside the
    #: guard's warm-up, raise no spike. Sound recipes keep every parameter near the visible biases' 7.
    max_weight = 50.0

    def __init__(self, cfg, data, model=None, device=None):
        super().__init__(cfg, data, model, device)
        self.base_lr = self.cfg.train.lr
        self.chains: torch.Tensor | None = None  # persistent visible states
        self.chains_h2: torch.Tensor | None = None  # DBM: persistent top-layer states
        self.negatives = torch.empty(0, 1, 28, 28, device=self.device)
        self.phase = "joint"
        self._pretrain: list[RBM] = []
        self._binary: torch.Tensor | None = None
        if model is None:
            with torch.no_grad():
                self.model.init_from_data(self._init_sample())
                if self.cfg.train.init == "pca" and isinstance(self.model, RBM):
                    self.model.init_pca(self._init_sample())
        self.centring = self._make_centring()
        self.tempering = self._make_tempering()
        self.average = WeightAverage(self.model, seeded=False)

    def _make_tempering(self) -> ParallelTempering | None:
        """Replicas of the persistent chains at higher temperatures (``train.tempering`` > 1)."""
        t = self.cfg.train
        if t.tempering <= 1:
            return None
        if not isinstance(self.model, RBM) or self.model.hidden_type != "bernoulli" or t.negatives != "buffer":
            raise ConfigError(f"train.tempering needs a Bernoulli RBM (families rbm, sparse-rbm) trained with "
                              f"persistent chains (train.negatives = \"buffer\"), not the {self.cfg.model.family!r} "
                              f"family with negatives {t.negatives!r}; set it to 1")
        base = base_rate_bias(self._init_sample()).to(self.device)
        return ParallelTempering(t.tempering, t.tempering_beta_min, self.batch_size, base, self.generator)

    def _make_centring(self) -> Centring | None:
        """Offsets at the data's mean image and mean hidden activation (``train.centering``)."""
        t = self.cfg.train
        if not t.centering:
            return None
        if not isinstance(self.model, RBM) or self.model.hidden_type != "bernoulli":
            raise ConfigError(f"train.centering applies to Bernoulli RBMs (families rbm, sparse-rbm), "
                              f"not to the {self.cfg.model.family!r} family; set it to false")
        c = Centring(self.model.n_visible, self.model.n_hidden, t.centering_rate, self.device)
        with torch.no_grad():
            sample = self._init_sample().to(self.device)
            c.start(sample.mean(0), self.model.hidden_mean(sample).mean(0))
        return c

    def _init_sample(self) -> torch.Tensor:
        """Up to 10,000 training images as the model will see them (their base rates set the
        visible biases; stochastic binarisation's expected image is the grey image itself)."""
        sample = self.data[: min(len(self.data), 10_000)].reshape(-1, 784)
        return binarize(sample, "threshold") if self.cfg.train.binarize == "threshold" else sample

    # --- optimiser and lr schedule ------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        """As the base class, but weight decay is applied here as an L2 penalty on the weights
        only (biases are not shrunk), next to the L1 penalty."""
        t = self.cfg.train
        params = [p for p in self.model.parameters() if p.requires_grad]
        if t.optimizer == "sgd":
            return torch.optim.SGD(params, lr=t.lr, momentum=t.beta1)
        return torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, t.beta2), fused=True)  # fused: half the time

    def params_finite(self) -> bool:
        """A sum is finite only if every term is: 30x cheaper than isfinite().all() per step."""
        return all(math.isfinite(float(p.detach().sum())) for p in self.model.parameters())

    def _decayed_lr(self) -> float:
        return self.base_lr / (1.0 + self.cfg.train.lr_decay * self.step / self.steps_per_epoch)

    def update_settings(self, cfg) -> None:
        super().update_settings(cfg)
        self.base_lr = cfg.train.lr
        if not self.cfg.train.centering:
            self.centring = None
        elif self.centring is None:
            self.centring = self._make_centring()
        else:
            self.centring.rate = self.cfg.train.centering_rate
        replicas = self.tempering.replicas if self.tempering is not None else 1
        hottest = float(self.tempering.betas[-1]) if self.tempering is not None else None
        if replicas != self.cfg.train.tempering or (hottest is not None
                                                    and abs(hottest - self.cfg.train.tempering_beta_min) > 1e-6):
            self.tempering = self._make_tempering()
        for group in self.optimizer.param_groups:
            group["weight_decay"] = 0.0

    @property
    def unannealed_lr(self) -> float:
        return self.lr  # the decayed rate now: set_lr restarts the power-law schedule from it

    def set_lr(self, lr: float) -> None:
        """The divergence guard's cool-down: the schedule continues from the lowered rate."""
        super().set_lr(lr)
        self.base_lr = lr * (1.0 + self.cfg.train.lr_decay * self.step / self.steps_per_epoch)

    def load_state(self, tensors, meta) -> None:
        """As the base class, which ends by re-applying the configured rate through :meth:`set_lr`;
        here that rate would be read as the decayed rate now and restart the power law from it (a
        run resumed at step s stepped at lr again, not lr / (1 + s / epoch)), so the stored base comes back."""
        super().load_state(tensors, meta)
        if "extra.base_lr" in tensors:
            self.base_lr = float(tensors["extra.base_lr"])

    # --- one step -----------------------------------------------------------------------------
    def _negative_start(self, v_data: torch.Tensor) -> torch.Tensor:
        t = self.cfg.train
        n = v_data.shape[0]
        if t.negatives == "data":
            return v_data
        if t.negatives == "noise":
            return sample_bernoulli(torch.full_like(v_data, 0.5), self.generator)
        if self.chains is None or self.chains.shape != v_data.shape:
            self.chains = sample_bernoulli(torch.full((n, v_data.shape[1]), 0.5, device=self.device), self.generator)
        return self.chains

    def _batch(self) -> torch.Tensor:
        """Threshold binarisation is done once for the whole training set (as bytes, a quarter of
        the images' memory), so a step only gathers its batch."""
        if self.cfg.train.binarize != "threshold":
            return super()._batch()
        if self._binary is None:
            self._binary = (self.data.reshape(self.n_data, -1) > 0.5).to(torch.uint8)
        data, self.data = self.data, self._binary
        try:
            return super()._batch().float()
        finally:
            self.data = data

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        lr = self._decayed_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        v_data = batch if batch.ndim == 2 else binarize(batch, self.cfg.train.binarize, self.generator)
        if isinstance(self.model, DBM):
            stats = self._dbm_step(v_data)
        else:
            stats = self._rbm_step(self.model, v_data, self.optimizer, persistent_owner=True)
        # a DBM still pre-training has no trained weights to average yet: re-seed at its joint phase
        self.average.update(self.model, 0.0 if self.phase.startswith("pre-training") else self.cfg.train.ema,
                            self.step)
        return stats

    def export_model(self):
        return self.average.pick(self.model, self.cfg.train.ema)

    @torch.no_grad()
    def _rbm_step(self, rbm: RBM, v_data, optimizer, persistent_owner: bool) -> dict[str, float]:
        """k block-Gibbs sweeps for the negative phase, then the closed-form gradient of
        mean F(data) - mean F(fantasy) + l1 |W| + weight_decay |W|^2 / 2 (centred, with
        ``train.centering``), and one optimiser step."""
        t = self.cfg.train
        centring = self.centring if persistent_owner else None
        if persistent_owner and self.tempering is not None and self.tempering.n == v_data.shape[0]:
            for _ in range(max(1, self.cfg.sampler.steps)):
                v = self.tempering.step(rbm, self.generator)
            mean_v = v
        else:
            v = self._negative_start(v_data) if persistent_owner else v_data
            for _ in range(max(1, self.cfg.sampler.steps)):
                mean_v = rbm.visible_mean(rbm.sample_hidden(v, self.generator))
                v = sample_bernoulli(mean_v, self.generator)
        if persistent_owner:
            if t.negatives == "buffer":
                self.chains = v
            self.negatives = mean_v[:64].reshape(-1, 1, 28, 28)
        means = {} if centring is not None else None
        (g_w, g_b, g_c), f_data, f_model = rbm.contrastive_gradient(v_data, v, means)
        if centring is not None:
            centring.centre(g_w, g_b, g_c)
        if t.l1:
            g_w.add_(rbm.W.sign(), alpha=t.l1)
        if t.weight_decay:
            g_w.add_(rbm.W, alpha=t.weight_decay)
        pairs = [(p, g) for p, g in ((rbm.W, g_w), (rbm.b, g_b), (rbm.c, g_c)) if p.requires_grad]
        grad_norm = math.sqrt(sum(float(torch.linalg.vector_norm(g)) ** 2 for _, g in pairs))
        if t.max_grad_norm and grad_norm > t.max_grad_norm:
            for _, g in pairs:
                g.mul_(t.max_grad_norm / grad_norm)
        if math.isfinite(grad_norm):
            for p, g in pairs:
                p.grad = g
            w_before = rbm.W.detach().clone() if centring is not None else None
            optimizer.step()
            if centring is not None:
                centring.correct_biases(rbm, w_before)
                centring.follow(means["v"], means["h"])
        return {"loss": f_data - f_model, "grad_norm": grad_norm, "e_data": f_data, "e_samples": f_model}

    # --- deep Boltzmann machine ---------------------------------------------------------------
    def _pretraining_rbms(self) -> list[RBM]:
        if not self._pretrain:
            dbm: DBM = self.model
            h1, h2 = dbm.W1.shape[1], dbm.W2.shape[1]
            g = torch.Generator().manual_seed(self.cfg.train.seed + 1)
            self._pretrain = [RBM(dbm.n_visible, h1), RBM(h1, h2)]
            for r in self._pretrain:
                with torch.no_grad():
                    r.W.copy_(torch.randn(r.W.shape, generator=g) * r.W.std())
            self._pretrain = [r.to(self.device) for r in self._pretrain]
            with torch.no_grad():
                self._pretrain[0].init_from_data(self._init_sample())
                if self.cfg.train.init == "pca":
                    self._pretrain[0].init_pca(self._init_sample())
            t = self.cfg.train
            self._pretrain_opt = [torch.optim.Adam(r.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
                                  for r in self._pretrain]
        return self._pretrain

    def _dbm_step(self, v_data: torch.Tensor) -> dict[str, float]:
        t = self.cfg.train
        dbm: DBM = self.model
        per_layer = int(round(t.pretrain_epochs * self.steps_per_epoch))
        if self.step < 2 * per_layer:
            layer = 0 if self.step < per_layer else 1
            rbms = self._pretraining_rbms()
            for group in self._pretrain_opt[layer].param_groups:
                group["lr"] = self._decayed_lr()
            inputs = v_data
            if layer == 1:
                with torch.no_grad():
                    inputs = sample_bernoulli(rbms[0].hidden_mean(v_data), self.generator)
            stats = self._rbm_step(rbms[layer], inputs, self._pretrain_opt[layer], persistent_owner=False)
            if layer == 0:
                with torch.no_grad():
                    h = rbms[0].sample_hidden(v_data[:64], self.generator)
                    self.negatives = rbms[0].visible_mean(h).reshape(-1, 1, 28, 28)
            self.phase = f"pre-training layer {layer + 1}"
            if self.step in (0, per_layer):
                cd_k = max(1, self.cfg.sampler.steps)
                stats["event"] = f"greedy pre-training of layer {layer + 1} (an RBM, CD-{cd_k})"
            if self.step == 2 * per_layer - 1:
                dbm.load_pretrained(*rbms)
                self.optimizer = self._make_optimizer()
                self._pretrain = []
            return stats
        self.phase = "joint training"
        n = v_data.shape[0]
        with torch.no_grad():
            mu1, mu2 = dbm.mean_field(v_data)
            if self.chains is None or self.chains.shape != v_data.shape or self.chains_h2 is None:
                self.chains = sample_bernoulli(torch.full_like(v_data, 0.5), self.generator)
                self.chains_h2 = sample_bernoulli(torch.full((n, dbm.W2.shape[1]), 0.5, device=self.device),
                                                  self.generator)
            v, h2 = self.chains, self.chains_h2
            for _ in range(max(1, self.cfg.sampler.steps)):
                v, h1, h2, mean_v = dbm.gibbs(v, None, h2, self.generator)
        if t.negatives == "buffer":
            self.chains, self.chains_h2 = v, h2
        self.negatives = mean_v[:64].reshape(-1, 1, 28, 28)
        e_data = dbm.joint_energy(v_data, mu1, mu2)
        e_model = dbm.joint_energy(v, h1, h2)
        loss = e_data.mean() - e_model.mean()
        weights = dbm.W1.abs().sum() + dbm.W2.abs().sum(), 0.5 * (dbm.W1.pow(2).sum() + dbm.W2.pow(2).sum())
        total = loss + t.l1 * weights[0] + t.weight_decay * weights[1]
        grad_norm = self.backward_and_step(total)
        stats = {"loss": float(loss.detach()), "grad_norm": float(grad_norm),
                 "e_data": float(e_data.detach().mean()), "e_samples": float(e_model.detach().mean())}
        if self.step == 2 * per_layer and per_layer:
            stats["event"] = "joint training of the deep Boltzmann machine (mean-field + persistent Gibbs)"
        return stats

    # --- state --------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, torch.Tensor]:
        """Persistent chains, the scheduled base rate, and a DBM's pre-training RBMs (their
        Adam moments are not kept: a run resumed mid-pre-training restarts them)."""
        out = {"base_lr": torch.tensor(self.base_lr, dtype=torch.float64)}
        out.update(self.average.state(self.model))  # the raw weights (raw.*) beside the saved average (ema.*)
        if self.centring is not None:
            out.update(self.centring.state())
        if self.tempering is not None:
            out.update(self.tempering.state())
        if self.chains is not None:
            out["chains"] = self.chains.clone()
        if self.chains_h2 is not None:
            out["chains_h2"] = self.chains_h2.clone()
        for i, r in enumerate(self._pretrain):
            for name, value in r.state_dict().items():
                out[f"pretrain{i}.{name}"] = value.detach().clone()
        return out

    def restore_extra(self, extra: dict[str, torch.Tensor]) -> None:
        if "base_lr" in extra:
            self.base_lr = float(extra["base_lr"])
        self.average.restore(self.model, extra)  # without a stored pair it restarts from the weights
        self.chains = extra["chains"].to(self.device).clone() if "chains" in extra else None
        self.chains_h2 = extra["chains_h2"].to(self.device).clone() if "chains_h2" in extra else None
        if self.centring is not None:
            self.centring.restore(extra)
        if self.tempering is not None:
            self.tempering.restore(extra)
        if any(k.startswith("pretrain") for k in extra):
            rbms = self._pretraining_rbms()
            for i, r in enumerate(rbms):
                state = {k.split(".", 1)[1]: v for k, v in extra.items() if k.startswith(f"pretrain{i}.")}
                if state:
                    r.load_state_dict(state)
            per_layer = int(round(self.cfg.train.pretrain_epochs * self.steps_per_epoch))
            if self.step >= 2 * per_layer:  # the divergence guard went back to a pre-training snapshot
                self.model.load_pretrained(*rbms)
                self._pretrain = []
        elif isinstance(self.model, DBM):
            self._pretrain = []

    def sample(self, n: int, steps: int | None = None, x0=None, **_) -> torch.Tensor:
        x0 = torch.rand((n, 1, 28, 28), generator=self.generator, device=self.device) if x0 is None else x0
        return drain(gibbs_sample_chain(self.export_model(), self.cfg, x0, steps=steps,
                                        generator=self.generator)).x.detach()
