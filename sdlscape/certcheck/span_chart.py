"""Span-chart parts of a certificate (kind "span": two free rows whose n_p = 3 cells meet), checked from the data.

A span part replaces free row g by a direction u of L = (Im_f + Im_g) cap ker(lambda), lambda(a) = sum_d a_d on
unscaled codes: span{b_f, b_g} = span{b_f, u} with u = b_g / lambda(b_g) - b_f / lambda(b_f) for every pair of
rows in the two cells' cones (lambda > 0 there), and phi(span{b_f}) <= phi(span{b_f, u}) when they are parallel.
So a root set whose partner-row simplices cover f's cell and whose span parts cover every direction of L up to
sign and scale bounds phi over the piece. The checker rebuilds the basis itself from the certificate's `gens`
(masked rows of W_p: side 0 the partner's features, side 1 row g's) and `pivot`: it verifies exactly (fractions)
that the generators are independent and span every masked W_p row of both feature sets and that
lambda(g_pivot) != 0; then E_j = g_j - (lambda(g_j) / lambda(g_pivot)) g_pivot (j != pivot) is a basis of L,
evaluated in interval arithmetic (D-scaled). Every non-zero u of L is, up to sign and scale, on the cube face of
its largest coefficient: u = E_a + sum_{j != a} c_j E_j with c in [-1, 1]^(r-1) -- the roots must hold, for
every axis a, full boxes whose partner simplices cover the partner's cell (by measure).

A second bound on such a node (two free rows, no fixed row): the Pluecker bound. w = x ^ u is a convex
combination of the vertex wedges W_k (x and u are convex combinations of their vertices, and ^ is bilinear),
and tr(G Pi) = <w, D_G w> / <w, w> with D_G(a ^ b) = Ga ^ b + a ^ Gb; with c >= 0 the weights,
c^T K_A c <= lambda c^T K_I c whenever every entry of K_A - lambda K_I is <= 0, so where every entry of
K_I = W W^T is positive, phi <= max_kl (K_A)_kl / (K_I)_kl (evaluated in intervals).
"""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from sdlscape.certcheck.intervals import Iv, matmul
from sdlscape.certcheck.span import independent_rows


def children(part: dict, c: int) -> tuple[dict, dict]:
    box = [list(b) for b in part["box"]]
    lo, hi = box[c]
    m = 0.5 * (lo + hi)
    a, b = [list(x) for x in box], [list(x) for x in box]
    a[c], b[c] = [lo, m], [m, hi]
    return {**part, "box": a}, {**part, "box": b}


def widest(part: dict) -> tuple[int, float]:
    widths = [hi - lo for lo, hi in part["box"]]
    if not widths:
        return -1, 0.0
    c = int(np.argmax(widths))
    return c, float(widths[c]) / 2.0


def _masked(W_p: np.ndarray, F) -> list[np.ndarray]:
    m = np.zeros(W_p.shape[1])
    m[list(F)] = 1.0
    return [W_p[j] * m for j in range(W_p.shape[0])]


def basis(data, part: dict, feats, lat) -> Iv:
    """The D-scaled basis E (r-1 rows, intervals) of L from the part's gens and pivot (module docstring)."""
    sides = (feats[lat[part["partner"]]], feats[lat[part["row"]]])
    rows = [_masked(data.W_p, sides[s])[j] for s, j in part["gens"]]
    lam = [Iv(r).sum() for r in rows]
    p = int(part["pivot"])
    D = data.D()
    out = []
    for j, r in enumerate(rows):
        if j == p:
            continue
        coef = lam[j] * lam[p].recip()
        out.append((Iv(r) - Iv(rows[p]) * coef) * D)
    return Iv(np.stack([e.lo for e in out]), np.stack([e.hi for e in out]))


def codes(data, part: dict, feats, lat) -> Iv:
    """The corners u = E_a + sum_j c_j E_j of the part's box (intervals)."""
    E = basis(data, part, feats, lat)
    a = int(part["axis"])
    others = [j for j in range(E.lo.shape[0]) if j != a]
    corners = []
    for cs in itertools.product(*[tuple(b) for b in part["box"]]) if others else [()]:
        u = E[a]
        for c, j in zip(cs, others):
            u = u + E[j] * Iv(float(c))
        corners.append(u)
    return Iv(np.stack([u.lo for u in corners]), np.stack([u.hi for u in corners]))


def check_basis(data, part: dict, feats, lat) -> str | None:
    """None when gens are independent, span both feature sets' masked rows, and lambda(g_pivot) != 0 (exact)."""
    sides = (feats[lat[part["partner"]]], feats[lat[part["row"]]])
    exact = [[[Fraction(float(x)) for x in r] for r in _masked(data.W_p, F)] for F in sides]
    gens = [exact[s][j] for s, j in part["gens"]]
    allrows = exact[0] + exact[1]
    if len(independent_rows(gens)) != len(gens):
        return "its generators are not independent"
    if len(independent_rows(allrows)) != len(gens):
        return "its generators do not span both cells' images"
    p = int(part["pivot"])
    if not 0 <= p < len(gens) or sum(gens[p], Fraction(0)) == 0:
        return "its pivot generator has lambda = 0"
    return None


def check_roots(data, roots: list, feats, lat, part_measure, cell_measures: dict[int, float],
                rtol: float) -> list[str]:
    """Coverage of a piece whose roots carry span parts (module docstring); [] when covered."""
    spans = [[p for p in node if p["kind"] == "span"] for node in roots]
    if any(len(s) != 1 for s in spans):
        return ["every root of a span-charted piece needs exactly one span part"]
    first = spans[0][0]
    key = (first["row"], first["partner"], json_key(first["gens"]), first["pivot"])
    bad = check_basis(data, first, feats, lat)
    if bad:
        return [f"the span chart's basis: {bad}"]
    r = len(first["gens"]) - 1
    per_axis: dict[int, float] = {}
    for node, (sp,) in zip(roots, spans):
        if (sp["row"], sp["partner"], json_key(sp["gens"]), sp["pivot"]) != key:
            return ["the span parts of the roots do not share one basis"]
        if len(sp["box"]) != r - 1 or any(list(map(float, b)) != [-1.0, 1.0] for b in sp["box"]):
            return ["a span root's box is not a full cube face [-1, 1]^(r-1)"]
        rows = sorted(p["row"] for p in node if p["kind"] == "simplex")
        if rows != sorted(set(range(len(lat))) - {sp["row"]}):
            return ["a span root does not hold one simplex for every other free row"]
        m = float(np.prod([part_measure(p) for p in node if p["kind"] == "simplex"]))
        per_axis[int(sp["axis"])] = per_axis.get(int(sp["axis"]), 0.0) + m
    if sorted(per_axis) != list(range(r)):
        return [f"the span roots cover the cube faces {sorted(per_axis)}, not 0..{r - 1}"]
    want = float(np.prod([v for i, v in cell_measures.items() if i != first["row"]]))
    for a, m in per_axis.items():
        if abs(m - want) > rtol * max(want, 1e-300):
            return [f"the span roots of face {a} cover measure {m:.17g} of {want:.17g}"]
    return []


def json_key(gens) -> tuple:
    return tuple(tuple(int(x) for x in g) for g in gens)


def wedge_operator(G: Iv) -> Iv:
    """D_G on Lambda^2 (basis e_a ^ e_b, a < b), intervals."""
    m = G.lo.shape[0]
    pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]
    idx = {p: i for i, p in enumerate(pairs)}
    lo, hi = np.zeros((len(pairs), len(pairs))), np.zeros((len(pairs), len(pairs)))
    A = Iv(lo, hi)
    for j, (a, b) in enumerate(pairs):
        for c in range(m):
            for (p, q, gv) in ((c, b, G[c, a]), (a, c, G[c, b])):
                if p == q:
                    continue
                i = idx[(min(p, q), max(p, q))]
                term = gv if p < q else Iv(0.0) - gv
                s = Iv(A.lo[i, j], A.hi[i, j]) + term
                A.lo[i, j], A.hi[i, j] = s.lo, s.hi
    return A


def wedge_bound(A: Iv, X: Iv, U: Iv) -> float:
    """The Pluecker bound over x in conv(rows of X), u in conv(rows of U) (module docstring); inf if it does not apply."""
    m = X.lo.shape[1]
    pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]
    rows = []
    for i in range(X.lo.shape[0]):
        for k in range(U.lo.shape[0]):
            x, u = X[i], U[k]
            rows.append([x[a] * u[b] - x[b] * u[a] for a, b in pairs])
    W = Iv(np.array([[float(w.lo) for w in r] for r in rows]), np.array([[float(w.hi) for w in r] for r in rows]))
    KI = matmul(W, W.T)
    if not np.all(KI.lo > 0):
        return np.inf
    KA = matmul(matmul(W, A), W.T)
    return float((KA * KI.recip()).hi.max())
