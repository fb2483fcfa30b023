"""Fig. 7 analogue: training loss with and without resampling of dead latents.

Curves that lie on each other are drawn with distinct styles (solid under dashed) and the figure says how
far apart they are; data["note"] (what the resampled latents became) is printed in the panel.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save

STYLES = ({"lw": 3.0, "alpha": 0.5}, {"lw": 1.2, "ls": "--"}, {"lw": 1.2, "ls": ":"})


def max_relative_gap(curves: dict) -> float | None:
    """The largest relative difference between the first two curves at their common logged steps."""
    if len(curves) < 2:
        return None
    (a, b) = list(curves.values())[:2]
    common = sorted(set(a["step"]) & set(b["step"]))
    if not common:
        return None
    la, lb = dict(zip(a["step"], a["loss"])), dict(zip(b["step"], b["loss"]))
    return max(abs(la[s] - lb[s]) / max(abs(la[s]), 1e-30) for s in common)


def build(data: dict):
    """data: {"curves": {label: {"step": [...], "loss": [...]}}, "resample_steps": [...]?, "title": str?,
    "note": str?}."""
    fig, ax = new_figure(6.4, 4.2)
    for j, (label, c) in enumerate(data["curves"].items()):
        ax.plot(np.asarray(c["step"]), np.asarray(c["loss"]), color=f"C{j}", label=label, **STYLES[j % len(STYLES)])
    for i, s in enumerate(data.get("resample_steps", [])):
        ax.axvline(s, color="0.6", lw=0.6, ls=":", label="resampling" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title(data.get("title", "Resampling dead latents"), fontsize=9)
    lines = []
    gap = max_relative_gap(data["curves"])
    if gap is not None:
        lines.append(f"the two curves differ by at most {100 * gap:.1f}%" + (" (they coincide)" if gap < 0.01 else ""))
    if data.get("note"):
        lines.append(data["note"])
    if lines:
        ax.text(0.03, 0.04, "\n".join(lines), transform=ax.transAxes, fontsize=7.5, va="bottom",
                bbox={"facecolor": "white", "edgecolor": "0.8", "alpha": 0.9})
    ax.legend(fontsize=8, loc="upper right")
    return fig


def draw(data: dict, out_dir: str | Path, name: str = "fig7_resampling") -> list[Path]:
    return save(build(data), out_dir, name)
