"""Thm 3.6 (prevalence of spurious partial minima), as written and corrected, per pattern reading.

Statement (PAPER.md Sec. 2): "If n >= 2, n_q >= n, then for *every* activation pattern P that is
realizable, polysemantic and a partition of [n] (empty F_i allowed: dead neurons), there exists a partial
minimum of L~ exhibiting P with positive loss." (The paper builds it from eq. 55.)

On a partition piece L~ decouples by latent: latent i reconstructs the features of F_i with one column
w_D^i and codes a_i = (z_id)_{d in F_i}. Both blocks are stationary iff v = M^{1/2} a_i is an eigenvector
of K_i = M^{1/2} (W_r^T W_r)_{F_i} M^{1/2} (eq. 55 is then the decoder block's optimum).

Corrected statement (thm3.6-corrected), for a partition pattern P of a linear piece:
  (i)  [any W_p] if for every live latent some eigenvector of K_i lies in the open positive orthant (any
       eigenvector where the region only orders the codes: plain TopK(1), selection reading) and the codes
       a_i = M^{-1/2} v_i (each latent scaled freely) are jointly realizable in Omega_P (an LP), then a
       partial optimum exhibiting P exists (`criterion` builds it);
  (ii) [each W_p[:, F_i] of full column rank, and no non-strict region row could carry a multiplier:
       W_p of full column rank, or a region of strict rows only (TopK family)] otherwise none exists.
  (With rank-deficient W_p and separable sigma, a partial optimum can press a non-strict row z_jd <= t
  with a positive multiplier: (ii) does not apply, and the check reports what the judges find there.)
Thm 3.6 as written fails wherever (ii) proves that no partial optimum exists (unequal weights M_d).

The corrected statement is tested both ways against independent judges (`JUDGES`, pluggable: a judge is
f(piece, criterion, starts, seed) -> JudgeVerdict): the partial-optimum certificate (both convex blocks
re-solved) at the criterion's point, and ACS from several starts. A judge that certifies a partial optimum
where (ii) says none, or refutes the criterion's point, is a disagreement: a failure.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterator

import numpy as np
from scipy.optimize import linprog

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import Outcome, Reading, Status
from sdlscape.theory.constructions import _eigenspaces, eq55_decoder, positive_vector_in_span
from sdlscape.theory.instance import Activation, Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import ConstraintKind, code_row
from sdlscape.verify.claims import Context, Searched, instance_for, result, user_activations
from sdlscape.verify.search import load_counterexample_instance, random_draws, shrink, standard_family

EPS = numerics.MARGIN_EPS
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
# patterns


def set_partitions(items: list[int], max_blocks: int) -> Iterator[list[list[int]]]:
    """All partitions of `items` into at most max_blocks blocks (each once, blocks in first-item order)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest, max_blocks):
        for j in range(len(part)):
            yield part[:j] + [[first] + part[j]] + part[j + 1:]
        if len(part) < max_blocks:
            yield [[first]] + part


def partition_patterns(inst: Instance) -> list[Pattern]:
    """Every polysemantic partition pattern of the instance (up to latent permutation), dead latents last."""
    out = []
    for part in set_partitions(list(range(inst.n)), inst.n_latents):
        if max(len(b) for b in part) < 2:
            continue
        sets = [frozenset(b) for b in part] + [frozenset()] * (inst.n_latents - len(part))
        out.append(Pattern(tuple(sets), inst.n))
    return out


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
    t = act.threshold if act.separable else 0.0
    G = inst.W_r.T @ inst.W_r
    options, info = [], []
    for i, F in enumerate(P.sets):
        F = sorted(F)
        if not F:
            continue
        m = inst.M[F]
        K = np.sqrt(m)[:, None] * G[np.ix_(F, F)] * np.sqrt(m)[None, :]
        spaces = _eigenspaces(K)
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
    G = inst.W_r.T @ inst.W_r
    Z = np.full((inst.n_latents, inst.n), -1.0)
    for i, F in enumerate(P.sets):
        F = sorted(F)
        if F:
            m = inst.M[F]
            _, V = _eigenspaces(np.sqrt(m)[:, None] * G[np.ix_(F, F)] * np.sqrt(m)[None, :])[0]
            a = V[:, 0] / np.sqrt(m)
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


# ---------------------------------------------------------------------------------------------
# one pattern


Rule = Callable[[Piece], Criterion]


def analyze(piece: Piece, starts: int, seed: int, rule: Rule | None = None, judges=None) -> dict:
    """Criterion and judges on one pattern; `verdict` for the statement as written: exists | none |
    undecided | unrealizable | zero_loss."""
    out: dict = {"pattern": piece.pattern.to_json()}
    try:
        rz = piece.realizability
    except InputError as exc:  # impossible for structural reasons (TopK counts)
        return out | {"verdict": "unrealizable", "reason": str(exc)}
    if not rz.realizable:
        return out | {"verdict": "unrealizable" if rz.certificate is not None else "undecided", "reason": rz.detail}
    crit = (rule or criterion)(piece)
    judges = JUDGES if judges is None else judges
    run = ["certificate"] if crit.kind is Kind.EXISTS else [j for j in judges if j != "certificate"]
    verdicts = [judges[j](piece, crit, starts, seed) for j in run if j in judges]
    found = [v for v in verdicts if v.exists is True]
    out.update(criterion=crit.kind.value, necessity_applies=crit.necessity_applies, criterion_why=crit.why,
               latents=list(crit.latents), judges=[{"judge": v.judge, "exists": v.exists, "refutes_point": v.refutes_point,
                                                   "loss": v.loss, "solver_ok": v.solver_ok, **v.detail} for v in verdicts],
               disagreement=disagreement(crit, verdicts))
    if found:
        out.update(verdict="exists", loss=found[0].loss)
    elif crit.kind is Kind.NONE and crit.necessity_applies:
        out["verdict"] = "none"
    elif crit.kind is Kind.EXISTS and verdicts and all(v.solver_ok and not v.refutes_point for v in verdicts):
        out["verdict"] = "zero_loss"  # certified, but not with positive loss
    else:
        out["verdict"] = "undecided"
    return out


def _instances(ctx: Context, act: Activation) -> list[Instance]:
    inst = instance_for(ctx, act)
    if inst is not None:
        return [inst]
    fam = [i for i in standard_family(act, ctx.full, ctx.seed) if i.n <= (4 if ctx.full else 3)]
    fam += list(random_draws(act, ctx.budget.draws, ctx.seed, max_n=3 if not ctx.full else 4))
    return [i for i in fam if i.n >= 2 and i.n_latents >= i.n]


def _patterns(ctx: Context, inst: Instance) -> list[Pattern]:
    pats = partition_patterns(inst)
    if ctx.instance is None and ctx.budget.max_patterns is not None:  # never cap a user's instance
        pats = pats[: ctx.budget.max_patterns]
    return pats


def _search(name: str, ctx: Context, reading: Reading, rule, judges):
    recs, tried = [], 0
    for act in user_activations(ctx, name):
        for inst in _instances(ctx, act):
            tried += 1
            for P in _patterns(ctx, inst):
                key = ("thm3.6", json.dumps(inst.to_dict(), sort_keys=True), str(P), reading.value,
                       ctx.budget.acs_starts, ctx.seed, None if rule is None else id(rule),
                       None if judges is None else tuple(judges))
                if key not in ctx.cache:
                    try:
                        piece = Piece(inst, P, EPS, reading)
                    except InputError as exc:
                        ctx.cache[key] = {"pattern": P.to_json(), "verdict": "unrealizable", "reason": str(exc)}
                    else:
                        ctx.cache[key] = analyze(piece, ctx.budget.acs_starts, ctx.seed, rule, judges)
                r = dict(ctx.cache[key])
                r.update(instance=inst.name, activation=str(act), equal_weights=bool(np.allclose(inst.M, inst.M[0])),
                         full_column_rank=_rank_full(inst.W_p))
                recs.append((r, inst, P))
    return recs, tried


def _counts(recs, key="verdict") -> dict:
    out: dict = {}
    for r, *_ in recs:
        out[str(r.get(key))] = out.get(str(r.get(key)), 0) + 1
    return out


def _fails_36(reading: Reading):
    def fails(inst: Instance, P: Pattern | None) -> bool:
        if P is None or not P.polysemantic or not P.is_partition or inst.n < 2 or inst.n_latents < inst.n:
            return False
        piece = Piece(inst, P, EPS, reading)
        if not piece.realizable:
            return False
        crit = criterion(piece)
        return crit.kind is Kind.NONE and crit.necessity_applies
    return fails


def check_thm3_6(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, judges=None):
    recs, tried = _search(name, ctx, reading, None, judges)
    searched = Searched(instances=tried, patterns=len(recs), starts=ctx.budget.acs_starts, description=(
        "every polysemantic partition pattern of each instance (random families: the first "
        f"{ctx.budget.max_patterns or 'all'}; a user's instance: all), standard family (n <= 3 quick, <= 4 full) and "
        f"random draws (rank-deficient W_p among them); realizability by LP; criterion + judges {list(JUDGES)}"))
    evidence = {"counts": _counts(recs), "none_with_equal_weights": sum(r["verdict"] == "none" and r["equal_weights"]
                                                                        for r, *_ in recs),
                "records": [{k: v for k, v in r.items() if k != "latents"} for r, *_ in recs[:40]]}
    tol = {"gap_rel": numerics.BLOCK_GAP_REL, "eps": EPS, "positive_loss": numerics.POSITIVE_LOSS}
    nones = [(r, i, P) for r, i, P in recs if r["verdict"] == "none"]
    if nones:
        r, inst, P = min(nones, key=lambda c: (c[1].n, c[1].n_latents))
        small, Ps = shrink(inst, _fails_36(reading), P)
        if not _fails_36(reading)(small, Ps):
            small, Ps = inst, P
        path = ctx.save_counterexample("thm3.6", name, small, reading)
        r_small = analyze(Piece(small, Ps, EPS, reading), ctx.budget.acs_starts, ctx.seed, judges=judges)
        cx = {"instance": path or small.to_dict(), "pattern": Ps.to_json(), "reading": reading.value,
              "why": (f"pattern {Ps} is realizable, polysemantic and a partition (n = {small.n} >= 2, n_q = "
                      f"{small.n_latents} >= n), yet no partial minimum lies inside its region: {r_small.get('criterion_why')}"
                      f" ((ii) applies; ACS with {ctx.budget.acs_starts} starts found none)"),
              "hypotheses": {"n >= 2": small.n >= 2, "n_q >= n": small.n_latents >= small.n, "realizable": True,
                             "polysemantic": Ps.polysemantic, "partition": Ps.is_partition},
              "analysis": r_small, "recheck": _recheck_numbers(small, Ps, reading, ctx.seed + 1)}
        return result("thm3.6", name, Status.FAILS, reading=reading, tried=tried, evidence=evidence,
                      searched=searched, tolerance=tol, counterexample=cx)
    counts = evidence["counts"]
    status = Status.HOLDS if tried and counts.get("undecided", 0) == 0 and counts.get("exists", 0) > 0 \
        else Status.INCONCLUSIVE
    return result("thm3.6", name, status, reading=reading, tried=tried, evidence=evidence, searched=searched,
                  tolerance=tol)


def check_thm3_6_corrected(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, rule: Rule | None = None,
                           judges=None):
    """rule / judges: a deliberately false criterion, or other judges (tests, the certifier)."""
    recs, tried = _search(name, ctx, reading, rule, judges)
    judged = [(r, i, P) for r, i, P in recs if "criterion" in r and r["criterion"] != Kind.NOT_APPLICABLE.value]
    bad = [(r, i, P) for r, i, P in judged if r["disagreement"]]
    beyond = [r for r, *_ in judged if r["criterion"] == Kind.NONE.value and not r["necessity_applies"]]
    searched = Searched(instances=tried, patterns=len(judged), starts=ctx.budget.acs_starts, description=(
        "every polysemantic partition pattern (random families: the first "
        f"{ctx.budget.max_patterns or 'all'}; a user's instance: all) of the standard family and random draws, "
        f"rank-deficient W_p included; criterion vs judges {list(JUDGES) if judges is None else list(judges)}"))
    evidence = {"criterion": _counts(judged, "criterion"), "disagreements": len(bad),
                "exists_confirmed_by_certificate": sum(r["criterion"] == "exists" and r["verdict"] in ("exists", "zero_loss")
                                                       for r, *_ in judged),
                "none_with_ii": sum(r["criterion"] == "none" and r["necessity_applies"] for r, *_ in judged),
                "rank_deficient_patterns": sum(not r["full_column_rank"] for r, *_ in judged),
                "beyond_ii": {"patterns": len(beyond),
                              "acs_found_partial_optimum": sum(r["verdict"] == "exists" for r in beyond)},
                "not_applicable": len(recs) - len(judged),
                "records": [{k: v for k, v in r.items() if k != "latents"} for r, *_ in judged[:40]]}
    tol = {"gap_rel": numerics.BLOCK_GAP_REL, "eps": EPS}
    if bad:
        r, inst, P = bad[0]
        path = ctx.save_counterexample("thm3.6-corrected", name, inst, reading)
        return result("thm3.6-corrected", name, Status.FAILS, reading=reading, tried=tried, evidence=evidence,
                      searched=searched, tolerance=tol,
                      counterexample={"instance": path or inst.to_dict(), "pattern": P.to_json(), "reading": reading.value,
                                      "why": r["disagreement"], "analysis": r})
    undecided = any(not j["solver_ok"] for r, *_ in judged for j in r["judges"])
    status = Status.HOLDS if judged and not undecided else Status.INCONCLUSIVE
    return result("thm3.6-corrected", name, status, reading=reading, tried=tried, evidence=evidence,
                  searched=searched, tolerance=tol)


def _recheck_numbers(inst: Instance, P: Pattern, reading: Reading, seed: int) -> dict:
    """Independent routes: exact rational eigenvectors of every K_i (sympy) and ACS with another QP solver."""
    from sdlscape.solvers.acs import solve_piece
    from sdlscape.theory.symbolic import exact_positive_eigenvectors

    piece = Piece(inst, P, EPS, reading)
    G = inst.W_r.T @ inst.W_r
    exact, blocked = [], False
    for F in P.sets:
        if len(F) >= 2:
            F = sorted(F)
            m = np.sqrt(inst.M[F])
            eig = exact_positive_eigenvectors(m[:, None] * G[np.ix_(F, F)] * m[None, :])
            exact.append({"features": F, "eigen": eig})
            blocked |= all(e["positive"] is False for e in eig)
    acs = solve_piece(piece, starts=4, seed=seed, solver="OSQP")
    hyp = bool(inst.n >= 2 and inst.n_latents >= inst.n and P.polysemantic and P.is_partition and piece.realizable
               and necessity_applies(piece))
    return {"route": "exact eigenvectors (sympy) + ACS (OSQP, 4 starts)", "hypotheses": hyp,
            "exact_no_positive_eigenvector": blocked, "exact": exact, "acs_osqp": acs.outcome.value,
            "agrees": bool(hyp and blocked and acs.outcome is not Outcome.PARTIAL_OPTIMUM)}


def recheck(res: dict) -> tuple[bool, dict]:
    cx = res["counterexample"]
    inst = load_counterexample_instance(cx)
    P = Pattern.parse(cx["pattern"], inst.n, inst.n_latents)
    r = _recheck_numbers(inst, P, Reading(cx.get("reading", Reading.DEF_3_1.value)), seed=7)
    return r["agrees"], r
