"""Span charts: two free rows whose cells meet (n_p = 3; two latents on one cell, nested cells, shared edges).

Where the normalised code rows b_f in P_f and b_g in P_g can coincide (P_f and P_g meet; normalised codes are
parallel only if equal), B loses rank on a whole set and phi is discontinuous there: no box of (b_f, b_g)
containing such a point closes. This chart replaces row g by a *direction*: for b_g != b_f,

    span{b_f, b_g} = span{b_f, u},   u = b_g / lambda(b_g) - b_f / lambda(b_f),

lambda(a) = sum_d a_d on unscaled codes (each row's normalisation: lambda = 1 on its cell). So u lies in
L = (Im_f + Im_g) cap ker(lambda), and b_f never is in L (lambda(b_f) = 1): the chart matrix [b_f; u] has full
rank everywhere. phi depends only on the span, and only up to the sign and scale of u, so u ranges over the
faces of a cube in a basis E of L: u = E_a + sum_{j != a} c_j E_j, c in [-1, 1]^(r-1), a = 0..r-1 (every
non-zero u of L is, up to sign and scale, on the face of its largest coefficient). b_f = b_g is covered too:
phi(span{b_f}) <= phi(span{b_f, u}) for every u (G is PSD).

The chart is a *relaxation* (b_f and u range independently): its sup bounds the piece's sup from above. It is
exact for two latents on one cell (every (b_f, u) with b_f inside P is realised by b_g = b_f + t u, t small; the
rest are limits); for other pairs it can be loose, and the certifier picks the role (which row keeps its cell)
whose relaxed sup is smaller on a few sample points.

The basis is fixed by exact data, so that the checker (sdlscape.certcheck) rebuilds it: the generators are the
rows of W_p masked to F_f, then to F_g (unscaled; `gens` keeps an independent subset spanning them all), and
E_j = g_j - (lambda(g_j) / lambda(g_p)) g_p (j != pivot p), D-scaled.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from sdlscape.solvers.certify.reduce import ReducedPiece

INWARD = (1e-9, 3e-9, 1e-8, 3e-8, 1e-7, 1e-6)
"""A polished closure point is moved this far (relative) towards the cell's centroid before its partner is built."""
CHORD_MIN = 1e-12
"""A chord shorter than this (relative) is a point: no partner row."""
MEET_TOL = 1e-9
"""Two cells meet when their normalised code polytopes are closer than this (an LP, l1 distance)."""


def _generators(red: ReducedPiece, f: int, g: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """(side, W_p row) of an independent subset of the masked W_p rows (side 0: F_f, 1: F_g), and the rows.
    Independence is decided over fractions (the masked rows are floats, so exact rationals): a tolerance would
    drop the second of two features 1e-7 rad apart and with it a direction of L, which the relaxation needs."""
    from fractions import Fraction

    from sdlscape.certcheck.span import independent_rows

    inst = red.piece.instance
    cand, rows = [], []
    for side, row in enumerate((f, g)):
        mask = np.zeros(inst.n)
        mask[list(red.free[row].features)] = 1.0
        for j in range(inst.n_p):
            cand.append((side, j))
            rows.append(inst.W_p[j] * mask)
    keep = independent_rows([[Fraction(float(x)) for x in r] for r in rows])
    return [cand[i] for i in keep], np.array([rows[i] for i in keep])


def span_basis(red: ReducedPiece, f: int, g: int) -> tuple[list[tuple[int, int]], int, np.ndarray]:
    """gens, pivot and the reduced, D-scaled basis E (r x m) of L (module docstring)."""
    gens, Gm = _generators(red, f, g)
    lam = Gm.sum(axis=1)
    p = int(np.argmax(np.abs(lam) / np.linalg.norm(Gm, axis=1)))
    D = np.sqrt(red.piece.instance.M)
    E = [(Gm[j] - (lam[j] / lam[p]) * Gm[p]) * D for j in range(len(gens)) if j != p]
    return gens, p, np.array([red.Q.T @ e for e in E])


@dataclass(frozen=True, eq=False)
class SpanDir:
    """Row g replaced by the direction u = E_axis + sum_j c_j E_j over a box of c (the other coordinates)."""

    row: int                             # g
    partner: int                         # f: the row that keeps its cell (a Simplex part)
    gens: tuple[tuple[int, int], ...]
    pivot: int
    axis: int
    box: tuple[tuple[float, float], ...]
    E: np.ndarray                        # (r x m) reduced basis, floats
    same_cell: bool

    def _others(self) -> list[int]:
        return [j for j in range(len(self.E)) if j != self.axis]

    def codes(self, red: ReducedPiece) -> dict[int, np.ndarray]:
        others = self._others()
        corners = [self.E[self.axis] + sum(c * self.E[j] for c, j in zip(cs, others))
                   for cs in itertools.product(*self.box)] if others else [self.E[self.axis]]
        return {self.row: np.array(corners)}

    def direction(self) -> np.ndarray:
        others = self._others()
        return self.E[self.axis] + sum(0.5 * (lo + hi) * self.E[j] for (lo, hi), j in zip(self.box, others))

    def centre(self) -> dict[int, np.ndarray]:
        return {}

    def near_face(self, red: ReducedPiece):
        return None

    def partner_row(self, red: ReducedPiece, w_f: np.ndarray) -> np.ndarray | None:
        """Two latents on one cell: an encoder row of g in the cell with span{b_f, b_g} = span{b_f, u} (u at the
        box centre), g = w_f + t d on the longer side of the chord through w_f; None otherwise."""
        return _chord_partner(red, self.row, w_f, self.direction()) if self.same_cell else None

    def split(self, red: ReducedPiece):
        others = self._others()
        widths = [(hi - lo) * float(np.linalg.norm(self.E[j])) for (lo, hi), j in zip(self.box, others)]
        c = int(np.argmax(widths))
        return self.children(c), (c, -1)

    def children(self, c: int, _unused: int = -1):
        lo, hi = self.box[c]
        m = 0.5 * (lo + hi)
        out = []
        for b in ((lo, m), (m, hi)):
            box = self.box[:c] + (b,) + self.box[c + 1:]
            out.append(SpanDir(self.row, self.partner, self.gens, self.pivot, self.axis, box, self.E, self.same_cell))
        return out[0], out[1]

    def to_json(self) -> dict:
        return {"kind": "span", "row": self.row, "partner": self.partner, "gens": [list(g) for g in self.gens],
                "pivot": self.pivot, "axis": self.axis, "box": [list(b) for b in self.box]}


def _chord_partner(red: ReducedPiece, g: int, w_f: np.ndarray, u: np.ndarray) -> np.ndarray | None:
    """Two latents on one cell: w_f + t d (d the encoder direction of u) halfway along the longer side of the chord
    of the cell through w_f; None when the chord is a point."""
    d = np.linalg.lstsq(red.maps[g], u, rcond=None)[0]
    A = red.free[g].A
    slack, rate = -(A @ w_f), A @ d
    best = None
    for sgn in (1.0, -1.0):
        r = sgn * rate
        t = min((s / x for s, x in zip(slack, r) if x > 0), default=1.0)
        if best is None or t > best[0]:
            best = (t, sgn)
    if not best[0] > CHORD_MIN * max(1.0, float(np.abs(w_f).max())) / max(float(np.abs(d).max()), 1e-300):
        return None
    return w_f + 0.5 * best[0] * best[1] * d


def polished_points(red: ReducedPiece, roots: list[tuple], starts: int = 4) -> list[np.ndarray]:
    """Two latents on one cell: local maxima of phi(span{b_f, u}) over the closed cell and u in L (SLSQP from the
    best sample points), as free encoder rows (k x n_p) whose row g is a chord partner. These are first incumbents
    (closure points; their value counts only once realised): branch and bound alone only creeps up on a maximum
    on the cell's boundary."""
    from scipy.optimize import minimize

    from sdlscape.solvers.certify.bounds import captured_energy

    parts = [p for node in roots for p in node if isinstance(p, SpanDir)]
    if not parts or not parts[0].same_cell or len(parts[0].E) != 2:
        return []
    sd = parts[0]
    f, g, E = sd.partner, sd.row, sd.E
    cell = red.free[f]
    s_vec = red.piece.instance.W_p[:, list(cell.features)].sum(axis=1)

    def phi(y):
        x = red.maps[f] @ y[:3]
        u = np.cos(y[3]) * E[0] + np.sin(y[3]) * E[1]
        return captured_energy(np.stack([x, u]), red.Gr).phi

    V, c = cell.vertices, cell.centroid
    cands = list(V) + [c] + [0.5 * (v + c) for v in V] + [0.5 * (V[i] + V[(i + 1) % len(V)]) for i in range(len(V))]
    thetas = np.linspace(0.0, np.pi, 13)[:-1]
    ranked = sorted(((phi(np.r_[w, t]), tuple(w), t) for w in cands for t in thetas), reverse=True)[:starts]
    cons = [{"type": "ineq", "fun": lambda y: -(cell.A @ y[:3])}, {"type": "eq", "fun": lambda y: s_vec @ y[:3] - 1.0}]
    out = []
    for _, w, t in ranked:
        r = minimize(lambda y: -phi(y), np.r_[w, t], method="SLSQP", constraints=cons,
                     options={"ftol": 1e-16, "maxiter": 500})
        if np.any(cell.A @ r.x[:3] > 1e-12 * max(1.0, np.abs(r.x[:3]).max())):
            continue
        for step in INWARD:       # off the boundary (the chord through a vertex can be a point); a longer chord
            w_f = r.x[:3] + step * (c - r.x[:3])          # has less rounding in its direction, but moves further
            w_g = _chord_partner(red, g, w_f, np.cos(r.x[3]) * E[0] + np.sin(r.x[3]) * E[1])
            if w_g is not None:
                W = np.zeros((red.k, len(w_f)))
                W[f], W[g] = w_f, w_g
                out.append(W)
    return out


def _codes_unscaled(red: ReducedPiece, row: int) -> np.ndarray:
    inst = red.piece.instance
    mask = np.zeros(inst.n)
    mask[list(red.free[row].features)] = 1.0
    return (red.free[row].vertices @ inst.W_p) * mask


def cells_meet(red: ReducedPiece, f: int, g: int) -> bool:
    """Do the normalised code polytopes of rows f and g meet (within MEET_TOL, l1)? An LP."""
    A, B = _codes_unscaled(red, f), _codes_unscaled(red, g)
    na, nb, n = len(A), len(B), A.shape[1]
    # variables: alpha (na), beta (nb), s+ (n), s- (n); A^T alpha - B^T beta = s+ - s-
    c = np.r_[np.zeros(na + nb), np.ones(2 * n)]
    Aeq = np.vstack([np.hstack([A.T, -B.T, -np.eye(n), np.eye(n)]),
                     np.r_[np.ones(na), np.zeros(nb + 2 * n)][None, :],
                     np.r_[np.zeros(na), np.ones(nb), np.zeros(2 * n)][None, :]])
    beq = np.r_[np.zeros(n), 1.0, 1.0]
    res = linprog(c, A_eq=Aeq, b_eq=beq, bounds=(0, None), method="highs")
    return res.status == 0 and res.fun <= MEET_TOL


def _relaxed_estimate(red: ReducedPiece, f: int, E: np.ndarray) -> float:
    """A lower estimate of the relaxed sup (to choose the role): phi(x) + the top eigenvalue of G on L projected
    off x, maximised over x in P_f by Nelder-Mead on softmax weights of its vertices from the best sample points."""
    from scipy.optimize import minimize

    V = red.free[f].vertices @ red.maps[f].T

    def value(y):
        wts = np.exp(y - y.max())
        x = (wts / wts.sum()) @ V
        xh = x / np.linalg.norm(x)
        Pp = np.eye(len(x)) - np.outer(xh, xh)
        _, sv, Vt = np.linalg.svd((Pp @ E.T).T, full_matrices=False)
        B = Vt[sv > 1e-10 * max(sv.max(), 1e-300)].T
        top = float(np.linalg.eigvalsh(B.T @ red.Gr @ B).max()) if B.shape[1] else 0.0
        return float(xh @ red.Gr @ xh) + top

    nv = len(V)
    starts = [np.zeros(nv)] + [6.0 * np.eye(nv)[i] for i in range(nv)] + \
        [3.0 * (np.eye(nv)[i] + np.eye(nv)[(i + 1) % nv]) for i in range(nv)]
    starts = sorted(starts, key=lambda y: -value(y))[:3]
    return max(-minimize(lambda y: -value(y), y0, method="Nelder-Mead",
                         options={"maxiter": 400, "xatol": 1e-10, "fatol": 1e-14}).fun for y0 in starts)


def span_roots(red: ReducedPiece) -> list[tuple] | None:
    """Root nodes of the span chart for a piece of two free rows whose cells meet (n_p = 3); None otherwise."""
    from sdlscape.solvers.certify.charts import Simplex

    if red.piece.instance.n_p != 3 or red.k != 2 or not cells_meet(red, 0, 1):
        return None
    same = red.free[0].features == red.free[1].features
    options = []
    for f, g in ((0, 1), (1, 0)) if not same else ((0, 1),):
        gens, p, E = span_basis(red, f, g)
        if len(E) == 0:
            continue
        options.append((_relaxed_estimate(red, f, E), f, g, gens, p, E))
    if not options:
        return None
    _, f, g, gens, p, E = min(options, key=lambda o: o[0])
    full = tuple((-1.0, 1.0) for _ in range(len(E) - 1))
    dirs = [SpanDir(g, f, tuple(gens), p, a, full, E, same) for a in range(len(E))]
    cell = red.free[f]
    simplices = [Simplex(f, cell.vertices[list(s)]) for s in cell.simplices]
    return [(s, d) for d in dirs for s in simplices]
