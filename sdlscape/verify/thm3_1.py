"""Thm 3.1 (loss approximation, eq. 12), checked as written, and a corrected statement.

Statement (PAPER.md Sec. 2): "Define M_d = Pr(x = x_d e_d) * E[x_d^2 | x_d > 0] and the approximate
loss (eq. 11) L~(W_D, W_E) = sum_d M_d || w_r^d - W_D sigma(W_E w_p^d) ||^2. With C = sup_s (per-sample
squared error) < inf and (1 - S) <= 1/n, the claim is | L_SDL - L~ | <= n^2 C (1 - S)^2 (eq. 12)."
The setting only asks Pr(x_i = 0) >= S for each i; it never says that features fire independently.

Corrected statement (thm3.1-corrected), with the hypothesis it needs named:
  (H) every pair of features co-fires with probability at most (1 - S)^2
      (independent features satisfy it; Def. 3.2 parents and their children violate it).
  Under (H), | L_SDL - L1 | <= Pr(|supp x| >= 2) C <= n(n-1)/2 C (1 - S)^2, where
  L1 = sum_d Pr(x = x_d e_d) E[|| x_d w_r^d - W_D sigma(x_d W_E w_p^d) ||^2 | x_d > 0] is the
  one-active-feature term; L1 = L~ when sigma is positively homogeneous (relu, topk, topk_relu), and
  for jumprelu L1 is its closed form (an integral over the magnitudes between the switching points).

Feature laws are given by their supports (`SupportLaw`: Pr(supp x = T) for every T, exactly), with
magnitudes U[lo, hi] i.i.d. on the support (bounded, so C < inf; with the paper's exponential
magnitudes C = inf unless every sample is reconstructed exactly, and eq. 12 is vacuous). The families:
independent features, a pair that always fires together, a Def. 3.2 hierarchy (a parent feature that
fires with exactly one of its children), and mutually exclusive features.

The estimator of L_SDL is independent of the formula under test: exact support probabilities, the
one-feature supports integrated *numerically with the activation itself* (midpoint rule, with a bound on
its error at the activation's jumps), larger supports by Monte Carlo (95% CI); C is bracketed by the
largest error seen (C_lo) and a proven upper bound (C_hi). A point violates a bound only if the
estimate's lower end exceeds the bound with C_hi; it satisfies it only if its upper end is below the
bound with C_lo; otherwise it is undecided. A counterexample is re-checked by plain Monte Carlo
sampling from the law (a second estimator).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from sdlscape.outcomes import Reading, Status
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_residuals, exact_sample_errors
from sdlscape.verify.claims import (
    Context,
    Searched,
    instance_for,
    result,
    user_activations,
)
from sdlscape.verify.search import load_counterexample_instance, standard_family

QUAD_POINTS = 20001
LO, HI = 0.1, 1.0
ROUNDOFF_REL = 1e-12  # floating-point error allowed on a loss estimate (relative to max(1, L))
SECOND_MOMENT = (LO * LO + LO * HI + HI * HI) / 3.0  # E[u^2], u ~ U[lo, hi]


class PointVerdict(str, Enum):
    VIOLATED = "violated"
    SATISFIED = "satisfied"
    UNDECIDED = "undecided"


@dataclass(frozen=True, kw_only=True)
class SupportLaw:
    """A feature law by its supports: supports[k] = (T, Pr(supp x = T)), magnitudes U[lo, hi] on T."""

    name: str
    n: int
    supports: tuple[tuple[frozenset[int], float], ...]

    def prob(self, pred) -> float:
        return float(sum(p for T, p in self.supports if pred(T)))

    def marginal(self, d: int) -> float:
        return self.prob(lambda T: d in T)

    @property
    def one_minus_S(self) -> float:
        """1 - S with S the largest value such that Pr(x_i = 0) >= S for every i."""
        return max(self.marginal(d) for d in range(self.n))

    @property
    def max_cofire(self) -> float:
        return max((self.prob(lambda T, i=i, j=j: i in T and j in T)
                    for i, j in itertools.combinations(range(self.n), 2)), default=0.0)

    @property
    def satisfies_H(self) -> bool:
        """(H): Pr(x_i > 0 and x_j > 0) <= (1 - S)^2 for every pair (relative round-off allowed)."""
        p = self.one_minus_S
        return self.max_cofire <= p * p * (1 + 1e-9)

    @property
    def p_multi(self) -> float:
        return self.prob(lambda T: len(T) >= 2)

    def weights(self) -> np.ndarray:
        """M_d = Pr(x = x_d e_d) E[x_d^2 | x_d > 0] (Thm 3.1's definition; 0 when d never fires alone)."""
        return np.array([self.prob(lambda T, d=d: T == frozenset({d})) * SECOND_MOMENT for d in range(self.n)])

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        probs = np.array([p for _, p in self.supports])
        idx = rng.choice(len(self.supports), size=count, p=probs / probs.sum())
        X = np.zeros((count, self.n))
        for k, (T, _) in enumerate(self.supports):
            rows = np.flatnonzero(idx == k)
            if T and rows.size:
                X[np.ix_(rows, sorted(T))] = LO + (HI - LO) * rng.random((rows.size, len(T)))
        return X

    def to_dict(self) -> dict:
        return {"name": self.name, "n": self.n, "magnitudes": [LO, HI],
                "supports": [[sorted(T), p] for T, p in self.supports if p > 0]}

    @classmethod
    def from_dict(cls, d: dict) -> SupportLaw:
        return cls(name=d["name"], n=int(d["n"]), supports=tuple((frozenset(T), float(p)) for T, p in d["supports"]))


def _blocks_law(name: str, n: int, blocks: list[tuple[frozenset[int], ...]], probs: list[list[float]]) -> SupportLaw:
    """Independent blocks; block b takes support option k with probability probs[b][k] (or none)."""
    out: dict[frozenset[int], float] = {}
    options = [list(zip(opts, pr)) + [(frozenset(), 1.0 - sum(pr))] for opts, pr in zip(blocks, probs)]
    for combo in itertools.product(*options):
        T = frozenset().union(*(t for t, _ in combo))
        out[T] = out.get(T, 0.0) + math.prod(p for _, p in combo)
    return SupportLaw(name=name, n=n, supports=tuple((T, p) for T, p in out.items() if p > 0))


def independent(n: int, p: float) -> SupportLaw:
    return _blocks_law("independent", n, [(frozenset({d}),) for d in range(n)], [[p]] * n)


def cofiring_pair(n: int, p: float) -> SupportLaw:
    """Features 0 and 1 always fire together (probability p); the others independently."""
    blocks = [(frozenset({0, 1}),)] + [(frozenset({d}),) for d in range(2, n)]
    return _blocks_law("cofiring-pair", n, blocks, [[p]] * len(blocks))


def hierarchy(n: int, p: float) -> SupportLaw:
    """Def. 3.2: feature 0 is a parent, features 1..k (k = min(2, n - 1)) its children; the parent fires
    iff one of them does (exactly one child, uniformly, probability p in all); the others independently."""
    k = min(2, n - 1)
    blocks = [tuple(frozenset({0, c}) for c in range(1, k + 1))] + [(frozenset({d}),) for d in range(k + 1, n)]
    return _blocks_law("hierarchy", n, blocks, [[p / k] * k] + [[p]] * (n - k - 1))


def exclusive(n: int, p: float) -> SupportLaw:
    """At most one feature fires (each alone with probability p <= 1/n): (H) holds with co-firing 0."""
    return SupportLaw(name="exclusive", n=n, supports=tuple([(frozenset({d}), p) for d in range(n)]
                                                            + [(frozenset(), 1.0 - n * p)]))


LAWS_AS_WRITTEN = (independent, cofiring_pair, hierarchy)
LAWS_CORRECTED = (independent, exclusive, cofiring_pair, hierarchy)


def c_upper(inst: Instance, W_D, W_E, max_support: int) -> float:
    """C <= |T|max hi^2 (||W_r|| + ||W_D|| ||W_E W_p||)^2 (spectral norms; ||sigma(z)|| <= ||z|| by eq. 10)."""
    nW = lambda A: float(np.linalg.norm(A, 2))
    return max_support * HI * HI * (nW(inst.W_r) + nW(W_D) * nW(W_E @ inst.W_p)) ** 2


def approx_loss_weighted(inst: Instance, W_D, W_E, M: np.ndarray) -> float:
    """eq. 11 with the law's weights M_d (which may be 0: a feature that never fires alone)."""
    R = approx_residuals(inst, W_D, W_E)
    return float(np.sum(M * np.sum(R * R, axis=0)))


def one_feature_closed_form(inst: Instance, W_D, W_E, law: SupportLaw) -> float:
    """L1 in closed form: on each magnitude interval between switching points (theta / z_i for a
    separable threshold; none for positively homogeneous sigma) sigma(x z) passes a fixed set, and the
    error x^2 ||w_r^d - W_D (s * z)||^2 integrates exactly."""
    act, total = inst.activation, 0.0
    for d in range(inst.n):
        pd = law.prob(lambda T, d=d: T == frozenset({d}))
        if pd == 0:
            continue
        z = W_E @ inst.W_p[:, d]
        cuts = [LO, HI]
        if not act.positively_homogeneous:
            cuts += [act.threshold / zi for zi in z if zi > 0 and LO < act.threshold / zi < HI]
        cuts = sorted(set(cuts))
        for a, b in itertools.pairwise(cuts):
            s = act.passes((a + b) / 2 * z)
            r = inst.W_r[:, d] - W_D @ np.where(s, z, 0.0)
            total += pd * float(r @ r) * (b ** 3 - a ** 3) / 3.0 / (HI - LO)
    return total


def estimate_exact_loss(inst: Instance, W_D, W_E, law: SupportLaw, mc: int, rng: np.random.Generator) -> dict:
    """L_SDL by exact support probabilities: singletons by the midpoint rule with sigma itself, larger
    supports by Monte Carlo. `half` = 95% CI half-width + the midpoint rule's error bound."""
    u = LO + (HI - LO) * (np.arange(QUAD_POINTS) + 0.5) / QUAD_POINTS
    one = multi = var = c_seen = quad_err = 0.0
    max_support = max((len(T) for T, p in law.supports if p > 0), default=1)
    c_hi = c_upper(inst, W_D, W_E, max(1, max_support))
    for T, p in law.supports:
        if not T or p == 0:
            continue
        if len(T) == 1:
            (d,) = T
            X = np.zeros((QUAD_POINTS, inst.n))
            X[:, d] = u
            e = exact_sample_errors(inst, W_D, W_E, X)
            one += p * float(e.mean())
            # midpoint rule error: on a piece where sigma passes a fixed set the integrand is c u^2
            # (c = e / u^2 at any grid point of the piece), error <= (hi-lo)^2 h^2 / 24 max|f''|; where
            # sigma switches the integrand jumps between c_left u^2 and c_right u^2: at most two
            # half-cells of max(c) u^2 each
            z = W_E @ inst.W_p[:, d]
            masks = inst.activation.passes(u[:, None] * z[None, :], axis=-1)
            c = e / (u * u)
            ks = np.flatnonzero(np.any(masks[1:] != masks[:-1], axis=1))
            jump = float(np.sum(np.maximum(c[ks], c[ks + 1]) * u[ks + 1] ** 2)) * 2.0 / QUAD_POINTS
            smooth = (HI - LO) ** 2 / (24.0 * QUAD_POINTS ** 2) * 2.0 * float(np.max(c))
            quad_err += p * (jump + smooth)
            c_seen = max(c_seen, float(e.max()))
            continue
        T = sorted(T)
        X = np.zeros((mc, inst.n))
        X[:, T] = LO + (HI - LO) * rng.random((mc, len(T)))
        corners = np.zeros((2 ** len(T), inst.n))
        corners[:, T] = np.array(list(itertools.product((LO, HI), repeat=len(T))))
        e = exact_sample_errors(inst, W_D, W_E, X)
        c_seen = max(c_seen, float(e.max()), float(exact_sample_errors(inst, W_D, W_E, corners).max()))
        multi += p * float(e.mean())
        var += p * p * float(e.var(ddof=1)) / mc
    return {"L_SDL": one + multi, "one_feature_term": one, "multi_term": multi,
            "half": 1.96 * math.sqrt(var) + quad_err, "roundoff": ROUNDOFF_REL * max(1.0, one + multi),
            "quadrature_error_bound": quad_err, "C_lo": c_seen, "C_hi": c_hi}


def decide_bound(diff: float, half: float, bound_lo: float, bound_hi: float, tol: float = 0.0) -> PointVerdict:
    """|diff| vs a bound known to lie in [bound_lo, bound_hi], diff known within +-half, comparisons
    within the floating-point tolerance tol."""
    if abs(diff) - half > bound_hi + tol:
        return PointVerdict.VIOLATED
    if abs(diff) + half <= bound_lo + tol:
        return PointVerdict.SATISFIED
    return PointVerdict.UNDECIDED


def decide(inst: Instance, W_D, W_E, law: SupportLaw, mc: int, rng, *, corrected: bool = False,
           bound_factor: float = 1.0) -> dict:
    """One case (instance, law, point): the estimate of L_SDL against eq. 12 (or the corrected bound)."""
    n, p = inst.n, law.one_minus_S
    est = estimate_exact_loss(inst, W_D, W_E, law, mc, rng)
    if corrected:
        ref = (approx_loss_weighted(inst, W_D, W_E, law.weights()) if inst.activation.positively_homogeneous
               else one_feature_closed_form(inst, W_D, W_E, law))
        coeff = bound_factor * n * (n - 1) / 2 * p * p
    else:
        ref = approx_loss_weighted(inst, W_D, W_E, law.weights())
        coeff = bound_factor * n * n * p * p
    diff = est["L_SDL"] - ref
    verdict = decide_bound(diff, est["half"], coeff * est["C_lo"], coeff * est["C_hi"], est["roundoff"])
    return {"law": law.name, "p_active": p, "hypothesis_H": law.satisfies_H, "max_cofire": law.max_cofire,
            "reference": ref, "diff": diff, "bound_with_C_lo": coeff * est["C_lo"],
            "bound_with_C_hi": coeff * est["C_hi"], "ratio_to_bound_hi": abs(diff) / max(coeff * est["C_hi"], 1e-300),
            **est, "verdict": verdict}


def points(inst: Instance, rng: np.random.Generator, count: int):
    """(name, W_D, W_E): the Thm 3.3 construction, the zero decoder, and random points."""
    from sdlscape.theory.constructions import construction_3_3

    if inst.n_latents >= inst.n:
        W_D, W_E = construction_3_3(inst)
        yield "construction_3_3", W_D, W_E
        yield "zero_decoder", np.zeros_like(W_D), W_E
    for j in range(count):
        yield (f"random{j}", rng.standard_normal((inst.n_r, inst.n_latents)) / math.sqrt(inst.n_latents),
               rng.standard_normal((inst.n_latents, inst.n_p)))


def levels(n: int, full: bool) -> list[float]:
    return [f / n for f in ((1.0, 0.1, 0.01, 0.001) if not full else (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001))]


def _instances(ctx: Context, act) -> list[Instance]:
    inst = instance_for(ctx, act)
    if inst is not None:
        return [inst]
    fam = standard_family(act, ctx.full, ctx.seed)
    return fam if ctx.full else fam[:4]


def _search(name: str, ctx: Context, corrected: bool, bound_factor: float, enforce_hypothesis: bool):
    rng = np.random.default_rng(ctx.seed)
    laws = LAWS_CORRECTED if corrected else LAWS_AS_WRITTEN
    n_random = 1 if not ctx.full else 3
    recs, cases, tried = [], [], 0
    for act in user_activations(ctx, name):
        for inst in _instances(ctx, act):
            tried += 1
            for pname, W_D, W_E in points(inst, rng, n_random):
                for make in laws:
                    for p in levels(inst.n, ctx.full):
                        if make is exclusive and inst.n * p > 1 + 1e-12:
                            continue
                        law = make(inst.n, p)
                        r = decide(inst, W_D, W_E, law, ctx.budget.mc, rng, corrected=corrected,
                                   bound_factor=bound_factor)
                        r.update(instance=inst.name, activation=str(act), point=pname)
                        r["in_scope"] = law.satisfies_H or not (corrected and enforce_hypothesis)
                        recs.append(r)
                        cases.append((r, inst, W_D, W_E, law))
    return recs, cases, tried


def status_from_counts(counts: dict) -> Status:
    """fails on any violated point; holds when every point was decided (and there were some)."""
    if counts.get(PointVerdict.VIOLATED.value, 0):
        return Status.FAILS
    decided = counts.get(PointVerdict.SATISFIED.value, 0)
    return Status.HOLDS if decided and counts.get(PointVerdict.UNDECIDED.value, 0) == 0 else Status.INCONCLUSIVE


def _counts(recs) -> dict:
    return {v.value: sum(r["verdict"] is v for r in recs) for v in PointVerdict}


def _check(name: str, ctx: Context, reading: Reading, *, corrected: bool, bound_factor: float = 1.0,
           enforce_hypothesis: bool = True):
    claim = "thm3.1-corrected" if corrected else "thm3.1"
    recs, cases, tried = _search(name, ctx, corrected, bound_factor, enforce_hypothesis)
    scope = [c for c in cases if c[0]["in_scope"]]
    by_law = {law: _counts([r for r, *_ in scope if r["law"] == law]) for law in dict.fromkeys(r["law"] for r in recs)}
    searched = Searched(instances=tried, points=len(scope), description=(
        "instances x points (Thm 3.3 construction, zero decoder, random) x feature laws "
        f"({', '.join(by_law)}) x sparsity p = 1 - S in {{1, .1, .01, .001}}/n (full: 7 levels), magnitudes "
        f"U[{LO}, {HI}]" + ("; laws violating (H) reported, not counted" if corrected and enforce_hypothesis else "")))
    evidence = {"counts": _counts([c[0] for c in scope]), "counts_by_law": by_law, "mc_samples_per_support": ctx.budget.mc,
                "quadrature_points_single_feature": QUAD_POINTS, "bound_factor": bound_factor,
                "positively_homogeneous": {r["activation"]: None for r in recs},
                "outside_hypothesis": _counts([c[0] for c in cases if not c[0]["in_scope"]]),
                "max_ratio_to_bound_hi": max((r["ratio_to_bound_hi"] for r, *_ in scope), default=0.0),
                "worst": [_brief(r) for r in sorted((c[0] for c in scope), key=lambda r: -r["ratio_to_bound_hi"])[:3]]}
    evidence["positively_homogeneous"] = {str(a): a.positively_homogeneous for a in user_activations(ctx, name)}
    tol = {"ci": 0.95, "quadrature_points": QUAD_POINTS}
    # the natural reading of the statement: independent features only
    natural = {"reading": "independent features", "counts": by_law.get("independent", {})}
    bad = [c for c in scope if c[0]["verdict"] is PointVerdict.VIOLATED]
    status = status_from_counts(evidence["counts"])
    if status is Status.FAILS:
        # prefer independent features (a failure that needs no co-firing), then the smallest instance
        r, inst, W_D, W_E, law = min(bad, key=lambda c: (c[0]["law"] != "independent", c[1].n, c[1].n_latents,
                                                          -c[0]["ratio_to_bound_hi"]))
        again = _recheck_numbers(inst, W_D, W_E, law, corrected, bound_factor, ctx.seed + 1)
        path = ctx.save_counterexample(claim, name, inst.with_(law=None))
        why = (f"|L_SDL - {'L1' if corrected else 'L~'}| = {abs(r['diff']):.4g} (+-{r['half']:.2g}) > "
               f"{'n(n-1)/2' if corrected else 'n^2'} C (1-S)^2 <= {r['bound_with_C_hi']:.4g} "
               f"({r['ratio_to_bound_hi']:.3g}x) at 1 - S = {r['p_active']:.3g} <= 1/n = {1 / inst.n:.3g}, law "
               f"{law.name} (max co-firing {law.max_cofire:.3g} vs (1-S)^2 = {r['p_active'] ** 2:.3g}), C <= "
               f"{r['C_hi']:.3g}, point {r['point']}")
        cx = {"instance": path or inst.to_dict(), "pattern": None, "why": why, "point": r["point"], "W_D": W_D,
              "W_E": W_E, "law": law.to_dict(), "corrected": corrected, "bound_factor": bound_factor,
              "record": _brief(r), "recheck": again}
        rests = [] if law.name == "independent" else [f"law: co-firing features ({law.name})"]
        if bound_factor != 1.0:
            rests.append(f"false variant: bound factor {bound_factor:g}")
        return result(claim, name, Status.FAILS, reading=reading, tried=tried, evidence=evidence, searched=searched,
                      tolerance=tol, counterexample=cx, natural=natural, rests_on=rests)
    return result(claim, name, status, reading=reading, tried=tried, evidence=evidence, searched=searched,
                  tolerance=tol, natural=natural)


def _brief(r: dict) -> dict:
    return {k: (v.value if isinstance(v, PointVerdict) else v) for k, v in r.items()}


def _recheck_numbers(inst, W_D, W_E, law: SupportLaw, corrected: bool, bound_factor: float, seed: int,
                     samples: int = 400_000) -> dict:
    """Second estimator: plain Monte Carlo over samples drawn from the law (no support enumeration)."""
    rng = np.random.default_rng(seed)
    X = law.sample(samples, rng)
    e = exact_sample_errors(inst, W_D, W_E, X)
    L, half = float(e.mean()), 1.96 * float(e.std(ddof=1)) / math.sqrt(samples)
    n, p = inst.n, law.one_minus_S
    ref = (one_feature_closed_form(inst, W_D, W_E, law) if corrected and not inst.activation.positively_homogeneous
           else approx_loss_weighted(inst, W_D, W_E, law.weights()))
    coeff = bound_factor * (n * (n - 1) / 2 if corrected else n * n) * p * p
    c_hi = c_upper(inst, W_D, W_E, max(len(T) for T, q in law.supports if q > 0))
    verdict = decide_bound(L - ref, half, coeff * float(e.max()), coeff * c_hi)
    return {"route": f"plain Monte Carlo, {samples} samples drawn from the law", "L_SDL": L, "ci95_half": half,
            "reference": ref, "bound_with_C_hi": coeff * c_hi, "verdict": verdict.value,
            "agrees": verdict is PointVerdict.VIOLATED}


def recheck(res: dict) -> tuple[bool, dict]:
    cx = res["counterexample"]
    inst = load_counterexample_instance(cx)
    W_D, W_E = np.asarray(cx["W_D"], float), np.asarray(cx["W_E"], float)
    r = _recheck_numbers(inst, W_D, W_E, SupportLaw.from_dict(cx["law"]), bool(cx["corrected"]),
                         float(cx["bound_factor"]), seed=12345)
    return r["agrees"], r


def check_thm3_1(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, bound_factor: float = 1.0):
    """eq. 12 as written (co-firing laws included). bound_factor != 1 is a deliberately false constant."""
    return _check(name, ctx, reading, corrected=False, bound_factor=bound_factor)


def check_thm3_1_corrected(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, bound_factor: float = 1.0,
                           enforce_hypothesis: bool = True):
    """The corrected statement. False variants: a smaller constant, or dropping hypothesis (H)."""
    return _check(name, ctx, reading, corrected=True, bound_factor=bound_factor,
                  enforce_hypothesis=enforce_hypothesis)
