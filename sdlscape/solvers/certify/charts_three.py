"""Three-row charts: three free rows of an n_p = 2 piece whose code matrix loses rank along a whole edge of the
parameter cube (issue 28: transcoder_pair(n=4, n_p=2, n_r=3, relu, n_latents=3)).

Each free row is a segment, b_i(x_i) = p_i + x_i q_i, x in [0, 1]^3 (p_i, q_i: the D-scaled codes of the cell's
end points, exact zeros where a feature's code vanishes at an end). The captured energy depends on the row space
only, and for a 3-plane it is a ratio of quadratic forms in the Pluecker vector w = b_0 ^ b_1 ^ b_2:

    phi(B) = tr(G Pi(B)) = <w, K w> / <w, w>,   K = D_G, the derivation G (x) 1 (x) 1 + ... on Lambda^3 R^m.

w(x) is multi-affine in x (one factor per row), with coefficients (3 x 3 minors) computed *exactly* from the
float codes (fractions). Where w vanishes on an edge of the cube, e.g. {x_1 = x_2 = 0} with b_0(x_0) in
span{b_1(0), b_2(0)} for every x_0 (the three rows have rank 2 on the whole edge: pair charts, charts.BlowUp, cannot
resolve it), phi is discontinuous there and no box that touches the edge closes. The chart blows the edge up:
x_a = rho tau, x_b = tau (and the chart with a and b swapped; the two cover the cube), and, since w has no monomial
free of x_a and x_b,

    w = tau * w~(x_i, rho, tau),   w~ again multi-affine (monomials x_a -> rho, x_b -> 1, x_a x_b -> rho tau),

with w~ = w / tau spanning the same line for tau > 0. Edges at x = 1 are first flipped (x -> 1 - x), and a face on
which w~ vanishes identically is divided out (w~ / y). Blow-ups are repeated in each chart (up to MAX_DEPTH) until
w~ has no zero edge; everything is exact over the rationals, so "vanishes identically" is decided without a
tolerance.

Bound over a box of a chart: w~ is multi-affine, so w~(y) = sum_c lambda_c(y) W_c over the box's 8 corners with
multilinear weights lambda_c >= 0 (sum 1). With K_A = W K W^T and K_I = W W^T, phi = lambda^T K_A lambda /
lambda^T K_I lambda <= max_cd (K_A)_cd / (K_I)_cd wherever all entries of K_I are positive (bounds.wedge_bound's
argument). The corner values W_c are exact rationals (the box corners are dyadic), rounded once to floats; the bound
carries the perturbation of that rounding and bounds.rounding_allowance. Its looseness is second order in the box
size (entry cd is phi at the pair's midpoint plus O(|W_c - W_d|^2)). tau = 0 (the edge itself) is the closure;
its values are limits of the open piece's values, so they are included in the sup, as everywhere in the certifier.

Projective halves and weighted blow-ups (issue 28: transcoder n = 4, n_r = 2, seed 0). The cube is first halved in
each free axis *projectively* (`phalf`): on x in [0, 1/2] the row (1 - x) p + x q is a positive multiple of p + y q,
y = x / (1 - x) in [0, 1] (on [1/2, 1], of q + y p), so w is still multi-affine and the ratios of the rows' end
coefficients are monomials in y. Near a triple degeneracy such as rows e1 + a e0, v + b e1, v + c u (a, c -> 0) the
row space tends to span{e1, v, u + s e0}, s = a b / c; the ordinary blow-up a = rho c leaves s = rho b, so the
infimum is approached along the curve rho b = s* on tau = c = 0, and boxes near it would have to be small in both
rho and b (their bound is loose by O(width^2) in s). The weighted blow-up (`wblowup`, a = s c / b, w~ = (b / c) w,
used where w on {a = 0} is c W and the face depends on s alone) makes s an axis: boxes near the curve are thin in
s and tau only. Its chart covers a <= c / b, which contains a <= c (the other chart is blowup(c, a)); its points
with a > 1 are points of the row's segment only because a is a projective half's coordinate (any a >= 0), so it is
used only right after the halves. w~ vanishes along its corner edge {s = b = 0} (an artefact of the map); the chart
is quartered towards that corner WBLOWUP_LEVELS times and the last corner resolved as usual.

Scope (`piece_ends`): n_p = 2 and three code rows, of which three or two are free; a fixed code row (a rank-1 cell:
its direction does not depend on the encoder) is a constant segment, p = q. Everything is in the unreduced code
space, so the exact zeros of the codes survive, and phi is the full captured energy (the free part is phi - phi0,
each box's bound also capped by the free part's Ky Fan sum); `applies` says when a three-row edge is present. The
cube is halved in every axis before the blow-ups (root_charts: projective halves of free axes, affine halves of a
fixed row's constant axis). Candidates (closure points, offered to piece_cert's
realisation) are box centres and, next to a blow-up's tau = 0, the point at tau = NEAR_FACE of the box's width.
Certificate files (`certify --certificate`) hold these pieces' leaves as kind "three" parts, which sdlscape.certcheck
re-verifies (certcheck/three_chart.py).
"""
from __future__ import annotations

import heapq
import itertools
import time
from fractions import Fraction

import numpy as np

from sdlscape import numerics
from sdlscape.outcomes import CertifyReason
from sdlscape.solvers.certify.bounds import UNIT_ROUNDOFF, captured_energy, rounding_allowance

ZERO_CODE_REL = 1e-12
"""A code entry of a cell end point smaller than this (relative to the row's largest) is the feature whose code
vanishes there: exactly 0."""
MAX_DEPTH = 6
"""Blow-ups (and face divisions) per chart at most."""
NEAR_FACE = 1e-6
"""A box touching a blow-up's tau = 0 also offers the point at tau = NEAR_FACE * its upper end (a candidate only)."""
MIN_WIDTH = 1e-12
"""A chart box narrower than this in every axis is not split (stuck)."""


# -- exact multi-affine Pluecker polynomials -------------------------------------------------------------------

def _det3(a, b, c):
    return (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
            + a[2] * (b[0] * c[1] - b[1] * c[0]))


def snapped_ends(ends: np.ndarray) -> np.ndarray:
    """Float end codes (2 x m) with the vanishing entries set to exact zeros (ZERO_CODE_REL)."""
    E = np.array(ends, dtype=float)
    for r in range(len(E)):
        scale = float(np.abs(E[r]).max())
        E[r][np.abs(E[r]) <= ZERO_CODE_REL * scale] = 0.0
    return E


def triples(m: int) -> list[tuple[int, int, int]]:
    return list(itertools.combinations(range(m), 3))


def wedge_poly(ends: list[np.ndarray]) -> dict[tuple[int, ...], tuple[Fraction, ...]]:
    """The exact coefficients of w(x) = ^_i (p_i + x_i q_i): monomial e in {0,1}^3 -> its Pluecker vector (3 x 3
    minors over the column triples, in `triples` order). ends[i]: the two end codes (2 x m, floats)."""
    P = [[Fraction(float(v)) for v in E[0]] for E in ends]
    Q = [[Fraction(float(b)) - Fraction(float(a)) for a, b in zip(E[0], E[1])] for E in ends]
    m = len(P[0])
    out = {}
    for e in itertools.product((0, 1), repeat=3):
        rows = [Q[i] if e[i] else P[i] for i in range(3)]
        out[e] = tuple(_det3(*[[r[c] for c in cols] for r in rows]) for cols in triples(m))
    return out


def _is_zero(v) -> bool:
    return all(x == 0 for x in v)


def _add(u, v):
    return tuple(a + b for a, b in zip(u, v))


def _neg(u):
    return tuple(-a for a in u)


def flip(poly: dict, a: int) -> dict:
    """y_a -> 1 - y_a."""
    out = {}
    for e, v in poly.items():
        if e[a] == 0:
            e1 = e[:a] + (1,) + e[a + 1:]
            out[e] = _add(v, poly[e1])
        else:
            out[e] = _neg(v)
    return out


def blow_up(poly: dict, a: int, b: int) -> dict:
    """y_a = rho tau, y_b = tau, divided by tau (needs w = 0 on y_a = y_b = 0): rho takes axis a, tau axis b."""
    out = {}
    for e, v in poly.items():
        ea, eb = e[a], e[b]
        if ea == 0 and eb == 0:
            if not _is_zero(v):
                raise ValueError("blow_up: w does not vanish on the edge")
            continue
        new = list(e)
        new[a], new[b] = ea, ea + eb - 1
        out[tuple(new)] = v
    zero = tuple(Fraction(0) for _ in next(iter(poly.values())))
    for e in itertools.product((0, 1), repeat=len(next(iter(poly)))):
        out.setdefault(e, zero)
    return out


def wblowup_ok(poly: dict, a: int, b: int, c: int) -> bool:
    """Does w on {y_a = 0} reduce to y_c W_(a:0, b:0, c:1) (every other monomial free of y_a vanishes)?"""
    for e, v in poly.items():
        if e[a] == 0 and (e[c] == 0 or e[b] == 1) and not _is_zero(v):
            return False
    return True


def wblowup(poly: dict, a: int, b: int, c: int) -> dict:
    """The weighted blow-up y_a = s y_c / y_b (s takes axis a), times y_b / y_c (needs wblowup_ok): the monomial
    y^e with e_a = 1 becomes s y_b^e_b y_c^e_c, the one with e_a = 0 (then e_b = 0, e_c = 1) becomes y_b. For s, y_b,
    y_c in [0, 1] it covers y_a <= y_c / y_b, so with blowup(c, a) (y_c <= y_a) the cube; points with y_a > 1 are
    points of the row's segment only where y_a is a projective half's coordinate (phalf: any y_a >= 0 is a point of
    the closed cell), so it is used only there (resolve)."""
    if not wblowup_ok(poly, a, b, c):
        raise ValueError("wblowup: w on y_a = 0 is not y_c times a constant vector")
    zero = tuple(Fraction(0) for _ in next(iter(poly.values())))
    out = {e: zero for e in poly}
    for e, v in poly.items():
        if e[a] == 1:
            out[e] = v
    e = [0, 0, 0]
    e[b] = 1
    src = [0, 0, 0]
    src[c] = 1
    out[tuple(e)] = poly[tuple(src)]
    return out


def half(poly: dict, a: int, which: int) -> dict:
    """y_a -> (which + y_a) / 2: the half [0, 1/2] (which = 0) or [1/2, 1] (which = 1) of axis a."""
    out = {}
    for e, v in poly.items():
        if e[a] == 0:
            e1 = e[:a] + (1,) + e[a + 1:]
            out[e] = _add(v, tuple(Fraction(which, 2) * x for x in poly[e1])) if which else v
        else:
            out[e] = tuple(x / 2 for x in v)
    return out


def phalf(poly: dict, a: int, which: int) -> dict:
    """The half [0, 1/2] (which = 0) or [1/2, 1] (which = 1) of axis a, parametrised projectively: the row
    (1 - x) p + x q is a positive multiple of p + y q (which = 0, x = y / (1 + y)) or of q + y p (which = 1,
    x = 1 / (1 + y)), y in [0, 1]; w is multiplied by 1 + y > 0, which changes no row space. With w = A + x_a B:
    which = 0 gives A + y (A + B), which = 1 gives (A + B) + y A. Unlike `half`, the ratios of the rows' end
    coefficients are then monomials in the chart coordinates, so a blown-up face on which phi depends on such a
    ratio only (e.g. span{e1, v, u + s e0}, s = y_a / (y_b y_c)) depends on one chart axis there."""
    out = {}
    for e, v in poly.items():
        if e[a] == 0:
            e1 = e[:a] + (1,) + e[a + 1:]
            s = _add(v, poly[e1])
            if which:
                out[e], out[e1] = s, v
            else:
                out[e], out[e1] = v, s
    return out


def divide(poly: dict, b: int) -> dict:
    """w / y_b (needs w = 0 on the face y_b = 0)."""
    out = {}
    zero = tuple(Fraction(0) for _ in next(iter(poly.values())))
    for e, v in poly.items():
        if e[b] == 0:
            if not _is_zero(v):
                raise ValueError("divide: w does not vanish on the face")
            continue
        out[e[:b] + (0,) + e[b + 1:]] = v
        out[e] = zero
    return out


def value_at(poly: dict, y) -> tuple:
    """w at a point y of {0,1}-or-rational coordinates, exactly (Fractions)."""
    y = [Fraction(v) for v in y]
    acc = None
    for e, v in poly.items():
        c = Fraction(1)
        for yi, ei in zip(y, e):
            if ei:
                c *= yi
        if c == 0:
            continue
        term = tuple(c * x for x in v)
        acc = term if acc is None else _add(acc, term)
    return acc if acc is not None else tuple(Fraction(0) for _ in next(iter(poly.values())))


def zero_faces(poly: dict) -> list[tuple[int, int]]:
    """(axis, end) of the faces of [0,1]^3 on which w vanishes identically."""
    out = []
    for b in range(3):
        for end in (0, 1):
            others = [j for j in range(3) if j != b]
            if all(_is_zero(value_at(poly, _pt(b, end, others, c))) for c in itertools.product((0, 1), repeat=2)):
                out.append((b, end))
    return out


def _pt(b, end, others, c):
    y = [0, 0, 0]
    y[b] = end
    for j, v in zip(others, c):
        y[j] = v
    return y


def zero_edges(poly: dict) -> list[tuple[int, int, int, int]]:
    """(a, c_a, b, c_b) of the edges {y_a = c_a, y_b = c_b} of [0,1]^3 on which w vanishes identically (w is affine
    along an edge: zero at both ends)."""
    out = []
    for a, b in itertools.combinations(range(3), 2):
        i = 3 - a - b
        for ca, cb in itertools.product((0, 1), repeat=2):
            pts = []
            for ci in (0, 1):
                y = [0, 0, 0]
                y[a], y[b], y[i] = ca, cb, ci
                pts.append(y)
            if all(_is_zero(value_at(poly, y)) for y in pts):
                out.append((a, ca, b, cb))
    return out


# -- charts ----------------------------------------------------------------------------------------------------

class Chart:
    """A multi-affine w~ over [0,1]^3 and the substitutions (ops) from the original cube's coordinates x."""

    def __init__(self, poly: dict, ops: tuple):
        self.poly = poly
        self.ops = ops
        self.blown = tuple(sorted({op[2] for op in ops if op[0] == "blowup"}
                                  | {op[3] for op in ops if op[0] == "wblowup"}))     # the tau axes
        keys = sorted(poly)
        self.keys = keys
        self.coef = np.array([[float(x) for x in poly[e]] for e in keys])      # rounded once (relative u)

    def to_x(self, y, exact: bool = False) -> np.ndarray:
        """The original cube point of chart point y (ops undone in reverse); exact: in fractions (an object array),
        for points within rounding of a degenerate corner."""
        y = [Fraction(v) for v in y] if exact else [float(v) for v in y]
        for op in reversed(self.ops):
            if op[0] == "flip":
                y[op[1]] = 1 - y[op[1]]
            elif op[0] == "blowup":
                a, b = op[1], op[2]
                y[a] = y[a] * y[b]
            elif op[0] == "half":
                y[op[1]] = (op[2] + y[op[1]]) / 2
            elif op[0] == "phalf":                # (y = infinity: x = 0 resp. 1)
                y[op[1]] = 1 / (1 + y[op[1]]) if op[2] else 1 - 1 / (1 + y[op[1]])
            elif op[0] == "wblowup":              # y_b = 0: the limit y_a = infinity (or 0), the segment's far end
                a, b, c = op[1], op[2], op[3]
                num = y[a] * y[c]
                y[a] = num / y[b] if y[b] > 0 else (np.inf if num > 0 else 0 * num)
        return np.array(y)

    def to_json(self) -> list:
        return [list(op) for op in self.ops]


def apply_ops(poly: dict, ops) -> dict:
    for op in ops:
        if op[0] == "flip":
            poly = flip(poly, op[1])
        elif op[0] == "blowup":
            poly = blow_up(poly, op[1], op[2])
        elif op[0] == "divide":
            poly = divide(poly, op[1])
        elif op[0] == "half":
            poly = half(poly, op[1], op[2])
        elif op[0] == "phalf":
            poly = phalf(poly, op[1], op[2])
        elif op[0] == "wblowup":
            poly = wblowup(poly, op[1], op[2], op[3])
        else:
            raise ValueError(f"unknown chart op {op!r}")
    return poly


def resolve(poly: dict, ops: tuple = (), depth: int = 0) -> list[Chart]:
    """Charts covering [0,1]^3 (of the chart `ops` came from) in which w~ has no zero face and no zero edge, as far
    as MAX_DEPTH allows (deeper charts are returned unresolved)."""
    faces = zero_faces(poly)
    if faces and depth < MAX_DEPTH:
        b, end = faces[0]
        new_ops = (("flip", b),) if end == 1 else ()
        new_ops += (("divide", b),)
        return resolve(apply_ops(poly, new_ops), ops + new_ops, depth + 1)
    edges = zero_edges(poly)
    if not edges or depth >= MAX_DEPTH:
        return [Chart(poly, ops)]
    a, ca, b, cb = edges[0]
    pre = tuple(("flip", j) for j, c in ((a, ca), (b, cb)) if c == 1)
    base = apply_ops(poly, pre)
    out = []
    for f, g in ((a, b), (b, a)):
        op = ("blowup", f, g)
        i = 3 - f - g
        if WEIGHTED and not pre and all(o[0] in ("phalf", "half") for o in ops) \
                and any(o[0] == "phalf" and o[1] == f for o in ops) and wblowup_ok(base, f, i, g) \
                and _is_zero(base[_mono(f)]):
            op = ("wblowup", f, i, g)          # the face depends on y_f y_i / y_g only: make it an axis
            out.extend(_quarters(apply_ops(base, (op,)), ops + pre + (op,), depth + 1, f, i, 0))
            continue
        out.extend(resolve(apply_ops(base, (op,)), ops + pre + (op,), depth + 1))
    return out


WBLOWUP_LEVELS = 4
"""A weighted blow-up's chart (s, y_b) is quartered this many times towards its corner s = y_b = 0, where w~ vanishes
along the third axis for every s / y_b (an artefact of the chart map, blown up normally in the last corner)."""


def _quarters(poly: dict, ops: tuple, depth: int, a: int, b: int, level: int) -> list[Chart]:
    out = []
    for wa, wb in itertools.product((0, 1), repeat=2):
        step = (("half", a, wa), ("half", b, wb))
        sub = apply_ops(poly, step)
        if (wa, wb) == (0, 0) and level + 1 < WBLOWUP_LEVELS:
            out.extend(_quarters(sub, ops + step, depth, a, b, level + 1))
        else:
            out.extend(resolve(sub, ops + step, depth))
    return out


WEIGHTED = True
"""Use the weighted blow-up where it applies (resolve); False: ordinary blow-ups only (for comparisons)."""


def _mono(*axes) -> tuple:
    e = [0, 0, 0]
    for j in axes:
        e[j] = 1
    return tuple(e)


def wedge_operator3(G: np.ndarray) -> np.ndarray:
    """K = D_G on Lambda^3 R^m in the basis e_I (I in `triples(m)`): <e_I, D_G e_J>."""
    m = G.shape[0]
    T = triples(m)
    idx = {t: r for r, t in enumerate(T)}
    K = np.zeros((len(T), len(T)))
    for c, J in enumerate(T):
        for p in range(3):
            for lrow in range(m):
                v = G[lrow, J[p]]
                if v == 0.0:
                    continue
                t = list(J)
                t[p] = lrow
                if len(set(t)) < 3:
                    continue
                order = sorted(range(3), key=lambda q: t[q])
                sgn = _perm_sign(order)
                K[idx[tuple(sorted(t))], c] += sgn * v
    return K


def _perm_sign(order) -> float:
    s, order = 1.0, list(order)
    for i in range(len(order)):
        while order[i] != i:
            j = order[i]
            order[i], order[j] = order[j], order[i]
            s = -s
    return s


def corner_values(chart: Chart, box) -> np.ndarray:
    """w~ at the 8 corners of a box ((lo, hi) per axis, dyadic floats), exactly, then rounded to floats."""
    out = []
    for y in itertools.product(*box):
        out.append([float(x) for x in value_at(chart.poly, y)])
    return np.array(out)


def box_bound(W: np.ndarray, K: np.ndarray, K_norm: float, G_trace: float) -> float:
    """sup phi over the box from its corner Pluecker vectors W (module docstring); inf where some K_I entry is not
    proven positive. W holds the exact values rounded once (each entry within u of its exact value, relative)."""
    KI = W @ W.T
    KA = W @ K @ W.T
    nrm = np.linalg.norm(W, axis=1)
    # Exact corner vectors differ from W by at most delta = u |W| (entrywise relative rounding), so each K_I entry
    # moves by <= (2 u + u^2) |W_c| |W_d| and each K_A entry by ||K|| times that; float products add p u |W_c||W_d|.
    p = numerics.CERTIFY_ROUNDING_FACTOR * (W.shape[1] + 3)
    slack = (3.0 + p) * UNIT_ROUNDOFF * np.outer(nrm, nrm)
    lo_I = KI - slack
    if not np.all(lo_I > 0):
        return np.inf
    hi_A = KA + K_norm * slack
    ratio = np.where(hi_A >= 0, hi_A / lo_I, hi_A / (KI + slack))
    kappa = float(np.max(np.outer(nrm, nrm) / lo_I))
    return float(np.max(ratio)) + rounding_allowance(G_trace, W.shape[1], 3, kappa)


# -- applicability and branch and bound ------------------------------------------------------------------------

def fixed_code_rows(red) -> list[np.ndarray]:
    """The full D-scaled codes of the fixed latents that pass a code (dead latents have none), by latent."""
    from sdlscape.solvers.certify.reduce import _code_map

    piece = red.piece
    return [_code_map(piece, i) @ np.asarray(w, dtype=float) for i, w in sorted(red.fixed_rows.items())
            if piece.loss_mask[i].any()]


def piece_ends(red) -> list[np.ndarray] | None:
    """The rows' end codes (snapped, D-scaled, unreduced; fixed rows first, as constant segments, then the free rows)
    when the three-row chart applies (three free rows and no fixed code, or two free rows and one fixed code row,
    n_p = 2); None otherwise."""
    inst = red.piece.instance
    if inst.n_p != 2 or inst.n < 3:
        return None
    fixed = fixed_code_rows(red)
    if not ((red.k == 3 and not fixed) or (red.k == 2 and len(fixed) == 1)) or red.U0.shape[1] != len(fixed):
        return None
    ends = [np.stack([f, f]) for f in fixed] + [c.vertices @ L.T for c, L in zip(red.free, red.code_maps_full)]
    return exact_ends(ends)


PARALLEL_SIN = 1e-9
"""End codes of two rows whose directions differ by less than this (|sin angle|) are one direction."""


def exact_ends(ends) -> list[np.ndarray]:
    """The end codes with the structure that exact arithmetic needs: vanishing entries exactly 0 (snapped_ends), and
    an end parallel to an end of an earlier row replaced by an exact copy of it (a segment's end may be rescaled by
    any c > 0 without changing the set of its directions; both are codes of one encoder ray, equal up to rounding)."""
    out = [snapped_ends(E) for E in ends]
    for i in range(len(out)):
        for e in (0, 1):
            y = out[i][e]
            for j in range(i):
                for f in (0, 1):
                    x = out[j][f]
                    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
                    if nx == 0 or ny == 0 or x @ y <= 0:
                        continue
                    xh, yh = x / nx, y / ny
                    if np.linalg.norm(yh - (xh @ yh) * xh) < PARALLEL_SIN:
                        out[i][e] = x.copy()
                        y = out[i][e]
    return out


def eligible(red) -> bool:
    """Three code rows of an n_p = 2 piece, at least two of them free (piece_ends): branch and bound runs in three-row
    charts. They also close the pieces whose corners are pairs, parallel or nearly so, where the perturbation bound
    of three rows needs boxes too small for any node budget, and pieces where a free row's end code lies in the
    fixed row's span (its reduced code vanishes there)."""
    return piece_ends(red) is not None


def applies(red) -> bool:
    """Three free rows of an n_p = 2 piece (no fixed span) whose w vanishes on a cube edge along which no two rows
    are parallel (pair charts cover the others)."""
    ends = piece_ends(red)
    if ends is None:
        return False
    poly = wedge_poly(ends)
    for a, ca, b, cb in zero_edges(poly):
        i = 3 - a - b
        xa, xb = ends[a][ca], ends[b][cb]
        xi = 0.5 * (ends[i][0] + ends[i][1])
        rows = {a: xa, b: xb, i: xi}
        par = False
        for r, s in itertools.combinations(range(3), 2):
            if np.linalg.matrix_rank(np.stack([rows[r], rows[s]]), tol=1e-12 * max(1.0, np.abs(rows[r]).max())) < 2:
                par = True
        if not par:
            return True
    return False


ROOT_SPLIT = "phalf"
"""How the free axes are halved at the root: "phalf" (projective, module docstring) or "half" (affine, before issue
28's curve; kept for comparisons)."""


def root_charts(red) -> list[Chart]:
    """The cube is halved in every axis first (8 subcubes, each touching one end of each axis: zero edges of
    different blow-ups then meet only at the subcube's one original vertex; the free axes projectively, ROOT_SPLIT),
    then each subcube is resolved."""
    poly = wedge_poly(piece_ends(red))
    nf = 3 - red.k                             # leading constant axes (fixed rows): plain halves
    out = []
    for which in itertools.product((0, 1), repeat=3):
        ops = tuple((ROOT_SPLIT if a >= nf else "half", a, w) for a, w in enumerate(which))
        out.extend(resolve(apply_ops(poly, ops), ops))
    return out


FULL = ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0))


def split_box(chart: Chart, box, W: np.ndarray | None = None) -> int:
    """The axis to bisect: the one along which the corner Pluecker directions change most."""
    if W is None:
        W = corner_values(chart, box)
    nrm = np.maximum(np.linalg.norm(W, axis=1), 1e-300)
    Wh = W / nrm[:, None]
    score = []
    for ax in range(3):
        bit = 1 << (2 - ax)              # itertools.product order: axis 0 is the slowest
        d = 0.0
        for c in range(8):
            if not c & bit:
                d = max(d, float(np.linalg.norm(Wh[c] - Wh[c | bit])))
        if box[ax][1] - box[ax][0] < MIN_WIDTH:
            d = -1.0
        score.append(d)
    return int(np.argmax(score))


def children(box, ax: int):
    lo, hi = box[ax]
    mid = 0.5 * (lo + hi)
    return (box[:ax] + ((lo, mid),) + box[ax + 1:], box[:ax] + ((mid, hi),) + box[ax + 1:])


def three_row_bnb(red, rtol, atol, L_cutoff, time_limit, node_limit, record=False, seeds=()):
    """Branch and bound over the three-row charts (module docstring); returns bnb.BnbResult."""
    from sdlscape.solvers.certify.bnb import CANDIDATES_KEPT, BnbResult

    t0 = time.perf_counter()
    Gr, k = red.Gr, red.k
    trG = float(np.trace(red.G))
    K = wedge_operator3(red.G)                 # full code space: the Pluecker vector includes a fixed row
    K_norm = float(np.linalg.norm(K, 2)) * (1.0 + 1e-12)
    base = red.total - red.phi0
    nf = 3 - k                                 # leading constant axes (fixed rows)
    charts = root_charts(red)
    best_phi, best_W = -np.inf, np.zeros((k, 2))
    cands: list = []

    def offer(phi, W):
        nonlocal best_phi, best_W
        if phi > best_phi:
            best_phi, best_W = phi, W
        if len(cands) < CANDIDATES_KEPT or phi > cands[-1][0]:
            cands.append((phi, W))
            cands.sort(key=lambda pw: -pw[0])
            del cands[CANDIDATES_KEPT:]

    def rows_at(x):
        x = np.clip(x[nf:], 0.0, 1.0)
        return np.stack([(1 - xi) * c.vertices[0] + xi * c.vertices[1] for xi, c in zip(x, red.free)])

    for combo in itertools.product((0, 1), repeat=k):
        W = np.stack([c.vertices[e] for e, c in zip(combo, red.free)])
        offer(captured_energy(red.reduced_rows(W), Gr).phi, W)
    for W in seeds:
        offer(captured_energy(red.reduced_rows(W), Gr).phi, np.asarray(W, dtype=float))

    def tol_phi():
        return 0.5 * (rtol * max(base - best_phi, 0.0) + atol)

    cut_phi = base - L_cutoff if np.isfinite(L_cutoff) else -np.inf
    tol_cut = 0.5 * (rtol * max(L_cutoff, 0.0) + atol) if np.isfinite(L_cutoff) else 0.0
    cap = float(np.sum(np.sort(np.linalg.eigvalsh(Gr))[::-1][:k])) + rounding_allowance(trG, red.m, k, 1.0)
    heap, counter = [], itertools.count()
    nodes, stuck, stuck_max = 0, 0, -np.inf
    leaves: list = []

    def push(r, box, path):
        nonlocal nodes
        nodes += 1
        ch = charts[r]
        W = corner_values(ch, box)
        bound = min(box_bound(W, K, K_norm, trG) - red.phi0, cap)    # phi_free = phi - phi0 (piece_cert adds
        #                                                               phi0's rounding allowance to the result)
        y = [0.5 * (lo + hi) for lo, hi in box]
        Wx = rows_at(ch.to_x(y))
        offer(captured_energy(red.reduced_rows(Wx), Gr).phi, Wx)
        if ch.blown and any(box[ax][0] == 0.0 for ax in ch.blown):
            # next to an exceptional divisor (tau = 0): a limit approached along this chart's direction, which a
            # push towards the centroid (piece_cert._realise_best) would not keep
            yn = [NEAR_FACE * hi if ax in ch.blown and lo == 0.0 else c for ax, ((lo, hi), c) in enumerate(zip(box, y))]
            Wn = rows_at(ch.to_x(yn))
            offer(captured_energy(red.reduced_rows(Wn), Gr).phi, Wn)
        heapq.heappush(heap, (-bound, next(counter), r, box, path, W))

    for r in range(len(charts)):
        push(r, FULL, ())
    stopped = None
    while heap:
        neg, _, r, box, path, W = heap[0]
        bound = -neg
        if bound <= best_phi + tol_phi() or bound <= cut_phi + tol_cut or base - best_phi <= 0.25 * atol:
            break
        if nodes >= node_limit:
            stopped = CertifyReason.NODE_LIMIT
            break
        if time.perf_counter() - t0 > time_limit:
            stopped = CertifyReason.TIME_LIMIT
            break
        heapq.heappop(heap)
        if max(hi - lo for lo, hi in box) < MIN_WIDTH:
            stuck += 1
            stuck_max = max(stuck_max, bound)
            if record:
                leaves.append((r, path, bound))
            continue
        ax = split_box(charts[r], box, W)
        for c, child in enumerate(children(box, ax)):
            push(r, child, path + ((0, ax, -1, c),))
    remaining = max((-h[0] for h in heap), default=-np.inf)
    if record:
        leaves.extend((h[2], h[4], -h[0]) for h in heap)
    upper = min(max(remaining, stuck_max, best_phi), max(base, best_phi))
    if stopped is None and stuck and stuck_max > best_phi + tol_phi() and stuck_max > cut_phi + tol_cut:
        stopped = CertifyReason.DEGENERATE_CORNER
    roots = tuple((ThreePart(ch),) for ch in charts) if record else ()
    return BnbResult(uncharted=0, roots=roots, leaves=tuple(leaves), phi_best=float(best_phi), W_best=best_W,
                     candidates=tuple(cands), phi_upper=float(upper), nodes=nodes, stopped=stopped,
                     open_nodes=len(heap), stuck_nodes=stuck, seconds=time.perf_counter() - t0)


class ThreePart:
    """A root of a three-row chart in a certificate record: the chart's ops (its box is the unit cube)."""

    def __init__(self, chart: Chart):
        self.chart = chart

    def to_json(self) -> dict:
        return {"kind": "three", "ops": self.chart.to_json()}
