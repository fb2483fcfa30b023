"""Thm 3.4 (zero loss) and its conclusion (non-identifiability), encoder rows and decoder columns apart.

Statement (PAPER.md Sec. 2): "L~ = 0 iff w_r^d = W_D sigma(W_E w_p^d) for every d. The paper concludes
that for n_q > n this system is underdetermined: zero loss is reached by many (W_D, W_E), some of which
recover no ground-truth feature (their Fig. 4)."

The conclusion is part of the statement (PAPER.md Sec. 7) and is checked for encoder rows and for
decoder columns separately: on every instance with n_q > n, a zero-loss point whose encoder rows recover
no feature (best |cos| <= tau with every w_p^d), and one whose decoder columns recover none (vs w_r^d),
with tau = 0.95 (the paper's Table 1 threshold). Zero-loss points: W_D = W_r Q^+ + B (I - Q Q^+) for
random encoders (half of them with rows that already avoid every feature direction) and random B.

Where each feature passes at most one latent (TopK(1), TopK(1) o ReLU: `column_sizes` <= 1), zero loss
forces w_D^i z_id = w_r^d for the latent i that feature d passes, so every decoder column that some feature
uses lies on a true feature and every feature is recovered by a decoder column: the decoder part of the
conclusion is false there (a proof, verified numerically at every zero-loss point found).
"""
from __future__ import annotations

import numpy as np

from sdlscape.outcomes import Reading, Status
from sdlscape.theory import instance as I
from sdlscape.theory.constructions import recovery
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss, approx_residuals, feature_codes
from sdlscape.theory.loss import passed_mask as feature_selection
from sdlscape.verify.claims import Context, Searched, instance_for, result, user_activations
from sdlscape.verify.search import load_counterexample_instance

TOL = 1e-9          # L~ at or below this is zero loss
RESIDUAL_TOL = 1e-7  # largest residual entry of a zero-loss point
TAU = 0.95          # recovery threshold of the paper's Table 1


def forces_decoder(inst: Instance) -> bool:
    """Does every feature pass at most one latent (so that zero loss pins decoder columns on features)?"""
    act = inst.activation
    return max(act.column_sizes(inst.n_latents, act.linear_reading)) <= 1


def topk1_forced(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, tol: float = RESIDUAL_TOL) -> bool:
    """At a zero-loss point with one passed latent per feature: w_D^i z_id = w_r^d for that latent."""
    Z = W_E @ inst.W_p
    sel = feature_selection(inst, W_E)
    for d in range(inst.n):
        idx = np.flatnonzero(sel[:, d])
        if len(idx) != 1 or np.max(np.abs(W_D[:, idx[0]] * Z[idx[0], d] - inst.W_r[:, d])) > tol:
            return False
    return True


def _avoiding_rows(inst: Instance, rng: np.random.Generator) -> np.ndarray | None:
    rows = []
    for _ in range(inst.n_latents):
        for _ in range(200):
            u = rng.standard_normal(inst.n_p)
            u /= np.linalg.norm(u)
            if np.max(np.abs(u @ inst.W_p)) <= TAU:
                rows.append(u * rng.uniform(0.5, 2.0))
                break
        else:
            return None
    return np.array(rows)


def zero_loss_points(inst: Instance, rng: np.random.Generator, tries: int):
    """Zero-loss (W_D, W_E): W_E random (or avoiding every feature), W_D = W_r Q^+ + B (I - Q Q^+)."""
    for t in range(tries):
        W_E = _avoiding_rows(inst, rng) if t % 2 else None
        if W_E is None:
            W_E = rng.standard_normal((inst.n_latents, inst.n_p))
        W_E = W_E * rng.uniform(0.5, 4.0)  # thresholds (jumprelu) need codes of several sizes
        Q = feature_codes(inst, W_E)
        Qp = np.linalg.pinv(Q)
        W_D = inst.W_r @ Qp
        if np.max(np.abs(W_D @ Q - inst.W_r)) > RESIDUAL_TOL:
            continue
        if t % 3:  # a random component in the decoder's free directions
            W_D = W_D + rng.standard_normal(W_D.shape) @ (np.eye(inst.n_latents) - Q @ Qp) * rng.uniform(0.5, 3)
        yield W_D, W_E


def decide(inst: Instance, rng: np.random.Generator, tries: int) -> dict:
    """One instance: zero-loss points found, and whether one recovers no feature by encoder rows / by
    decoder columns; the iff of the statement at those points and at random points; the forcing."""
    found = enc_free = dec_free = iff_bad = 0
    forced_ok, examples = True, {}
    forcing = forces_decoder(inst)
    for W_D, W_E in zero_loss_points(inst, rng, tries):
        L, R = approx_loss(inst, W_D, W_E), approx_residuals(inst, W_D, W_E)
        iff_bad += (L <= TOL) != (np.abs(R).max() <= RESIDUAL_TOL)
        if L > TOL:
            continue
        found += 1
        rec = recovery(inst, W_D, W_E, TAU)
        if rec["encoder_recovered"] == 0:
            enc_free += 1
            examples.setdefault("encoder", {"W_D": W_D, "W_E": W_E, **rec})
        if rec["decoder_recovered"] == 0:
            dec_free += 1
            examples.setdefault("decoder", {"W_D": W_D, "W_E": W_E, **rec})
        if forcing:
            forced_ok &= topk1_forced(inst, W_D, W_E) and rec["decoder_recovered"] == inst.n
    for _ in range(5):  # the iff at points that are not zero loss
        W_E = rng.standard_normal((inst.n_latents, inst.n_p))
        W_D = rng.standard_normal((inst.n_r, inst.n_latents))
        L, R = approx_loss(inst, W_D, W_E), approx_residuals(inst, W_D, W_E)
        iff_bad += (L <= TOL) != (np.abs(R).max() <= np.sqrt(TOL / inst.M.min()))
    return {"instance": inst.name, "activation": str(inst.activation), "n": inst.n, "n_latents": inst.n_latents,
            "conclusion_applies": inst.n_latents > inst.n, "zero_loss_points": found,
            "encoder_recovers_none": enc_free, "decoder_recovers_none": dec_free, "iff_violations": int(iff_bad),
            "decoder_forced": forcing, "forcing_verified": bool(forced_ok and found > 0) if forcing else None,
            "examples": examples}


def part_status(rows: list[dict], part: str) -> Status:
    """One part of the conclusion over the instances with n_q > n: fails if the forcing proves it false on
    some instance (decoder part only), holds if every instance has an example, else inconclusive."""
    rows = [r for r in rows if r["conclusion_applies"]]
    if part == "decoder" and any(r["decoder_forced"] and r["forcing_verified"] for r in rows):
        return Status.FAILS
    if rows and all(r[f"{part}_recovers_none"] > 0 for r in rows):
        return Status.HOLDS
    return Status.INCONCLUSIVE


def _instances(ctx: Context, act) -> list[Instance]:
    inst = instance_for(ctx, act)
    if inst is not None:
        return [inst]
    t = np.radians([0.0, 45.0, 90.0, 135.0])  # Fig. 4: 4 features in 2-D
    fig4 = np.vstack([np.cos(t), np.sin(t)])
    out = [I.orthogonal(2, act, n_latents=q, name=f"orthogonal-n2-q{q}") for q in (2, 3, 4) if act.fits(q)]
    out += [Instance(W_p=fig4, activation=act, n_latents=q, name=f"fig4-4-in-2d-q{q}") for q in (5, 6) if act.fits(q)]
    if ctx.full:
        out += [I.random_unit(3, 3, act, n_latents=q, seed=ctx.seed) for q in (4, 5) if act.fits(q)]
    return out


def check_thm3_4(name: str, ctx: Context, reading: Reading = Reading.DEF_3_1, statement: str = "non_identifiable"):
    """statement "non_identifiable" (the paper). The false variant "forces_recovery" claims that every
    zero-loss point recovers some feature by an encoder row (a zero-loss point that recovers none refutes it)."""
    rng = np.random.default_rng(ctx.seed)
    tries = 3000 if ctx.full else 600
    rows, tried = [], 0
    for act in user_activations(ctx, name):
        for inst in _instances(ctx, act):
            tried += 1
            rows.append(decide(inst, rng, tries))
    iff_bad = sum(r["iff_violations"] for r in rows)
    parts = {p: part_status(rows, p) for p in ("encoder", "decoder")}
    searched = Searched(instances=tried, points=sum(r["zero_loss_points"] for r in rows), description=(
        f"{tries} zero-loss candidates per instance (random and feature-avoiding encoders, decoder W_r Q^+ plus "
        f"random free directions); orthogonal n = 2 and Fig. 4's 4 features in 2-D, several n_q"))
    evidence = {"conclusion": {k: v.value for k, v in parts.items()}, "iff_violations": iff_bad, "tau": TAU,
                "statement": statement,
                "table": [{k: v for k, v in r.items() if k != "examples"} for r in rows]}
    tol = {"loss": TOL, "residual": RESIDUAL_TOL, "tau": TAU}
    if statement == "forces_recovery":
        hit = next(((r, i) for r, i in zip(rows, range(len(rows))) if r["examples"].get("encoder")), None)
        if hit is None:
            return result("thm3.4", name, Status.INCONCLUSIVE, tried=tried, evidence=evidence, searched=searched,
                          tolerance=tol)
        ex = hit[0]["examples"]["encoder"]
        return result("thm3.4", name, Status.FAILS, tried=tried, evidence=evidence, searched=searched, tolerance=tol,
                      rests_on=["false variant: forces_recovery"],
                      counterexample={"instance": hit[0]["instance"], "pattern": None, "W_D": ex["W_D"],
                                      "W_E": ex["W_E"], "why": "zero loss with no feature recovered by an encoder row"})
    if iff_bad or parts["decoder"] is Status.FAILS or parts["encoder"] is Status.FAILS:
        forced = [r for r in rows if r["decoder_forced"] and r["forcing_verified"] and r["conclusion_applies"]]
        r = forced[0] if forced else next(r for r in rows if r["iff_violations"])
        act = next(a for a in user_activations(ctx, name) if str(a) == r["activation"])
        inst = next(i for i in _instances(ctx, act) if i.name == r["instance"])
        if forced:
            why = (f"{r['activation']}, n = {r['n']} < n_q = {r['n_latents']}: every feature passes at most one latent, so "
                   f"zero loss forces w_D^i z_id = w_r^d: all {r['n']} features are recovered by decoder columns at "
                   f"every one of the {r['zero_loss_points']} zero-loss points found; no zero-loss point recovers no "
                   f"feature by its decoder (encoder part: {parts['encoder'].value})")
        else:
            why = f"{iff_bad} disagreements between L~ = 0 and vanishing residuals"
        path = ctx.save_counterexample("thm3.4", name, inst)
        cx = {"instance": path or inst.to_dict(), "pattern": None, "why": why, "part": "decoder" if forced else "iff",
              "recheck": _recheck_numbers(inst, np.random.default_rng(ctx.seed + 1))}
        acts = {str(a): a for a in user_activations(ctx, name)}
        ks = sorted({int(getattr(acts.get(f["activation"]), "k", 0) or 0) for f in forced} - {0})
        rests = (([f"k = {ks[0]} only" if len(ks) == 1 else f"k in {ks}"] if ks else [])
                 + ["part: decoder recovery (the encoder part holds)"]) if forced else []
        return result("thm3.4", name, Status.FAILS, tried=tried, evidence=evidence, searched=searched, tolerance=tol,
                      counterexample=cx, rests_on=rests)
    status = Status.HOLDS if all(v is Status.HOLDS for v in parts.values()) else Status.INCONCLUSIVE
    if ctx.instance is not None and not any(r["conclusion_applies"] for r in rows):
        status = Status.NOT_APPLICABLE      # the conclusion is stated for n_q > n only
        evidence["why"] = "the instance has n_latents <= n: Thm 3.4's conclusion is stated for n_q > n"
    return result("thm3.4", name, status, tried=tried, evidence=evidence, searched=searched, tolerance=tol)


def _recheck_numbers(inst: Instance, rng: np.random.Generator, tries: int = 300) -> dict:
    """Second route for the forcing: least squares per feature. At a zero-loss point each feature d passes one
    latent i with code z; the residual ||w_r^d - w_D^i z|| = 0 means w_D^i is parallel to w_r^d: check cosines."""
    worst, points = 1.0, 0
    for W_D, W_E in zero_loss_points(inst, rng, tries):
        if approx_loss(inst, W_D, W_E) > TOL:
            continue
        points += 1
        Q = feature_codes(inst, W_E)
        for d in range(inst.n):
            (i,) = np.flatnonzero(Q[:, d])
            c = abs(float(W_D[:, i] @ inst.W_r[:, d])) / (np.linalg.norm(W_D[:, i]) * np.linalg.norm(inst.W_r[:, d]))
            worst = min(worst, c)
    return {"route": "cosine of each used decoder column with its feature", "zero_loss_points": points,
            "min_cosine": worst, "agrees": bool(points > 0 and worst >= 1 - 1e-9)}


def recheck(res: dict) -> tuple[bool, dict]:
    inst = load_counterexample_instance(res["counterexample"])
    if not forces_decoder(inst):
        return False, {"why": "the instance's activation does not force the decoder"}
    r = _recheck_numbers(inst, np.random.default_rng(7))
    return r["agrees"], r
