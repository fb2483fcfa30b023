"""Thm 3.1's estimator of L_SDL, independent of the formula under test, and the decision of one point.

Exact support probabilities; one-feature supports integrated numerically with the activation itself (midpoint
rule, with a bound on its error at the activation's jumps); larger supports by Monte Carlo (95% CI); C bracketed
by the largest error seen (C_lo) and a proven upper bound (C_hi). See verify/thm3_1.py for the statement.
"""
from __future__ import annotations

import itertools
import math
from enum import Enum

import numpy as np

from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_residuals, exact_sample_errors
from sdlscape.verify.thm3_1_laws import HI, LO, SupportLaw

QUAD_POINTS = 20001
ROUNDOFF_REL = 1e-12  # floating-point error allowed on a loss estimate (relative to max(1, L))


class PointVerdict(str, Enum):
    VIOLATED = "violated"
    SATISFIED = "satisfied"
    UNDECIDED = "undecided"


def c_upper(inst: Instance, W_D, W_E, max_support: int) -> float:
    """C <= |T|max hi^2 (||W_r|| + ||W_D|| ||W_E W_p||)^2 (spectral norms; ||sigma(z)|| <= ||z|| by eq. 10)."""
    nW = lambda A: float(np.linalg.norm(A, 2))
    return max_support * HI * HI * (nW(inst.W_r) + nW(W_D) * nW(W_E @ inst.W_p)) ** 2


def approx_loss_weighted(inst: Instance, W_D, W_E, M: np.ndarray) -> float:
    """eq. 11 with the law's weights M_d (which may be 0: a feature that never fires alone)."""
    R = approx_residuals(inst, W_D, W_E)
    return float(np.sum(M * np.sum(R * R, axis=0)))


def one_feature_closed_form(inst: Instance, W_D, W_E, law: SupportLaw) -> float:
    """L1 in closed form: on each magnitude interval between switching points (theta / z_i for a
    separable threshold; none for positively homogeneous sigma) sigma(x z) passes a fixed set, and the
    error x^2 ||w_r^d - W_D (s * z)||^2 integrates exactly."""
    act, total = inst.activation, 0.0
    for d in range(inst.n):
        pd = law.prob(lambda T, d=d: T == frozenset({d}))
        if pd == 0:
            continue
        z = W_E @ inst.W_p[:, d]
        cuts = [LO, HI]
        if not act.positively_homogeneous:
            cuts += [act.threshold / zi for zi in z if zi > 0 and LO < act.threshold / zi < HI]
        cuts = sorted(set(cuts))
        for a, b in itertools.pairwise(cuts):
            s = act.passes((a + b) / 2 * z)
            r = inst.W_r[:, d] - W_D @ np.where(s, z, 0.0)
            total += pd * float(r @ r) * (b ** 3 - a ** 3) / 3.0 / (HI - LO)
    return total


def estimate_exact_loss(inst: Instance, W_D, W_E, law: SupportLaw, mc: int, rng: np.random.Generator) -> dict:
    """L_SDL by exact support probabilities: singletons by the midpoint rule with sigma itself, larger
    supports by Monte Carlo. `half` = 95% CI half-width + the midpoint rule's error bound."""
    u = LO + (HI - LO) * (np.arange(QUAD_POINTS) + 0.5) / QUAD_POINTS
    one = multi = var = c_seen = quad_err = 0.0
    max_support = max((len(T) for T, p in law.supports if p > 0), default=1)
    c_hi = c_upper(inst, W_D, W_E, max(1, max_support))
    for T, p in law.supports:
        if not T or p == 0:
            continue
        if len(T) == 1:
            (d,) = T
            X = np.zeros((QUAD_POINTS, inst.n))
            X[:, d] = u
            e = exact_sample_errors(inst, W_D, W_E, X)
            one += p * float(e.mean())
            # midpoint rule error: on a piece where sigma passes a fixed set the integrand is c u^2
            # (c = e / u^2 at any grid point of the piece), error <= (hi-lo)^2 h^2 / 24 max|f''|; where
            # sigma switches the integrand jumps between c_left u^2 and c_right u^2: at most two
            # half-cells of max(c) u^2 each
            z = W_E @ inst.W_p[:, d]
            masks = inst.activation.passes(u[:, None] * z[None, :], axis=-1)
            c = e / (u * u)
            ks = np.flatnonzero(np.any(masks[1:] != masks[:-1], axis=1))
            jump = float(np.sum(np.maximum(c[ks], c[ks + 1]) * u[ks + 1] ** 2)) * 2.0 / QUAD_POINTS
            smooth = (HI - LO) ** 2 / (24.0 * QUAD_POINTS ** 2) * 2.0 * float(np.max(c))
            quad_err += p * (jump + smooth)
            c_seen = max(c_seen, float(e.max()))
            continue
        T = sorted(T)
        X = np.zeros((mc, inst.n))
        X[:, T] = LO + (HI - LO) * rng.random((mc, len(T)))
        corners = np.zeros((2 ** len(T), inst.n))
        corners[:, T] = np.array(list(itertools.product((LO, HI), repeat=len(T))))
        e = exact_sample_errors(inst, W_D, W_E, X)
        c_seen = max(c_seen, float(e.max()), float(exact_sample_errors(inst, W_D, W_E, corners).max()))
        multi += p * float(e.mean())
        var += p * p * float(e.var(ddof=1)) / mc
    return {"L_SDL": one + multi, "one_feature_term": one, "multi_term": multi,
            "half": 1.96 * math.sqrt(var) + quad_err, "roundoff": ROUNDOFF_REL * max(1.0, one + multi),
            "quadrature_error_bound": quad_err, "C_lo": c_seen, "C_hi": c_hi}


def decide_bound(diff: float, half: float, bound_lo: float, bound_hi: float, tol: float = 0.0) -> PointVerdict:
    """|diff| vs a bound known to lie in [bound_lo, bound_hi], diff known within +-half, comparisons
    within the floating-point tolerance tol."""
    if abs(diff) - half > bound_hi + tol:
        return PointVerdict.VIOLATED
    if abs(diff) + half <= bound_lo + tol:
        return PointVerdict.SATISFIED
    return PointVerdict.UNDECIDED


def decide(inst: Instance, W_D, W_E, law: SupportLaw, mc: int, rng, *, corrected: bool = False,
           bound_factor: float = 1.0) -> dict:
    """One case (instance, law, point): the estimate of L_SDL against eq. 12 (or the corrected bound)."""
    n, p = inst.n, law.one_minus_S
    est = estimate_exact_loss(inst, W_D, W_E, law, mc, rng)
    if corrected:
        ref = (approx_loss_weighted(inst, W_D, W_E, law.weights()) if inst.activation.positively_homogeneous
               else one_feature_closed_form(inst, W_D, W_E, law))
        coeff = bound_factor * n * (n - 1) / 2 * p * p
    else:
        ref = approx_loss_weighted(inst, W_D, W_E, law.weights())
        coeff = bound_factor * n * n * p * p
    diff = est["L_SDL"] - ref
    verdict = decide_bound(diff, est["half"], coeff * est["C_lo"], coeff * est["C_hi"], est["roundoff"])
    return {"law": law.name, "p_active": p, "hypothesis_H": law.satisfies_H, "max_cofire": law.max_cofire,
            "reference": ref, "diff": diff, "bound_with_C_lo": coeff * est["C_lo"],
            "bound_with_C_hi": coeff * est["C_hi"], "ratio_to_bound_hi": abs(diff) / max(coeff * est["C_hi"], 1e-300),
            **est, "verdict": verdict}
