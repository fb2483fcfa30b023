"""Benchmark: starts per second of the batched multi-start trainer of L~ (solvers/multistart.py).

Not a test (no timing assertions): run `python benchmarks/bench_multistart.py [--starts N] [--steps T]
[--device cpu|cuda] [--threads K] [--json PATH]`. For each instance (Example 3.5, a relu and a
topk instance in superposition) it trains N starts for T Adam steps in one batch, reports
starts/s and steps x starts/s, and also times a naive loop over starts (a few runs of the same
trainer with N = 1) to show what batching buys. The GPU path is the same code with --device cuda.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv=None) -> int:
    from sdlscape.solvers.multistart import check_device, init_weights, train_batched
    from sdlscape.storage import device_name, write_json
    from sdlscape.theory.instance import example_3_5, random_unit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--naive", type=int, default=20, help="starts timed one at a time (default 20)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    check_device(args.device)

    instances = [example_3_5(), random_unit(3, 2, "relu", n_latents=2, seed=0),
                 random_unit(4, 2, {"name": "topk", "k": 1}, n_latents=3, seed=0)]
    rows = []
    for inst in instances:
        W_E0, W_D0 = init_weights(inst, args.starts, "random", 0)
        t0 = time.perf_counter()
        _, _, L, G, _ = train_batched(inst, W_E0, W_D0, steps=args.steps, device=args.device, threads=args.threads)
        if args.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = min(args.naive, args.starts)
        for s in range(m):
            train_batched(inst, W_E0[s:s + 1], W_D0[s:s + 1], steps=args.steps, device=args.device,
                          threads=args.threads)
        naive = (time.perf_counter() - t0) / m
        row = {"instance": inst.name, "activation": str(inst.activation), "n": inst.n, "n_p": inst.n_p,
               "n_latents": inst.n_latents, "starts": args.starts, "steps": args.steps,
               "seconds": batched, "starts_per_second": args.starts / batched,
               "start_steps_per_second": args.starts * args.steps / batched,
               "naive_seconds_per_start": naive, "speedup_over_naive": naive * args.starts / batched,
               "converged_fraction": float(np.mean(G < 1e-5 * max(1.0, float(np.sum(inst.M)))))}
        rows.append(row)
        print(f"{inst.name:22s} {str(inst.activation):12s} {args.starts} starts x {args.steps} steps: "
              f"{batched:6.1f} s = {row['starts_per_second']:8.1f} starts/s "
              f"({row['start_steps_per_second']:.3g} start-steps/s); one at a time {naive:.3f} s/start "
              f"-> batching x{row['speedup_over_naive']:.0f}; converged {row['converged_fraction']:.1%}")
    if args.json:
        from sdlscape.storage import provenance

        write_json(args.json, {"rows": rows, "device": device_name(args.device), "threads": args.threads,
                               "provenance": provenance(args.device)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
