"""Fig. 6 analogue: ground-truth recovery M_GT as a function of the threshold tau, with and without anchoring."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def build(data: dict):
    """The figure for data = {"taus": [...], "curves": {label: [M_GT(tau) ...]}, "title": str?}; labels ending
    in "+FA" are drawn dashed (feature anchoring). The legend sits outside the axes, right of them, so that it
    covers no curve."""
    taus = np.asarray(data["taus"], dtype=float)
    fig, ax = new_figure(6.0, 4.0)
    methods = list(dict.fromkeys(label.removesuffix("+FA") for label in data["curves"]))
    for label, ys in data["curves"].items():
        colour = f"C{methods.index(label.removesuffix('+FA')) % 10}"  # one colour per method, dashed = anchored
        ax.plot(taus, 100 * np.asarray(ys, dtype=float), ls="--" if label.endswith("+FA") else "-", color=colour,
                label=label)
    ax.set_xlabel("threshold tau on best |cos| with a ground-truth feature")
    ax.set_ylabel("M_GT (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(data.get("title", "Ground-truth recovery vs threshold"), fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def draw(data: dict, out_dir: str | Path, name: str = "fig6_recovery_curve") -> list[Path]:
    return save(build(data), out_dir, name)
