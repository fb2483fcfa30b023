"""Cross-check outcomes: where gradient descent from random starts ends, by class and initialization."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdlscape.figures._common import CLASS_COLOURS, new_figure, save

ORDER = ("global", "spurious", "leaves_region", "not_converged")


def draw(results: dict[str, dict], out_dir: str | Path, name: str = "crosscheck_outcomes") -> list[Path]:
    """results: {label: crosscheck result} with result["outcomes"] = {class: fraction}."""
    labels = list(results)
    fig, ax = new_figure(max(5.0, 1.6 * len(labels) + 2), 4.0)
    bottom = np.zeros(len(labels))
    for cls in ORDER:
        vals = np.array([float(results[lab]["outcomes"].get(cls, 0.0)) for lab in labels])
        ax.bar(labels, vals, bottom=bottom, color=CLASS_COLOURS[cls], label=cls, edgecolor="k", linewidth=0.3)
        for x, (v, b) in enumerate(zip(vals, bottom)):
            if v >= 0.04:
                ax.text(x, b + v / 2, f"{100 * v:.1f}%", ha="center", va="center", fontsize=8)
        bottom += vals
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("fraction of starts")
    starts = {results[lab].get("starts") for lab in labels}
    ax.set_title(f"Gradient descent on L~ from random starts ({'/'.join(map(str, sorted(s for s in starts if s)))} starts)")
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return save(fig, out_dir, name)
