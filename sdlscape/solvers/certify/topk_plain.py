"""Plain TopK pieces (Reduction.TOPK_PLAIN): a passing-set relaxation, exact for k = 1 when realised.

A piece of plain TopK(k) in the selection reading fixes, for every feature d, the set A_d of k latents it
passes; the region is {W_E : w_j . p_d > w_l . p_d for j in A_d, l not in A_d} (strict: ties are outside
every piece), an open polyhedral cone. The passed codes w_j . p_d may be negative, so the row normalisation
of the ReLU reduction does not apply. With P_A, R_A the sqrt(M)-scaled inputs w_p^d and targets w_r^d of
the features with A_d = A, inside the piece (eq. 11)

    L~ = sum_A || R_A - W_D[:, A] W_E[A, :] P_A ||_F^2 >= sum_A min_{rank C <= k} || R_A - C P_A ||_F^2
       = sum_A ( ||R_A||^2 - sum of the k largest eigenvalues of H_A ),  H_A = R_A Pi_A R_A^T,

Pi_A the projector onto row(P_A) (reduced-rank regression): the region is dropped and the passing sets no
longer share their latents. For k = 1 the sets are single latents, which share nothing: the bound is the
piece's minimum over its closed region whenever the relaxed optimiser lies in it. That optimiser is, per
latent j, w_j with P_j^T w_j = c_j P_j^T a_j (a_j the top generalised eigenvector of X_j^T X_j a = lam G_j a,
X_j = R_j P_j^T, G_j = P_j P_j^T), any c_j != 0; an LP over the signs of the c_j finds one in the closed
region, and a point pushed towards the piece's witness is an interior point whose L~ (interval arithmetic)
is the value. k >= 2: the relaxation is what is certified (a lower bound); values come from elsewhere.

Rigour: the k largest eigenvalues of H_A sum to at most k mu + ||U||_F^2 whenever mu I + U U^T - H_A is
positive definite (U with k columns; Weyl and Ky Fan); that is proven by an interval Cholesky, of that
matrix ("gram": H_A = R_A R_A^T, valid since Pi_A <= I, exact when W_r = W_p or P_A has independent
columns) or of the block matrix [[G_A, X_A^T], [X_A, mu I + U U^T]] ("schur": its Schur complement is
mu I + U U^T - X_A G_A^{-1} X_A^T with X_A G_A^{-1} X_A^T = H_A).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from mpmath import iv
from scipy.linalg import eigh
from scipy.optimize import linprog

from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.theory.piece import Piece

RECORD_SLACK = 1e-13
"""Relative amount (of ||R||^2) by which a piece's bound is lowered below the proven sum, so that the checker's
own interval sums (rounded differently) still prove it."""
CHECK_ROOM = 100.0
"""The recorded margin delta of mu I + U U^T - H over the one the certifier proved (module docstring)."""
PUSH_STEPS = (0.0, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)


def _v(x) -> Any:
    return iv.mpf(float(x))


def _outer(inst, ds, A: np.ndarray, B: np.ndarray) -> list[list[Any]]:
    """sum_{d in ds} M_d A[:, d] B[:, d]^T in intervals."""
    return [[sum((_v(inst.M[d]) * _v(A[i, d]) * _v(B[j, d]) for d in ds), iv.mpf(0)) for j in range(B.shape[0])]
            for i in range(A.shape[0])]


def iv_positive_definite(A: list[list[Any]]) -> bool:
    """Interval Cholesky: True proves every symmetric matrix in A positive definite."""
    n = len(A)
    L = [[iv.mpf(0)] * n for _ in range(n)]
    for j in range(n):
        d = A[j][j] - sum((L[j][m] ** 2 for m in range(j)), iv.mpf(0))
        if not d.a > 0:
            return False
        L[j][j] = iv.sqrt(d)
        for i in range(j + 1, n):
            L[i][j] = (A[i][j] - sum((L[i][m] * L[j][m] for m in range(j)), iv.mpf(0))) / L[j][j]
    return True


@dataclass(frozen=True)
class GroupBound:
    """One passing set A: a proven lower bound on min_{rank C <= k} ||R_A - C P_A||^2 and what proves it."""

    latents: tuple[int, ...]
    features: tuple[int, ...]
    kind: str                    # "zero" (bound 0), "gram" or "schur" (module docstring)
    mu: float
    U: np.ndarray
    bound: float
    residual: float              # the float value of the relaxed residual (not proven)

    def to_dict(self) -> dict[str, Any]:
        return {"latents": list(self.latents), "features": list(self.features), "kind": self.kind,
                "mu": self.mu, "U": self.U.tolist(), "bound": self.bound}


def _pd_check(inst, ds, kind: str, mu: float, U: np.ndarray) -> bool:
    n_r = inst.n_r
    UU = [[sum((_v(U[i, c]) * _v(U[j, c]) for c in range(U.shape[1])), iv.mpf(0)) for j in range(n_r)]
          for i in range(n_r)]
    top = [[UU[i][j] + (_v(mu) if i == j else 0) for j in range(n_r)] for i in range(n_r)]
    if kind == "gram":
        H = _outer(inst, ds, inst.W_r, inst.W_r)
        return iv_positive_definite([[top[i][j] - H[i][j] for j in range(n_r)] for i in range(n_r)])
    G, X = _outer(inst, ds, inst.W_p, inst.W_p), _outer(inst, ds, inst.W_r, inst.W_p)
    n_p = len(G)
    block = [G[i] + [X[j][i] for j in range(n_r)] for i in range(n_p)] + [X[i] + top[i] for i in range(n_r)]
    return iv_positive_definite(block)


def group_bound(inst, latents: tuple[int, ...], ds: tuple[int, ...]) -> GroupBound:
    """The proven relaxed residual of one passing set (module docstring)."""
    k, n_r = len(latents), inst.n_r
    sq = np.sqrt(inst.M[list(ds)])
    P, R = inst.W_p[:, ds] * sq, inst.W_r[:, ds] * sq
    sae = np.array_equal(inst.W_r, inst.W_p)
    G = P @ P.T
    schur = not sae and len(ds) > inst.n_p and np.linalg.cond(G) < 1e10
    H = (R @ P.T) @ np.linalg.solve(G, P @ R.T) if schur else R @ R.T
    lam, V = np.linalg.eigh(0.5 * (H + H.T))
    lam, V = np.maximum(lam[::-1], 0.0), V[:, ::-1]
    kk = min(k, n_r)
    residual = max(float(np.sum(R * R)) - float(lam[:kk].sum()), 0.0)
    zero = GroupBound(latents, ds, "zero", 0.0, np.zeros((n_r, 0)), 0.0, residual)
    if len(ds) <= k or residual <= 0.0:
        return zero
    E = sum((_v(inst.M[d]) * sum((_v(inst.W_r[r, d]) ** 2 for r in range(n_r)), iv.mpf(0)) for d in ds), iv.mpf(0))
    mu0 = float(lam[kk]) if kk < n_r else 0.0
    scale = max(float(lam[0]), 1e-300)
    kind = "schur" if schur else "gram"

    def mu_u(delta: float) -> tuple[float, np.ndarray]:
        return mu0 + delta, V[:, :kk] * np.sqrt(lam[:kk] - mu0 + delta)[None, :]

    for rel in (1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8):
        # proven with delta, recorded with CHECK_ROOM * delta (larger in the Loewner order, so proven too): room
        # for the checker's wider intervals
        if not _pd_check(inst, ds, kind, *mu_u(rel * scale)):
            continue
        mu, U = mu_u(CHECK_ROOM * rel * scale)
        if _pd_check(inst, ds, kind, mu, U):
            cap = _v(kk) * _v(mu) + sum((_v(u) ** 2 for u in U.ravel()), iv.mpf(0))
            b = max(float((E - cap).a), 0.0)
            return GroupBound(latents, ds, kind, mu, U, b, residual)
    return zero


def passing_groups(piece: Piece) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Passing set A -> the features d with A_d = A (the piece's selection)."""
    S = piece.loss_mask
    out: dict[tuple[int, ...], list[int]] = {}
    for d in range(S.shape[1]):
        out.setdefault(tuple(int(i) for i in np.flatnonzero(S[:, d])), []).append(d)
    return {A: tuple(ds) for A, ds in sorted(out.items())}


def relaxed_bound(piece: Piece) -> tuple[float, list[GroupBound]]:
    """The proven lower bound on inf L~ over the piece (sum of the groups' bounds, rounded down)."""
    groups = [group_bound(piece.instance, A, ds) for A, ds in passing_groups(piece).items()]
    total = sum((_v(g.bound) for g in groups), iv.mpf(0))
    inst = piece.instance
    slack = RECORD_SLACK * float(np.sum(inst.M * np.sum(inst.W_r ** 2, axis=0)))   # room for the checker's rounding
    return max(float((total - _v(slack)).a), 0.0), groups


def _directions(inst, latent_groups) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """k = 1: per latent with features, (Q^T, y) with the optimal rows {w : Q^T w = c y, c != 0} (Q an
    orthonormal basis of col(P_j)); None when some top eigenvalue is not simple (optimiser not unique)."""
    out = {}
    for j, ds in latent_groups.items():
        sq = np.sqrt(inst.M[list(ds)])
        P, R = inst.W_p[:, ds] * sq, inst.W_r[:, ds] * sq
        Uq, s, _ = np.linalg.svd(P, full_matrices=True)
        r = int(np.sum(s > 1e-12 * max(s[0], 1e-300)))
        Q = Uq[:, :r]
        Xy, Gy = R @ P.T @ Q, Q.T @ P @ P.T @ Q
        lam, Y = eigh(Xy.T @ Xy, Gy)
        if lam[-1] <= 1e-14 * max(float(np.sum(R * R)), 1e-300):
            continue                                            # nothing captured: every row is optimal
        if r >= 2 and lam[-1] - lam[-2] <= 1e-9 * lam[-1]:
            return None
        out[j] = (Q.T, Y[:, -1] / np.linalg.norm(Y[:, -1]))
    return out


def relaxed_point(piece: Piece, dirs) -> tuple[np.ndarray | None, float]:
    """An encoder in the closed region whose rows are relaxed optimisers (signs tried), by the LP
    max t s.t. (w_l - w_j) . p_d + t <= 0 (j passed, l not), Q_j^T w_j = c_j y_j, s_j c_j >= 1, t <= 1;
    (W, t*) of the best sign choice (t* < 0: none lies in the closed region)."""
    inst, S = piece.instance, piece.loss_mask
    q, n_p = inst.n_latents, inst.n_p
    lat = sorted(dirs)
    nv = q * n_p + len(lat) + 1
    rows = []
    for d in range(inst.n):
        for j in np.flatnonzero(S[:, d]):
            for l_ in np.flatnonzero(~S[:, d]):
                r = np.zeros(nv)
                r[l_ * n_p:(l_ + 1) * n_p] += inst.W_p[:, d]
                r[j * n_p:(j + 1) * n_p] -= inst.W_p[:, d]
                r[-1] = 1.0
                rows.append(r)
    eq, beq = [], []
    for c, j in enumerate(lat):
        Qt, y = dirs[j]
        for a in range(Qt.shape[0]):
            r = np.zeros(nv)
            r[j * n_p:(j + 1) * n_p] = Qt[a]
            r[q * n_p + c] = -y[a]
            eq.append(r)
            beq.append(0.0)
    best: tuple[np.ndarray | None, float] = (None, -np.inf)
    for signs in itertools.product((1.0, -1.0), repeat=len(lat)):
        bounds = [(None, None)] * (q * n_p) + [(1.0, None) if s > 0 else (None, -1.0) for s in signs] + [(None, 1.0)]
        cost = np.zeros(nv)
        cost[-1] = -1.0
        res = linprog(cost, A_ub=np.array(rows) if rows else None, b_ub=np.zeros(len(rows)) if rows else None,
                      A_eq=np.array(eq) if eq else None, b_eq=np.array(beq) if eq else None, bounds=bounds,
                      method="highs")
        if res.status == 0 and res.x[-1] > best[1]:
            best = (res.x[:q * n_p].reshape(q, n_p), float(res.x[-1]))
    return best


def realise(piece: Piece, W_star: np.ndarray, lower: float, rtol: float, atol: float):
    """The best interior point on the segment from W_star to the piece's witness: (value interval, W_E, W_D)."""
    from sdlscape.solvers.certify import interval
    from sdlscape.solvers.certify.piece_cert import least_squares_decoder
    from sdlscape.theory.strict import witness_holds

    reg = piece.region
    W_in = piece.realizability.witness
    W_in = W_in * (np.linalg.norm(W_star) / max(np.linalg.norm(W_in), 1e-300))
    best = None
    for s in PUSH_STEPS:
        W = (1 - s) * W_star + s * W_in
        if not witness_holds(reg.G, reg.h_open, reg.strict, W.ravel()):
            continue
        W_D = least_squares_decoder(piece, W)
        val = interval.loss_interval(piece.instance, W_D, W, piece.loss_mask)
        if best is None or interval.hi(val) < interval.hi(best[0]):
            best = (val, W, W_D)
        if interval.gap_meets(val, iv.mpf(lower), rtol, atol):
            break
    return best


def certify_topk_piece(piece: Piece, rtol: float, atol: float, L_cutoff: float = np.inf, record: bool = False):
    """Certified infimum of L~ over one plain-TopK piece, or its relaxed bound (module docstring)."""
    from sdlscape.solvers.certify import interval
    from sdlscape.solvers.certify.piece_cert import PieceCertificate

    t0 = time.perf_counter()
    inst = piece.instance
    k = inst.activation.k
    lower, groups = relaxed_bound(piece)
    detail: dict[str, Any] = {"reduction": "topk_plain", "relaxed_residual": float(sum(g.residual for g in groups)),
                              "groups": len(groups)}
    got, why = None, None
    if k == 1:
        dirs = _directions(inst, {A[0]: ds for A, ds in passing_groups(piece).items()})
        if dirs is None:
            why = "a latent's relaxed optimiser is not unique up to scale (a repeated top eigenvalue): not decided"
        else:
            W_star, t = relaxed_point(piece, dirs)
            detail["lp_margin"] = t
            if W_star is None or t < -1e-9:
                why = f"the relaxed optimiser lies outside the closed region (LP margin {t:.3g}): bound only"
            else:
                got = realise(piece, W_star, lower, rtol, atol)
                if got is None:
                    why = "no interior point found near the relaxed optimiser"
    else:
        why = (f"k = {k}: the passing sets share latents, which the relaxation decouples: a lower bound only "
               "(values come from the global incumbent)")
    value = W_E = W_D = gap = None
    certified = False
    if got is not None:
        val_iv, W_E, W_D = got
        value = interval.hi(val_iv)
        gap = max(value - lower, 0.0)
        certified = interval.gap_meets(val_iv, iv.mpf(lower), rtol, atol)
        if not certified:
            why = "the realised value does not meet the relaxed bound within rtol"
    if why is not None:
        detail["why"] = why
    status = CertifyStatus.CERTIFIED if certified else CertifyStatus.INCONCLUSIVE
    reason = None if certified else CertifyReason.NOT_REALISED
    if not certified and np.isfinite(L_cutoff) and lower >= L_cutoff - (rtol * max(L_cutoff, 0.0) + atol):
        status, reason = CertifyStatus.PRUNED, CertifyReason.CUTOFF
    rec = {"kind": "topk_plain", "k": int(k), "leaves": [g.to_dict() for g in groups]} if record else None
    return PieceCertificate(pattern=piece.pattern, value=value, lower_bound=lower, certified=certified, gap=gap,
                            rtol=float(rtol), atol=float(atol), status=status, reason=reason, minimiser_W_E=W_E,
                            minimiser_W_D=W_D, closure_value=detail["relaxed_residual"] if certified else None,
                            infimum_on_boundary=None, boundary_face=(), rank_drop=False, nodes=len(groups),
                            seconds=time.perf_counter() - t0, detail=detail, record=rec)
