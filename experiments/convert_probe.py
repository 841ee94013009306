"""Turn the weights of an ``ncsn_probe.py --arch gcond`` run into a studio run directory.

    python experiments/convert_probe.py PROBE.pt OUT_DIR [log=PROBE.log] [key=value ...]

The probe's Gauss(Cond) net is the studio's ConvEnergy(noise_conditional=True,
gaussian_prior=True) under other parameter names; extra key=value pairs override the config.
With log=PROBE.log, the probe's "step N loss L Ts" lines become the run's metrics.csv (the probe
does not record gradient norms or energies: those columns are NaN, gaps in the charts).
"""
import sys

import torch

from ebm_studio.core.checkpoint import save_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.families import build_model


def main() -> None:
    src, out, *rest = sys.argv[1:]
    over = {"model.width": 32, "model.noise_conditional": True, "model.gaussian_prior": True}
    log = None
    for kv in rest:
        k, v = kv.split("=")
        if k == "log":
            log = v
            continue
        over[k] = type(getattr(getattr(RunConfig(), k.split(".")[0]), k.split(".")[1]))(v)
    cfg = RunConfig().with_overrides(**over)
    sd = torch.load(src, weights_only=True)  # tensors only: nothing is unpickled
    rename = {"mu": "prior.mean", "u": "prior.basis", "lam": "prior.variance", "net.emb.freq": "sigma_embedding.frequencies"}
    new = {}
    for k, v in sd.items():
        if k == "net.emb.freq":  # the probe divides log sigma by 4, the studio's frequencies carry it
            new["sigma_embedding.frequencies"] = v / 4.0
        elif k in rename:
            new[rename[k]] = v
        elif k.startswith("net.convs."):
            i, rest_ = k[len("net.convs."):].split(".", 1)
            new[f"features.{2 * int(i)}.{rest_}"] = v
        elif k.startswith("net.emb."):
            new["sigma_embedding." + k[len("net.emb."):]] = v
        elif k.startswith("net."):
            new[k[4:]] = v
    model = build_model(cfg)
    new["sigma_default"] = model.sigma_default
    model.load_state_dict(new)
    save_run(out, model, cfg)
    if log:
        import re

        from ebm_studio.core.checkpoint import METRICS_FILE, MetricsLog
        from ebm_studio.core.trainer import CSV_FIELDS

        metrics = MetricsLog(f"{out}/{METRICS_FILE}", CSV_FIELDS)
        last_t = 0.0
        for line in open(log):
            m = re.match(r"step (\d+) loss ([\d.]+) (\d+)s", line)
            if m:
                step = int(m.group(1))
                t, last_t = float(m.group(3)) - last_t, float(m.group(3))  # the log's time is cumulative
                metrics.append({"step": step, "epoch": step * cfg.train.batch_size / 60000, "loss": float(m.group(2)),
                                "grad_norm": float("nan"), "e_data": float("nan"), "e_samples": float("nan"),
                                "seconds": t, "lr": cfg.train.lr, "event": ""})
        metrics.flush()
    print("saved", out)


if __name__ == "__main__":
    main()
