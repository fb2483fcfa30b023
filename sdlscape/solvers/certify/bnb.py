"""Spatial branch and bound over the free rows' cell polytopes (CERTIFY.md sec. 2).

Maximises the free energy phi(B) over nodes = one simplex per free row; best-first on the node bound
(bounds.node_bound); a node is split by bisecting the longest edge (in code space) of its widest row.
The incumbent is phi at node centres and at the root's vertex combinations (closure points: phi is lower
semicontinuous, so phi there is a limit of interior values, see global_min). Stops when every open node
is within the tolerance of the incumbent (or of a cutoff), at the node or time limit, or when only nodes
too small to split remain (a rank drop inside the node: the bound cannot close there).
Three free rows of an n_p = 2 piece with no fixed span are branched in three-row charts instead
(charts_three.three_row_bnb: boxes of Pluecker charts, the same result type).
"""
from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from sdlscape import numerics
from sdlscape.outcomes import CertifyReason
from sdlscape.solvers.certify.bounds import captured_energy, g_constant, node_bound, wedge_bound, wedge_operator
from sdlscape.solvers.certify.charts import Simplex, chart_rows, root_nodes
from sdlscape.solvers.certify.reduce import ReducedPiece

MAX_ROOT_VERTEX_COMBOS = 4096
BOUND_GRID = 1e-14
"""Node bounds within this (relative to ||R||^2) count as tied in the search order: ties go to the node with the
best centre value. (Broken by counter alone, 1e-15 changes in the allowances sent a zero-loss JumpReLU piece from
1095 nodes to beyond 20000; with the centre value it takes 87.)"""
"""At most this many vertex combinations are evaluated as first incumbents."""
CANDIDATES_KEPT = 16
"""The best points kept for realisation (TopK o ReLU: the relaxed best may not be realisable)."""


@dataclass(frozen=True, kw_only=True)
class BnbResult:
    """What branch and bound proved about sup phi_free over the piece (phi_free = phi - phi0)."""

    phi_best: float                  # phi_free at the best point found (a closure point)
    W_best: np.ndarray               # its free encoder rows (k x n_p), normalised
    candidates: tuple                # ((phi, W_free), ...) best first
    phi_upper: float                 # a valid upper bound on sup phi_free (rounding allowance included)
    nodes: int
    stopped: CertifyReason | None    # None: the tolerance was met
    open_nodes: int
    stuck_nodes: int
    seconds: float
    roots: tuple = ()                # record=True: the root nodes (tuples of chart parts)
    leaves: tuple = ()               # record=True: (root index, split path, bound on phi_free) of every closed node
    uncharted: int = 0               # degenerate corners left without a blow-up chart (three parallel rows)


def branch_and_bound(red: ReducedPiece, rtol: float = numerics.CERTIFY_RTOL, atol: float = numerics.CERTIFY_ATOL,
                     L_cutoff: float = np.inf, time_limit: float = numerics.CERTIFY_SAFETY_SECONDS,
                     node_limit: int = numerics.CERTIFY_NODE_LIMIT,
                     remainder_factor: float = 3.0, record: bool = False, seeds: tuple = ()) -> BnbResult:
    """Maximise phi_free over the reduced piece; see the module docstring.

    L_cutoff: a value of L~ known elsewhere (another piece): nodes whose bound shows L~ >= L_cutoff within
    the tolerance are pruned too. remainder_factor: the constant of the second-order remainder (3 is the
    proven one; a smaller value makes an unsound bound, which the tests must catch). record: keep the roots and
    every closed node (its split path from its root: (part, edge or axis, -, child) steps) for a certificate file.
    seeds: free encoder rows (k x n_p, normalised) of points of the piece found elsewhere (a local solve), offered
    as first incumbents: where the root bound already meets one, the piece closes at its root.
    """
    from sdlscape.solvers.certify.charts_three import eligible, three_row_bnb

    if eligible(red):                                 # three free rows, n_p = 2: Pluecker charts (charts_three.py)
        return three_row_bnb(red, rtol, atol, L_cutoff, time_limit, node_limit, record=record, seeds=seeds)
    t0 = time.perf_counter()
    Gr, k = red.Gr, red.k
    trG = float(np.trace(red.G))
    cG = g_constant(Gr, k) if k else 0.0
    span_dim = red.span_dim if k else 0
    grid = BOUND_GRID * max(trG, 1e-300)
    base = red.total - red.phi0                         # L~ = base - phi_free
    roots, uncharted = root_nodes(red) if k else ([()], 0)
    # Span charts (two free rows, no fixed span): also the Pluecker bound (bounds.wedge_bound).
    wedge = wedge_operator(Gr) if k == 2 and red.U0.shape[1] == 0 else None
    best_phi, best_W = -np.inf, np.zeros((k, red.piece.instance.n_p))
    cands: list[tuple[float, np.ndarray]] = []

    def offer(phi: float, W: np.ndarray) -> None:
        nonlocal best_phi, best_W
        if phi > best_phi:
            best_phi, best_W = phi, W
        if len(cands) < CANDIDATES_KEPT or phi > cands[-1][0]:
            cands.append((phi, W))
            cands.sort(key=lambda pw: -pw[0])
            del cands[CANDIDATES_KEPT:]

    vert_lists = [c.vertices for c in red.free]
    n_combos = int(np.prod([len(v) for v in vert_lists])) if k else 1
    if n_combos <= MAX_ROOT_VERTEX_COMBOS:
        for combo in itertools.product(*vert_lists):
            W = np.array(combo).reshape(k, red.piece.instance.n_p)
            offer(captured_energy(red.reduced_rows(W), Gr).phi, W)
    from sdlscape.solvers.certify.charts_span import polished_points

    for W in tuple(seeds) + tuple(polished_points(red, roots)):
        offer(captured_energy(red.reduced_rows(W), Gr).phi, np.asarray(W, dtype=float))

    def tol_phi() -> float:
        return 0.5 * (rtol * max(base - best_phi, 0.0) + atol)

    cut_phi = base - L_cutoff if np.isfinite(L_cutoff) else -np.inf
    # Against a cutoff, the tolerance is the cutoff's (the piece is pruned when its bound is within rtol of the
    # cutoff value, not of its own, larger, value).
    tol_cut = 0.5 * (rtol * max(L_cutoff, 0.0) + atol) if np.isfinite(L_cutoff) else 0.0
    heap: list = []
    counter = itertools.count()
    pruned_max, stuck_max, stuck, nodes = -np.inf, -np.inf, 0, 0
    leaves: list = []

    def encoder_rows(rows: dict[int, np.ndarray]) -> np.ndarray:
        return np.stack([rows[i] for i in range(k)]) if k else best_W

    def push(node: tuple, root: int, path: tuple) -> None:
        nonlocal nodes
        nodes += 1
        V, centre = chart_rows(red, node)
        dims = [None] * k
        for part in node:
            if isinstance(part, Simplex):
                dims[part.row] = red.row_dims[part.row]
        bound, pv, _ = node_bound(V, Gr, cG, trG, remainder_factor, span_dim, dims)
        if wedge is not None and any(hasattr(p, "partner_row") for p in node):
            bound = min(bound, wedge_bound(V, wedge[0], wedge[1], trG))
        centre = _partner_rows(red, node, centre)
        if centre is not None:                        # a span chart's centre with no realising row is skipped
            offer(pv.phi, encoder_rows(centre))
        else:
            centre = {}
        for part in node:
            near = part.near_face(red)
            if near is not None:                      # phi in the chart rows (B itself is nearly rank deficient)
                rows, codes = near
                C = np.stack([codes.get(i, Vi.mean(axis=0)) for i, Vi in enumerate(V)])
                offer(captured_energy(C, Gr).phi, encoder_rows({**centre, **rows}))
        # best bound first; bounds in one grid cell (rounding noise) by the best centre value, so that the order
        # does not hang on the last bits of the allowances
        key = max(math.ceil(bound / grid) * grid, bound)       # >= bound, so the heap's top bounds every node
        heapq.heappush(heap, (-key, -pv.phi, next(counter), node, V, root, path, bound))

    for r, node in enumerate(roots):
        push(node, r, ())
    stopped = None
    while heap:
        top, _, _, node, V, root, path, bound = heap[0]
        top = -top                                    # >= every open node's bound
        if top <= best_phi + tol_phi() or top <= cut_phi + tol_cut or base - best_phi <= 0.25 * atol:
            break                                     # (L~ >= 0: a zero value needs no node bound)
        if nodes >= node_limit:
            stopped = CertifyReason.NODE_LIMIT
            break
        if time.perf_counter() - t0 > time_limit:
            stopped = CertifyReason.TIME_LIMIT
            break
        heapq.heappop(heap)
        scale = max(1.0, max(float(np.abs(Vi).max()) for Vi in V))
        radii = [max(float(np.max(np.linalg.norm(V[i] - V[i].mean(axis=0), axis=1))) for i in _rows(part))
                 for part in node]
        if max(radii) < numerics.CERTIFY_MIN_RADIUS * scale:
            stuck += 1
            stuck_max = max(stuck_max, bound)
            if record:
                leaves.append((root, path, bound))
            continue
        j = int(np.argmax(radii))
        children, how = node[j].split(red)
        for c, child in enumerate(children):
            push(node[:j] + (child,) + node[j + 1:], root, path + ((j, how[0], how[1], c),))
    # Whatever is still open, pruned or stuck bounds sup phi_free from above.
    remaining = max((h[7] for h in heap), default=-np.inf)
    if record:
        leaves.extend((h[5], h[6], h[7]) for h in heap)
    if k == 0:
        best_phi, remaining = 0.0, 0.0
    upper = min(max(remaining, pruned_max, stuck_max, best_phi), max(base, best_phi))   # L~ >= 0
    if stopped is None and stuck and stuck_max > best_phi + tol_phi() and stuck_max > cut_phi + tol_cut:
        stopped = CertifyReason.DEGENERATE_CORNER
    return BnbResult(uncharted=uncharted, roots=tuple(roots) if record else (), leaves=tuple(leaves),
                     phi_best=float(best_phi), W_best=best_W, candidates=tuple(cands), phi_upper=float(upper),
                     nodes=nodes, stopped=stopped, open_nodes=len(heap), stuck_nodes=stuck,
                     seconds=time.perf_counter() - t0)


def _partner_rows(red: ReducedPiece, node: tuple, centre: dict) -> dict | None:
    """The node centre's encoder rows, with each span part's row realised from its partner's (charts_span);
    None when some span part has none (a relaxed chart: its centre need not be a point of the piece)."""
    out = dict(centre)
    for part in node:
        if hasattr(part, "partner_row"):
            w = part.partner_row(red, centre[part.partner])
            if w is None:
                return None
            out[part.row] = w
    return out


def _rows(part) -> tuple[int, ...]:
    return (part.row,) if hasattr(part, "row") else (part.f, part.g)
