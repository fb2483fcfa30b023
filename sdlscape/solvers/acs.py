"""Alternating convex search (ACS) inside one activation-pattern piece, and its certified outcome.

Inside Omega_P (eq. 13) L~ (eq. 11) is biconvex (Thm 3.2). ACS alternates the exact decoder block
(least squares) and the exact encoder block (a QP over the margin-tightened closed region), so L~
never increases. The outcome is exactly one of
  partial_optimum  both blocks optimal at the final point (re-solved with CVXPY: the two gaps are
                   the certificate) and no region row pressed: every active row has a zero
                   multiplier, or dropping the rows that carry one lowers the encoder block by no
                   more than the gap tolerance; the joint Hessian inside the region classifies it
                   (local_min / saddle / undecided, solvers/second_order.py);
  leaves_region    the iterates press on region rows with positive multipliers, and dropping those
                   rows would lower the encoder block by more than the gap tolerance: a feature wants
                   to stop (or start) activating a latent; `toward` is that neighbouring pattern. Either
                   ACS converged onto the boundary, or (relu-type cones, where the margin eps is the
                   only thing that stops it) it kept pressing some same row for the last
                   `press_window` iterations of its budget;
  inconclusive     a solver status other than optimal, a loss increase beyond round-off, or no
                   convergence (and no persistent pressing) within the iteration budget.
Partial optimality is decided by solving the blocks, never from a gradient formula of the paper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import OUTCOME_ORDER, Outcome, PressKind
from sdlscape.solvers.blocks import (
    DecoderBlock,
    EncoderBlock,
    check_solver,
    decoder_closed_form,
    encoder_active_set,
)
from sdlscape.solvers.certificate import (
    BlockCertificate,
    Pressing,
    certify_point,
    pressing_rows,
)
from sdlscape.solvers.second_order import classify_point
from sdlscape.theory.loss import check_weights
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece, Realizability
from sdlscape.theory.region import Region


@dataclass(frozen=True, kw_only=True)
class ACSResult:
    """What one ACS run reached; see the module docstring for the three outcomes.

    certificate: the block re-solves at the final point (None when ACS stopped before certifying);
    stop: numbers about an early stop (a solver status, an increase, the last change).
    """

    outcome: Outcome
    loss: float | None
    W_E: np.ndarray | None
    W_D: np.ndarray | None
    iterations: int
    certificate: BlockCertificate | None = None
    stop: dict = field(default_factory=dict)
    hessian: dict | None = None
    pressing: tuple[Pressing, ...] = ()
    toward: Pattern | None = None
    reason: str = ""
    tolerances: dict = field(default_factory=dict)
    history: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        cert = self.certificate.to_dict() if self.certificate is not None else {}
        return {"outcome": self.outcome.value, "loss": self.loss,
                "W_E": None if self.W_E is None else self.W_E.tolist(),
                "W_D": None if self.W_D is None else self.W_D.tolist(),
                "iterations": self.iterations, "certificate": {**cert, **self.stop}, "hessian": self.hessian,
                "pressing": [p.to_dict() for p in self.pressing],
                "toward": None if self.toward is None else self.toward.to_json(),
                "reason": self.reason, "tolerances": self.tolerances, "loss_history": list(self.history)}


# ----------------------------------------------------------------------------------------------
# starts

def random_region_point(reg: Region, witness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random point of the region (margin eps kept on every row): the witness moved part of the
    way toward the vertex of {G w <= h - eps, |w|_inf <= B} that maximizes a random objective."""
    w0 = np.asarray(witness, dtype=float).reshape(-1)
    B = 2.0 * max(1.0, float(np.abs(w0).max()))
    c = rng.standard_normal(w0.size)
    res = linprog(-c, A_ub=reg.G if reg.n_rows else None, b_ub=(reg.h - reg.eps) if reg.n_rows else None,
                  bounds=(-B, B), method="highs")
    if res.status != 0:  # fall back to the witness itself (it is in the region)
        return w0.reshape(reg.shape)
    t = rng.uniform(0.2, 0.8)
    return ((1.0 - t) * w0 + t * res.x).reshape(reg.shape)


def scaled_witness(piece: Piece, witness: np.ndarray) -> np.ndarray:
    """The LP witness (least L1 norm, so of the size of the margin eps) scaled up to unit largest row
    when the region is a cone tightened by eps (positively homogeneous activation): scaling by
    c >= 1 keeps every row G w <= h (h <= 0 there), so the start stays in the region, away from
    the margin's scale. jumprelu regions are not cones: the witness is kept as it is."""
    W, reg = np.asarray(witness, dtype=float), piece.region
    top = float(np.linalg.norm(W, axis=1).max())
    if not piece.instance.activation.positively_homogeneous or top <= 0 or top >= 1 or np.any(reg.h > 0):
        return W
    W1 = W / top
    return W1 if reg.contains(W1, tol=0.0) else W


# ----------------------------------------------------------------------------------------------
# ACS

def _toward(pattern: Pattern, pressing: tuple[Pressing, ...]) -> Pattern:
    """The neighbouring pattern across the pressed rows."""
    sets = [set(s) for s in pattern.sets]
    for p in pressing:
        if p.kind is PressKind.STOP:
            sets[p.latent].discard(p.feature)
        elif p.kind is PressKind.START:
            sets[p.latent].add(p.feature)
        else:  # latent `other` overtakes latent i for feature d
            sets[p.latent].discard(p.feature)
            sets[p.other].add(p.feature)
    return Pattern(tuple(frozenset(s) for s in sets), pattern.n)


def _valid_for(piece: Piece, pat: Pattern) -> bool:
    act, nl = piece.instance.activation, piece.instance.n_latents
    return all(act.check_column(int(c), nl, piece.reading) is None for c in pat.mask.sum(axis=0))


def run_acs(piece: Piece, W_E0: np.ndarray | None = None, *, seed: int = 0, tol: float = numerics.ACS_TOL,
            max_iter: int = 500, solver: str = "CLARABEL", xtol: float = numerics.ACS_XTOL, patience: int = 10,
            press_window: int | None = None, fast_path: bool = True, classify: bool = True,
            _blocks: tuple | None = None) -> ACSResult:
    """Alternating convex search inside `piece` from W_E0 (default: a random region point for `seed`).

    Returns an `ACSResult` whose ``outcome`` is partial_optimum (certified by re-solving both blocks),
    leaves_region (a region row presses, with ``toward`` the neighbouring pattern) or inconclusive.

    Each iteration: W_E <- encoder block(W_D) (the CVXPY QP; with fast_path, first the exact solution
    for the previous iteration's pressed rows, then the unconstrained least squares, each kept only
    when it is a verified KKT point of the block (blocks.encoder_active_set)),
    then W_D <- decoder block(W_E) (closed-form least squares). Stops when the relative change of
    L~ is <= tol and that of the codes S*(W_E W_p) and W_D is <= xtol (or L~ stalls at round-off
    level for `patience` iterations). A converged point where region rows press (active, positive
    multipliers) leaves the region; without convergence, so does a run whose last `press_window`
    iterations (default max(patience, max_iter // 2)) all pressed the same rows; any other unconverged run is
    inconclusive. The final point is certified by re-solving both blocks (solvers/certificate.py).
    """
    solver = check_solver(solver)
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer, got {max_iter!r}")
    inst, eps = piece.instance, piece.margin
    dec, enc = _blocks if _blocks is not None else (DecoderBlock(piece, solver), EncoderBlock(piece, solver))
    reg, mask = piece.region, piece.loss_mask
    tols = {"eps": eps, "tol": tol, "xtol": xtol, "patience": patience, "solver": solver,
            "max_iter": int(max_iter), "fast_path": fast_path, "gap_rel": numerics.BLOCK_GAP_REL}
    if W_E0 is None:
        rz = piece.realizability
        if not rz.realizable:
            return ACSResult(outcome=Outcome.INCONCLUSIVE, loss=None, W_E=None, W_D=None, iterations=0,
                             stop={"realizability": rz.status.value}, tolerances=tols,
                             reason=f"pattern is not realizable with margin eps = {eps:g} ({rz.detail})")
        W_E0 = random_region_point(reg, scaled_witness(piece, rz.witness), np.random.default_rng(seed))
    W_E = np.asarray(W_E0, dtype=float)
    check_weights(inst, W_E=W_E)
    if not reg.contains(W_E, tol=numerics.START_MEMBERSHIP_REL * max(1.0, float(np.abs(W_E).max()))):
        raise InputError(f"the start W_E is not in the region of pattern {piece.pattern} (margin eps = {eps:g}); "
                         f"worst slack {reg.slack(W_E).min():.3g}")

    def stopped(reason: str, info: dict, pressing: tuple[Pressing, ...] = ()) -> ACSResult:
        return ACSResult(outcome=Outcome.INCONCLUSIVE, loss=float(history[-1]), W_E=W_E, W_D=W_D, iterations=it,
                         stop=info, pressing=pressing, reason=reason, tolerances=tols,
                         history=tuple(float(v) for v in history))

    W_D = decoder_closed_form(inst, W_E, mask)
    L = piece.loss(W_D, W_E)
    history = [L]
    Q = piece.codes(W_E)
    mono_tol = lambda v: numerics.MONOTONE_REL * max(1.0, abs(v))  # noqa: E731  round-off on a decrease
    max_increase, stop, it, stall, qp_solves = 0.0, None, 0, 0, 0
    press_key, press_run, last_enc, active_guess = set(), 0, None, ()
    for it in range(1, max_iter + 1):
        e, W_D_enc = None, W_D
        if fast_path:  # exact when it answers (a verified KKT point); else CVXPY below
            for S in dict.fromkeys([active_guess, ()]):
                e = encoder_active_set(piece, W_D, W_E, S)
                if e is not None:
                    break
        if e is None:
            e = enc.solve(W_D)
            qp_solves += 1
        if not e.optimal:
            return stopped(f"encoder block status {e.status!r} at iteration {it}", {"encoder_status": e.status})
        if e.value > L + mono_tol(L):
            return stopped(f"encoder block increased L~ by {e.value - L:.3g} (solver inaccuracy)",
                           {"max_increase": e.value - L})
        max_increase = max(max_increase, e.value - L)
        last_enc = e
        pressing = pressing_rows(reg, e.duals, e.W, e.value)
        active_guess = tuple(sorted(p.row for p in pressing))
        key = {p.row for p in pressing}
        press_run = press_run + 1 if (key & press_key) else (1 if key else 0)  # keeps pressing some same row
        press_key = key
        W_E_new = e.W
        W_D_new = decoder_closed_form(inst, W_E_new, mask)
        L_new = piece.loss(W_D_new, W_E_new)
        if L_new > e.value + mono_tol(e.value):  # least squares cannot increase L~: a numerical failure
            return stopped(f"decoder step increased L~ by {L_new - e.value:.3g}", {"max_increase": L_new - e.value})
        max_increase = max(max_increase, L_new - e.value)
        Q_new = piece.codes(W_E_new)
        dx = (np.linalg.norm(Q_new - Q) / (1.0 + np.linalg.norm(Q))
              + np.linalg.norm(W_D_new - W_D) / (1.0 + np.linalg.norm(W_D)))
        dL = L - L_new
        stall = stall + 1 if dL <= 1e-3 * tol * max(1.0, L) else 0
        # the final point is (W_D, W_E_new): W_E_new is the encoder block's answer to W_D
        if dL <= tol * max(1.0, L) and (dx <= xtol or stall >= patience):
            W_E, L, stop = W_E_new, e.value, ("converged" if dx <= xtol else "loss stalled")
            history.append(L)
            break
        W_E, W_D, Q, L = W_E_new, W_D_new, Q_new, L_new
        history.append(L)

    tols["monotone"] = bool(max_increase <= 0.0)
    tols["max_increase"] = float(max_increase)
    tols["qp_solves"] = qp_solves
    window = max(patience, int(max_iter) // 2) if press_window is None else max(1, int(press_window))
    tols["press_window"] = window
    tols["pressed_iterations"] = press_run
    tols["stopped_by"] = stop or f"iteration budget ({max_iter})"
    if stop is None:
        last = float(history[-2] - history[-1]) if len(history) > 1 else None
        if press_run < window or last_enc is None:
            return stopped(f"no convergence within {max_iter} iterations",
                           {"last_change": last, "pressed_iterations": press_run},
                           pressing_rows(reg, last_enc.duals, W_E, L) if last_enc is not None else ())
        # not converged, but the same rows pressed through the last `window` iterations: leaving
        W_E, W_D, L = last_enc.W, W_D_enc, last_enc.value
    return _certified(piece, dec, W_D, W_E, it, history, tols, classify, solver)


def _certified(piece: Piece, dec: DecoderBlock, W_D, W_E, it, history, tols, classify, solver) -> ACSResult:
    """Re-solve both blocks at the final point (W_D, W_E) and report what the certificate decided."""
    cert = certify_point(piece, W_D, W_E, solver, decoder=dec)
    toward, hessian = None, None
    if cert.outcome is Outcome.LEAVES_REGION:
        toward = _toward(piece.pattern, cert.pressing)
        if not _valid_for(piece, toward):
            toward = _toward(piece.pattern, cert.pressing[:1])
        reason = f"ACS ({tols.get('stopped_by')}): {cert.reason}: a {cert.pressing[0].kind} move toward {toward}"
    else:
        reason = cert.reason
    if cert.outcome is Outcome.PARTIAL_OPTIMUM and classify:
        boundary = [r for r in cert.active_rows if not piece.region.strict[r]]
        hessian = classify_point(piece, W_D, W_E, boundary)
    return ACSResult(outcome=cert.outcome, loss=cert.loss, W_E=W_E, W_D=W_D, iterations=it, certificate=cert,
                     hessian=hessian, pressing=cert.pressing, toward=toward, reason=reason, tolerances=tols,
                     history=tuple(float(v) for v in history))


# ----------------------------------------------------------------------------------------------
# one piece, several starts

@dataclass(frozen=True, kw_only=True)
class PieceResult:
    """ACS from several starts in one piece: the best outcome any start reached."""

    piece: Piece
    outcome: Outcome
    best_loss: float | None
    starts: tuple[ACSResult, ...]
    seed: int = 0

    @property
    def pattern(self) -> Pattern:
        return self.piece.pattern

    @property
    def realizability(self) -> Realizability:
        return self.piece.realizability

    @property
    def realizable(self) -> bool:
        return self.piece.realizable

    @property
    def best(self) -> ACSResult | None:
        cands = [s for s in self.starts if s.outcome is self.outcome and s.loss is not None]
        return min(cands, key=lambda s: s.loss) if cands else None

    def to_dict(self) -> dict[str, Any]:
        """The "piece" result-file contract of ARCHITECTURE.md, plus evidence."""
        return {"pattern": self.pattern.to_json(), "reading": self.piece.reading.value,
                "realizable": self.realizable, "outcome": self.outcome.value, "best_loss": self.best_loss,
                "eps": self.piece.margin, "seed": self.seed, "realizability": self.realizability.to_dict(),
                "starts": [s.to_dict() for s in self.starts]}


def piece_outcome(outcomes) -> Outcome:
    """The first of OUTCOME_ORDER that any start reached: partial_optimum if any start certified one."""
    seen = set(outcomes)
    return next((o for o in OUTCOME_ORDER if o in seen), Outcome.INCONCLUSIVE)


def solve_piece(piece: Piece, starts: int = 4, seed: int = 0, **acs_kwargs) -> PieceResult:
    """Alternating convex search inside one piece from several starts.

    Realizability first (LP), then ACS (`run_acs`) from `starts` points of the region: the LP witness,
    then random region points (seeded).

    Parameters
    ----------
    piece : Piece
        A linear piece (``piece.linear``; see ``Piece.parts`` otherwise).
    starts : int, default 4
        Number of ACS starts.
    seed : int, default 0
        Seed of the random starts.
    **acs_kwargs
        Passed to `run_acs` (``solver``, ``max_iter``, ``tol``, ...).

    Returns
    -------
    PieceResult
        ``outcome`` is partial_optimum if any start certified one, else leaves_region if any start
        left, else inconclusive; ``best_loss`` is the least L~ among starts with that outcome.

    Raises
    ------
    InputError
        For a piece that is not linear, a bad number of starts, or an unknown solver.
    """
    if not isinstance(piece, Piece):
        raise InputError("solve_piece takes a sdlscape.theory.piece.Piece")
    if isinstance(starts, bool) or int(starts) != starts or starts < 1:
        raise InputError(f"starts must be a positive integer, got {starts!r}")
    solver = check_solver(acs_kwargs.pop("solver", "CLARABEL"))
    rz = piece.realizability
    if not rz.realizable:
        return PieceResult(piece=piece, outcome=Outcome.INCONCLUSIVE, best_loss=None, starts=(), seed=seed)
    blocks = (DecoderBlock(piece, solver), EncoderBlock(piece, solver))
    rng = np.random.default_rng(seed)
    witness = scaled_witness(piece, rz.witness)
    results = []
    for k in range(int(starts)):
        W0 = witness if k == 0 else random_region_point(piece.region, witness, rng)
        results.append(run_acs(piece, W0, seed=seed, solver=solver, _blocks=blocks, **acs_kwargs))
    outcome = piece_outcome(s.outcome for s in results)
    losses = [s.loss for s in results if s.outcome is outcome and s.loss is not None and math.isfinite(s.loss)]
    return PieceResult(piece=piece, outcome=outcome, best_loss=min(losses) if losses else None,
                       starts=tuple(results), seed=seed)
