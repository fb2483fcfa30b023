"""The report of a reproduction: figures drawn from its results, and the document (Markdown / HTML).

Every number in the report is read from the results; the paper's numbers appear only in columns
labelled "paper". Each section lives in pipeline/sections/.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.pipeline.document import Document, Heading, Paragraph, Table
from sdlscape.pipeline.sections import bench, crosscheck, landscape, real, theory, verdicts


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
    if "fig4" not in report:
        report["fig4"] = theory.fig4_data()
    if report["fig4"]:
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
    if report.get("bench3d"):
        out["fig9_bench3d"] = bench3d.draw(report["bench3d"], folder)
    if "thm31" not in report:
        report["thm31"] = theory.thm31_data(report.get("seed", 0))
    out["thm31_bound"] = thm31_bound.draw(report["thm31"], folder)
    if report.get("real", {}).get("top_examples"):
        from sdlscape.figures import top_activations

        out["top_activations"] = top_activations.draw(report["real"], folder)
    return out


# ---------------------------------------------------------------------------------------------
# The document


def build_document(report: dict) -> Document:
    prov = report.get("provenance", {})
    doc = Document("sdlscape reproduction of arXiv:2512.05534")
    doc.add(Paragraph(f"Scale {report.get('scale', {}).get('name')}, device {prov.get('device', report.get('device'))}, "
                      f"seed {report.get('seed')}, wall time {prov.get('seconds', 0):.0f} s, git "
                      f"{prov.get('git_commit')}, {prov.get('date_utc', '')}. Numbers are from this run; paper "
                      f"numbers are in columns labelled 'paper'."))
    for section in (verdicts, landscape, crosscheck, bench, real, theory):
        blocks = section.blocks(report)
        for b in blocks:
            doc.add(b)
    if prov:
        doc.add(Heading("Provenance"))
        doc.add(Table(["key", "value"], [[k, v if not isinstance(v, dict) else ", ".join(f"{a} {b}" for a, b in v.items())]
                                         for k, v in prov.items()]))
    return doc
