"""Check of Thm 3.8 (feature absorption): if P = (F_1..F_M, dead) with F_i the sub-concepts of parent
i is realizable, then for every parent i* some sub-concept j* can be split off to a dead latent
(P' = split_pattern) and P' is realizable. Realizability is decided by LP (patterns.realize: a
witness, or a Farkas certificate re-checked by check_farkas); a counterexample is re-checked by a
second LP (CVXPY with the HiGHS / Clarabel solver) on the same region.

Where the paper's argument needs a threshold: shrinking the parent's encoder row until the weakest
sub-concept drops out works for JumpReLU (codes cross theta) but not for ReLU (signs are scale
invariant), and a new latent "parallel to the sub-concept" fires alone only if that sub-concept can
be separated from every other feature by a hyperplane through the origin. For TopK with k fixed,
a partition pattern (each feature selects one latent) exists only for k = 1 (plain TopK passes
exactly k latents): for k >= 2 the hypothesis is never met and the claim is vacuous.
"""
from __future__ import annotations

import numpy as np

from sdlscape.errors import InputError
from sdlscape.theory import instance as I
from sdlscape.theory.constructions import split_pattern
from sdlscape.theory.instance import Activation, Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import check_farkas
from sdlscape.verify.claims import ClaimResult, Context, instance_for, user_activations


def angles_instance(degrees: list[float], parents: list[list[int]], act: Activation, name: str) -> Instance:
    """Unit features in 2-D at the given angles, grouped into parents; one dead latent."""
    t = np.radians(degrees)
    return Instance(W_p=np.vstack([np.cos(t), np.sin(t)]), activation=act, n_latents=len(parents) + 1,
                    parents=parents, name=name)


def _family(ctx: Context, act: Activation) -> list[Instance]:
    inst = instance_for(ctx, act)
    if inst is not None:
        if inst.parents is None:
            raise InputError("thm3.8 needs an instance with 'parents'")
        return [inst]
    out = [angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], act, "angles-0-100-200-300"),
           angles_instance([0, 60, 180, 240], [[0, 1], [2, 3]], act, "angles-0-60-180-240")]
    seeds = range(6 if ctx.full else 2)
    for s in seeds:
        for sizes, n_p in (((2, 2), 2), ((2, 2), 3), ((2, 3), 3)) + ((((3, 3), 2), ((2, 2, 2), 3)) if ctx.full else ()):
            for spread in (0.5, 2.0):
                h = I.hierarchical(sizes, n_p, act, spread=spread, seed=ctx.seed + s,
                                   n_latents=len(sizes) + 1)
                out.append(h.with_(name=f"{h.name}-sp{spread:g}"))
    return [i for i in out if act.fits(i.n_latents)]


def parent_pattern(inst: Instance) -> Pattern:
    sets = [frozenset(g) for g in inst.parents] + [frozenset()] * (inst.n_latents - len(inst.parents))
    return Pattern(tuple(sets), inst.n)


def _lp_recheck(inst: Instance, P: Pattern, solver: str = "CLARABEL") -> str:
    """Second route: feasibility of the same region with CVXPY (another LP code path)."""
    import cvxpy as cp

    reg = Piece(inst, P).region
    w = cp.Variable(reg.G.shape[1])
    prob = cp.Problem(cp.Minimize(0), [reg.G @ w <= reg.h])
    prob.solve(solver=solver)
    return str(prob.status)


def check_thm3_8(name: str, ctx: Context, eps: float = 1e-3) -> ClaimResult:
    """eps: the margin of strict inequalities (a huge margin is a deliberately false variant)."""
    tried, recs, cex, vacuous = 0, [], None, 0
    for act in user_activations(ctx, name):
        for inst in _family(ctx, act):
            P = parent_pattern(inst)
            try:
                rz = Piece(inst, P, eps).realizability
            except InputError as exc:
                vacuous += 1
                recs.append({"instance": inst.name, "activation": str(act), "hypothesis": f"not a valid pattern: {exc}"})
                continue
            if not rz.realizable:
                recs.append({"instance": inst.name, "activation": str(act), "hypothesis": "P not realizable",
                             "status": rz.status.value})
                continue
            tried += 1
            dead = inst.n_latents - 1
            for p, subs in enumerate(inst.parents):
                if len(subs) < 2:
                    continue
                per_sub = {}
                for j in subs:
                    Pp = split_pattern(P, p, j, dead)
                    try:
                        pc = Piece(inst, Pp, eps)
                        r = pc.realizability
                        per_sub[j] = {"realizable": r.realizable, "status": r.status.value,
                                      "farkas_ok": None if r.certificate is None else
                                      check_farkas(pc.region, r.certificate)}
                    except InputError as exc:
                        per_sub[j] = {"realizable": False, "status": f"invalid: {exc}", "farkas_ok": None}
                rec = {"instance": inst.name, "activation": str(act), "parent": p, "subconcepts": list(subs),
                       "splittable": [j for j, v in per_sub.items() if v["realizable"]], "per_sub": per_sub}
                recs.append(rec)
                if not rec["splittable"] and all(v["farkas_ok"] for v in per_sub.values()) and cex is None:
                    cex = (inst, P, p, per_sub)
    evidence = {"searched": "2-D angle instances and hierarchical instances (several n_p, spreads, seeds) with "
                            "one dead latent; every parent, every sub-concept split, LP realizability",
                "parents_checked": sum(1 for r in recs if "parent" in r),
                "parents_with_no_split": sum(1 for r in recs if "parent" in r and not r["splittable"]),
                "vacuous_instances": vacuous, "eps": eps, "records": recs[:20],
                "threshold_note": {"relu": "no threshold: scaling a row never changes a sign",
                                   "jumprelu": "threshold theta: shrinking the parent row drops its weakest sub-concept",
                                   "topk": "k = 1 only (partition patterns need k = 1); ordering, not a threshold",
                                   "topk_relu": "ordering plus sign; no scale threshold"}[name]}
    tol = {"eps": eps}
    if cex is not None:
        inst, P, p, per_sub = cex
        path = ctx.save_counterexample("thm3.8", name, inst)
        second = {j: _lp_recheck(inst, split_pattern(P, p, j, inst.n_latents - 1)) for j in inst.parents[p]}
        why = (f"P = {P} is realizable, but for parent {p} no sub-concept split {list(inst.parents[p])} is realizable "
               f"(Farkas certificates re-checked)")
        return ClaimResult("thm3.8", name, "fails", tried, evidence,
                           {"instance": path or inst.to_dict(), "pattern": P.to_json(), "why": why, "parent": p,
                            "recheck": {"route": "CVXPY/Clarabel feasibility of each P'", "statuses": second,
                                        "agrees": all(s == "infeasible" for s in second.values())}}, tol)
    if tried == 0:
        return ClaimResult("thm3.8", name, "holds" if vacuous else "inconclusive", tried,
                           evidence | {"vacuous": bool(vacuous)}, None, tol)
    return ClaimResult("thm3.8", name, "holds", tried, evidence, None, tol)
