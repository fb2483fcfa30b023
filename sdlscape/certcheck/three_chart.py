"""Three-row chart pieces of a certificate (root parts of kind "three": three code rows of an n_p = 2 piece, three
free, or two free and one fixed whose code direction does not depend on its encoder row (leaf.fixed_generators: a
rank-1 image, or the exact ray of a one-ray cell), a constant segment first; certifier:
solvers/certify/charts_three.py), checked from the data with numpy, fractions and the interval arrays of
intervals.py only.

For such a piece the checker
  1. rebuilds the three rows' end codes from the certificate's cells (the D-scaled codes of the cell vertices, the
     midpoints of their intervals), with the same exact structure as the certifier: an entry whose interval lies
     within ZERO_REL of 0 is 0 (the feature whose code vanishes at that end), an end parallel to an end of an
     earlier row (|sin| < PARALLEL_SIN) is a copy of that end (the same ray: the set of directions of a segment does
     not change when an end is rescaled);
  2. computes the Pluecker polynomial w(x) = ^_i (p_i + x_i q_i) exactly (fractions) and applies each root's ops
     (flip, half, phalf, blowup, wblowup, divide), refusing a blow-up of an edge, or a division by a face, on which
     w does not vanish identically, and a weighted blow-up where w on y_a = 0 is not y_c W (exact);
  3. checks that the roots' op sequences cover the cube: at every level either one op shared by all (flip, divide:
     a bijection or no change of coordinates), or the two halves (affine or projective) of one axis, or the two
     blow-up charts (a, b) and (b, a) of one edge (they cover y_a <= y_b and y_b <= y_a), or the weighted blow-up
     (a, b, c) with blowup (c, a) (y_a <= y_c / y_b, which contains y_a <= y_c, and y_c <= y_a); a weighted blow-up
     only after halves and projective halves, axis a's projective (weighted_context_ok: its y_a > 1 are points of
     the closed segment);
  4. replays each leaf's path (bisections of the unit box, steps [0, axis, -1, child]) and checks that the leaves of
     each root form a complete binary tree;
  5. re-evaluates each leaf's bound, the least of two: the box's 8 corner values of w~ exactly (dyadic corners),
     enclosed in intervals; K = D_G on Lambda^3 from G in intervals; K_I = W W^T, K_A = W K W^T in outward-rounded
     intervals; all of K_I proven positive, then phi <= max_cd (K_A)_cd / (K_I)_cd (rounded up); and the piece-wide
     exact-rank subspace bound (leaf.SpanBound over the whole cells: the certifier caps every box by that Ky Fan
     sum). The leaf fails when ||R||^2 minus this bound is below the piece's lower bound, or when it exceeds the
     claimed bound by more than CONSISTENCY tr G.
Not checked exactly: that the snapped entries are exactly 0 and the copied ends exactly parallel for the true cell
vertices (checked within ZERO_REL and PARALLEL_SIN, like the blow-up corners of the pair charts).
"""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from sdlscape.certcheck.intervals import Iv, matmul
from sdlscape.certcheck.leaf import SpanBound, fixed_generators

ZERO_REL = 1e-12
PARALLEL_SIN = 1e-9
OPS = {"flip": 2, "half": 3, "phalf": 3, "blowup": 3, "wblowup": 4, "divide": 2}


def _triples(m):
    return list(itertools.combinations(range(m), 3))


def _det3(a, b, c):
    return (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
            + a[2] * (b[0] * c[1] - b[1] * c[0]))


def end_codes(data, cells: list[np.ndarray], feats: list[list[int]]) -> list[np.ndarray]:
    """Step 1 of the module docstring."""
    out = []
    for V, F in zip(cells, feats):
        E = []
        for v in V:
            c = data.code(np.asarray(v, dtype=float), F)
            mid = 0.5 * (c.lo + c.hi)
            scale = float(np.abs(mid).max())
            width = np.maximum(np.abs(c.lo), np.abs(c.hi))
            mid = np.where(width <= ZERO_REL * scale, 0.0, mid)
            E.append(mid)
        out.append(np.array(E))
    for i in range(len(out)):
        for e in (0, 1):
            for j in range(i):
                for f in (0, 1):
                    x, y = out[j][f], out[i][e]
                    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
                    if nx == 0 or ny == 0 or x @ y <= 0:
                        continue
                    if np.linalg.norm(y / ny - ((x / nx) @ (y / ny)) * (x / nx)) < PARALLEL_SIN:
                        out[i][e] = x.copy()
    return out


def wedge_poly(ends) -> dict:
    P = [[Fraction(float(v)) for v in E[0]] for E in ends]
    Q = [[Fraction(float(b)) - Fraction(float(a)) for a, b in zip(E[0], E[1])] for E in ends]
    m = len(P[0])
    out = {}
    for e in itertools.product((0, 1), repeat=3):
        rows = [Q[i] if e[i] else P[i] for i in range(3)]
        out[e] = tuple(_det3(*[[r[c] for c in cols] for r in rows]) for cols in _triples(m))
    return out


def _zero(v) -> bool:
    return all(x == 0 for x in v)


def apply_op(poly: dict, op) -> dict:
    """One substitution (module docstring, step 2); ValueError where its precondition fails."""
    kind = op[0]
    if kind not in OPS or len(op) != OPS[kind] or not all(isinstance(a, int) and 0 <= a <= 2 for a in op[1:]):
        raise ValueError(f"malformed op {op!r}")
    N = len(next(iter(poly.values())))
    zero = tuple(Fraction(0) for _ in range(N))
    out = {}
    if kind == "flip":
        a = op[1]
        for e, v in poly.items():
            out[e] = tuple(x + y for x, y in zip(v, poly[e[:a] + (1,) + e[a + 1:]])) if e[a] == 0 else \
                tuple(-x for x in v)
        return out
    if kind == "half":
        a, which = op[1], op[2]
        if which not in (0, 1):
            raise ValueError(f"malformed op {op!r}")
        for e, v in poly.items():
            if e[a] == 0:
                w1 = poly[e[:a] + (1,) + e[a + 1:]]
                out[e] = tuple(x + Fraction(which, 2) * y for x, y in zip(v, w1))
            else:
                out[e] = tuple(x / 2 for x in v)
        return out
    if kind == "phalf":
        # the half of axis a parametrised projectively: w = A + x B becomes A + y (A + B) (which 0) or
        # (A + B) + y A (which 1), a positive multiple (1 + y) of w at x = y / (1 + y), resp. 1 / (1 + y)
        a, which = op[1], op[2]
        if which not in (0, 1):
            raise ValueError(f"malformed op {op!r}")
        for e, v in poly.items():
            if e[a] == 0:
                e1 = e[:a] + (1,) + e[a + 1:]
                s = tuple(x + y for x, y in zip(v, poly[e1]))
                out[e], out[e1] = (s, v) if which else (v, s)
        return out
    if kind == "wblowup":
        # y_a = s y_c / y_b, times y_b / y_c: needs w = y_c W on y_a = 0 (every other monomial free of y_a is 0)
        a, b, c = op[1], op[2], op[3]
        if len({a, b, c}) != 3:
            raise ValueError(f"malformed op {op!r}")
        for e, v in poly.items():
            if e[a] == 0 and (e[c] == 0 or e[b] == 1) and not _zero(v):
                raise ValueError("wblowup: w on y_a = 0 is not y_c times a constant vector")
        for e, v in poly.items():
            out[e] = v if e[a] == 1 else zero
        eb, ec = [0, 0, 0], [0, 0, 0]
        eb[b], ec[c] = 1, 1
        out[tuple(eb)] = poly[tuple(ec)]
        return out
    if kind == "divide":
        b = op[1]
        for e, v in poly.items():
            if e[b] == 0 and not _zero(v):
                raise ValueError("divide: w does not vanish on the face")
        for e, v in poly.items():
            if e[b] == 1:
                out[e[:b] + (0,) + e[b + 1:]] = v
                out[e] = zero
        return out
    a, b = op[1], op[2]
    if a == b:                                        # (both ints in 0..2: checked above)
        raise ValueError(f"malformed op {op!r}")
    for e, v in poly.items():
        ea, eb = e[a], e[b]
        if ea == 0 and eb == 0:
            if not _zero(v):
                raise ValueError("blowup: w does not vanish on the edge")
            continue
        new = list(e)
        new[a], new[b] = ea, ea + eb - 1
        out[tuple(new)] = v
    for e in poly:
        out.setdefault(e, zero)
    return out


def covers(seqs: list[tuple]) -> bool:
    """Step 3 of the module docstring: do these op sequences (one per root) cover the cube?"""
    if seqs == [()]:
        return True
    if any(len(s) == 0 for s in seqs):
        return False
    heads = {s[0] for s in seqs}
    groups = [[s[1:] for s in seqs if s[0] == h] for h in sorted(heads)]
    if len(heads) == 1 and next(iter(heads))[0] in ("flip", "divide"):
        return covers(groups[0])
    hs = sorted(heads)
    if len(hs) == 2 and hs[0][0] == hs[1][0] and hs[0][0] in ("half", "phalf") and hs[0][1] == hs[1][1] \
            and {hs[0][2], hs[1][2]} == {0, 1}:
        return all(covers(g) for g in groups)
    if len(hs) == 2 and hs[0][0] == "blowup" and hs[1][0] == "wblowup" and (hs[0][1], hs[0][2]) == (hs[1][3], hs[1][1]):
        # blowup(c, a) covers y_c <= y_a, wblowup(a, b, c) covers y_a <= y_c / y_b (y_b <= 1), so y_a <= y_c
        return all(covers(g) for g in groups)
    if len(hs) == 2 and hs[0][0] == hs[1][0] == "blowup" and (hs[0][1], hs[0][2]) == (hs[1][2], hs[1][1]):
        return all(covers(g) for g in groups)
    return False


def weighted_context_ok(ops) -> bool:
    """A weighted blow-up (a, b, c) reaches y_a = s y_c / y_b > 1: points of row a's closed segment only where y_a is
    the coordinate of a projective half (p + y q or q + y p, y >= 0): every op before it must be a half or a
    projective half, axis a's a projective one."""
    for k, op in enumerate(ops):
        if op[0] == "wblowup":
            before = ops[:k]
            if not all(o[0] in ("half", "phalf") for o in before) or not any(
                    o[0] == "phalf" and o[1] == op[1] for o in before):
                return False
    return True


def wedge_operator3(G: Iv) -> Iv:
    """K = D_G on Lambda^3 R^m (basis e_I, I in _triples order), in intervals."""
    m = G.lo.shape[0]
    T = _triples(m)
    idx = {t: r for r, t in enumerate(T)}
    acc = [[Iv(0.0) for _ in T] for _ in T]
    for c, J in enumerate(T):
        for p in range(3):
            for r in range(m):
                t = list(J)
                t[p] = r
                if len(set(t)) < 3:
                    continue
                perm = sorted(range(3), key=lambda q: t[q])
                inv = sum(1 for i in range(3) for j in range(i + 1, 3) if perm[i] > perm[j])
                g = G[r, J[p]]
                acc[idx[tuple(sorted(t))]][c] = acc[idx[tuple(sorted(t))]][c] + (g if inv % 2 == 0 else Iv(0.0) - g)
    return Iv(np.array([[float(x.lo) for x in row] for row in acc]), np.array([[float(x.hi) for x in row] for row in acc]))


def _enclose(q: Fraction) -> tuple[float, float]:
    f = float(q)                                      # int / int: correctly rounded
    return float(np.nextafter(f, -np.inf)), float(np.nextafter(f, np.inf))


def _value(poly: dict, y) -> list[Fraction]:
    N = len(next(iter(poly.values())))
    acc = [Fraction(0)] * N
    for e, v in poly.items():
        c = Fraction(1)
        for yi, ei in zip(y, e):
            if ei:
                c *= yi
        if c:
            acc = [a + c * x for a, x in zip(acc, v)]
    return acc


def leaf_bound(poly: dict, box, K: Iv) -> float:
    """Step 5 of the module docstring: an upper bound on phi over the box (inf where K_I is not proven positive)."""
    rows = [_value(poly, [Fraction(c) for c in y]) for y in itertools.product(*box)]
    enc = [[_enclose(q) for q in r] for r in rows]
    W = Iv(np.array([[a for a, _ in r] for r in enc]), np.array([[b for _, b in r] for r in enc]))
    KI = matmul(W, W.T)
    KA = matmul(matmul(W, K), W.T)
    if not np.all(KI.lo > 0):
        return np.inf
    ratio = np.where(KA.hi >= 0, KA.hi / KI.lo, KA.hi / KI.hi)
    return float(np.nextafter(np.max(ratio), np.inf))


def box_of(path) -> tuple:
    box = [(Fraction(0), Fraction(1))] * 3
    for step in path:
        j, ax, b, child = step
        if j != 0 or b != -1 or ax not in (0, 1, 2) or child not in (0, 1):
            raise ValueError(f"malformed step {step!r}")
        lo, hi = box[ax]
        mid = (lo + hi) / 2
        box[ax] = (lo, mid) if child == 0 else (mid, hi)
    return tuple(box)


def check_three_piece(data, rec: dict, feats, G: Iv, total, lb: float, trG: float, consistency: float,
                      complete, name: str, v) -> None:
    """Steps 1-5 for one piece; failures go to the verdict v (its fail(), leaves)."""
    from mpmath import iv

    roots = rec["roots"]
    if any(len(node) != 1 or node[0]["kind"] != "three" for node in roots):
        return v.fail(f"piece {name}: a three-row piece whose roots are not single 'three' parts")
    free = rec["free"]
    coded = [f for f in rec["fixed"] if feats[f["latent"]]]
    if not ((len(free) == 3 and not coded) or (len(free) == 2 and len(coded) == 1)) or \
            any(len(f["cell"]) != 2 or len(f["cell"][0]) != 2 for f in free):
        return v.fail(f"piece {name}: a three-row chart needs three code rows, n_p = 2 segments, at most one fixed")
    cells = [np.asarray(f["cell"], dtype=float) for f in free]
    cell_feats = [feats[f["latent"]] for f in free]
    base, d_fixed, rows, _ = fixed_generators(data, feats, rec["fixed"], data.activation == "relu")
    lat = [f["latent"] for f in free]
    # the piece-wide exact-rank subspace bound (tr G on the fixed span + Ky Fan on the free rows' span off it): the
    # certifier caps every box's bound by the same Ky Fan sum
    whole = SpanBound(G, float(total.b) * (1 + 1e-15), feats, lat, base, d_fixed).bound(
        [{"kind": "simplex", "row": j, "W": f["cell"]} for j, f in enumerate(free)])
    if coded:            # a fixed row whose code direction does not depend on its encoder row (a rank-1 image or
        rows = [f for f in rows or [] if feats[f["latent"]]]       # a ray: leaf.fixed_generators)
        if d_fixed != 1 or len(rows) != 1:
            return v.fail(f"piece {name}: a three-row chart's fixed row is not a fixed direction")
        w = np.asarray(rows[0]["w"], dtype=float)
        cells = [np.stack([w, w])] + cells            # a constant segment, first (the certifier's order)
        cell_feats = [feats[rows[0]["latent"]]] + cell_feats
    ends = end_codes(data, cells, cell_feats)
    poly0 = wedge_poly(ends)
    seqs, polys = [], []
    try:
        for node in roots:
            ops = tuple(tuple(op) for op in node[0]["ops"])
            poly = poly0
            for op in ops:
                poly = apply_op(poly, op)
            seqs.append(ops)
            polys.append(poly)
    except ValueError as exc:
        return v.fail(f"piece {name}: a three-row root's ops are refused ({exc})")
    if not all(weighted_context_ok(s) for s in seqs):
        return v.fail(f"piece {name}: a three-row root's weighted blow-up does not follow projective halves only")
    if not covers(list(seqs)):
        return v.fail(f"piece {name}: the three-row roots do not cover the cube")
    by_root: dict[int, list] = {}
    for leaf in rec["leaves"]:
        by_root.setdefault(int(leaf["root"]), []).append(tuple(tuple(s) for s in leaf["path"]))
    for r in range(len(roots)):
        if r not in by_root or not complete(by_root[r]):
            v.fail(f"piece {name}: the leaves of root {r} do not cover it (a leaf is missing or repeated)")
    K = wedge_operator3(G)
    for n_leaf, leaf in enumerate(rec["leaves"]):
        v.leaves += 1
        try:
            box = box_of(leaf["path"])
        except ValueError as exc:
            v.fail(f"piece {name}: leaf {n_leaf}: {exc}")
            continue
        bound = min(leaf_bound(polys[int(leaf["root"])], box, K), whole)
        claimed = float(leaf["bound"])
        v.margin(claimed, bound, total)
        v.room(bound, lb, total)
        if lb > 0 and not float((total - iv.mpf(bound)).a) >= lb:
            v.fail(f"piece {name}: leaf {n_leaf} (root {leaf['root']}): the checker proves phi <= {bound:.17g} "
                   f"there, below the piece's claimed lower bound {lb:.17g} (claimed phi <= {claimed:.17g})")
        elif bound > claimed + consistency * trG:
            v.fail(f"piece {name}: leaf {n_leaf} (root {leaf['root']}): the checker's bound phi <= {bound:.17g} "
                   f"is looser than the certificate's claimed phi <= {claimed:.17g} by more than "
                   f"{consistency:g} tr G")
    v.pieces += 1
