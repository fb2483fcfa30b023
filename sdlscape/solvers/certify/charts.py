"""The parametrisations ("charts") of a branch-and-bound node: plain simplices and blow-up charts.

A node is a tuple of parts; each part owns one or two free rows and says, for the bound, which
convex hulls its reduced code rows stay in (bounds.node_bound only needs rows b_i in conv(V_i)).

Simplex: one free row over a simplex of its cell polytope; the code row is linear in the encoder row,
so it stays in the hull of the vertices' codes.

BlowUp (CERTIFY.md sec. 2; n_p = 2): two free rows f, g whose segments meet at a *degenerate corner*,
b_f(0) = a and b_g(0) = mu a (parallel reduced codes: B loses rank, W_D -> infinity, and phi is
discontinuous there, so no bound on a box containing the corner can close). With s_f, s_g in [0, 1]
the distances from the corner, b_f = a + s_f d_f, b_g = mu a + s_g d_g, and the chart
s_f = rho tau, s_g = tau (rho, tau in [0, 1]; the other half of the square is the chart with f and g
swapped) gives, for tau > 0,

    span{b_f, b_g} = span{b_f, (b_g - mu b_f) / tau} = span{a + rho tau d_f,  d_g - mu rho d_f}.

The two chart rows are multi-affine in (rho, tau), so over a box each stays in the hull of its values
at the box's corners (multilinear interpolation weights are non-negative and sum to 1), and at tau = 0
the chart matrix has full rank (unless d_g - mu rho d_f is parallel to a: a second-order degeneracy).
phi depends only on the row space, so the bound of the chart rows bounds phi over the box's points
with tau > 0 (the open piece); tau = 0 is the corner's closure, whose values are limits.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sdlscape.solvers.certify.reduce import ReducedPiece

PARALLEL_TOL = 1e-9
"""Two reduced corner codes are parallel when |sin angle| is below this."""
ZERO_CODE_TOL = 1e-12
"""A reduced code row shorter than this (relative to its unreduced length) lies in the fixed span: exactly 0."""
NEAR_FACE = 1e-6
"""A blow-up node touching tau = 0 also offers the point at tau = NEAR_FACE * tau_1 (close to the corner's limit)."""


def _snap(red: ReducedPiece, row: int, W: np.ndarray) -> np.ndarray:
    """Reduced codes of encoder points W (n_v x n_p); codes in the fixed span (reduced length ~ rounding) -> 0."""
    V = W @ red.maps[row].T
    full = np.linalg.norm(W @ red.code_maps_full[row].T, axis=1)
    V[np.linalg.norm(V, axis=1) <= ZERO_CODE_TOL * np.maximum(full, 1e-300)] = 0.0
    return V


@dataclass(frozen=True, eq=False)
class Simplex:
    row: int
    W: np.ndarray                        # encoder vertices (n_v x n_p) of the simplex

    def codes(self, red: ReducedPiece) -> dict[int, np.ndarray]:
        return {self.row: _snap(red, self.row, self.W)}

    def centre(self) -> dict[int, np.ndarray]:
        return {self.row: self.W.mean(axis=0)}

    def near_face(self, red: ReducedPiece):
        return None

    def split(self, red: ReducedPiece) -> tuple[tuple[Simplex, Simplex], tuple[int, int]]:
        """Bisect the longest code-space edge (a, b): child 0 moves vertex a to the midpoint, child 1 vertex b."""
        V = self.codes(red)[self.row]
        a, b = max(itertools.combinations(range(len(V)), 2), key=lambda ab: np.linalg.norm(V[ab[0]] - V[ab[1]]))
        return self.children(a, b), (a, b)

    def children(self, a: int, b: int) -> tuple[Simplex, Simplex]:
        mid = 0.5 * (self.W[a] + self.W[b])
        out = []
        for drop in (a, b):
            W = self.W.copy()
            W[drop] = mid
            out.append(Simplex(self.row, W))
        return out[0], out[1]

    def to_json(self) -> dict:
        return {"kind": "simplex", "row": self.row, "W": self.W.tolist()}


@dataclass(frozen=True, eq=False)
class BlowUp:
    f: int                               # the row with s_f = rho tau
    g: int                               # the row with s_g = tau
    wf: np.ndarray                       # encoder corner of row f and its direction: w_f(s) = wf + s dwf
    dwf: np.ndarray
    wg: np.ndarray
    dwg: np.ndarray
    mu: float                            # b_g(corner) = mu b_f(corner)
    box: tuple[float, float, float, float]    # rho_0, rho_1, tau_0, tau_1

    def _corners(self):
        r0, r1, t0, t1 = self.box
        return [(r, t) for r in (r0, r1) for t in (t0, t1)]

    def codes(self, red: ReducedPiece) -> dict[int, np.ndarray]:
        a = red.maps[self.f] @ self.wf
        df = red.maps[self.f] @ self.dwf
        dg = red.maps[self.g] @ self.dwg
        C = self._corners()
        return {self.f: np.array([a + r * t * df for r, t in C]),
                self.g: np.array([dg - self.mu * r * df for r, _ in C])}

    def point(self, rho: float, tau: float) -> dict[int, np.ndarray]:
        return {self.f: self.wf + rho * tau * self.dwf, self.g: self.wg + tau * self.dwg}

    def centre(self) -> dict[int, np.ndarray]:
        r0, r1, t0, t1 = self.box
        return self.point(0.5 * (r0 + r1), 0.5 * (t0 + t1))

    def near_face(self, red: ReducedPiece):
        """A point of the box next to the corner's closure tau = 0: (encoder rows, chart code rows), both by
        row; None when the box does not touch tau = 0."""
        r0, r1, t0, t1 = self.box
        if t0 > 0:
            return None
        rho, tau = 0.5 * (r0 + r1), NEAR_FACE * t1
        df = red.maps[self.f] @ self.dwf
        codes = {self.f: red.maps[self.f] @ self.wf + rho * tau * df,
                 self.g: red.maps[self.g] @ self.dwg - self.mu * rho * df}
        return self.point(rho, tau), codes

    def split(self, red: ReducedPiece) -> tuple[tuple[BlowUp, BlowUp], tuple[int, int]]:
        """Bisect rho (axis 0) or tau (axis 1): child 0 is the lower half."""
        r0, r1, t0, t1 = self.box
        axis = 0 if (r1 - r0) * (abs(self.mu) + t1) >= (t1 - t0) * r1 else 1
        return self.children(axis), (axis, -1)

    def children(self, axis: int, _unused: int = -1) -> tuple[BlowUp, BlowUp]:
        r0, r1, t0, t1 = self.box
        if axis == 0:
            m = 0.5 * (r0 + r1)
            boxes = ((r0, m, t0, t1), (m, r1, t0, t1))
        else:
            m = 0.5 * (t0 + t1)
            boxes = ((r0, r1, t0, m), (r0, r1, m, t1))
        a, b = (BlowUp(self.f, self.g, self.wf, self.dwf, self.wg, self.dwg, self.mu, bx) for bx in boxes)
        return a, b

    def to_json(self) -> dict:
        return {"kind": "blowup", "f": self.f, "g": self.g, "wf": self.wf.tolist(), "dwf": self.dwf.tolist(),
                "wg": self.wg.tolist(), "dwg": self.dwg.tolist(), "mu": self.mu, "box": list(self.box)}


def chart_rows(red: ReducedPiece, node: tuple) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Per free row (in row order): the vertex codes of its hull; and the encoder rows at the node centre."""
    V: dict[int, np.ndarray] = {}
    W: dict[int, np.ndarray] = {}
    for part in node:
        V.update(part.codes(red))
        W.update(part.centre())
    return [V[i] for i in range(red.k)], W


def corner_pairs(red: ReducedPiece) -> list[tuple[int, int, int, int, float]]:
    """Degenerate corners (i, e_i, j, e_j, mu): end e_i of row i and end e_j of row j have parallel non-zero
    reduced codes, b_j = mu b_i (n_p = 2 segments only)."""
    if red.piece.instance.n_p != 2:
        return []
    ends = [_snap(red, i, c.vertices) for i, c in enumerate(red.free)]
    out = []
    for i, j in itertools.combinations(range(red.k), 2):
        for ei in (0, 1):
            for ej in (0, 1):
                x, y = ends[i][ei], ends[j][ej]
                nx, ny = np.linalg.norm(x), np.linalg.norm(y)
                if nx == 0 or ny == 0:
                    continue
                xh, yh = x / nx, y / ny
                if np.linalg.norm(xh - (xh @ yh) * yh) < PARALLEL_TOL:      # |sin angle| (not sqrt(1 - cos^2))
                    out.append((i, ei, j, ej, float(y @ x) / float(x @ x)))
    return out


def root_nodes(red: ReducedPiece) -> tuple[list[tuple], int]:
    """The root nodes covering the piece, with blow-up charts at every degenerate corner that can take one;
    and how many corners are left without a chart (three rows parallel at one corner). Two free rows of an
    n_p = 3 piece whose cells meet get the span chart instead (charts_span.py)."""
    from sdlscape.solvers.certify.charts_span import span_roots

    span = span_roots(red)
    if span is not None:
        return span, 0
    pairs = corner_pairs(red)
    in_pair = {i for p in pairs for i in (p[0], p[2])}
    halves: list[list[tuple[int | None, np.ndarray]]] = []
    for i, c in enumerate(red.free):
        if i in in_pair:              # split at the midpoint: each half holds at most one end's corner
            V = c.vertices
            mid = 0.5 * (V[0] + V[1])
            halves.append([(0, np.array([V[0], mid])), (1, np.array([mid, V[1]]))])
        else:
            halves.append([(None, c.vertices[list(s)]) for s in c.simplices])
    nodes, uncharted = [], 0
    for combo in itertools.product(*halves):
        active = [p for p in pairs if combo[p[0]][0] == p[1] and combo[p[2]][0] == p[3]]
        used = [r for p in active for r in (p[0], p[2])]
        if len(used) != len(set(used)):
            uncharted += 1
            active = []
        charted: list[list] = []
        for i, ei, j, ej, mu in active:
            wi, wj = combo[i][1], combo[j][1]
            ci, oi = (wi[0], wi[1]) if ei == 0 else (wi[1], wi[0])
            cj, oj = (wj[0], wj[1]) if ej == 0 else (wj[1], wj[0])
            box = (0.0, 1.0, 0.0, 1.0)
            charted.append([BlowUp(i, j, ci, oi - ci, cj, oj - cj, mu, box),
                            BlowUp(j, i, cj, oj - cj, ci, oi - ci, 1.0 / mu, box)])
        rest = [Simplex(i, combo[i][1]) for i in range(red.k) if i not in used]
        for choice in itertools.product(*charted):
            nodes.append(tuple(rest) + tuple(choice))
    return nodes, uncharted
