"""Certified infimum of L~ (eq. 11) over one piece: reduction + branch and bound + interval check.

The certified quantity is inf L~ over the piece's *open* region (every margin eps > 0 at once: the
problem is scale invariant row by row, so a larger margin is a rescaling), boundary limits included:
a code that tends to 0 with W_D tending to infinity is a limit of interior points. The value reported
is L~ evaluated in interval arithmetic at an actual interior point (W_E in the region with margin eps,
W_D its least-squares decoder): an upper bound on the infimum. The lower bound is ||R||^2 minus a
proven upper bound on the captured energy. `certified` means value - lower_bound <= rtol * value + atol
on the interval ends.

What is not certified, and how the result says it (typed: status, reason, detail["reduction"]):
n_p > 3. Plain TopK (its passed codes can be negative, so sum_d a_id = 1 is no normalisation of a row) has its
own reduction (certify/topk_plain.py: a passing-set relaxation, exact for k = 1 where its optimiser is
realised). For TopK o ReLU the ordering rows between latents are relaxed in the bound; the value is only
taken at realised encoders (reason NOT_REALISED when the relaxed optimum has none).
JumpReLU is not positively homogeneous, but within one piece the loss depends on each encoder row only
through its direction, and the directions of a cell form a cone (reduce._latent_rows: z_d > 0 and
z_d > z_d' for d in F_i, d' not in F_i; theta cancels): its pieces are certified exactly over that cone
(detail["reduction"] == "jump_threshold"); the margin of the reported point is the region's eps on
z > theta. Budgets are in nodes (node_limit, reason NODE_LIMIT); time_limit is only a safety stop
(reason TIME_LIMIT: a run that hits it is not reproducible). Degenerate corners (nested patterns) are
branched in blow-up charts (certify/charts.py); three free rows of an n_p = 2 piece with no fixed span are branched
in three-row (Pluecker) charts instead (certify/charts_three.py: rows of rank 2 along a whole edge of the parameter
cube, pairs of parallel or nearly parallel ends); other corners of three parallel rows are left uncharted (reason
DEGENERATE_CORNER if they stay open).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.solvers.blas_threads import single_blas_thread
from sdlscape.solvers.certify import interval
from sdlscape.solvers.certify.bnb import branch_and_bound
from sdlscape.solvers.certify.bounds import captured_energy, rounding_allowance
from sdlscape.solvers.certify.reduce import ReducedPiece, realize, reduce_piece
from sdlscape.theory.activations import Reduction
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece


@dataclass(frozen=True, kw_only=True)
class PieceCertificate:
    """The certifier's answer for one piece (module docstring). value is None when no interior point was
    realised; boundary_face lists (latent, features) whose open row is tight at the located minimiser."""

    pattern: Pattern
    value: float | None
    lower_bound: float
    certified: bool
    gap: float | None
    rtol: float
    atol: float
    status: CertifyStatus
    reason: CertifyReason | None
    minimiser_W_E: np.ndarray | None
    minimiser_W_D: np.ndarray | None
    closure_value: float | None
    infimum_on_boundary: bool | None
    boundary_face: tuple[tuple[int, tuple[int, ...]], ...]
    rank_drop: bool
    nodes: int
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] | None = None     # record=True: what a certificate file holds (certify/record.py)

    def to_dict(self) -> dict[str, Any]:
        return {**({} if self.record is None else {"record": self.record}),
                "pattern": self.pattern.to_json(), "value": self.value, "lower_bound": self.lower_bound,
                "certified": self.certified, "gap": self.gap, "rtol": self.rtol, "atol": self.atol,
                "status": self.status.value, "reason": None if self.reason is None else self.reason.value,
                "minimiser": None if self.minimiser_W_E is None else {
                    "W_E": self.minimiser_W_E.tolist(), "W_D": self.minimiser_W_D.tolist(),
                    "pattern": self.pattern.to_json()},
                "closure_value": self.closure_value, "infimum_on_boundary": self.infimum_on_boundary,
                "boundary_face": [{"latent": i, "features": list(f)} for i, f in self.boundary_face],
                "rank_drop": self.rank_drop, "nodes": self.nodes, "seconds": self.seconds, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict[str, Any], n: int, n_latents: int) -> PieceCertificate:
        mn = d.get("minimiser")
        return cls(pattern=Pattern.parse(d["pattern"], n, n_latents), value=d["value"], lower_bound=d["lower_bound"],
                   certified=d["certified"], gap=d["gap"], rtol=d["rtol"], atol=d["atol"],
                   status=CertifyStatus(d["status"]), reason=None if d["reason"] is None else CertifyReason(d["reason"]),
                   minimiser_W_E=None if mn is None else np.asarray(mn["W_E"], dtype=float),
                   minimiser_W_D=None if mn is None else np.asarray(mn["W_D"], dtype=float),
                   closure_value=d["closure_value"], infimum_on_boundary=d["infimum_on_boundary"],
                   boundary_face=tuple((f["latent"], tuple(f["features"])) for f in d["boundary_face"]),
                   rank_drop=d["rank_drop"], nodes=d["nodes"], seconds=d["seconds"], detail=d.get("detail", {}),
                   record=d.get("record"))


def least_squares_decoder(piece: Piece, W_E: np.ndarray, unit_rows: bool = False) -> np.ndarray:
    """W_D = argmin L~(., W_E) on the piece: R B^+ with R = W_r D, B = codes D (eq. 11's decoder block).
    unit_rows: solve with B's rows scaled to unit length (B = diag(s) B1, W_D = (R B1^+) diag(1/s)), for rows whose
    scales differ by orders of magnitude."""
    inst = piece.instance
    D = np.sqrt(inst.M)
    B = piece.codes(W_E) * D[None, :]
    R = inst.W_r * D[None, :]
    if not unit_rows:
        return np.linalg.lstsq(B.T, R.T, rcond=None)[0].T
    s = np.linalg.norm(B, axis=1)
    s[s == 0] = 1.0
    return np.linalg.lstsq((B / s[:, None]).T, R.T, rcond=None)[0].T / s[None, :]


def _realise_best(red: ReducedPiece, cands, target_phi: float, tol_L: float):
    """The best interior point near the candidates: (value interval, W_E, W_D, pushed?) or None."""
    piece = red.piece
    inst = piece.instance
    best = None
    for phi, W in cands:
        if best is not None and red.total - red.phi0 - phi > interval.hi(best[0]):
            break                                  # candidates come best first: no better value left
        centre = np.stack([c.centroid for c in red.free]) if red.k else W
        for step in [0.0] + [10.0 ** -j for j in range(numerics.CERTIFY_INTERIOR_STEPS, 0, -1)]:
            Wt = (1 - step) * W + step * centre
            W_E = realize(red, Wt)
            if W_E is None:
                continue
            W_D = least_squares_decoder(piece, W_E)
            val = interval.loss_interval(inst, W_D, W_E, piece.loss_mask)
            if interval.hi(val) > red.total - red.phi0 - phi + tol_L:
                # far above the candidate's value: the LP's row scales can differ by 1e8 (a code near 0 needs a
                # large scale for the margin) and lstsq then drops a direction; solve with unit rows instead
                W_D2 = least_squares_decoder(piece, W_E, unit_rows=True)
                val2 = interval.loss_interval(inst, W_D2, W_E, piece.loss_mask)
                if interval.hi(val2) < interval.hi(val):
                    W_D, val = W_D2, val2
            if best is None or interval.hi(val) < interval.hi(best[0]):
                best = (val, W_E, W_D, step > 0)
            if interval.hi(val) <= red.total - red.phi0 - target_phi + tol_L:
                break
    return best


def _seed_rows(red: ReducedPiece, start_points) -> tuple:
    """The normalised free rows (k x n_p) of those start points that lie in the piece (read back its pattern)."""
    out = []
    for W_E in start_points if red.k else ():
        W_E = np.asarray(W_E, dtype=float)
        if W_E.shape != (red.piece.instance.n_latents, red.piece.instance.n_p) or not red.piece.reads_back(W_E):
            continue
        rows = []
        for c in red.free:
            w = W_E[c.latent]
            s = float(red.piece.instance.W_p[:, list(c.features)].sum(axis=1) @ w)
            if not s > 0:
                break
            rows.append(w / s)
        else:
            out.append(np.array(rows).reshape(red.k, -1))
    return tuple(out)


LOCAL_STARTS = 2
"""Local solves per piece (incumbent.local_point) before branching."""


def _local_points(red: ReducedPiece) -> tuple:
    """End points of local solves from interior points of the piece: start t puts free row j halfway between its
    cell's centroid and vertex j + t (distinct rows, so two latents on one cell do not start parallel)."""
    from sdlscape.solvers.certify.incumbent import local_point

    out = []
    for t in range(LOCAL_STARTS if red.k else 0):
        W = np.stack([0.5 * (c.centroid + c.vertices[(j + t) % len(c.vertices)]) for j, c in enumerate(red.free)])
        W0 = realize(red, W)
        if W0 is not None:
            out.append(local_point(red.piece.instance, W0))
    return tuple(out)


@single_blas_thread
def certify_piece(piece: Piece, rtol: float = numerics.CERTIFY_RTOL, atol: float = numerics.CERTIFY_ATOL,
                  time_limit: float = numerics.CERTIFY_SAFETY_SECONDS, node_limit: int = numerics.CERTIFY_NODE_LIMIT,
                  L_cutoff: float = np.inf, remainder_factor: float = 3.0, record: bool = False,
                  start_points: tuple = ()) -> PieceCertificate:
    """Certified infimum of L~ over one piece (module docstring).

    Parameters
    ----------
    piece : Piece
        A linear piece (`linear_piece`) of a relu, jumprelu or topk_relu instance with n_p in (2, 3).
    rtol, atol : float
        Certified when value - lower_bound <= rtol * value + atol (interval ends).
    time_limit, node_limit : float, int
        Branch-and-bound budget; on running out the result is inconclusive with the valid bounds so far.
    L_cutoff : float
        Global mode: a value of L~ reached elsewhere; nodes provably above it are pruned.
    remainder_factor : float
        The second-order remainder constant (3 is proven; tests pass smaller values to see them caught).
    record : bool
        Keep every closed node with its parametrisation and bound (`PieceCertificate.record`, for
        `certify --certificate`; checked by sdlscape.certcheck). Every leaf bound is raised by the slack the checker
        needs on this piece (record.record_slack, measured by running the checker on the record; detail
        ["record_slack"]); lower_bound and status then follow the raised bounds, and a piece certified without a
        file but not with its slack says so (detail["record_slack_breaks_certification"], reason interval_check).
    start_points : tuple of arrays
        Encoders W_E (n_latents x n_p, rows in the piece's latent order) found elsewhere, e.g. by the multistart
        incumbent; with the end points of local solves from interior points (_local_points), those inside the
        piece are offered to branch and bound as first incumbents (their value still counts only once re-realised
        and evaluated in interval arithmetic).

    Returns
    -------
    PieceCertificate
    """
    if not (0 < rtol < 1) or not atol >= 0 or not time_limit > 0 or node_limit < 1:   # also refuses NaN
        raise InputError(f"need 0 < rtol < 1, atol >= 0, time_limit > 0, node_limit >= 1; got rtol {rtol}, "
                         f"atol {atol}, time_limit {time_limit}, node_limit {node_limit}")
    if piece.instance.activation.certifier_reduction is Reduction.TOPK_PLAIN:
        from sdlscape.solvers.certify.topk_plain import certify_topk_piece

        return certify_topk_piece(piece, rtol, atol, L_cutoff, record)
    t0 = time.perf_counter()
    base = dict(pattern=piece.pattern, rtol=float(rtol), atol=float(atol))
    try:
        red = reduce_piece(piece)
    except InputError as exc:
        return PieceCertificate(**base, value=None, lower_bound=0.0, certified=False, gap=None,
                                status=CertifyStatus.INCONCLUSIVE, reason=CertifyReason.UNSUPPORTED,
                                minimiser_W_E=None, minimiser_W_D=None, closure_value=None, infimum_on_boundary=None,
                                boundary_face=(), rank_drop=False, nodes=0, seconds=time.perf_counter() - t0,
                                detail={"why": str(exc), "reduction": str(piece.instance.activation.certifier_reduction)})
    start_points = tuple(start_points) + _local_points(red)
    res = branch_and_bound(red, rtol, atol, L_cutoff, time_limit, node_limit, remainder_factor, record=record,
                           seeds=_seed_rows(red, start_points))
    inst = piece.instance
    allowance0 = rounding_allowance(red.total, inst.n, red.U0.shape[1], red.notes.get("fixed_kappa", 1.0))
    lower_iv = _lower_interval(inst, red.phi0 + allowance0 + res.phi_upper)
    rec = slack = None
    if record:                           # the file's leaf bounds, raised by the slack the checker needs (record.py)
        from sdlscape.solvers.certify.record import piece_record, record_slack

        rec = piece_record(red, res.roots, res.leaves, red.phi0 + allowance0)
        lower0 = interval.lo(lower_iv)
        # the outcomes the file's bound must keep: the piece's certification (its closure value's tolerance, where
        # branch and bound closed and the bound meets it) and its pruning (the cutoff's); where it meets neither,
        # no outcome rests on it (the global bound is then not certified either) and the cap is enough
        kept = [t for t in ([_threshold(red.total - red.phi0 - res.phi_best, rtol, atol)] if res.stopped is None
                            else []) + ([_threshold(L_cutoff, rtol, atol)] if np.isfinite(L_cutoff) else [])
                if lower0 >= t]
        slack = record_slack(red, rec, lower0, lower0 - max(kept) if kept else np.inf)
        if slack.slack > 0:
            rec = piece_record(red, res.roots, res.leaves, red.phi0 + allowance0 + slack.slack)
    lower_file_iv = lower_iv if slack is None or not slack.slack > 0 else \
        _lower_interval(inst, red.phi0 + allowance0 + slack.slack + res.phi_upper)
    lower = interval.lo(lower_file_iv)
    closure_value = red.total - red.phi0 - res.phi_best
    tol_L = 0.25 * (rtol * max(closure_value, 0.0) + atol)
    got = _realise_best(red, res.candidates, res.phi_best, tol_L)
    faces: list[tuple[int, tuple[int, ...]]] = []
    for c, w in zip(red.free, res.W_best):
        f = c.open_faces(w)
        if f:
            faces.append((c.latent, tuple(f)))
    rank_drop = bool(red.k) and captured_energy(red.reduced_rows(res.W_best), red.Gr).rank < red.k
    on_boundary = bool(faces) or rank_drop
    detail = {"reduction": str(inst.activation.certifier_reduction),
              "free_rows": red.k, "fixed_span": red.U0.shape[1], "reduced_dim": red.m,
              "open_nodes": res.open_nodes, "stuck_nodes": res.stuck_nodes, "coupled": red.coupled,
              "bnb_seconds": res.seconds}
    if got is None:
        value, W_E, W_D, gap, certified = None, None, None, None, False
        reason = res.stopped or CertifyReason.NOT_REALISED
    else:
        val_iv, W_E, W_D, pushed = got
        value = interval.hi(val_iv)
        gap = max(value - max(lower, 0.0), 0.0)
        certified = res.stopped is None and interval.gap_meets(val_iv, lower_iv, rtol, atol)
        broken = certified and not interval.gap_meets(val_iv, lower_file_iv, rtol, atol)
        if broken:                          # the record slack breaks it: the file's status follows its bound
            certified = False
            detail["record_slack_breaks_certification"] = (
                f"certified at lower bound {interval.lo(lower_iv):.17g} without a file; the checker needs "
                f"{slack.slack:.3g} of room, and {lower:.17g} no longer meets rtol {rtol:g}, atol {atol:g}")
        detail["pushed_inward"] = pushed
        reason = None if certified else (res.stopped or (CertifyReason.NOT_REALISED if red.coupled and not broken
                                                         else CertifyReason.INTERVAL_CHECK))
    status = CertifyStatus.CERTIFIED if certified else CertifyStatus.INCONCLUSIVE
    if not certified and np.isfinite(L_cutoff) and lower >= L_cutoff - (rtol * max(L_cutoff, 0.0) + atol):
        status, reason = CertifyStatus.PRUNED, CertifyReason.CUTOFF
    if slack is not None:
        detail["record_slack"] = slack.to_dict(red.total)
    return PieceCertificate(**base, value=value, lower_bound=max(lower, 0.0), certified=certified, gap=gap,
                            status=status, reason=reason, minimiser_W_E=W_E, minimiser_W_D=W_D,
                            closure_value=float(closure_value), infimum_on_boundary=on_boundary,
                            boundary_face=tuple(faces), rank_drop=rank_drop, nodes=res.nodes,
                            seconds=time.perf_counter() - t0, detail=detail, record=rec)


def _threshold(value: float, rtol: float, atol: float) -> float:
    """The least lower bound that still certifies (or prunes against) `value`: value - (rtol value + atol)."""
    return value - (rtol * max(value, 0.0) + atol)


def cheap_bound_parts(piece: Piece) -> tuple[ReducedPiece, float]:
    """The reduced piece and the root bound on the full captured energy phi0 + phi_free (allowances included; no
    record slack: global_min._pruned sizes it for the checker, record.record_slack)."""
    from sdlscape.solvers.certify.bounds import subspace_bound

    red = reduce_piece(piece)
    V = [c.vertices @ L.T for c, L in zip(red.free, red.maps)]
    phi = subspace_bound(V, red.Gr, red.k, red.span_dim, list(red.row_dims)) + rounding_allowance(red.total, red.m, red.k, 1.0)
    allowance0 = rounding_allowance(red.total, piece.instance.n, red.U0.shape[1], red.notes.get("fixed_kappa", 1.0))
    return red, red.phi0 + allowance0 + phi


def _lower_interval(inst, phi_upper: float):
    """||R||^2 - phi_upper as an interval, clipped at 0 (L~ >= 0: a sum of squares)."""
    low = interval.lower_bound_interval(inst, phi_upper)
    return interval.zero() if interval.lo(low) < 0 else low


def cheap_lower_bound(piece: Piece) -> float:
    """The root bound alone (no branching): ||R||^2 - phi0 - subspace bound over the whole piece; 0 if the
    piece is not handled. Orders the pieces of a global run."""
    from sdlscape.solvers.certify.bounds import subspace_bound

    if piece.instance.activation.certifier_reduction is Reduction.TOPK_PLAIN:
        from sdlscape.solvers.certify.topk_plain import relaxed_bound

        return relaxed_bound(piece)[0]
    try:
        red = reduce_piece(piece)
    except InputError:
        return 0.0
    V = [np.vstack([c.vertices for _ in (0,)]) @ L.T for c, L in zip(red.free, red.maps)]
    phi = subspace_bound(V, red.Gr, red.k, red.span_dim, list(red.row_dims)) + rounding_allowance(red.total, red.m, red.k, 1.0)
    return max(red.total - red.phi0 - phi, 0.0)
