"""The report's landscape section (results of sdlscape landscape on the canonical instances)."""
from __future__ import annotations


from sdlscape.pipeline.document import Heading, Paragraph, Table
from sdlscape.pipeline.sections._common import add_figure

def blocks(report: dict) -> list:
    lands = report.get("landscapes", {})
    if not lands:
        return []
    blocks: list = [Heading("Landscapes of small instances"),
                    Paragraph("Every activation-pattern piece enumerated (cells of the hyperplane arrangement, "
                              "pieces up to latent permutation) and solved by alternating convex search from "
                              "several starts. A piece's loss is an upper bound on its minimum; the global value "
                              "is the lowest certified partial optimum found.")]
    rows = []
    for name, land in lands.items():
        s = land["summary"]
        c = s.get("counts", {})
        rows.append([name, s["activation"]["name"] + (f"(k={s['activation']['k']})" if "k" in s["activation"] else ""),
                     s.get("n"), s.get("n_p"), s.get("n_latents"), s.get("cells_per_latent"), s.get("pieces"),
                     s.get("global_value"), c.get("global"), c.get("spurious"), c.get("leaves_region"),
                     c.get("inconclusive")])
    blocks.append(Table(["instance", "activation", "n", "n_p", "n_latents", "cells/latent", "pieces", "global value",
                         "global", "spurious", "leaves region", "inconclusive"], rows))
    for name in lands:
        add_figure(blocks, report, f"landscape_{name}", f"Pieces of {name} by ACS loss, coloured by class.")
    return blocks
