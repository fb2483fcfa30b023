"""Second-order classification of a stationary point of L~ inside one piece (the joint Hessian).

Inside a linear piece L~ (eq. 11) is the quartic sum_d M_d || w_r^d - W_D (S * (W_E w_p^d)) ||^2 in
x = (vec W_D, vec W_E) (both row-major). Its exact symmetries (per-latent rescaling, dead latents, the
encoder's kernel) and any other over-parametrization lie in the kernel of the reconstruction map's
Jacobian; projected off them, the Hessian's eigenvalues tell a local minimum from a saddle.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import null_space

from sdlscape import numerics
from sdlscape.outcomes import Curvature
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_grad, approx_loss
from sdlscape.theory.piece import Piece


def joint_hessian(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray, h: float = 1e-2) -> np.ndarray:
    """Hessian of the region's quadratic L~ in x = (vec W_D, vec W_E) (both row-major).

    Built from theory.loss.approx_grad with the five-point stencil, which is exact (up to round-off)
    here: along any line the gradient of the quartic L~ is a cubic polynomial.
    """
    nD, nE = W_D.size, W_E.size
    x0 = np.concatenate([W_D.reshape(-1), W_E.reshape(-1)])

    def grad(x):
        gD, gE = approx_grad(inst, x[:nD].reshape(W_D.shape), x[nD:].reshape(W_E.shape), mask)
        return np.concatenate([gD.reshape(-1), gE.reshape(-1)])

    H = np.empty((nD + nE, nD + nE))
    for k in range(nD + nE):
        e = np.zeros(nD + nE)
        e[k] = h
        H[:, k] = (grad(x0 - 2 * e) - 8 * grad(x0 - e) + 8 * grad(x0 + e) - grad(x0 + 2 * e)) / (12 * h)
    return 0.5 * (H + H.T)


def invariant_directions(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Directions along which the region's L~ is exactly constant (columns, in x = (vec W_D, vec W_E)).

    kernel: dW_E with mask * (dW_E W_p) = 0 (L~ depends on W_E only through the masked codes);
    dead: decoder columns of latents the pattern leaves dead (their code row is 0);
    rescale: w_E^i -> c w_E^i, w_D^i -> w_D^i / c (tangent (-w_D^i, w_E^i)); an exact symmetry of
    the region's quadratic, whose gradient vanishes along the orbit at a stationary point.
    """
    nl, n_p, n_r = inst.n_latents, inst.n_p, inst.n_r
    nD, nE = n_r * nl, nl * n_p
    # masked codes z_{id} = <w_E^i, w_p^d>, (i, d) in mask: a linear map T of vec(W_E)
    rows = []
    for i, d in zip(*np.nonzero(mask)):
        r = np.zeros(nE)
        r[i * n_p:(i + 1) * n_p] = inst.W_p[:, d]
        rows.append(r)
    T = np.array(rows).reshape(-1, nE)
    K = null_space(T) if T.shape[0] else np.eye(nE)
    kernel = np.vstack([np.zeros((nD, K.shape[1])), K])
    dead = []
    for i in np.flatnonzero(~mask.any(axis=1)):
        for r in range(n_r):
            v = np.zeros(nD + nE)
            v[r * nl + i] = 1.0
            dead.append(v)
    rescale = []
    for i in np.flatnonzero(mask.any(axis=1)):
        v = np.zeros(nD + nE)
        dD = np.zeros((n_r, nl))
        dD[:, i] = -W_D[:, i]
        dE = np.zeros((nl, n_p))
        dE[i] = W_E[i]
        v[:nD], v[nD:] = dD.reshape(-1), dE.reshape(-1)
        if np.linalg.norm(v) > 0:
            rescale.append(v / np.linalg.norm(v))
    as_cols = lambda vs: np.array(vs).T if vs else np.zeros((nD + nE, 0))  # noqa: E731
    return {"kernel": kernel, "dead": as_cols(dead), "rescale": as_cols(rescale)}


def reconstruction_jacobian(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Jacobian of Phi(x) = vec(diag-weighted reconstructions W_D (A * (W_E W_p)) M^(1/2)) in x = (vec W_D, vec W_E).

    L~ = || vec(W_r M^(1/2)) - Phi(x) ||^2 depends on x only through Phi. Phi is bilinear, so central
    differences are exact (up to round-off).
    """
    nD = W_D.size
    x0 = np.concatenate([W_D.reshape(-1), W_E.reshape(-1)])
    sq = np.sqrt(inst.M)[None, :]

    def phi(x):
        WD, WE = x[:nD].reshape(W_D.shape), x[nD:].reshape(W_E.shape)
        return (WD @ np.where(mask, WE @ inst.W_p, 0.0) * sq).reshape(-1)

    J = np.empty((inst.n_r * inst.n, x0.size))
    for k in range(x0.size):
        e = np.zeros(x0.size)
        e[k] = 1.0
        J[:, k] = (phi(x0 + e) - phi(x0 - e)) / 2.0
    return J


def _rank(A: np.ndarray, rel: float = numerics.RANK_REL) -> int:
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > rel * max(1.0, s.max()))) if s.size else 0


def classify_point(piece: Piece, W_D: np.ndarray, W_E: np.ndarray, touching_boundary: list[int],
                   rel_tol: float = numerics.HESSIAN_REL, seed: int = 0) -> dict[str, Any]:
    """Joint second-order classification of a stationary point of the region's quadratic.

    L~ depends on x = (W_D, W_E) only through the reconstructions Phi(x) (reconstruction_jacobian).
    Where J = dPhi/dx has locally constant rank (checked: the rank at the point equals the rank at
    random nearby points, and rank can only rise nearby), the fibres of Phi are manifolds on which
    L~ is constant, so ker J is an exact null space of the Hessian at a stationary point: it holds
    the rescaling symmetry, dead latents and the encoder kernel (invariant_directions) and any other
    over-parametrization. ker J is projected out (else only the explicit invariances are) and the
    remaining eigenvalues decide: all > tol: local_min (Morse-Bott: a local minimum of L~ jointly,
    non-isolated only along the fibres); one < -tol: saddle; otherwise undecided (a zero curvature
    that is not a fibre direction: higher-order terms decide). On a non-strict boundary row of the
    region (the point touches a neighbouring piece) a positive-definite answer is reported as
    undecided for L~ jointly.
    """
    inst, reg, mask = piece.instance, piece.region, piece.loss_mask
    H = joint_hessian(inst, W_D, W_E, mask)
    inv = invariant_directions(inst, W_D, W_E, mask)
    N_explicit = np.hstack(list(inv.values()))
    J = reconstruction_jacobian(inst, W_D, W_E, mask)
    rank_here = _rank(J)
    rng = np.random.default_rng(seed)
    size = 1e-3 * max(1.0, float(np.abs(W_D).max()), float(np.abs(W_E).max()))
    rank_near = max(_rank(reconstruction_jacobian(inst, W_D + size * rng.standard_normal(W_D.shape),
                                                  W_E + size * rng.standard_normal(W_E.shape), mask))
                    for _ in range(3))
    constant_rank = rank_here == rank_near
    if constant_rank:
        N = null_space(J, rcond=numerics.RANK_REL)
    else:
        N = N_explicit
    scale = max(1.0, float(np.abs(H).max()))
    residual = float(np.abs(H @ N).max()) if N.size else 0.0
    if N.size:
        U, s, _ = np.linalg.svd(N, full_matrices=True)
        rank = int(np.sum(s > 1e-10 * max(1.0, s.max())))
        B = U[:, rank:]
    else:
        rank, B = 0, np.eye(H.shape[0])
    Hr = B.T @ H @ B
    eig, vec = np.linalg.eigh(Hr) if Hr.size else (np.zeros(0), np.zeros((0, 0)))
    tol = rel_tol * scale
    full_eig = np.linalg.eigvalsh(H)
    out: dict[str, Any] = {
        "eigenvalues": eig.tolist(), "full_eigenvalues": full_eig.tolist(), "tolerance": tol,
        "invariances": {k: int(v.shape[1]) for k, v in inv.items()},
        "jacobian_rank": rank_here, "jacobian_rank_nearby": rank_near, "constant_rank": constant_rank,
        "projected_out": rank, "projected": "ker J (fibres of the reconstruction map)" if constant_rank
        else "explicit invariances only (the rank of J is not locally constant)",
        "explicit_in_kernel": float(np.abs(J @ N_explicit).max()) if N_explicit.size else 0.0,
        "invariance_residual": residual, "method": "five-point stencil of theory.loss.approx_grad (exact)"}
    nD = W_D.size
    L = approx_loss(inst, W_D, W_E, mask)
    if L <= numerics.ZERO_LOSS:
        out["classification"] = Curvature.LOCAL_MIN
        out["why"] = f"L~ = {L:.3g}: zero loss is the global minimum (L~ >= 0)"
        return out
    if residual > 1e-6 * scale:
        out["classification"] = Curvature.UNDECIDED
        out["why"] = "the projected directions are not in the Hessian's null space (not a stationary point)"
        return out
    if eig.size and eig[0] < -tol:
        out["classification"] = Curvature.SADDLE
        out["why"] = f"negative curvature {eig[0]:.3g} along a direction that is not an invariance"
        if touching_boundary:
            v = (B @ vec[:, 0])[nD:]
            Gt = reg.G[touching_boundary]
            if not (np.all(Gt @ v <= 1e-12) or np.all(Gt @ v >= -1e-12)):
                out["classification"] = Curvature.UNDECIDED
                out["why"] += ", but it crosses a boundary row the point touches"
        return out
    if eig.size and eig[0] <= tol:
        out["classification"] = Curvature.UNDECIDED
        out["why"] = (f"{int(np.sum(np.abs(eig) <= tol))} zero eigenvalue(s) beyond the projected directions "
                      f"({out['projected']}): higher-order terms decide")
        return out
    if touching_boundary:
        out["classification"] = Curvature.UNDECIDED
        out["why"] = (f"positive definite in the region, but the point lies on {len(touching_boundary)} "
                      "non-strict boundary row(s): neighbouring pieces decide")
        return out
    out["classification"] = Curvature.LOCAL_MIN
    out["why"] = f"positive definite after projecting out {out['projected']}; strictly inside the region"
    return out
