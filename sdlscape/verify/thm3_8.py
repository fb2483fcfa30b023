"""Thm 3.8 (feature absorption), as written and corrected (a characterisation by cones of features).

Statement (PAPER.md Sec. 2): "With M parents, parent d_i having sub-concepts F_i = {d_{i,1}..d_{i,k_i}},
k_i >= 2: if P = (F_1..F_M) is realizable then for every parent i* some sub-concept j* can be split off:
P' = (F_1, .., F_{i*} \\ {d_{i*,j*}}, {d_{i*,j*}}, .., F_M) is realizable." (The proof shrinks the parent's
encoder row until the weakest sub-concept falls below a threshold c > 0: JumpReLU has one, ReLU does not,
since signs are scale invariant.) Realizability is decided without a margin parameter (Piece.realizability:
the largest margin, a witness or a Motzkin certificate of the strict system, both checked in exact
rationals; neither: undecided, never a refutation); a counterexample is re-checked by another route: the
Motzkin certificates re-derived by another solver (CVXPY/Clarabel) and checked in exact rationals.

Corrected statement (thm3.8-corrected). Write cone(A) for the convex cone of the features w_p^d, d in A,
and say A is *separated* from B when no y >= 0, y != 0 has W_A y in cone(B) (by Motzkin's transposition
theorem: iff some w has <w, w_p^a> > 0 on A and <w, w_p^b> <= 0 on B).
  - ReLU-type regions (every row "z > 0" or "z <= 0": ReLU, and TopK families when a feature fires fewer than
    k latents): P' is realizable iff every latent set F of P' is separated from the other features. Hence
    sub-concept j of parent i can be split off iff {j} and F_i \\ {j} are each separated from the rest: j is
    not in the cone of the other features, and the cone of its siblings meets the cone of everything else
    only at 0.
  - Ordering regions (TopK(1), TopK(1) o ReLU): sufficient, the ReLU condition above; necessary, every two
    latent sets of P' separated from each other (pairwise disjoint cones).
  - Threshold regions (JumpReLU): the statement as written.
The check compares the characterisation (cone LPs, `separated`) with LP realizability of each P' (the
region LP with its Farkas certificate); a disagreement is a failure.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy.optimize import linprog

from sdlscape.errors import InputError
from sdlscape.outcomes import Feasibility, InconclusiveReason, Reading, Status
from sdlscape.theory.constructions import split_pattern
from sdlscape.theory.instance import Activation, Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import ConstraintKind
from sdlscape.theory.strict import exact_motzkin
from sdlscape.verify.claims import Context, Searched, instance_for, result, user_activations
from sdlscape.verify.search import angles_instance, load_counterexample_instance, parent_family  # noqa: F401

NO_PARENTS = "thm3.8 needs an instance with 'parents' (sub-concepts grouped by parent)"


class RegionType(str, Enum):
    CONE = "cone"          # rows z > 0 / z <= 0 only
    ORDERING = "ordering"  # some row compares two latents
    THRESHOLD = "threshold"  # some row compares a code with theta > 0


def parent_pattern(inst: Instance) -> Pattern:
    sets = [frozenset(g) for g in inst.parents] + [frozenset()] * (inst.n_latents - len(inst.parents))
    return Pattern(tuple(sets), inst.n)


def _family(ctx: Context, act: Activation) -> list[Instance]:
    inst = instance_for(ctx, act)
    if inst is not None:
        return [] if inst.parents is None else [inst]
    return parent_family(act, ctx.budget.draws, ctx.seed, ctx.full)


def separated(W_p: np.ndarray, A, B) -> bool:
    """No y >= 0, sum y = 1, z >= 0 with W_A y = W_B z (LP, HiGHS): A's cone meets cone(B) only at 0."""
    W_p = np.ascontiguousarray(W_p, dtype=float)
    return _separated(W_p.tobytes(), W_p.shape, tuple(sorted(A)), tuple(sorted(B)))


@functools.lru_cache(maxsize=4096)
def _separated(W_bytes: bytes, shape: tuple[int, int], A: tuple, B: tuple) -> bool:
    W_p = np.frombuffer(W_bytes).reshape(shape)
    A, B = list(A), list(B)
    n_p = W_p.shape[0]
    Aeq = np.hstack([W_p[:, A], -W_p[:, B]]) if B else W_p[:, A]
    Aeq = np.vstack([Aeq, np.concatenate([np.ones(len(A)), np.zeros(len(B))])])
    beq = np.concatenate([np.zeros(n_p), [1.0]])
    res = linprog(np.zeros(len(A) + len(B)), A_eq=Aeq, b_eq=beq, bounds=(0, None), method="highs")
    return res.status == 2  # infeasible: separated


def region_type(piece: Piece) -> RegionType:
    cons = piece.region.constraints
    if any(c.kind is ConstraintKind.ORDER for c in cons):
        return RegionType.ORDERING
    if any(c.threshold != 0.0 for c in cons):
        return RegionType.THRESHOLD
    return RegionType.CONE


def cone_prediction(inst: Instance, P: Pattern, kind: RegionType) -> dict:
    """What the corrected statement predicts for the realizability of P': True / False / None (no claim)."""
    live = [sorted(F) for F in P.sets if F]
    everything = set(range(inst.n))
    relu_ok = all(separated(inst.W_p, F, everything - set(F)) for F in live)
    if kind is RegionType.CONE:
        return {"predicted": relu_ok, "relu_condition": relu_ok}
    if kind is RegionType.ORDERING:
        pairwise = all(separated(inst.W_p, F, G) for F in live for G in live if F != G)
        if relu_ok:
            return {"predicted": True, "relu_condition": True, "pairwise": pairwise}
        return {"predicted": False if not pairwise else None, "relu_condition": False, "pairwise": pairwise}
    return {"predicted": None}


@dataclass(kw_only=True)
class Split:
    """One P' (a sub-concept split off, or moved): its realizability without a margin parameter (`farkas_ok`: an
    exactly checked Motzkin certificate) and, for the corrected statement, the cone characterisation's
    prediction (None: no claim) and whether the two disagree."""

    realizable: bool
    status: str
    margin: float | None = None
    farkas_ok: bool = False
    region_type: str | None = None      # set where the corrected statement was evaluated
    predicted: bool | None = None
    relu_condition: bool | None = None
    pairwise: bool | None = None
    disagrees: bool | None = None

    def judge(self) -> None:
        """The corrected statement's rule: a prediction contradicted by a realizable P' or by a certificate."""
        self.disagrees = self.predicted is not None and self.predicted != self.realizable \
            and (self.realizable or self.farkas_ok)

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items()
                if v is not None or k == "margin" or (k == "predicted" and self.region_type is not None)}


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Thm 3.8 on one parent of a realizable parent pattern (hypothesis False: the parent pattern itself is
    not shown realizable, `status` says how): every split of its sub-concepts."""

    instance: str
    activation: str
    hypothesis: bool
    status: str = "realizable"
    parent: int | None = None
    per_sub: dict[int, Split] = field(default_factory=dict)

    @property
    def splittable(self) -> list[int]:
        return [j for j, v in self.per_sub.items() if v.realizable]

    def to_dict(self) -> dict:
        if not self.hypothesis:
            return {"instance": self.instance, "hypothesis": False, "status": self.status, "activation": self.activation}
        return {"instance": self.instance, "hypothesis": True, "parent": self.parent, "subconcepts": list(self.per_sub),
                "splittable": self.splittable, "per_sub": {j: v.to_dict() for j, v in self.per_sub.items()},
                "activation": self.activation}


def _realizable(inst: Instance, P: Pattern, reading: Reading) -> tuple[Split, Piece | None]:
    """Realizability of P without a margin parameter, and its piece (None: P is invalid for the activation)."""
    try:
        pc = Piece(inst, P, reading=reading)
        r = pc.realizability
    except InputError as exc:
        return Split(realizable=False, status=f"invalid: {exc}", farkas_ok=True), None
    return Split(realizable=r.realizable, status=r.status.value, margin=r.margin,
                 farkas_ok=r.status is Feasibility.UNREALIZABLE), pc


def move_pattern(P: Pattern, latent: int, feature: int, target: int) -> Pattern:
    """`feature` leaves latent `latent` for the live latent `target` (the false variant's P')."""
    sets = list(P.sets)
    sets[latent] = sets[latent] - {feature}
    sets[target] = sets[target] | {feature}
    return Pattern(tuple(sets), P.n)


def decide(inst: Instance, reading: Reading, corrected: bool, move: bool = False, cache: dict | None = None
           ) -> list[Evidence]:
    """Per parent of a realizable parent pattern: which splits are realizable, and for the corrected statement
    what the cone characterisation predicts for each. `cache`: the run's shared results (Context.cache)."""
    P = parent_pattern(inst)
    ikey = None if cache is None else json.dumps(inst.to_dict(), sort_keys=True)

    def realizable(Q: Pattern) -> tuple[Split, Piece | None]:   # the same P' recurs across the claims of one run
        if cache is None:
            return _realizable(inst, Q, reading)
        key = ("thm3.8", ikey, str(Q), reading.value)
        if key not in cache:
            cache[key] = _realizable(inst, Q, reading)
        split, pc = cache[key]
        return dataclasses.replace(split), pc

    base, _ = realizable(P)
    if not base.realizable:
        return [Evidence(instance=inst.name, activation=str(inst.activation), hypothesis=False, status=base.status)]
    dead, recs = inst.n_latents - 1, []
    for p, subs in enumerate(inst.parents):
        if len(subs) < 2:
            continue
        per_sub = {}
        for j in subs:
            Pp = move_pattern(P, p, j, (p + 1) % len(inst.parents)) if move else split_pattern(P, p, j, dead)
            r, pc = realizable(Pp)
            if corrected and pc is not None:
                kind = region_type(pc)
                r = dataclasses.replace(r, region_type=kind.value, **cone_prediction(inst, Pp, kind))
                r.judge()
            per_sub[j] = r
        recs.append(Evidence(instance=inst.name, activation=str(inst.activation), hypothesis=True, parent=p,
                             per_sub=per_sub))
    return recs


def _lp_recheck(inst: Instance, P: Pattern, reading: Reading) -> str:
    """Another route for "P is unrealizable": a Motzkin certificate of the strict system found by CVXPY/Clarabel
    (not the HiGHS LP that decided it), accepted only when it checks in exact rationals."""
    import cvxpy as cp

    reg = Piece(inst, P, reading=reading).region
    G, h, st = reg.G, reg.h_open, reg.strict
    y = cp.Variable(reg.n_rows, nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.sum(y)), [G.T @ y == 0, h @ y <= 0, (st.astype(float) - h) @ y == 1])
    prob.solve(solver="CLARABEL")
    if y.value is None:
        return str(prob.status)
    return "infeasible" if exact_motzkin(G, h, st, np.maximum(y.value, 0.0)) is not None else "not_certified"


def _run(name: str, ctx: Context, reading: Reading, corrected: bool, move: bool = False):
    recs, tried = [], 0
    for act in user_activations(ctx, name):
        for inst in _family(ctx, act):
            tried += 1
            recs += [(r, inst) for r in decide(inst, reading, corrected, move, ctx.cache)]
    return recs, tried


def split_refuted(rec: Evidence, every: bool = False) -> bool:
    """A parent refutes the statement: no split (every: some split) is realizable, each such P' proven
    unrealizable by an exactly checked Motzkin certificate (an undecided split refutes nothing)."""
    failed = [v for v in rec.per_sub.values() if not v.realizable]
    if not failed or (not every and rec.splittable):
        return False
    proven = [v for v in failed if v.farkas_ok is True]
    return bool(proven) if every else len(proven) == len(failed)


REGIONS_WITHOUT_THRESHOLD = "regions without a threshold (cones): no weakest sub-concept to shrink below c > 0"


def _not_applicable(claim: str, name: str, reading: Reading, tried: int):
    return result(claim, name, Status.NOT_APPLICABLE, reading=reading, tried=tried, evidence={"why": NO_PARENTS},
                  searched=Searched(instances=tried, description=NO_PARENTS), tolerance=None)


def _undecided(recs) -> int:
    return sum(v.status == Feasibility.UNDECIDED.value for r, _ in recs if r.hypothesis for v in r.per_sub.values())


def check_thm3_8(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, every: bool = False, move: bool = False):
    """False variants: every (every sub-concept can be split off), move (some sub-concept can move to the
    next parent's latent instead of a dead one)."""
    if ctx.instance is not None and ctx.instance.parents is None:
        return _not_applicable("thm3.8", name, reading, 1)
    recs, tried = _run(name, ctx, reading, corrected=False, move=move)
    parents = [(r, i) for r, i in recs if r.hypothesis]
    searched = Searched(instances=tried, patterns=sum(len(r.per_sub) + 1 for r, _ in parents), description=(
        "2-D angle instances (fixed and random) and hierarchical instances (several n_p, spreads, seeds) with one "
        "dead latent; every parent, every sub-concept split; realizability by the largest margin, witnesses and "
        "Motzkin certificates checked in exact rationals"))
    evidence = {"parents_checked": len(parents), "parents_with_no_split": sum(not r.splittable for r, _ in parents),
                "hypothesis_not_met": sum(not r.hypothesis for r, _ in recs), "undecided_splits": _undecided(recs),
                "smallest_split_margin": min((v.margin for r, _ in parents for v in r.per_sub.values()
                                              if v.realizable and v.margin is not None), default=None),
                "records": [r.to_dict() for r, _ in recs[:20]]}
    tol = {"margin": "none: strict inequalities decided by their largest margin, exact checks"}
    cex = next(((r, i) for r, i in parents if split_refuted(r, every)), None)
    if cex is not None:
        r, inst = cex
        path = ctx.save_counterexample("thm3.8", name, inst, reading) if not (every or move) else None
        P, p = parent_pattern(inst), r.parent
        unsplit = [j for j in inst.parents[p] if j not in r.splittable]
        second = {j: _lp_recheck(inst, _changed(P, p, j, inst, move), reading) for j in unsplit}
        variant = "every" if every else ("move" if move else None)
        why = (f"P = {P} is realizable, but for parent {p} sub-concepts {unsplit} of {list(inst.parents[p])} cannot "
               f"be {'moved' if move else 'split off'} (Motzkin certificates, exact)")
        return result("thm3.8", name, Status.FAILS, reading=reading, tried=tried, evidence=evidence, searched=searched,
                      tolerance=tol, rests_on=[variant and f"false variant: {variant}" or REGIONS_WITHOUT_THRESHOLD],
                      counterexample={"instance": path or inst.to_dict(), "pattern": P.to_json(),
                                      "why": why, "parent": p, "reading": reading.value, "every": every, "move": move,
                                      "recheck": {"route": "Motzkin certificate by CVXPY/Clarabel, exact rationals",
                                                  "statuses": second,
                                                  "agrees": all(s == "infeasible" for s in second.values())}})
    status = Status.HOLDS if parents and not evidence["undecided_splits"] else Status.INCONCLUSIVE
    reason = None if status is Status.HOLDS else (InconclusiveReason.NOTHING_SEARCHED if not parents
                                                   else InconclusiveReason.FP_BAND)
    return result("thm3.8", name, status, reading=reading, tried=tried, searched=searched, tolerance=tol,
                  evidence=evidence | {"vacuous": not parents, "reason": reason and reason.value})


def _changed(P: Pattern, p: int, j: int, inst: Instance, move: bool) -> Pattern:
    return move_pattern(P, p, j, (p + 1) % len(inst.parents)) if move else split_pattern(P, p, j, inst.n_latents - 1)


def check_thm3_8_corrected(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, flip: bool = False):
    """flip: a deliberately false characterisation (its prediction negated; on threshold regions: "no split
    is realizable") that must fail."""
    if ctx.instance is not None and ctx.instance.parents is None:
        return _not_applicable("thm3.8-corrected", name, reading, 1)
    recs, tried = _run(name, ctx, reading, corrected=True)
    subs = [(v, r, i, j) for r, i in recs if r.hypothesis for j, v in r.per_sub.items()]
    if flip:
        for v, *_ in subs:
            if v.predicted is not None:
                v.predicted = not v.predicted
                v.judge()
    by_type: dict = {}
    for v, *_ in subs:
        t = by_type.setdefault(v.region_type or "invalid", {"splits": 0, "predicted": 0, "no_claim": 0})
        t["splits"] += 1
        t["predicted" if v.predicted is not None else "no_claim"] += 1
    bad = [c for c in subs if c[0].disagrees]
    # threshold regions: the corrected statement is the statement as written (some split is realizable)
    threshold = [(r, i) for r, i in recs if r.hypothesis
                 and all(v.region_type == RegionType.THRESHOLD.value for v in r.per_sub.values())]
    bad += [(next(iter(r.per_sub.values())), r, i, None) for r, i in threshold
            if (bool(r.splittable) if flip else split_refuted(r))]
    searched = Searched(instances=tried, patterns=len(subs), description=(
        "every sub-concept split of every parent of the thm3.8 family (fixed and random 2-D angles, hierarchical "
        "instances): cone characterisation (LPs on the features) vs region realizability (largest margin, exact)"))
    evidence = {"splits": len(subs), "by_region_type": by_type, "disagreements": len(bad), "flip": flip,
                "parents_with_no_split": sum(not r.splittable for r, _ in recs if r.hypothesis),
                "undecided_splits": _undecided(recs), "records": [r.to_dict() for r, _ in recs[:12]]}
    tol = {"margin": "none: strict inequalities decided by their largest margin, exact checks"}
    if bad:
        v, r, inst, j = bad[0]
        path = ctx.save_counterexample("thm3.8-corrected", name, inst, reading) if not flip else None
        why = (f"parent {r.parent}, sub-concept {j}: the cone characterisation predicts realizable = "
               f"{v.predicted}, the region says {v.realizable} ({v.status})" if j is not None else
               f"parent {r.parent}: threshold regions, and " + ("a split is realizable (flipped rule: none is)"
                                                                   if flip else "no sub-concept split is realizable"))
        return result("thm3.8-corrected", name, Status.FAILS, reading=reading, tried=tried, evidence=evidence,
                      searched=searched, tolerance=tol, rests_on=["false variant: flip"] if flip else [],
                      counterexample={"instance": path or inst.to_dict(), "pattern": parent_pattern(inst).to_json(),
                                      "parent": r.parent, "subconcept": j, "why": why, "reading": reading.value})
    status = Status.HOLDS if subs and not evidence["undecided_splits"] else Status.INCONCLUSIVE
    return result("thm3.8-corrected", name, status, reading=reading, tried=tried, evidence=evidence,
                  searched=searched, tolerance=tol)


def _other_route(inst: Instance, P: Pattern, reading: Reading) -> Feasibility:
    """Realizability by another solver (HiGHS interior point for the margin / Motzkin LPs), checked exactly."""
    try:
        reg = Piece(inst, P, reading=reading).region
    except InputError:
        return Feasibility.UNREALIZABLE
    return reg.decide(method="highs-ipm").status


def recheck(res: dict) -> tuple[bool, dict]:
    """Another route: the splits' certificates by CVXPY/Clarabel (thm3.8) or realizability by the interior-point
    solver (corrected), every witness and certificate checked in exact rationals."""
    cx = res["counterexample"]
    inst = load_counterexample_instance(cx)
    reading = Reading(cx.get("reading", Reading.DEF_3_1.value))
    P = Pattern.parse(cx["pattern"], inst.n, inst.n_latents)
    p = int(cx["parent"])
    if _other_route(inst, P, reading) is not Feasibility.REALIZABLE:
        return False, {"why": "P not shown realizable by the other route"}
    if res["claim"] == "thm3.8":
        statuses = {j: _lp_recheck(inst, _changed(P, p, j, inst, bool(cx.get("move"))), reading)
                    for j in inst.parents[p]}
        bad = [s == "infeasible" for s in statuses.values()]
        return (any(bad) if cx.get("every") else all(bad)), {"statuses": statuses}
    j = cx.get("subconcept")
    subs = inst.parents[p] if j is None else [int(j)]
    real = {k: _other_route(inst, split_pattern(P, p, k, inst.n_latents - 1), reading) for k in subs}
    if j is None:   # threshold regions: no split realizable
        return all(v is Feasibility.UNREALIZABLE for v in real.values()), {"splits": {k: v.value for k, v in real.items()}}
    Pp = split_pattern(P, p, int(j), inst.n_latents - 1)
    pred = cone_prediction(inst, Pp, region_type(Piece(inst, Pp, reading=reading)))["predicted"]
    got = real[int(j)]
    disagrees = pred is not None and got is not Feasibility.UNDECIDED and pred != (got is Feasibility.REALIZABLE)
    return disagrees, {"predicted": pred, "other_route": got.value}
