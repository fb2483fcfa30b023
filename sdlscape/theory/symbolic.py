"""Exact (sympy) forms of L~ inside one pattern piece: block Hessians (Thm 3.2) and Example 3.5.

Inside Omega_P, L~ (eq. 11) is sum_d M_d || w_r^d - W_D (A[:, d] * (W_E w_p^d)) ||^2 with A the
pattern's mask. Its residual r is linear in W_E for fixed W_D and linear in W_D for fixed W_E, so
each block Hessian equals 2 J^T diag(M) J with J the Jacobian of r in that block: a Gram matrix,
PSD for *every* value of the other block. `block_hessian_gram_identity` checks this identity
symbolically (with the other block's entries left as symbols). The joint Hessian is not a Gram
matrix: `joint_hessian_at` evaluates it exactly at a point to exhibit a negative eigenvalue.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp


def _rat(x: float) -> sp.Rational:
    return sp.nsimplify(float(x), rational=True, tolerance=1e-12)


def rational_matrix(A: np.ndarray) -> sp.Matrix:
    return sp.Matrix([[_rat(v) for v in row] for row in np.atleast_2d(A)])


def symbols_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def residuals(W_p: sp.Matrix, W_r: sp.Matrix, mask: np.ndarray, W_D: sp.Matrix, W_E: sp.Matrix) -> sp.Matrix:
    """R with column d = w_r^d - W_D (A[:, d] * (W_E w_p^d))."""
    Z = W_E * W_p
    Q = sp.Matrix(Z.rows, Z.cols, lambda i, d: Z[i, d] if bool(mask[i, d]) else 0)
    return W_r - W_D * Q


def loss(W_p: sp.Matrix, W_r: sp.Matrix, M, mask: np.ndarray, W_D: sp.Matrix, W_E: sp.Matrix) -> sp.Expr:
    """L~ on the piece (eq. 11) as an exact expression."""
    R = residuals(W_p, W_r, mask, W_D, W_E)
    return sp.expand(sum(M[d] * sum(R[k, d] ** 2 for k in range(R.rows)) for d in range(R.cols)))


def block_hessian_gram_identity(W_p: np.ndarray, W_r: np.ndarray, M, mask: np.ndarray) -> dict[str, Any]:
    """Symbolic Hessians of L~ in W_E and in W_D (other block symbolic) and the Gram identity check."""
    Wp, Wr = rational_matrix(W_p), rational_matrix(W_r)
    Mr = [_rat(m) for m in M]
    nl, n_p, n_r = mask.shape[0], Wp.rows, Wr.rows
    E, D = symbols_matrix("e", nl, n_p), symbols_matrix("w", n_r, nl)
    L = loss(Wp, Wr, Mr, mask, D, E)
    R = residuals(Wp, Wr, mask, D, E)
    r = sp.Matrix([R[k, d] for d in range(R.cols) for k in range(R.rows)])
    weights = sp.diag(*[Mr[d] for d in range(R.cols) for _ in range(R.rows)])
    out: dict[str, Any] = {}
    for name, var in (("encoder", list(E)), ("decoder", list(D))):
        H = sp.hessian(L, var)
        J = r.jacobian(var)
        gram = 2 * J.T * weights * J
        diff = (H - gram).applyfunc(sp.expand)
        free_in_J = sorted(str(s) for s in J.free_symbols & set(var))
        out[name] = {"variables": len(var), "hessian_equals_gram": bool(diff == sp.zeros(*diff.shape)),
                     "jacobian_depends_on_own_block": bool(free_in_J)}
    out["convex_in_each_block"] = all(out[k]["hessian_equals_gram"] and not out[k]["jacobian_depends_on_own_block"]
                                      for k in ("encoder", "decoder"))
    return out


def joint_hessian_at(W_p: np.ndarray, W_r: np.ndarray, M, mask: np.ndarray, W_D: np.ndarray, W_E: np.ndarray
                     ) -> sp.Matrix:
    """The exact joint Hessian of L~ (piece's quadratic) at a rational point (vars: vec W_D, vec W_E)."""
    Wp, Wr = rational_matrix(W_p), rational_matrix(W_r)
    Mr = [_rat(m) for m in M]
    nl, n_p, n_r = mask.shape[0], Wp.rows, Wr.rows
    E, D = symbols_matrix("e", nl, n_p), symbols_matrix("w", n_r, nl)
    L = loss(Wp, Wr, Mr, mask, D, E)
    var = list(D) + list(E)
    H = sp.hessian(L, var)
    subs = {s: _rat(v) for s, v in zip(list(D), np.asarray(W_D).reshape(-1))}
    subs.update({s: _rat(v) for s, v in zip(list(E), np.asarray(W_E).reshape(-1))})
    return H.subs(subs)


def example_3_5_exact() -> dict[str, Any]:
    """Example 3.5 in exact arithmetic: pattern, L~, both block gradients, both block optima.

    n = n_p = n_q = n_r = 2, Top-1 o ReLU, W_p = W_r = I, M = (1, 1), W_E* = [[1, 1], [0, 0]],
    W_D* = [[1/2, 0], [1/2, 0]]. Codes z = W_E* e_d = (1, 0): latent 0 is the top-1 and positive.
    The decoder block is least squares: its minimum is found from the normal equations. The encoder
    block over the (closed) region is a convex QP; its unconstrained minimizer of the live variables
    is computed exactly and shown to satisfy the region's constraints, so it is the block optimum.
    """
    half = sp.Rational(1, 2)
    Wp = Wr = sp.eye(2)
    M = [sp.Integer(1), sp.Integer(1)]
    W_E = sp.Matrix([[1, 1], [0, 0]])
    W_D = sp.Matrix([[half, 0], [half, 0]])
    Z = W_E * Wp
    # pattern by TopK(1) o ReLU on each feature alone (ties toward the lower index)
    sel = np.zeros((2, 2), dtype=bool)
    for d in range(2):
        col = [Z[i, d] for i in range(2)]
        top = max(range(2), key=lambda i: (col[i], -i))
        sel[top, d] = col[top] > 0
    E, D = symbols_matrix("e", 2, 2), symbols_matrix("w", 2, 2)
    L = loss(Wp, Wr, M, sel, D, E)
    at = {**dict(zip(list(D), list(W_D))), **dict(zip(list(E), list(W_E)))}
    gD = sp.Matrix(2, 2, lambda i, j: sp.diff(L, D[i, j]).subs(at))
    gE = sp.Matrix(2, 2, lambda i, j: sp.diff(L, E[i, j]).subs(at))
    value = L.subs(at)
    # decoder block: min over W_D of L(., W_E*): normal equations of the live columns
    LD = L.subs(dict(zip(list(E), list(W_E))))
    live = [D[k, 0] for k in range(2)]
    sol_D = sp.solve([sp.diff(LD, v) for v in live], live, dict=True)
    dec_min = sp.simplify(LD.subs(sol_D[0]).subs({D[k, 1]: 0 for k in range(2)}))
    # encoder block: L(W_D*, .) depends only on row 0 of W_E (latent 1 is dead in the pattern)
    LE = L.subs(dict(zip(list(D), list(W_D))))
    row0 = [E[0, 0], E[0, 1]]
    sol_E = sp.solve([sp.diff(LE, v) for v in row0], row0, dict=True)
    enc_min = sp.simplify(LE.subs(sol_E[0]))
    z_opt = [sol_E[0][E[0, j]] for j in range(2)]
    # region: z_0d > 0 and z_0d > z_1d for both features; the optimum keeps row 1 = 0
    inside = all(z > 0 for z in z_opt)
    return {"pattern": [sorted(int(d) for d in np.flatnonzero(sel[i])) for i in range(2)],
            "loss": value, "grad_W_D": gD, "grad_W_E": gE,
            "decoder_block_min": dec_min, "decoder_argmin_live_column": [sol_D[0][v] for v in live],
            "encoder_block_min": enc_min, "encoder_argmin_row0": z_opt, "encoder_argmin_in_region": inside}


def exact_positive_eigenvectors(K: np.ndarray) -> list[dict[str, Any]]:
    """Eigen-decomposition of a small symmetric matrix in exact rationals; for each eigenvalue,
    whether its eigenspace meets the open positive orthant (decided exactly for 1-D eigenspaces,
    None for larger ones)."""
    Kr = rational_matrix(K)
    out = []
    for lam, mult, vecs in Kr.eigenvects():
        if len(vecs) == 1:
            v = vecs[0]
            pos = all(sp.sign(x) == 1 for x in v) or all(sp.sign(x) == -1 for x in v)
        else:
            pos = None
        out.append({"eigenvalue": str(sp.nsimplify(lam)), "multiplicity": int(mult),
                     "eigenvector": [str(x) for x in vecs[0]] if len(vecs) == 1 else None, "positive": pos})
    return out
