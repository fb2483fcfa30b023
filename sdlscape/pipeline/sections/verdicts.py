"""The report's verdict table and counterexamples (results of sdlscape verify)."""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table
from sdlscape.theory.activations import names as activation_names


def _searched(r: dict) -> str:
    s = r.get("searched") or {}
    parts = [f"{s.get('instances', r.get('instances_tried', 0))} inst"]
    for key, label in (("patterns", "pat"), ("points", "pts"), ("starts", "starts")):
        if s.get(key):
            parts.append(f"{s[key]} {label}")
    return ", ".join(parts)


def result_order(r: dict) -> tuple:
    """Sort key of a verdict row: activations in registration order, Def. 3.1 before other readings."""
    a, order = r["activation"], activation_names()
    return (order.index(a) if a in order else len(order), a,
            r.get("reading", "def3.1") != "def3.1")


def blocks(report: dict) -> list:
    results = report.get("verify", {}).get("results", [])
    if not results:
        return []
    out: list = [Heading("Verdicts: one check per statement of the paper"),
                 Paragraph("'holds' means the stated search (the searched column; details in report.json) found no "
                           "counterexample; it is numeric evidence, not a proof. 'fails' comes with a counterexample "
                           "re-checked by an independent route; severity 'literal' means only a literal reading of a "
                           "hypothesis fails (the natural reading's result is given), 'substantive' that the idea "
                           "fails; 'rests on': what the failure depends on (a law, a reading, a case), where the "
                           "results record it. "
                           "'inconclusive': a solver was not optimal or a case could not be decided; "
                           "'not_applicable': the instance cannot meet the claim's hypotheses. Reading: "
                           "def3.1 is the paper's Def. 3.1 (sigma(.)_i > 0); selection is plain TopK's selected-set "
                           "reading, a labelled variant. ACS starts are per piece.")]
    claims = list(dict.fromkeys(r["claim"] for r in results))
    rows = []
    for c in claims:
        for r in sorted((r for r in results if r["claim"] == c), key=result_order):
            nat = r.get("natural") or {}
            sev = r.get("severity") or "–"
            if sev == "literal" and nat:
                sev = f"literal (natural: {nat.get('status')})"
            rows.append([c, r["activation"], r.get("reading", "def3.1"), r["status"], sev,
                         "; ".join(r.get("rests_on") or []) or "–", _searched(r), f"{r['seconds']:.1f}"])
    out.append(Table(["claim", "activation", "reading", "status", "severity", "rests on", "searched", "seconds"], rows,
                     "one row per claim x activation x reading"))
    fails = [r for r in results if r["status"] == "fails"]
    if fails:
        out.append(Heading("Counterexamples", 3))
        rows = []
        for r in fails:
            ce = r.get("counterexample") or {}
            inst = ce.get("instance")
            where = inst if isinstance(inst, str) else ce.get("instance_file", "in report.json")
            rows.append([r["claim"], r["activation"], r.get("reading", "def3.1"), r.get("severity") or "",
                         ce.get("why", ""), ce.get("pattern"), where])
        out.append(Table(["claim", "activation", "reading", "severity", "why", "pattern", "instance"], rows))
    inconc = [r for r in results if r["status"] == "inconclusive"]
    if inconc:
        out.append(Paragraph("Inconclusive: " + "; ".join(
            f"{r['claim']}/{r['activation']}/{r.get('reading', 'def3.1')}: "
            f"{(r.get('searched') or {}).get('description', 'see report.json')}" for r in inconc)))
    return out
