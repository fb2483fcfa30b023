"""Fig. 7 analogue: bench SAE loss curves with and without resampling dead latents (paper Sec. 5.3).

A torch run on the Linear Representation Bench (train_sdl(resample_every=...)), and whether the
resampled latents die again.
"""
from __future__ import annotations

import time
from typing import Any


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
                        "l1_coef": l1_coef, "target_l0_factor": target_l0_factor, "resample_every": resample_every,
                        "seed": seed, "trainer": "sdlscape.solvers.gradient.train_sdl (Adam lr 1e-3, batch 1024)"},
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
