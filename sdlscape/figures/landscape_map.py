"""Landscape map: every activation-pattern piece by its ACS loss, coloured by class (global / spurious / ...)."""
from __future__ import annotations

from pathlib import Path

from sdlscape.figures._common import CLASS_COLOURS, new_figure, save


def draw(landscape: dict, out_dir: str | Path, name: str = "landscape_map", title: str | None = None) -> list[Path]:
    """landscape: the `sdlscape landscape --json` result (summary + pieces)."""
    pieces = [p for p in landscape["pieces"] if isinstance(p.get("loss"), (int, float))]
    other = [p for p in landscape["pieces"] if not isinstance(p.get("loss"), (int, float))]
    pieces.sort(key=lambda p: p["loss"])
    fig, ax = new_figure(7.0, 4.0)
    for cls, colour in CLASS_COLOURS.items():
        pts = [(i, p["loss"], p.get("multiplicity", 1)) for i, p in enumerate(pieces) if p.get("class") == cls]
        if pts:
            xs, ys, ms = zip(*pts)
            ax.scatter(xs, ys, s=[18 + 4 * min(m, 30) for m in ms], c=colour, label=f"{cls} ({len(pts)})",
                       edgecolors="k", linewidths=0.3, alpha=0.85)
    if len(pieces) <= 12:  # few pieces: name each by its pattern (latent sets of feature indices)
        for i, p in enumerate(pieces):
            ax.annotate(str(p["pattern"]).replace(" ", ""), (i, p["loss"]), textcoords="offset points",
                        xytext=(4, 6), fontsize=7, rotation=20)
        ax.set_xticks(range(len(pieces)))
        ax.margins(x=0.1, y=0.12)
    gv = landscape.get("summary", {}).get("global_value")
    if isinstance(gv, (int, float)):
        ax.axhline(gv, color=CLASS_COLOURS["global"], lw=0.8, ls="--", label=f"global value {gv:.3g}")
    ax.set_xlabel("piece (sorted by ACS loss; marker size ~ latent-permutation multiplicity)")
    ax.set_ylabel("L~ at the piece's best point (upper bound on its minimum)")
    if other:
        ax.text(0.99, 0.98, f"+ {len(other)} pieces without a loss\n(no start stayed inside its region)",
                transform=ax.transAxes, ha="right", va="top", fontsize=8)
    ax.set_title(title or f"Activation-pattern pieces of {landscape.get('instance', 'the instance')}")
    ax.legend(fontsize=8, loc="upper left")
    return save(fig, out_dir, name)
