"""Thm 3.2 (piecewise biconvexity), per pattern reading.

Statement (PAPER.md Sec. 2): "On R^{n_r x n_q} x Omega_P, L~ is convex in W_D for fixed W_E, and
convex in W_E over Omega_P for fixed W_D." Omega_P (eq. 13) is the set of encoders producing pattern P;
under Def. 3.1, F_i = {d : sigma(W_E w_p^d)_i > 0}. For plain TopK a selected latent can pass 0 or a
negative code that Def. 3.1 does not see, so one Def. 3.1 region holds several linear pieces of sigma;
the selection reading (the selected set) is the labelled variant whose regions are the linear pieces.

Per instance, random encoders W_E are drawn and their own pattern P read in the reading (so W_E lies in
Omega_P); for each, with the *true* activation (no mask):
  - chords: a second encoder W_E' with the same pattern (a perturbation, or an independent draw kept
    only if it shows P); L~(W_D, t W_E + (1-t) W_E') <= the chord value for t on a grid. A chord point
    that leaves Omega_P is reported (the region is not convex, so "convex over Omega_P" has no meaning),
    never raised. Likewise for the decoder block (all of R^{n_r x n_q});
  - the finite-difference Hessian of each block (step kept inside the linear piece) has no eigenvalue
    below -tol; the CVXPY block problems are DCP; for small pieces sympy shows Hessian = 2 J^T diag(M) J.
The deliberately false variant `same_region=False` draws chord ends in different regions.
"""
from __future__ import annotations

import numpy as np

from sdlscape.outcomes import Reading, Status
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.loss import passed_mask as feature_selection
from sdlscape.theory.patterns import read_pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify.claims import Context, Searched, instance_for, result, user_activations
from sdlscape.verify.search import load_counterexample_instance, random_draws, standard_family

TOL = 1e-9     # relative chord excess that counts as a violation of convexity
EIG_TOL = 1e-6  # relative Hessian eigenvalue below -EIG_TOL counts as non-convex
TS = np.linspace(0.05, 0.95, 19)


def _fd_hessian(f, x: np.ndarray, h: float) -> np.ndarray:
    n = x.size
    H = np.zeros((n, n))
    E = np.eye(n) * h
    f0 = f(x)
    for i in range(n):
        for j in range(i, n):
            v = (f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j]) + f(x - E[i] - E[j])) / (4 * h * h) \
                if i != j else (f(x + E[i]) - 2 * f0 + f(x - E[i])) / (h * h)
            H[i, j] = H[j, i] = v
    return H


def _stable_step(inst: Instance, W_E: np.ndarray) -> float | None:
    """A finite-difference step that keeps every perturbed encoder in the same linear piece (or None)."""
    Z = W_E @ inst.W_p
    theta = inst.activation.threshold
    margins = [np.abs(Z - theta).min(), np.abs(Z).min()]
    if not inst.activation.separable and Z.shape[0] > 1:
        margins.append(np.abs(np.diff(np.sort(Z, axis=0), axis=0)).min())
    h = min(float(min(margins)) / (8.0 * np.sqrt(inst.n_p)) / max(1.0, float(np.abs(inst.W_p).max())), 1e-2)
    # below 1e-3 the second differences are dominated by round-off (~ 1e-16 |L| / h^2): skip the point
    return h if h >= 1e-3 else None


def decide(inst: Instance, W_D, W_E, W_E2, W_D2, reading: Reading, same_region: bool = True) -> dict:
    """One chord of each block: the largest relative excess over the chord, and whether the encoder chord
    stayed in the region of W_E's pattern (numbers only)."""
    P = read_pattern(inst, W_E, reading)
    L1, L2 = approx_loss(inst, W_D, W_E), approx_loss(inst, W_D, W_E2)
    K2 = approx_loss(inst, W_D2, W_E)
    scale = 1.0 + max(abs(L1), abs(L2), abs(K2))
    worst, worst_t, left_at = 0.0, None, None
    for t in TS:
        W = t * W_E + (1 - t) * W_E2
        if same_region and left_at is None and read_pattern(inst, W, reading) != P:
            left_at = float(t)
        gap_e = approx_loss(inst, W_D, W) - (t * L1 + (1 - t) * L2)
        gap_d = approx_loss(inst, t * W_D + (1 - t) * W_D2, W_E) - (t * L1 + (1 - t) * K2)
        g = max(gap_e, gap_d) / scale
        if g > worst:
            worst, worst_t = g, float(t)
    mid = 0.5 * (W_E + W_E2)
    return {"pattern": P.to_json(), "pattern_2": read_pattern(inst, W_E2, reading).to_json(),
            "loss_1": L1, "loss_2": L2, "loss_mid": approx_loss(inst, W_D, mid), "excess_rel": worst, "at_t": worst_t,
            "left_region_at_t": left_at}


def _second_encoder(inst, W_E, reading, rng, same_region: bool):
    if not same_region:
        return rng.standard_normal(W_E.shape)
    P = read_pattern(inst, W_E, reading)
    for scale in (1.0, 0.3):
        cand = W_E + scale * rng.standard_normal(W_E.shape)
        if read_pattern(inst, cand, reading) == P:
            return cand
    for _ in range(40):  # independent draws with the same pattern (other linear pieces of one region)
        cand = rng.standard_normal(W_E.shape)
        if read_pattern(inst, cand, reading) == P:
            return cand
    for scale in (0.1, 0.03, 0.01):
        cand = W_E + scale * rng.standard_normal(W_E.shape)
        if read_pattern(inst, cand, reading) == P:
            return cand
    return None


def check_points(inst: Instance, rng: np.random.Generator, n_points: int, reading: Reading,
                 same_region: bool = True) -> dict:
    """Convexity evidence for both blocks at random points of random regions of one instance."""
    worst, worst_eig, chords, hessians, offending, left = 0.0, np.inf, 0, 0, None, None
    for _ in range(n_points):
        W_E = rng.standard_normal((inst.n_latents, inst.n_p))
        W_D = rng.standard_normal((inst.n_r, inst.n_latents))
        W_E2 = _second_encoder(inst, W_E, reading, rng, same_region)
        if W_E2 is None:
            continue
        r = decide(inst, W_D, W_E, W_E2, rng.standard_normal(W_D.shape), reading, same_region)
        chords += 1
        if r["left_region_at_t"] is not None and left is None:
            left = {"W_E": W_E, "W_E2": W_E2, **r}
        if r["excess_rel"] > worst:
            worst, offending = r["excess_rel"], {"W_E": W_E, "W_E2": W_E2, "W_D": W_D, **r}
        h = _stable_step(inst, W_E)
        if h is not None:
            fe = lambda x, W_D=W_D, s=W_E.shape: approx_loss(inst, W_D, x.reshape(s))
            fd = lambda x, W_E=W_E, s=W_D.shape: approx_loss(inst, x.reshape(s), W_E)
            for H in (_fd_hessian(fe, W_E.reshape(-1), h), _fd_hessian(fd, W_D.reshape(-1), 1e-3)):
                worst_eig = min(worst_eig, float(np.linalg.eigvalsh(H).min()) / (1.0 + np.abs(H).max()))
                hessians += 1
    return {"chords": chords, "worst_chord_excess_rel": worst, "hessians": hessians,
            "min_hessian_eig_rel": None if not np.isfinite(worst_eig) else worst_eig, "offending": offending,
            "left_region": left}


def _dcp(inst: Instance, rng: np.random.Generator) -> bool | None:
    from sdlscape.solvers.blocks import DecoderBlock, EncoderBlock

    P = read_pattern(inst, rng.standard_normal((inst.n_latents, inst.n_p)), inst.activation.linear_reading)
    try:
        piece = Piece(inst, P, reading=inst.activation.linear_reading)
        return bool(DecoderBlock(piece).problem.is_dcp() and EncoderBlock(piece).problem.is_dcp())
    except Exception:  # noqa: BLE001 - a pattern the blocks reject says nothing about convexity
        return None


def verdict(worst: float, min_eig: float | None, left_region: bool, symbolic_ok: bool, dcp: list) -> Status:
    """fails on any chord excess beyond TOL, a region that is not convex, a negative Hessian eigenvalue,
    a failed symbolic identity or a non-DCP block; else holds."""
    if worst > TOL or left_region or not symbolic_ok or (min_eig is not None and min_eig < -EIG_TOL) \
            or False in dcp:
        return Status.FAILS
    return Status.HOLDS


def check_thm3_2(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, same_region: bool = True):
    from sdlscape.theory.symbolic import block_hessian_gram_identity

    rng = np.random.default_rng(ctx.seed)
    n_points = 3 * ctx.budget.points if ctx.instance is not None else ctx.budget.points
    tried, per, worst, sym, dcp, bad, left = 0, [], 0.0, [], [], None, None
    min_eig, chords = np.inf, 0
    for act in user_activations(ctx, name):
        insts = [instance_for(ctx, act)] if ctx.instance is not None else \
            standard_family(act, ctx.full, ctx.seed)[: (None if ctx.full else 5)] + \
            list(random_draws(act, ctx.budget.draws, ctx.seed))
        for inst in insts:
            tried += 1
            r = check_points(inst, rng, n_points, reading, same_region)
            chords += r["chords"]
            dcp.append(_dcp(inst, rng))
            per.append({k: v for k, v in r.items() if k not in ("offending", "left_region")}
                       | {"instance": inst.name, "activation": str(act)})
            if r["min_hessian_eig_rel"] is not None:
                min_eig = min(min_eig, r["min_hessian_eig_rel"])
            if r["left_region"] is not None and left is None:
                left = (inst, r["left_region"])
            worst = max(worst, r["worst_chord_excess_rel"])
            if r["worst_chord_excess_rel"] > TOL and (bad is None or (inst.n, inst.n_latents) < (bad[0].n,
                                                                                               bad[0].n_latents)):
                bad = (inst, r["offending"])  # the smallest instance with a violation
            if inst.n * inst.n_latents * inst.n_p <= 12 and len(sym) < (4 if ctx.full else 1):
                mask = feature_selection(inst, rng.standard_normal((inst.n_latents, inst.n_p)))
                s = block_hessian_gram_identity(inst.W_p, inst.W_r, inst.M, mask)
                sym.append({"instance": inst.name, "mask": mask.astype(int).tolist(), **s})
    searched = Searched(instances=tried, points=chords, description=(
        f"{n_points} random encoders per instance, each with a second encoder of the same {reading} pattern "
        f"(perturbation or independent draw), chords at {len(TS)} points of both blocks, FD Hessians"
        + ("" if same_region else "; false variant: chord ends in different regions")))
    evidence = {"worst_chord_excess_rel": worst, "min_hessian_eig_rel": None if not np.isfinite(min_eig) else min_eig,
                "chords": chords, "region_left_by_a_chord": left is not None, "dcp": dcp, "symbolic": sym,
                "per_instance": per}
    tol = {"chord_rel": TOL, "eig_rel": EIG_TOL}
    status = verdict(worst, evidence["min_hessian_eig_rel"], left is not None,
                     all(s["convex_in_each_block"] for s in sym), dcp)
    if status is Status.HOLDS:
        return result("thm3.2", name, status, reading=reading, tried=tried, evidence=evidence, searched=searched,
                      tolerance=tol)
    inst, off = bad if bad is not None else (left if left is not None else (None, None))
    path = ctx.save_counterexample("thm3.2", name, inst, reading) if inst is not None and same_region else None
    if bad is not None:
        why = (f"L~ not convex in W_E over Omega_P ({reading}): two encoders with pattern {off['pattern']} have "
               f"L~ = {off['loss_1']:.6g} and {off['loss_2']:.6g}, their midpoint {off['loss_mid']:.6g}; the chord is "
               f"exceeded by {off['excess_rel']:.3g} (relative) at t = {off['at_t']}")
    elif left is not None:
        why = f"a chord between two encoders of pattern {off['pattern']} leaves Omega_P at t = {off['left_region_at_t']}"
    else:
        why = "Hessian / symbolic / DCP test failed"
    cx = None if inst is None and off is None else {
        "instance": path or (inst.to_dict() if inst is not None else None),
        "pattern": None if off is None else off["pattern"], "why": why, "reading": reading.value,
        "chord": off, "same_region": same_region}
    if cx is None:
        cx = {"instance": None, "pattern": None, "why": why}
    rests = (["reading: plain TopK passes negative codes (Def. 3.1 regions are unions of linear pieces)"]
             if name == "topk" and reading is Reading.DEF_3_1 else [])
    if not same_region:
        rests.append("false variant: chord ends in different regions")
    return result("thm3.2", name, status, reading=reading, tried=tried, evidence=evidence, searched=searched,
                  tolerance=tol, counterexample=cx, rests_on=rests)


def recheck(res: dict) -> tuple[bool, dict]:
    """Re-evaluate the chord from the saved instance: same pattern at both ends (exact pattern reading),
    and the midpoint value above the chord by an explicit residual loop."""
    cx = res["counterexample"]
    inst = load_counterexample_instance(cx)
    ch, reading = cx["chord"], Reading(cx["reading"])
    W_E, W_E2, W_D = (np.asarray(ch[k], float) for k in ("W_E", "W_E2", "W_D"))
    t = float(ch["at_t"])
    W = t * W_E + (1 - t) * W_E2

    def loss(WE):  # explicit loop over features: sigma applied to each feature's code vector
        total = 0.0
        for d in range(inst.n):
            q = inst.activation.apply((WE @ inst.W_p[:, d])[None, :])[0]
            r = inst.W_r[:, d] - W_D @ q
            total += inst.M[d] * float(r @ r)
        return total

    same = read_pattern(inst, W_E, reading) == read_pattern(inst, W_E2, reading)
    excess = loss(W) - (t * loss(W_E) + (1 - t) * loss(W_E2))
    return bool(same and excess > TOL * (1 + abs(loss(W_E)))), {"same_pattern": same, "excess": excess}
