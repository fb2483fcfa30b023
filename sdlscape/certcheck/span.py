"""The subspace bound with an exact rank: phi(B) <= the top-d eigenvalues of G on a subspace T that
provably contains row(B), proven in exact and interval arithmetic (no rank decided by a tolerance).

Why exact ranks. Every code row of a piece is linear in its encoder row on the latent's feature set F:
a_i(w) = (w W_p restricted to F) D, so it lies in the *image* Im_F = row(W_p P_F) D, and the rows of a
node lie in the span of its vertex codes. Those spans are often exactly lower-dimensional than their
number of generators (two latents sharing the features on which they both fire give images that meet;
a vertex on a face has an exactly zero code there). A float SVD turns such an exact dependency into a
singular value of ~1e-17 whose direction is rounding noise; keeping it (the only sound choice for a
tolerance-based rank) makes the Ky Fan bound useless, dropping it is unsound. Here the rank is decided
exactly: the generators are rational (floats times floats), Gaussian elimination over fractions picks a
basis (columns with M = 0 dropped: D is invertible on the others, so rank(Y D) = rank(Y)).

The subspace T and its dimension budget d (every B of the node):
- a free row i: its vertex codes (a simplex part) or Im_f + Im_g (a blow-up part: its chart rows are
  combinations of the corner codes of both rows) -- one dimension per free row;
- every other latent (fixed, dead): Im_F of its feature set, whatever its encoder row (so the
  certificate's fixed rows need no trust); a group of c latents on one feature set adds min(c, rank Im_F).
row(B) is a subspace of T of dimension <= d, so phi(B) = tr(G Pi(B)) <= the sum of the top min(d, dim T)
eigenvalues of G on T (Ky Fan).

Evaluated rigorously: the basis Z of T (`Generators.basis`) is made exactly orthogonal by Gram-Schmidt
over fractions (M-weighted, so that the D-scaled rows are orthogonal) and enclosed in intervals; any
residual non-orthonormality is removed by an interval Cholesky factor R of N = Q^T Q (Q = Z^T X, X the
inverse of a float QR factor, upper triangular, so that the first j columns keep their span): P = Q R^-1
is exactly orthonormal, and H = R^-T (Q^T G Q) R^-1 encloses P^T G P. The bound is tr(H11) + the top-d
sum of H22 (blocked at the fixed part), the latter bounded by a dual certificate of the Ky Fan SDP: for Y
PSD with Y + t I - K PSD, sum_top_d(K) <= d t + tr Y (Y = V diag(lambda_i - t)_+ V^T from a float
eigendecomposition, Y + (t + eps) I - K proven positive definite by interval Cholesky).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from sdlscape.certcheck.intervals import Iv, _diag, cholesky_upper, inverse, matmul, positive_definite


def independent_rows(rows: list[list[Fraction]]) -> list[int]:
    """Indices of a maximal linearly independent subset of the rows (exact Gaussian elimination)."""
    basis: list[tuple[int, list[Fraction]]] = []
    keep: list[int] = []
    for idx, row in enumerate(rows):
        v = list(row)
        for piv, b in basis:
            if v[piv] != 0:
                f = v[piv] / b[piv]
                v = [x - f * y for x, y in zip(v, b)]
        nz = next((c for c, x in enumerate(v) if x != 0), None)
        if nz is not None:
            basis.append((nz, v))
            keep.append(idx)
    return keep


class Generators:
    """Rows spanning a subspace: exact (fractions, without D) for the rank, intervals (D-scaled) for the bound."""

    def __init__(self, W_p: np.ndarray, M: np.ndarray, D: Iv):
        self.W_p, self.M = W_p, M
        self.Wf = [[Fraction(float(x)) for x in row] for row in W_p]
        self.live = M > 0
        self.D = D
        self.exact: list[list[Fraction]] = []
        self.rows: list[Iv] = []

    def _mask(self, F) -> np.ndarray:
        m = np.zeros(self.W_p.shape[1], dtype=bool)
        m[list(F)] = True
        return m & self.live

    def code(self, w, F) -> tuple[list[Fraction], Iv]:
        """The exact code row of encoder row w on F (no D) and its D-scaled interval."""
        m = self._mask(F)
        wf = [Fraction(float(x)) for x in w]
        ex = [sum((wf[j] * self.Wf[j][d] for j in range(len(wf))), Fraction(0)) if m[d] else Fraction(0)
              for d in range(len(m))]
        z = matmul(Iv(np.asarray(w, dtype=float)[None, :]), Iv(self.W_p))[0]
        return ex, z * Iv(m.astype(float)) * self.D

    def add_code(self, w, F) -> None:
        ex, iv_row = self.code(w, F)
        self.exact.append(ex)
        self.rows.append(iv_row)

    def add_image(self, F) -> None:
        """The n_p generators of Im_F (the rows of W_p on F)."""
        m = self._mask(F)
        for j in range(self.W_p.shape[0]):
            self.exact.append([self.Wf[j][d] if m[d] else Fraction(0) for d in range(len(m))])
            self.rows.append(Iv(np.where(m, self.W_p[j], 0.0)) * self.D)

    def basis(self, split: int = 0) -> Iv | None:
        """A basis of the span (intervals, D-scaled, rows orthonormal up to rounding): the exact pivots, the
        first `split` generators' first, made exactly orthogonal in the M-weighted inner product (Gram-Schmidt
        over fractions: the first j rows keep their span, and the D-scaled rows are orthogonal), each then
        scaled by a float ~ 1 / its norm. Ill-conditioned generators (two features 1e-7 rad apart) cost nothing."""
        head = independent_rows(self.exact[:split])
        keep = head + [split + i for i in independent_rows_after(self.exact[:split], self.exact[split:])]
        if not keep:
            return None
        Mf = [Fraction(float(x)) for x in self.M]
        U: list[list[Fraction]] = []
        norms: list[Fraction] = []
        for i in keep:
            u = list(self.exact[i])
            for v, vv in zip(U, norms):
                c = sum((a * b * m for a, b, m in zip(u, v, Mf)), Fraction(0)) / vv
                if c:
                    u = [a - c * b for a, b in zip(u, v)]
            U.append(u)
            norms.append(sum((a * a * m for a, m in zip(u, Mf)), Fraction(0)))
        lo, hi = [], []
        for u, nn in zip(U, norms):
            f = np.array([float(x) for x in u])                 # correctly rounded: within half an ulp
            scale = Iv(1.0 / np.sqrt(float(nn)))
            row = Iv(np.nextafter(f, -np.inf), np.nextafter(f, np.inf)) * scale * self.D
            lo.append(row.lo)
            hi.append(row.hi)
        return Iv(np.stack(lo), np.stack(hi))


def independent_rows_after(first: list[list[Fraction]], rows: list[list[Fraction]]) -> list[int]:
    """Indices (into rows) of rows that extend a basis of span(first) to a basis of span(first + rows)."""
    n0 = len(independent_rows(first))
    keep = independent_rows([first[i] for i in independent_rows(first)] + rows)
    return [i - n0 for i in keep[n0:]]


def image_rank(W_p: np.ndarray, M: np.ndarray, F) -> int:
    g = Generators(W_p, M, Iv(np.ones(W_p.shape[1])))
    g.add_image(F)
    return len(independent_rows(g.exact))


def _trace(A: Iv) -> Iv:
    return (A * Iv(np.eye(A.lo.shape[0]))).sum()


def kyfan_upper(K: Iv, d: int) -> float:
    """An upper bound on the sum of the d largest eigenvalues of every symmetric matrix in K."""
    r = K.lo.shape[0]
    if d >= r:
        return float(_trace(K).hi)
    lam, V = np.linalg.eigh(0.5 * (K.lo + K.hi))
    lam, V = lam[::-1], V[:, ::-1]
    t = float(lam[d])
    c = np.maximum(lam[:d] - t, 0.0)
    Vd = Iv(V[:, :d])
    Y = matmul(matmul(Vd, _diag(Iv(c))), Vd.T)
    scale = max(float(np.abs(lam).max()), 1e-300)
    for rel in 1e-15 * 4.0 ** np.arange(16):               # 1e-15 .. 1e-6
        te = t + rel * scale
        if positive_definite(Y + Iv(te * np.eye(r)) - K):
            return float((Iv(float(d)) * Iv(te) + _trace(Y)).hi)
    return float(_trace(K).hi)


def orthonormal_compression(G: Iv, Z: Iv) -> Iv | None:
    """H enclosing P^T G P for an exactly orthonormal basis P of row(Z) whose first j columns span the
    first j rows of Z (every j): P = Z^T X R^-1, X = the inverse of a float QR factor of Z^T (upper
    triangular), R the interval Cholesky factor of N = (Z^T X)^T (Z^T X). None if R is not proven."""
    Zm = 0.5 * (Z.lo + Z.hi)
    _, Rf = np.linalg.qr(Zm.T)
    if not np.all(np.abs(np.diag(Rf)) > 0):
        return None
    X = np.linalg.inv(Rf)
    X = np.triu(X)
    Q = matmul(Z.T, Iv(X))
    R = cholesky_upper(matmul(Q.T, Q))
    if R is None:
        return None
    try:
        Ri = inverse(R)
    except ZeroDivisionError:
        return None
    Ri = Iv(np.triu(Ri.lo), np.triu(Ri.hi))      # the inverse of an upper triangular matrix is upper triangular
    K = matmul(matmul(Q.T, G), Q)
    return matmul(matmul(Ri.T, K), Ri)


def kyfan_on_span(G: Iv, Z: Iv | None, f0: int, d: int, cap: float) -> float:
    """An upper bound on tr(G Pi(W)) over every subspace W of row(Z) (Z: an exact basis) that contains the span
    of Z's first f0 rows and has at most f0 + d dimensions: tr(H11) + the top-d sum of H22 (H blocked at f0).
    cap: a known bound (tr G) returned when the evaluation cannot be proven."""
    if Z is None:
        return 0.0
    H = orthonormal_compression(G, Z)
    if H is None:
        return cap
    r = H.lo.shape[0]
    head = float(_trace(H[:f0, :f0]).hi) if f0 else 0.0
    tail = kyfan_upper(H[f0:, f0:], d) if r > f0 and d > 0 else 0.0
    return min(float((Iv(head) + Iv(max(tail, 0.0))).hi), cap)
