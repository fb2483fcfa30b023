"""Benchmark: encoder-block re-solve with DPP Parameters versus rebuilding the CVXPY problem each time.

Not a test (no timing assertions): run `python benchmarks/bench_blocks.py [--repeats N] [--solver S]`.
The piece: random unit features, n = 8, n_p = 4, n_latents = 6, relu, the pattern of a random
encoder; W_D varies from solve to solve as in alternating convex search. Prints the medians and
their ratio (target: re-solves at least 5x faster), and checks both give the same optimum.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from sdlscape.solvers.blocks import (
    DecoderBlock,
    EncoderBlock,
    decoder_closed_form,
    encoder_problem_fresh,
)
from sdlscape.theory.instance import random_unit
from sdlscape.theory.patterns import read_pattern, realize
from sdlscape.theory.piece import linear_piece


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--solver", default="CLARABEL")
    ap.add_argument("--activation", default="relu", choices=("relu", "jumprelu", "topk", "topk_relu"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    act = {"relu": {"name": "relu"}, "jumprelu": {"name": "jumprelu", "theta": 0.2},
           "topk": {"name": "topk", "k": 2}, "topk_relu": {"name": "topk_relu", "k": 2}}[args.activation]
    inst = random_unit(8, 4, act, n_latents=6, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    pattern = read_pattern(inst, rng.standard_normal((6, 4)))
    W_E = realize(inst, pattern).witness
    W_Ds = [decoder_closed_form(inst, W_E, pattern.mask) + 0.3 * rng.standard_normal((inst.n_r, 6))
            for _ in range(args.repeats)]

    t0 = time.perf_counter()
    block = EncoderBlock(linear_piece(inst, pattern), solver=args.solver)
    block.solve(W_Ds[0])
    build_and_first = time.perf_counter() - t0

    dpp, fresh, dpp_sol, fresh_sol = [], [], [], []
    for W_D in W_Ds:  # each mode in its own loop (steady state), compared afterwards
        t = time.perf_counter()
        dpp_sol.append(block.solve(W_D))
        dpp.append(time.perf_counter() - t)
    for W_D in W_Ds:
        t = time.perf_counter()
        fresh_sol.append(encoder_problem_fresh(linear_piece(inst, pattern), W_D, solver=args.solver))
        fresh.append(time.perf_counter() - t)
    worst = 0.0
    for a, b in zip(dpp_sol, fresh_sol):
        assert a.status == b.status == "optimal", (a.status, b.status)
        worst = max(worst, abs(a.value - b.value) / max(1.0, b.value))
    fallbacks = sum("fallback" in a.solver for a in dpp_sol)

    dec = DecoderBlock(linear_piece(inst, pattern), solver=args.solver)
    dec.solve(W_E)
    dec_t = []
    for k in range(args.repeats):
        W = W_E * (1.0 + 0.1 * k / args.repeats)
        t = time.perf_counter()
        dec.solve(W)
        dec_t.append(time.perf_counter() - t)
    cf_t = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        decoder_closed_form(inst, W_E, pattern.mask)
        cf_t.append(time.perf_counter() - t)

    med_dpp, med_fresh = statistics.median(dpp), statistics.median(fresh)
    out = {"piece": {"n": inst.n, "n_p": inst.n_p, "n_latents": inst.n_latents, "activation": str(inst.activation),
                     "pattern": pattern.to_json(), "region_rows": block.region.n_rows},
           "solver": args.solver, "repeats": args.repeats,
           "encoder_build_and_first_solve_s": build_and_first,
           "encoder_resolve_dpp_median_s": med_dpp, "encoder_rebuild_median_s": med_fresh,
           "speedup": med_fresh / med_dpp, "max_rel_value_difference": worst, "dpp_fallbacks": fallbacks,
           "decoder_resolve_dpp_median_s": statistics.median(dec_t),
           "decoder_closed_form_median_s": statistics.median(cf_t)}
    print(f"piece n=8, n_p=4, n_latents=6, {inst.activation}, pattern {pattern} ({block.region.n_rows} region rows), "
          f"solver {args.solver}, {args.repeats} solves each")
    print(f"encoder block: build + first solve {build_and_first * 1e3:.2f} ms")
    print(f"encoder block: DPP re-solve median {med_dpp * 1e3:.2f} ms; rebuild each time median "
          f"{med_fresh * 1e3:.2f} ms; speedup {med_fresh / med_dpp:.1f}x (target >= 5x)")
    print(f"same optimum: max relative value difference {worst:.2e}; DPP solves that needed a fallback: "
          f"{fallbacks}/{args.repeats}")
    print(f"decoder block: DPP re-solve median {statistics.median(dec_t) * 1e3:.2f} ms; closed form median "
          f"{statistics.median(cf_t) * 1e3:.3f} ms")
    if args.json:
        from sdlscape.storage import provenance, write_json
        write_json(args.json, {**out, "provenance": provenance("cpu")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
