"""The report's anchoring verdict (bench/anchoring.py): does eq. 26 help, hurt or do nothing, why, and what helps.

Reads ``report["anchoring"]``: one result of ``sdlscape bench anchoring`` or a list of them (scales, size
sweeps); computes nothing but the reading of their paired tests: every verdict word is the noise test's
(``vs_plain[KEY]["verdict"]``), every number a field of the results.  The section is a verdict paragraph,
a verdict table (one row per method and scale), the mechanism table, the full per-variant table (collapsed)
and the figure.  The paper's numbers (n = 1000, encoder rows, one run) sit beside ours, labelled.
"""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, fmt, pct
from sdlscape.pipeline.sections._common import add_figure

KEY = "M_GT_decoder_95"
ORDER = ("plain", "eq26", "decoder", "encoder", "cosine", "normmatch")
METHOD_NAMES = {"topk": "TopK", "relu": "ReLU"}
PAPER = ("the paper (n = 1000, encoder M_GT at tau 0.95, one run): Table 1 TopK 84.9% plain -> 87.6% anchored, "
         "ReLU 0% -> 0%; Table 4 (ReLU, tau 0.9): anchored 100% at n = 800 falling to 8.6% at n = 1400, plain 0%")


def results(report: dict) -> list[dict]:
    got = report.get("anchoring")
    if not got:
        return []
    return [r for r in (got if isinstance(got, list) else [got]) if r.get("rows")]


def _groups(res: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(method, scale, n) -> {variant: row} in variant order, groups sorted by method (TopK first) then n.  Where
    two results hold the same variant, the row with more seeds wins (ties: the later result), so a rerun that
    adds seeds to a variant replaces its one-seed row whatever the file order."""
    out: dict[tuple, dict[str, dict]] = {}
    for r in res:
        for row in r["rows"]:
            rows = out.setdefault((row["method"], row["scale"], row["n"]), {})
            old = rows.get(row["variant"])
            if old is None or row.get("n_seeds", 0) >= old.get("n_seeds", 0):
                rows[row["variant"]] = row
    key = lambda g: (g[0] != "topk", g[0], g[2])  # noqa: E731
    return {g: dict(sorted(out[g].items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else 99))
            for g in sorted(out, key=key)}


def paired_test(row: dict) -> dict:
    """The paired noise test of ``row`` against plain on KEY ({} for plain); fewer than 2 paired seeds is always
    'untested', whatever the stored verdict says."""
    t = row.get("vs_plain", {}).get(KEY, {})
    if t and len(t.get("diffs", [])) < 2:
        return {**t, "verdict": "untested", "p": None}
    return t


def verdict(row: dict | None) -> str:
    return paired_test(row).get("verdict", "-") if row else "-"


def seeds(row: dict) -> int:
    """Paired seeds behind the row's test (its n_seeds where it has no test)."""
    t = paired_test(row)
    return len(t["diffs"]) if t.get("diffs") is not None else row.get("n_seeds", 0)


def points(d: float) -> str:
    return f"{100 * d:+.2f} points"


def _pval(t: dict) -> str:
    return "-" if t.get("p") is None else fmt(t["p"], 2)


def _value(row: dict) -> str:
    sd = row.get(f"{KEY}_sd")
    return pct(row[KEY]) + ("" if sd is None else f" +- {pct(sd)}")


def where(method: str, scale: str, n: int) -> str:
    """'TopK at n = 250 (medium)', or 'TopK at n = 100' for a size-sweep point."""
    return f"{METHOD_NAMES.get(method, method)} at {scale_label(scale, n)}"


def scale_label(scale: str, n: int) -> str:
    return f"n = {n}" + ("" if scale == f"n{n}" else f" ({scale})")


def _test_text(t: dict, k: int) -> str:
    """'-31.41 points, p = 0.0056, 3 of 3 seeds lower' / '+19.11 points, 1 seed, untested'."""
    if t.get("verdict") == "untested":
        return f"{points(t['diff_mean'])}, {k} seed{'s' if k != 1 else ''}, untested"
    d = t.get("diffs", [])
    down, up = sum(x < 0 for x in d), sum(x > 0 for x in d)
    moved = (f"all {k} seeds lower" if down == k else f"all {k} seeds higher" if up == k
             else f"identical in all {k} seeds" if down == up == 0 else f"{up} up / {down} down of {k} seeds")
    return f"{points(t['diff_mean'])}, p = {_pval(t)}, {moved}"


def _paper(rows: dict[str, dict]) -> str | None:
    pp, pe = (rows.get(v, {}).get("paper_M_GT") for v in ("plain", "eq26"))
    return None if pp is None or pe is None else f"{pct(pp)} -> {pct(pe)}"


def best_variant(rows: dict[str, dict]) -> str | None:
    """The variant other than eq. 26 that helps with the largest gain, else the one with the largest mean gain."""
    cands = [v for v, r in rows.items() if v not in ("plain", "eq26") and paired_test(r)]
    return max(cands, key=lambda v: (verdict(rows[v]) == "helps", paired_test(rows[v])["diff_mean"]), default=None)


def _eq26_sentences(groups: dict) -> list[str]:
    """One sentence for the groups where eq. 26 helps or hurts, one for no effect, one for untested."""
    by: dict[str, list] = {}
    for g, rows in groups.items():
        if "plain" in rows and "eq26" in rows and paired_test(rows["eq26"]):
            by.setdefault(verdict(rows["eq26"]), []).append((g, rows))
    out = []
    for word in ("hurts", "helps"):
        parts = []
        for g, rows in by.get(word, []):
            eq, paper = rows["eq26"], _paper(rows)
            parts.append(f"{where(*g)}: decoder M_GT(0.95) of the non-anchored features {_value(rows['plain'])} "
                         f"plain -> {_value(eq)} with eq. 26 ({_test_text(paired_test(eq), seeds(eq))}"
                         + (f"; the paper at n = 1000, encoder rows, one run: {paper}" if paper else "") + ")")
        if parts:
            out.append(f"Eq. 26 {word} {parts[0]}" + "".join(f"; it also {word} {p}" for p in parts[1:]) + ".")
    for word, lead in (("no effect", "It does nothing measurable (no effect by the noise test) for "),
                       ("untested", "Too few seeds to test: ")):
        if by.get(word):
            out.append(lead + "; ".join(f"{where(*g)}: {_test_text(paired_test(r['eq26']), seeds(r['eq26']))}"
                                        for g, r in by[word]) + ".")
    return out


def _focus(groups: dict) -> list[tuple]:
    """The groups the mechanism and variant sentences describe: where eq. 26 hurts, else the largest n."""
    hurt = [g for g, rows in groups.items() if verdict(rows.get("eq26")) == "hurts"]
    withq = [g for g, rows in groups.items() if "eq26" in rows]
    return hurt or ([max(withq, key=lambda g: g[2])] if withq else [])


def _mechanism_sentence(groups: dict) -> str:
    parts = []
    for g in _focus(groups):
        eq = groups[g].get("eq26", {})
        if any(eq.get(k) is None for k in ("anchored_rate", "anchored_feature_rate", "anchored_norm", "trained_norm")):
            continue
        k = _measured(eq)
        lead = f"Mechanism ({METHOD_NAMES.get(g[0], g[0])}, n = {g[2]}, {k} seed{'s' if k != 1 else ''} measured): "
        rate, frate = pct(eq["anchored_rate"]), pct(eq["anchored_feature_rate"])
        an, tn = f"{eq['anchored_norm']:.2f}", f"{eq['trained_norm']:.2f}"
        if eq["anchored_rate"] > 2 * eq["anchored_feature_rate"] and eq["anchored_norm"] > eq["trained_norm"]:
            slots = "win TopK slots" if g[0].startswith("topk") else "fire"
            prec = "" if eq.get("anchored_precision") is None else \
                f", and their feature is active in only {pct(eq['anchored_precision'])} of those firings"
            parts.append(f"{lead}eq. 26's encoder term pulls the anchored encoder rows to norm {an} while the "
                         f"trained rows sit near {tn}, so the anchored latents {slots} on {rate} of samples against "
                         f"{frate} for their features{prec}.")
        else:
            parts.append(f"{lead}the anchored encoder rows have norm {an} against {tn} for the trained rows, and the "
                         f"anchored latents fire on {rate} of samples against {frate} for their features.")
    return " ".join(parts)


def _measured(row: dict) -> int:
    """Seeds whose run recorded the mechanism's numbers (reference seeds from Table 1 did not)."""
    per = row.get("per_seed")
    return sum(p.get("anchored_rate") is not None for p in per) if per else row.get("n_seeds", 0)


def _variant_sentence(groups: dict) -> str:
    helps = [(g, v, r) for g, rows in groups.items() for v, r in rows.items()
             if v not in ("plain", "eq26") and verdict(r) == "helps"]
    if helps:
        return "Variants that help by the noise test: " + "; ".join(
            f"{v} for {where(*g)} ({_value(groups[g]['plain'])} plain -> {_value(r)}, "
            f"{_test_text(paired_test(r), seeds(r))})" for g, v, r in helps) + "."
    parts = []
    for g in _focus(groups):
        v = best_variant(groups[g])
        if v is None:
            continue
        r = groups[g][v]
        need = ", needs more seeds" if verdict(r) == "untested" else ""
        parts.append(f"for {where(*g)} the best candidate is {v}: {_value(r)} "
                     f"({_test_text(paired_test(r), seeds(r))}{need})")
    return "No variant passes the noise test" + (": " + "; ".join(parts) if parts else "") + "."


def summary(res: list[dict]) -> str:
    """The verdict paragraph: where eq. 26 hurts, helps, does nothing; the mechanism; the variants."""
    groups = _groups(res)
    sentences = _eq26_sentences(groups)
    if not sentences:
        return "No anchoring run with both a plain and an eq. 26 row."
    return " ".join(s for s in [*sentences, _mechanism_sentence(groups), _variant_sentence(groups)] if s)


def headline(res: list[dict]) -> str:
    """The summary's first sentence and its variant sentence, for the Findings section ('' without data)."""
    groups = _groups(results({"anchoring": res}))
    first = _eq26_sentences(groups)
    return f"{first[0]} {_variant_sentence(groups)}" if first else ""


def verdict_table(groups: dict) -> Table:
    rows = []
    for g, rs in groups.items():
        plain, eq = rs.get("plain"), rs.get("eq26")
        if not plain or not eq:
            continue
        t, v = paired_test(eq), best_variant(rs)
        b = rs.get(v) if v else None
        tb = paired_test(b) if b else {}
        rows.append([METHOD_NAMES.get(g[0], g[0]), scale_label(g[1], g[2]),
                     _value(plain), _value(eq), points(t["diff_mean"]) if t else "-", _pval(t), seeds(eq),
                     verdict(eq), "-" if not b else f"{v}: {_value(b)} ({points(tb['diff_mean'])})",
                     "-" if not b else f"{verdict(b)} (" + ("" if tb.get("p") is None else f"p = {_pval(tb)}, ")
                     + f"{seeds(b)} seed{'s' if seeds(b) != 1 else ''})",
                     _paper(rs) or "-"])
    return Table(["method", "scale", "plain", "eq. 26", "eq. 26 - plain (paired)", "p", "seeds", "eq. 26 verdict",
                  "best other variant (vs plain)", "its verdict", "paper, n = 1000 (encoder rows, one run): plain -> "
                  "eq. 26"], rows,
                 "Verdict per method and scale: non-anchored decoder M_GT(0.95), mean +- sd over seeds; verdicts "
                 "from the noise test below; the paper's numbers are at its own scale and metric")


def mechanism_table(groups: dict) -> Table:
    rows = [[METHOD_NAMES.get(g[0], g[0]), g[2], v, _measured(r), pct(r["anchored_rate"]),
             pct(r.get("anchored_feature_rate")), pct(r.get("anchored_precision")), fmt(r.get("anchored_norm"), 2),
             fmt(r.get("trained_norm"), 2), fmt(r.get("fvu"), 3), pct(r.get("dead_fraction"))]
            for g, rs in groups.items() for v, r in rs.items() if r.get("anchored_rate") is not None]
    return Table(["method", "n", "variant", "seeds measured", "anchored latents fire on", "their features active on",
                  "feature active when they fire", "anchored encoder norm", "trained encoder norm", "FVU", "dead"],
                 rows, "Mechanism: the anchored latents' firing rate against their features' and the encoder rows' "
                       "norms (plain: the latents whose decoder column matches each anchor feature best)")


def full_table(groups: dict) -> Table:
    rows = []
    for g, rs in groups.items():
        for v, r in rs.items():
            t = paired_test(r)
            rows.append([METHOD_NAMES.get(g[0], g[0]), g[2], v, r.get("n_seeds"), _value(r),
                         points(t["diff_mean"]) if t else "-", _pval(t), t.get("same_sign", "-") if t else "-",
                         verdict(r) if t else "-", pct(r.get("M_GT_decoder_90")), fmt(r.get("fvu"), 4),
                         pct(r.get("dead_fraction")), "-" if r.get("paper_M_GT") is None else
                         f"{pct(r['paper_M_GT'])} (enc., n = 1000)"])
    return Table(["method", "n", "variant", "seeds", "decoder M_GT(0.95)", "paired diff vs plain", "p (paired t)",
                  "seeds up / down", "verdict", "decoder M_GT(0.9)", "FVU", "dead", "paper M_GT"], rows,
                 "Every variant and metric (non-anchored features only)", collapsed=True)


def blocks(report: dict) -> list:
    res = results(report)
    if not res:
        return []
    groups = _groups(res)
    out: list = [Heading("Feature anchoring (eq. 26): verdict, mechanism, variants"), Paragraph(summary(res)),
                 verdict_table(groups),
                 Paragraph(f"Noise test: {res[0].get('noise_test', '')}. Variants: " + "; ".join(
                     f"{k}: {v}" for k, v in res[0].get("variants", {}).items()) + f". Compare {PAPER}.")]
    mech = mechanism_table(groups)
    if mech.rows:
        out.append(mech)
    out.append(full_table(groups))
    add_figure(out, report, "anchoring", "Non-anchored decoder M_GT(0.95) against the number of features n (paper "
                                         "ratios), one line per anchoring variant; bars: sd over seeds; hollow "
                                         "markers: one seed (no bar, untested).")
    return out
