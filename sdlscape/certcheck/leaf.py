"""One leaf's bound on phi(B) = tr(G Pi(B)), recomputed from the certificate's data (see the package docstring)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdlscape.certcheck.intervals import Iv, _diag, _dn, inverse, matmul, positive_definite, spectral_norm_bound

SUBSPACE_ALLOWANCE = 1e-12


@dataclass
class Data:
    W_p: np.ndarray
    W_r: np.ndarray
    M: np.ndarray
    threshold: float

    @classmethod
    def of(cls, inst: dict) -> Data:
        W_p = np.asarray(inst["W_p"], dtype=float)
        W_r = np.asarray(inst.get("W_r", W_p) if inst.get("W_r") is not None else W_p, dtype=float)
        M = np.asarray(inst.get("M") if inst.get("M") is not None else np.ones(W_p.shape[1]), dtype=float)
        act = inst.get("activation", {})
        return cls(W_p, W_r, M, float(act.get("theta", 0.0) or 0.0) if act.get("name") == "jumprelu" else 0.0)

    def D(self) -> Iv:
        return Iv(self.M).sqrt()

    def G(self) -> Iv:
        R = matmul(Iv(self.W_r), _diag(self.D()))
        return matmul(R.T, R)

    def code(self, w: np.ndarray, features: list[int]) -> Iv:
        """The D-scaled code row of encoder row w (exact float data) on the passed features."""
        z = matmul(Iv(np.asarray(w, dtype=float)[None, :]), Iv(self.W_p))[0]
        mask = np.zeros(self.W_p.shape[1])
        mask[features] = 1.0
        return z * Iv(mask) * self.D()


# -- one leaf's bound -----------------------------------------------------------------------------

def _mean(V: Iv) -> Iv:
    return V.sum(axis=0) * Iv(float(V.lo.shape[0])).recip()


def _stack(rows: list[Iv]) -> Iv:
    return Iv(np.stack([r.lo for r in rows]), np.stack([r.hi for r in rows]))


def perturbation_bound(G: Iv, cG: float, fixed: list[Iv], free: list[Iv]) -> float:
    """bounds.py's bound 1 over the full code matrix, in intervals (inf when it does not apply)."""
    centres = [_mean(V) for V in free]
    rows = fixed + centres
    if not rows:
        return 0.0
    C = _stack(rows)
    K = len(rows)
    A = matmul(C, C.T)
    try:
        Ai = inverse(A)
    except ZeroDivisionError:
        return np.inf
    H = matmul(matmul(C, G), C.T)
    phi = (Ai * H.T).sum()
    Mt = matmul(C.T, Ai)
    gmat = (matmul(G, Mt) - matmul(Mt, matmul(H, Ai))) * Iv(2.0)
    lin, e2 = Iv(0.0), Iv(0.0)
    for i, V in enumerate(free):
        g = gmat[:, len(fixed) + i]
        D = V - Iv(centres[i].lo[None, :], centres[i].hi[None, :])
        dots = (D * Iv(g.lo[None, :], g.hi[None, :])).sum(axis=1)
        lin = lin + Iv(max(float(dots.hi.max()), 0.0))
        e2 = e2 + Iv(float((D * D).sum(axis=1).hi.max()))
    mid = 0.5 * (A.lo + A.hi)
    lam = float(np.linalg.eigvalsh(mid).min())
    if not lam > 0:
        return np.inf
    for factor in [1 - 10.0 ** -j for j in range(13, 0, -1)] + [0.5]:   # the largest s^2 = factor lam proven
        mu = factor * lam
        if positive_definite(A - Iv(mu * np.eye(K))):
            break
    else:
        return np.inf
    s = float(_dn(np.sqrt(_dn(mu))))
    e = float(e2.sqrt().hi)
    if not e < s:
        return np.inf
    gap = Iv(s) - Iv(e)
    rem = Iv(3.0) * Iv(cG) * e2 * (gap * gap).recip()
    return float((phi + lin + rem).hi)


def subspace_bound(G: np.ndarray, trG: float, fixed: list[Iv], free: list[Iv]) -> float:
    """phi(fixed span) + the top-k eigenvalues of G, projected off the fixed span, on the span of the free
    rows' vertex codes (Ky Fan; floats, with the allowance SUBSPACE_ALLOWANCE tr G (dims + 1))."""
    n = G.shape[0]
    F = np.vstack([0.5 * (r.lo + r.hi)[None, :] for r in fixed]) if fixed else np.zeros((0, n))
    X = np.vstack([0.5 * (V.lo + V.hi) for V in free]) if free else np.zeros((0, n))
    U0 = _basis(F, 1e-13)
    Q = _complement(U0, n)
    phi0 = float(np.trace(U0.T @ G @ U0))
    B = _basis(X @ Q, 0.0).T if X.size else np.zeros((0, Q.shape[1]))
    top = np.linalg.eigvalsh(B @ (Q.T @ G @ Q) @ B.T)[::-1] if B.shape[0] else np.zeros(0)
    return phi0 + float(np.sum(top[:len(free)])) + SUBSPACE_ALLOWANCE * trG * (1 + len(fixed) + len(free) + B.shape[0])


def _basis(X: np.ndarray, rel: float) -> np.ndarray:
    """Orthonormal basis (columns) of the row span of X (singular values above rel * the largest; rel = 0
    keeps every non-zero direction: dropping one could lose a direction of the span)."""
    n = X.shape[1]
    cols = np.flatnonzero(np.any(X != 0, axis=0))     # structural zeros: the span lies in the other coordinates
    if X.size == 0 or cols.size == 0:
        return np.zeros((n, 0))
    _, sv, Vt = np.linalg.svd(X[:, cols], full_matrices=False)
    B = np.zeros((n, 0))
    keep = Vt[:int(np.sum(sv > max(rel * sv.max(), 1e-300)))]
    B = np.zeros((n, keep.shape[0]))
    B[cols] = keep.T
    return B


def _complement(U: np.ndarray, n: int) -> np.ndarray:
    if U.shape[1] == 0:
        return np.eye(n)
    Uf, _, _ = np.linalg.svd(U, full_matrices=True)
    return Uf[:, U.shape[1]:]


def _part_codes(data: Data, p: dict, feats: list[list[int]], lat: list[int]) -> dict[int, Iv]:
    if p["kind"] == "simplex":
        j = p["row"]
        rows = [data.code(w, feats[lat[j]]) for w in p["W"]]
        return {j: _stack(rows)}
    f, g, mu = p["f"], p["g"], float(p["mu"])
    a = data.code(p["wf"], feats[lat[f]])
    df = data.code(p["dwf"], feats[lat[f]])
    dg = data.code(p["dwg"], feats[lat[g]])
    r0, r1, t0, t1 = p["box"]
    c1 = [a + df * (Iv(r) * Iv(t)) for r in (r0, r1) for t in (t0, t1)]
    c2 = [dg - df * (Iv(mu) * Iv(r)) for r in (r0, r1)]
    return {f: _stack(c1), g: _stack(c2)}


class _Reduced:
    """The fixed rows' span taken out (floats): U0 an orthonormal basis of the fixed codes, Q of its
    complement; phi(B) = tr(U0^T G U0) + tr(Q^T G Q Pi(Q^T B_free)) up to the stated allowance
    trG * 64 (n + K + 1) u (2 + kappa_fixed) (as bounds.rounding_allowance). Without fixed rows, Q = Iv and
    the allowance is 0 (then everything below is interval arithmetic)."""

    def __init__(self, G: Iv, trG: float, fixed: list[Iv], cG_of):
        n = G.lo.shape[0]
        self.cG_of = cG_of
        if not fixed:
            self.G, self.phi0, self.allow, self.Q = G, 0.0, 0.0, None
            return
        F = np.vstack([0.5 * (r.lo + r.hi)[None, :] for r in fixed])
        U0 = _basis(F, 1e-13)
        Q = _complement(U0, n)
        sv = np.linalg.svd(F, compute_uv=False)
        sv = sv[sv > 1e-13 * sv.max()]
        kappa = float(sv.max() / sv.min())
        self.Q = Q
        self.G = matmul(matmul(Iv(Q.T), G), Iv(Q))
        self.phi0 = float((matmul(matmul(Iv(U0.T), G), Iv(U0)) * Iv(np.eye(U0.shape[1]))).sum().hi)
        self.allow = trG * 64 * (n + len(fixed) + 1) * 2 ** -53 * (2 + kappa)
        tr_r, norm_r = float((self.G * Iv(np.eye(Q.shape[1]))).sum().hi), spectral_norm_bound(self.G)
        self.cG_of = lambda k: min(tr_r, k * norm_r)

    def perturbation(self, free: list[Iv]) -> float:
        if self.Q is not None:
            free = [matmul(V, Iv(self.Q)) for V in free]
        return self.phi0 + perturbation_bound(self.G, self.cG_of(len(free)), [], free) + self.allow


