"""Shared figure plumbing: an Agg figure, and atomic PNG + PDF output."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sdlscape.storage import write_bytes  # noqa: E402

CLASS_COLOURS = {"global": "#1b9e77", "spurious": "#d95f02", "leaves_region": "#7570b3",
                 "inconclusive": "#999999", "not_converged": "#e7298a"}


def new_figure(width: float = 6.0, height: float = 4.0, **kw):
    return plt.subplots(figsize=(width, height), **kw)


def save(fig, out_dir: str | Path, name: str) -> list[Path]:
    """Write fig as name.png and name.pdf in out_dir (atomically) and close it."""
    out_dir = Path(out_dir)
    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150, bbox_inches="tight")
        path = out_dir / f"{name}.{ext}"
        write_bytes(path, buf.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths
