"""Thm 3.3 (constructive near-global minimum, eq. 16), literal and natural readings.

Statement (PAPER.md Sec. 2): "If n_q >= n and eq. 10 holds, then W_D* = [W_r, 0], W_E* = [W_p^T; 0]
(zero padding to n_q) satisfies L~(W_D*, W_E*) <= n^2 M^2 sum_d M_d (eq. 16)", with
M = max_{i != j} <w_p^i, w_p^j> (signed).

Evaluated with the true activation: padding latents have code 0, but plain TopK may select and pass a
*negative* interference <w_p^i, w_p^d> (eq. 10 allows sigma(z)_i = z_i < 0), which the signed M does not
bound; JumpReLU with theta >= 1 drops every diagonal code <w_p^d, w_p^d> = 1. Both are literal readings
of a hypothesis: the natural reading uses M = max |<w_p^i, w_p^j>| and theta < 1. A failure whose natural
reading holds is reported with severity "literal" and the natural result beside it.
The re-check evaluates the residuals w_r^d - sum_{i selected} w_r^i <w_p^i, w_p^d> by an explicit loop.
"""
from __future__ import annotations

import numpy as np

from sdlscape.outcomes import Reading, Severity, Status
from sdlscape.theory.constructions import bound_3_3, construction_3_3
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.loss import passed_mask as feature_selection
from sdlscape.verify.claims import Context, Searched, instance_for, result, user_activations
from sdlscape.verify.search import load_counterexample_instance, obtuse, random_draws, shrink, standard_family

TOL = 1e-9  # relative slack on eq. 16


def construction_loss_explicit(inst: Instance) -> float:
    """L~ at the Thm 3.3 construction by an explicit loop over selected latents (independent route)."""
    G = inst.W_p.T @ inst.W_p
    sel = feature_selection(inst, np.vstack([inst.W_p.T, np.zeros((inst.n_latents - inst.n, inst.n_p))]))
    total = 0.0
    for d in range(inst.n):
        r = inst.W_r[:, d].copy()
        for i in range(inst.n):
            if sel[i, d]:
                r -= inst.W_r[:, i] * G[i, d]
        total += inst.M[d] * float(r @ r)
    return total


def natural_bound(inst: Instance) -> float:
    """n^2 M_abs^2 sum_d M_d with M_abs = max_{i != j} |<w_p^i, w_p^j>| (the natural reading)."""
    G = np.abs(inst.W_p.T @ inst.W_p)
    np.fill_diagonal(G, 0.0)
    return float(inst.n ** 2 * G.max() ** 2 * inst.M.sum())


def natural_hypotheses(inst: Instance) -> bool:
    """The natural reading of the hypotheses: a firing threshold below the diagonal code 1."""
    return inst.activation.threshold < 1.0


def decide(inst: Instance, bound_factor: float = 1.0) -> dict:
    """L~ at the construction against eq. 16 (literal) and against the natural bound."""
    W_D, W_E = construction_3_3(inst)
    L = approx_loss(inst, W_D, W_E)
    b, bn = bound_factor * bound_3_3(inst), bound_factor * natural_bound(inst)
    G = inst.W_p.T @ inst.W_p
    sel = feature_selection(inst, W_E)[: inst.n]
    neg = [(int(i), int(d), float(G[i, d])) for i, d in zip(*np.nonzero(sel)) if i != d and G[i, d] < 0]
    return {"instance": inst.name, "activation": str(inst.activation), "L_approx": L, "bound": b,
            "natural_bound": bn, "M": inst.max_interference,
            "violated": bool(L > b + TOL * max(1.0, b)),
            "natural_applies": natural_hypotheses(inst),
            "natural_violated": bool(natural_hypotheses(inst) and L > bn + TOL * max(1.0, bn)),
            "diagonal_dropped": int(np.sum(~np.diag(sel))), "negative_codes_passed": neg[:5]}


def severity(literal_violations: int, natural_violations: int) -> Severity | None:
    """None if nothing fails; literal if only the literal reading fails; substantive otherwise."""
    if literal_violations == 0 and natural_violations == 0:
        return None
    return Severity.LITERAL if natural_violations == 0 else Severity.SUBSTANTIVE


def check_thm3_3(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, bound_factor: float = 1.0):
    recs, tried = [], 0
    for act in user_activations(ctx, name):
        inst_u = instance_for(ctx, act)
        if inst_u is not None:
            insts = [inst_u]
        else:
            insts = standard_family(act, ctx.full, ctx.seed)
            insts += [obtuse(n, a, act, n_latents=q) for n in (3, 4) for a in (0.05, 0.1, 0.3) for q in (n, n + 1)
                      if act.fits(q)]
            insts += list(random_draws(act, 100 * ctx.budget.draws, ctx.seed))
        for inst in insts:
            if inst.n_latents < inst.n:
                continue
            tried += 1
            recs.append((decide(inst, bound_factor), inst))
    lit = [r for r, _ in recs if r["violated"]]
    nat = [r for r, _ in recs if r["natural_violated"]]
    nat_cases = sum(r["natural_applies"] for r, _ in recs)
    natural = {"reading": "M = max |<w_p^i, w_p^j>|, jumprelu theta < 1", "instances": nat_cases,
               "violations": len(nat), "status": (Status.FAILS if nat else Status.HOLDS if nat_cases
                                                  else Status.INCONCLUSIVE).value}
    evidence = {"violations": len(lit), "natural_violations": len(nat),
                "max_ratio_L_over_bound": max((r["L_approx"] / r["bound"] for r, _ in recs if r["bound"] > 0),
                                              default=0.0),
                "diagonal_dropped_cases": sum(r["diagonal_dropped"] > 0 for r, _ in recs),
                "negative_codes_passed_cases": sum(bool(r["negative_codes_passed"]) for r, _ in recs),
                "bound_factor": bound_factor, "records": [r for r, _ in recs[:12]]}
    searched = Searched(instances=tried, points=tried, description=(
        "the construction on the standard family + obtuse instances (negative interference) + random draws, "
        "n_latents >= n, every activation parameter of the budget"))
    tol = {"rel": TOL}
    sev = severity(len(lit), len(nat))
    if sev is None and not tried:   # every instance had n_latents < n: nothing met the hypotheses
        status = Status.NOT_APPLICABLE if ctx.instance is not None else Status.INCONCLUSIVE
        return result("thm3.3", name, status, reading=reading, tried=0, searched=searched, tolerance=tol,
                      evidence=evidence | {"why": "no instance with n_latents >= n was searched"}, natural=natural)
    if sev is None:
        return result("thm3.3", name, Status.HOLDS, reading=reading, tried=tried, evidence=evidence,
                      searched=searched, tolerance=tol, natural=natural)
    key = "natural_violated" if sev is Severity.SUBSTANTIVE else "violated"
    r, inst = max(((r, i) for r, i in recs if r[key]), key=lambda c: c[0]["L_approx"] - c[0]["bound"])
    small, _ = shrink(inst, lambda c, _p: c.n_latents >= c.n and decide(c, bound_factor)[key])
    r2 = decide(small, bound_factor)
    path = ctx.save_counterexample("thm3.3", name, small)
    why = (f"L~(W_D*, W_E*) = {r2['L_approx']:.4g} > n^2 M^2 sum M_d = {r2['bound']:.4g} (M = {r2['M']:.3g}); "
           f"{r2['diagonal_dropped']} diagonal codes dropped, negative codes passed: {r2['negative_codes_passed']}; "
           f"natural reading (|M|, theta < 1): {natural['violations']} violations in {nat_cases} instances")
    cx = {"instance": path or small.to_dict(), "pattern": None, "why": why, "bound_factor": bound_factor,
          "hypotheses": {"n_q >= n": small.n_latents >= small.n, "eq. 10": True}, "record": r2,
          "recheck": _recheck_numbers(small, bound_factor), "original": r}
    rests = [LITERAL_READING] if sev is Severity.LITERAL else []
    return result("thm3.3", name, Status.FAILS, reading=reading, tried=tried, evidence=evidence, searched=searched,
                  tolerance=tol, counterexample=cx, severity=sev, natural=natural, rests_on=rests)


LITERAL_READING = "reading: M as the signed largest interference, jumprelu theta >= 1 allowed (literal hypotheses)"


def _recheck_numbers(inst: Instance, bound_factor: float) -> dict:
    L, b = construction_loss_explicit(inst), bound_factor * bound_3_3(inst)
    return {"route": "explicit residual loop", "L_explicit": L, "bound": b,
            "agrees": bool(inst.n_latents >= inst.n and L > b + TOL * max(1.0, b))}


def recheck(res: dict) -> tuple[bool, dict]:
    cx = res["counterexample"]
    r = _recheck_numbers(load_counterexample_instance(cx), float(cx.get("bound_factor", 1.0)))
    return r["agrees"], r
