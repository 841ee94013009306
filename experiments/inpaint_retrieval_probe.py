"""Can the energy pick a better completion than the lookup it loses to? (issue #25's inpainting target)

The nearest-neighbour baseline copies the bottom half of the one training digit whose top half is
nearest. That digit is often not the only candidate: the top half of a 7 is near the tops of
some 9s. This probe hands the model the bottom halves of the ``--k`` training digits with the
nearest tops, pasted under the clamped top (optionally refined by the canvas's chain from
``--refine-from`` sigma with the top clamped, SDEdit-style), and keeps the completion of lowest
energy (``landscape.lowest_energy``, as ``inpaint`` does among its chains). Reports the meter's
share of true digits for the first k = 1, 2, 4, ... candidates; k = 1 without refinement is the
lookup itself. Same 500 digits (``--seed``) as ``benchmarks/canvas_cli.py``.

Usage: python experiments/inpaint_retrieval_probe.py [--model pretrained] [--n 500] [--k 16]
       [--refine-from 0.3] [--threads 1]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ebm_studio.cli.canvas import complete
from ebm_studio.core.landscape import lowest_energy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from canvas_cli import HALF, nearest_candidates, probe_inputs, probe_parser, true_digit  # noqa: E402  the benchmark's lookup and judge


def main(argv=None) -> int:
    ap = probe_parser(__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--refine-from", type=float, default=0.0, help="sigma to refine each candidate from (0: none)")
    args = ap.parse_args(argv)
    train, clean, labels, tops, meter, run = probe_inputs(args)
    cands = nearest_candidates(tops, train, args.k).numpy()
    ks = [j for j in (1, 2, 4, 8, 16, 32, 64) if j <= args.k]

    def right_of_lowest(candidates: np.ndarray) -> dict[int, torch.Tensor]:
        """For each k, per digit: is the lowest-energy of the first k candidates the true digit?"""
        return {j: true_digit(meter, torch.from_numpy(lowest_energy(run.model, run.config, candidates[:, :j])), labels)
                for j in ks}

    def shares(right: dict[int, torch.Tensor]) -> dict[str, float]:
        return {str(j): float(r.float().mean()) for j, r in right.items()}

    out = {"model": args.model, "n": args.n, "refine_from": args.refine_from}
    pasted = right_of_lowest(cands)
    lookup = pasted[1]
    out["pasted"] = shares(pasted)
    # digits the energy's pick gets right and the lookup wrong, and the reverse
    out["pasted_against_lookup"] = {str(j): {"won": int((r & ~lookup).sum()), "lost": int((~r & lookup).sum())}
                                    for j, r in pasted.items() if j > 1}
    if args.refine_from > 0:
        mask = np.zeros((28, 28), bool)
        mask[:HALF] = True
        flat = cands.reshape(-1, 28, 28)
        refined = complete(run.model, run.config, flat, mask, args.refine_from, seed=args.seed, quiet=False,
                           desc="refine").reshape(cands.shape)
        out["refined"] = shares(right_of_lowest(refined))
        out["refined_nearest_only"] = float(true_digit(meter, torch.from_numpy(refined[:, 0]), labels).float().mean())
    # the ceiling: some candidate among the first k is the true digit (every candidate judged once)
    every = true_digit(meter, torch.from_numpy(cands.reshape(-1, 28, 28)), labels.repeat_interleave(args.k))
    every = every.view(args.n, args.k)
    out["oracle_any_of_k"] = {str(j): float(every[:, :j].any(1).float().mean()) for j in ks}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
