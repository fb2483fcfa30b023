"""A piece reduced to a bounded problem in few variables (CERTIFY.md sec. 1).

Variable projection (exact): with D = diag(sqrt(M)), R = W_r D and B = A D (A the passed codes,
rows b_i), the decoder block of L~ (eq. 11) is least squares and

    min over W_D of L~ = ||R||_F^2 - phi(B),   phi(B) = tr(R^T R Pi(B)),

Pi(B) the orthogonal projector onto row(B). So L~ depends on W_E only through the row directions of
B. For a positively homogeneous activation (ReLU, TopK o ReLU) row i is normalised by
sum_{d in F_i} a_id = 1 (all these codes are positive): its normalised code row ranges over the
*cell polytope* {a_i(w) : w in the closed cell of latent i, <s_i, w> = 1}, s_i = sum_{d in F_i} w_p^d.
For n_p = 2 this is a segment, for n_p = 3 a polygon (fanned into triangles).

Exact reductions: a dead latent (F_i empty) has a zero code row; a cell whose codes are proportional
(rank 1, e.g. a single feature) gives a fixed row direction; c >= r latents on one cell of rank r
span the cell's whole image; the free rows are projected off the fixed span. What is left: k free
rows, each a point of its own cell polytope.

TopK o ReLU couples latents through ordering rows z_jd < z_id (a feature whose column is full). Those
rows are *dropped* here (a relaxation: every bound stays valid); a point is a candidate value only
once it is realised as an encoder of the true region (`realize`, an LP on the row scales).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

from sdlscape.errors import InputError
from sdlscape.theory.activations import REGISTRY, Reduction
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import ConstraintKind

VERTEX_TOL = 1e-12
"""Relative slack within which a candidate vertex of a cell polytope satisfies the cell's rows."""
MERGE_ATOL = 1e-12
"""Candidate vertices closer than this (absolute, max-norm) are one vertex. Absolute only: a relative
tolerance merges the two ends of a thin cell (two features 1e-7 rad apart) into one."""
RANK_TOL = 1e-10
"""Relative singular value below which code directions count as parallel (a fixed row, a fixed span)."""


@dataclass(frozen=True, eq=False)
class CellPolytope:
    """The normalised cell of one latent: vertices (encoder rows w with <s, w> = 1) and a triangulation.

    vertices: (n_v, n_p); simplices: index tuples (segments for n_p = 2, triangles for n_p = 3);
    rows: (A, kinds, features) of the latent's own region rows a.w <= 0 (ON rows are open faces).
    """

    latent: int
    features: tuple[int, ...]
    vertices: np.ndarray
    simplices: tuple[tuple[int, ...], ...]
    A: np.ndarray
    kinds: tuple[ConstraintKind, ...]
    row_features: tuple[int, ...]

    @property
    def centroid(self) -> np.ndarray:
        return self.vertices.mean(axis=0)

    def open_faces(self, w: np.ndarray, tol: float = 1e-9) -> list[int]:
        """Features of the open rows (strict in the region) that are tight at the closure point w: for ON,
        feature d's code of this latent vanishes; for JumpReLU's ORDER rows, feature d' reaches the threshold."""
        scale = max(1.0, float(np.abs(w).max()))
        return sorted({self.row_features[r] for r in range(self.A.shape[0])
                       if self.kinds[r] is not ConstraintKind.OFF and self.A[r] @ w >= -tol * scale})


@dataclass(frozen=True, eq=False)
class ReducedPiece:
    """A piece after variable projection, normalisation and the exact reductions (module docstring).

    G: R^T R (n x n); total = tr(G) = ||R||_F^2; U0: orthonormal basis of the fixed span (n x r0);
    Q: orthonormal basis of its complement (n x m); Gr = Q^T G Q; phi0 = tr(U0^T G U0);
    free: the free rows' cell polytopes; maps[j]: encoder row w -> reduced code row Q^T (D a(w));
    fixed_rows: latent -> encoder row direction (fixed latents; free latents are filled in later).
    """

    piece: Piece
    G: np.ndarray
    total: float
    U0: np.ndarray
    Q: np.ndarray
    Gr: np.ndarray
    phi0: float
    free: tuple[CellPolytope, ...]
    maps: tuple[np.ndarray, ...]
    fixed_rows: dict[int, np.ndarray]
    coupled: bool
    notes: dict = field(default_factory=dict)
    fixed_sources: tuple = ()            # (latent, encoder row) of every fixed code row spanning U0

    @property
    def k(self) -> int:
        return len(self.free)

    @property
    def m(self) -> int:
        return self.Q.shape[1]

    @cached_property
    def code_maps_full(self) -> tuple[np.ndarray, ...]:
        """Encoder row -> full D-scaled code row (n x n_p) of each free latent."""
        return tuple(_code_map(self.piece, c.latent) for c in self.free)

    @cached_property
    def _exact_dims(self) -> tuple[int | None, tuple[int | None, ...]]:
        """(span_dim, row_dims): dimensions, in the reduced space, of the sum of the free latents' code images and
        of each one, decided over fractions as dim(image + F0) - dim F0 with F0 the exact span of the fixed code
        rows. (None, Nones) when the float fixed span U0 does not have F0's dimension (then no bound is claimed)."""
        from sdlscape.certcheck.span import independent_rows

        n_p = self.piece.instance.n_p
        F0 = [r for i, w in self.fixed_sources for r in _live_rows(self.piece, i, w)]
        r0 = len(independent_rows(F0))
        if r0 != self.U0.shape[1]:
            return None, (None,) * self.k
        images = [_live_rows(self.piece, c.latent, np.eye(n_p)) for c in self.free]
        rows = tuple(len(independent_rows(F0 + im)) - r0 for im in images)
        return len(independent_rows(F0 + [r for im in images for r in im])) - r0, rows

    @property
    def span_dim(self) -> int | None:
        """A proven bound on the dimension of the span of every node's reduced code rows (exact; see _exact_dims)."""
        return self._exact_dims[0]

    @property
    def row_dims(self) -> tuple[int | None, ...]:
        """A proven bound on the dimension of each free latent's reduced code image (a simplex part's codes lie in
        it)."""
        return self._exact_dims[1]

    def reduced_rows(self, W_free: np.ndarray) -> np.ndarray:
        """Reduced code rows (k x m) of free encoder rows W_free (k x n_p)."""
        return np.stack([L @ w for L, w in zip(self.maps, W_free)]) if self.k else np.zeros((0, self.m))

    def encoder(self, W_free: np.ndarray) -> np.ndarray:
        """Row directions of a full W_E (n_latents x n_p): fixed rows, then the free rows W_free."""
        inst = self.piece.instance
        W = np.zeros((inst.n_latents, inst.n_p))
        for i, w in self.fixed_rows.items():
            W[i] = w
        for c, w in zip(self.free, W_free):
            W[c.latent] = w
        return W


def _live_rows(piece: Piece, latent: int, W: np.ndarray) -> list:
    """Exact rows S_i * (w W_p) of latent i for the encoder rows W, on the features with M > 0 (D dropped: it is
    invertible there), as fractions (products and sums of floats are rationals)."""
    from fractions import Fraction

    inst = piece.instance
    live = np.flatnonzero(np.asarray(inst.M) > 0)
    on = np.asarray(piece.loss_mask[latent], dtype=bool)
    Wp = [[Fraction(float(x)) for x in row] for row in inst.W_p]
    return [[sum((Fraction(float(wj)) * Wp[j][d] for j, wj in enumerate(w)), Fraction(0)) if on[d] else Fraction(0)
             for d in live] for w in np.atleast_2d(W)]


def _code_map(piece: Piece, i: int) -> np.ndarray:
    """w -> D a_i(w): the D-scaled passed code row of latent i as a linear map (n x n_p)."""
    inst = piece.instance
    S = piece.loss_mask[i]
    return (S * np.sqrt(inst.M))[:, None] * inst.W_p.T


def _latent_rows(piece: Piece, i: int) -> tuple[np.ndarray, tuple, tuple, bool]:
    """The homogeneous rows a.w <= 0 that cut out the *directions* of latent i's encoder row, and
    whether some region row couples it to another latent (TopK ordering: dropped, a relaxation).

    Threshold 0 (ReLU, TopK o ReLU): the region's own rows of latent i. Threshold theta > 0 (JumpReLU):
    a direction u is the direction of a cell point c u iff some c > 0 has c z_d > theta for d in F_i and
    c z_d' <= theta for d' not in F_i, i.e. iff z_d > 0 and z_d > z_d' for all such d, d' (theta cancels):
    rows -z_d <= 0 (ON, open) and z_d' - z_d <= 0 (open: the scale interval closes at equality).
    """
    reg = piece.region
    n_p = reg.shape[1]
    act = piece.instance.activation
    rows, kinds, feats, coupled = [], [], [], False
    if act.certifier_reduction is Reduction.JUMP_THRESHOLD:
        Wp = piece.instance.W_p
        F = [int(d) for d in np.flatnonzero(piece.loss_mask[i])]
        rest = [d for d in range(piece.instance.n) if d not in F]
        for d in F:
            rows.append(-Wp[:, d])
            kinds.append(ConstraintKind.ON)
            feats.append(d)
            for e in rest:
                rows.append(Wp[:, e] - Wp[:, d])
                kinds.append(ConstraintKind.ORDER)
                feats.append(e)
        return np.array(rows).reshape(-1, n_p), tuple(kinds), tuple(feats), False
    for r, c in enumerate(reg.constraints):
        blocks = [j for j in range(reg.shape[0]) if np.any(reg.G[r, j * n_p:(j + 1) * n_p] != 0)]
        if c.kind is ConstraintKind.ORDER:
            coupled = coupled or i in blocks
            continue
        if blocks == [i]:
            rows.append(reg.G[r, i * n_p:(i + 1) * n_p])
            kinds.append(c.kind)
            feats.append(c.feature)
    A = np.array(rows).reshape(-1, n_p)
    return A, tuple(kinds), tuple(feats), coupled


def cell_polytope(piece: Piece, i: int) -> CellPolytope:
    """The normalised cell of latent i: vertices of {w : A w <= 0, <s_i, w> = 1} (n_p in {2, 3})."""
    inst = piece.instance
    F = tuple(int(d) for d in np.flatnonzero(piece.loss_mask[i]))
    A, kinds, feats, _ = _latent_rows(piece, i)
    n_p = inst.n_p
    s = inst.W_p[:, list(F)].sum(axis=1)
    T = inst.W_p[:, list(F)].T
    rank = np.linalg.matrix_rank(T, tol=RANK_TOL * max(1.0, np.abs(T).max()))
    if rank == 2 and n_p == 3:
        # The codes span a plane: the normalised image is a segment. Its end points are the extremes of a
        # code functional over the slice (two LPs); the encoder rows found realise them (convex cell).
        basis = null_space(np.ones((1, len(F))))[:, 0]            # a direction along sum a = 1
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(sign * (T.T @ basis), A_ub=A, b_ub=np.zeros(A.shape[0]), A_eq=s[None, :], b_eq=[1.0],
                          bounds=(None, None), method="highs")
            if res.status != 0:
                raise InputError(f"latent {i}: the segment LP of a rank-2 cell has status {res.status}")
            ends.append(res.x)
        return CellPolytope(latent=i, features=F, vertices=np.array(ends), simplices=((0, 1),), A=A, kinds=kinds,
                            row_features=feats)
    if rank < n_p:
        raise InputError("cell_polytope needs a cell whose codes span at least a plane")
    # Vertices: n_p - 1 rows active plus the normalisation; keep the feasible ones.
    cands = []
    import itertools
    for combo in itertools.combinations(range(A.shape[0]), n_p - 1):
        M = np.vstack([A[list(combo)], s[None, :]])
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        w = np.linalg.solve(M, np.concatenate([np.zeros(n_p - 1), [1.0]]))
        if np.all(A @ w <= VERTEX_TOL * max(1.0, np.abs(w).max())):
            if not any(np.max(np.abs(w - u)) <= MERGE_ATOL for u in cands):
                cands.append(w)
    if len(cands) == 1:             # the closed cell is one ray: a fixed row direction
        return CellPolytope(latent=i, features=F, vertices=np.array(cands), simplices=((0,),), A=A, kinds=kinds,
                            row_features=feats)
    if len(cands) < n_p:
        raise InputError(f"latent {i}: the normalised cell has {len(cands)} vertices; expected a bounded polytope")
    V = np.array(cands)
    if n_p == 2:
        order = np.argsort(V @ null_space(s[None, :])[:, 0])
        V = V[order[[0, -1]]]
        simplices = ((0, 1),)
    elif n_p == 3:
        c = V.mean(axis=0)
        basis = null_space(s[None, :])
        ang = np.arctan2((V - c) @ basis[:, 1], (V - c) @ basis[:, 0])
        V = V[np.argsort(ang)]
        simplices = tuple((0, j, j + 1) for j in range(1, len(V) - 1))
    else:
        raise InputError(f"the certifier handles n_p in (2, 3); this instance has n_p = {n_p}")
    return CellPolytope(latent=i, features=F, vertices=V, simplices=simplices, A=A, kinds=kinds, row_features=feats)


def _interior_points(P: CellPolytope, count: int) -> list[np.ndarray]:
    """count distinct points of the polytope's relative interior (spread between vertices and centroid)."""
    c, V = P.centroid, P.vertices
    pts = []
    for j in range(count):
        v = V[j % len(V)]
        lam = 0.5 if j < len(V) else 0.25
        pts.append(c + lam * (v - c))
    return pts


def _orth(X: np.ndarray, n: int, rank: int | None = None) -> np.ndarray:
    """Orthonormal basis (n x r) of the span of the rows of X: r = rank where it is known exactly, else the
    singular values above RANK_TOL (relative)."""
    if X.size == 0:
        return np.zeros((n, 0))
    U, sv, Vt = np.linalg.svd(X, full_matrices=False)
    r = int(np.sum(sv > RANK_TOL * max(sv.max(), 1e-300))) if rank is None else rank
    return Vt[:r].T


def _interior_direction(piece: Piece, i: int, fallback: np.ndarray) -> np.ndarray:
    """A direction deep inside latent i's own cone (max t with a_r.w + t |a_r| <= 0, <s_i, w> = 1).

    A rank-1 cell's code direction does not depend on w, but the row scales in `realize` do: a witness on
    an OFF face (a code exactly 0 up to rounding) can read back as firing. Falls back to the witness."""
    inst = piece.instance
    A, _, _, _ = _latent_rows(piece, i)
    F = list(np.flatnonzero(piece.loss_mask[i]))
    if A.shape[0] == 0 or not F:
        return fallback
    n_p = inst.n_p
    s = inst.W_p[:, F].sum(axis=1)
    norms = np.linalg.norm(A, axis=1)
    A_ub = np.hstack([A, norms[:, None]])
    res = linprog(np.r_[np.zeros(n_p), -1.0], A_ub=A_ub, b_ub=np.zeros(A.shape[0]),
                  A_eq=np.r_[s, 0.0][None, :], b_eq=[1.0], bounds=[(None, None)] * n_p + [(0.0, 1.0)],
                  method="highs")
    if res.status != 0 or res.x[-1] <= 0:
        return fallback
    return res.x[:n_p]


def reduce_piece(piece: Piece) -> ReducedPiece:
    """The reduced problem of a (linear) piece of a positively homogeneous activation; see the module docstring."""
    inst = piece.instance
    act = inst.activation
    if act.certifier_reduction is Reduction.UNSUPPORTED:
        ok = ", ".join(n for n, c in REGISTRY.items() if c.certifier_reduction is not Reduction.UNSUPPORTED)
        raise InputError(f"the certifier handles {ok}; not {act} (its certifier_reduction is unsupported: "
                         "non-positive passed codes, or a threshold together with orderings)")
    if inst.n_p not in (2, 3):
        raise InputError(f"the certifier handles n_p in (2, 3); this instance has n_p = {inst.n_p}")
    S = piece.loss_mask
    if np.any(S & ~piece.mask):
        raise InputError("the certifier needs pieces whose passed codes are their (positive) pattern codes; "
                         f"{inst.activation} passes non-positive codes on this piece")
    D = np.sqrt(inst.M)
    R = inst.W_r * D[None, :]
    G = R.T @ R
    n = inst.n
    witness = piece.realizability.witness
    if witness is None:
        raise InputError(f"piece {piece.pattern} is not realizable ({piece.realizability.detail})")
    fixed_rows: dict[int, np.ndarray] = {}
    fixed_codes: list[np.ndarray] = []
    fixed_src: list[tuple[int, np.ndarray]] = []
    free: list[CellPolytope] = []
    coupled = False
    by_cell: dict[frozenset, list[int]] = {}
    for i in range(inst.n_latents):
        coupled = coupled or _latent_rows(piece, i)[3]
        F = frozenset(int(d) for d in np.flatnonzero(S[i]))
        if not F:
            fixed_rows[i] = np.asarray(witness[i], dtype=float)       # dead: a zero code row
            continue
        by_cell.setdefault(F, []).append(i)
    for F, latents in by_cell.items():
        L = _code_map(piece, latents[0])
        rank = np.linalg.matrix_rank(inst.W_p[:, sorted(F)], tol=RANK_TOL)
        if rank == 1:                                                  # codes proportional: fixed row
            for i in latents:
                w = np.asarray(witness[i], dtype=float)    # coupled (TopK): the witness keeps the orderings
                fixed_rows[i] = w if coupled else _interior_direction(piece, i, w)
            fixed_codes.append(L @ fixed_rows[latents[0]])
            fixed_src.append((latents[0], fixed_rows[latents[0]]))
            continue
        P = cell_polytope(piece, latents[0])
        if len(P.vertices) == 1:               # a one-ray cell (ends within MERGE_ATOL): a fixed row
            for i in latents:
                fixed_rows[i] = _interior_direction(piece, i, P.vertices[0])
            fixed_codes.append(L @ fixed_rows[latents[0]])
            fixed_src.append((latents[0], fixed_rows[latents[0]]))
            continue
        if len(latents) >= rank:                                       # the cell's whole image is spanned
            for i, w in zip(latents, _interior_points(P, len(latents))):
                fixed_rows[i] = w
            fixed_codes.extend(L @ v for v in P.vertices)
            fixed_src.extend((latents[0], v) for v in P.vertices)
            continue
        for i in latents:
            free.append(CellPolytope(latent=i, features=P.features, vertices=P.vertices, simplices=P.simplices,
                                     A=P.A, kinds=P.kinds, row_features=P.row_features))
    X0 = np.array(fixed_codes).reshape(-1, n)
    # the fixed span's dimension exactly (a tolerance would drop the second of two fixed codes 1e-11 rad apart,
    # and with it the energy of that direction from phi0); its conditioning goes into the allowance
    from sdlscape.certcheck.span import independent_rows

    r0 = len(independent_rows([r for i, w in fixed_src for r in _live_rows(piece, i, w)]))
    U0 = _orth(X0, n, r0)
    sv0 = np.linalg.svd(X0, compute_uv=False)[:r0] if X0.size else np.ones(1)
    fixed_kappa = float(sv0.max() / sv0.min()) if sv0.size else 1.0
    Q = null_space(U0.T) if U0.shape[1] else np.eye(n)
    maps = tuple(Q.T @ _code_map(piece, c.latent) for c in free)
    Gr = Q.T @ G @ Q
    return ReducedPiece(piece=piece, G=G, total=float(np.trace(G)), U0=U0, Q=Q, Gr=Gr,
                        phi0=float(np.trace(U0.T @ G @ U0)), free=tuple(free), maps=maps, fixed_rows=fixed_rows,
                        coupled=coupled, fixed_sources=tuple(fixed_src),
                        notes={"fixed_span": int(U0.shape[1]), "free_rows": len(free),
                                                     "fixed_kappa": fixed_kappa})


def realize(red: ReducedPiece, W_free: np.ndarray) -> np.ndarray | None:
    """An encoder W_E of the piece's true region (margin eps) with the given row directions, or None.

    The directions are fixed; the row scales c > 0 are found by an LP: every region row is linear in c.
    """
    piece = red.piece
    reg = piece.region
    Wd = red.encoder(np.asarray(W_free, dtype=float).reshape(-1, piece.instance.n_p))
    q, n_p = Wd.shape
    # Row r of G vec(diag(c) Wd) <= h is sum_i c_i G[r, block i] . Wd[i].
    A = np.stack([reg.G[:, i * n_p:(i + 1) * n_p] @ Wd[i] for i in range(q)], axis=1)
    margin = reg.eps
    res = linprog(np.ones(q), A_ub=A, b_ub=reg.h - margin * reg.strict, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    W_E = res.x[:, None] * Wd
    if not piece.contains(W_E, tol=0.0) or not piece.reads_back(W_E):
        return None
    return W_E
