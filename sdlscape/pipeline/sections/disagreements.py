"""Each disagreement with a paper table or figure: one sentence, and the experiment that explains it, if any.

The disagreements are the rows of sections/claims.py whose verdict is not "agrees"; an explanation is
attached only where this run (or a committed result it names) holds the experiment; otherwise the
sentence says that no experiment here explains it.
"""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, fmt, pct

NONE = "No experiment in this project explains it yet."


def _encoder(report: dict) -> str | None:
    """Encoder rows vs decoder columns: the encoder experiment's oracle run and its closest hypothesis."""
    res = report.get("encoder")
    if not res:
        return None
    tau = res["paper"]["tau"]
    oc = res["oracle"]["curves"]
    k = f"enc_M_GT@{tau}"
    a = res["hypotheses"]["decoder_measured"]
    return (f"The encoder experiment (section 'The encoder experiment') explains the encoder rows: with the decoder "
            f"fixed at the true features and the encoder started at them, training moves the encoder rows off "
            f"the features (encoder M_GT at tau = {tau}: {pct(oc[k][0])} -> {pct(oc[k][-1])}, M_IP "
            f"{fmt(oc['enc_M_IP'][0], 3)} -> {fmt(oc['enc_M_IP'][-1], 3)}) toward the least-squares readers "
            f"(W W^T)^+ w_j (similarity {fmt(oc['reader_M_IP'][0], 3)} -> {fmt(oc['reader_M_IP'][-1], 3)}) while "
            f"FVU falls ({fmt(oc['fvu'][0], 3)} -> {fmt(oc['fvu'][-1], 3)}); freely trained, decoder columns "
            f"reach M_GT {pct(a['decoder_M_GT'])} where encoder rows reach {pct(a['encoder_M_GT'])}.")


def _anchoring(report: dict, supplementary: dict) -> str | None:
    files = sorted((supplementary or {}).get("anchoring", {}))
    if files:
        return ("The anchoring experiment (section 'Feature anchoring', " + ", ".join(f"results/bench/{f}.json"
                                                                                for f in files) + ") studies it.")
    return None


def _resampling(row: dict) -> str:
    dead = row.get("dead_again")
    if dead is None:
        return NONE
    gap = row.get("curve_gap")
    curves = ("" if gap is None else f"; in the figure the two loss curves differ by at most {100 * gap:.1f}% at any "
              f"logged step" + (", so they lie on each other" if gap < 0.01 else ""))
    return (f"The run itself shows why: {pct(dead)} of the latents it resampled are dead again at the end (never "
            f"active on the full data): the sparsity penalty silences the new latents again{curves}.")


def _sentence(group: list[dict]) -> str:
    """The rows of one table and kind in one sentence: ours beside the paper's."""
    kind = group[0]["key"][1]
    if kind == "level":
        return (f"{group[0]['key'][0]}, M_GT of encoder rows (the paper's metric) against the paper's: " + "; ".join(
            f"{r['label']} {r['ours']} vs paper {r['paper']} (decoder columns {r['ours_decoder']})" for r in group)
            + ".")
    if kind == "trend":
        return "; ".join(f"{r['claim']}: paper {r['paper']}, ours {r['ours']} on encoder rows and "
                         f"{r['ours_decoder']} on decoder columns ({r['verdict']})" for r in group) + "."
    def ours(r: dict) -> str:
        parts = [r["ours"]] if r["ours"] != "–" else []
        if r["ours_decoder"] != "–":
            parts.append(r["ours_decoder"] + (" (decoder columns)" if kind == "anchoring" else ""))
        return ", ".join(parts)

    return "; ".join(f"{r['claim']}: paper {r['paper']}; ours {ours(r)}. Verdict: {r['verdict']}" for r in group) + "."


def explanation(row: dict, report: dict, supplementary: dict) -> str:
    table, kind = row["key"][0], row["key"][1]
    if kind in ("level", "trend") and table in ("table1", "table7"):
        return _encoder(report) or NONE
    if kind == "anchoring":
        return _anchoring(report, supplementary) or NONE
    if kind == "resampling":
        return _resampling(row)
    if kind == "real":
        return ("The paper's numbers are CLIP ViT-B/32 embeddings of ImageNet-1K; this run uses an MLP on "
                "scikit-learn's digits, so the comparison is of kind only. " + NONE)
    return NONE


def items(report: dict, rows: list[dict], supplementary: dict | None = None) -> list[str]:
    """One paragraph per disagreement (rows of one table and kind that share an explanation are grouped)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if not r["agrees"]:
            groups.setdefault(r["key"][:2], []).append(r)
    out, said = [], {}
    for g in groups.values():
        why = explanation(g[0], report, supplementary or {})
        if why != NONE and why in said:  # the same experiment explains it: name it, not again in full
            why = f"The same experiment explains it as for {said[why]} (above)."
        else:
            said.setdefault(why, g[0]["key"][0])
        out.append(_sentence(g) + " " + why)
    return out


def blocks(report: dict, rows: list[dict], supplementary: dict | None = None) -> list:
    paras = items(report, rows, supplementary)
    if not paras:
        return []
    return [Heading("Disagreements with the paper, and what explains them", 3)] + [Paragraph(p) for p in paras]
