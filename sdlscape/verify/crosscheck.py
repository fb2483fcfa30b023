"""Cross-check of gradient training against the exact landscape: where random starts end, and resampling.

Many independent gradient runs of L~ (eq. 11; sdlscape.solvers.multistart, batched) are matched
one by one to the landscape of the instance (sdlscape.solvers.landscape.map_landscape): the final
point's activation pattern (Def. 3.1) names its piece (canonical pattern); a final point well
inside its region (every strict inequality of eq. 13 holds with slack >= `margin`) with a small
piece gradient is a critical point of that piece, and its L~ is compared with the piece's ACS
value. Outcomes of a start:

  global         converged inside a region, L~ within tolerance of the landscape's global value;
  spurious       converged inside a region at a higher L~ (a spurious partial minimum, Thm 3.6);
  leaves_region  the final point lies within `margin` of a strict region boundary (the piece's
                 quadratic pushes across it: what ACS calls leaving the region);
  not_converged  inside a region but the piece gradient is not yet small.

A converged start whose L~ differs from its piece's ACS value is a *disagreement*: it is flagged,
and ACS (run_acs) is run again from that very point to see which side is right. Starts that end in a
piece the landscape could not value (class inconclusive / leaves_region, or absent) are *unmatched*
and reported with the landscape's reason.

Resampling (paper Sec. 5.3): from every spurious partial minimum with a dead latent, gradient
descent is run as is (it stays: the gradient vanishes there), and after re-initialising the dead
latent toward the worst-reconstructed feature d (w_E^i = s * mean alive encoder norm * w_p^d,
w_D^i = w_r^d, as in the usual SAE resampling), showing where training goes and the loss drop.
On the Linear Representation Bench the same is shown with train_sdl(resample_every=...).
"""
from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.formatting import value as fmt_value
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss_per_feature
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece

DEFAULT_EPS = numerics.MARGIN_EPS

OUTCOMES = ("global", "spurious", "leaves_region", "not_converged")
VALUED = ("global", "spurious")


# ---------------------------------------------------------------------------------------------
# Reading final points


def read_masks(inst: Instance, W_E: np.ndarray) -> np.ndarray:
    """Activation patterns of stacked encoders (N x q x n_p) as N x q x n boolean masks.

    Batched read of the linear piece of each start (the passed latents), the landscape's pieces.
    """
    W_E = np.asarray(W_E, dtype=float)
    Z = np.einsum("sqp,pd->sdq", W_E, inst.W_p)                 # start, feature, latent
    N, n, q = Z.shape
    return inst.activation.passes(Z.reshape(N * n, q)).reshape(N, n, q).transpose(0, 2, 1)


def boundary_distance(inst: Instance, W_E: np.ndarray, masks: np.ndarray, eps: float = DEFAULT_EPS
                      ) -> tuple[np.ndarray, list[str], list[Pattern]]:
    """Per start: the least slack of the strict inequalities of its own region (eq. 13), margin undone.

    The slack is in the units of the region's margin eps: z_id - threshold for "on" rows, z_id - z_jd
    for "order" rows (features are unit vectors), so a point ACS left on the eps-tightened boundary
    has slack eps.

    Also returns each start's canonical pattern key and the distinct labelled patterns (by index).
    Non-strict inequalities (a feature that does *not* activate a latent) may hold with equality
    inside a region, so only strict ones count.
    """
    N = masks.shape[0]
    flat = masks.reshape(N, -1)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    dist = np.full(N, np.inf)
    keys: list[str] = [""] * N
    patterns = []
    W = np.asarray(W_E, dtype=float).reshape(N, -1)
    for u, row in enumerate(uniq):
        pat = Pattern.from_mask(row.reshape(masks.shape[1:]))
        patterns.append(pat)
        idx = np.flatnonzero(inverse == u)
        key = str(pat.canonical())
        for s in idx:
            keys[s] = key
        reg = Piece(inst, pat, eps, inst.activation.linear_reading).region
        strict = reg.strict
        if not strict.any():
            continue
        G, h = reg.G[strict], reg.h[strict] + eps          # undo the margin: raw strict inequality
        dist[idx] = np.min(h[None, :] - W[idx] @ G.T, axis=1)
    return dist, keys, [patterns[u] for u in inverse]


def landscape_index(landscape: dict) -> dict[str, dict]:
    """Pieces of a landscape result (the "landscape" contract) keyed by canonical pattern text."""
    if not isinstance(landscape, dict) or "pieces" not in landscape or "summary" not in landscape:
        raise InputError("landscape must be a landscape result with 'summary' and 'pieces'")
    n = landscape["summary"].get("n")
    out = {}
    for p in landscape["pieces"]:
        key = p.get("key")
        if key is None:
            if n is None:
                raise InputError("landscape pieces carry no 'key' and the summary no 'n'")
            key = str(Pattern(tuple(frozenset(s) for s in p["pattern"]), int(n)).canonical())
        out[key] = p
    return out


def check_landscape(inst: Instance, landscape: dict) -> None:
    """InputError if a landscape result is malformed or does not belong to this instance."""
    landscape_index(landscape)
    s = landscape["summary"]
    for k, v in (("n", inst.n), ("n_p", inst.n_p), ("n_latents", inst.n_latents)):
        if k in s and s[k] != v:
            raise InputError(f"landscape is for {k} = {s[k]}, but the instance has {k} = {v}")
    if "activation" in s and s["activation"] != inst.activation.to_dict():
        raise InputError(f"landscape is for activation {s['activation']}, the instance has "
                         f"{inst.activation.to_dict()}")


def classify_points(inst: Instance, landscape: dict, W_E: np.ndarray, loss: np.ndarray, gnorm: np.ndarray, *,
                    margin: float, grad_tol: float, loss_tol: float, eps: float) -> dict[str, Any]:
    """Outcome of every final point (module docstring) and its comparison with the landscape."""
    index = landscape_index(landscape)
    gv = landscape["summary"].get("global_value")
    scale = max(1.0, float(np.sum(inst.M)))
    masks = read_masks(inst, W_E)
    dist, keys, pats = boundary_distance(inst, W_E, masks, eps)
    N = len(loss)
    outcome = np.empty(N, dtype=object)
    status = np.empty(N, dtype=object)        # agree | disagree | unmatched | n/a
    piece_loss = np.full(N, np.nan)
    for s in range(N):
        p = index.get(keys[s])
        pl = p.get("loss") if p is not None else None
        if p is not None and p.get("class") in VALUED and pl is not None:
            piece_loss[s] = pl
        if dist[s] < margin:
            outcome[s], status[s] = "leaves_region", "n/a"
            continue
        if not gnorm[s] <= grad_tol * scale:
            outcome[s], status[s] = "not_converged", "n/a"
            continue
        is_global = gv is not None and loss[s] <= gv + loss_tol * scale
        outcome[s] = "global" if is_global else "spurious"
        if np.isnan(piece_loss[s]):
            status[s] = "unmatched"
        elif abs(loss[s] - piece_loss[s]) <= loss_tol * scale:
            status[s] = "agree"
        else:
            status[s] = "disagree"
    return {"outcome": outcome, "status": status, "key": keys, "pattern": pats, "dist": dist,
            "piece_loss": piece_loss, "index": index}


def landscape_point_slacks(inst: Instance, index: dict[str, dict], eps: float) -> dict[str, dict]:
    """For each valued piece: the least strict slack of the landscape's own best point (its W_E).

    A value close to eps means ACS's point presses on the margin-tightened boundary: the piece's
    minimum sits at the edge of its region, where gradient descent rarely stops.
    """
    out = {}
    for key, p in index.items():
        if p.get("class") not in VALUED or p.get("W_E") is None:
            continue
        W_E = np.asarray(p["W_E"], dtype=float)[None]
        d, _, _ = boundary_distance(inst, W_E, read_masks(inst, W_E), eps)
        out[key] = {"class": p["class"], "loss": p.get("loss"), "slack": float(d[0])}
    return out


# ---------------------------------------------------------------------------------------------
# Disagreements: run ACS again from the gradient point


def recheck_with_acs(inst: Instance, pattern: Pattern, W_E: np.ndarray, gd_loss: float, piece_loss: float | None,
                     eps: float, loss_tol: float, seed: int = 0) -> dict[str, Any]:
    """run_acs from a flagged gradient end point, and a verdict on who is right."""
    from sdlscape.solvers.acs import run_acs

    t0 = time.perf_counter()
    try:
        r = run_acs(Piece(inst, pattern, eps, inst.activation.linear_reading), W_E0=W_E, seed=seed)
    except Exception as exc:  # noqa: BLE001 - a solver failure is reported with the flagged start, not fatal
        return {"acs_outcome": "error", "acs_loss": None,
                "verdict": f"ACS from this point failed: {type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t0}
    scale = max(1.0, float(np.sum(inst.M)))
    tol = loss_tol * scale
    if r.outcome == "partial_optimum" and r.loss is not None:
        if abs(r.loss - gd_loss) <= tol:
            if piece_loss is None:
                v = ("gradient is right: ACS from this point certifies a partial optimum at the gradient's value, "
                     "which the landscape's own ACS starts did not")
            elif r.loss < piece_loss - tol:
                v = "gradient is right: ACS from this point certifies a LOWER partial optimum than the landscape's"
            else:
                v = ("both right: ACS from this point certifies a partial optimum at the gradient's value; the "
                     "piece has several partial optima and the landscape reports the least it found")
        elif r.loss < gd_loss - tol:
            v = "landscape is right: ACS from this point descends below the gradient's end value"
        else:
            v = "unexplained: ACS from this point ends higher than gradient descent"
    else:
        v = f"ACS from this point: {r.outcome} ({r.reason})"
    return {"acs_outcome": r.outcome, "acs_loss": r.loss, "acs_reason": r.reason,
            "hessian": None if not r.hessian else r.hessian.get("classification"), "verdict": v,
            "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------------
# Resampling of dead latents (Sec. 5.3)


def resample_dead(inst: Instance, W_E: np.ndarray, W_D: np.ndarray, dead: tuple[int, ...], scale: float
                  ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Re-initialise dead latents toward the worst-reconstructed features (one feature per dead latent).

    Features are ranked by their term of eq. 11; dead latent number j gets the j-th worst feature d:
    w_E^i = scale * (mean norm of the alive encoder rows) * w_p^d, w_D^i = w_r^d.
    """
    W_E, W_D = np.array(W_E, dtype=float), np.array(W_D, dtype=float)
    order = np.argsort(-approx_loss_per_feature(inst, W_D, W_E), kind="stable")
    alive = [i for i in range(inst.n_latents) if i not in dead]
    norm = float(np.mean(np.linalg.norm(W_E[alive], axis=1))) if alive else 1.0
    norm = norm if norm > 0 else 1.0
    feats = []
    for j, i in enumerate(dead):
        d = int(order[j % inst.n])
        W_E[i] = scale * norm * inst.W_p[:, d]
        W_D[:, i] = inst.W_r[:, d]
        feats.append(d)
    return W_E, W_D, feats


def resampling_experiment(inst: Instance, landscape: dict, *, steps: int, device: str, tolerances: dict,
                          lr: float = 0.5, optimizer: str = "gd_lip",
                          scales: tuple[float, ...] = (0.2, 1.0)) -> dict[str, Any]:
    """From every spurious partial minimum with a dead latent: train as is, and after resampling.

    Plain gradient descent by default, each start's step lr / (a bound on the local curvature),
    cosine-decayed ("gd_lip" of solvers.multistart): Adam's normalised first steps move a point by
    ~lr whatever the size of its gradient, so they would push a partial minimum across a region
    boundary and hide whether *gradient* descent stays.
    loss_start is L~ where training starts (after resampling, for those variants); loss_drop is
    measured from the partial minimum's L~ (loss_at_minimum) to the end of training.
    """
    from sdlscape.solvers.multistart import batched_loss_grad, train_batched

    index = landscape_index(landscape)
    starts, meta = [], []
    for key, p in index.items():
        if p.get("class") != "spurious" or not p.get("dead_latents") or p.get("W_E") is None or p.get("W_D") is None:
            continue
        W_E, W_D = np.asarray(p["W_E"], dtype=float), np.asarray(p["W_D"], dtype=float)
        dead = tuple(int(i) for i in p["dead_latents"])
        L_min = float(batched_loss_grad(inst, W_D[None], W_E[None])[0][0])
        starts.append((W_E, W_D))
        meta.append({"piece": p["pattern"], "key": key, "dead_latents": list(dead), "variant": "no resampling",
                     "toward_features": [], "loss_at_minimum": L_min})
        for s in scales:
            E2, D2, feats = resample_dead(inst, W_E, W_D, dead, s)
            starts.append((E2, D2))
            meta.append({"piece": p["pattern"], "key": key, "dead_latents": list(dead),
                         "variant": f"resample (encoder scale {s:g} x mean alive norm)", "scale": s,
                         "toward_features": feats, "loss_at_minimum": L_min})
    if not starts:
        return {"experiments": [], "note": "the landscape has no spurious partial minimum with a dead latent"}
    E0 = np.stack([s[0] for s in starts])
    D0 = np.stack([s[1] for s in starts])
    L0, gD0, gE0, _ = batched_loss_grad(inst, D0, E0)
    g0 = np.sqrt((gD0 ** 2).sum((1, 2)) + (gE0 ** 2).sum((1, 2)))
    E, D, L, G, hist = train_batched(inst, E0, D0, steps=steps, lr=lr, optimizer=optimizer, device=device,
                                     log_points=21, per_start_history=True)
    cls = classify_points(inst, landscape, E, L, G, **tolerances)
    curves = [{"step": hist["step"], "loss": hist["loss_per_start"][j].tolist()} for j in range(len(meta))]
    out = []
    for j, m in enumerate(meta):
        out.append({**m, "loss_start": float(L0[j]), "grad_norm_start": float(g0[j]), "loss_end": float(L[j]),
                    "loss_drop": float(m["loss_at_minimum"] - L[j]), "grad_norm_end": float(G[j]),
                    "moved": float(np.sqrt(np.sum((E[j] - E0[j]) ** 2) + np.sum((D[j] - D0[j]) ** 2))),
                    "end_piece": cls["key"][j], "end_pattern": cls["pattern"][j].to_json(),
                    "end_outcome": cls["outcome"][j], "end_matches_landscape": cls["status"][j],
                    "end_piece_class": (cls["index"].get(cls["key"][j]) or {}).get("class"),
                    "loss_curve": curves[j]})
    stays = [e for e in out if e["variant"] == "no resampling"]
    summary = {"spurious_with_dead": len(stays),
               "stayed_without_resampling": sum(e["end_piece"] == e["key"] and abs(e["loss_drop"]) <= 1e-6
                                                for e in stays),
               "max_grad_norm_at_spurious": max(e["grad_norm_start"] for e in stays)}
    for s in scales:
        ex = [e for e in out if e.get("scale") == s]
        summary[f"scale_{s:g}"] = {"reached_global": sum(e["end_outcome"] == "global" for e in ex),
                                   "lowered_loss": sum(e["loss_drop"] > 1e-6 for e in ex),
                                   "mean_loss_drop": float(np.mean([e["loss_drop"] for e in ex]))}
    return {"experiments": out, "summary": summary, "steps": steps, "lr": lr, "optimizer": optimizer,
            "lr_schedule": "cosine to lr * 1e-3", "scales": list(scales)}


def bench_resampling(*, n: int = 64, d: int = 48, n_latents: int = 256, max_interference: float = 0.2,
                     p_active: float = 0.05, n_samples: int = 16384, steps: int = 3500, resample_every: int = 1000,
                     activation: str = "relu", l1_coef: float = 0.3, seed: int = 0, device: str = "cpu",
                     target_l0_factor: float | None = 1.0) -> dict[str, Any]:
    """Fig. 7 analogue at small scale: bench SAE loss curves with and without resampling dead latents.

    A ReLU SAE (with encoder bias) whose L1 coefficient is calibrated toward L0 = target_l0_factor x
    n p_active (a sparse code: latents die; the fixed L1 = 0.3 left no latent dead once the encoder
    had a bias), 4x more latents than features;
    train_sdl resamples, every `resample_every` steps, latents silent for >= dead_steps (200) steps (here at
    steps 1000, 2000, 3000, leaving 500 steps after the last resampling: train_sdl also resamples
    on the final step when steps is a multiple of resample_every, which would end on fresh latents).
    """
    import torch

    from sdlscape.bench.lrb import make_dictionary, sample_coefficients

    W = make_dictionary(n, d, max_interference, seed)
    X = sample_coefficients(n_samples, n, p_active, 0.0, 1.0, seed + 1)
    x = X @ W.t()
    runs = {}
    old_threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)      # small matrices: one thread is faster on a shared machine
    try:
        target = None if target_l0_factor is None else target_l0_factor * n * p_active
        _bench_runs(runs, x, activation, n_latents, steps, seed, device, resample_every, l1_coef, target)
    finally:
        torch.set_num_threads(old_threads)
    w, wo = runs["with_resampling"], runs["without_resampling"]
    return {"setting": {"n": n, "d": d, "n_latents": n_latents, "max_interference": max_interference,
                        "p_active": p_active, "n_samples": n_samples, "steps": steps, "activation": activation,
                        "l1_coef": l1_coef, "target_l0_factor": target_l0_factor, "resample_every": resample_every, "seed": seed, "trainer": "sdlscape.solvers.gradient.train_sdl (Adam lr 1e-3, batch 1024)"},
            "runs": runs, "final_mse_drop": wo["final_mse_full_data"] - w["final_mse_full_data"],
            "paper": "Sec. 5.3 / Fig. 7: resampling dead latents after 5000 steps lowers the final loss (curve only)"}


def _bench_runs(runs, x, activation, n_latents, steps, seed, device, resample_every, l1_coef, target_l0=None) -> None:
    import torch

    from sdlscape.solvers.gradient import TrainConfig, train_sdl

    for label, every in (("without_resampling", None), ("with_resampling", resample_every)):
        cfg = TrainConfig(activation=activation, n_latents=n_latents, steps=steps, batch_size=1024, lr=1e-3,
                          seed=seed, device=device, resample_every=every, log_every=50, l1_coef=l1_coef, target_l0=target_l0)
        t0 = time.perf_counter()
        res = train_sdl(x, None, cfg)
        with torch.no_grad():
            xd = x.to(res.model.W_E.device)
            final = float((xd - res.model(xd)).pow(2).sum(-1).mean())
            dead_mask = (res.model.encode(xd) > 0).any(0).logical_not().cpu()
        runs[label] = {"history": res.history, "final_mse_full_data": final,
                       "final_dead_fraction": float(dead_mask.float().mean()),
                       "seconds": time.perf_counter() - t0, "resample_every": every,
                       **_redeath(res.resampled, dead_mask, res.history)}


def _redeath(resampled, dead_mask, history) -> dict:
    """Do resampled latents die again?  Per resampling: how many, and how many are dead (on all data) at the end."""
    events = [{"step": s, "n_resampled": len(ids), "dead_at_end": int(dead_mask[ids].sum()),
               "fraction_dead_again": float(dead_mask[ids].float().mean())} for s, ids in resampled]
    ever = sorted({i for _, ids in resampled for i in ids})
    first = resampled[0][0] if resampled else None
    before = None
    if first is not None:   # dead fraction (silent >= dead_steps) logged just before the first resampling
        prior = [d for st, d in zip(history["step"], history["dead_fraction"]) if st < first]
        before = prior[-1] if prior else None
    return {"resampling_events": events, "n_latents_ever_resampled": len(ever),
            "fraction_resampled_dead_at_end": float(dead_mask[ever].float().mean()) if ever else None,
            "dead_fraction_before_first_resampling": before,
            "resampling_note": "dead at end = never active on the full data set after training; "
                               "history dead_fraction counts latents silent >= dead_steps steps"}


# ---------------------------------------------------------------------------------------------
# The cross-check


def _fractions(counts: dict[str, int], total: int) -> dict[str, float]:
    return {o: (counts.get(o, 0) / total if total else 0.0) for o in OUTCOMES}


def run_crosscheck(inst: Instance, starts: int, steps: int = 10000, device: str = "cpu", seed: int = 0,
                   landscape: dict | None = None, init: str = "both", progress: bool = False, *,
                   lr: float = 1e-2, optimizer: str = "adam", eps: float | None = None, margin: float | None = None,
                   grad_tol: float = 1e-5, loss_tol: float = 1e-6, max_acs_rechecks: int = 12,
                   resampling: bool = True, resample_steps: int | None = None, bench: bool = False,
                   landscape_starts: int = 4) -> dict[str, Any]:
    """Train `starts` gradient runs of L~ and match every end point to the instance's landscape.

    landscape: a landscape result dict (map_landscape(...).to_dict()); computed when None.
    Tolerances (relative to max(1, sum_d M_d)): a start converged when its piece gradient norm is
    <= grad_tol; its L~ agrees with the piece's ACS value within loss_tol; it lies on a region
    boundary when a strict inequality of its region has slack < `margin` (default: half the
    landscape's eps, so that ACS points on the eps-tightened boundary count as inside).
    """
    from sdlscape.solvers.multistart import check_device, multistart

    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise InputError(f"--starts must be a positive integer, got {starts!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InputError(f"--steps must be a positive integer, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError(f"--lr must be a positive number, got {lr!r}")
    if init not in ("random", "tied", "both"):
        raise InputError(f"--init must be random, tied or both, got {init!r}")
    if init == "tied" and inst.n_p != inst.n_r:
        raise InputError(f"tied initialisation (W_E = W_D^T) needs n_p = n_r, got {inst.n_p} and {inst.n_r}")
    check_device(device)
    t_all = time.perf_counter()
    if landscape is None:
        from sdlscape.solvers.landscape import map_landscape

        landscape = map_landscape(inst, starts=landscape_starts, seed=seed, eps=eps or DEFAULT_EPS,
                                  progress=progress).to_dict()
        landscape_source = "computed (map_landscape)"
    else:
        check_landscape(inst, landscape)
        landscape_source = "given"
    eps = float(landscape["summary"].get("eps", eps or DEFAULT_EPS))
    margin = eps / 2 if margin is None else float(margin)
    tolerances = {"margin": margin, "grad_tol": grad_tol, "loss_tol": loss_tol, "eps": eps}

    ms = multistart(inst, int(starts), init=init, steps=int(steps), lr=lr, optimizer=optimizer, seed=seed,
                    device=device, progress=progress)
    cls = classify_points(inst, landscape, ms.W_E, ms.loss, ms.grad_norm, **tolerances)
    N = ms.n_starts
    outc, status, keys = cls["outcome"], cls["status"], cls["key"]
    counts = Counter(outc)
    by_init = {}
    for scheme in ms.settings["schemes"]:
        sel = ms.init == scheme
        c = Counter(outc[sel])
        by_init[scheme] = {"starts": int(sel.sum()), "outcomes": _fractions(c, int(sel.sum())),
                           "counts": {o: int(c.get(o, 0)) for o in OUTCOMES}}

    # per-piece counts
    per = defaultdict(lambda: {"counts": Counter(), "by_init": Counter(), "losses": []})
    for s in range(N):
        rec = per[keys[s]]
        rec["counts"][outc[s]] += 1
        rec["by_init"][ms.init[s]] += 1
        if outc[s] in VALUED:
            rec["losses"].append(float(ms.loss[s]))
    pieces = []
    for key, rec in per.items():
        p = cls["index"].get(key)
        ls = rec["losses"]
        pieces.append({"pattern": None if p is None else p["pattern"], "key": key,
                       "landscape_class": None if p is None else p.get("class"),
                       "landscape_loss": None if p is None else p.get("loss"),
                       "multiplicity": None if p is None else p.get("multiplicity"),
                       "dead_latents": None if p is None else p.get("dead_latents"),
                       "starts": int(sum(rec["counts"].values())),
                       "counts": {o: int(rec["counts"].get(o, 0)) for o in OUTCOMES},
                       "by_init": {k: int(v) for k, v in rec["by_init"].items()},
                       "gd_loss": None if not ls else {"min": min(ls), "max": max(ls), "mean": float(np.mean(ls))}})
    pieces.sort(key=lambda r: (-r["starts"], r["key"]))
    landscape_points = landscape_point_slacks(inst, cls["index"], eps)
    for r in pieces:
        r["landscape_point_slack"] = landscape_points.get(r["key"], {}).get("slack")
    reached = {r["key"] for r in pieces}
    unreached = [{"key": k, **v} for k, v in landscape_points.items() if k not in reached]

    # disagreements and unmatched starts
    flagged_idx = [s for s in range(N) if status[s] in ("disagree", "unmatched")]
    clusters: dict[tuple, list[int]] = defaultdict(list)
    for s in flagged_idx:
        clusters[(keys[s], status[s], round(float(ms.loss[s]), 6))].append(s)
    flagged = []
    for j, ((key, st, lv), idx) in enumerate(sorted(clusters.items(), key=lambda kv: -len(kv[1]))):
        s = idx[0]
        p = cls["index"].get(key)
        entry = {"piece": key, "status": st, "starts": len(idx), "gd_loss": float(ms.loss[s]),
                 "landscape_class": None if p is None else p.get("class"),
                 "landscape_loss": None if p is None else p.get("loss"),
                 "landscape_reason": None if p is None else p.get("reason"),
                 "example": {"start": int(s), "init": str(ms.init[s]), "pattern": cls["pattern"][s].to_json(),
                             "W_E": ms.W_E[s].tolist(), "W_D": ms.W_D[s].tolist(),
                             "grad_norm": float(ms.grad_norm[s]), "boundary_distance": float(cls["dist"][s])},
                 "start_indices": [int(i) for i in idx[:50]]}
        if j < max_acs_rechecks:
            pl = None if np.isnan(cls["piece_loss"][s]) else float(cls["piece_loss"][s])
            entry["acs_recheck"] = recheck_with_acs(inst, cls["pattern"][s], ms.W_E[s], float(ms.loss[s]), pl, eps,
                                                    loss_tol, seed)
        flagged.append(entry)
    n_dis = int(sum(1 for s in flagged_idx if status[s] == "disagree"))
    n_unm = int(sum(1 for s in flagged_idx if status[s] == "unmatched"))

    result: dict[str, Any] = {
        "instance": inst.to_dict(), "name": inst.name, "activation": inst.activation.to_dict(),
        "starts": N, "outcomes": _fractions(counts, N), "outcome_counts": {o: int(counts.get(o, 0)) for o in OUTCOMES},
        "disagreements": n_dis, "unmatched": n_unm,
        "agreements": int(sum(1 for s in range(N) if status[s] == "agree")),
        "by_init": by_init, "pieces": pieces, "unreached_pieces": unreached, "flagged": flagged,
        "global_value": landscape["summary"].get("global_value"),
        "landscape": {"source": landscape_source, "summary": landscape["summary"]},
        "training": {**ms.settings, "seconds": ms.seconds, "starts_per_second": N / ms.seconds if ms.seconds else None,
                     "history": ms.history,
                     "final_grad_norm_quantiles": {str(q): float(np.quantile(ms.grad_norm, q))
                                                   for q in (0.5, 0.9, 0.99, 1.0)}},
        "tolerances": {**tolerances, "relative_to": "max(1, sum_d M_d)",
                       "meaning": "converged: piece gradient norm <= grad_tol; agree: |L~ - ACS value| <= loss_tol; "
                                  "boundary: a strict region inequality with slack < margin (units of eps)"},
    }
    if resampling:
        result["resampling"] = resampling_experiment(inst, landscape, steps=resample_steps or int(steps),
                                                     device=device, tolerances=tolerances)
    if bench:
        result["bench_resampling"] = bench_resampling(seed=seed, device=device)
    result["seconds"] = time.perf_counter() - t_all
    return result


def summary_lines(res: dict[str, Any]) -> list[str]:
    """A human summary of a cross-check result."""
    lines = [f"instance {res['name']}: activation {res['activation']}, {res['starts']} gradient starts "
             f"({res['training']['optimizer']}, {res['training']['steps']} steps, lr {res['training']['lr']:g}, "
             f"{res['training']['seconds']:.1f} s on {res['training']['device']}); "
             f"landscape global value {fmt_value(res['global_value'])}"]
    oc = res["outcome_counts"]
    lines.append("outcomes: " + ", ".join(f"{o} {res['outcomes'][o]:.2%} ({oc[o]})" for o in OUTCOMES))
    for scheme, b in res["by_init"].items():
        lines.append(f"  init {scheme:6s}: " + ", ".join(f"{o} {b['outcomes'][o]:.2%}" for o in OUTCOMES))
    lines.append(f"agreements with the piece's ACS value: {res['agreements']}; disagreements: {res['disagreements']}; "
                 f"unmatched (landscape has no value for the piece): {res['unmatched']}")
    lines.append("where the starts end (piece: landscape class, ACS loss -> starts by outcome):")
    for p in res["pieces"][:15]:
        c = {k: v for k, v in p["counts"].items() if v}
        lines.append(f"  {p['key']:24s} {p['landscape_class']!s:13s} {fmt_value(p['landscape_loss']):12s} -> {c}")
    if len(res["pieces"]) > 15:
        lines.append(f"  ... {len(res['pieces']) - 15} more pieces in the JSON")
    for u in res.get("unreached_pieces", []):
        lines.append(f"  never reached: {u['key']} ({u['class']}, L~ = {u['loss']:.6g}; the landscape's point has "
                     f"strict slack {u['slack']:.3g})")
    for f in res["flagged"]:
        v = f.get("acs_recheck", {}).get("verdict", "not rechecked")
        lines.append(f"FLAGGED {f['status']}: {f['starts']} starts in {f['piece']} at L~ = {f['gd_loss']:.6g} "
                     f"(landscape: {f['landscape_class']}, {fmt_value(f['landscape_loss'])}): {v}")
    rs = res.get("resampling")
    if rs and rs.get("experiments"):
        s = rs["summary"]
        lines.append(f"resampling: {s['spurious_with_dead']} spurious minima with a dead latent; without resampling "
                     f"{s['stayed_without_resampling']} stayed (max gradient norm there {s['max_grad_norm_at_spurious']:.2g})")
        for sc in rs["scales"]:
            t = s[f"scale_{sc:g}"]
            lines.append(f"  resample at encoder scale {sc:g}: reached global {t['reached_global']}, lowered the loss "
                         f"{t['lowered_loss']}, mean loss drop {t['mean_loss_drop']:.4g}")
    elif rs is not None:
        lines.append(f"resampling: {rs.get('note')}")
    b = res.get("bench_resampling")
    if b:
        lines.append(f"bench (Fig. 7 analogue): final MSE without resampling "
                     f"{b['runs']['without_resampling']['final_mse_full_data']:.5g}, with "
                     f"{b['runs']['with_resampling']['final_mse_full_data']:.5g} (dead fraction "
                     f"{b['runs']['without_resampling']['final_dead_fraction']:.2%} -> "
                     f"{b['runs']['with_resampling']['final_dead_fraction']:.2%})")
    return lines
