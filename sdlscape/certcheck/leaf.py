"""One leaf's bound on phi(B) = tr(G Pi(B)), recomputed from the certificate's data (see the package docstring)."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from sdlscape.certcheck.intervals import Iv, _diag, _dn, inverse, matmul, positive_definite, spectral_norm_bound
from sdlscape.certcheck.span import Generators, image_rank, independent_rows, kyfan_on_span


@dataclass
class Data:
    W_p: np.ndarray
    W_r: np.ndarray
    M: np.ndarray
    threshold: float
    activation: str = ""
    k: int = 0                       # TopK's k (0 for the other activations)

    @classmethod
    def of(cls, inst: dict) -> Data:
        W_p = np.asarray(inst["W_p"], dtype=float)
        W_r = np.asarray(inst.get("W_r", W_p) if inst.get("W_r") is not None else W_p, dtype=float)
        M = np.asarray(inst.get("M") if inst.get("M") is not None else np.ones(W_p.shape[1]), dtype=float)
        act = inst.get("activation", {})
        return cls(W_p, W_r, M, float(act.get("theta", 0.0) or 0.0) if act.get("name") == "jumprelu" else 0.0,
                   str(act.get("name", "")), int(act.get("k", 0) or 0))

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


class SpanBound:
    """The exact-rank subspace bound of a piece's leaves (span.py). F0, the span of the fixed generators,
    contains the true fixed rows' span (see `fixed_generators`); each leaf adds its free rows' generators.
    Two bounds: tr(G on F0) + the top-k on T minus F0 (phi is monotone in the row space), and, when the
    fixed latents add fewer than dim F0 dimensions (an image stands in for a row), the top-(d_fixed + k) on T."""

    def __init__(self, G: Iv, cap: float, feats: list[list[int]], lat: list[int], base: Generators, d_fixed: int):
        self.G, self.feats, self.lat, self.cap = G, feats, lat, cap
        self.base, self.d_fixed = base, d_fixed
        self.f0 = len(independent_rows(base.exact))

    def bound(self, node: list[dict]) -> float:
        g = copy.copy(self.base)
        g.exact, g.rows = list(self.base.exact), list(self.base.rows)
        for p in node:
            if p["kind"] == "simplex":
                for w in p["W"]:
                    g.add_code(w, self.feats[self.lat[p["row"]]])
            elif p["kind"] == "span":        # u lies in Im_f + Im_g
                g.add_image(self.feats[self.lat[p["partner"]]])
                g.add_image(self.feats[self.lat[p["row"]]])
            else:
                g.add_image(self.feats[self.lat[p["f"]]])
                g.add_image(self.feats[self.lat[p["g"]]])
        Z, k = g.basis(len(self.base.exact)), len(self.lat)
        b = kyfan_on_span(self.G, Z, self.f0, k, self.cap)
        if self.d_fixed < self.f0:
            b = min(b, kyfan_on_span(self.G, Z, 0, self.d_fixed + k, self.cap))
        return b


def _exact_ray(data: Data, F: list[int]) -> list[float] | None:
    """For a ReLU cell {w : w.p_d >= 0 (d in F), w.p_d <= 0 (d not in F)} in R^2: if two of its normals are
    exactly antiparallel (exact rational test), the cell lies on the line orthogonal to them, and every row of
    the cell has the code direction of w* = rot90(a) (exact floats; the sign does not change the span)."""
    P = data.W_p
    normals = [[Fraction(float(x)) * (-1 if d in F else 1) for x in P[:, d]] for d in range(P.shape[1])]
    for i in range(len(normals)):
        for j in range(i + 1, len(normals)):
            a, b = normals[i], normals[j]
            if a[0] * b[1] - a[1] * b[0] == 0 and a[0] * b[0] + a[1] * b[1] < 0:
                return [float(a[1]), float(-a[0])]
    return None


def fixed_generators(data: Data, feats: list[list[int]], fixed: list[dict], relu: bool
                     ) -> tuple[Generators, int, list[dict] | None, list[str]]:
    """Generators of a subspace F0 that contains the true fixed rows' span, whatever their encoder rows in
    their cells, and the dimensions the fixed latents add (<= dim F0). Feature set by feature set F:
    - the certificate's rows span Im_F exactly (a rank-1 F, or c >= rank Im_F latents on one cell): them;
    - a ReLU one-ray cell (n_p = 2, two exactly antiparallel normals): the exact ray w* (`_exact_ray`), which
      replaces the certificate's float row (off the ray by rounding);
    - otherwise Im_F itself, with min(c, rank Im_F) dimensions.
    Also the fixed rows for the perturbation bound: the resolved ones, or None when some F fell to its image
    (the perturbation bound needs the true fixed span, up to a superset of it)."""
    gen = Generators(data.W_p, data.M, data.D())
    groups: dict[tuple, list[dict]] = {}
    for f in fixed:
        if feats[f["latent"]]:
            groups.setdefault(tuple(sorted(feats[f["latent"]])), []).append(f)
    rows: list[dict] | None = [f for f in fixed if not feats[f["latent"]]]
    d_fixed, notes = 0, []
    for F, fs in groups.items():
        rank = image_rank(data.W_p, data.M, F)
        codes = [gen.code(f["w"], F)[0] for f in fs]
        if len(independent_rows(codes)) == rank:
            chosen = fs
        else:
            ray = _exact_ray(data, list(F)) if relu and data.W_p.shape[0] == 2 else None
            chosen = [{**f, "w": ray} for f in fs] if ray is not None else None
        if chosen is None:
            gen.add_image(F)
            d_fixed += min(len(fs), rank)
            rows = None
            notes.append(f"fixed latents {[f['latent'] for f in fs]} stand for their image (rank {rank})")
            continue
        for f in chosen:
            gen.add_code(f["w"], F)
        d_fixed += len(independent_rows([gen.code(f["w"], F)[0] for f in chosen]))
        if rows is not None:
            rows.extend(chosen)
        if chosen is not fs:
            notes.append(f"fixed latents {[f['latent'] for f in fs]}: a one-ray cell, its exact ray {chosen[0]['w']}")
    return gen, d_fixed, rows, notes


def _basis(X: np.ndarray, rel: float) -> np.ndarray:
    """Orthonormal basis (columns) of the row span of X (singular values above rel * the largest): floats, for
    the perturbation bound's fixed span (the allowance of _Reduced); the subspace bound decides ranks exactly."""
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
    if p["kind"] == "span":
        from sdlscape.certcheck.span_chart import codes

        return {p["row"]: codes(data, p, feats, lat)}
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


