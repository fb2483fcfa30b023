"""What a certificate file holds for one piece (`certify --certificate`; checked by sdlscape.certcheck).

Everything is in the *unreduced* code space, so that the checker needs neither the reduction nor the
branch and bound: the fixed latents' encoder rows, each free latent's normalised cell (its vertices),
the root nodes (chart parts: simplices of encoder rows, or blow-up charts), and every closed node as its
root and split path, with the bound the certifier claims for it on phi(B) = tr(G Pi(B)) over the full
code matrix (fixed rows included). The piece's lower bound is ||R||^2 minus the largest leaf bound.

Every leaf bound is raised by the piece's record slack (`record_slack`), sized to what the independent checker
needs on this piece: the checker recomputes each leaf's bound in interval arithmetic, looser than the certifier's
floats, and accepts the piece when ||R||^2 minus its bound stays >= the piece's lower bound on every leaf.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.solvers.certify.reduce import ReducedPiece

FORMAT = "sdlscape-certificate/1"
ROOM_FACTOR = 2.0
"""A piece whose lower bound has this many times the record slack's cap to spare takes the cap unmeasured."""

_PROBE = 1e-300
"""The piece lower bound the checker is run against when it measures a record (> 0, so that it reports its room;
below every floor that matters, so that it refines no leaf)."""


def piece_record(red: ReducedPiece, roots, leaves, phi_fixed_upper: float) -> dict[str, Any]:
    """roots: tuples of chart parts; leaves: (root, path, bound on phi_free); phi_fixed_upper: phi0 + its
    rounding allowance (added to every leaf bound: the claimed bound on the full phi)."""
    return {"fixed": [{"latent": int(i), "w": np.asarray(w, dtype=float).tolist()}
                      for i, w in sorted(red.fixed_rows.items())],
            "free": [{"latent": int(c.latent), "cell": c.vertices.tolist()} for c in red.free],
            "roots": [[p.to_json() for p in node] for node in roots],
            "leaves": [{"root": int(r), "path": [list(map(int, step)) for step in path],
                        "bound": float(phi_fixed_upper + b)} for r, path, b in leaves]}


def pruned_record(red: ReducedPiece, phi_upper_full: float) -> dict[str, Any]:
    """A piece pruned on its root bound: every root node is a leaf with the piece's root bound."""
    from sdlscape.solvers.certify.charts import root_nodes

    roots = root_nodes(red)[0] if red.k else [()]
    return piece_record(red, roots, [(r, (), 0.0) for r in range(len(roots))], phi_upper_full)


def checker_floor(red: ReducedPiece, rec: dict[str, Any]) -> tuple[float | None, list[str]]:
    """The independent checker's floor on this piece: min over the record's leaves of ||R||^2 - (the checker's own
    bound on phi there), interval low end, as `sdlscape check-certificate` computes it from the file (the record
    and the instance go through JSON, as written). Runs sdlscape.certcheck.check on a one-piece certificate whose
    lower bound is a positive number below every floor (_PROBE), so that the checker reports its room (least_room,
    relative to ||R||^2) without refining any leaf; the floor is that room times ||R||^2 (exact to a few ulps of
    ||R||^2). Returns (floor, the checker's failures); floor None where it reported no room (no leaf measured)."""
    from sdlscape.certcheck import FORMAT as CHECK_FORMAT
    from sdlscape.certcheck import check
    from sdlscape.solvers.certify import interval
    from sdlscape.storage import to_jsonable

    piece = red.piece
    doc = {"format": CHECK_FORMAT, "instance": piece.instance.to_dict(), "lower_bound": _PROBE, "certified": False,
           "pieces": [{"pattern": piece.pattern.to_json(), "lower_bound": _PROBE, "record": rec}]}
    v = check(json.loads(json.dumps(to_jsonable(doc), allow_nan=False)))
    if v.least_room is None:
        return None, v.failures
    total_hi = interval.hi(interval.energy_interval(piece.instance))
    return float(v.least_room) * max(total_hi, 1e-300) + _PROBE, v.failures


@dataclass(frozen=True, kw_only=True)
class RecordSlack:
    """The slack every leaf bound of a piece's record is raised by (absolute, on phi) and how it was sized:
    need = (the certifier's lower bound) - (the checker's floor), what the piece lower bound must give up for the
    checker to prove it on every leaf without refining (<= 0 where the checker is tighter); slack = need + margin,
    floored at 0 and capped at numerics.CERTIFY_RECORD_SLACK ||R||^2 (capped: the checker must refine some leaf)."""

    slack: float
    need: float | None
    capped: bool
    failures: tuple[str, ...] = ()
    seconds: float = 0.0                    # the checker's run on the record
    sized_by: str = "checker"               # or "room": the cap, where the piece's bound had twice that to spare

    def to_dict(self, total: float) -> dict[str, Any]:
        rel = 1.0 / max(total, 1e-300)
        return {"slack": self.slack, "slack_relative": self.slack * rel,
                "checker_need": self.need, "checker_need_relative": None if self.need is None else self.need * rel,
                "capped": self.capped, "checker_failures": list(self.failures[:3]), "seconds": self.seconds,
                "sized_by": self.sized_by}


def record_slack(red: ReducedPiece, rec: dict[str, Any], lower: float, spare: float = 0.0) -> RecordSlack:
    """The record slack of one piece (numerics.CERTIFY_RECORD_SLACK): `rec` is its record with the certifier's own
    leaf bounds (no slack), `lower` the lower bound they give (lo(||R||^2 - the largest leaf bound), >= 0).

    spare: how far `lower` may drop before any outcome moves (the piece's certification, its pruning, the global
    bound against the incumbent). Where it is at least twice the cap, the piece takes the cap without running the
    checker (the checker refines a leaf that needs more, as before the slack was sized): running it on every piece
    cost as much again as the branch and bound, and only the pieces near the minimum need a tight file bound."""
    t0 = time.perf_counter()
    cap = numerics.CERTIFY_RECORD_SLACK * red.total
    if not lower > 0:                                   # a lower bound 0 needs no room (the checker skips it)
        return RecordSlack(slack=0.0, need=None, capped=False)
    if spare >= ROOM_FACTOR * cap:
        return RecordSlack(slack=cap, need=None, capped=False, sized_by="room")
    floor, failures = checker_floor(red, rec)
    if floor is None:
        return RecordSlack(slack=cap, need=None, capped=True, failures=tuple(failures),
                           seconds=time.perf_counter() - t0)
    need = lower - floor
    want = max(need + numerics.CERTIFY_RECORD_MARGIN * red.total, 0.0)
    return RecordSlack(slack=min(want, cap), need=need, capped=want > cap, failures=tuple(failures),
                       seconds=time.perf_counter() - t0)
