"""Independent re-check of a reported counterexample from its saved instance file (and its numbers).

Used by tests and by anyone holding a verify result file: `recheck(result_dict) -> (ok, detail)`.
The routes differ from the ones that found the counterexample: closed forms, exact rationals,
Farkas certificates re-verified, a second QP solver.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sdlscape.theory.instance import Instance, load_instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import check_farkas


def _instance(cx: dict) -> Instance:
    src = cx["instance"]
    return load_instance(src) if isinstance(src, str) else Instance.from_dict(src)


def recheck(result: dict[str, Any]) -> tuple[bool, dict]:
    """True if the counterexample in a ClaimResult dict re-checks as one by an independent route."""
    cx = result.get("counterexample")
    if result.get("status") != "fails" or not cx:
        return False, {"why": "no counterexample"}
    claim = result["claim"]
    inst = _instance(cx)
    if claim == "thm3.1":
        from sdlscape.verify.claims_loss import c_upper, exact_verdict

        W_D, W_E = np.asarray(cx["W_D"], float), np.asarray(cx["W_E"], float)
        v = exact_verdict(inst, W_D, W_E, float(cx["p_active"]), c_upper(inst, W_D, W_E))
        return v["violated"], v
    if claim == "thm3.3":
        from sdlscape.theory.constructions import bound_3_3
        from sdlscape.verify.claims_zero import construction_loss_explicit

        L, b = construction_loss_explicit(inst), bound_3_3(inst)
        return bool(inst.n_latents >= inst.n and L > b + 1e-9 * max(1.0, b)), {"L": L, "bound": b}
    if claim == "thm3.6":
        from sdlscape.solvers.acs import solve_piece
        from sdlscape.theory.constructions import full_column_rank
        from sdlscape.theory.symbolic import exact_positive_eigenvectors

        P = Pattern.parse(cx["pattern"], inst.n, inst.n_latents)
        hyp = (inst.n >= 2 and inst.n_latents >= inst.n and P.polysemantic and P.is_partition
               and Piece(inst, P, reading=inst.activation.linear_reading).realizable and full_column_rank(inst))
        G = inst.W_r.T @ inst.W_r
        blocked = False
        for F in P.sets:
            if len(F) >= 2:
                F = sorted(F)
                m = np.sqrt(inst.M[F])
                eig = exact_positive_eigenvectors(m[:, None] * G[np.ix_(F, F)] * m[None, :])
                blocked |= all(e["positive"] is False for e in eig)
        piece = solve_piece(Piece(inst, P, reading=inst.activation.linear_reading), starts=3, seed=7, solver="OSQP")
        ok = bool(hyp and blocked and piece.outcome != "partial_optimum")
        return ok, {"hypotheses": hyp, "exact_no_positive_eigenvector": blocked, "acs_osqp": piece.outcome}
    if claim == "thm3.8":
        from sdlscape.theory.constructions import split_pattern

        P = Pattern.parse(cx["pattern"], inst.n, inst.n_latents)
        p = int(cx["parent"])
        if not Piece(inst, P).realizable:
            return False, {"why": "P not realizable"}
        certs = []
        for j in inst.parents[p]:
            Pp = split_pattern(P, p, j, inst.n_latents - 1)
            pc = Piece(inst, Pp)
            r = pc.realizability
            certs.append(r.certificate is not None and check_farkas(pc.region, r.certificate))
        return all(certs), {"farkas_verified": certs}
    # other claims: re-run the check on the saved instance alone
    from sdlscape.verify.claims import Context, check_function

    res = check_function(claim)(result["activation"], Context(instance=inst))
    return res.status == "fails", {"rerun_status": res.status}
