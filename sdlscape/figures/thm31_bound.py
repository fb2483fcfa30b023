"""Thm 3.1: the measured gap |L_SDL - L~| (with its 95% CI) against the bound n^2 C (1 - S)^2 (eq. 12).

One panel per series, so that the bound bands (nearly equal between series) do not hide one another; the
points where the gap exceeds the bound (verdict "violated") are marked, and each panel gives the gap's
log-log slope over its smallest two p_active (2 = second order in p, 1 = first order).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save

VIOLATED = "#d62728"


def slope(p, gap) -> float | None:
    """d log(gap) / d log(p) between the two smallest p_active (the regime eq. 12 is about)."""
    p, gap = np.asarray(p, dtype=float), np.abs(np.asarray(gap, dtype=float))
    i = np.argsort(p)[:2]
    if len(i) < 2 or np.any(gap[i] <= 0) or p[i[0]] == p[i[1]]:
        return None
    return float(np.log(gap[i[1]] / gap[i[0]]) / np.log(p[i[1]] / p[i[0]]))


def build(data: dict):
    """data: {"series": {label: {"p_active", "gap", "ci95_half", "bound_lo", "bound_hi", "verdicts"?}}, "title"?}.
    The bound is a band between C = the largest error seen (bound_lo) and a proven upper bound on C (bound_hi)."""
    series = data["series"]
    fig, axes = new_figure(3.6 * len(series), 3.9, ncols=len(series), sharey=True, squeeze=False)
    for j, (ax, (label, s)) in enumerate(zip(axes[0], series.items())):
        colour = f"C{j}"
        p = np.asarray(s["p_active"], dtype=float)
        gap = np.abs(np.asarray(s["gap"], dtype=float))
        ci = np.asarray(s.get("ci95_half", np.zeros_like(gap)), dtype=float)
        ax.fill_between(p, s["bound_lo"], s["bound_hi"], color="0.6", alpha=0.35, lw=0,
                        label="bound n^2 C (1-S)^2")
        ax.errorbar(p, np.maximum(gap, 1e-300), yerr=ci, fmt="o-", color=colour, ms=4,
                    label="measured |L_SDL - L~|")
        verdicts = s.get("verdicts") or []
        bad = [i for i, v in enumerate(verdicts) if v == "violated"]
        if bad:
            ax.plot(p[bad], gap[bad], "X", color=VIOLATED, ms=9, zorder=5, label="exceeds the bound")
            ax.text(0.04, 0.96, f"{len(bad)} of {len(p)} levels above the bound", transform=ax.transAxes,
                    fontsize=8, color=VIOLATED, va="top")
        k = slope(p, gap)
        ax.set_title(label + ("" if k is None else f"\nslope at small p: {k:.2f}"), fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("p_active = 1 - S")
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("loss gap")
    fig.suptitle(data.get("title", "Thm 3.1 (eq. 12): loss approximation over sparsity"), fontsize=10)
    fig.tight_layout()
    return fig


def draw(data: dict, out_dir: str | Path, name: str = "thm31_bound") -> list[Path]:
    return save(build(data), out_dir, name)
