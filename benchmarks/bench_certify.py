"""Benchmark: time to a certificate, our certifier against SCIP, interleaved (ours, SCIP, ours, SCIP, ...).

Not a test (no timing assertions): run `python benchmarks/bench_certify.py [--rounds 3] [--node-limit N]
[--scip-time-limit S] [--feastol F] [--json PATH]`. Over >= 3 rounds, for each instance kind of issue 28's
table (our constructions, `issue_instances`), the certified global minimum is computed (certify_global, a node
budget per piece; CPU seconds) and the minimising piece is then handed to SCIP (pyscipopt, the optional extra;
wall seconds, a time-out counts as a lower bound) as the normalised bilinear QCQP of that piece:

    min  sum_d M_d sum_r (W_r[r, d] - y_rd)^2
    s.t. y_rd = sum_{i: d in F_i} W_D[r, i] a_id             (bilinear equalities)
         a_id = <w_E^i, w_p^d> (d in F_i),  sum_{d in F_i} a_id = 1   (row normalisation, exact for ReLU-type)
         G vec(W_E) <= -margin on the region's strict rows, <= 0 on the others
         |W_D| <= B

B = 4 max |W_D*| + 1 from the certifier's minimiser rescaled to normalised rows: a hand-set box that
is NOT proven to contain a minimiser (SCIP needs one; the certifier does not). The margin restricts the
open region, so SCIP's true optimum is >= the certified infimum. Printed per instance and feasibility
tolerance: both times and their ratio, SCIP's status, primal and dual bound, whether SCIP's reported value
lies below the certified lower bound (it exploits slack in the bilinear equalities), and L~ (eq. 11)
recomputed at SCIP's (W_E, W_D) with the region membership of its W_E. At feastol 1e-9 SCIP's LP solver
prints "Cannot set feasibility tolerance to small value 1e-12 without GMP" many times (pipe through
`grep -v "Cannot set"`).

`--whole [ARGS ...]` runs instead the benchmark against SCIP on the WHOLE problem (every activation pattern,
benchmarks/scip_whole.py), with the remaining arguments passed to benchmarks/scip_whole_bench.py.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def scip_piece(piece, B: float, margin: float, time_limit: float, rtol: float, feastol: float) -> dict:
    from pyscipopt import Model, quicksum

    inst, reg, S = piece.instance, piece.region, piece.loss_mask
    q, n_p, n_r, n = inst.n_latents, inst.n_p, inst.n_r, inst.n
    m = Model("piece")
    m.hideOutput()
    m.setParam("limits/time", float(time_limit))
    m.setParam("limits/gap", float(rtol))
    m.setParam("numerics/feastol", float(feastol))
    m.setParam("parallel/maxnthreads", 1)
    WE = [[m.addVar(lb=-1e3, ub=1e3, name=f"we{i}_{j}") for j in range(n_p)] for i in range(q)]
    alive = [i for i in range(q) if S[i].any()]
    WD = {(r, i): m.addVar(lb=-B, ub=B, name=f"wd{r}_{i}") for r in range(n_r) for i in alive}
    a = {}
    for i in alive:
        for d in np.flatnonzero(S[i]):
            a[i, d] = m.addVar(lb=0.0, ub=1.0, name=f"a{i}_{d}")
            m.addCons(a[i, d] == quicksum(float(inst.W_p[j, d]) * WE[i][j] for j in range(n_p)))
        m.addCons(quicksum(a[i, d] for d in np.flatnonzero(S[i])) == 1.0)
    flat = [WE[i][j] for i in range(q) for j in range(n_p)]
    for r in range(reg.n_rows):
        coef = reg.G[r]
        nz = np.flatnonzero(coef)
        if nz.size:
            m.addCons(quicksum(float(coef[k]) * flat[k] for k in nz) <= float(reg.h[r]) - margin * float(reg.strict[r]))
    t = m.addVar(lb=0.0, ub=None, name="t")
    terms = []
    for d in range(n):
        for r in range(n_r):
            y = m.addVar(lb=-1e4, ub=1e4, name=f"y{r}_{d}")
            m.addCons(y == quicksum(WD[r, i] * a[i, d] for i in alive if S[i, d]))
            terms.append(float(inst.M[d]) * (float(inst.W_r[r, d]) - y) * (float(inst.W_r[r, d]) - y))
    m.addCons(t >= quicksum(terms))
    m.setObjective(t, "minimize")
    t0 = time.perf_counter()
    m.optimize()
    secs = time.perf_counter() - t0
    out = {"status": m.getStatus(), "seconds": secs, "primal": None, "dual": float(m.getDualbound()),
           "W_E": None, "W_D": None}
    if m.getNSols() > 0:
        sol = m.getBestSol()
        out["primal"] = float(m.getSolObjVal(sol))
        out["W_E"] = np.array([[m.getSolVal(sol, WE[i][j]) for j in range(n_p)] for i in range(q)])
        W_D = np.zeros((n_r, q))
        for (r, i), v in WD.items():
            W_D[r, i] = m.getSolVal(sol, v)
        out["W_D"] = W_D
    return out


def normalised_box(piece, W_E: np.ndarray, W_D: np.ndarray) -> float:
    """4 max |W_D| + 1 after rescaling each live row of W_E to sum_{d in F_i} a_id = 1."""
    A = (W_E @ piece.instance.W_p) * piece.loss_mask
    s = A.sum(axis=1)
    return 4.0 * float(np.max(np.abs(W_D * np.where(s > 0, s, 0.0)[None, :]))) + 1.0


def issue_instances():
    """The instance kinds of issue 28's table (our constructions: the issue's exact instances were not
    recorded; see results/landscape/README.md)."""
    from sdlscape.theory.activations import ReLU
    from sdlscape.theory.instance import Instance, random_unit, transcoder_pair

    W = random_unit(5, 2, "relu", n_latents=2, seed=0).W_p.copy()
    W[:, 1] = [np.cos(np.arctan2(W[1, 0], W[0, 0]) + 1e-7), np.sin(np.arctan2(W[1, 0], W[0, 0]) + 1e-7)]
    thin = Instance(W_p=W, activation=ReLU(), n_latents=2, name="thin-n5-gap1e-7")
    W = random_unit(4, 2, "relu", n_latents=2, seed=0).W_p.copy()
    W[:, 1] = -W[:, 0]
    antipodal = Instance(W_p=W, activation=ReLU(), n_latents=2, name="antipodal-n4")
    return {"relu_n5_q2_s0 (nested)": random_unit(5, 2, ReLU(), n_latents=2, seed=0),
            "transcoder_n4_nr3_s0 (nested)": transcoder_pair(4, 2, 3, ReLU(), n_latents=2, seed=0),
            "transcoder_n5_nr2_s0 (nested)": transcoder_pair(5, 2, 2, ReLU(), n_latents=2, seed=0),
            "relu_n4 antipodal pair": antipodal, "relu_n5 features 1e-7 rad apart": thin}


FRONTIER_GROUPS = {
    "relu_np2_q2": dict(n_p=2, n_latents=2, n_r=None, ns=[4, 5, 6, 8, 10, 12, 16], seeds=[0]),
    "relu_np3_q2": dict(n_p=3, n_latents=2, n_r=None, ns=[4, 5, 6], seeds=[0]),
    "relu_np3_q2_seeds": dict(n_p=3, n_latents=2, n_r=None, ns=[4], seeds=[1, 2, 3, 4]),
    "relu_np2_q3": dict(n_p=2, n_latents=3, n_r=None, ns=[4], seeds=[0]),
    "transcoder_np2_nr3_q3": dict(n_p=2, n_latents=3, n_r=3, ns=[4], seeds=[0]),
}
"""Frontier groups: ReLU random_unit(n, n_p, relu, n_latents, seed) or, with n_r, transcoder_pair(n, n_p, n_r, ...)."""


def frontier(ns, n_p: int, n_latents: int, activation: str, node_limit: int, budget_s: float,
             n_r: int | None = None, seeds=(0,)) -> list[dict]:
    """One row per (n, seed) (random_unit(n, n_p, activation, n_latents, seed), or transcoder_pair with n_r):
    certified? in how many CPU seconds, nodes; with one seed, stops at the first n that is not certified within
    budget_s CPU seconds."""
    from sdlscape.solvers.certify import certify_global
    from sdlscape.theory.instance import random_unit, transcoder_pair

    rows = []
    for n in ns:
        for seed in seeds:
            inst = (random_unit(n, n_p, activation, n_latents=n_latents, seed=seed) if n_r is None
                    else transcoder_pair(n, n_p, n_r, activation, n_latents=n_latents, seed=seed))
            t0 = time.process_time()
            g = certify_global(inst, node_limit=node_limit)
            secs = time.process_time() - t0
            row = {"n": n, "n_p": n_p, "n_latents": n_latents, "activation": activation, "value": g.value,
                   "lower_bound": g.lower_bound, "certified": g.certified, "cpu_seconds": secs,
                   "nodes": sum(p.nodes for p in g.pieces), "pieces": len(g.pieces), "reasons": g.detail["reasons"],
                   "seed": seed, "kind": "sae" if n_r is None else f"transcoder n_r={n_r}",
                   "minimiser_pattern": None if g.minimiser is None else g.minimiser.pattern.to_json()}
            rows.append(row)
            print(f"frontier {row['kind']} {activation} n_p={n_p} q={n_latents} n={n} seed={seed}: {g.value} >= "
                  f"{g.lower_bound} certified {g.certified} {secs:.1f} s CPU {row['nodes']} nodes", flush=True)
        if len(seeds) == 1 and (not g.certified or secs > budget_s):
            break
    return rows


def main(argv=None) -> int:
    from sdlscape.solvers.certify import certify_global
    from sdlscape.storage import provenance, write_json
    from sdlscape.theory.loss import approx_loss
    from sdlscape.theory.piece import Piece

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--whole"]:
        import importlib.util
        from pathlib import Path

        spec = importlib.util.spec_from_file_location("scip_whole_bench", Path(__file__).with_name("scip_whole_bench.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scip-time-limit", type=float, default=30.0, help="SCIP's safety stop per solve (s)")
    ap.add_argument("--node-limit", type=int, default=20_000, help="our budget: branch-and-bound nodes per piece")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtol", type=float, default=1e-7)
    ap.add_argument("--margin", type=float, default=1e-6, help="SCIP's margin on the strict rows (normalised rows)")
    ap.add_argument("--feastol", type=float, default=1e-9)
    ap.add_argument("--only", nargs="*", help="instance names (substrings) to run")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--frontier", nargs="*", type=int, help="instead: the frontier over these n (ReLU, n_p = 2, "
                                                               "2 latents), stopping at the first not certified")
    ap.add_argument("--groups", nargs="*", choices=sorted(FRONTIER_GROUPS),
                    help="instead: these frontier groups (FRONTIER_GROUPS; no names: all)")
    ap.add_argument("--budget", type=float, default=600.0, help="frontier: CPU seconds per instance")
    args = ap.parse_args(argv)
    if args.frontier is not None or args.groups is not None:
        from sdlscape.storage import provenance, write_json

        t0 = time.perf_counter()
        if args.groups is not None:
            rows = []
            for name in args.groups or sorted(FRONTIER_GROUPS):
                g = FRONTIER_GROUPS[name]
                rows += [{"group": name, **r} for r in frontier(g["ns"], g["n_p"], g["n_latents"], "relu",
                                                                args.node_limit, args.budget, g["n_r"], g["seeds"])]
        else:
            rows = frontier(args.frontier or [4, 5, 6, 8, 10, 12, 16], 2, 2, "relu", args.node_limit, args.budget)
        if args.json:
            write_json(args.json, {"frontier": rows, "settings": vars(args), "provenance":
                                   provenance("cpu", time.perf_counter() - t0)})
        return 0
    try:
        import pyscipopt  # noqa: F401
    except ImportError:
        print("bench_certify needs pyscipopt (pip install pyscipopt)", file=sys.stderr)
        return 2
    t_all = time.perf_counter()
    instances = {k: v for k, v in issue_instances().items() if not args.only or any(o in k for o in args.only)}
    runs: dict[str, dict] = {k: {"ours": [], "scip": []} for k in instances}
    for rnd in range(args.rounds):            # interleaved: ours, SCIP, ours, SCIP, ...
        for name, inst in instances.items():
            t0 = time.process_time()
            g = certify_global(inst, rtol=args.rtol, node_limit=args.node_limit)
            ours = time.process_time() - t0
            nodes = sum(p.nodes for p in g.pieces)
            runs[name]["ours"].append(ours)
            runs[name].update(value=g.value, lower_bound=g.lower_bound, certified=g.certified, nodes=nodes,
                              pieces=len(g.pieces), pattern=g.minimiser.pattern.to_json())
            piece = Piece(inst, g.minimiser.pattern, 1e-3, inst.activation.linear_reading)
            B = normalised_box(piece, g.minimiser.minimiser_W_E, g.minimiser.minimiser_W_D)
            s = scip_piece(piece, B, args.margin, args.scip_time_limit, args.rtol, args.feastol)
            runs[name]["scip"].append(s["seconds"])
            below = s["primal"] is not None and s["primal"] < g.lower_bound - 1e-12
            at = None if s["W_E"] is None else approx_loss(inst, s["W_D"], s["W_E"], piece.loss_mask)
            runs[name].update(scip_status=s["status"], scip_primal=s["primal"], scip_dual=s["dual"],
                              scip_below_certified_lower=below, loss_at_scip_point=at, scip_box=B)
            print(f"round {rnd} {name}: ours {g.value:.10g} >= {g.lower_bound:.10g} certified {g.certified} "
                  f"{nodes} nodes {ours:.2f} s CPU; SCIP (minimising piece, feastol {args.feastol:g}) {s['status']} "
                  f"{s['seconds']:.2f} s primal {s['primal']} dual {s['dual']:.10g}", flush=True)
    rows = []
    for name, r in runs.items():
        mo, ms = float(np.median(r["ours"])), float(np.median(r["scip"]))
        rows.append({"instance": name, **{k: v for k, v in r.items() if k not in ("ours", "scip")},
                     "ours_seconds": r["ours"], "scip_seconds": r["scip"], "ours_median": mo, "scip_median": ms,
                     "ratio_scip_over_ours": ms / mo})
    print("| instance | value | lower bound | certified | nodes | ours (median s) | SCIP piece (median s, status) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['instance']} | {r['value']:.8g} | {r['lower_bound']:.8g} | {r['certified']} | {r['nodes']} | "
              f"{r['ours_median']:.2f} | {r['scip_median']:.2f} ({r['scip_status']}) | {r['ratio_scip_over_ours']:.2f} |")
    if args.json:
        write_json(args.json, {"rows": rows, "settings": vars(args),
                               "note": "2 shared CPU cores, contended by other jobs; ours = CPU seconds of the whole "
                                       "global certificate; SCIP = wall seconds on the minimising piece only "
                                       "(normalised bilinear QCQP with a hand-set W_D box), a time-out counts as "
                                       "a lower bound on its time",
                               "provenance": provenance("cpu", time.perf_counter() - t_all)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
