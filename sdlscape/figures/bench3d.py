"""Fig. 9 analogue: a 3-D view of a small Linear Representation Bench (feature directions and samples)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def draw(data: dict, out_dir: str | Path, name: str = "fig9_bench3d") -> list[Path]:
    """data: {"W_p": 3 x n unit columns, "samples": N x 3, "max_interference": float, "p_active": float}."""
    W = np.asarray(data["W_p"], dtype=float)
    X = np.asarray(data["samples"], dtype=float)
    fig, ax = new_figure(5.5, 5.0, subplot_kw={"projection": "3d"})
    ax.scatter(X[:, 0], X[:, 1], X[:, 2], s=7, alpha=0.6, c="#1b4f8a", depthshade=False, label="samples x_p = W_p x")
    scale = float(np.percentile(np.linalg.norm(X, axis=1), 75)) if len(X) else 1.0
    for j, w in enumerate(W.T):
        ax.plot([0, scale * w[0]], [0, scale * w[1]], [0, scale * w[2]], color="#d95f02", lw=1.5, alpha=0.8)
        ax.text(*(1.08 * scale * w), f"f{j + 1}", fontsize=8)
    ax.set_title(f"{W.shape[1]} features in R^3, max interference {data.get('max_interference', float('nan')):.2f}, "
                 f"p_active {data.get('p_active', float('nan')):g}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return save(fig, out_dir, name)
