"""Check of Thm 3.2 (piecewise biconvexity): each block of L~ is convex inside an activation region.

Per instance, random encoders W_E are drawn and their own pattern P read (so W_E lies in Omega_P);
for each, with the *true* activation (no mask):
  - chords: a second encoder W_E' with the same pattern; L~(W_D, t W_E + (1-t) W_E') <= the chord
    value for t on a grid (every chord point is checked to keep pattern P: the region is convex);
    likewise for the decoder block (all of R^{n_r x n_q});
  - the finite-difference Hessian of each block (central differences, step kept inside the region)
    has no eigenvalue below -tol;
  - the CVXPY block problems of sdlscape.solvers.blocks are DCP;
  - for small pieces, sympy shows Hessian = 2 J^T diag(M) J (a Gram matrix) with the other block
    symbolic, i.e. convexity for every value of the other block (theory/symbolic.py).
The deliberately false variant `same_region=False` draws chord ends in different regions.
"""
from __future__ import annotations

import numpy as np

from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.loss import passed_mask as feature_selection
from sdlscape.theory.patterns import read_pattern as _read_pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify.claims import ClaimResult, Context, instance_for, user_activations
from sdlscape.verify.claims_families import random_draws, standard_family


def read_pattern(inst, W_E):
    """The linear piece W_E lies in (the reading this check has always used)."""
    return _read_pattern(inst, W_E, inst.activation.linear_reading)

TOL = 1e-9


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


def _stable_step(inst: Instance, W_E: np.ndarray, mask: np.ndarray) -> float | None:
    """A finite-difference step that keeps every perturbed encoder in the same region (or None)."""
    Z = W_E @ inst.W_p
    theta = inst.activation.threshold if inst.activation.separable else 0.0
    # distance of each code from the nearest switching value, scaled by the perturbation's effect
    margins = [np.abs(Z - theta).min()]
    if not inst.activation.separable:
        s = np.sort(Z, axis=0)
        margins.append(np.abs(np.diff(s, axis=0)).min() if Z.shape[0] > 1 else np.inf)
    m = float(min(margins))
    h = min(m / (8.0 * np.sqrt(inst.n_p)) / max(1.0, float(np.abs(inst.W_p).max())), 1e-2)
    # below 1e-3 the second differences are dominated by round-off (~ 1e-16 |L| / h^2): skip the point
    return h if h >= 1e-3 else None


def check_points(inst: Instance, rng: np.random.Generator, n_points: int, same_region: bool = True) -> dict:
    """Convexity evidence for both blocks at random points of random regions of one instance."""
    worst_chord, worst_eig, chords, hessians, offending = 0.0, np.inf, 0, 0, None
    ts = np.linspace(0.05, 0.95, 19)
    for _ in range(n_points):
        W_E = rng.standard_normal((inst.n_latents, inst.n_p))
        W_D = rng.standard_normal((inst.n_r, inst.n_latents))
        P = read_pattern(inst, W_E)
        if same_region:
            W_E2 = None
            for scale in (1.0, 0.3, 0.1, 0.03, 0.01):
                cand = W_E + scale * rng.standard_normal(W_E.shape)
                if read_pattern(inst, cand) == P:
                    W_E2 = cand
                    break
            if W_E2 is None:
                continue
        else:
            W_E2 = rng.standard_normal(W_E.shape)
        W_D2 = rng.standard_normal(W_D.shape)
        L1, L2 = approx_loss(inst, W_D, W_E), approx_loss(inst, W_D, W_E2)
        K1, K2 = approx_loss(inst, W_D, W_E), approx_loss(inst, W_D2, W_E)
        for t in ts:
            W = t * W_E + (1 - t) * W_E2
            if same_region and read_pattern(inst, W) != P:
                raise AssertionError("a chord of a region left the region: regions must be convex")
            gap_e = approx_loss(inst, W_D, W) - (t * L1 + (1 - t) * L2)
            gap_d = approx_loss(inst, t * W_D + (1 - t) * W_D2, W_E) - (t * K1 + (1 - t) * K2)
            scale = 1.0 + max(abs(L1), abs(L2), abs(K1), abs(K2))
            for g in (gap_e, gap_d):
                if g / scale > worst_chord:
                    worst_chord = g / scale
                    offending = {"W_E": W_E, "W_E2": W_E2, "W_D": W_D, "t": float(t), "gap": float(g),
                                 "pattern_1": P.to_json(), "pattern_2": read_pattern(inst, W_E2).to_json()}
            chords += 1
        mask = feature_selection(inst, W_E)
        h = _stable_step(inst, W_E, mask)
        if h is not None:
            fe = lambda x: approx_loss(inst, W_D, x.reshape(W_E.shape))  # noqa: E731
            fd = lambda x: approx_loss(inst, x.reshape(W_D.shape), W_E)  # noqa: E731
            for H in (_fd_hessian(fe, W_E.reshape(-1), h), _fd_hessian(fd, W_D.reshape(-1), 1e-3)):
                sc = 1.0 + np.abs(H).max()
                worst_eig = min(worst_eig, float(np.linalg.eigvalsh(H).min()) / sc)
                hessians += 1
    return {"chords": chords, "worst_chord_excess_rel": worst_chord, "hessians": hessians,
            "min_hessian_eig_rel": None if not np.isfinite(worst_eig) else worst_eig, "offending": offending}


def _dcp(inst: Instance, rng: np.random.Generator) -> bool | None:
    from sdlscape.solvers.blocks import DecoderBlock, EncoderBlock

    P = read_pattern(inst, rng.standard_normal((inst.n_latents, inst.n_p)))
    try:
        piece = Piece(inst, P, reading=inst.activation.linear_reading)
        return bool(DecoderBlock(piece).problem.is_dcp() and EncoderBlock(piece).problem.is_dcp())
    except Exception:  # noqa: BLE001 - a pattern the blocks reject says nothing about convexity
        return None


def check_thm3_2(name: str, ctx: Context, same_region: bool = True) -> ClaimResult:
    from sdlscape.theory.symbolic import block_hessian_gram_identity

    rng = np.random.default_rng(ctx.seed)
    n_points = 12 if ctx.full or ctx.instance is not None else 4
    tried, ev, worst, sym, dcp, bad = 0, [], 0.0, [], [], None
    min_eig = np.inf
    for act in user_activations(ctx, name):
        insts = [instance_for(ctx, act)] if ctx.instance is not None else \
            standard_family(act, ctx.full, ctx.seed)[: (None if ctx.full else 5)] + \
            list(random_draws(act, 8 if ctx.full else 2, ctx.seed))
        for inst in insts:
            tried += 1
            r = check_points(inst, rng, n_points, same_region)
            dcp.append(_dcp(inst, rng))
            ev.append({k: v for k, v in r.items() if k != "offending"} | {"instance": inst.name,
                                                                         "activation": str(act)})
            if r["min_hessian_eig_rel"] is not None:
                min_eig = min(min_eig, r["min_hessian_eig_rel"])
            if r["worst_chord_excess_rel"] > worst:
                worst = r["worst_chord_excess_rel"]
                if worst > TOL:
                    bad = (inst, r["offending"])
            if inst.n * inst.n_latents * inst.n_p <= 12 and len(sym) < (4 if ctx.full else 1):
                mask = feature_selection(inst, rng.standard_normal((inst.n_latents, inst.n_p)))
                s = block_hessian_gram_identity(inst.W_p, inst.W_r, inst.M, mask)
                sym.append({"instance": inst.name, "mask": mask.astype(int).tolist(), **s})
    evidence = {"searched": f"{n_points} random regions per instance, chords at 19 points, FD Hessians, "
                            f"{'same' if same_region else 'different (false variant)'} region chord ends",
                "worst_chord_excess_rel": worst, "min_hessian_eig_rel": None if not np.isfinite(min_eig) else min_eig,
                "dcp": dcp, "symbolic": sym, "per_instance": ev}
    sym_ok = all(s["convex_in_each_block"] for s in sym)
    if bad is not None or not sym_ok or (np.isfinite(min_eig) and min_eig < -1e-6) or False in dcp:
        inst, off = bad if bad is not None else (None, None)
        path = ctx.save_counterexample("thm3.2", name, inst) if inst is not None and same_region else None
        return ClaimResult("thm3.2", name, "fails", tried, evidence,
                           {"instance": path or (inst.name if inst else None),
                            "pattern": None if off is None else off["pattern_1"],
                            "why": f"convexity inequality violated by {worst:.3g} (relative) on a chord"
                            if bad is not None else "Hessian / symbolic / DCP test failed",
                            "chord": off}, {"chord_rel": TOL, "eig_rel": 1e-6})
    return ClaimResult("thm3.2", name, "holds", tried, evidence, None, {"chord_rel": TOL, "eig_rel": 1e-6})
