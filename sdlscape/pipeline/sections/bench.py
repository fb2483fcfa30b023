"""The report's Linear Representation Bench section (results of sdlscape bench)."""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, fmt, pct
from sdlscape.pipeline.sections._common import add_figure

TABLE_VARIES = {"table4": "n", "table5": "M", "table6": "p_active", "table7": "k"}


def recovery_curve_data(report: dict, table: str = "table1") -> dict:
    """M_GT against tau for encoder rows and decoder columns, and the paper's point (its tau, its M_GT)."""
    t = report.get("bench", {}).get(table)
    if not t:
        return {}
    curves, dec, paper, taus = {}, {}, {}, None
    for row in t["rows"]:
        c = row.get("curve_encoder")
        if not c:
            continue
        taus = [float(k) for k in c]
        name = row["method"] + ("+FA" if row["anchoring"] else "")
        curves[name] = list(c.values())
        if row.get("curve_decoder"):
            dec[name] = list(row["curve_decoder"].values())
        tau = row.get("settings", {}).get("tau")
        if row.get("paper_M_GT") is not None and tau is not None:
            paper[name] = [tau, row["paper_M_GT"]]
    if not curves:
        return {}
    out = {"taus": taus, "curves": curves, "paper": paper,
           "title": f"{table} ({t.get('scale')} scale): M_GT vs tau; the paper's points at its tau"}
    if dec:
        out["curves_decoder"] = dec
    return out


def _sd(r: dict, key: str) -> str:
    sd = r.get(f"{key}_sd")
    return "" if sd is None else f" +- {pct(sd)}"


def anchoring_effects(t: dict, key: str = "M_GT_decoder") -> list[dict]:
    """Plain vs anchored pairs of a table: the difference is an effect only if |diff| > 2 sqrt(sd1^2 + sd2^2)."""
    rows = t.get("rows", [])
    out = []
    for plain, fa in zip(rows[0::2], rows[1::2]):
        if plain.get("anchoring") or not fa.get("anchoring") or plain.get(key) is None or fa.get(key) is None:
            continue
        diff = fa[key] - plain[key]
        sd1, sd2 = plain.get(f"{key}_sd"), fa.get(f"{key}_sd")
        noise = 2.0 * (sd1 ** 2 + sd2 ** 2) ** 0.5 if sd1 is not None and sd2 is not None else None
        verdict = "no noise estimate (one seed)" if noise is None else ("effect" if abs(diff) > noise else "within noise")
        out.append({"label": plain.get("label", plain["method"]), "settings": plain.get("settings", {}), "metric": key,
                    "plain": plain[key], "anchored": fa[key], "diff": diff, "noise": noise, "verdict": verdict})
    return out


def _seconds(t: dict) -> str:
    """The table's compute time: its rows' training seconds when recorded (a table assembled from cached rows
    takes no time itself), else the seconds of the run that made it."""
    if t.get("compute_seconds") is not None:
        return f"{t['compute_seconds']:.0f} s of training"
    return f"{t.get('seconds', 0):.0f} s"


def _label(r: dict, varied: str | None) -> str:
    setting = r.get("settings", {})
    label = r.get("label", r["method"])
    if varied:  # the paper-unit value of the swept parameter, and the value this scale used
        paper_v, used_v = setting.get(f"{varied}_paper", setting.get(varied)), setting.get(f"{varied}_used")
        label += f" [{varied} = {paper_v}" + (f", used {used_v}" if used_v not in (None, paper_v) else "") + "]"
    return label


def blocks(report: dict) -> list:
    bench = report.get("bench", {})
    if not bench:
        return []
    blocks: list = [Heading("Linear Representation Bench (paper Tables 1, 4-7)")]
    first = next(iter(bench.values()))
    conv = first.get("conventions", {})
    if conv:
        blocks.append(Paragraph(f"Conventions: {conv.get('sparsity', '')}. Scale: {conv.get('scaling', '')}. "
                                f"Calibration: {conv.get('calibration', 'none')}. Seeds: {conv.get('seeds', '1')}. "
                                f"Metrics: {conv.get('metrics', '')}."))
    not_run = report.get("bench_not_run") or []
    if not_run:
        scale = first.get("scale", "this")
        blocks.append(Paragraph(f"Not run at {scale} scale by reproduce: {', '.join(not_run)} (run each with "
                                f"`sdlscape bench TABLE --scale {scale} --json OUT`)."))
    for table, t in bench.items():
        rows = []
        varied = TABLE_VARIES.get(table)
        for r in t["rows"]:
            tau = r.get("settings", {}).get("tau")
            rows.append([_label(r, varied), r["anchoring"], fmt(tau, 2), pct(r["M_GT"]) + _sd(r, "M_GT"),
                         fmt(r["M_IP"], 3), pct(r.get("paper_M_GT")), fmt(r.get("paper_M_IP"), 3),
                         pct(r.get("M_GT_decoder")) + _sd(r, "M_GT_decoder"), fmt(r.get("mcc_decoder"), 3),
                         fmt(r.get("l0"), 2) + ("" if r.get("l0_sd") is None else f" +- {r['l0_sd']:.2f}"),
                         fmt(r.get("target_l0"), 2)])
        taus = sorted({r.get("settings", {}).get("tau") for r in t["rows"]} - {None})
        regime = t.get("regime") or t.get("conventions", {}).get("scaling", "")
        blocks.append(Heading(f"{table}: {t.get('title', '')} (tau = {', '.join(f'{x:g}' for x in taus)}, the "
                              f"paper's; {t.get('scale')} scale, {_seconds(t)})", 3))
        if regime:
            blocks.append(Paragraph(f"Regime: {regime}."))
        blocks.append(Table(["method", "anchoring", "tau", "ours M_GT (mean +- sd)", "ours M_IP",
                             "paper M_GT (paper's tau)", "paper M_IP", "ours M_GT (decoder)", "ours MCC (decoder)",
                             "L0 reached (mean +- sd)", "target L0"], rows))
        effects = anchoring_effects(t)
        if effects:
            parts = [f"{_label({'label': e['label'], 'method': e['label'], 'settings': e['settings']}, varied)}: "
                     f"{pct(e['plain'])} -> {pct(e['anchored'])} ({e['verdict']}"
                     + (f", 2 sd = {pct(e['noise'])})" if e["noise"] is not None else ")") for e in effects]
            blocks.append(Paragraph("Anchoring, decoder M_GT plain -> anchored (an effect only where |diff| > "
                                    "2 sqrt(sd_plain^2 + sd_anchored^2)): " + "; ".join(parts) + "."))
    t1 = {(r["method"], r["anchoring"]): r for r in bench.get("table1", {}).get("rows", [])}
    topk = t1.get(("topk", False))
    if topk:
        blocks.append(Paragraph(
            f"Measured here: the paper scores encoder rows against W_p; our TopK SAE reaches encoder M_GT "
            f"{pct(topk['M_GT'])} (M_IP {fmt(topk['M_IP'], 3)}) but decoder M_GT {pct(topk.get('M_GT_decoder'))} "
            f"(paper, encoder: {pct(topk.get('paper_M_GT'))}). With features in superposition the squared-error-"
            f"optimal linear read-out of feature j is (W_p W_p^T)^-1 w_p^j, not w_p^j, so trained encoder rows "
            f"move toward those readers while decoder columns approach the features; see results/bench/README.md."))
    add_figure(blocks, report, "fig6_recovery_curve",
               "Fig. 6 analogue: M_GT as a function of tau, encoder rows (the paper's metric) and decoder columns; "
               "stars: the paper's numbers at its tau and scale.")
    add_figure(blocks, report, "fig9_bench3d", "Fig. 9 analogue: a small bench in R^3; the feature directions are "
                                               "drawn at the samples' scale.")
    return blocks
