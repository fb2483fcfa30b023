"""The bench's verdicts on the paper's empirical claims: ours beside the paper's, each at its own scale and tau.

`comparisons(report, supplementary)` turns the results into rows {key, claim, paper, ours, verdict, agrees};
the verdict is computed from the numbers with the tolerance stated in the text (AGREE or 2 sd), so a changed
result changes it. sections/disagreements.py explains the rows that disagree.
"""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, pct
from sdlscape.pipeline.sections.bench import TABLE_VARIES, anchoring_effects

AGREE = 0.05
"""Two M_GT values agree when they differ by at most this (5 points) or 2 sd of ours, whichever is larger."""
RESAMPLING_GAIN = 0.01
"""Resampling "lowers the final loss" when the final MSE falls by more than this fraction."""


def _agrees(ours: float, sd: float | None, paper: float) -> bool:
    return abs(ours - paper) <= max(AGREE, 2.0 * (sd or 0.0))


def _level(ours: float, sd: float | None, paper: float) -> str:
    if _agrees(ours, sd, paper):
        return "agrees"
    return f"ours {'lower' if ours < paper else 'higher'} by {100 * abs(ours - paper):.1f} points"


def _trend(first: float, last: float) -> str:
    d = last - first
    return "flat" if abs(d) <= AGREE else ("rises" if d > 0 else "falls")


def _with_sd(r: dict, key: str) -> str:
    sd = r.get(f"{key}_sd")
    return pct(r.get(key)) + ("" if sd is None else f" +- {pct(sd)}")


def level_rows(table: str, t: dict) -> list[dict]:
    """Table 1: each method's recovery level, plain rows (anchoring has its own row)."""
    out = []
    for r in t["rows"]:
        if r.get("anchoring") or r.get("paper_M_GT") is None:
            continue
        tau = r.get("settings", {}).get("tau")
        dec = r.get("M_GT_decoder")
        verdict = _level(r["M_GT"], r.get("M_GT_sd"), r["paper_M_GT"])
        if dec is not None:
            verdict += f" (decoder columns: {_level(dec, r.get('M_GT_decoder_sd'), r['paper_M_GT'])})"
        label = r.get("label", r["method"])
        out.append({"key": (table, "level", r["method"]), "label": label, "claim": f"{table}: {label} "
                    f"recovers features (M_GT, tau = {tau:g})", "paper": pct(r["paper_M_GT"]),
                    "ours": _with_sd(r, "M_GT"), "ours_decoder": _with_sd(r, "M_GT_decoder"),
                    "verdict": verdict, "agrees": _agrees(r["M_GT"], r.get("M_GT_sd"), r["paper_M_GT"])})
    return out


def trend_rows(table: str, t: dict) -> list[dict]:
    """A swept table: M_GT from the first to the last value of the swept parameter, plain and anchored."""
    varied = TABLE_VARIES[table]
    out = []
    for anchored in (False, True):
        rows = [r for r in t["rows"] if bool(r.get("anchoring")) == anchored and r.get("paper_M_GT") is not None]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        for m in methods:
            rs = [r for r in rows if r["method"] == m]
            if len(rs) < 2:
                continue
            a, b = rs[0], rs[-1]
            va = a.get("settings", {}).get(f"{varied}_paper", a.get("settings", {}).get(varied))
            vb = b.get("settings", {}).get(f"{varied}_paper", b.get("settings", {}).get(varied))
            paper_t, ours_t = _trend(a["paper_M_GT"], b["paper_M_GT"]), _trend(a["M_GT"], b["M_GT"])
            dec_t = (_trend(a["M_GT_decoder"], b["M_GT_decoder"])
                     if a.get("M_GT_decoder") is not None and b.get("M_GT_decoder") is not None else None)
            levels = sum(_agrees(r["M_GT"], r.get("M_GT_sd"), r["paper_M_GT"]) for r in rs)
            same = paper_t == ours_t
            verdict = ("same trend" if same else ("opposite trend" if {paper_t, ours_t} == {"rises", "falls"}
                                                  else f"paper {paper_t}, ours {ours_t}"))
            verdict += f"; levels agree in {levels} of {len(rs)} rows"
            tau = a.get("settings", {}).get("tau")
            out.append({"key": (table, "trend", m, anchored),
                        "label": f"{a.get('label', m)}{' + anchoring' if anchored else ''} along {varied}",
                        "claim": f"{table}: {a.get('label', m)}{' + anchoring' if anchored else ''}, M_GT "
                                 f"(tau = {tau:g}) as {varied} goes {va} -> {vb}",
                        "paper": f"{pct(a['paper_M_GT'])} -> {pct(b['paper_M_GT'])} ({paper_t})",
                        "ours": f"{pct(a['M_GT'])} -> {pct(b['M_GT'])} ({ours_t})",
                        "ours_decoder": (f"{pct(a['M_GT_decoder'])} -> {pct(b['M_GT_decoder'])} ({dec_t})"
                                         if dec_t else "–"),
                        "verdict": verdict, "agrees": same and levels == len(rs)})
    return out


def anchoring_row(table: str, t: dict, scale: str | None = None) -> dict | None:
    """Does anchoring raise M_GT? The paper's pairs against ours (decoder columns, an effect beyond 2 sd)."""
    effects = anchoring_effects(t)
    rows = t.get("rows", [])
    paper = [(p.get("paper_M_GT"), a.get("paper_M_GT")) for p, a in zip(rows[0::2], rows[1::2])
             if not p.get("anchoring") and a.get("anchoring")]
    paper = [(x, y) for x, y in paper if x is not None and y is not None]
    if not effects:
        return None
    up = sum(1 for e in effects if e["verdict"] == "effect" and e["diff"] > 0)
    down = [e for e in effects if e["verdict"] == "effect" and e["diff"] < 0]
    raises = [y - x for x, y in paper if y > x]  # the paper gives no noise estimate: any increase counts
    paper_text = (f"raises in {len(raises)} of {len(paper)} pairs" + (
        f" (+{100 * min(raises):.1f}" + (f" to +{100 * max(raises):.1f}" if max(raises) > min(raises) else "")
        + " points)" if raises else "")) if paper else "–"
    noise = max((e["noise"] or 0.0) for e in effects)
    ours = f"raises in {up} of {len(effects)} pairs" + (f", lowers in {len(down)} (" + "; ".join(
        f"{e['label']} {pct(e['plain'])} -> {pct(e['anchored'])}" for e in down) + ")" if down else "")
    ours += f", the rest within noise (2 sd up to {100 * noise:.1f} points)"
    if down and not up:
        verdict, agrees = "opposite: anchoring lowers M_GT", False
    elif raises and up:  # agrees when at least half the pairs the paper raises are raised beyond noise here
        agrees = up >= (len(raises) + 1) // 2 and not down
        seen = f"raised beyond noise in {up} pair{'s' if up != 1 else ''} (paper: {len(raises)})"
        verdict = f"agrees: {seen}" if agrees else f"mostly not reproduced: {seen}"
    elif raises:
        verdict, agrees = "not reproduced: no pair beyond noise", False
    else:
        verdict, agrees = ("agrees: no effect either way", True) if not down else ("ours lowers M_GT", False)
    name = f"{table}" + (f" at {scale} scale" if scale else "")
    return {"key": (table, "anchoring", scale), "claim": f"{name}: feature anchoring raises M_GT",
            "paper": paper_text, "ours": "–", "ours_decoder": ours, "verdict": verdict, "agrees": agrees}


def resampling_row(report: dict) -> dict | None:
    for res in report.get("crosscheck", {}).values():
        b = res.get("bench_resampling")
        if not (b and b.get("runs")):
            continue
        w, wo = b["runs"]["with_resampling"], b["runs"]["without_resampling"]
        gain = (wo["final_mse_full_data"] - w["final_mse_full_data"]) / wo["final_mse_full_data"]
        dead = w.get("fraction_resampled_dead_at_end")
        ours = (f"final MSE {wo['final_mse_full_data']:.4g} without, {w['final_mse_full_data']:.4g} with "
                f"({'lower' if gain > 0 else 'higher'} by {100 * abs(gain):.1f}%)")
        if dead is not None:
            ours += f"; {pct(dead)} of the {w.get('n_latents_ever_resampled')} resampled latents dead again"
        agrees = gain > RESAMPLING_GAIN
        a, b = wo.get("history", {}).get("loss") or [], w.get("history", {}).get("loss") or []
        m = min(len(a), len(b))
        curve_gap = max((abs(x - y) / max(abs(x), 1e-30) for x, y in zip(a[:m], b[:m])), default=None)
        return {"key": ("fig7", "resampling"), "claim": "Fig. 7 / Sec. 5.3: resampling dead latents lowers the "
                "final loss", "paper": "lower (a curve on Llama-3.1-8B, no number)", "ours": "–",
                "ours_decoder": ours, "verdict": "agrees" if agrees else "no gain", "agrees": agrees,
                "dead_again": dead, "curve_gap": curve_gap}
    return None


def real_row(report: dict) -> dict | None:
    real = report.get("real")
    rows = [r for r in (real or {}).get("rows", []) if r.get("anchoring") in (True, "yes")
            and r.get("paper_M_GT") is not None]
    if not rows:
        return None
    ours = ", ".join(f"{r['method']} {pct(r['M_GT'])}" for r in rows)
    paper = ", ".join(f"{r['method']} {pct(r['paper_M_GT'])}" for r in rows)
    agrees = all(_agrees(r["M_GT"], None, r["paper_M_GT"]) for r in rows)
    return {"key": ("table2", "real"), "claim": f"Table 2: class-mean anchors let held-out classes be recovered "
            f"(M_GT, {real.get('table')} here)", "paper": paper + " (CLIP/ImageNet)", "ours": ours,
            "ours_decoder": "–", "verdict": "agrees" if agrees else "not reproduced (a different data set)",
            "agrees": agrees}


def comparisons(report: dict, supplementary: dict | None = None) -> list[dict]:
    out: list[dict] = []
    for table, t in report.get("bench", {}).items():
        out += trend_rows(table, t) if table in TABLE_VARIES else level_rows(table, t)
        row = anchoring_row(table, t)
        if row:
            out.append(row)
    for name, t in (supplementary or {}).get("bench", {}).items():
        row = anchoring_row(t.get("table", name), t, t.get("scale"))
        if row:
            row["source"] = f"results/bench/{name}.json"
            row["claim"] += f" ({row['source']})"
            out.append(row)
    for row in (real_row(report), resampling_row(report)):
        if row:
            out.append(row)
    return out


def blocks(report: dict, supplementary: dict | None = None) -> list:
    rows = comparisons(report, supplementary)
    if not rows:
        return []
    agree = sum(r["agrees"] for r in rows)
    return [Heading("The bench on the paper's empirical claims", 3),
            Paragraph(f"{agree} of the {len(rows)} comparisons with the paper's empirical claims agree with this run. "
                      f"Ours at small scale (the paper's ratios kept, the paper's tau), the paper's at its own "
                      f"scale. Encoder rows are the paper's metric; decoder columns the other natural one. Two "
                      f"M_GT values agree when they differ by at most {100 * AGREE:.0f} points or 2 sd of ours; "
                      f"a trend rises or falls when first and last differ by more than that; an anchoring pair "
                      f"is an effect beyond 2 sqrt(sd_plain^2 + sd_anchored^2)."),
            Table(["the paper's claim", "paper", "ours, encoder rows", "ours, decoder columns", "verdict"],
                  [[r["claim"], r["paper"], r["ours"], r["ours_decoder"], r["verdict"]] for r in rows])]
