"""Benchmark of the cell enumerator (LP calls, seconds) against brute-force subset testing, and a scaling table.

    python benchmarks/bench_arrangement.py [--out results/landscape/scaling.json] [--seeds 3] [--solve]

Part 1: n = 12 features in R^3 (relu and jumprelu): the enumerator versus one LP per subset (2^12 = 4096).
Part 2: (activation, n, n_p, n_latents) -> cells per latent, pieces, LP calls, enumeration seconds; with
--solve also the seconds of the full landscape (ACS, 2 starts per piece) for the small rows.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from sdlscape.solvers.arrangement import (
    brute_force_cells,
    enumerate_joint_patterns,
    latent_cells,
    zaslavsky_affine,
    zaslavsky_central,
)
from sdlscape.storage import provenance, write_json
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, TopKReLU
from sdlscape.theory.instance import Activation, random_unit

SCALING = [  # (activation, n, n_p, n_latents)
    ("relu", 4, 2, 2), ("relu", 6, 2, 3), ("relu", 6, 3, 3), ("relu", 8, 3, 4), ("relu", 12, 3, 4),
    ("relu", 16, 3, 4), ("relu", 10, 4, 4), ("relu", 16, 4, 4), ("relu", 20, 5, 5),
    ("jumprelu", 6, 3, 3), ("jumprelu", 12, 3, 4), ("jumprelu", 16, 4, 4),
    ("topk", 3, 2, 2), ("topk", 4, 2, 3), ("topk", 5, 3, 3), ("topk", 6, 3, 3),
    ("topk_relu", 3, 2, 2), ("topk_relu", 4, 2, 3), ("topk_relu", 5, 3, 3),
]
SOLVE_MAX_PIECES = 60


def act_of(name: str) -> Activation:
    return {"relu": ReLU(), "jumprelu": JumpReLU(theta=0.3),
            "topk": TopK(k=1), "topk_relu": TopKReLU(k=1)}[name]


def lp_comparison(seeds: int) -> list[dict]:
    rows = []
    for act in ("relu", "jumprelu"):
        for seed in range(seeds):
            inst = random_unit(12, 3, act_of(act), n_latents=1, seed=seed)
            ce = latent_cells(inst)
            t0 = time.perf_counter()
            bf, calls = brute_force_cells(inst)
            t_bf = time.perf_counter() - t0
            assert set(bf) == set(ce.cells), "enumerator and brute force disagree"
            expect = zaslavsky_central(12, 3) if act == "relu" else zaslavsky_affine(12, 3)
            rows.append({"activation": act, "n": 12, "n_p": 3, "seed": seed, "cells": len(ce.cells),
                         "chambers": len(ce.chambers), "zaslavsky": expect,
                         "enumerator_lp_calls": ce.lp_calls, "enumerator_seconds": ce.seconds,
                         "brute_force_lp_calls": calls, "brute_force_seconds": t_bf,
                         "lp_ratio": calls / max(ce.lp_calls, 1), "time_ratio": t_bf / ce.seconds})
            print(f"{act:9s} seed {seed}: {len(ce.cells)} cells ({len(ce.chambers)} regions, Zaslavsky {expect}); "
                  f"LP calls {ce.lp_calls} vs {calls} ({calls / max(ce.lp_calls, 1):.0f}x fewer); "
                  f"{ce.seconds:.3f} s vs {t_bf:.3f} s", flush=True)
    return rows


def scaling(solve: bool) -> list[dict]:
    rows = []
    for act, n, n_p, nl in SCALING:
        inst = random_unit(n, n_p, act_of(act), n_latents=nl, seed=0)
        row = {"activation": act, "n": n, "n_p": n_p, "n_latents": nl}
        if act in ("relu", "jumprelu"):
            ce = latent_cells(inst)
            c = len(ce.cells)
            row.update(cells=c, pieces=math.comb(c + nl - 1, nl), labelled_patterns=c ** nl,
                       lp_calls=ce.lp_calls, enumerate_seconds=ce.seconds,
                       brute_force_lp_calls=2 ** n)
        else:
            je = enumerate_joint_patterns(inst, max_patterns=10**6)
            per_feature = nl if act == "topk" else nl + 1
            row.update(cells=len({s for p in je.patterns for s in p.sets}), pieces=len(je.patterns),
                       lp_calls=je.lp_calls, enumerate_seconds=je.seconds, search_nodes=je.nodes,
                       brute_force_lp_calls=per_feature ** n)
        if solve and row["pieces"] <= SOLVE_MAX_PIECES:
            from sdlscape.solvers.landscape import map_landscape

            t0 = time.perf_counter()
            res = map_landscape(inst, starts=2, seed=0, workers=2, max_iter=200)
            row.update(solve_seconds=time.perf_counter() - t0, solve_starts=2, solve_max_iter=200,
                       counts=res.summary["counts"], global_value=res.summary["global_value"])
        rows.append(row)
        print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/landscape/scaling.json")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--solve", action="store_true", help="also time full landscapes of the small rows")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    comp = lp_comparison(args.seeds)
    table = scaling(args.solve)
    worst = min(r["lp_ratio"] for r in comp)
    print(f"worst LP-call ratio over {len(comp)} runs at n = 12, n_p = 3: {worst:.1f}x (target >= 20x)")
    write_json(args.out, {"lp_comparison": comp, "scaling": table, "target_lp_ratio": 20.0,
                          "worst_lp_ratio": worst,
                          "provenance": provenance("cpu", time.perf_counter() - t0,
                                                   script="benchmarks/bench_arrangement.py " + " ".join(sys.argv[1:]))})
    print(f"wrote {Path(args.out)}")
    return 0 if worst >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
