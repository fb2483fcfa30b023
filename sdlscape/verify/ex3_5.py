"""Example 3.5 (a spurious partial minimum), exact (sympy) and by the block solvers.

Statement (PAPER.md Sec. 2): "n = n_p = n_q = n_r = 2, sigma = Top-1 o ReLU, S -> 1, M_1 = M_2 = 1,
W_p = W_r = I. W_E* = [[1, 1], [0, 0]], W_D* = [[1/2, 0], [1/2, 0]]: neuron 1 fires for both features,
neuron 2 is dead. Claimed: both block gradients vanish inside the region {<w_E^1, w_p^1> > 0,
<w_E^1, w_p^2> > 0}, it is a partial optimum (Gorski et al. 2007), and L~ = 1 > 0."

Checked under each activation variant that gives W_E* the pattern [[0, 1], []] (the example's own
activation, and the others where the pattern is the same): exact gradients, block optima and region
membership in rationals (theory/symbolic.py), the CVXPY block re-solves (Clarabel and OSQP) of the
partial-optimum certificate, and ACS from the point. Partial optimality is decided by solving the blocks.
"""
from __future__ import annotations

import numpy as np

from sdlscape.outcomes import Reading, Status
from sdlscape.theory import instance as I
from sdlscape.theory.activations import TopKReLU
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import read_pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify.claims import Context, Searched, result, user_activations
from sdlscape.verify.search import load_counterexample_instance

W_D_STAR = np.array([[0.5, 0.0], [0.5, 0.0]])
W_E_STAR = np.array([[1.0, 1.0], [0.0, 0.0]])
PATTERN = [[0, 1], []]
LOSS_ABS = 1e-12


def linear_piece_of(inst, W_E) -> Piece:
    """The linear piece W_E lies in (its pattern in the activation's linear reading)."""
    reading = inst.activation.linear_reading
    return Piece(inst, read_pattern(inst, W_E, reading), reading=reading)


def certify(inst, W_D, W_E, solver: str = "CLARABEL") -> dict:
    """The partial-optimum certificate (solvers/certificate.py) at (W_D, W_E), in W_E's linear piece."""
    from sdlscape.solvers.certificate import certify_point

    c = certify_point(linear_piece_of(inst, W_E), W_D, W_E, solver)
    return {"loss": c.loss, "decoder_gap": c.decoder_gap, "encoder_gap": c.encoder_gap,
            "decoder_status": c.decoder_status, "encoder_status": c.encoder_status,
            "in_region": c.in_region and c.reads_back, "certified": c.certified, "solver_ok": c.solver_ok,
            "outcome": c.outcome.value, "solver": solver}


def decide(inst, W_D, W_E, starts: int, seed: int) -> dict:
    """The point on one instance: pattern, L~, both certificates, ACS from the point."""
    from sdlscape.solvers.acs import solve_piece

    P = read_pattern(inst, W_E)
    row = {"activation": str(inst.activation), "pattern": P.to_json(), "loss": approx_loss(inst, W_D, W_E)}
    if P.to_json() != PATTERN:
        return row | {"applies": False}
    cert = certify(inst, W_D, W_E)
    cert2 = certify(inst, W_D, W_E, solver="OSQP")
    piece = solve_piece(linear_piece_of(inst, W_E), starts=starts, seed=seed)
    return row | {"applies": True, "clarabel": cert, "osqp": cert2, "acs_outcome": piece.outcome.value,
                  "acs_best_loss": piece.best_loss,
                  "solver_ok": cert["solver_ok"] and cert2["solver_ok"],
                  "holds": bool(cert["certified"] and cert2["certified"] and abs(row["loss"] - 1.0) <= LOSS_ABS)}


def exact_ok(exact: dict) -> bool:
    return bool(exact["loss"] == 1 and all(x == 0 for x in exact["grad_W_D"]) and all(x == 0 for x in exact["grad_W_E"])
                and exact["decoder_block_min"] == 1 and exact["encoder_block_min"] == 1
                and exact["encoder_argmin_in_region"])


def check_ex3_5(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1,
                point: tuple[np.ndarray, np.ndarray] | None = None):
    """`point` replaces (W_D*, W_E*) (a deliberately false variant: a perturbed point must fail)."""
    from sdlscape.theory.symbolic import example_3_5_exact

    W_D, W_E = (W_D_STAR, W_E_STAR) if point is None else (np.asarray(a, dtype=float) for a in point)
    exact = example_3_5_exact() if point is None else None
    acts = user_activations(ctx, name) if ctx.instance is None else [TopKReLU(k=1)]
    rows = []
    for act in acts:
        if not act.fits(2):
            continue
        r = decide(I.example_3_5().with_(activation=act), W_D, W_E, ctx.budget.acs_starts, ctx.seed)
        if point is not None and not r["applies"]:
            r |= {"applies": True, "holds": False, "solver_ok": True}  # the perturbed point lost the pattern
        rows.append(r)
    live = [r for r in rows if r["applies"]]
    evidence = {"exact": None if exact is None else {k: (str(v) if not isinstance(v, (list, bool)) else
                                                         [str(x) for x in v] if isinstance(v, list) else v)
                                                     for k, v in exact.items()},
                "per_activation": rows}
    searched = Searched(instances=len(live), points=len(live), starts=ctx.budget.acs_starts, description=(
        "the paper's point under each activation variant that gives it the pattern [[0, 1], []]: exact sympy "
        "gradients and block optima, CVXPY block re-solves (Clarabel and OSQP), ACS"))
    tol = {"loss_abs": LOSS_ABS}
    bad = [r for r in live if r["solver_ok"] and not r["holds"]]
    if bad or (exact is not None and not exact_ok(exact)):
        why = (f"not a partial optimum with L~ = 1 under {bad[0]['activation']}: loss {bad[0]['loss']:.6g}, pattern "
               f"{bad[0]['pattern']}" if bad else "the exact (sympy) check failed")
        return result("ex3.5", name, Status.FAILS, reading=reading, tried=len(live), evidence=evidence,
                      searched=searched, tolerance=tol,
                      counterexample={"instance": I.example_3_5().to_dict(), "pattern": PATTERN, "W_D": W_D,
                                      "W_E": W_E, "why": why})
    if not live or any(not r["solver_ok"] for r in live):
        return result("ex3.5", name, Status.INCONCLUSIVE, reading=reading, tried=len(live), evidence=evidence,
                      searched=searched, tolerance=tol)
    return result("ex3.5", name, Status.HOLDS, reading=reading, tried=len(live), evidence=evidence,
                  searched=searched, tolerance=tol)


def recheck(res: dict) -> tuple[bool, dict]:
    cx = res["counterexample"]
    inst = load_counterexample_instance(cx)
    W_D, W_E = np.asarray(cx["W_D"], float), np.asarray(cx["W_E"], float)
    P = read_pattern(inst, W_E)
    if P.to_json() != PATTERN:
        return True, {"pattern": P.to_json()}
    c = certify(inst, W_D, W_E, solver="OSQP")
    return bool(c["solver_ok"] and not (c["certified"] and abs(c["loss"] - 1) <= LOSS_ABS)), c
