"""Fig. 6 analogue: ground-truth recovery M_GT as a function of the threshold tau, with and without anchoring."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def _panel(ax, taus, curves: dict, paper: dict, title: str) -> None:
    methods = list(dict.fromkeys(label.removesuffix("+FA") for label in curves))
    for label, ys in curves.items():
        colour = f"C{methods.index(label.removesuffix('+FA')) % 10}"  # one colour per method, dashed = anchored
        ax.plot(taus, 100 * np.asarray(ys, dtype=float), ls="--" if label.endswith("+FA") else "-", color=colour,
                label=label)
    for label, (tau, v) in paper.items():
        base = label.removesuffix("+FA")
        colour = f"C{methods.index(base) % 10}" if base in methods else "k"
        ax.plot([tau], [100 * v], marker="*" if not label.endswith("+FA") else "P", ms=10, color=colour,
                markeredgecolor="k", ls="none")
    if paper:  # one legend entry for all of the paper's points, in the method's colour
        ax.plot([], [], marker="*", ms=10, color="w", markeredgecolor="k", ls="none",
                label="paper, plain (encoder rows, paper scale)")
        ax.plot([], [], marker="P", ms=9, color="w", markeredgecolor="k", ls="none", label="paper, anchored")
    ax.set_xlabel("tau (threshold on best |cos| with a feature)")
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=9)


def build(data: dict):
    """The figure for data = {"taus": [...], "curves": {label: [M_GT(tau) ...]}, "curves_decoder": {...}?,
    "paper": {label: [tau, M_GT]}?, "title": str?}; labels ending in "+FA" are drawn dashed (feature
    anchoring); the paper's points are stars (plain) and plus signs (anchored). With decoder curves, a second
    panel. The legend sits outside the axes, right of them, so that it covers no curve."""
    taus = np.asarray(data["taus"], dtype=float)
    dec = data.get("curves_decoder")
    fig, axes = new_figure(6.0 if not dec else 10.5, 4.0, ncols=1 if not dec else 2, sharey=True, squeeze=False)
    paper = {k: tuple(v) for k, v in (data.get("paper") or {}).items()}
    _panel(axes[0][0], taus, data["curves"], paper, "encoder rows (the paper's metric)" if dec else
           data.get("title", "Ground-truth recovery vs threshold"))
    if dec:
        _panel(axes[0][1], taus, dec, paper, "decoder columns")
        fig.suptitle(data.get("title", "Ground-truth recovery vs threshold"), fontsize=10)
    axes[0][0].set_ylabel("M_GT (%)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return fig


def draw(data: dict, out_dir: str | Path, name: str = "fig6_recovery_curve") -> list[Path]:
    return save(build(data), out_dir, name)
