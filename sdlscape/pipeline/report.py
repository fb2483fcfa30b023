"""The report of a reproduction: figures drawn from its results, and the document (Markdown / HTML).

Every number in the report is read from the results; the paper's numbers appear only in columns
labelled "paper". Each section lives in pipeline/sections/.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.pipeline.document import Document, Heading, Paragraph, Table
from sdlscape.pipeline.sections import bench, crosscheck, encoder, findings, landscape, real, theory, verdicts

SUPPLEMENTARY = Path(__file__).resolve().parents[2] / "results" / "bench"
"""Committed results the report cites beside a run's own (a source checkout only; absent when installed)."""
SUPPLEMENTARY_BENCH = ("table1_medium_topk",)


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
    anchoring_results = anchoring_data(report)
    anchoring_figure = _optional_module("sdlscape.figures.anchoring")
    if anchoring_results and anchoring_figure is not None:
        out["anchoring"] = anchoring_figure.draw(anchoring_results, folder)
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
    cached = [n for n, r in stages.items() if r.get("cached") or _from_row_cache_only(r)]
    text = (f"Scale {report.get('scale', {}).get('name')}, device {prov.get('device', report.get('device'))}, "
            f"seed {report.get('seed')}, git {prov.get('git_commit')}. Compute time of these results: "
            f"{compute:.0f} s over {len(stages)} stages"
            + (f" ({len(cached)} reused from the cache, computed earlier; this invocation took "
               f"{prov.get('seconds', 0):.0f} s)" if cached else f" (this invocation: {prov.get('seconds', 0):.0f} s)")
            + ". Numbers are from these runs; paper numbers are in columns labelled 'paper'. The time of each "
              "stage is at the end.")
    blocks: list = [Paragraph(text)]
    skipped = report.get("skipped") or []
    if skipped:
        blocks.append(Paragraph("Not in this report (stages not run: --only " + ", ".join(
            s for s in SECTION_OF_STAGE if s not in skipped) + "): " + "; ".join(
            f"{SECTION_OF_STAGE.get(s, s)} ({s})" for s in skipped) + "."))
    return blocks


def stage_blocks(report: dict) -> list:
    stages = report.get("stages", {})
    if not stages:
        return []
    return [Heading("Compute time per stage"),
            Table(["stage", "compute seconds", "computed (UTC)", "this invocation"],
                  [[n, f"{r.get('seconds', 0):.1f}", r.get("computed_utc") or "", invocation(r)]
                   for n, r in stages.items()])]


def _from_row_cache_only(record: dict) -> bool:
    """A bench table assembled now whose every training was read back from the row cache (trained earlier)."""
    return record.get("trained_now") == 0 and bool(record.get("read_from_row_cache"))


def invocation(record: dict) -> str:
    """What this invocation did for a stage: reused it, assembled it from cached trainings, or computed it."""
    if record.get("cached"):
        return "cached"
    if _from_row_cache_only(record):
        return f"assembled from {record['read_from_row_cache']} trainings in the row cache (computed earlier)"
    if record.get("read_from_row_cache"):
        return f"computed ({record.get('trained_now')} trainings now, {record['read_from_row_cache']} from the row cache)"
    return "computed"


def load_supplementary(folder: Path | None = SUPPLEMENTARY) -> dict:
    """The committed results the report cites beside the run's own: medium-scale bench tables and the anchoring
    experiment (results/bench/anchoring*.json), read as they are; {} where the folder is absent."""
    from sdlscape.storage import read_json

    out: dict = {"bench": {}, "anchoring": {}}
    if folder is None or not Path(folder).is_dir():
        return out
    folder = Path(folder)
    for name in SUPPLEMENTARY_BENCH:
        if (folder / f"{name}.json").is_file():
            out["bench"][name] = read_json(folder / f"{name}.json")
    for f in sorted(folder.glob("anchoring*.json")):
        out["anchoring"][f.stem] = read_json(f)
    return out


def _optional_module(name: str):
    """A module another part of the project adds (e.g. sections/anchoring.py); None while absent."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module exists but fails to import: that is a bug, not an absence
            raise
        return None


def anchoring_data(report: dict, supplementary: dict | None = None) -> list:
    """The anchoring experiment's results: the run's own (report["anchoring"]), else the committed
    results/bench/anchoring*.json."""
    got = report.get("anchoring")
    if got:
        return got if isinstance(got, list) else [got]
    supplementary = load_supplementary() if supplementary is None else supplementary
    return list(supplementary.get("anchoring", {}).values())


def section_order(report: dict, supplementary: dict) -> list:
    """The report's sections in order: findings first, the stage times last. "anchoring" is rendered by
    sections/anchoring.py where that module exists."""
    order = [("header", header_blocks), ("findings", lambda r: findings.blocks(r, supplementary)),
             ("verdicts", verdicts.blocks), ("landscape", landscape.blocks), ("crosscheck", crosscheck.blocks),
             ("bench", bench.blocks)]
    anchoring = _optional_module("sdlscape.pipeline.sections.anchoring")
    if anchoring is not None:
        data = anchoring_data(report, supplementary)
        order.append(("anchoring", lambda r: anchoring.blocks({**r, "anchoring": data}) if data else []))
    order += [("encoder", encoder.blocks), ("real", real.blocks), ("theory", theory.blocks),
              ("stages", stage_blocks)]
    return order


def build_document(report: dict, supplementary: dict | None = None) -> Document:
    prov = report.get("provenance", {})
    supplementary = load_supplementary() if supplementary is None else supplementary
    doc = Document("sdlscape reproduction of arXiv:2512.05534")
    for _, section in section_order(report, supplementary):
        for b in section(report):
            doc.add(b)
    if prov:
        doc.add(Heading("Provenance"))
        doc.add(Table(["key", "value"], [[k, v if not isinstance(v, dict) else ", ".join(f"{a} {b}" for a, b in v.items())]
                                         for k, v in prov.items()]))
    return doc


def rebuild(folder: Path, redraw: bool = True) -> dict:
    """Render FOLDER/report.md and report.html again from FOLDER/report.json (figures redrawn unless
    redraw=False), without recomputing any result: how a report follows a change of its text or figures."""
    from sdlscape.pipeline.document import to_html, to_markdown
    from sdlscape.storage import read_json, write_json, write_text

    folder = Path(folder)
    report = read_json(folder / "report.json")
    if redraw:
        figures = draw_figures(report, folder / "figures")
        report["figures"] = {k: [str(p.relative_to(folder)) for p in v] for k, v in figures.items()}
        write_json(folder / "report.json", report)
    doc = build_document(report)
    write_text(folder / "report.md", to_markdown(doc))
    write_text(folder / "report.html", to_html(doc, folder))
    return report
