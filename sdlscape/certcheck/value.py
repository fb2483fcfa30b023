"""The value of a certificate: L~ (eq. 11) at its recorded interior point, in mpmath.iv.

53 bits; where that interval is wider than WIDE_REL (relative) -- nearly parallel code rows with a huge W_D, at
a minimum reached only in the limit of a rank drop -- the same sum at HIGH_PREC bits, and the narrower of the
two (both enclose L~).
"""
from __future__ import annotations

import numpy as np
from mpmath import iv

WIDE_REL = 1e-12
HIGH_PREC = 113


def loss_interval(data, W_E, W_D, pattern) -> object:
    """L~ at (W_E, W_D) in mpmath.iv (eq. 11; the passed codes are the pattern's); see the module docstring."""
    val = _loss(data, W_E, W_D, pattern)
    if val.b - val.a <= WIDE_REL * abs(val.b):
        return val
    old = iv.prec
    try:
        iv.prec = HIGH_PREC
        fine = _loss(data, W_E, W_D, pattern)
    finally:
        iv.prec = old
    return fine if fine.b - fine.a < val.b - val.a else val


def _loss(data, W_E, W_D, pattern) -> object:
    W_E, W_D = np.asarray(W_E, dtype=float), np.asarray(W_D, dtype=float)
    total = iv.mpf(0)
    for d in range(data.W_p.shape[1]):
        z = []
        for i, F in enumerate(pattern):
            if d in F:
                s = iv.mpf(0)
                for j in range(data.W_p.shape[0]):
                    s += iv.mpf(float(W_E[i, j])) * iv.mpf(float(data.W_p[j, d]))
                z.append((i, s))
        col = iv.mpf(0)
        for r in range(data.W_r.shape[0]):
            res = iv.mpf(float(data.W_r[r, d]))
            for i, s in z:
                res -= iv.mpf(float(W_D[r, i])) * s
            col += res * res
        total += iv.mpf(float(data.M[d])) * col
    return total
