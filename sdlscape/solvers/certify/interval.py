"""The final comparison in interval arithmetic (mpmath.iv, outward rounding at 53 bits).

The value of a certificate is L~ (eq. 11) evaluated in intervals at an interior (W_E, W_D): its upper
end is a rigorous upper bound on min L~. The lower bound is ||R||_F^2 (in intervals) minus the float
upper bounds on the captured energy (which already carry bounds.rounding_allowance). "certified" is
decided on the interval ends: value_hi - lower_lo <= rtol * value_lo + atol.
"""
from __future__ import annotations

import numpy as np
from mpmath import iv, mpf

from sdlscape.theory.instance import Instance


def _iv(x: float):
    return iv.mpf(float(x))


WIDE_REL = 1e-12
"""A value interval wider than this (relative) is recomputed at HIGH_PREC bits."""
HIGH_PREC = 113


def loss_interval(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray):
    """L~(W_D, W_E) = sum_d M_d || w_r^d - W_D (mask * (W_E W_p))_d ||^2 as an mpmath interval (53 bits; where that
    interval is wider than WIDE_REL, e.g. nearly parallel code rows with a huge W_D near a rank drop, the
    narrower of it and the same sum at HIGH_PREC bits: both enclose L~)."""
    val = _loss_interval(inst, W_D, W_E, mask)
    if val.b - val.a <= WIDE_REL * abs(val.b):
        return val
    old = iv.prec
    try:
        iv.prec = HIGH_PREC
        fine = _loss_interval(inst, W_D, W_E, mask)
    finally:
        iv.prec = old
    return fine if fine.b - fine.a < val.b - val.a else val


def _loss_interval(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray):
    W_D, W_E = np.asarray(W_D, dtype=float), np.asarray(W_E, dtype=float)
    q, n_p = W_E.shape
    total = iv.mpf(0)
    for d in range(inst.n):
        z = []
        for i in range(q):
            if mask[i, d]:
                s = iv.mpf(0)
                for j in range(n_p):
                    s += _iv(W_E[i, j]) * _iv(inst.W_p[j, d])
                z.append((i, s))
        col = iv.mpf(0)
        for r in range(inst.n_r):
            res = _iv(inst.W_r[r, d])
            for i, s in z:
                res -= _iv(W_D[r, i]) * s
            col += res * res
        total += _iv(inst.M[d]) * col
    return total


def energy_interval(inst: Instance):
    """||R||_F^2 = sum_d M_d ||w_r^d||^2 as an interval."""
    total = iv.mpf(0)
    for d in range(inst.n):
        col = iv.mpf(0)
        for r in range(inst.n_r):
            col += _iv(inst.W_r[r, d]) ** 2
        total += _iv(inst.M[d]) * col
    return total


def lower_bound_interval(inst: Instance, phi_upper: float):
    """||R||^2 - phi_upper in intervals (phi_upper: a float upper bound on the captured energy)."""
    return energy_interval(inst) - _iv(phi_upper)


def zero():
    return iv.mpf(0)


def lo(x) -> float:
    """The lower end of an interval, as a float rounded down (an end of more than 53 bits is rounded outward)."""
    f = float(mpf(x.a))
    return float(np.nextafter(f, -np.inf)) if mpf(f) > x.a else f


def hi(x) -> float:
    f = float(mpf(x.b))
    return float(np.nextafter(f, np.inf)) if mpf(f) < x.b else f


def gap_meets(value, lower, rtol: float, atol: float) -> bool:
    """value_hi - lower_lo <= rtol * max(value_lo, 0) + atol, decided in intervals."""
    gap = iv.mpf(value.b) - iv.mpf(lower.a)
    thresh = _iv(rtol) * iv.mpf(max(mpf(value.a), mpf(0))) + _iv(atol)
    return bool(gap.b <= thresh.a)
