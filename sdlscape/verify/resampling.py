"""Resampling of dead latents at exact spurious partial minima (paper Sec. 5.3).

From every spurious partial minimum with a dead latent in a landscape, gradient descent is run as
is (it stays: the gradient vanishes there), and after re-initialising the dead latent toward the
worst-reconstructed feature d (w_E^i = s * mean alive encoder norm * w_p^d, w_D^i = w_r^d, as in
the usual SAE resampling), showing where training goes and the loss drop. Each start is the
landscape's point rescaled to ||W_E|| = ||W_D|| where sigma is positively homogeneous (`balanced_point`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss_per_feature
from sdlscape.verify.end_points import classify_points, landscape_index


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


def balanced_point(inst: Instance, W_E: np.ndarray, W_D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same point of L~ with ||W_E||_F = ||W_D||_F: (c W_E, W_D / c) has the same codes up to c and the same
    L~ when sigma is positively homogeneous (sigma(c z) = c sigma(z), c > 0; every latent scaled alike, so TopK's
    ordering is kept). A landscape's representative can sit at any c (the certifier's interior points have
    ||W_E|| ~ eps and ||W_D|| ~ 1 / eps), and a step of lr / (curvature bound) is then tiny: balancing keeps the
    gradient-descent experiment about the point, not about its scale. JumpReLU (not homogeneous): unchanged."""
    nE, nD = float(np.linalg.norm(W_E)), float(np.linalg.norm(W_D))
    if not inst.activation.positively_homogeneous or nE == 0.0 or nD == 0.0:
        return W_E, W_D
    c = float(np.sqrt(nD / nE))
    return W_E * c, W_D / c


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
        W_E, W_D = balanced_point(inst, np.asarray(p["W_E"], dtype=float), np.asarray(p["W_D"], dtype=float))
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
