"""Benchmark: time to a certificate, our certifier against SCIP on the same piece, same process.

Not a test (no timing assertions): run `python benchmarks/bench_certify.py [--scip-time-limit S]
[--feastol F ...] [--rtol R] [--json PATH]`. For each instance the certified global minimum is computed
(sdlscape.solvers.certify.certify_global); then the minimising piece is certified alone (certify_piece,
timed) and handed to SCIP (pyscipopt, the optional extra) as the normalised bilinear QCQP of that piece:

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


def main(argv=None) -> int:
    from sdlscape.solvers.certify import certify_global, certify_piece
    from sdlscape.storage import write_json
    from sdlscape.theory.activations import ReLU, TopKReLU
    from sdlscape.theory.instance import random_unit, transcoder_pair
    from sdlscape.theory.loss import approx_loss
    from sdlscape.theory.piece import Piece

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scip-time-limit", type=float, default=60.0)
    ap.add_argument("--certify-time-limit", type=float, default=60.0)
    ap.add_argument("--rtol", type=float, default=1e-7)
    ap.add_argument("--margin", type=float, default=1e-6, help="SCIP's margin on the strict rows (normalised rows)")
    ap.add_argument("--feastol", type=float, nargs="+", default=[1e-6, 1e-9])
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    try:
        import pyscipopt  # noqa: F401
    except ImportError:
        print("bench_certify needs pyscipopt (pip install pyscipopt)", file=sys.stderr)
        return 2

    instances = {"relu_n4_q2_s0": random_unit(4, 2, ReLU(), n_latents=2, seed=0),
                 "topk_relu_n4_q2_s3": random_unit(4, 2, TopKReLU(k=1), n_latents=2, seed=3),
                 "relu_transcoder_n3_s4": transcoder_pair(3, 2, 3, ReLU(), n_latents=2, seed=4)}
    rows = []
    for name, inst in instances.items():
        t0 = time.perf_counter()
        g = certify_global(inst, rtol=args.rtol, time_limit=args.certify_time_limit)
        t_global = time.perf_counter() - t0
        pat = g.minimiser.pattern
        piece = Piece(inst, pat, 1e-3, inst.activation.linear_reading)
        t0 = time.perf_counter()
        c = certify_piece(piece, rtol=args.rtol, time_limit=args.certify_time_limit)
        t_piece = time.perf_counter() - t0
        B = normalised_box(piece, c.minimiser_W_E, c.minimiser_W_D)
        print(f"{name}: global {g.value:.10g} (lower {g.lower_bound:.10g}, certified {g.certified}, "
              f"{g.detail['pieces']} pieces, {t_global:.2f} s); minimising piece {pat.to_json()}: "
              f"certifier {c.value:.10g} >= {c.lower_bound:.10g}, {c.status.value}, {t_piece:.2f} s; "
              f"SCIP box |W_D| <= {B:.3g}", flush=True)
        for ft in args.feastol:
            s = scip_piece(piece, B, args.margin, args.scip_time_limit, args.rtol, ft)
            recomputed, inside = None, None
            if s["W_E"] is not None:
                recomputed = approx_loss(inst, s["W_D"], s["W_E"], piece.loss_mask)
                slack = piece.region.slack(s["W_E"])            # h - G vec(W_E); h is not margin-tightened
                strict = piece.region.strict.astype(bool)
                inside = bool(np.all(slack[strict] > 0) and np.all(slack[~strict] >= 0))
            below = s["primal"] is not None and s["primal"] < c.lower_bound - 1e-12
            row = {"instance": name, "pattern": pat.to_json(), "feastol": ft, "certified_value": c.value,
                   "certified_lower": c.lower_bound, "certifier_seconds": t_piece, "scip_status": s["status"],
                   "scip_seconds": s["seconds"], "scip_primal": s["primal"], "scip_dual": s["dual"],
                   "ratio_scip_over_certifier": s["seconds"] / t_piece, "scip_value_below_certified_min": below,
                   "loss_at_scip_point": recomputed, "scip_point_in_region": inside}
            rows.append(row)
            print(f"  SCIP feastol {ft:g}: {s['status']} in {s['seconds']:.2f} s (ratio SCIP/certifier "
                  f"{row['ratio_scip_over_certifier']:.1f}); primal {s['primal']}, dual {s['dual']:.10g}; "
                  f"value below the certified minimum: {below}; L~ at SCIP's point {recomputed} "
                  f"(in region: {inside})", flush=True)
    if args.json:
        write_json(args.json, {"rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
