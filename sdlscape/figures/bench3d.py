"""Fig. 9 analogue: a 3-D view of a small Linear Representation Bench (feature directions and samples)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save


def build(data: dict):
    """The figure for data = {"W_p": 3 x n unit columns, "samples": N x 3, "max_interference": float,
    "p_active": float}. Feature d is drawn as the segment from 0 to L w_p^d (L = arrow_length(samples), stated in
    the title),
    one colour per feature, named in a legend outside the axes (no labels at the tips, which crowd when
    features interfere)."""
    W = np.asarray(data["W_p"], dtype=float)
    X = np.asarray(data["samples"], dtype=float)
    L = arrow_length(X)
    fig, ax = new_figure(7.0, 5.0, subplot_kw={"projection": "3d"})
    ax.scatter(X[:, 0], X[:, 1], X[:, 2], s=4, alpha=0.25, c="#777777", depthshade=False,
               label="samples x_p = W_p x")
    colours = [f"C{(j + 1) % 10}" for j in range(W.shape[1])]
    for j, w in enumerate(W.T):
        ax.plot([0, L * w[0]], [0, L * w[1]], [0, L * w[2]], color=colours[j], lw=3.0, marker="o", markevery=[1],
                label=f"w_p^{j + 1} (feature {j + 1})")
    lim = 1.1 * max(L, float(np.quantile(np.abs(X), 0.98)) if X.size else L)
    for set_lim in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        set_lim(-lim, lim)  # the same scale on every axis, centred on 0, so that directions are not distorted
    ax.set_xlabel("x_p[1]", labelpad=2)
    ax.set_ylabel("x_p[2]", labelpad=2)
    ax.set_zlabel("x_p[3]", labelpad=2)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(_locator())
    ax.tick_params(labelsize=7, pad=0)
    ax.set_title(f"{W.shape[1]} features in R^3 (directions drawn at length {L:.2g})\n"
                 f"max interference {data.get('max_interference', float('nan')):.2f}, "
                 f"p_active {data.get('p_active', float('nan')):g}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.08, 1.0), borderaxespad=0.0)
    return fig


def arrow_length(X: np.ndarray) -> float:
    """The length the unit feature directions are drawn at: the 90th percentile of the non-zero samples' norms,
    so the arrows span the cloud instead of sitting squeezed at its centre (1 without samples)."""
    norms = np.linalg.norm(X, axis=1) if X.size else np.zeros(0)
    norms = norms[norms > 0]
    return float(np.quantile(norms, 0.9)) if norms.size else 1.0


def _locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4)


def draw(data: dict, out_dir: str | Path, name: str = "fig9_bench3d") -> list[Path]:
    return save(build(data), out_dir, name)
