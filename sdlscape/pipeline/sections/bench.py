"""The report's Linear Representation Bench section (results of sdlscape bench)."""
from __future__ import annotations


from sdlscape.pipeline.document import Heading, Paragraph, Table, fmt, pct
from sdlscape.pipeline.sections._common import add_figure

TABLE_VARIES = {"table4": "n", "table5": "M", "table6": "p_active", "table7": "k"}


def recovery_curve_data(report: dict, table: str = "table1") -> dict:
    t = report.get("bench", {}).get(table)
    if not t:
        return {}
    curves, taus = {}, None
    for row in t["rows"]:
        c = row.get("curve_encoder")
        if not c:
            continue
        taus = [float(k) for k in c]
        curves[row["method"] + ("+FA" if row["anchoring"] else "")] = list(c.values())
    return {"taus": taus, "curves": curves,
            "title": f"{table} ({t.get('scale')} scale): M_GT of encoder rows vs tau"} if curves else {}


def blocks(report: dict) -> list:
    bench = report.get("bench", {})
    if not bench:
        return []
    blocks: list = [Heading("Linear Representation Bench (paper Tables 1, 4-7)")]
    first = next(iter(bench.values()))
    conv = first.get("conventions", {})
    if conv:
        blocks.append(Paragraph(f"Conventions: {conv.get('sparsity', '')}. Scale: {conv.get('scaling', '')}. "
                                f"Metrics: {conv.get('metrics', '')}."))
    for table, t in bench.items():
        rows = []
        varied = TABLE_VARIES.get(table)
        for r in t["rows"]:
            setting = r.get("settings", {})
            label = r.get("label", r["method"])
            if varied:  # the paper-unit value of the swept parameter, and the value this scale used
                paper_v, used_v = setting.get(f"{varied}_paper", setting.get(varied)), setting.get(f"{varied}_used")
                label += f" [{varied} = {paper_v}" + (f", used {used_v}" if used_v not in (None, paper_v) else "") + "]"
            rows.append([label, r["anchoring"], pct(r["M_GT"]), fmt(r["M_IP"], 3),
                         pct(r.get("paper_M_GT")), fmt(r.get("paper_M_IP"), 3), pct(r.get("M_GT_decoder")),
                         fmt(r.get("mcc_decoder"), 3)])
        blocks.append(Heading(f"{table}: {t.get('title', '')} ({t.get('scale')} scale, {t.get('seconds', 0):.0f} s)", 3))
        blocks.append(Table(["method", "anchoring", "ours M_GT", "ours M_IP", "paper M_GT", "paper M_IP",
                             "ours M_GT (decoder)", "ours MCC (decoder)"], rows))
    t1 = {(r["method"], r["anchoring"]): r for r in bench.get("table1", {}).get("rows", [])}
    topk = t1.get(("topk", False))
    if topk:
        blocks.append(Paragraph(
            f"Measured here: the paper scores encoder rows against W_p; our TopK SAE reaches encoder M_GT "
            f"{pct(topk['M_GT'])} (M_IP {fmt(topk['M_IP'], 3)}) but decoder M_GT {pct(topk.get('M_GT_decoder'))} "
            f"(paper, encoder: {pct(topk.get('paper_M_GT'))}). With features in superposition the squared-error-"
            f"optimal linear read-out of feature j is (W_p W_p^T)^-1 w_p^j, not w_p^j, so trained encoder rows "
            f"move toward those readers while decoder columns approach the features; see results/bench/README.md."))
    add_figure(blocks, report, "fig6_recovery_curve", "Fig. 6 analogue: M_GT of encoder rows as a function of tau.")
    add_figure(blocks, report, "fig9_bench3d", "Fig. 9 analogue: a small bench in R^3.")
    return blocks
