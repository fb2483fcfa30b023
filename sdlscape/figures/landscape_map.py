"""Landscape map: every activation-pattern piece by its value, coloured by class (global / spurious / ...).

A piece's value is read from the landscape result (the certified infimum, else the ACS upper bound); its
lower bound is drawn as a bar, and a diamond marks an infimum on the region's boundary. The legend and the
count of pieces without a value sit outside the axes, so they cover no data; pattern labels are the x tick
labels (one slot per piece), so they cannot overlap each other or be clipped. Draws; computes nothing.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.figures._common import CLASS_COLOURS, new_figure, save
from sdlscape.formatting import value

LABELLED_PIECES = 40
"""At most this many pieces are named by their patterns (tick labels)."""


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def build(landscape: dict, title: str | None = None):
    """The figure and its artists: (fig, ax, {"points": [...], "note": Text or None, "legend": Legend})."""
    pieces = sorted((p for p in landscape["pieces"] if _number(p.get("loss"))), key=lambda p: p["loss"])
    other = [p for p in landscape["pieces"] if not _number(p.get("loss"))]
    labelled = len(pieces) <= LABELLED_PIECES
    longest = max((len(str(p["pattern"]).replace(" ", "")) for p in pieces), default=0) if labelled else 0
    fig, ax = new_figure(max(7.0, 0.28 * len(pieces) + 3.5) if labelled else 7.0, 4.0)
    points = []
    for cls, colour in CLASS_COLOURS.items():
        for on_boundary, marker in ((False, "o"), (True, "D")):
            pts = [(i, p["loss"], p.get("multiplicity", 1)) for i, p in enumerate(pieces)
                   if p.get("class") == cls and bool(p.get("infimum_on_boundary")) == on_boundary]
            if not pts:
                continue
            xs, ys, ms = zip(*pts)
            n_cls = sum(p.get("class") == cls for p in pieces)
            label = None if on_boundary and any(p.get("class") == cls and not p.get("infimum_on_boundary")
                                                for p in pieces) else f"{cls} ({n_cls})"
            points.append(ax.scatter(xs, ys, s=[18 + 4 * min(m, 30) for m in ms], c=colour, marker=marker,
                                     label=label, edgecolors="k", linewidths=0.3, alpha=0.85, zorder=3))
    lows = [(i, p["lower_bound"]) for i, p in enumerate(pieces) if _number(p.get("lower_bound"))]
    if lows:
        xs, ys = zip(*lows)
        ax.scatter(xs, ys, marker="_", s=120, c="k", linewidths=1.0, label="lower bound", zorder=2)
    if any(p.get("infimum_on_boundary") for p in pieces):
        ax.scatter([], [], marker="D", c="w", edgecolors="k", linewidths=0.6, label="infimum on the boundary")
    gv = landscape.get("summary", {}).get("global_value")
    if _number(gv):
        ax.axhline(gv, color=CLASS_COLOURS["global"], lw=0.8, ls="--", label=f"global value {value(gv)}", zorder=1)
    if labelled and pieces:
        ax.set_xticks(range(len(pieces)))
        ax.set_xticklabels([str(p["pattern"]).replace(" ", "") for p in pieces], rotation=90,
                           fontsize=7 if longest < 24 else 6, family="monospace")
        ax.set_xlabel("piece (pattern: latent sets of feature indices; sorted by value)")
    else:
        ax.set_xlabel("piece (sorted by value)")
    ax.set_xlim(-0.7, max(len(pieces), 1) - 0.3)
    ax.margins(y=0.08)
    ax.set_ylabel("piece value: certified infimum of L~\n(else the ACS upper bound); marker size ~ multiplicity",
                  fontsize=8)
    ax.set_title(title or f"Activation-pattern pieces of {landscape.get('instance', 'the instance')}")
    legend = ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    note = None
    if other:
        note = ax.text(1.01, 0.0, f"+ {len(other)} pieces without a value\n(no interior point was valued)",
                       transform=ax.transAxes, ha="left", va="bottom", fontsize=7)
    return fig, ax, {"points": points, "note": note, "legend": legend}


def draw(landscape: dict, out_dir: str | Path, name: str = "landscape_map", title: str | None = None) -> list[Path]:
    """landscape: the `sdlscape landscape --json` result (summary + pieces)."""
    fig, _, _ = build(landscape, title)
    return save(fig, out_dir, name)
