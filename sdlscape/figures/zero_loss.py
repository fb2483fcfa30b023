"""Fig. 4 analogue: a zero-loss dictionary in 2-D whose encoder and decoder directions are not the features;
with data["topk1"], a second row: TopK(1) at zero loss, whose decoder columns are forced onto the features."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import new_figure, save
from sdlscape.formatting import value


def _arrows(ax, V, colour, label, ls="-") -> list[tuple[np.ndarray, str, str]]:
    """Draw the columns of V as unit arrows; return (direction, label, colour) for the labels."""
    out = []
    for j, v in enumerate(V.T):
        n = np.linalg.norm(v)
        if n < 1e-12:
            continue
        u = v / n
        ax.annotate("", xy=u, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colour, lw=1.6, ls=ls))
        out.append((u, f"{label}{j + 1}", colour))
    return out


def _labels(ax, items, same: float = 0.999) -> None:
    """One label per direction: arrows that coincide (|cos| > same, e.g. a decoder column on a feature) share
    one text, "f1 = d1", instead of two texts printed over each other."""
    groups: list[list] = []
    for u, text, colour in items:
        g = next((g for g in groups if float(u @ g[0][0]) > same), None)
        (g.append((u, text, colour)) if g else groups.append([(u, text, colour)]))
    for g in groups:
        u = g[0][0]
        ha = "left" if u[0] > 0.3 else ("right" if u[0] < -0.3 else "center")
        ax.text(1.08 * u[0], 1.1 * u[1], " = ".join(t for _, t, _ in g), color=g[-1][2] if len(g) == 1 else "k",
                fontsize=8, ha=ha, va="center")


def _row(axes, W_p, W_E, W_D, label):
    for ax, V, colour, lab, title in ((axes[0], W_E.T, "#d95f02", "e", "encoder rows w_E^i"),
                                      (axes[1], W_D, "#7570b3", "d", "decoder columns w_D^i")):
        items = _arrows(ax, W_p, "k", "f") + _arrows(ax, V, colour, lab, ls="--")
        _labels(ax, items)
        ax.set_xlim(-1.75, 1.75)
        ax.set_ylim(-1.4, 1.4)
        ax.set_aspect("equal")
        ax.axhline(0, color="0.85", lw=0.5)
        ax.axvline(0, color="0.85", lw=0.5)
        ax.set_title(f"{label}{title} (dashed), features f (black)", fontsize=8)


def draw(data: dict, out_dir: str | Path, name: str = "fig4_zero_loss") -> list[Path]:
    """data: {"W_p": 2 x n, "W_E": n_q x 2, "W_D": 2 x n_q, "loss": float, "best_cosine": float?,
    "topk1": {"W_E", "W_D", "loss", "decoder_best_cos_min"}?}."""
    W_p, W_E, W_D = (np.asarray(data[k], dtype=float) for k in ("W_p", "W_E", "W_D"))
    t1 = data.get("topk1")
    fig, axes = new_figure(9.0, 3.4 if not t1 else 6.8, ncols=2, nrows=1 if not t1 else 2)
    axes = np.atleast_2d(axes)
    _row(axes[0], W_p, W_E, W_D, "ReLU: " if t1 else "")
    extra = f", best |cos| with a feature {data['best_cosine']:.3f}" if "best_cosine" in data else ""
    title = f"L~ = {value(data['loss'])} with no feature recovered{extra}"
    if t1:
        _row(axes[1], np.asarray(t1["W_p"], float), np.asarray(t1["W_E"], float), np.asarray(t1["W_D"], float),
             "TopK(1): ")
        title += (f";\nTopK(1) at L~ = {value(t1['loss'])}: decoder columns on features "
                  f"(least |cos| {float(t1['decoder_best_cos_min']):.3f})")
    fig.suptitle(title, fontsize=9)
    return save(fig, out_dir, name)
