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

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import CertifyStatus
from sdlscape.solvers.certify.piece_cert import PieceCertificate, certify_piece, cheap_lower_bound
from sdlscape.solvers.fanout import run_tasks
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
          node_limit: int, cutoff: float) -> dict[str, Any]:
    return {"instance": inst.to_dict(), "pattern": pattern.to_json(), "eps": eps, "rtol": rtol, "atol": atol,
            "time_limit": time_limit, "node_limit": node_limit, "cutoff": cutoff}


def certify_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point (plain data in and out, for processes and Dask): certify one piece."""
    inst = Instance.from_dict(task["instance"])
    pat = Pattern.parse(task["pattern"], inst.n, inst.n_latents)
    piece = Piece(inst, pat, task["eps"], inst.activation.linear_reading)
    cut = task["cutoff"]
    return certify_piece(piece, task["rtol"], task["atol"], task["time_limit"], task["node_limit"],
                         np.inf if cut is None else cut).to_dict()


def settings_key(inst: Instance, eps: float, rtol: float, atol: float, time_limit: float, node_limit: int) -> str:
    blob = json.dumps({"instance": inst.to_dict(), "eps": eps, "rtol": rtol, "atol": atol, "time_limit": time_limit,
                       "node_limit": node_limit, "version": CHECKPOINT_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _load(path: Path | None, key: str) -> dict[str, dict]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data["pieces"] if isinstance(data, dict) and data.get("key") == key else {}


def _save(path: Path | None, key: str, done: dict[str, dict]) -> None:
    if path is not None:
        from sdlscape.storage import write_json

        write_json(path, {"key": key, "version": CHECKPOINT_VERSION, "pieces": done})


def certify_global(inst: Instance, rtol: float = numerics.CERTIFY_RTOL, atol: float = numerics.CERTIFY_ATOL,
                   time_limit: float = 60.0, workers: int = 1, scheduler: str | None = None,
                   eps: float = numerics.MARGIN_EPS, node_limit: int = numerics.CERTIFY_NODE_LIMIT,
                   patterns: list[Pattern] | None = None, checkpoint: str | Path | None = None,
                   progress: Callable[[int, int, PieceCertificate], None] | None = None,
                   max_pieces: int | None = None) -> GlobalCertificate:
    """Certified minimum of L~ over every piece of `inst` (or over `patterns`); see the module docstring.

    time_limit is per piece. checkpoint: a file of finished pieces (keyed by instance and settings),
    rewritten as pieces finish, read back by a rerun (resume).
    """
    from sdlscape.solvers.landscape import enumerate_pieces

    if int(workers) != workers or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if not (0 < rtol < 1) or atol < 0 or time_limit <= 0:
        raise InputError(f"need 0 < rtol < 1, atol >= 0, time_limit > 0; got {rtol}, {atol}, {time_limit}")
    t0 = time.perf_counter()
    if patterns is None:
        specs = enumerate_pieces(inst, eps) if max_pieces is None else enumerate_pieces(inst, eps, max_pieces)
        pats = [s.pattern for s in specs]
        mult = {str(s.pattern): s.multiplicity for s in specs}
    else:
        pats, mult = [p.canonical() for p in patterns], {}
    reading = inst.activation.linear_reading
    cheap = {str(p): cheap_lower_bound(Piece(inst, p, eps, reading)) for p in pats}
    order = sorted(pats, key=lambda p: (cheap[str(p)], str(p)))
    key = settings_key(inst, eps, rtol, atol, time_limit, node_limit)
    ck = Path(checkpoint) if checkpoint is not None else None
    done = _load(ck, key)
    resumed = len(done)
    incumbent = min((d["value"] for d in done.values() if d.get("value") is not None), default=np.inf)
    certs: dict[str, PieceCertificate] = {}
    for k_, d in done.items():
        certs[k_] = PieceCertificate.from_dict(d, inst.n, inst.n_latents)
    batch = 1 if scheduler is None and workers <= 1 else max(int(workers), 2)
    todo = [p for p in order if str(p) not in certs]
    i = 0
    while i < len(todo):
        chunk = []
        while i < len(todo) and len(chunk) < batch:
            p = todo[i]
            i += 1
            lb = cheap[str(p)]
            if np.isfinite(incumbent) and lb >= incumbent - (rtol * incumbent + atol):
                certs[str(p)] = _pruned(p, lb, rtol, atol)
                done[str(p)] = certs[str(p)].to_dict()
                if progress:
                    progress(len(certs), len(pats), certs[str(p)])
                continue
            chunk.append(_task(inst, p, eps, rtol, atol, time_limit, node_limit,
                               None if not np.isfinite(incumbent) else float(incumbent)))
        for r in run_tasks(certify_task, chunk, workers, scheduler):
            c = PieceCertificate.from_dict(r, inst.n, inst.n_latents)
            certs[str(c.pattern)] = c
            done[str(c.pattern)] = r
            if c.value is not None:
                incumbent = min(incumbent, c.value)
            if progress:
                progress(len(certs), len(pats), c)
        _save(ck, key, done)
    pieces = tuple(certs[str(p)] for p in order)
    valued = [c for c in pieces if c.value is not None]
    best = min(valued, key=lambda c: c.value) if valued else None
    lower = min((c.lower_bound for c in pieces), default=0.0)
    value = None if best is None else best.value
    certified = value is not None and _meets(value, lower, rtol, atol)
    return GlobalCertificate(value=value, lower_bound=lower, certified=certified, rtol=rtol, atol=atol,
                             minimiser=best, pieces=pieces, multiplicities=mult, seconds=time.perf_counter() - t0,
                             detail={"pieces": len(pieces), "pruned": sum(c.status is CertifyStatus.PRUNED for c in pieces),
                                     "certified_pieces": sum(c.certified for c in pieces),
                                     "resumed": resumed,
                                     "eps": eps, "time_limit_per_piece": time_limit})


def _meets(value: float, lower: float, rtol: float, atol: float) -> bool:
    from mpmath import iv

    from sdlscape.solvers.certify.interval import gap_meets

    return gap_meets(iv.mpf(value), iv.mpf(lower), rtol, atol)


def _pruned(p: Pattern, lb: float, rtol: float, atol: float) -> PieceCertificate:
    from sdlscape.outcomes import CertifyReason

    return PieceCertificate(pattern=p, value=None, lower_bound=float(lb), certified=False, gap=None, rtol=rtol,
                            atol=atol, status=CertifyStatus.PRUNED, reason=CertifyReason.CUTOFF, minimiser_W_E=None,
                            minimiser_W_D=None, closure_value=None, infimum_on_boundary=None, boundary_face=(),
                            rank_drop=False, nodes=0, seconds=0.0, detail={"cheap_lower_bound": float(lb)})
