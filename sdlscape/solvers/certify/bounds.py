"""Upper bounds on the captured energy phi(B) = tr(G Pi(B)) over a node of free rows (CERTIFY.md sec. 2).

A node is one simplex per free row (its vertices are reduced code rows, V_i: n_v x m). Every B in the
node has rows b_i in conv(V_i). Two bounds on sup phi over the node:

1. Perturbation bound. Let C = B(c) (rows at the simplices' centroids), full row rank k with smallest
   singular value s, and E = B - C, ||E||_2 <= ||E||_F <= e = sqrt(sum_i e_i^2), e_i = max_v ||V_iv - c_i||.
   Along f(x) = phi(C + xE), x in [0, 1], with P = Pi, B^+ the pseudo-inverse:
       f'(x)  = 2 tr(G B^+ E P_perp)                                (d Pi = B^+ dB P_perp + transpose)
       f''(x) = 2 tr(G dB^+ E P_perp) - 2 tr(G B^+ E dPi),
   with ||dB^+|| <= 2 ||E|| / s(x)^2 (d B^+ = -B^+ E B^+ + P_perp E^T (BB^T)^-1 for full row rank)
   and ||dPi|| <= ||E|| / s(x) (the two terms have orthogonal ranges). Each product has rank <= k, so
   |tr(G Y)| <= c_G ||Y||_2 with c_G = min(tr G, k ||G||_2). Weyl: s(x) >= s - e. Hence
       phi(B) <= phi(C) + sum_i max_v <g_i, V_iv - c_i> + 3 c_G e^2 / (s - e)^2,   valid when e < s,
   g_i = 2 P_perp G B^+ e_i the gradient with respect to row i (linear in B - C: its max over the
   simplex is at a vertex).
2. Subspace bound (always valid): every b_i lies in V = span of all the node's vertices, so row(B) is a
   subspace of V of dimension <= k, and phi(B) <= the sum of the top min(k, dim V) eigenvalues of G on
   V (Ky Fan). In floats the basis of V is the SVD's, whose error grows with the vertices' condition
   (near-parallel codes); `_span_error` bounds what that error can hide (a direction whose singular value
   is at rounding level costs lambda_max(G)), so the bound holds for the exact span.

Floating point: each bound is raised by `rounding_allowance`, a stated bound on the error of the
computed quantities: the SVD is backward stable (the computed singular vectors are exact for a B + dB
with ||dB|| <= p u ||B||, p = CERTIFY_ROUNDING_FACTOR (m + k)), which moves Pi by <= p u kappa(B) and
phi by <= tr(G) p u kappa(B); the traces and products add <= tr(G) p u.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdlscape import numerics

UNIT_ROUNDOFF = float(np.finfo(float).eps) / 2


@dataclass(frozen=True, kw_only=True)
class PointValue:
    """phi at one point B (k x m) and what the perturbation bound needs."""

    phi: float
    sigma_min: float
    sigma_max: float
    grad: np.ndarray | None          # (k x m): row i is g_i; None when B is rank deficient
    rank: int


def captured_energy(B: np.ndarray, G: np.ndarray, rank_tol: float = numerics.RANK_REL) -> PointValue:
    """phi(B) = tr(G Pi(B)) with Pi onto the numerical row space of B (k x m), and the row gradients."""
    k, m = B.shape
    if k == 0:
        return PointValue(phi=0.0, sigma_min=np.inf, sigma_max=0.0, grad=np.zeros((0, m)), rank=0)
    U, sv, Vt = np.linalg.svd(B, full_matrices=False)
    smax = float(sv[0]) if sv.size else 0.0
    r = int(np.sum(sv > rank_tol * max(smax, 1e-300)))
    V = Vt[:r].T
    phi = float(np.trace(V.T @ G @ V))
    if r < k:
        return PointValue(phi=phi, sigma_min=0.0 if r < k else float(sv[-1]), sigma_max=smax, grad=None, rank=r)
    Bpinv = V @ np.diag(1.0 / sv[:r]) @ U[:, :r].T                       # m x k
    Pperp = np.eye(m) - V @ V.T
    grad = (2.0 * Pperp @ G @ Bpinv).T                                   # k x m
    return PointValue(phi=phi, sigma_min=float(sv[r - 1]), sigma_max=smax, grad=grad, rank=r)


def g_constant(G: np.ndarray, k: int) -> float:
    """c_G = min(tr G, k ||G||_2): |tr(G Y)| <= c_G ||Y||_2 for every Y of rank <= k."""
    return float(min(np.trace(G), k * np.linalg.norm(G, 2)))


def rounding_allowance(G_trace: float, m: int, k: int, kappa: float) -> float:
    """The stated floating-point allowance added to every computed bound (module docstring)."""
    p = numerics.CERTIFY_ROUNDING_FACTOR * (m + k + 1)
    return G_trace * p * UNIT_ROUNDOFF * (2.0 + (kappa if np.isfinite(kappa) else 1e300))


def perturbation_bound(V: list[np.ndarray], centre: PointValue, centres: np.ndarray, cG: float,
                       remainder_factor: float = 3.0) -> float:
    """Bound 1 of the module docstring (inf when e >= s: the node is too close to a rank drop)."""
    if centre.grad is None:
        return np.inf
    radii = [float(np.max(np.linalg.norm(Vi - ci, axis=1))) for Vi, ci in zip(V, centres)]
    e = float(np.sqrt(np.sum(np.square(radii))))
    s = centre.sigma_min
    if not e < s:
        return np.inf
    linear = sum(float(np.max((Vi - ci) @ gi)) for Vi, ci, gi in zip(V, centres, centre.grad))
    return centre.phi + max(linear, 0.0) + remainder_factor * cG * e * e / (s - e) ** 2


def subspace_bound(V: list[np.ndarray], G: np.ndarray, k: int, span_dim: int | None = None,
                   row_dims: list[int | None] | None = None) -> float:
    """Bound 2 of the module docstring: the top-d eigenvalues of G on the span S of all vertices, d = min(k, dim S),
    with the error of the float basis of S accounted for (`_span_error`). Includes its rounding allowance.
    span_dim: a proven upper bound on dim S (ReducedPiece.span_dim, exact), else the number of distinct rows;
    row_dims[i]: a proven bound on the dimension of row i's span (its image's, for a simplex part), or None."""
    caps = [min(_distinct(Vi), c if c is not None else len(Vi)) for Vi, c in zip(V, row_dims or [None] * len(V))]
    if span_dim is not None:
        span_dim = min(span_dim, sum(caps))
    elif row_dims is not None:
        span_dim = sum(caps)
    X = np.vstack(V) if V else np.zeros((0, G.shape[0]))
    X = np.unique(X[np.any(X != 0.0, axis=1)], axis=0)    # exact: zero and repeated rows span nothing new
    n, m = X.shape
    if n == 0:
        return 0.0
    dim = min(n, m) if span_dim is None else min(n, m, span_dim)
    d = min(k, dim)
    lam = np.clip(np.linalg.eigvalsh(G)[::-1], 0.0, None)           # G is PSD: negatives are rounding
    eig_allowance = float(np.trace(G)) * 1e-14 * (1.0 + (k + min(n, m))) + rounding_allowance(float(np.trace(G)), m, k, 1.0)
    whole = float(np.sum(lam[:d]))                       # S inside R^m: always valid
    if dim >= m:
        return whole + eig_allowance
    _, sv, Vt = np.linalg.svd(X, full_matrices=False)
    return min(whole, _span_error(sv, Vt, G, d, float(lam[0]), n, m, dim)) + eig_allowance


def _distinct(Vi: np.ndarray) -> int:
    return len(np.unique(Vi[np.any(Vi != 0.0, axis=1)], axis=0))


def _span_error(sv: np.ndarray, Vt: np.ndarray, G: np.ndarray, d: int, lam_max: float, n: int, m: int,
                dim: int) -> float:
    """Ky Fan on the float span, made valid for the exact span S = row(X) of the n < m vertex rows.

    The computed SVD is exact for X + dX, and the float vertex codes X are within rounding of the exact ones
    (each entry a sum of n_p products); both together are taken <= t = p u sigma_1 (p as in `rounding_allowance`,
    64 (n + m + 1), far above either constant). Split the
    computed right singular vectors at c: C = span(v_1..v_c) (sigma_c > 2 t); the rest are "grey": their
    singular values are at rounding level, so S may hold a direction there that floats cannot locate (rows v
    and v + eps w span w whatever eps). With dim >= dim S proven (the distinct rows, or the exact span_dim and
    row_dims of the reduction), g = dim - c grey directions can be real; an exact dependency of the codes that
    rounding shows as a tiny singular value costs nothing once dim <= c.
    The c-dimensional S' = X^T span(u_1..u_c) lies in S, and each x in S' is within sin(angle) <= s =
    t / (sigma_c - t) of C (x = sum sigma_j (u_j.y) v_j - dX^T y). A d-dimensional W in S meets S' in
    d - w >= d - g dimensions (w <= min(g, d)), so with W1 = W cap S':
        tr(G Pi_W) <= tr(G Pi_W1) + w lambda_max(G)
                   <= KF_{d - w}(G on C) + d lambda_max(G) (2 s + s^2) + w lambda_max(G),
    largest at w = min(g, d) (each Ky Fan term is <= lambda_max). Here tr(G Pi_W1) = the sum over an orthonormal
    basis x = x_C + x_off of W1: the x_C part is tr(G Y), 0 <= Y <= I on C, tr Y <= dim W1, at most the Ky Fan
    sum (G is PSD; negative float eigenvalues are clipped); each cross and off term adds <= lambda_max (2 s +
    s^2). The computed V rows are within p u of an exactly orthonormal set (backward stability), which adds
    p u to s. The least of this over two splits (every resolved direction kept; only those with s <= 1e-12)."""
    t = numerics.CERTIFY_ROUNDING_FACTOR * (n + m + 1) * UNIT_ROUNDOFF * float(sv[0])
    # two splits: every resolved direction kept (c0), or only the well-resolved ones (s <= 1e-12, c1)
    splits = {int(np.sum(sv > 2.0 * t)), int(np.sum(sv > 1e12 * t))}
    best = np.inf
    for c in sorted(splits - {0}):
        g = max(dim - c, 0)
        s = t / (float(sv[c - 1]) - t) + t / float(sv[0])
        keep = d - min(g, d)
        eig = np.clip(np.linalg.eigvalsh(Vt[:c] @ G @ Vt[:c].T)[::-1][:keep], 0.0, None)
        best = min(best, float(np.sum(eig)) + d * lam_max * (2.0 * s + s * s) + min(g, d) * lam_max)
    return best


def node_bound(V: list[np.ndarray], G: np.ndarray, cG: float, trG: float,
               remainder_factor: float = 3.0, span_dim: int | None = None,
               row_dims: list[int | None] | None = None) -> tuple[float, PointValue, np.ndarray]:
    """min(bound 1, bound 2) over the node, raised by the rounding allowance; also phi at its centre."""
    centres = np.stack([Vi.mean(axis=0) for Vi in V]) if V else np.zeros((0, G.shape[0]))
    pv = captured_energy(centres, G)
    k, m = centres.shape
    b1 = perturbation_bound(V, pv, centres, cG, remainder_factor)
    b2 = subspace_bound(V, G, k, span_dim, row_dims)
    kappa = pv.sigma_max / pv.sigma_min if pv.sigma_min > 0 else np.inf
    bound = min(b1 + rounding_allowance(trG, m, k, kappa), b2)
    return bound, pv, centres


def wedge_operator(G: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The derivation D_G(a ^ b) = Ga ^ b + a ^ Gb on Lambda^2 R^m (basis e_a ^ e_b, a < b): for a 2-plane with
    basis (x, u), tr(G Pi) = <w, D_G w> / <w, w>, w = x ^ u (the Pluecker vector)."""
    m = G.shape[0]
    pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]
    idx = {p: i for i, p in enumerate(pairs)}
    A = np.zeros((len(pairs), len(pairs)))
    for j, (a, b) in enumerate(pairs):
        for c in range(m):
            for (p, q, v) in ((c, b, G[c, a]), (a, c, G[c, b])):
                if p == q or v == 0.0:
                    continue
                sgn = 1.0 if p < q else -1.0
                A[idx[(min(p, q), max(p, q))], j] += sgn * v
    return A, pairs


def wedges(X: np.ndarray, U: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Pluecker vectors x ^ u of every (row of X, row of U)."""
    out = [[x[a] * u[b] - x[b] * u[a] for a, b in pairs] for x in X for u in U]
    return np.array(out)


def wedge_bound(V: list[np.ndarray], A: np.ndarray, pairs, G_trace: float) -> float:
    """Two rows x in conv(V[0]), u in conv(V[1]): w = x ^ u is a convex combination sum c_kl w_k ^ ... of the
    vertex wedges W_k (bilinear, weights alpha_i beta_j), so tr(G Pi) = c^T K_A c / c^T K_I c with
    K_A = W A W^T, K_I = W W^T, c >= 0. Where every entry of K_I is positive, that quotient is at most
    max_kl (K_A)_kl / (K_I)_kl. inf otherwise. Raised by the rounding allowance (kappa = the largest
    |W_k| |W_l| / (K_I)_kl)."""
    W = wedges(V[0], V[1], pairs)
    KI = W @ W.T
    if not np.all(KI > 0):
        return np.inf
    KA = W @ A @ W.T
    nrm = np.linalg.norm(W, axis=1)
    kappa = float(np.max(np.outer(nrm, nrm) / KI))
    return float(np.max(KA / KI)) + rounding_allowance(G_trace, len(pairs), 2, kappa)
