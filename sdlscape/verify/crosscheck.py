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

Reading end points: verify/end_points.py; ACS re-checks: verify/acs_recheck.py.
Resampling (paper Sec. 5.3, verify/resampling.py): from every spurious partial minimum with a dead latent, gradient
descent is run as is (it stays: the gradient vanishes there), and after re-initialising the dead
latent toward the worst-reconstructed feature d (w_E^i = s * mean alive encoder norm * w_p^d,
w_D^i = w_r^d, as in the usual SAE resampling), showing where training goes and the loss drop.
The bench analogue (train_sdl(resample_every=...)) is sdlscape.bench.resampling.
"""
from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from sdlscape.errors import InputError
from sdlscape.formatting import value as fmt_value
from sdlscape.theory.instance import Instance
from sdlscape.verify.acs_recheck import recheck_with_acs
from sdlscape.verify.end_points import (  # noqa: F401 - re-exported: the cross-check's public names
    DEFAULT_EPS,
    OUTCOMES,
    VALUED,
    boundary_distance,
    check_landscape,
    classify_points,
    landscape_index,
    landscape_point_slacks,
    read_masks,
)
from sdlscape.verify.resampling import resample_dead, resampling_experiment  # noqa: F401 - re-exported


def _fractions(counts: dict[str, int], total: int) -> dict[str, float]:
    return {o: (counts.get(o, 0) / total if total else 0.0) for o in OUTCOMES}


def run_crosscheck(inst: Instance, starts: int, steps: int = 10000, device: str = "cpu", seed: int = 0,
                   landscape: dict | None = None, init: str = "both", progress: bool = False, *,
                   lr: float = 1e-2, optimizer: str = "adam", eps: float | None = None, margin: float | None = None,
                   grad_tol: float = 1e-5, loss_tol: float = 1e-6, max_acs_rechecks: int = 12,
                   resampling: bool = True, resample_steps: int | None = None, landscape_starts: int = 4) -> dict[str, Any]:
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
    for j, ((key, st, _lv), idx) in enumerate(sorted(clusters.items(), key=lambda kv: -len(kv[1]))):
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
