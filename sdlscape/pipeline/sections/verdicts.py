"""The report's verdict table and counterexamples (results of sdlscape verify)."""
from __future__ import annotations

from typing import Any

from sdlscape.pipeline.document import Heading, Paragraph, Table

ACTIVATION_ORDER = ("relu", "jumprelu", "topk", "topk_relu")


def blocks(report: dict) -> list:
    results = report.get("verify", {}).get("results", [])
    if not results:
        return []
    blocks: list = [Heading("Verdicts: one check per statement of the paper"),
                    Paragraph("'holds' means the stated search (see evidence in report.json) found no "
                              "counterexample; it is numeric evidence, not a proof. 'fails' comes with a "
                              "counterexample re-checked by an independent route. 'inconclusive' means a solver "
                              "did not reach optimality or the budget ran out.")]
    claims = list(dict.fromkeys(r["claim"] for r in results))
    acts = [a for a in ACTIVATION_ORDER if any(r["activation"] == a for r in results)]
    by = {(r["claim"], r["activation"]): r for r in results}
    rows = []
    for c in claims:
        row: list[Any] = [c]
        for a in acts:
            r = by.get((c, a))
            row.append("–" if r is None else f"{r['status']} ({r['instances_tried']}, {r['seconds']:.1f}s)")
        rows.append(row)
    blocks.append(Table(["claim"] + list(acts), rows, "status (instances tried, seconds) per claim and activation"))
    fails = [r for r in results if r["status"] == "fails"]
    if fails:
        blocks.append(Heading("Counterexamples", 3))
        rows = []
        for r in fails:
            ce = r.get("counterexample") or {}
            inst = ce.get("instance")
            where = inst if isinstance(inst, str) else ce.get("instance_file", "in report.json")
            rows.append([r["claim"], r["activation"], ce.get("why", ""), ce.get("pattern"), where])
        blocks.append(Table(["claim", "activation", "why", "pattern", "instance"], rows))
    inconc = [r for r in results if r["status"] == "inconclusive"]
    if inconc:
        blocks.append(Paragraph("Inconclusive: " + "; ".join(
            f"{r['claim']}/{r['activation']}: {r.get('evidence', {}).get('reason', 'see report.json')}" for r in inconc)))
    return blocks
