"""Thm 3.1: the measured gap |L_SDL - L~| (with its 95% CI) against the bound n^2 C (1 - S)^2 (eq. 12)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def draw(data: dict, out_dir: str | Path, name: str = "thm31_bound") -> list[Path]:
    """data: {"series": {label: {"p_active": [...], "gap": [...], "ci95_half": [...], "bound_lo": [...],
    "bound_hi": [...]}}, "title": str?}. The bound is drawn as a band between C = the largest error
    seen (bound_lo) and a proven upper bound on C (bound_hi)."""
    fig, ax = new_figure(6.5, 4.2)
    for j, (label, s) in enumerate(data["series"].items()):
        colour = f"C{j}"
        p = np.asarray(s["p_active"], dtype=float)
        gap = np.abs(np.asarray(s["gap"], dtype=float))
        ci = np.asarray(s.get("ci95_half", np.zeros_like(gap)), dtype=float)
        ax.errorbar(p, np.maximum(gap, 1e-300), yerr=ci, fmt="o-", color=colour, ms=4,
                    label=f"{label}: measured |L_SDL - L~|")
        ax.fill_between(p, s["bound_lo"], s["bound_hi"], color=colour, alpha=0.15,
                        label=f"{label}: bound n^2 C (1-S)^2")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("p_active = 1 - S (all levels satisfy 1 - S <= 1/n)")
    ax.set_ylabel("loss gap")
    ax.set_title(data.get("title", "Thm 3.1 (eq. 12): loss approximation over sparsity"), fontsize=10)
    ax.legend(fontsize=7)
    return save(fig, out_dir, name)
