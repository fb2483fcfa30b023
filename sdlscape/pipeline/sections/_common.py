"""Helpers shared by the report's sections: figures by name."""
from __future__ import annotations

from sdlscape.pipeline.document import Figure


def figure(report: dict, name: str, caption: str) -> Figure | None:
    paths = report.get("figures", {}).get(name)
    if not paths:
        return None
    png = next((p for p in paths if p.endswith(".png")), None)
    return Figure(png, caption) if png else None


def add_figure(blocks: list, report: dict, name: str, caption: str) -> None:
    """Append the figure `name` if the report drew it."""
    f = figure(report, name, caption)
    if f:
        blocks.append(f)
