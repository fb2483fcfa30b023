"""An independent checker of certificate files (`sdlscape certify --certificate FILE`).

Imports numpy, mpmath and the standard library (fractions) only: none of the reduction or branch-and-bound
code. For every piece it
  1. replays every leaf's split path from its root node (the leaves of each root must form a complete
     binary tree: together they cover the root) and checks that the roots cover each free latent's cell
     (by measure: the root segments' lengths add up to the cell's; n_p = 2);
  2. checks each free latent's cell (cells.py): vertices normalised (sum of the latent's codes = 1), inside the
     closed cell (rows c . z <= 0 in the latent's codes z: z_d >= 0 on its features and, threshold 0, z_e <= 0 on
     the features where the activation forces it, `off_features`: every other feature for ReLU, for TopK o ReLU
     only those that fewer than k latents fire on; JumpReLU, the direction cone of certify/reduce: z_e <= z_d for
     every feature d of the latent and e not), and maximal: n_p = 2, every end has one of those rows at 0; n_p = 3,
     a polygon traversed once whose every edge lies on one of the rows (0 at both its ends), or, for a 2-vertex
     cell (codes of rank 2: a segment of codes), a KKT certificate at each end that it is the extreme of the cell
     along the segment; all within cells.TIGHT = 1e-9 in normalised codes (float vertices);
  3. re-evaluates each leaf's bound on phi(B) = tr(G Pi(B)) (B = the full D-scaled code matrix, fixed rows
     included, G = R^T R), the least of two:
     - the exact-rank subspace bound (span.py): row(B) lies in a subspace T spanned by the free rows' vertex
       codes (blow-up parts: both rows' images) and a span F0 that contains the fixed rows' (each fixed
       feature set's image, or the certificate's rows where they span it, or the exact ray of a one-ray
       ReLU cell); dim T is decided exactly (fractions), and tr(G on F0) + the top-k eigenvalues of G on
       T minus F0 is bounded in interval arithmetic (Cholesky-orthonormalised basis, a Ky Fan dual certificate);
     - the perturbation bound (bounds.py's bound 1) in interval arithmetic with outward rounding (every
       float operation widened by one ulp, which contains the exact result since IEEE round-to-nearest errs
       by at most half an ulp): phi at the node centre, its gradient, and the remainder 3 c_G e^2 / (s - e)^2
       with s >= sigma_min(C) proven by an interval Cholesky factorisation of C C^T - s^2 I; used only
       where the fixed rows are known exactly (or span their images: phi is monotone in the row space);
       the fixed span is taken out in floats with the allowance of leaf._Reduced;
     the leaf fails when ||R||^2 minus this bound is below the piece's lower bound (validity), or when the
     bound exceeds the leaf's claimed bound by more than `CONSISTENCY` tr G (a claim that is not the
     certifier's: the recomputation is looser than the certifier's floats by the interval widths);
  4. re-evaluates the value L~ at the recorded interior point in mpmath.iv and the global comparison;
  5. pattern coverage (coverage.py), for a global certificate with pieces: from the instance alone, in exact
     rational arithmetic (Gordan's alternative, a phase-one simplex in fractions), the patterns whose region has
     nonempty interior (relu, jumprelu: multisets of full-dimensional single-latent cells; topk, topk_relu: joint
     patterns), each of which must be a piece (up to a relabelling of latents); a missing one fails, named.
     Regions without interior need no piece: for ReLU they are limits of full-dimensional ones (L~ is continuous),
     JumpReLU has none (theta > 0), and for TopK / TopK o ReLU they are encoders with a tie at the k-th code,
     outside the claim (the verdict's `coverage`: required patterns, missing, exact LPs).
A certificate with no pieces stands only on a lower bound <= 0 (L~, eq. 11, is a sum of squares): then only 4
runs (certify's zero-loss shortcut: the multistart's point already meets the trivial bound). A piece-mode
certificate claims its one piece's bound only: 5 is skipped (a note says so).
The verdict reports `least_room`: the least (||R||^2 - the checker's bound) - (the piece's lower bound) over the
leaves, relative to ||R||^2, i.e. how much of the certifier's record slack the recomputation left unused. The
certifier sizes each piece's slack by running this checker on the piece's record (solvers/certify/record.py), so
on a piece that needed slack least_room is about numerics.CERTIFY_RECORD_MARGIN; slack - least_room is what its
worst leaf needed.
Plain TopK pieces carry their own leaves (one per passing set), checked by certcheck/topk_plain.py; pieces in
three-row charts (root parts of kind "three") are checked by certcheck/three_chart.py.

Why exact ranks rather than a tolerance. A leaf's code rows are often exactly rank-deficient (two
latents' images meet; a one-ray cell whose float encoder row is off its ray by 2e-17). A float SVD shows
such a dependency as a ~1e-17 singular direction: keeping it (the only sound choice for a tolerance) makes
the Ky Fan bound useless (two committed certificates failed so), dropping it by a threshold is unsound
without a perturbation argument, and bisecting the leaf does not remove it (every child has the same span)
while the perturbation bound cannot close at the minimiser of a nested piece (the value there is the Ky
Fan value of the exact span, reached only in the limit). Exact ranks settle it with no tolerance: the
generators are floats, and products of floats are rationals.
Refinement, as a fallback: a leaf whose recomputed bound does not prove the piece's lower bound is bisected
by the checker itself (`_split`: the certifier's own children, which cover their parent) up to
`REFINE_BUDGET` nodes (`REFINE_TOTAL` per certificate); it passes when every descendant's bound proves
it (the verdict counts such leaves),
and fails, named, otherwise. It only removes the interval widths' looseness near a tight leaf.
Not checked: that the blow-up corner codes are exactly parallel (checked within `PARALLEL_CHECK`); for
n_p = 3, that a float edge midpoint splits a triangle's cone exactly (it is off the edge by rounding); a cell
that misses less than cells.TIGHT of its true extent (float vertices); one-vertex free cells' maximality (a note;
none in the committed certificates); for TopK o ReLU, the ranking rows between latents (the cells are the
relaxed ones, see off_features); encoders at a tie of the k-th code (TopK, TopK o ReLU: outside every piece).
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mpmath import iv

from sdlscape.certcheck import cells as cell_check
from sdlscape.certcheck import coverage, span_chart, three_chart
from sdlscape.certcheck.intervals import Iv, inverse, positive_definite, spectral_norm_bound  # noqa: F401
from sdlscape.certcheck.leaf import Data, SpanBound, _part_codes, _Reduced, fixed_generators
from sdlscape.certcheck.topk_plain import check_topk_piece
from sdlscape.certcheck.value import loss_interval

CONSISTENCY = 1e-6
REFINE_BUDGET = 256
"""Nodes into which the checker may bisect one leaf whose bound does not prove the piece's lower bound."""
REFINE_TOTAL = 2 * REFINE_BUDGET
"""Refinement nodes per certificate, all leaves together (a false claim fails fast)."""
PARALLEL_CHECK = 1e-8
MEASURE_RTOL = 1e-9
FORMAT = "sdlscape-certificate/1"

# -- replaying nodes ------------------------------------------------------------------------------

def _children(part: dict, a: int, b: int) -> tuple[dict, dict]:
    if part["kind"] == "span":
        return span_chart.children(part, a)
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


def _split(node: list[dict]) -> list[list[dict]] | None:
    """Bisect the widest part of a node: a simplex along its longest encoder edge, a blow-up box along its
    wider side (the same children as the certifier's splits, so they cover the node)."""
    best = None
    for j, p in enumerate(node):
        if p["kind"] == "simplex":
            W = np.asarray(p["W"], dtype=float)
            a, b = max(itertools.combinations(range(len(W)), 2), key=lambda e: np.linalg.norm(W[e[0]] - W[e[1]]))
            width = float(np.linalg.norm(W[a] - W[b]) / max(np.linalg.norm(W[a]), 1e-300))
        elif p["kind"] == "span":
            a, width = span_chart.widest(p)
            b = -1
        else:
            r0, r1, t0, t1 = p["box"]
            a, b, width = (0, -1, r1 - r0) if r1 - r0 >= t1 - t0 else (1, -1, t1 - t0)
        if best is None or width > best[0]:
            best = (width, j, a, b)
    if best is None or not best[0] > 0:
        return None
    _, j, a, b = best
    return [node[:j] + [c] + node[j + 1:] for c in _children(node[j], a, b)]


def _refine(node: list[dict], bound_of, proves, budget: int) -> tuple[float | None, int]:
    """The checker's own refinement of a leaf it cannot prove: bisect until every descendant's bound proves
    the piece's lower bound (then the largest of those bounds) or `budget` nodes are used (then None)."""
    stack, used, worst = [node], 0, -np.inf
    while stack:
        nd = stack.pop()
        b = bound_of(nd) if nd is not node else np.inf
        if proves(b):
            worst = max(worst, b)
            continue
        kids = _split(nd)
        if kids is None or used + len(kids) > budget:
            return None, used
        used += len(kids)
        stack.extend(kids)
    return worst, used


# -- a piece, a certificate ------------------------------------------------------------------------

@dataclass
class Verdict:
    valid: bool
    pieces: int = 0
    leaves: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refined: int = 0                 # leaves the checker closed by its own bisection
    refine_nodes: int = 0            # nodes that bisection evaluated
    least_margin: float | None = None   # min over leaves of (claimed bound - the checker's bound) / ||R||^2
    least_room: float | None = None     # min over leaves of (the checker's floor - the piece's lower bound) / ||R||^2
    coverage: dict | None = None        # the pattern coverage check (coverage.py): required patterns, LPs spent

    def fail(self, why: str) -> None:
        self.valid = False
        self.failures.append(why)

    def margin(self, claimed: float, bound: float, total) -> None:
        """Record how far a leaf's claimed bound on phi lies above the checker's own (relative to ||R||^2). Negative
        where the checker's bound is the looser one: it recomputes a different bound (no second-order or Pluecker
        node bounds of the certifier), which matters only on the leaves that the piece's lower bound rests on."""
        m = (claimed - bound) / max(float(total.b), 1e-300)
        self.least_margin = m if self.least_margin is None else min(self.least_margin, m)

    def room(self, bound: float, lb: float, total) -> None:
        """Record how far the checker's own floor ||R||^2 - bound (interval low end) lies above the piece's lower
        bound, relative to ||R||^2: the part of the record slack that a leaf did not need (a leaf passes when it is
        >= 0; pieces with lower bound 0 need nothing). The piece's recorded slack - least_room is what it needed."""
        if not lb > 0:
            return
        r = (float((total - iv.mpf(bound)).a) - lb) / max(float(total.b), 1e-300)
        self.least_room = r if self.least_room is None else min(self.least_room, r)

    def to_dict(self) -> dict:
        return {"valid": self.valid, "pieces": self.pieces, "leaves": self.leaves, "refined_leaves": self.refined,
                "refinement_nodes": self.refine_nodes, "least_margin": self.least_margin, "least_room": self.least_room,
                "coverage": self.coverage, "failures": self.failures, "notes": self.notes}


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


def off_features(data: Data, feats: list[list[int]], i: int) -> list[int]:
    """The features outside latent i's set on which its code is <= 0 on the whole closed region of the pattern
    `feats` (threshold-0 activations): for ReLU every one. For TopK o ReLU only the features that fewer than k
    latents fire on: there every positive code is among the k largest, so it fires. On a feature that k latents
    fire on, a silent latent's code only ranks below theirs, a row coupling two latents' encoder rows, which the
    certifier's cells leave out (a relaxation: the cell holds every row direction of the region, and more); the
    code may be positive inside the region itself (the certified minimiser of random_unit(5, 2, topk_relu k = 1,
    3 latents, seed 0) has one, tests/certcheck/test_topk_relu_cells.py). Any other activation, or a TopK o ReLU
    without a k, gets the ReLU rule."""
    F = set(feats[i])
    rest = [d for d in range(data.W_p.shape[1]) if d not in F]
    if data.activation == "topk_relu" and data.k >= 1:
        return [d for d in rest if sum(d in E for E in feats) < data.k]
    return rest


def check_piece(data: Data, piece: dict, G: Iv, trG: float, cG_of, total, v: Verdict) -> None:
    name = json.dumps(piece["pattern"], separators=(",", ":"))
    rec = piece.get("record")
    if rec is None:
        v.fail(f"piece {name}: no record (status {piece.get('status')}, reason {piece.get('reason')})")
        return
    if rec.get("kind") is not None:
        v.fail(f"piece {name}: a record of kind {rec.get('kind')!r} for activation {data.activation!r}")
        return
    feats = [list(map(int, F)) for F in piece["pattern"]]
    lb = float(piece["lower_bound"])
    fixed = [data.code(f["w"], feats[f["latent"]]) for f in rec["fixed"] if feats[f["latent"]]]
    lat = [f["latent"] for f in rec["free"]]
    for fr in rec["free"]:                                                  # 2. the cells (cells.py)
        V = np.asarray(fr["cell"], dtype=float)
        F = feats[fr["latent"]]
        Z = V @ data.W_p
        if np.any(np.abs(Z[:, F].sum(axis=1) - 1.0) > 1e-9):
            v.fail(f"piece {name}: latent {fr['latent']}'s cell vertices are not normalised")
        off = off_features(data, feats, fr["latent"]) if data.threshold == 0.0 else []
        for why in cell_check.check_cell(data.W_p, F, off, data.threshold != 0.0, V):
            if why.endswith("not checked"):
                v.notes.append(f"piece {name}: latent {fr['latent']}'s {why}")
            else:
                v.fail(f"piece {name}: latent {fr['latent']}'s {why}")
    roots = rec["roots"]
    if any(p["kind"] == "three" for node in roots for p in node):    # three-row charts: three_chart.py
        return three_chart.check_three_piece(data, rec, feats, G, total, lb, trG, CONSISTENCY, _complete, name, v)
    spanned = any(p["kind"] == "span" for node in roots for p in node)
    if spanned:                                          # 1. the roots cover (span charts: span_chart.py)
        measures = {j: _cell_measure(np.asarray(f["cell"], dtype=float)) for j, f in enumerate(rec["free"])}
        for why in span_chart.check_roots(data, roots, feats, lat, _part_measure, measures, MEASURE_RTOL):
            return v.fail(f"piece {name}: {why}")        # the leaves' parametrisation is not trusted
    else:
        cells = np.prod([_cell_measure(np.asarray(f["cell"], dtype=float)) for f in rec["free"]]) if lat else 1.0
        covered = sum(np.prod([_part_measure(p) for p in node]) if node else 1.0 for node in roots)
        if abs(covered - cells) > MEASURE_RTOL * max(cells, 1e-300):
            v.fail(f"piece {name}: the root nodes cover measure {covered:.17g} of {cells:.17g}")
    for node in roots:
        for p in node:
            if p["kind"] == "blowup":
                b = (data.code(np.asarray(p["wg"]), feats[lat[p["g"]]])
                     - data.code(np.asarray(p["wf"]), feats[lat[p["f"]]]) * Iv(p["mu"]))
                res = 0.5 * (b.lo + b.hi)
                if fixed:
                    X = np.stack([0.5 * (r.lo + r.hi) for r in fixed])
                    res = res - X.T @ np.linalg.lstsq(X.T, res, rcond=None)[0]
                scale = np.linalg.norm(data.code(np.asarray(p["wg"]), feats[lat[p["g"]]]).hi)
                if np.linalg.norm(res) > PARALLEL_CHECK * max(scale, 1e-300):
                    v.fail(f"piece {name}: a blow-up corner whose codes are not parallel ({np.linalg.norm(res):.3g})")
    if sorted([f["latent"] for f in rec["fixed"]] + lat) != list(range(len(feats))):
        v.fail(f"piece {name}: the fixed and free latents are not each latent once")
        return
    relu = data.activation == "relu"
    base, d_fixed, rows, notes = fixed_generators(data, feats, rec["fixed"], relu)
    v.notes.extend(f"piece {name}: {n}" for n in notes)
    red = None
    if rows is not None:
        red = _Reduced(G, trG, [data.code(f["w"], feats[f["latent"]]) for f in rows if feats[f["latent"]]], cG_of)
    span = SpanBound(G, float(total.b) * (1 + 1e-15), feats, lat, base, d_fixed)   # cap: tr G >= phi
    by_root: dict[int, list] = {}
    for leaf in rec["leaves"]:
        by_root.setdefault(int(leaf["root"]), []).append(tuple(tuple(s) for s in leaf["path"]))
    for r in range(len(roots)):
        if r not in by_root or not _complete(by_root[r]):
            v.fail(f"piece {name}: the leaves of root {r} do not cover it (a leaf is missing or repeated)")
    wedge = span_chart.wedge_operator(G) if spanned and len(lat) == 2 and not rec["fixed"] else None

    def bound_of(node: list[dict]) -> float:
        codes: dict[int, Iv] = {}
        for p in node:
            codes.update(_part_codes(data, p, feats, lat))
        b = span.bound(node)
        if wedge is not None:
            b = min(b, span_chart.wedge_bound(wedge, codes[0], codes[1]))
        return b if red is None else min(b, red.perturbation([codes[j] for j in range(len(lat))]))

    def proves(b: float) -> bool:
        return not lb > 0 or float((total - iv.mpf(b)).a) >= lb

    for n_leaf, leaf in enumerate(rec["leaves"]):                               # 3. every leaf's bound
        v.leaves += 1
        node = _leaf_node(roots[int(leaf["root"])], [list(s) for s in leaf["path"]])
        bound = bound_of(node)
        claimed = float(leaf["bound"])
        used = 0
        if not proves(bound) and v.refine_nodes < REFINE_TOTAL:
            refined, used = _refine(node, bound_of, proves, min(REFINE_BUDGET, REFINE_TOTAL - v.refine_nodes))
            v.refine_nodes += used
            if refined is not None:
                v.refined += 1
                bound = min(bound, refined)
        v.margin(claimed, bound, total)
        v.room(bound, lb, total)
        if not proves(bound):
            floor = float((total - iv.mpf(bound)).a)
            v.fail(f"piece {name}: leaf {n_leaf} (root {leaf['root']}): the checker proves phi <= {bound:.17g} "
                   f"there, i.e. L~ >= ||R||^2 - phi >= {floor:.17g}, below the piece's claimed lower bound "
                   f"{lb:.17g} (the certificate claims phi <= {claimed:.17g}; not closed by refinement: {used} nodes, "
                   f"budget {REFINE_BUDGET} per leaf, {REFINE_TOTAL} per certificate)")
        elif bound > claimed + CONSISTENCY * trG:
            v.fail(f"piece {name}: leaf {n_leaf} (root {leaf['root']}): the checker's bound phi <= {bound:.17g} "
                   f"is looser than the certificate's claimed phi <= {claimed:.17g} by more than "
                   f"{CONSISTENCY:g} tr G")
    v.pieces += 1


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
    elif name in ("topk_relu", "topk"):
        k = int(act.get("k", 1))
        order = np.sort(Z, axis=0)[::-1]
        kth = order[min(k, Z.shape[0]) - 1]
        nxt = order[k] if k < Z.shape[0] else np.full(Z.shape[1], -np.inf)
        if np.any(kth <= nxt):
            return False
        got = (Z >= kth[None, :]) & ((Z > 0) if name == "topk_relu" else True)
    else:
        return False
    return bool(np.array_equal(got, want))


def check_coverage(cert: dict, v: Verdict) -> None:
    """5. A global certificate's pieces stand for every pattern whose region has interior (coverage.py); a piece
    mode certificate claims one piece only, and a global one with no pieces rests on the trivial bound <= 0."""
    if cert.get("mode") != "global":
        v.notes.append(f"mode {cert.get('mode')!r}: the bound is claimed for the listed pieces only (no coverage)")
        return
    if not cert["pieces"]:
        return
    try:
        missing, need, calls = coverage.missing_patterns(cert)
    except (ValueError, coverage.Undecided) as exc:
        v.fail(f"pattern coverage not decided: {exc}")
        return
    v.coverage = {"required": need, "missing": len(missing), "exact_lps": calls}
    for m in missing:
        v.fail(f"pattern {json.dumps(m, separators=(',', ':'))}: its region has interior (exact LP) but the "
               "certificate has no piece for it (the global lower bound does not cover it)")


def check(cert: dict) -> Verdict:
    """Check a certificate (the parsed JSON of `certify --certificate`); see the module docstring."""
    v = Verdict(valid=True)
    if cert.get("format") != FORMAT:
        v.fail(f"not a certificate file (format {cert.get('format')!r}, expected {FORMAT!r})")
        return v
    if cert.get("lower_bound") is None or (not cert.get("pieces") and not float(cert["lower_bound"]) <= 0.0):
        # no pieces: only the trivial bound L~ >= 0 (a sum of squares, eq. 11) stands without leaves
        v.fail("the certificate has no pieces or no lower bound (nothing was certified)")
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
        if data.activation == "topk":                   # plain TopK: its own leaves (certcheck/topk_plain.py)
            if piece.get("record") is None or piece["record"].get("kind") != "topk_plain":
                v.fail(f"piece {piece['pattern']}: plain TopK needs a record of kind 'topk_plain'")
            else:
                check_topk_piece(data, piece, int(cert["instance"]["activation"]["k"]), v)
        else:
            check_piece(data, piece, G, trG, cG_of, total, v)
        lows.append(float(piece["lower_bound"]))
    check_coverage(cert, v)
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
            thresh = iv.mpf(float(cert["rtol"])) * iv.mpf(max(val.a, 0)) + iv.mpf(float(cert["atol"]))
            if not gap.b <= thresh.a:
                v.fail(f"value {float(val.b):.17g} and lower bound {cert['lower_bound']} do not meet rtol {cert['rtol']}")
            if not _reads_back(cert["instance"], data, np.asarray(mn["W_E"], dtype=float), mn["pattern"]):
                v.fail("the minimiser's encoder does not show its pattern (its loss is not a value of L~)")
    return v


def check_file(path: str | Path) -> Verdict:
    return check(json.loads(Path(path).read_text()))

