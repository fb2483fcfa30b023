"""How fast can a small-scale bench training step be on this CPU?  The floor behind the main job's cold time.

Usage:  python benchmarks/bench_small_floor.py [--rounds 5] [--steps 300] [--json PATH]

At the small scale (sdlscape/bench/scales.py: d = 38, n_latents = 800, batch 128, k = 6, 3000 steps) the main
job trains 90 distinct models, and its bench stage is most of the cold run.  This benchmark asks whether that
stage is bound by Python/operator dispatch (then stacking the 3 seeds of a row into one batched training, one
set of operator calls for three models, would cut it ~3x) or by the arithmetic itself.  One process, one
thread, interleaved rounds (A, B, C, D, A, B, C, D, ...; warm-up round excluded), medians and spread of ms per
step for:

* ``trainer``: sdlscape's own train_sdl (the code the bench runs: calibrator probe, dead-latent counters,
  history and all), per step;
* ``minimal``: the same objective in the fewest operator calls we could write (one matmul per product, fused
  Adam, decoder renormalisation; TopK by a dense mask): what any PyTorch trainer of this model pays;
* ``batched3``: ``minimal`` for 3 models stacked (torch.bmm), per model: the batched-seeds design;
* ``matmuls``: the six (batch x d x n_latents) products of a dense step (forward, backward) and nothing else.

It prints one line per code and writes JSON (results/bench/small_step_floor.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

D, M, B, K = 38, 800, 128, 6          # small scale: n_p, n_latents, batch, k (scales.py)


def _adam(params):
    return torch.optim.Adam(params, lr=3e-3, fused=True)


class _Minimal:
    """``seeds`` models trained by the fewest operator calls (seeds > 1: stacked, torch.bmm)."""

    def __init__(self, code: str, seeds: int, gen: torch.Generator):
        self.code, self.S = code, seeds
        self.W_E = (torch.randn(seeds, M, D, generator=gen) / D ** 0.5).requires_grad_()
        self.W_D = torch.randn(seeds, D, M, generator=gen)
        self.W_D = (self.W_D / self.W_D.norm(dim=1, keepdim=True)).requires_grad_()
        self.opt = _adam([self.W_E, self.W_D])

    def step(self, x: torch.Tensor) -> None:      # x: seeds x B x D
        z = torch.bmm(x, self.W_E.transpose(1, 2))
        if self.code == "relu":
            q = torch.relu(z)
            pen = 3e-2 * q.sum(-1).mean(-1).sum()
        else:                                     # topk_relu: the k largest pre-activations, then ReLU
            with torch.no_grad():
                mask = torch.zeros_like(z).scatter_(2, z.topk(K, dim=2, sorted=False).indices, 1.0)
            q = torch.relu(z) * mask
            pen = 0.0
        r = torch.bmm(q, self.W_D.transpose(1, 2))
        loss = (x - r).pow(2).sum(-1).mean(-1).sum() + pen
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.W_D.div_(self.W_D.norm(dim=1, keepdim=True).clamp_min(1e-12))


def _time_minimal(code: str, seeds: int, steps: int, x: torch.Tensor, gen) -> float:
    mod = _Minimal(code, seeds, gen)
    xs = x[: seeds * B].view(seeds, B, D)
    t0 = time.perf_counter()
    for _ in range(steps):
        mod.step(xs)
    return (time.perf_counter() - t0) / steps / seeds * 1e3


def _time_trainer(code: str, steps: int, x: torch.Tensor) -> float:
    from sdlscape.solvers.gradient import TrainConfig, train_sdl

    cfg = TrainConfig(activation=code, n_latents=M, k=K, steps=steps, batch_size=B, lr=3e-3, seed=0,
                      target_l0=0.5 if code == "relu" else None, log_every=steps)
    t0 = time.perf_counter()
    train_sdl(x, None, cfg)
    return (time.perf_counter() - t0) / steps * 1e3


def _time_matmuls(steps: int, x: torch.Tensor, gen) -> float:
    W = torch.randn(M, D, generator=gen)
    xb, g = x[:B].contiguous(), torch.randn(B, M, generator=gen)
    t0 = time.perf_counter()
    for _ in range(steps):
        z = xb @ W.t()            # forward: pre-activations
        r = z @ W                 # forward: decode (same shapes as B x M times M x D)
        _ = g @ W                 # backward: dL/dx-side product
        _ = g.t() @ xb            # backward: encoder gradient
        _ = r.t() @ g             # backward: decoder gradient (D x M)
        _ = g @ W                 # backward through the decoder
    return (time.perf_counter() - t0) / steps * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--codes", default="relu,topk_relu", help="relu and/or topk_relu (84 of the 90 trainings)")
    p.add_argument("--json")
    a = p.parse_args(argv)
    if not set(a.codes.split(",")) <= {"relu", "topk_relu"}:
        p.error(f"--codes: relu and/or topk_relu, got {a.codes!r}")
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8192, D, generator=gen).abs()
    out = {"what": __doc__.split("\n\n")[0], "shape": {"d": D, "n_latents": M, "batch": B, "k": K},
           "threads": 1, "rounds": a.rounds, "steps_per_timing": a.steps, "torch": torch.__version__, "codes": {}}
    out["load_average_start"] = os.getloadavg()
    for code in a.codes.split(","):
        times: dict[str, list[float]] = {"trainer": [], "minimal": [], "batched3": [], "matmuls": []}
        for r in range(a.rounds + 1):           # round 0 is warm-up
            got = {"trainer": _time_trainer(code, a.steps, x),
                   "minimal": _time_minimal(code, 1, a.steps, x, gen),
                   "batched3": _time_minimal(code, 3, a.steps, x, gen),
                   "matmuls": _time_matmuls(a.steps, x, gen)}
            if r:
                for k, v in got.items():
                    times[k].append(v)
        med = {k: statistics.median(v) for k, v in times.items()}
        out["codes"][code] = {"ms_per_step": times, "median_ms": med,
                              "spread_ms": {k: [min(v), max(v)] for k, v in times.items()},
                              "batched3_over_minimal": med["batched3"] / med["minimal"],
                              "trainer_over_minimal": med["trainer"] / med["minimal"],
                              "matmul_share_of_minimal": med["matmuls"] / med["minimal"]}
        print(f"{code}: ms/step median trainer {med['trainer']:.3f}, minimal {med['minimal']:.3f}, batched x3 per "
              f"model {med['batched3']:.3f} ({med['batched3'] / med['minimal']:.2f}x minimal), six matmuls "
              f"{med['matmuls']:.3f}")
    out["load_average_end"] = os.getloadavg()
    if a.json:
        from sdlscape.storage import provenance, write_json

        out["provenance"] = provenance()
        write_json(Path(a.json), out)
    else:
        print(json.dumps(out["codes"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
