"""The whole problem for SCIP: the global minimum of L~ (eq. 11) over ALL activation patterns, as one MINLP.

Used by benchmarks/scip_whole_bench.py (and `bench_certify.py --whole`) and tests/benchmarks/test_scip_whole.py.
Variables (q latents, n features, n_p / n_r the input / output dimensions):

    W_E in [-1, 1]^{q x n_p}                    (the normalisation below)
    a_id = <w_E^i, w_p^d>                       (linear; |a_id| <= U_d = ||w_p^d||_1 on the box)
    q_id = sigma(W_E w_p^d)_i                   (binaries z_id, big-M U_d: see below)
    W_D in [-B, B]^{n_r x q}                    (a hand-set box, NOT proven: see below)
    y_rd = sum_i W_D[r, i] q_id                 (bilinear equalities)
    min  sum_d M_d sum_r (W_r[r, d] - y_rd)^2   (epigraph variable t)

ReLU (q_id = max(a_id, 0); z_id = 1 iff the latent fires):  q >= a, q >= 0, q <= a + U_d (1 - z), q <= U_d z.
Plain TopK(k) (q_id = a_id on the k largest codes of feature d whatever their sign, else 0):  sum_i z_id = k,
|q - a| <= U_d (1 - z), |q| <= U_d z, and a_id >= a_jd + margin - (2 U_d + margin)(1 - z_id + z_jd) (a passed
latent ranks above an unpassed one by >= margin, default 1e-6 on the normalised scale). Without the margin a
tie would admit either selection, and features tied at one point could pick selections that no open piece
realises near it (measured: 0.634 < the certified 1 on topk1_n4_hand, with L~ 3.57 at SCIP's point). With it
the model is a union of closed subsets of the open pieces (the certifier's claim is over encoders with no tie):
its minimum is >= the certified infimum, equal when the infimum is approached at orderings wider than margin.
TopK o ReLU and JumpReLU are not formulated: JumpReLU is not positively homogeneous, so a box on W_E could
cut off every minimiser (both boxes would be hand-set); TopK o ReLU would need both constraint sets and is not
in issue 28's frontier.

Normalisation (positive homogeneity, sigma(c z) = c sigma(z) for c > 0): for ReLU each latent separately,
(w_E^i, w_D^i) -> (w_E^i / c_i, c_i w_D^i) with c_i = max_j |W_E[i, j]| leaves L~ unchanged (a zero row is
already in the box), so min over W_E in the box = min over all W_E at a given W_D range: no minimiser is lost
by the W_E box. Plain TopK compares codes across latents, so only one common c = max |W_E| is allowed (it keeps
every ordering); same conclusion. The W_D box is another matter: L~'s infimum need not be attained (two latents
with nearly parallel codes and large opposite decoder columns approach a difference direction; the certifier's
blow-up charts exist for that), so no finite B is proven to contain a minimiser. We set B = 4 max |W_D*| + 1,
W_D* the certifier's minimiser after the same rescaling: the certifier's point is then feasible, so SCIP's
optimum lies between the global infimum (a restriction, up to SCIP's feasibility slack) and the certified
value. The box uses our answer, so it helps SCIP.
"""
from __future__ import annotations

import time

import numpy as np


def formulated(inst) -> bool:
    """Whether this module formulates inst's activation (ReLU and plain TopK)."""
    return inst.activation.name in ("relu", "topk")


def normalise(inst, W_E: np.ndarray, W_D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W_E, W_D) rescaled into |W_E| <= 1 with the same L~: per latent for ReLU, one factor for TopK."""
    W_E, W_D = np.array(W_E, dtype=float), np.array(W_D, dtype=float)
    if inst.activation.name == "relu":
        c = np.max(np.abs(W_E), axis=1)
        c = np.where(c > 0, c, 1.0)
    else:
        c = np.full(W_E.shape[0], max(float(np.max(np.abs(W_E))), 1e-300))
    return W_E / c[:, None], W_D * c[None, :]


def decoder_box(inst, W_E: np.ndarray, W_D: np.ndarray) -> float:
    """B = 4 max |W_D| + 1 at the normalised point (hand-set, see the module docstring)."""
    W_E, W_D = normalise(inst, W_E, W_D)
    live = np.any(W_E != 0, axis=1)
    return 4.0 * float(np.max(np.abs(W_D[:, live]), initial=0.0)) + 1.0


def build(inst, B: float, feastol: float = 1e-9, gap: float = 1e-7, time_limit: float | None = None,
          node_limit: int | None = None, margin: float = 1e-6):
    """The whole problem as a pyscipopt Model (single-threaded, quiet); returns (model, W_E vars, W_D vars)."""
    from pyscipopt import Model, quicksum

    if not formulated(inst):
        raise ValueError(f"scip_whole formulates relu and plain topk, not {inst.activation.name}")
    q, n_p, n_r, n = inst.n_latents, inst.n_p, inst.n_r, inst.n
    Wp, Wr, M = np.asarray(inst.W_p, float), np.asarray(inst.W_r, float), np.asarray(inst.M, float)
    U = np.sum(np.abs(Wp), axis=0)
    m = Model("whole")
    m.hideOutput()
    m.setParam("numerics/feastol", float(feastol))
    m.setParam("limits/gap", float(gap))
    m.setParam("parallel/maxnthreads", 1)
    m.setParam("timing/clocktype", 1)          # CPU seconds, like ours
    if time_limit is not None:
        m.setParam("limits/time", float(time_limit))
    if node_limit is not None:
        m.setParam("limits/nodes", int(node_limit))
    WE = [[m.addVar(lb=-1.0, ub=1.0, name=f"we{i}_{j}") for j in range(n_p)] for i in range(q)]
    WD = [[m.addVar(lb=-B, ub=B, name=f"wd{r}_{i}") for i in range(q)] for r in range(n_r)]
    topk = inst.activation.name == "topk"
    a, c, z = {}, {}, {}
    for d in range(n):
        u = float(U[d])
        for i in range(q):
            a[i, d] = m.addVar(lb=-u, ub=u, name=f"a{i}_{d}")
            m.addCons(a[i, d] == quicksum(float(Wp[j, d]) * WE[i][j] for j in range(n_p) if Wp[j, d] != 0))
            z[i, d] = m.addVar(vtype="B", name=f"z{i}_{d}")
            c[i, d] = m.addVar(lb=-u if topk else 0.0, ub=u, name=f"q{i}_{d}")
            m.addCons(c[i, d] <= u * z[i, d])
            m.addCons(c[i, d] - a[i, d] <= u * (1 - z[i, d]))
            if topk:
                m.addCons(c[i, d] >= -u * z[i, d])
                m.addCons(a[i, d] - c[i, d] <= u * (1 - z[i, d]))
            else:
                m.addCons(c[i, d] >= a[i, d])
        if topk:
            m.addCons(quicksum(z[i, d] for i in range(q)) == inst.activation.k)
            for i in range(q):
                for j in range(q):
                    if i != j:
                        m.addCons(a[i, d] - a[j, d] >= margin - (2.0 * u + margin) * (1 - z[i, d] + z[j, d]))
    t = m.addVar(lb=0.0, name="t")
    terms = []
    for d in range(n):
        for r in range(n_r):
            y = m.addVar(lb=None, ub=None, name=f"y{r}_{d}")
            m.addCons(y == quicksum(WD[r][i] * c[i, d] for i in range(q)))
            terms.append(float(M[d]) * (float(Wr[r, d]) - y) * (float(Wr[r, d]) - y))
    m.addCons(t >= quicksum(terms))
    m.setObjective(t, "minimize")
    return m, WE, WD


def solve(inst, B: float, **kw) -> dict:
    """Solve the whole problem; status, primal / dual bound, SCIP's solving time and wall seconds, the point
    (W_E, W_D) and L~ recomputed there by the exact evaluator (sigma applied, no pattern given)."""
    from sdlscape.theory.loss import approx_loss

    m, WE, WD = build(inst, B, **kw)
    t0 = time.perf_counter()
    m.optimize()
    wall = time.perf_counter() - t0
    out = {"status": m.getStatus(), "solving_seconds": float(m.getSolvingTime()), "wall_seconds": wall,
           "nodes": int(m.getNNodes()), "primal": None, "dual": float(m.getDualbound()), "W_E": None, "W_D": None,
           "loss_at_point": None, "box_B": float(B)}
    if m.getNSols() > 0:
        sol = m.getBestSol()
        W_E = np.array([[m.getSolVal(sol, v) for v in row] for row in WE])
        W_D = np.array([[m.getSolVal(sol, v) for v in row] for row in WD])
        out.update(primal=float(m.getSolObjVal(sol)), W_E=W_E.tolist(), W_D=W_D.tolist(),
                   loss_at_point=approx_loss(inst, W_D, W_E))
    return out
