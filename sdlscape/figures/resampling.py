"""Fig. 7 analogue: training loss with and without resampling of dead latents."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def draw(data: dict, out_dir: str | Path, name: str = "fig7_resampling") -> list[Path]:
    """data: {"curves": {label: {"step": [...], "loss": [...]}}, "resample_steps": [...]?, "title": str?}."""
    fig, ax = new_figure(6.0, 4.0)
    for label, c in data["curves"].items():
        ax.plot(np.asarray(c["step"]), np.asarray(c["loss"]), label=label)
    for s in data.get("resample_steps", []):
        ax.axvline(s, color="0.6", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title(data.get("title", "Resampling dead latents"), fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, out_dir, name)
