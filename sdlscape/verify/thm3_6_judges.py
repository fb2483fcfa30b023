"""Thm 3.6's corrected criterion and its independent judges (pluggable), used by verify/thm3_6.py.

`criterion(piece) -> Criterion` is the corrected statement's answer on one partition piece (parts (i) and
(ii) of thm3_6.py's docstring), with the partial optimum it builds; a judge is
f(piece, criterion, starts, seed) -> JudgeVerdict; `disagreement` is the decision rule that makes the
corrected check fail. Add a judge (e.g. the certified piece infimum of CERTIFY.md) to `JUDGES`.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy.optimize import linprog

from sdlscape import numerics
from sdlscape.outcomes import Outcome
from sdlscape.theory.constructions import eq55_decoder, latent_eigenspaces, positive_vector_in_span
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import ConstraintKind, code_row
from sdlscape.verify.thm3_6_zero_codes import zero_code_judge, zero_code_point

MAX_COMBOS = 64  # eigenspace choices tried jointly per pattern


class Kind(str, Enum):
    """The criterion's answer on one piece: a partial optimum exists, none does, or the corrected statement
    does not apply (not a partition of a linear piece)."""

    EXISTS = "exists"
    NONE = "none"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """The corrected statement's answer for one piece, with the point it builds (EXISTS) and whether its
    necessity part (ii) applies."""

    kind: Kind
    necessity_applies: bool
    point: tuple[np.ndarray, np.ndarray] | None = None
    margin: float | None = None    # the point's margin on the strict rows (it may be below the solvers' eps)
    latents: tuple[dict, ...] = ()
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class JudgeVerdict:
    """exists: True = a certified partial optimum exhibiting P with positive loss; None = not found.
    refutes_point: the criterion's point failed the judge's certificate."""

    judge: str
    exists: bool | None
    refutes_point: bool = False
    loss: float | None = None
    solver_ok: bool = True
    detail: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# the corrected statement's criterion


def _rank_full(A: np.ndarray) -> bool:
    return bool(np.linalg.matrix_rank(A, tol=numerics.RANK_REL * max(1.0, float(np.abs(A).max()))) == A.shape[1])


def _rank(A: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(A, tol=numerics.RANK_REL * max(1.0, float(np.abs(A).max(initial=0.0)))))


def latent_free(piece: Piece, i: int) -> bool:
    """(ii)'s hypothesis for one latent block: latent i passes exactly its F_i, the columns W_p[:, F_i] are
    independent, and their span meets the span of the features with a non-strict row of latent i
    (z_id <= t, the only rows that can carry a KKT multiplier at a point of the open region) only at 0.
    Then the encoder block's stationarity in w_E^i is W_p[:, F_i] g_i = 0, so g_i = 0: the codes M^{1/2} a_i
    are an eigenvector of K_i (Piece.latent_gram)."""
    F = sorted(piece.pattern.sets[i])
    if not F or not np.array_equal(piece.loss_mask[i], piece.mask[i]):
        return False
    N = sorted({c.feature for c in piece.region.constraints if c.latent == i and not c.strict} - set(F))
    W = piece.instance.W_p
    return _rank(W[:, F]) == len(F) and _rank(W[:, F + N]) == len(F) + (_rank(W[:, N]) if N else 0)


def necessity_applies(piece: Piece) -> bool:
    """(ii)'s hypothesis for every live latent block (what a joint argument over all latents needs)."""
    return piece.linear and all(latent_free(piece, i) for i, F in enumerate(piece.pattern.sets) if F)


def _joint_point(piece: Piece, choice: list[tuple[int, list[int], np.ndarray]]) -> tuple[np.ndarray, float] | None:
    """An encoder of the open region whose codes on F_i are s_i a_i: (W_E, t*) with t* > 0 the largest margin on the
    strict rows (non-strict rows never tightened), or None when t* = 0. The point returned has the smallest
    scales s_i >= max(1, theta + 2 m) with margin m = min(eps, t*/2) where that LP is feasible (a canonical
    point), else the max-margin point."""
    reg = piece.region
    t_star = None
    for on in (np.ones(reg.n_rows, dtype=bool), reg.strict):   # inside the non-strict rows too where possible
        x = _lp_point(piece, choice, margin_on=on)
        if x is not None:
            W_E, t_star = x
            break
    if t_star is None:
        return None
    m = min(piece.margin, t_star / 2)
    act = piece.instance.activation
    floor = max(1.0, act.threshold + 2 * m)
    canon = _lp_point(piece, choice, fixed_margin=m, floor=floor)
    if canon is not None and _reads_back(piece, canon[0]):
        W_E = canon[0]
    elif not _reads_back(piece, W_E):
        raise NoReadBack(f"the LP's point for {piece.pattern} (margin t* = {t_star:.3g}) does not read back to its "
                         "pattern within floating-point tolerance")
    return W_E, t_star


class NoReadBack(Exception):
    """The LP found a margin t* > 0, but no point it returned reads back to the pattern in floating point:
    the floating-point band, where the criterion is undecided (never a verdict either way)."""


def _lp_point(piece: Piece, choice, margin_on: np.ndarray | None = None, fixed_margin: float = 0.0,
              floor: float = 0.0) -> tuple[np.ndarray, float] | None:
    """margin_on given: maximise the margin t (<= 1) on those rows, (W_E, t) if t > 0; else minimise sum s_i
    with s_i >= floor and the strict rows held `fixed_margin` inside, (W_E, fixed_margin)."""
    reg, (q, n_p) = piece.region, piece.region.shape
    dim, k = q * n_p, len(choice)
    W_p = piece.instance.W_p
    A_eq, b_eq = [], []
    for j, (i, F, a) in enumerate(choice):
        for d, ad in zip(F, a):
            A_eq.append(np.r_[code_row(i, d, W_p, q), -ad * np.eye(k)[j], 0.0])
            b_eq.append(0.0)
    if margin_on is not None:
        A_ub = np.hstack([reg.G, np.zeros((reg.n_rows, k)), margin_on.astype(float)[:, None]])
        b_ub, c = reg.h_open, np.r_[np.zeros(dim + k), -1.0]
        bounds = [(None, None)] * dim + [(0, None)] * k + [(None, 1.0)]
    else:
        A_ub = np.hstack([reg.G, np.zeros((reg.n_rows, k + 1))])
        b_ub, c = reg.h_open - fixed_margin * reg.strict, np.r_[np.zeros(dim), np.ones(k), 0.0]
        bounds = [(None, None)] * dim + [(floor, None)] * k + [(0.0, 0.0)]
    res = linprog(c, A_ub=A_ub if reg.n_rows else None, b_ub=b_ub if reg.n_rows else None,
                  A_eq=np.array(A_eq) if A_eq else None, b_eq=np.array(b_eq) if b_eq else None, bounds=bounds,
                  method="highs")
    if res.status != 0 or (margin_on is not None and res.x[-1] <= 0):
        return None
    return res.x[:dim].reshape(q, n_p), (float(res.x[-1]) if margin_on is not None else fixed_margin)


def _reads_back(piece: Piece, W_E: np.ndarray) -> bool:
    """The point shows the pattern (Def. 3.1) and the activation passes nothing outside it but zeros."""
    if not piece.reads_back(W_E):
        return False
    codes = W_E @ piece.instance.W_p
    out = piece.instance.activation.apply(codes, axis=0)      # what sigma passes to the decoder
    tol = 1e-9 * max(1.0, float(np.abs(codes).max()))
    return bool(np.all(np.abs(np.where(piece.mask, 0.0, out)) <= tol))


OFF_PATTERN_WHY = ("sigma passes codes outside the pattern (plain TopK passes a latent's non-positive codes): L~ "
                   "does not decouple by latent, so the K_i eigen-analysis (i)/(ii) does not describe its partial optima")


def criterion(piece: Piece) -> Criterion:
    """The corrected statement on one piece (numbers only; the judges check it)."""
    inst, P = piece.instance, piece.pattern
    if not (P.is_partition and piece.linear):
        return Criterion(kind=Kind.NOT_APPLICABLE, necessity_applies=False, why="not a partition of a linear piece")
    if (piece.loss_mask & ~piece.mask).any():
        return Criterion(kind=Kind.NOT_APPLICABLE, necessity_applies=False, why=OFF_PATTERN_WHY)
    sign_free = not any(c.kind is ConstraintKind.ON for c in piece.region.constraints)
    options, info, exhaustive = [], [], True
    for i, F, m, spaces in latent_eigenspaces(piece):
        opts = []
        for lam, V in spaces:
            v = positive_vector_in_span(V)
            if v is not None:
                a = v / np.sqrt(m)
                opts.append((lam, a / float(a.min())))
                exhaustive &= V.shape[1] == 1
        if sign_free and not opts:
            a = spaces[0][1][:, 0] / np.sqrt(m)
            opts.append((spaces[0][0], a / float(np.max(np.abs(a)))))
            exhaustive = False
        info.append({"latent": i, "features": F, "eigenvalues": [float(lam) for lam, _ in spaces],
                     "positive_eigenvalues": [float(lam) for lam, _ in opts], "block_free": latent_free(piece, i)})
        options.append([(i, F, a) for _, a in opts])
    if any(not o for o in options):
        bad = [d["latent"] for d, o in zip(info, options) if not o]
        nec = any(d["block_free"] for d, o in zip(info, options) if not o)
        return Criterion(kind=Kind.NONE, necessity_applies=nec, latents=tuple(info),
                         why=f"latents {bad}: no eigenvector of K_i in the open positive orthant")
    combos = list(itertools.islice(itertools.product(*options), MAX_COMBOS + 1))
    for choice in combos[:MAX_COMBOS]:
        try:
            found = _joint_point(piece, list(choice))
        except NoReadBack as exc:   # undecided: the judges still run, and `none` needs necessity_applies
            return Criterion(kind=Kind.NONE, necessity_applies=False, latents=tuple(info), why=f"fp band: {exc}")
        if found is not None:
            W_E, t = found
            return Criterion(kind=Kind.EXISTS, necessity_applies=necessity_applies(piece), margin=t,
                             point=(eq55_decoder(inst, W_E, P), W_E), latents=tuple(info),
                             why="eigen-codes realizable jointly (LP)")
    nec = necessity_applies(piece) and exhaustive and len(combos) <= MAX_COMBOS
    if nec and sign_free and zero_code_point(piece) is not None:
        nec = False       # a latent selected with codes 0 is a partial optimum that (ii) does not see
    return Criterion(kind=Kind.NONE, necessity_applies=nec, latents=tuple(info),
                     why="eigen-codes of the latents are not jointly realizable in the region (LP)")


def sign_blind_criterion(piece: Piece) -> Criterion:
    """A deliberately false rule (the paper's reading of eq. 55): every partition piece has a stationary
    point, built from each K_i's top eigenvector whatever its signs, ignoring the region. Must fail."""
    inst, P = piece.instance, piece.pattern
    Z = np.full((inst.n_latents, inst.n), -1.0)
    for i, F, m, spaces in latent_eigenspaces(piece):
        a = spaces[0][1][:, 0] / np.sqrt(m)
        Z[i, F] = a / float(np.max(np.abs(a)))
    W_E = Z @ np.linalg.pinv(inst.W_p)
    return Criterion(kind=Kind.EXISTS, necessity_applies=True, point=(eq55_decoder(inst, W_E, P), W_E),
                     why="sign-blind eigen point")


# ---------------------------------------------------------------------------------------------
# judges (pluggable)


def certificate_judge(piece: Piece, crit: Criterion, starts: int, seed: int) -> JudgeVerdict:
    """The partial-optimum certificate (both blocks re-solved) at the criterion's point, if it built one."""
    from sdlscape.solvers.certificate import certify_point

    if crit.point is None:
        return JudgeVerdict(judge="certificate", exists=None)
    if crit.margin is not None and crit.margin < piece.margin:   # a region thinner than the solvers' eps
        piece = Piece(piece.instance, piece.pattern, crit.margin / 2, piece.reading, piece.fired)
    if not piece.linear:   # a union of linear parts (plain TopK, Def. 3.1): certify on the part holding the point
        part = next((p for p in piece.parts() if p.reads_back(crit.point[1])), None)
        if part is None:
            return JudgeVerdict(judge="certificate", exists=None, refutes_point=True,
                                detail={"outcome": "outside_the_piece", "reads_back": False})
        piece = part
    c = certify_point(piece, *crit.point)
    positive = c.loss > numerics.POSITIVE_LOSS
    return JudgeVerdict(judge="certificate", exists=True if (c.certified and positive) else None,
                        refutes_point=bool(c.solver_ok and not c.certified), loss=c.loss, solver_ok=c.solver_ok,
                        detail={"outcome": c.outcome.value, "decoder_gap": c.decoder_gap,
                                "encoder_gap": c.encoder_gap, "in_region": c.in_region, "reads_back": c.reads_back})


def acs_judge(piece: Piece, crit: Criterion, starts: int, seed: int) -> JudgeVerdict:
    """ACS from `starts` points of the region; a certified partial optimum with positive loss is a find
    (leaving the region proves nothing: exists is then None)."""
    from sdlscape.solvers.acs import solve_piece

    if not piece.linear:  # a Def. 3.1 plain-TopK piece that is a union of linear parts: not searched
        return JudgeVerdict(judge="acs", exists=None, detail={"outcome": "not_linear", "starts": 0})
    pr = solve_piece(piece, starts=starts, seed=seed)
    best = pr.best
    found = pr.outcome is Outcome.PARTIAL_OPTIMUM and best is not None and best.loss > numerics.POSITIVE_LOSS
    return JudgeVerdict(judge="acs", exists=True if found else None, loss=pr.best_loss,
                        solver_ok=pr.outcome is not Outcome.INCONCLUSIVE or not pr.starts,
                        detail={"outcome": pr.outcome.value, "starts": starts,
                                "point": None if not found else {"W_D": best.W_D, "W_E": best.W_E}})


def zero_codes_judge(piece: Piece, crit: Criterion, starts: int, seed: int) -> JudgeVerdict:
    """Where the region only orders the codes: the exact zero-code partial optimum (verify/thm3_6_zero_codes.py);
    decide() asks it only when the other judges found no partial optimum with positive loss."""
    z = zero_code_judge(piece)
    if z is None:
        return JudgeVerdict(judge="zero_codes", exists=None, detail={"outcome": "not_applicable"})
    return JudgeVerdict(judge="zero_codes", exists=z.pop("exists"), loss=z.pop("loss", None), detail=z)


JUDGES: dict[str, Callable[[Piece, Criterion, int, int], JudgeVerdict]] = {
    "certificate": certificate_judge, "acs": acs_judge, "zero_codes": zero_codes_judge}
"""The independent judges of the corrected statement; add one (e.g. a certified piece infimum) here."""


def disagreement(crit: Criterion, verdicts: list[JudgeVerdict]) -> str | None:
    """The decision rule of the corrected check: a judge contradicts the criterion, or None."""
    if crit.kind is Kind.EXISTS and any(v.refutes_point or v.exists is False for v in verdicts):
        return "the criterion's partial optimum is refuted by " + ", ".join(
            v.judge for v in verdicts if v.refutes_point or v.exists is False)
    if crit.kind is Kind.NONE and crit.necessity_applies and any(v.exists is True for v in verdicts):
        return "a judge certified a partial optimum where (ii) says none: " + ", ".join(
            v.judge for v in verdicts if v.exists is True)
    return None
