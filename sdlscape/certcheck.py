"""An independent checker of certificate files (`sdlscape certify --certificate FILE`).

Imports numpy and mpmath only: none of the reduction or branch-and-bound code. For every piece it
  1. replays every leaf's split path from its root node (the leaves of each root must form a complete
     binary tree: together they cover the root) and checks that the roots cover each free latent's cell
     (by measure: the root segments' lengths add up to the cell's; n_p = 2);
  2. checks each cell: vertices normalised (sum of the latent's codes = 1), inside the closed cell (the
     latent's codes >= 0, the other features' codes <= 0; threshold-0 activations), and, for n_p = 2,
     maximal (every end has a feature whose code is 0 there);
  3. re-evaluates each leaf's bound on phi(B) = tr(G Pi(B)) (B = the full D-scaled code matrix, fixed rows
     included, G = R^T R) in interval arithmetic with outward rounding (every float operation widened by
     one ulp, which contains the exact result since IEEE round-to-nearest errs by at most half an ulp):
     phi at the node centre, its gradient, and the second-order remainder 3 c_G e^2 / (s - e)^2 with
     s >= sigma_min(C) proven by an interval Cholesky factorisation of C C^T - s^2 I (bounds.py's bound 1);
     the leaf fails when ||R||^2 minus this bound is below the piece's lower bound (validity), or when the
     bound exceeds the leaf's claimed bound by more than `CONSISTENCY` tr G (a claim that is not the
     certifier's: the recomputation is looser than the certifier's floats by the interval widths);
  4. re-evaluates the value L~ at the recorded interior point in mpmath.iv and the global comparison.
Where the perturbation bound does not apply (e >= s), the subspace bound (top eigenvalues of G on the
span of the node's vertex codes) is recomputed in floats with the stated allowance `SUBSPACE_ALLOWANCE`
(relative to tr G): that part is floating point with an error bound, not interval arithmetic.
Not checked: that the blow-up corner codes are exactly parallel (checked within `PARALLEL_CHECK`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mpmath import iv

CONSISTENCY = 1e-6
SUBSPACE_ALLOWANCE = 1e-12
PARALLEL_CHECK = 1e-8
MEASURE_RTOL = 1e-9
FORMAT = "sdlscape-certificate/1"


# -- interval arrays with outward rounding ------------------------------------------------------

def _dn(x):
    return np.nextafter(x, -np.inf)


def _up(x):
    return np.nextafter(x, np.inf)


class I:
    """An array of intervals [lo, hi]; every operation rounds outward by one ulp."""

    def __init__(self, lo, hi=None):
        self.lo = np.asarray(lo, dtype=float)
        self.hi = self.lo if hi is None else np.asarray(hi, dtype=float)

    def __add__(self, o):
        o = _I(o)
        return I(_dn(self.lo + o.lo), _up(self.hi + o.hi))

    def __sub__(self, o):
        o = _I(o)
        return I(_dn(self.lo - o.hi), _up(self.hi - o.lo))

    def __mul__(self, o):
        o = _I(o)
        p = np.stack(np.broadcast_arrays(self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi))
        return I(_dn(p.min(axis=0)), _up(p.max(axis=0)))

    def recip(self):
        if np.any((self.lo <= 0) & (self.hi >= 0)):
            raise ZeroDivisionError("interval contains 0")
        return I(_dn(1.0 / self.hi), _up(1.0 / self.lo))

    def __getitem__(self, k):
        return I(self.lo[k], self.hi[k])

    @property
    def T(self):
        return I(self.lo.T, self.hi.T)

    def sum(self, axis=None):
        lo, hi = np.moveaxis(self.lo, axis, 0) if axis is not None else self.lo.ravel(), \
            np.moveaxis(self.hi, axis, 0) if axis is not None else self.hi.ravel()
        acc = I(lo[0], hi[0])
        for j in range(1, lo.shape[0]):
            acc = acc + I(lo[j], hi[j])
        return acc

    def sqrt(self):
        return I(_dn(np.sqrt(np.maximum(self.lo, 0.0))), _up(np.sqrt(self.hi)))


def _I(x) -> I:
    return x if isinstance(x, I) else I(x)


def matmul(A: I, B: I) -> I:
    A, B = _I(A), _I(B)
    acc = A[:, 0:1] * B[0:1, :]
    for k in range(1, A.lo.shape[1]):
        acc = acc + A[:, k:k + 1] * B[k:k + 1, :]
    return acc


def inverse(A: I) -> I:
    """Gauss-Jordan without pivoting (A symmetric positive definite): raises if a pivot contains 0."""
    n = A.lo.shape[0]
    M = I(A.lo.copy(), A.hi.copy())
    X = I(np.eye(n), np.eye(n))
    for j in range(n):
        r = M[j, j].recip()
        Mj, Xj = M[j:j + 1, :] * r, X[j:j + 1, :] * r
        M = I(M.lo.copy(), M.hi.copy())
        X = I(X.lo.copy(), X.hi.copy())
        for i in range(n):
            if i == j:
                continue
            f = M[i, j]
            Mi, Xi = M[i:i + 1, :] - Mj * f, X[i:i + 1, :] - Xj * f
            M.lo[i], M.hi[i], X.lo[i], X.hi[i] = Mi.lo[0], Mi.hi[0], Xi.lo[0], Xi.hi[0]
        M.lo[j], M.hi[j], X.lo[j], X.hi[j] = Mj.lo[0], Mj.hi[0], Xj.lo[0], Xj.hi[0]
    return X


def positive_definite(A: I) -> bool:
    """Interval Cholesky: True proves every symmetric matrix in A positive definite."""
    n = A.lo.shape[0]
    L = [[None] * n for _ in range(n)]
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d = d - L[j][k] * L[j][k]
        if not d.lo > 0:
            return False
        r = d.sqrt()
        L[j][j] = r
        for i in range(j + 1, n):
            x = A[i, j]
            for k in range(j):
                x = x - L[i][k] * L[j][k]
            L[i][j] = x * r.recip()
    return True


# -- the instance -------------------------------------------------------------------------------

@dataclass
class Data:
    W_p: np.ndarray
    W_r: np.ndarray
    M: np.ndarray
    threshold: float

    @classmethod
    def of(cls, inst: dict) -> "Data":
        W_p = np.asarray(inst["W_p"], dtype=float)
        W_r = np.asarray(inst.get("W_r", W_p) if inst.get("W_r") is not None else W_p, dtype=float)
        M = np.asarray(inst.get("M") if inst.get("M") is not None else np.ones(W_p.shape[1]), dtype=float)
        act = inst.get("activation", {})
        return cls(W_p, W_r, M, float(act.get("theta", 0.0) or 0.0) if act.get("name") == "jumprelu" else 0.0)

    def D(self) -> I:
        return I(self.M).sqrt()

    def G(self) -> I:
        R = matmul(I(self.W_r), _diag(self.D()))
        return matmul(R.T, R)

    def code(self, w: np.ndarray, features: list[int]) -> I:
        """The D-scaled code row of encoder row w (exact float data) on the passed features."""
        z = matmul(I(np.asarray(w, dtype=float)[None, :]), I(self.W_p))[0]
        mask = np.zeros(self.W_p.shape[1])
        mask[features] = 1.0
        return z * I(mask) * self.D()


def _diag(d: I) -> I:
    n = d.lo.shape[0]
    lo, hi = np.zeros((n, n)), np.zeros((n, n))
    lo[np.arange(n), np.arange(n)], hi[np.arange(n), np.arange(n)] = d.lo, d.hi
    return I(lo, hi)


# -- replaying nodes ------------------------------------------------------------------------------

def _children(part: dict, a: int, b: int) -> tuple[dict, dict]:
    if part["kind"] == "simplex":
        W = np.asarray(part["W"], dtype=float)
        mid = 0.5 * (W[a] + W[b])
        out = []
        for drop in (a, b):
            V = W.copy()
            V[drop] = mid
            out.append({**part, "W": V})
        return out[0], out[1]
    r0, r1, t0, t1 = part["box"]
    if a == 0:
        m = 0.5 * (r0 + r1)
        boxes = ((r0, m, t0, t1), (m, r1, t0, t1))
    else:
        m = 0.5 * (t0 + t1)
        boxes = ((r0, r1, t0, m), (r0, r1, m, t1))
    return {**part, "box": list(boxes[0])}, {**part, "box": list(boxes[1])}


def _leaf_node(root: list[dict], path: list[list[int]]) -> list[dict]:
    node = list(root)
    for j, a, b, child in path:
        node[j] = _children(node[j], a, b)[child]
    return node


def _complete(paths: list[tuple]) -> bool:
    """Do these split paths form a complete binary tree (every split has both children, no leaf repeated)?"""
    if len(paths) == 1 and len(paths[0]) == 0:
        return True
    if any(len(p) == 0 for p in paths):
        return False
    heads = {tuple(p[0][:3]) for p in paths}
    if len(heads) != 1:
        return False
    kids = [[p[1:] for p in paths if p[0][3] == c] for c in (0, 1)]
    return all(kids[c] and _complete(kids[c]) for c in (0, 1))


# -- one leaf's bound -----------------------------------------------------------------------------

def _mean(V: I) -> I:
    return V.sum(axis=0) * I(float(V.lo.shape[0])).recip()


def _stack(rows: list[I]) -> I:
    return I(np.stack([r.lo for r in rows]), np.stack([r.hi for r in rows]))


def perturbation_bound(G: I, cG: float, fixed: list[I], free: list[I]) -> float:
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
    gmat = (matmul(G, Mt) - matmul(Mt, matmul(H, Ai))) * I(2.0)
    lin, e2 = I(0.0), I(0.0)
    for i, V in enumerate(free):
        g = gmat[:, len(fixed) + i]
        D = V - I(centres[i].lo[None, :], centres[i].hi[None, :])
        dots = (D * I(g.lo[None, :], g.hi[None, :])).sum(axis=1)
        lin = lin + I(max(float(dots.hi.max()), 0.0))
        e2 = e2 + I(float((D * D).sum(axis=1).hi.max()))
    mid = 0.5 * (A.lo + A.hi)
    lam = float(np.linalg.eigvalsh(mid).min())
    if not lam > 0:
        return np.inf
    for factor in [1 - 10.0 ** -j for j in range(13, 0, -1)] + [0.5]:   # the largest s^2 = factor lam proven
        mu = factor * lam
        if positive_definite(A - I(mu * np.eye(K))):
            break
    else:
        return np.inf
    s = float(_dn(np.sqrt(_dn(mu))))
    e = float(e2.sqrt().hi)
    if not e < s:
        return np.inf
    gap = I(s) - I(e)
    rem = I(3.0) * I(cG) * e2 * (gap * gap).recip()
    return float((phi + lin + rem).hi)


def subspace_bound(G: np.ndarray, trG: float, fixed: list[I], free: list[I]) -> float:
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


# -- a piece, a certificate ------------------------------------------------------------------------

@dataclass
class Verdict:
    valid: bool
    pieces: int = 0
    leaves: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.valid = False
        self.failures.append(why)

    def to_dict(self) -> dict:
        return {"valid": self.valid, "pieces": self.pieces, "leaves": self.leaves, "failures": self.failures,
                "notes": self.notes}


def _measure(W: np.ndarray) -> float:
    E = (W[1:] - W[0]).T
    return float(np.sqrt(max(np.linalg.det(E.T @ E), 0.0))) / (1 if E.shape[1] == 1 else 2)


def _part_measure(p: dict) -> float:
    if p["kind"] == "simplex":
        return _measure(np.asarray(p["W"], dtype=float))
    r0, r1, t0, t1 = p["box"]
    return (r1 - r0) * (t1 * t1 - t0 * t0) / 2 * np.linalg.norm(p["dwf"]) * np.linalg.norm(p["dwg"])


def _cell_measure(V: np.ndarray) -> float:
    if len(V) == 2:
        return _measure(V)
    return sum(_measure(V[[0, j, j + 1]]) for j in range(1, len(V) - 1))


def _part_codes(data: Data, p: dict, feats: list[list[int]], lat: list[int]) -> dict[int, I]:
    if p["kind"] == "simplex":
        j = p["row"]
        rows = [data.code(w, feats[lat[j]]) for w in p["W"]]
        return {j: _stack(rows)}
    f, g, mu = p["f"], p["g"], float(p["mu"])
    a = data.code(p["wf"], feats[lat[f]])
    df = data.code(p["dwf"], feats[lat[f]])
    dg = data.code(p["dwg"], feats[lat[g]])
    r0, r1, t0, t1 = p["box"]
    c1 = [a + df * (I(r) * I(t)) for r in (r0, r1) for t in (t0, t1)]
    c2 = [dg - df * (I(mu) * I(r)) for r in (r0, r1)]
    return {f: _stack(c1), g: _stack(c2)}


class _Reduced:
    """The fixed rows' span taken out (floats): U0 an orthonormal basis of the fixed codes, Q of its
    complement; phi(B) = tr(U0^T G U0) + tr(Q^T G Q Pi(Q^T B_free)) up to the stated allowance
    trG * 64 (n + K + 1) u (2 + kappa_fixed) (as bounds.rounding_allowance). Without fixed rows, Q = I and
    the allowance is 0 (then everything below is interval arithmetic)."""

    def __init__(self, G: I, trG: float, fixed: list[I], cG_of):
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
        self.G = matmul(matmul(I(Q.T), G), I(Q))
        self.phi0 = float((matmul(matmul(I(U0.T), G), I(U0)) * I(np.eye(U0.shape[1]))).sum().hi)
        self.allow = trG * 64 * (n + len(fixed) + 1) * 2 ** -53 * (2 + kappa)
        tr_r, norm_r = float((self.G * I(np.eye(Q.shape[1]))).sum().hi), spectral_norm_bound(self.G)
        self.cG_of = lambda k: min(tr_r, k * norm_r)

    def perturbation(self, free: list[I]) -> float:
        if self.Q is not None:
            free = [matmul(V, I(self.Q)) for V in free]
        return self.phi0 + perturbation_bound(self.G, self.cG_of(len(free)), [], free) + self.allow


def check_piece(data: Data, piece: dict, G: I, trG: float, cG_of, total, v: Verdict) -> None:
    name = json.dumps(piece["pattern"], separators=(",", ":"))
    rec = piece.get("record")
    if rec is None:
        v.fail(f"piece {name}: no record (status {piece.get('status')}, reason {piece.get('reason')})")
        return
    feats = [list(map(int, F)) for F in piece["pattern"]]
    lb = float(piece["lower_bound"])
    fixed = [data.code(f["w"], feats[f["latent"]]) for f in rec["fixed"] if feats[f["latent"]]]
    lat = [f["latent"] for f in rec["free"]]
    Gm = 0.5 * (G.lo + G.hi)
    for j, fr in enumerate(rec["free"]):                                    # 2. the cells
        V = np.asarray(fr["cell"], dtype=float)
        F = feats[fr["latent"]]
        Z = V @ data.W_p
        if np.any(np.abs(Z[:, F].sum(axis=1) - 1.0) > 1e-9):
            v.fail(f"piece {name}: latent {fr['latent']}'s cell vertices are not normalised")
        if data.threshold == 0.0:
            out = [d for d in range(Z.shape[1]) if d not in F]
            if np.any(Z[:, F] < -1e-9) or (out and np.any(Z[:, out] > 1e-9)):
                v.fail(f"piece {name}: latent {fr['latent']}'s cell vertices leave the closed cell")
            if V.shape[1] == 2 and not all(np.any(np.abs(z) <= 1e-9) for z in Z):
                v.fail(f"piece {name}: latent {fr['latent']}'s cell is not maximal (an end with no zero code)")
    if data.threshold != 0.0:
        v.notes.append(f"piece {name}: threshold > 0, the cells' extent is not checked")
    roots = rec["roots"]
    cells = np.prod([_cell_measure(np.asarray(f["cell"], dtype=float)) for f in rec["free"]]) if lat else 1.0
    covered = sum(np.prod([_part_measure(p) for p in node]) if node else 1.0 for node in roots)
    if abs(covered - cells) > MEASURE_RTOL * max(cells, 1e-300):                   # 1. the roots cover
        v.fail(f"piece {name}: the root nodes cover measure {covered:.17g} of {cells:.17g}")
    for node in roots:
        for p in node:
            if p["kind"] == "blowup":
                b = data.code(np.asarray(p["wg"]), feats[lat[p["g"]]]) - data.code(np.asarray(p["wf"]), feats[lat[p["f"]]]) * I(p["mu"])
                res = 0.5 * (b.lo + b.hi)
                if fixed:
                    X = np.stack([0.5 * (r.lo + r.hi) for r in fixed])
                    res = res - X.T @ np.linalg.lstsq(X.T, res, rcond=None)[0]
                scale = np.linalg.norm(data.code(np.asarray(p["wg"]), feats[lat[p["g"]]]).hi)
                if np.linalg.norm(res) > PARALLEL_CHECK * max(scale, 1e-300):
                    v.fail(f"piece {name}: a blow-up corner whose codes are not parallel ({np.linalg.norm(res):.3g})")
    red = _Reduced(G, trG, fixed, cG_of)
    by_root: dict[int, list] = {}
    for leaf in rec["leaves"]:
        by_root.setdefault(int(leaf["root"]), []).append(tuple(tuple(s) for s in leaf["path"]))
    for r in range(len(roots)):
        if r not in by_root or not _complete(by_root[r]):
            v.fail(f"piece {name}: the leaves of root {r} do not cover it (a leaf is missing or repeated)")
    for n_leaf, leaf in enumerate(rec["leaves"]):                               # 3. every leaf's bound
        v.leaves += 1
        node = _leaf_node(roots[int(leaf["root"])], [list(s) for s in leaf["path"]])
        codes: dict[int, I] = {}
        for p in node:
            codes.update(_part_codes(data, p, feats, lat))
        free = [codes[j] for j in range(len(lat))]
        bound = min(red.perturbation(free), subspace_bound(Gm, trG, fixed, free))
        claimed = float(leaf["bound"])
        if lb > 0 and float((total - iv.mpf(bound)).a) < lb:
            v.fail(f"piece {name}: leaf {n_leaf} (root {leaf['root']}): ||R||^2 - its recomputed bound {bound:.17g} "
                   f"is below the piece's lower bound {lb:.17g}")
        elif bound > claimed + CONSISTENCY * trG:
            v.fail(f"piece {name}: leaf {n_leaf} (root {leaf['root']}): recomputed bound {bound:.17g} exceeds the "
                   f"claimed {claimed:.17g}")
    v.pieces += 1


def loss_interval(data: Data, W_E, W_D, pattern) -> object:
    """L~ at (W_E, W_D) in mpmath.iv (eq. 11; the passed codes are the pattern's)."""
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


def _reads_back(inst: dict, data: Data, W_E: np.ndarray, pattern) -> bool:
    """Does W_E fire exactly the pattern's features (relu, jumprelu: z > theta; topk_relu: the k largest
    positive codes of each feature's column, strictly separated)?"""
    Z = W_E @ data.W_p
    want = np.zeros(Z.shape, dtype=bool)
    for i, F in enumerate(pattern):
        want[i, list(F)] = True
    act = inst.get("activation", {})
    name = act.get("name")
    if name in ("relu", "jumprelu"):
        got = Z > data.threshold
    elif name == "topk_relu":
        k = int(act.get("k", 1))
        order = np.sort(Z, axis=0)[::-1]
        kth = order[min(k, Z.shape[0]) - 1]
        nxt = order[k] if k < Z.shape[0] else np.full(Z.shape[1], -np.inf)
        if np.any(kth <= nxt):
            return False
        got = (Z >= kth[None, :]) & (Z > 0)
    else:
        return False
    return bool(np.array_equal(got, want))


def spectral_norm_bound(G: I) -> float:
    """An upper bound on ||G||_2 (G symmetric PSD): lam I - G proven positive definite (interval Cholesky),
    lam slightly above the float estimate; else the Frobenius norm."""
    mid = 0.5 * (G.lo + G.hi)
    est = float(np.linalg.eigvalsh(mid).max())
    n = mid.shape[0]
    for factor in (1 + 1e-12, 1 + 1e-9, 1 + 1e-6):
        lam = est * factor + 1e-300
        if positive_definite(I(lam * np.eye(n)) - G):
            return lam
    return float(np.sqrt(np.maximum(G.lo ** 2, G.hi ** 2).sum()) * (1 + 1e-12))


def check(cert: dict) -> Verdict:
    """Check a certificate (the parsed JSON of `certify --certificate`); see the module docstring."""
    v = Verdict(valid=True)
    if cert.get("format") != FORMAT:
        v.fail(f"not a certificate file (format {cert.get('format')!r}, expected {FORMAT!r})")
        return v
    data = Data.of(cert["instance"])
    G = data.G()
    trG = float(sum(G.hi[i, i] for i in range(G.hi.shape[0])))
    total = iv.mpf(0)                     # ||R||^2 in mpmath.iv, term by term as the certifier sums it
    for d in range(data.W_p.shape[1]):
        col = iv.mpf(0)
        for r in range(data.W_r.shape[0]):
            col += iv.mpf(float(data.W_r[r, d])) ** 2
        total += iv.mpf(float(data.M[d])) * col
    norm2 = spectral_norm_bound(G)

    def cG_of(K: int) -> float:
        return min(trG, K * norm2)

    lows = []
    for piece in cert["pieces"]:
        check_piece(data, piece, G, trG, cG_of, total, v)
        lows.append(float(piece["lower_bound"]))
    low = min(lows, default=0.0)
    if float(cert["lower_bound"]) > low:
        v.fail(f"the global lower bound {cert['lower_bound']} exceeds the least piece lower bound {low}")
    mn = cert.get("minimiser")
    if cert.get("certified"):
        if mn is None:
            v.fail("certified without a minimiser")
        else:
            val = loss_interval(data, mn["W_E"], mn["W_D"], mn["pattern"])
            gap = val.b - iv.mpf(float(cert["lower_bound"])).a
            thresh = iv.mpf(float(cert["rtol"])) * iv.mpf(max(float(val.a), 0.0)) + iv.mpf(float(cert["atol"]))
            if not gap.b <= thresh.a:
                v.fail(f"value {float(val.b):.17g} and lower bound {cert['lower_bound']} do not meet rtol {cert['rtol']}")
            if not _reads_back(cert["instance"], data, np.asarray(mn["W_E"], dtype=float), mn["pattern"]):
                v.fail("the minimiser's encoder does not show its pattern (its loss is not a value of L~)")
    return v


def check_file(path: str | Path) -> Verdict:
    return check(json.loads(Path(path).read_text()))
