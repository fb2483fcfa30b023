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
from sdlscape.theory.constructions import (
    eq55_decoder,
    latent_eigenspaces,
    positive_vector_in_span,
)
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import ConstraintKind, code_row

MAX_COMBOS = 64  # eigenspace choices tried jointly per pattern


class Kind(str, Enum):
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


def necessity_applies(piece: Piece) -> bool:
    """(ii)'s hypothesis: every live W_p[:, F_i] of full column rank, and W_p of full column rank or no
    non-strict row in the region."""
    inst = piece.instance
    cols_ok = all(_rank_full(inst.W_p[:, sorted(F)]) for F in piece.pattern.sets if F)
    return cols_ok and (_rank_full(inst.W_p) or not np.any(~piece.region.strict))


def _joint_point(piece: Piece, choice: list[tuple[int, list[int], np.ndarray]], floor: float) -> np.ndarray | None:
    """An encoder in the region whose codes on F_i are s_i a_i (s_i >= floor), by LP; None if infeasible."""
    reg, (q, n_p) = piece.region, piece.region.shape
    dim, k = q * n_p, len(choice)
    A_eq, b_eq = [], []
    for j, (i, F, a) in enumerate(choice):
        for d, ad in zip(F, a):
            row = np.zeros(dim + k)
            row[:dim] = code_row(i, d, piece.instance.W_p, q)
            row[dim + j] = -ad
            A_eq.append(row)
            b_eq.append(0.0)
    A_ub = np.hstack([reg.G, np.zeros((reg.n_rows, k))]) if reg.n_rows else None
    c = np.concatenate([np.zeros(dim), np.ones(k)])
    res = linprog(c, A_ub=A_ub, b_ub=(reg.h - 0.5 * reg.eps) if reg.n_rows else None, A_eq=np.array(A_eq),
                  b_eq=np.array(b_eq), bounds=[(None, None)] * dim + [(floor, None)] * k, method="highs")
    return res.x[:dim].reshape(q, n_p) if res.status == 0 else None


def criterion(piece: Piece) -> Criterion:
    """The corrected statement on one piece (numbers only; the judges check it)."""
    inst, P = piece.instance, piece.pattern
    nec = necessity_applies(piece) if P.is_partition and piece.linear else False
    if not (P.is_partition and piece.linear):
        return Criterion(kind=Kind.NOT_APPLICABLE, necessity_applies=False, why="not a partition of a linear piece")
    act = inst.activation
    sign_free = not any(c.kind is ConstraintKind.ON for c in piece.region.constraints)
    t = act.threshold
    options, info = [], []
    for i, F, m, spaces in latent_eigenspaces(piece):
        opts = []
        for lam, V in spaces:
            v = positive_vector_in_span(V)
            if v is not None:
                a = v / np.sqrt(m)
                opts.append((lam, a / float(a.min())))
        if sign_free and not opts:
            a = spaces[0][1][:, 0] / np.sqrt(m)
            opts.append((spaces[0][0], a / float(np.max(np.abs(a)))))
        info.append({"latent": i, "features": F, "eigenvalues": [float(lam) for lam, _ in spaces],
                     "positive_eigenvalues": [float(lam) for lam, _ in opts]})
        options.append([(i, F, a) for _, a in opts])
    if any(not o for o in options):
        bad = [d["latent"] for d, o in zip(info, options) if not o]
        return Criterion(kind=Kind.NONE, necessity_applies=nec, latents=tuple(info),
                         why=f"latents {bad}: no eigenvector of K_i in the open positive orthant")
    floor = max(1.0, t + 2 * piece.margin)
    for choice in itertools.islice(itertools.product(*options), MAX_COMBOS):
        W_E = _joint_point(piece, list(choice), floor)
        if W_E is not None:
            return Criterion(kind=Kind.EXISTS, necessity_applies=nec, point=(eq55_decoder(inst, W_E, P), W_E),
                             latents=tuple(info), why="eigen-codes realizable jointly (LP)")
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


JUDGES: dict[str, Callable[[Piece, Criterion, int, int], JudgeVerdict]] = {
    "certificate": certificate_judge, "acs": acs_judge}
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
