"""Checking a plain-TopK piece's record (record kind "topk_plain"; certifier: solvers/certify/topk_plain.py).

A plain-TopK(k) piece (selection reading) passes, for feature d, the latents A_d = {i : d in F_i}. Inside it
L~ >= sum_A min_{rank C <= k} ||R_A - C P_A||^2 (R_A, P_A: the sqrt(M)-scaled targets and inputs of the
features with A_d = A), and each term is >= ||R_A||^2 - (k mu + ||U||_F^2) whenever mu I + U U^T - H_A is
positive definite, H_A = R_A Pi_A R_A^T (Weyl, Ky Fan); H_A <= R_A R_A^T ("gram"), or exactly
H_A = X_A G_A^{-1} X_A^T with X_A = R_A P_A^T, G_A = P_A P_A^T, and the condition is then that the block
matrix [[G_A, X_A^T], [X_A, mu I + U U^T]] is positive definite ("schur").

The checker recomputes the groups from the pattern (each feature passes exactly k latents; the record's
leaves are the groups, each once), every group's sums in interval arithmetic (certcheck/intervals.py), the
positive definiteness by an interval Cholesky, and the piece's lower bound as the sum of the proven group
bounds; it fails a piece whose claimed lower bound exceeds that sum, or a leaf whose claimed bound exceeds
its proven one by more than `CONSISTENCY` ||R_A||^2.
"""
from __future__ import annotations

import json

import numpy as np

from sdlscape.certcheck.intervals import Iv, positive_definite

CONSISTENCY = 1e-9


def _outer(M: np.ndarray, A: np.ndarray, B: np.ndarray, ds: list[int]) -> Iv:
    """sum_{d in ds} M_d A[:, d] B[:, d]^T as an interval matrix."""
    acc = Iv(np.zeros((A.shape[0], B.shape[0])))
    for d in ds:
        acc = acc + Iv(M[d]) * Iv(A[:, d][:, None]) * Iv(B[:, d][None, :])
    return acc


def _block(a: Iv, b: Iv, c: Iv, d: Iv) -> Iv:
    return Iv(np.block([[a.lo, b.lo], [c.lo, d.lo]]), np.block([[a.hi, b.hi], [c.hi, d.hi]]))


def group_bound(W_p: np.ndarray, W_r: np.ndarray, M: np.ndarray, leaf: dict, k: int) -> tuple[float, str | None]:
    """The proven lower bound of one leaf (a passing set's group), or 0 with why it is not proven."""
    if leaf["kind"] == "zero":
        return 0.0, None
    ds = [int(d) for d in leaf["features"]]
    n_r = W_r.shape[0]
    U = np.asarray(leaf["U"], dtype=float).reshape(n_r, -1)
    mu = float(leaf["mu"])
    if U.shape[1] > min(k, n_r) or not np.all(np.isfinite(U)) or not np.isfinite(mu):
        return 0.0, f"U has {U.shape[1]} columns (at most min(k, n_r) = {min(k, n_r)} allowed) or is not finite"
    top = Iv(U) * Iv(1.0)
    UU = Iv(np.zeros((n_r, n_r)))
    for c in range(U.shape[1]):
        UU = UU + top[:, c:c + 1] * top[:, c:c + 1].T
    top = UU + Iv(mu * np.eye(n_r))
    if leaf["kind"] == "gram":
        ok = positive_definite(top - _outer(M, W_r, W_r, ds))
    elif leaf["kind"] == "schur":
        G, X = _outer(M, W_p, W_p, ds), _outer(M, W_r, W_p, ds)
        ok = positive_definite(_block(G, X.T, X, top))
    else:
        return 0.0, f"unknown leaf kind {leaf['kind']!r}"
    if not ok:
        return 0.0, f"mu I + U U^T - H is not proven positive definite ({leaf['kind']})"
    E = Iv(0.0)
    for d in ds:
        E = E + Iv(M[d]) * (Iv(W_r[:, d]) * Iv(W_r[:, d])).sum()
    cap = Iv(float(U.shape[1])) * Iv(mu) + (Iv(U) * Iv(U)).sum()
    return max(float((E - cap).lo), 0.0), None


def check_topk_piece(data, piece: dict, k: int, v) -> None:
    """Verify one plain-TopK piece's record (module docstring); failures go to the Verdict v."""
    name = json.dumps(piece["pattern"], separators=(",", ":"))
    rec = piece["record"]
    feats = [set(map(int, F)) for F in piece["pattern"]]
    n = data.W_p.shape[1]
    groups: dict[tuple[int, ...], list[int]] = {}
    for d in range(n):
        A = tuple(i for i, F in enumerate(feats) if d in F)
        if len(A) != k:
            v.fail(f"piece {name}: feature {d} passes {len(A)} latents, not k = {k}")
            return
        groups.setdefault(A, []).append(d)
    leaves = rec.get("leaves", [])
    got = sorted((tuple(int(i) for i in lf["latents"]), sorted(int(d) for d in lf["features"])) for lf in leaves)
    if int(rec.get("k", -1)) != k or got != sorted((A, ds) for A, ds in groups.items()):
        v.fail(f"piece {name}: the record's leaves are not the features grouped by passing set (k = {k})")
        return
    total = Iv(0.0)
    for j, leaf in enumerate(leaves):
        v.leaves += 1
        b, why = group_bound(data.W_p, data.W_r, data.M, leaf, k)
        if why is not None:
            v.fail(f"piece {name}: leaf {j} (passing set {leaf['latents']}): {why}")
        scale = float(sum(data.M[d] * np.sum(data.W_r[:, d] ** 2) for d in leaf["features"]))
        if float(leaf["bound"]) > b + CONSISTENCY * scale:
            v.fail(f"piece {name}: leaf {j} (passing set {leaf['latents']}) claims a residual >= "
                   f"{float(leaf['bound']):.17g}, the checker proves >= {b:.17g}")
        total = total + Iv(b)
    proven = max(float(total.lo), 0.0)              # a sum of bounds >= 0 (outward rounding may dip below 0)
    if float(piece["lower_bound"]) > proven:
        v.fail(f"piece {name}: claimed lower bound {float(piece['lower_bound']):.17g} exceeds the sum of the proven "
               f"group bounds {proven:.17g}")
    v.pieces += 1
