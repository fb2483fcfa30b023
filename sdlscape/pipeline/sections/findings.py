"""The report's first section: what this run found, in sentences generated from the results.

Per statement of the paper one sentence (quoted; holds / fails / what a failure rests on / the corrected
statement in words), then the bench's verdicts on the paper's empirical claims (sections/claims.py) and
each disagreement with a paper table or figure with the experiment that explains it, if any
(sections/disagreements.py). No verdict is written here: a changed result changes the sentence.
"""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph
from sdlscape.pipeline.sections import claims, disagreements
from sdlscape.pipeline.sections.statements import CORRECTED, NAMES, QUOTES, base
from sdlscape.pipeline.sections.verdicts import result_order as _order  # activations in registry order

STATUS_ORDER = ("fails", "inconclusive", "not_applicable", "holds")


def _label(r: dict) -> str:
    reading = r.get("reading", "def3.1")
    return r["activation"] + ("" if reading == "def3.1" else f" ({reading} reading)")


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _searched(results: list[dict]) -> str:
    inst = [(r.get("searched") or {}).get("instances", r.get("instances_tried", 0)) for r in results]
    lo, hi = min(inst), max(inst)
    return f"{lo} instance{'s' if hi != 1 else ''}" if lo == hi else f"{lo}-{hi} instances"


def status_phrase(results: list[dict]) -> str:
    """'fails for relu and topk; holds for jumprelu': the statuses of one claim's results, grouped."""
    parts = []
    for status in STATUS_ORDER:
        rs = sorted((r for r in results if r["status"] == status), key=_order)
        if not rs:
            continue
        if status == "fails":
            literal = [r for r in rs if r.get("severity") == "literal"]
            other = [r for r in rs if r.get("severity") != "literal"]
            if other:
                parts.append("fails for " + _join([_label(r) for r in other]))
            if literal:
                nats = [(r.get("natural") or {}).get("status", "not checked") for r in literal]
                nat = nats[0] if len(set(nats)) == 1 else _join([f"{_label(r)}: {n}" for r, n in zip(literal, nats)])
                parts.append("fails only as literally written for " + _join([_label(r) for r in literal])
                             + f" (natural reading: {nat})")
        elif status == "holds":
            parts.append("holds for " + _join([_label(r) for r in rs])
                         + f", with no counterexample in {_searched(rs)} searched")
        elif status == "inconclusive":
            parts.append("is inconclusive for " + _join([_label(r) for r in rs]))
        else:
            parts.append("does not apply to " + _join([_label(r) for r in rs]) + " (its hypotheses cannot be met)")
    return "; ".join(parts)


def rests_on_phrase(results: list[dict]) -> str:
    """What the failures rest on: the results' `rests_on` grouped by activation; without it (older results),
    the first counterexample's own account."""
    fails = sorted((r for r in results if r["status"] == "fails"), key=_order)
    if not fails:
        return ""
    if any("rests_on" in r for r in fails):
        groups: dict[tuple, list[str]] = {}
        for r in fails:
            groups.setdefault(tuple(r.get("rests_on") or ()), []).append(_label(r))
        parts = [(_join(list(k)) if k else "not stated") + f" ({_join(v)})" for k, v in groups.items()]
        return "The failure rests on " + "; ".join(parts) + "."
    why = (fails[0].get("counterexample") or {}).get("why")
    return f"Counterexample ({_label(fails[0])}): {why}." if why else ""


def statement_sentence(claim: str, results: list[dict], corrected: list[dict]) -> str:
    name = NAMES.get(claim, claim)
    quote = QUOTES.get(claim)
    text = f"{name}" + (f", \u201c{quote}\u201d," if quote else "") + f" {status_phrase(results)}."
    rests = rests_on_phrase(results)
    if rests:
        text += " " + rests
    if corrected:
        words = CORRECTED.get(claim)
        text += (f" Corrected statement ({claim}-corrected)" + (f": {words}." if words else ".")
                 + f" It {status_phrase(corrected)}.")
        rests = rests_on_phrase(corrected)
        if rests:
            text += " " + rests
    return text


def statement_sentences(report: dict) -> list[str]:
    results = report.get("verify", {}).get("results", [])
    by_claim: dict[str, list[dict]] = {}
    for r in results:
        by_claim.setdefault(r["claim"], []).append(r)
    out = []
    for claim, rs in by_claim.items():
        if claim != base(claim):
            if base(claim) not in by_claim:  # a corrected check run without its original
                out.append(statement_sentence(base(claim), [], rs).replace(" .", "", 1))
            continue
        out.append(statement_sentence(claim, rs, by_claim.get(f"{claim}-corrected", [])))
    return out


def blocks(report: dict, supplementary: dict | None = None) -> list:
    """supplementary: committed results the run did not make ({"bench": {name: table}, "anchoring": {...}})."""
    sentences = statement_sentences(report)
    bench_blocks = claims.blocks(report, supplementary)
    dis = disagreements.blocks(report, claims.comparisons(report, supplementary), supplementary)
    if not (sentences or bench_blocks or dis):
        return []
    out: list = [Heading("Findings"),
                 Paragraph("Generated from the results below: every number and verdict here is read from this "
                           "run's results (and, where named, the committed bench results); paper numbers are "
                           "labelled 'paper'. 'holds' means the stated search found no counterexample, numeric "
                           "evidence rather than a proof; the verdict table gives each search.")]
    if sentences:
        out.append(Heading("The paper's statements", 3))
        out += [Paragraph(s) for s in sentences]
    out += bench_blocks
    anchoring = anchoring_sentence(claims.comparisons(report, supplementary), supplementary)
    if anchoring:
        out.append(Paragraph(anchoring))
    out += dis
    return out


def anchoring_sentence(rows: list[dict], supplementary: dict | None) -> str:
    """Feature anchoring (Sec. 4) across every table that has plain/anchored pairs, and the anchoring
    experiment's results where they exist."""
    rows = [r for r in rows if r["key"][1] == "anchoring"]
    files = sorted((supplementary or {}).get("anchoring", {}))
    if not rows and not files:
        return ""
    text = "Feature anchoring (Sec. 4), does it raise M_GT? " + "; ".join(
        f"{r['claim'].split(': feature anchoring')[0]}: {r['verdict']}" for r in rows) + ("." if rows else "")
    if files:
        import importlib  # the section module as the report places it (report.section_order)

        headline = getattr(importlib.import_module("sdlscape.pipeline.sections.anchoring"), "headline", None)
        head = headline(list(supplementary["anchoring"].values())) if headline else ""
        text += (" The anchoring experiment (" + ", ".join(f"results/bench/{f}.json" for f in files) + ")"
                 + (f": {head} Details in the section 'Feature anchoring'." if head
                    else " is in the section 'Feature anchoring'."))
    return text
