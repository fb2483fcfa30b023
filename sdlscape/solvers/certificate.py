"""The partial-optimum certificate: both convex blocks re-solved at a point of a piece (Thm 3.2).

(W_D, W_E) is a partial optimum of a piece (Gorski et al. 2007) when W_D minimizes L~(., W_E) (least
squares, solved by CVXPY and in closed form) and W_E minimizes L~(W_D, .) over the piece's closed,
margin-tightened region (a QP, re-solved from scratch). A region row that *presses* (active, with a
positive multiplier) is material when dropping the pressed rows lowers the encoder block by more than
the gap tolerance: the piece's infimum then lies across its boundary, and the point is not a partial
optimum of the open region. This is the one certificate every solver and check uses, with one
tolerance (numerics.BLOCK_GAP_REL). Partial optimality is decided by solving the blocks, never from a
gradient formula of the paper.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.outcomes import Outcome, PressKind
from sdlscape.solvers.blocks import (
    DecoderBlock,
    decoder_closed_form,
    encoder_problem_fresh,
)
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import ConstraintKind, Region

_PRESS_KIND = {ConstraintKind.ON: PressKind.STOP, ConstraintKind.OFF: PressKind.START,
               ConstraintKind.ORDER: PressKind.ORDER}


@dataclass(frozen=True, kw_only=True)
class Pressing:
    """A region row that is active at the point and carries a positive multiplier."""

    row: int
    latent: int
    feature: int
    other: int
    kind: PressKind
    multiplier: float
    slack: float
    strict: bool
    describe: str

    def to_dict(self) -> dict[str, Any]:
        d = {"row": self.row, "latent": self.latent, "feature": self.feature, "kind": self.kind.value,
             "multiplier": self.multiplier, "slack": self.slack, "strict": self.strict, "describe": self.describe}
        if self.kind is PressKind.ORDER:
            d["other"] = self.other
        return d


def activity_tolerance(W_E: np.ndarray) -> float:
    return numerics.ACTIVE_ROW_REL * max(1.0, float(np.abs(W_E).max()))


def pressing_rows(reg: Region, duals: np.ndarray | None, W_E: np.ndarray, L: float) -> tuple[Pressing, ...]:
    """Region rows active at W_E with a positive multiplier (largest multiplier first)."""
    if duals is None or not duals.size:
        return ()
    slack = reg.slack(W_E)
    dual_tol = numerics.MULTIPLIER_REL * max(1.0, L)
    out = []
    for r in np.flatnonzero((slack <= activity_tolerance(W_E)) & (duals > dual_tol)):
        c = reg.constraints[r]
        out.append(Pressing(row=int(r), latent=c.latent, feature=c.feature, other=c.other, kind=_PRESS_KIND[c.kind],
                            multiplier=float(duals[r]), slack=float(slack[r]), strict=bool(reg.strict[r]),
                            describe=c.describe()))
    return tuple(sorted(out, key=lambda p: -p.multiplier))


@dataclass(frozen=True, kw_only=True)
class BlockCertificate:
    """Both blocks re-solved at (W_D, W_E); `outcome` says what that proves (see the module docstring)."""

    loss: float
    decoder_gap: float
    decoder_gap_cvxpy: float
    decoder_gap_closed_form: float
    decoder_status: str
    decoder_solver: str
    encoder_gap: float
    encoder_status: str
    encoder_solver: str
    gap_tolerance: float
    min_slack: float | None
    max_multiplier: float
    active_rows: tuple[int, ...]
    activity_tolerance: float
    multiplier_tolerance: float
    in_region: bool
    reads_back: bool
    pressing: tuple[Pressing, ...] = ()
    immaterial_pressing: tuple[Pressing, ...] = ()
    relaxed_gap: float | None = None
    relaxed_status: str | None = None
    outcome: Outcome = Outcome.INCONCLUSIVE
    reason: str = field(default="", compare=False)

    @property
    def solver_ok(self) -> bool:
        return self.decoder_status == "optimal" and self.encoder_status == "optimal"

    @property
    def certified(self) -> bool:
        """A partial optimum of the piece that shows the piece's pattern."""
        return self.outcome is Outcome.PARTIAL_OPTIMUM and self.reads_back

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["pressing"] = [p.to_dict() for p in self.pressing]
        d["immaterial_pressing"] = [p.to_dict() for p in self.immaterial_pressing]
        d["active_rows"] = list(self.active_rows)
        d["outcome"] = self.outcome.value
        return d


def decide(*, solver_ok: bool, in_region: bool, relaxed_ok: bool, material_pressing: bool,
           decoder_gap: float, encoder_gap: float, gap_tolerance: float) -> Outcome:
    """The certificate's decision rule, on numbers only:
    inconclusive if a re-solve is not optimal or the point is outside the region; leaves_region if a
    pressed row is material; partial_optimum if both block gaps are within tolerance; else inconclusive."""
    if not (solver_ok and in_region and relaxed_ok):
        return Outcome.INCONCLUSIVE
    if material_pressing:
        return Outcome.LEAVES_REGION
    if max(decoder_gap, encoder_gap) <= gap_tolerance:
        return Outcome.PARTIAL_OPTIMUM
    return Outcome.INCONCLUSIVE


def certify_point(piece: Piece, W_D: np.ndarray, W_E: np.ndarray, solver: str = "CLARABEL",
                  decoder: DecoderBlock | None = None) -> BlockCertificate:
    """Re-solve both blocks of `piece` at (W_D, W_E) and decide what the point is.

    Parameters
    ----------
    piece : Piece
        A linear piece.
    W_D, W_E : ndarray
        The point (n_r x n_latents and n_latents x n_p).
    solver : {"CLARABEL", "OSQP"}
        The QP solver of the encoder block re-solve.

    Returns
    -------
    BlockCertificate
        ``outcome`` (partial_optimum, leaves_region or inconclusive, by `decide`), the block gaps, the
        solver statuses, the pressing rows, and ``certified`` (a partial optimum that reads back as the
        piece's pattern).
    """
    W_D, W_E = np.asarray(W_D, dtype=float), np.asarray(W_E, dtype=float)
    reg = piece.region
    L = piece.loss(W_D, W_E)
    d_cvx = (decoder or DecoderBlock(piece, solver)).solve(W_E)
    L_cf = piece.loss(decoder_closed_form(piece.instance, W_E, piece.loss_mask), W_E)
    e_fresh = encoder_problem_fresh(piece, W_D, solver)
    gap_tol = numerics.BLOCK_GAP_REL * max(1.0, L)
    slack = reg.slack(W_E)
    act_tol = activity_tolerance(W_E)
    solver_ok = d_cvx.optimal and e_fresh.optimal
    in_region = bool(reg.contains(W_E, tol=act_tol))
    base = dict(loss=L, decoder_gap=L - min(d_cvx.value, L_cf), decoder_gap_cvxpy=L - d_cvx.value,
                decoder_gap_closed_form=L - L_cf, decoder_status=d_cvx.status, decoder_solver=d_cvx.solver,
                encoder_gap=L - e_fresh.value, encoder_status=e_fresh.status, encoder_solver=e_fresh.solver,
                gap_tolerance=gap_tol, min_slack=float(slack.min()) if slack.size else None,
                max_multiplier=(float(e_fresh.duals.max()) if e_fresh.duals is not None and e_fresh.duals.size
                                else 0.0),
                active_rows=tuple(int(r) for r in np.flatnonzero(slack <= act_tol)), activity_tolerance=act_tol,
                multiplier_tolerance=numerics.MULTIPLIER_REL * max(1.0, L), in_region=in_region,
                reads_back=bool(piece.reads_back(W_E)))
    pressing = pressing_rows(reg, e_fresh.duals, W_E, L) if solver_ok and in_region else ()
    immaterial: tuple[Pressing, ...] = ()
    relaxed_gap, relaxed_status, relaxed_ok = None, None, True
    if pressing:
        # does the boundary matter? the block with the pressed rows dropped (the region's quadratic
        # continued across them) goes lower by `relaxed_gap`; within the gap tolerance it does not
        relaxed = encoder_problem_fresh(piece, W_D, solver, drop_rows=[p.row for p in pressing])
        relaxed_status, relaxed_ok = relaxed.status, relaxed.optimal
        relaxed_gap = L - relaxed.value if relaxed.optimal else None
        if relaxed_ok and relaxed_gap <= gap_tol:
            immaterial, pressing = pressing, ()
    outcome = decide(solver_ok=solver_ok, in_region=in_region, relaxed_ok=relaxed_ok,
                     material_pressing=bool(pressing), decoder_gap=base["decoder_gap"],
                     encoder_gap=base["encoder_gap"], gap_tolerance=gap_tol)
    reason = _reason(outcome, base, solver_ok, in_region, relaxed_status, relaxed_gap, pressing, immaterial)
    return BlockCertificate(**base, pressing=pressing, immaterial_pressing=immaterial, relaxed_gap=relaxed_gap,
                            relaxed_status=relaxed_status, outcome=outcome, reason=reason)


def _reason(outcome, b, solver_ok, in_region, relaxed_status, relaxed_gap, pressing, immaterial) -> str:
    if not solver_ok:
        return f"certificate re-solve status: decoder {b['decoder_status']!r}, encoder {b['encoder_status']!r}"
    if not in_region:
        return f"the point violates the region by {-b['min_slack']:.3g}"
    if relaxed_status is not None and relaxed_gap is None:
        return f"relaxed encoder block status {relaxed_status!r}"
    if outcome is Outcome.LEAVES_REGION:
        p = pressing[0]
        return (f"region row {p.row} ({p.describe}) presses with multiplier {p.multiplier:.3g}; crossing it would "
                f"lower the encoder block by {relaxed_gap:.3g}")
    if outcome is Outcome.INCONCLUSIVE:
        return (f"block gaps {b['decoder_gap']:.3g}, {b['encoder_gap']:.3g} exceed {b['gap_tolerance']:.3g}")
    return (f"both blocks optimal (gaps {b['decoder_gap']:.2g}, {b['encoder_gap']:.2g}), "
            + ("no region row pressed" if not immaterial else
               f"rows {[p.row for p in immaterial]} touched with multipliers that lower the block by only "
               f"{relaxed_gap:.2g} if dropped"))
