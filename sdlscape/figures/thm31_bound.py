"""Thm 3.1: the measured gap |L_SDL - L~| (Monte Carlo, with CI) against the bound n^2 C (1 - S)^2 (eq. 12)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def draw(data: dict, out_dir: str | Path, name: str = "thm31_bound") -> list[Path]:
    """data: {"p_active": [...], "gap": [...], "gap_ci": [[lo, hi], ...]?, "bound": [...], "label": str?}."""
    p = np.asarray(data["p_active"], dtype=float)
    gap = np.asarray(data["gap"], dtype=float)
    fig, ax = new_figure(6.0, 4.0)
    if data.get("gap_ci"):
        ci = np.asarray(data["gap_ci"], dtype=float)
        ax.fill_between(p, np.maximum(ci[:, 0], 1e-300), ci[:, 1], alpha=0.25, label="95% CI of the gap")
    ax.plot(p, gap, "o-", label="measured |L_SDL - L~| (Monte Carlo)")
    bound = np.asarray(data["bound"], dtype=float)
    ok = np.isfinite(bound)
    ax.plot(p[ok], bound[ok], "s--", label="bound n^2 C (1-S)^2 (eq. 12)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("p_active = 1 - S")
    ax.set_ylabel("loss gap")
    ax.set_title(data.get("label", "Thm 3.1: loss approximation"), fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, out_dir, name)
