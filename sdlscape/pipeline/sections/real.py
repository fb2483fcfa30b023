"""The report's real-representation section (Table 2 analogue)."""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, fmt, pct
from sdlscape.pipeline.sections._common import add_figure


def blocks(report: dict) -> list:
    real = report.get("real")
    if not real:
        return []
    blocks: list = [Heading(f"Real representations: {real.get('table')} (Table 2 analogue)"),
                    Paragraph(real.get("description", "Class-mean anchors of some classes; recovery measured "
                                                      "against the class-mean directions of held-out classes. "
                                                      "The paper's columns are CLIP ViT-B/32 on ImageNet-1K, a "
                                                      "different dataset."))]
    rows = [[r["method"], r["anchoring"], pct(r["M_GT"]), fmt(r["M_IP"], 3), fmt(r.get("M_IP_other_latents"), 3),
             pct(r.get("paper_M_GT")), fmt(r.get("paper_M_IP"), 3), fmt(r.get("anchor_cos"), 3),
             fmt(r.get("anchor_precision"), 3), fmt(r.get("anchor_recall"), 3)] for r in real["rows"]]
    blocks.append(Table(["method", "anchoring", "ours M_GT", "ours M_IP", "ours M_IP without anchored latents",
                         "paper M_GT (CLIP/ImageNet)", "paper M_IP (CLIP/ImageNet)", "anchored latent cos to class mean",
                         "anchored latent precision", "anchored latent recall"], rows))
    add_figure(blocks, report, "top_activations", "Top-activating examples of a few latents, with and without anchoring.")
    return blocks
