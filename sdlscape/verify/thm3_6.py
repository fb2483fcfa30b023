"""Thm 3.6 (prevalence of spurious partial minima), as written and corrected, per pattern reading.

Statement (PAPER.md Sec. 2): "If n >= 2, n_q >= n, then for *every* activation pattern P that is
realizable, polysemantic and a partition of [n] (empty F_i allowed: dead neurons), there exists a partial
minimum of L~ exhibiting P with positive loss." (The paper builds it from eq. 55.)

On a partition piece L~ decouples by latent: latent i reconstructs the features of F_i with one column
w_D^i and codes a_i = (z_id)_{d in F_i}. Both blocks are stationary iff v = M^{1/2} a_i is an eigenvector
of K_i = M^{1/2} (W_r^T W_r)_{F_i} M^{1/2} (eq. 55 is then the decoder block's optimum).

Corrected statement (thm3.6-corrected), for a partition pattern P of a linear piece on which sigma passes
nothing outside the pattern (so that L~ decouples by latent; plain TopK(k) can pass a latent's non-positive
codes, and where it does the statement says nothing: the full budget's obtuse-n3-a0.1 with TopK(3 of 3) and
P = [[0,1],[2],[]] has zero-loss partial optima, while the eigen point with those codes pinned at 0 is not one):
  (i)  [any W_p] if for every live latent some eigenvector of K_i lies in the open positive orthant (any
       eigenvector where the region only orders the codes: plain TopK(1), selection reading) and the codes
       a_i = M^{-1/2} v_i (each latent scaled freely) are jointly realizable in Omega_P (an LP), then a
       partial optimum exhibiting P exists (`criterion` builds it);
  (ii) [each W_p[:, F_i] of full column rank, and no non-strict region row could carry a multiplier:
       W_p of full column rank, or a region of strict rows only (TopK family)] otherwise none exists.
  (With rank-deficient W_p and separable sigma, a partial optimum can press a non-strict row z_jd <= t
  with a positive multiplier: (ii) does not apply, and the check reports what the judges find there.)
  (iii) [a region that only orders the codes: plain TopK, selection reading] a latent selected with codes exactly
       0 and decoder column 0 is also a partial optimum (both blocks constant; thm3_6_zero_codes.py), so there
       (i) gains that option and (ii) does not apply where such a point is realizable.
Thm 3.6 as written fails wherever (ii) proves that no partial optimum exists (unequal weights M_d); under the
selection reading the zero-code point (loss sum_d M_d ||w_r^d||^2 > 0) is asked for when no other judge found
a partial optimum with positive loss.

The corrected statement is tested both ways against independent judges (`JUDGES`, pluggable: a judge is
f(piece, criterion, starts, seed) -> JudgeVerdict): the partial-optimum certificate (both convex blocks
re-solved) at the criterion's point, and ACS from several starts. A judge that certifies a partial optimum
where (ii) says none, or refutes the criterion's point, is a disagreement: a failure.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import InconclusiveReason, Outcome, Reading, Status
from sdlscape.theory.instance import Activation, Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify.claims import Context, Searched, instance_for, result, user_activations
from sdlscape.verify.search import load_counterexample_instance, random_draws, shrink, standard_family
from sdlscape.verify.thm3_6_judges import (  # noqa: F401  (re-exported: the corrected statement's parts)
    JUDGES,
    Criterion,
    JudgeVerdict,
    Kind,
    _rank_full,
    acs_judge,
    certificate_judge,
    criterion,
    disagreement,
    latent_free,
    necessity_applies,
    sign_blind_criterion,
)

EPS = numerics.MARGIN_EPS
FALLBACK = "zero_codes"   # the judge asked only when the others found no partial optimum with positive loss


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
# one pattern


Rule = Callable[[Piece], Criterion]


class Verdict(str, Enum):
    """Thm 3.6 as written on one pattern."""

    EXISTS = "exists"              # a judge certified a partial optimum exhibiting P with positive loss
    NONE = "none"                  # (ii) applies and proves that no partial optimum exists
    ZERO_LOSS = "zero_loss"        # the criterion's point is certified, but its loss is not positive
    UNREALIZABLE = "unrealizable"  # P is not realizable (an exact certificate, or TopK counts)
    UNDECIDED = "undecided"        # neither a point nor a proof


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What one pattern shows: the verdict, the criterion and what the judges found (`to_dict`: the record)."""

    pattern: list
    verdict: Verdict
    reason: str | None = None          # why P was not judged (unrealizable or undecided realizability)
    criterion: Criterion | None = None
    judges: tuple[JudgeVerdict, ...] = ()
    disagreement: str | None = None
    loss: float | None = None

    def to_dict(self) -> dict:
        out: dict = {"pattern": self.pattern}
        c = self.criterion
        if c is None:
            return out | {"verdict": self.verdict.value, "reason": self.reason}
        out.update(criterion=c.kind.value, necessity_applies=c.necessity_applies, criterion_why=c.why,
                   latents=list(c.latents), judges=[{"judge": v.judge, "exists": v.exists, "refutes_point": v.refutes_point,
                                                     "loss": v.loss, "solver_ok": v.solver_ok, **v.detail}
                                                    for v in self.judges],
                   disagreement=self.disagreement, verdict=self.verdict.value)
        return out if self.verdict is not Verdict.EXISTS else out | {"loss": self.loss}


def decide(piece: Piece, starts: int, seed: int, rule: Rule | None = None, judges=None) -> Evidence:
    """Thm 3.6 on one partition piece: the corrected criterion (or `rule`), then the judges it calls for."""
    P = piece.pattern.to_json()
    try:
        rz = piece.realizability
    except InputError as exc:  # impossible for structural reasons (TopK counts)
        return Evidence(pattern=P, verdict=Verdict.UNREALIZABLE, reason=str(exc))
    if not rz.realizable:
        return Evidence(pattern=P, verdict=Verdict.UNREALIZABLE if rz.certificate is not None else Verdict.UNDECIDED,
                        reason=rz.detail)
    crit = (rule or criterion)(piece)
    judges = JUDGES if judges is None else judges
    run = ["certificate"] if crit.kind is Kind.EXISTS else [j for j in judges if j not in ("certificate", FALLBACK)]
    verdicts = tuple(judges[j](piece, crit, starts, seed) for j in run if j in judges)
    found = [v for v in verdicts if v.exists is True]
    if not found and FALLBACK in judges:    # selection reading: a latent selected with codes 0 (exact)
        v = judges[FALLBACK](piece, crit, starts, seed)
        verdicts += (v,) if v.detail.get("outcome") != "not_applicable" else ()
        found = [v] if v.exists is True else []
    if found:
        verdict = Verdict.EXISTS
    elif crit.kind is Kind.NONE and crit.necessity_applies:
        verdict = Verdict.NONE
    elif crit.kind is Kind.EXISTS and verdicts and all(v.solver_ok and not v.refutes_point for v in verdicts):
        verdict = Verdict.ZERO_LOSS
    else:
        verdict = Verdict.UNDECIDED
    return Evidence(pattern=P, verdict=verdict, criterion=crit, judges=verdicts,
                    disagreement=disagreement(crit, verdicts), loss=found[0].loss if found else None)


def _instances(ctx: Context, act: Activation) -> list[Instance]:
    inst = instance_for(ctx, act)
    if inst is not None:   # the hypotheses n >= 2, n_q >= n (else the check is not applicable)
        return [inst] if inst.n >= 2 and inst.n_latents >= inst.n else []
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
                        ctx.cache[key] = decide(piece, ctx.budget.acs_starts, ctx.seed, rule, judges).to_dict()
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


def status_as_written(counts: dict) -> Status:
    """fails on a pattern proven to have no partial optimum; holds when every realizable pattern has one
    (and some pattern was searched); else inconclusive."""
    if counts.get("none", 0):
        return Status.FAILS
    if counts.get("exists", 0) and not counts.get("undecided", 0) and not counts.get("zero_loss", 0):
        return Status.HOLDS
    return Status.INCONCLUSIVE


def check_thm3_6(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, judges=None):
    recs, tried = _search(name, ctx, reading, None, judges)
    searched = Searched(instances=tried, patterns=len(recs), starts=ctx.budget.acs_starts, description=(
        "every polysemantic partition pattern of each instance (random families: the first "
        f"{ctx.budget.max_patterns or 'all'}; a user's instance: all), standard family (n <= 3 quick, <= 4 full) and "
        f"random draws (rank-deficient W_p among them); realizability by LP; criterion + judges {list(JUDGES)}"))
    evidence = {"counts": _counts(recs), "none_with_equal_weights": sum(r["verdict"] == "none" and r["equal_weights"]
                                                                        for r, *_ in recs),
                "exists_by_zero_codes": sum(r["verdict"] == "exists" and any(
                    j["judge"] == FALLBACK and j["exists"] for j in r.get("judges", ())) for r, *_ in recs),
                "records": [{k: v for k, v in r.items() if k != "latents"} for r, *_ in recs[:40]]}
    tol = {"gap_rel": numerics.BLOCK_GAP_REL, "eps": EPS, "positive_loss": numerics.POSITIVE_LOSS}
    nones = [(r, i, P) for r, i, P in recs if r["verdict"] == "none"]
    if status_as_written(evidence["counts"]) is Status.FAILS:
        _, inst, P = min(nones, key=lambda c: (c[1].n, c[1].n_latents))
        small, Ps = shrink(inst, _fails_36(reading), P)
        if not _fails_36(reading)(small, Ps):
            small, Ps = inst, P
        path = ctx.save_counterexample("thm3.6", name, small, reading)
        r_small = decide(Piece(small, Ps, EPS, reading), ctx.budget.acs_starts, ctx.seed, judges=judges).to_dict()
        cx = {"instance": path or small.to_dict(), "pattern": Ps.to_json(), "reading": reading.value,
              "why": (f"pattern {Ps} is realizable, polysemantic and a partition (n = {small.n} >= 2, n_q = "
                      f"{small.n_latents} >= n), yet no partial minimum lies inside its region: {r_small.get('criterion_why')}"
                      f" ((ii) applies; ACS with {ctx.budget.acs_starts} starts found none)"),
              "hypotheses": {"n >= 2": small.n >= 2, "n_q >= n": small.n_latents >= small.n, "realizable": True,
                             "polysemantic": Ps.polysemantic, "partition": Ps.is_partition},
              "analysis": r_small, "recheck": _recheck_numbers(small, Ps, reading, ctx.seed + 1)}
        blocked = [F for F in Ps.sets if len(F) >= 2 and not np.allclose(small.M[sorted(F)], small.M[min(F)])]
        rests = ["weights: unequal M_d within a latent's features (K_i has no eigenvector in the open orthant)"
                 if blocked else "geometry: K_i has no eigenvector in the open orthant at equal weights"]
        return result("thm3.6", name, Status.FAILS, reading=reading, tried=tried, evidence=evidence,
                      searched=searched, tolerance=tol, counterexample=cx, rests_on=rests)
    status = status_as_written(evidence["counts"])
    if not recs and ctx.instance is not None:
        status = Status.NOT_APPLICABLE   # n < 2, n_q < n or no polysemantic partition: the hypotheses fail
    if status is Status.INCONCLUSIVE:
        evidence["reason"] = (InconclusiveReason.NOTHING_SEARCHED if not recs
                              else InconclusiveReason.NO_POINT_NO_PROOF).value
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
                      searched=searched, tolerance=tol, rests_on=[] if rule is None else ["false variant: rule"],
                      counterexample={"instance": path or inst.to_dict(), "pattern": P.to_json(), "reading": reading.value,
                                      "why": r["disagreement"], "analysis": r})
    undecided = any(not j["solver_ok"] for r, *_ in judged for j in r["judges"])
    status = Status.HOLDS if judged and not undecided else Status.INCONCLUSIVE
    if not judged and ctx.instance is not None:
        status = Status.NOT_APPLICABLE   # no partition pattern of a linear piece: the statement says nothing
    elif status is Status.INCONCLUSIVE:
        evidence["reason"] = (InconclusiveReason.SOLVER_STATUS if undecided else InconclusiveReason.NOTHING_SEARCHED).value
    return result("thm3.6-corrected", name, status, reading=reading, tried=tried, evidence=evidence,
                  searched=searched, tolerance=tol)


def _recheck_numbers(inst: Instance, P: Pattern, reading: Reading, seed: int) -> dict:
    """Independent routes: exact rational eigenvectors of every K_i (sympy) and ACS with another QP solver."""
    from sdlscape.solvers.acs import solve_piece
    from sdlscape.theory.symbolic import exact_positive_eigenvectors

    piece = Piece(inst, P, EPS, reading)
    exact, blocked = [], []
    for i, F in enumerate(P.sets):
        if len(F) >= 2:
            eig = exact_positive_eigenvectors(piece.latent_gram(i))
            exact.append({"latent": i, "features": sorted(F), "eigen": eig, "block_free": latent_free(piece, i)})
            if all(e["positive"] is False for e in eig) and latent_free(piece, i):
                blocked.append(i)
    acs = solve_piece(piece, starts=4, seed=seed, solver="OSQP")
    hyp = bool(inst.n >= 2 and inst.n_latents >= inst.n and P.polysemantic and P.is_partition and piece.realizable)
    return {"route": "exact eigenvectors (sympy) of each free block's K_i + ACS (OSQP, 4 starts)", "hypotheses": hyp,
            "exact_no_positive_eigenvector": blocked, "exact": exact, "acs_osqp": acs.outcome.value,
            "agrees": bool(hyp and blocked and acs.outcome is not Outcome.PARTIAL_OPTIMUM)}


def recheck(res: dict) -> tuple[bool, dict]:
    cx = res["counterexample"]
    inst = load_counterexample_instance(cx)
    P = Pattern.parse(cx["pattern"], inst.n, inst.n_latents)
    r = _recheck_numbers(inst, P, Reading(cx.get("reading", Reading.DEF_3_1.value)), seed=7)
    return r["agrees"], r
