"""Certified global minimum of L~ over all pieces of an instance (CERTIFY.md sec. 2, global mode).

Pieces (solvers/landscape.enumerate_pieces, one per relabelling class) are ordered by a cheap lower
bound (the root subspace bound); each is certified against the incumbent (the least value so far):
a piece whose cheap bound already reaches the incumbent is pruned without branching, and inside a
piece nodes provably above the incumbent are pruned. The global lower bound is the least piece lower
bound (pruned pieces included); the global value is the least value at an interior point. certified:
value - lower_bound <= rtol * value + atol, decided in interval arithmetic.

With workers > 1 or a Dask scheduler the pieces are solved in parallel against the incumbent known when
they start (rounds of `workers` pieces), so pruning is a little weaker than in the sequential order.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.solvers.blas_threads import single_blas_thread
from sdlscape.solvers.certify.piece_cert import PieceCertificate, certify_piece, cheap_lower_bound
from sdlscape.solvers.checkpoint import load_checkpoint, save_checkpoint, settings_hash
from sdlscape.solvers.fanout import run_tasks
from sdlscape.theory.activations import Reduction
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece

CHECKPOINT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class GlobalCertificate:
    """The certified global minimum of an instance (module docstring); pieces in the order solved."""

    value: float | None
    lower_bound: float
    certified: bool
    rtol: float
    atol: float
    minimiser: PieceCertificate | None
    pieces: tuple[PieceCertificate, ...]
    multiplicities: dict[str, int]
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        mn = self.minimiser
        return {"mode": "global", "value": self.value, "lower_bound": self.lower_bound, "certified": self.certified,
                "rtol": self.rtol, "atol": self.atol,
                "minimiser": None if mn is None or mn.minimiser_W_E is None else {
                    "W_E": mn.minimiser_W_E.tolist(), "W_D": mn.minimiser_W_D.tolist(),
                    "pattern": mn.pattern.to_json()},
                "pieces": [{**p.to_dict(), "multiplicity": self.multiplicities.get(str(p.pattern), 1)}
                           for p in self.pieces],
                "seconds": self.seconds, "detail": self.detail}


def _task(inst: Instance, pattern: Pattern, eps: float, rtol: float, atol: float, time_limit: float,
          node_limit: int, cutoff: float, record: bool = False, starts: list | None = None) -> dict[str, Any]:
    return {"instance": inst.to_dict(), "pattern": pattern.to_json(), "eps": eps, "rtol": rtol, "atol": atol,
            "time_limit": time_limit, "node_limit": node_limit, "cutoff": cutoff, "record": record,
            "starts": starts or []}


def certify_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point (plain data in and out, for processes and Dask): certify one piece."""
    inst = Instance.from_dict(task["instance"])
    pat = Pattern.parse(task["pattern"], inst.n, inst.n_latents)
    piece = Piece(inst, pat, task["eps"], inst.activation.linear_reading)
    cut = task["cutoff"]
    return certify_piece(piece, task["rtol"], task["atol"], task["time_limit"], task["node_limit"],
                         np.inf if cut is None else cut, record=task.get("record", False),
                         start_points=tuple(np.asarray(W, dtype=float) for W in task.get("starts", []))).to_dict()


def settings_key(inst: Instance, eps: float, rtol: float, atol: float, time_limit: float, node_limit: int,
                 record: bool = False) -> str:
    return settings_hash({"instance": inst.to_dict(), "eps": eps, "rtol": rtol, "atol": atol, "time_limit": time_limit,
                          "node_limit": node_limit, "version": CHECKPOINT_VERSION, "record": record})


@single_blas_thread
def certify_global(inst: Instance, rtol: float = numerics.CERTIFY_RTOL, atol: float = numerics.CERTIFY_ATOL,
                   time_limit: float = numerics.CERTIFY_SAFETY_SECONDS, workers: int = 1, scheduler: str | None = None,
                   eps: float = numerics.MARGIN_EPS, node_limit: int = numerics.CERTIFY_NODE_LIMIT,
                   patterns: list[Pattern] | None = None, checkpoint: str | Path | None = None,
                   progress: Callable[[int, int, PieceCertificate], None] | None = None,
                   record: bool = False, incumbent_starts: int = 16,
                   max_pieces: int | None = None, zero_shortcut: bool = True) -> GlobalCertificate:
    """Certified minimum of L~ over every piece of `inst` (or over `patterns`); see the module docstring.

    time_limit is per piece. checkpoint: a file of finished pieces (keyed by instance and settings),
    rewritten as pieces finish, read back by a rerun (resume). record: keep every closed node of every piece
    (PieceCertificate.record) for a certificate file that sdlscape.certcheck verifies. incumbent_starts: L-BFGS
    starts of the first incumbent (certify/incumbent.py; 0: none); the piece it lies in is never pruned on its cheap
    bound and is solved against the least value of the pieces solved before it (not against its own seed),
    and every piece is handed the best multistart point that lies in it as a first incumbent of its own.
    zero_shortcut: when the multistart's value already meets the trivial bound L~ >= 0 (eq. 11 is a sum of
    squares) within rtol/atol, the minimum is certified there and no piece is enumerated (pieces is empty; the
    certificate file's lower bound 0 needs no leaves). Not taken with `patterns` (the point may lie elsewhere).
    """
    from sdlscape.solvers.landscape import enumerate_pieces

    if int(workers) != workers or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if not (0 < rtol < 1) or atol < 0 or time_limit <= 0:
        raise InputError(f"need 0 < rtol < 1, atol >= 0, time_limit > 0; got {rtol}, {atol}, {time_limit}")
    t0 = time.perf_counter()
    seed = None
    if incumbent_starts and inst.activation.certifier_reduction is not Reduction.UNSUPPORTED:
        from sdlscape.solvers.certify.incumbent import multistart_incumbent

        shortcut = zero_shortcut and patterns is None

        def meets_zero(v: float) -> bool:                 # the trivial bound L~ >= 0 already certifies v
            return bool(np.isfinite(v) and _meets(v, 0.0, rtol, atol))
        seed = multistart_incumbent(inst, incumbent_starts, enough=meets_zero if shortcut else None)
        if shortcut and meets_zero(seed.value):
            return _zero_loss(inst, seed, rtol, atol, eps, time_limit, t0)
    if patterns is None:
        specs = enumerate_pieces(inst, eps) if max_pieces is None else enumerate_pieces(inst, eps, max_pieces)
        pats = [s.pattern for s in specs]
        mult = {str(s.pattern): s.multiplicity for s in specs}
    else:
        pats, mult = [p.canonical() for p in patterns], {}
    reading = inst.activation.linear_reading
    cheap = {str(p): cheap_lower_bound(Piece(inst, p, eps, reading)) for p in pats}
    order = _cheap_order(pats, cheap, rtol, atol)
    key = settings_key(inst, eps, rtol, atol, time_limit, node_limit, record)
    ck = Path(checkpoint) if checkpoint is not None else None
    done = load_checkpoint(ck, key)
    resumed = len(done)
    incumbent = min((d["value"] for d in done.values() if d.get("value") is not None), default=np.inf)
    solved = incumbent                                   # the least value of a solved piece (not the seed's)
    if seed is not None:
        incumbent = min(incumbent, seed.value)
    seed_key = None if seed is None else str(seed.pattern.canonical())
    local = {} if seed is None else {str(p): [W.tolist()] for _, p, W in seed.points}
    certs: dict[str, PieceCertificate] = {}
    for k_, d in done.items():
        certs[k_] = PieceCertificate.from_dict(d, inst.n, inst.n_latents)
    batch = 1 if scheduler is None and workers <= 1 else max(int(workers), 2)
    todo = [p for p in order if str(p) not in certs]
    used_cutoff: dict[str, float] = {}
    i = 0
    while i < len(todo):
        chunk = []
        while i < len(todo) and len(chunk) < batch:
            p = todo[i]
            i += 1
            lb = cheap[str(p)]
            is_seed = str(p) == seed_key
            if not is_seed and np.isfinite(incumbent) and lb >= incumbent - (rtol * incumbent + atol):
                certs[str(p)] = _pruned(p, lb, rtol, atol, Piece(inst, p, eps, reading) if record else None,
                                        incumbent)
                done[str(p)] = certs[str(p)].to_dict()
                if progress:
                    progress(len(certs), len(pats), certs[str(p)])
                continue
            used_cutoff[str(p)] = solved if is_seed else incumbent
            chunk.append(_task(inst, p, eps, rtol, atol, time_limit, node_limit,
                               _cutoff(solved if is_seed else incumbent), record,
                               local.get(str(p))))
        for r in run_tasks(certify_task, chunk, workers, scheduler):
            c = PieceCertificate.from_dict(r, inst.n, inst.n_latents)
            certs[str(c.pattern)] = c
            done[str(c.pattern)] = r
            if c.value is not None:
                incumbent = min(incumbent, c.value)
                solved = min(solved, c.value)
            if progress:
                progress(len(certs), len(pats), c)
        save_checkpoint(ck, key, CHECKPOINT_VERSION, done)
    # Second pass: a piece that ran out of nodes against a cutoff that a later piece has since lowered is solved
    # again against the final incumbent (it may close now, with a smaller record).
    retry = [p for p in order if str(p) in used_cutoff and certs[str(p)].status is CertifyStatus.INCONCLUSIVE
             and certs[str(p)].reason in (CertifyReason.NODE_LIMIT, CertifyReason.TIME_LIMIT)
             and used_cutoff[str(p)] > incumbent]
    for p in retry:
        r = certify_task(_task(inst, p, eps, rtol, atol, time_limit, node_limit, _cutoff(incumbent), record,
                               local.get(str(p))))
        c = PieceCertificate.from_dict(r, inst.n, inst.n_latents)
        c = replace(c, detail={**c.detail, "second_pass": True, "first_pass_nodes": certs[str(p)].nodes})
        certs[str(p)] = c
        done[str(p)] = c.to_dict()
        if c.value is not None:
            incumbent = min(incumbent, c.value)
        save_checkpoint(ck, key, CHECKPOINT_VERSION, done)
    pieces = tuple(certs[str(p)] for p in order)
    valued = [c for c in pieces if c.value is not None]
    best = min(valued, key=lambda c: c.value) if valued else None
    lower = min((c.lower_bound for c in pieces), default=0.0)
    if seed is not None and (best is None or seed.value < best.value):
        best = _from_incumbent(seed, rtol, atol)             # the seed's piece was not enumerated (a boundary point)
    value = None if best is None else best.value
    certified = value is not None and _meets(value, lower, rtol, atol)
    return GlobalCertificate(value=value, lower_bound=lower, certified=certified, rtol=rtol, atol=atol,
                             minimiser=best, pieces=pieces, multiplicities=mult, seconds=time.perf_counter() - t0,
                             detail=_detail(inst, pieces, resumed, seed, eps, time_limit))


def _zero_loss(inst: Instance, seed, rtol: float, atol: float, eps: float, time_limit: float,
               t0: float) -> GlobalCertificate:
    """The multistart's point, whose value meets the trivial lower bound L~ >= 0: certified, no piece enumerated."""
    return GlobalCertificate(value=seed.value, lower_bound=0.0, certified=True, rtol=rtol, atol=atol,
                             minimiser=_from_incumbent(seed, rtol, atol), pieces=(), multiplicities={},
                             seconds=time.perf_counter() - t0,
                             detail=_detail(inst, (), 0, seed, eps, time_limit,
                                            trivial_bound="L~ >= 0 (a sum of squares, eq. 11) meets the multistart's "
                                                          "value; no piece was enumerated"))


def _detail(inst: Instance, pieces, resumed: int, seed, eps: float, time_limit: float, **extra) -> dict:
    """GlobalCertificate.detail: piece counts, what is certified, the incumbent, the reasons pieces stopped."""
    return {"pieces": len(pieces), "pruned": sum(c.status is CertifyStatus.PRUNED for c in pieces),
            "certified_pieces": sum(c.certified for c in pieces), "resumed": resumed,
            "reduction": str(inst.activation.certifier_reduction), "certifies": what_is_certified(inst), **extra,
            "incumbent": None if seed is None else {"value": seed.value, "starts": seed.starts,
                                                    "pattern": seed.pattern.canonical().to_json()},
            "reasons": dict(Counter(c.reason.value for c in pieces if c.reason is not None)),
            "eps": eps, "time_limit_per_piece": time_limit}


def _cutoff(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def what_is_certified(inst: Instance) -> str:
    """The exact claim behind `certified` / `lower_bound` for this instance's activation (in the result)."""
    act = inst.activation
    red = act.certifier_reduction
    if red is Reduction.UNSUPPORTED:
        return (f"nothing for {act.name}: its passed codes can be negative, so a code row has no normalisation and "
                "no reduction is derived; every piece is inconclusive (reason unsupported), the lower bound is the "
                "trivial L~ >= 0 and no value is claimed")
    head = "the infimum of L~ (eq. 11) over the union of the pieces (open regions, boundary limits included)"
    if red is Reduction.TOPK_PLAIN:
        head = ("the infimum of L~ (eq. 11) over the encoders with no tie between the k-th and (k+1)-th code of any "
                "feature (the union of the open selection pieces)")
        if act.k == 1:
            return (head + f"; {act.name}(k=1): on a piece each latent fits its own features by a rank-one map, so "
                    "the piece's lower bound is the sum of rank-one reduced-rank-regression residuals (the region "
                    "dropped); a piece is certified when its relaxed optimiser lies in the closed region (an interior "
                    "point then reaches the bound), otherwise it keeps that bound (inconclusive, not_realised)")
        return (head + f"; {act.name}(k={act.k}): a LOWER BOUND only: features with the same passing set share a "
                "rank-k map and the sets' shared latents are decoupled (sum of rank-k reduced-rank-regression "
                "residuals); the value is the multistart incumbent, certified only if the bound meets it")
    if red is Reduction.JUMP_THRESHOLD:
        return (head + f"; {act.name} is not positively homogeneous, but within a piece L~ depends on each encoder "
                "row only through its direction: each piece is certified over its cone of directions (theta cancels), "
                "the value at a point with margin eps on z > theta")
    if act.name == "topk_relu":
        return (head + "; the ordering rows between latents (TopK) are relaxed in the bound (the lower bound stays "
                "valid), values are taken only at encoders realised in the true region")
    return head


def _cheap_order(pats: list[Pattern], cheap: dict[str, float], rtol: float, atol: float) -> list[Pattern]:
    """Pieces by their cheap lower bound; pieces whose bounds tie within the tolerance (nested patterns share
    the bound of the closure they lie in) largest pattern first, so that the piece whose interior holds the
    minimum is solved before its faces and prunes them (ties broken by the 1e-12 noise of the bounds sent
    the faces first, each to a full branch and bound against a worse incumbent)."""
    order = sorted(pats, key=lambda p: (cheap[str(p)], str(p)))
    out: list[Pattern] = []
    i = 0
    while i < len(order):
        head = cheap[str(order[i])]
        j = i + 1
        while j < len(order) and cheap[str(order[j])] <= head + rtol * max(head, 0.0) + atol:
            j += 1
        out.extend(sorted(order[i:j], key=lambda p: (-sum(len(s) for s in p.sets), str(p))))
        i = j
    return out


def _meets(value: float, lower: float, rtol: float, atol: float) -> bool:
    from mpmath import iv

    from sdlscape.solvers.certify.interval import gap_meets

    return gap_meets(iv.mpf(value), iv.mpf(lower), rtol, atol)


def _pruned(p: Pattern, lb: float, rtol: float, atol: float, piece: Piece | None = None,
            incumbent: float = np.inf) -> PieceCertificate:
    """A piece pruned on its root bound; with `piece`, also its record (every root node a leaf), whose slack is
    the cap where the bound has room to spare against `incumbent` (record.record_slack), else the checker's."""
    rec, detail = None, {"cheap_lower_bound": float(lb)}
    if piece is not None and piece.instance.activation.certifier_reduction is Reduction.TOPK_PLAIN:
        from sdlscape.solvers.certify.topk_plain import relaxed_bound

        lb, groups = relaxed_bound(piece)
        rec = {"kind": "topk_plain", "k": int(piece.instance.activation.k), "leaves": [g.to_dict() for g in groups]}
    elif piece is not None:
        from sdlscape.solvers.certify import interval
        from sdlscape.solvers.certify.piece_cert import cheap_bound_parts
        from sdlscape.solvers.certify.record import pruned_record, record_slack

        red, claim = cheap_bound_parts(piece)
        rec = pruned_record(red, claim)
        lower0 = max(interval.lo(interval.lower_bound_interval(piece.instance, claim)), 0.0)
        slack = record_slack(red, rec, lower0, lower0 - (incumbent - (rtol * max(incumbent, 0.0) + atol))
                             if np.isfinite(incumbent) else 0.0)
        if slack.slack > 0:                      # every root leaf raised by what the checker needs (record.py)
            claim = claim + slack.slack          # (the same leaves: rebuilding the record re-ran the span charts' role
            for leaf in rec["leaves"]:           # choice, half of a record run's time on relu_n4_np3_q2_s0)
                leaf["bound"] = float(claim + 0.0)
        lb = min(lb, max(interval.lo(interval.lower_bound_interval(piece.instance, claim)), 0.0))
        detail = {"cheap_lower_bound": float(lb), "record_slack": slack.to_dict(red.total)}
    return PieceCertificate(pattern=p, value=None, lower_bound=float(lb), certified=False, gap=None, rtol=rtol,
                            atol=atol, status=CertifyStatus.PRUNED, reason=CertifyReason.CUTOFF, minimiser_W_E=None,
                            minimiser_W_D=None, closure_value=None, infimum_on_boundary=None, boundary_face=(),
                            rank_drop=False, nodes=0, seconds=0.0, detail=detail, record=rec)


def _from_incumbent(seed, rtol: float, atol: float) -> PieceCertificate:
    """The multistart point as a minimiser record (its value is L~ there, in interval arithmetic)."""
    return PieceCertificate(pattern=seed.pattern, value=seed.value, lower_bound=0.0, certified=False, gap=None,
                            rtol=rtol, atol=atol, status=CertifyStatus.INCONCLUSIVE, reason=CertifyReason.CUTOFF,
                            minimiser_W_E=seed.W_E, minimiser_W_D=seed.W_D, closure_value=None,
                            infimum_on_boundary=None, boundary_face=(), rank_drop=False, nodes=0, seconds=0.0,
                            detail={"source": "multistart incumbent"})
