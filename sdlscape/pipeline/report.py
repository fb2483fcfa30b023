"""The report of a reproduction: figures drawn from its results, and the document (Markdown / HTML).

Every number in the report is read from the results; the paper's numbers appear only in columns
labelled "paper". Each section lives in pipeline/sections/.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.pipeline.document import Document, Heading, Paragraph, Table
from sdlscape.pipeline.sections import bench, crosscheck, encoder, landscape, real, theory, verdicts


def draw_figures(report: dict, folder: Path) -> dict[str, list[Path]]:
    """Draw every figure whose data the report holds; returns {figure name: [png, pdf]}."""
    from sdlscape.figures import (
        bench3d,
        crosscheck_outcomes,
        landscape_map,
        recovery_curve,
        resampling,
        thm31_bound,
        zero_loss,
    )

    folder = Path(folder)
    out: dict[str, list[Path]] = {}
    if report.get("fig4"):
        out["fig4_zero_loss"] = zero_loss.draw(report["fig4"], folder)
    for name, land in report.get("landscapes", {}).items():
        out[f"landscape_{name}"] = landscape_map.draw(land, folder, name=f"landscape_{name}",
                                                      title=f"Pieces of {name} ({land['summary']['activation']['name']})")
    if report.get("crosscheck"):
        out["crosscheck_outcomes"] = crosscheck_outcomes.draw(report["crosscheck"], folder)
    data = bench.recovery_curve_data(report)
    if data:
        out["fig6_recovery_curve"] = recovery_curve.draw(data, folder)
    data = crosscheck.resampling_data(report)
    if data:
        out["fig7_resampling"] = resampling.draw(data, folder)
    if report.get("encoder"):
        from sdlscape.figures import encoder_curves

        out["encoder_curves"] = encoder_curves.draw(report["encoder"], folder)
    if report.get("bench3d"):
        out["fig9_bench3d"] = bench3d.draw(report["bench3d"], folder)
    if report.get("thm31"):
        out["thm31_bound"] = thm31_bound.draw(report["thm31"], folder)
    if report.get("real", {}).get("top_examples"):
        from sdlscape.figures import top_activations

        out["top_activations"] = top_activations.draw(report["real"], folder)
    return out


# ---------------------------------------------------------------------------------------------
# The document


SECTION_OF_STAGE = {"verify": "Verdicts", "landscape": "Landscapes", "crosscheck": "Gradient descent vs the exact map",
                    "bench": "Linear Representation Bench", "real": "Real representations"}


def header_blocks(report: dict) -> list:
    """What the results are, and how long they took to compute (from the stage records, not this invocation)."""
    prov = report.get("provenance", {})
    stages = report.get("stages", {})
    compute = sum(r.get("seconds", 0.0) for r in stages.values())
    cached = [n for n, r in stages.items() if r.get("cached")]
    text = (f"Scale {report.get('scale', {}).get('name')}, device {prov.get('device', report.get('device'))}, "
            f"seed {report.get('seed')}, git {prov.get('git_commit')}. Compute time of these results: "
            f"{compute:.0f} s over {len(stages)} stages"
            + (f" ({len(cached)} reused from the cache, computed earlier; this invocation took "
               f"{prov.get('seconds', 0):.0f} s)" if cached else f" (this invocation: {prov.get('seconds', 0):.0f} s)")
            + ". Numbers are from these runs; paper numbers are in columns labelled 'paper'.")
    blocks: list = [Paragraph(text)]
    skipped = report.get("skipped") or []
    if skipped:
        blocks.append(Paragraph("Not in this report (stages not run: --only " + ", ".join(
            s for s in SECTION_OF_STAGE if s not in skipped) + "): " + "; ".join(
            f"{SECTION_OF_STAGE.get(s, s)} ({s})" for s in skipped) + "."))
    if stages:
        blocks.append(Table(["stage", "compute seconds", "computed (UTC)", "this invocation"],
                            [[n, f"{r.get('seconds', 0):.1f}", r.get("computed_utc") or "", "cached" if r.get("cached")
                              else "computed"] for n, r in stages.items()], "compute time per stage"))
    return blocks


def build_document(report: dict) -> Document:
    prov = report.get("provenance", {})
    doc = Document("sdlscape reproduction of arXiv:2512.05534")
    for section in (header_blocks, verdicts.blocks, landscape.blocks, crosscheck.blocks, bench.blocks, encoder.blocks,
                    real.blocks, theory.blocks):
        for b in section(report):
            doc.add(b)
    if prov:
        doc.add(Heading("Provenance"))
        doc.add(Table(["key", "value"], [[k, v if not isinstance(v, dict) else ", ".join(f"{a} {b}" for a, b in v.items())]
                                         for k, v in prov.items()]))
    return doc
