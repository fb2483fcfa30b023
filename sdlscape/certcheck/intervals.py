"""Interval arrays with outward rounding (numpy): every operation widened by one ulp each way.

IEEE round-to-nearest errs by at most half an ulp, so the widened result contains the exact one.
"""
from __future__ import annotations

import numpy as np


def _dn(x):
    return np.nextafter(x, -np.inf)


def _up(x):
    return np.nextafter(x, np.inf)


class Iv:
    """An array of intervals [lo, hi]; every operation rounds outward by one ulp."""

    def __init__(self, lo, hi=None):
        self.lo = np.asarray(lo, dtype=float)
        self.hi = self.lo if hi is None else np.asarray(hi, dtype=float)

    def __add__(self, o):
        o = _iv(o)
        return Iv(_dn(self.lo + o.lo), _up(self.hi + o.hi))

    def __sub__(self, o):
        o = _iv(o)
        return Iv(_dn(self.lo - o.hi), _up(self.hi - o.lo))

    def __mul__(self, o):
        o = _iv(o)
        p = np.stack(np.broadcast_arrays(self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi))
        return Iv(_dn(p.min(axis=0)), _up(p.max(axis=0)))

    def recip(self):
        if np.any((self.lo <= 0) & (self.hi >= 0)):
            raise ZeroDivisionError("interval contains 0")
        return Iv(_dn(1.0 / self.hi), _up(1.0 / self.lo))

    def __getitem__(self, k):
        return Iv(self.lo[k], self.hi[k])

    @property
    def T(self):
        return Iv(self.lo.T, self.hi.T)

    def sum(self, axis=None):
        lo, hi = np.moveaxis(self.lo, axis, 0) if axis is not None else self.lo.ravel(), \
            np.moveaxis(self.hi, axis, 0) if axis is not None else self.hi.ravel()
        acc = Iv(lo[0], hi[0])
        for j in range(1, lo.shape[0]):
            acc = acc + Iv(lo[j], hi[j])
        return acc

    def sqrt(self):
        return Iv(_dn(np.sqrt(np.maximum(self.lo, 0.0))), _up(np.sqrt(self.hi)))


def _iv(x) -> Iv:
    return x if isinstance(x, Iv) else Iv(x)


def matmul(A: Iv, B: Iv) -> Iv:
    A, B = _iv(A), _iv(B)
    acc = A[:, 0:1] * B[0:1, :]
    for k in range(1, A.lo.shape[1]):
        acc = acc + A[:, k:k + 1] * B[k:k + 1, :]
    return acc


def inverse(A: Iv) -> Iv:
    """Gauss-Jordan without pivoting (A symmetric positive definite): raises if a pivot contains 0."""
    n = A.lo.shape[0]
    M = Iv(A.lo.copy(), A.hi.copy())
    X = Iv(np.eye(n), np.eye(n))
    for j in range(n):
        r = M[j, j].recip()
        Mj, Xj = M[j:j + 1, :] * r, X[j:j + 1, :] * r
        M = Iv(M.lo.copy(), M.hi.copy())
        X = Iv(X.lo.copy(), X.hi.copy())
        for i in range(n):
            if i == j:
                continue
            f = M[i, j]
            Mi, Xi = M[i:i + 1, :] - Mj * f, X[i:i + 1, :] - Xj * f
            M.lo[i], M.hi[i], X.lo[i], X.hi[i] = Mi.lo[0], Mi.hi[0], Xi.lo[0], Xi.hi[0]
        M.lo[j], M.hi[j], X.lo[j], X.hi[j] = Mj.lo[0], Mj.hi[0], Xj.lo[0], Xj.hi[0]
    return X


def cholesky_upper(A: Iv) -> Iv | None:
    """Interval Cholesky A = R^T R (R upper triangular) enclosing the factor of every symmetric matrix in A;
    None when a pivot is not proven positive."""
    n = A.lo.shape[0]
    R = [[Iv(0.0)] * n for _ in range(n)]
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d = d - R[k][j] * R[k][j]
        if not d.lo > 0:
            return None
        R[j][j] = d.sqrt()
        inv = R[j][j].recip()
        for i in range(j + 1, n):
            x = A[j, i]
            for k in range(j):
                x = x - R[k][j] * R[k][i]
            R[j][i] = x * inv
    return Iv(np.array([[float(R[i][j].lo) for j in range(n)] for i in range(n)]),
              np.array([[float(R[i][j].hi) for j in range(n)] for i in range(n)]))


def positive_definite(A: Iv) -> bool:
    """Interval Cholesky: True proves every symmetric matrix in A positive definite."""
    return cholesky_upper(A) is not None


def spectral_norm_bound(G: Iv) -> float:
    """An upper bound on ||G||_2 (G symmetric PSD): lam Iv - G proven positive definite (interval Cholesky),
    lam slightly above the float estimate; else the Frobenius norm."""
    mid = 0.5 * (G.lo + G.hi)
    est = float(np.linalg.eigvalsh(mid).max())
    n = mid.shape[0]
    for factor in (1 + 1e-12, 1 + 1e-9, 1 + 1e-6):
        lam = est * factor + 1e-300
        if positive_definite(Iv(lam * np.eye(n)) - G):
            return lam
    return float(np.sqrt(np.maximum(G.lo ** 2, G.hi ** 2).sum()) * (1 + 1e-12))


def _diag(d: Iv) -> Iv:
    n = d.lo.shape[0]
    lo, hi = np.zeros((n, n)), np.zeros((n, n))
    lo[np.arange(n), np.arange(n)], hi[np.arange(n), np.arange(n)] = d.lo, d.hi
    return Iv(lo, hi)


