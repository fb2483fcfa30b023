"""The report's anchoring verdict (bench/anchoring.py): does eq. 26 help, hurt or do nothing, why, and what helps.

Reads ``report["anchoring"]``: one result of ``sdlscape bench anchoring`` or a list of them (scales, size
sweeps); computes nothing but the reading of their paired tests.  The paper's numbers sit beside ours.
"""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, fmt, pct
from sdlscape.pipeline.sections._common import add_figure

KEY = "M_GT_decoder_95"
PAPER = ("paper (n = 1000, encoder M_GT at tau 0.95, one run): Table 1 TopK 84.9% plain -> 87.6% anchored, "
         "ReLU 0% -> 0%; Table 4 (ReLU, tau 0.9): anchored 100% at n = 800 falling to 8.6% at n = 1400, plain 0%")


def results(report: dict) -> list[dict]:
    got = report.get("anchoring")
    if not got:
        return []
    return [r for r in (got if isinstance(got, list) else [got]) if r.get("rows")]


def _groups(res: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(method, scale, n) -> {variant: row}, later results overriding earlier ones."""
    out: dict[tuple, dict[str, dict]] = {}
    for r in res:
        for row in r["rows"]:
            out.setdefault((row["method"], row["scale"], row["n"]), {})[row["variant"]] = row
    return out


def _test(row: dict) -> dict:
    return row.get("vs_plain", {}).get(KEY, {})


def _verdict_text(row: dict) -> str:
    t = _test(row)
    if not t:
        return "-"
    p = "" if t.get("p") is None else f", p = {fmt(t['p'], 2)}"
    return f"{t['verdict']} ({'+' if t['diff_mean'] >= 0 else ''}{pct(t['diff_mean'])}{p}, {t['same_sign']})"


def _mechanism(rows: dict[str, dict]) -> str:
    parts = []
    for v in ("eq26", "encoder", "normmatch", "cosine"):
        r = rows.get(v)
        if r and r.get("anchored_rate") is not None and r.get("trained_norm") is not None:
            parts.append(f"{v}: anchored latents fire on {pct(r['anchored_rate'])} of samples against "
                         f"{pct(r['anchored_feature_rate'])} for their features, encoder norm "
                         f"{fmt(r['anchored_norm'], 2)} vs {fmt(r['trained_norm'], 2)} for the trained rows")
    plain = rows.get("plain")
    if plain and plain.get("anchored_rate") is not None:
        parts.append(f"plain: the latents matching the anchor features fire on {pct(plain['anchored_rate'])}")
    return "; ".join(parts)


def summary(res: list[dict]) -> str:
    """The paragraph: the eq. 26 verdict per method and scale, the mechanism, and the variants that help."""
    sentences = []
    for (method, scale, n), rows in _groups(res).items():
        plain, eq = rows.get("plain"), rows.get("eq26")
        if not plain or not eq:
            continue
        s = (f"{method} at {scale} (n = {n}, {eq['n_seeds']} seed(s)): decoder M_GT(0.95) {pct(plain[KEY])} plain "
             f"-> {pct(eq[KEY])} with eq. 26, {_verdict_text(eq)}.")
        helps = [v for v, r in rows.items() if _test(r).get("verdict") == "helps"]
        best = max((v for v in rows if v != "plain" and _test(rows[v])), key=lambda v: _test(rows[v])["diff_mean"],
                   default=None)
        if helps:
            s += f" Variants that help (paired test): {', '.join(helps)}."
        elif best is not None:
            s += f" No variant helps by the test; the best is {best} ({_verdict_text(rows[best])})."
        mech = _mechanism(rows)
        if mech:
            s += f" Mechanism: {mech}."
        sentences.append(s)
    if not sentences:
        return "No anchoring run with both a plain and an eq. 26 row."
    test = res[0].get("noise_test", "")
    return " ".join(sentences) + f" Noise test: {test}. Compare the {PAPER}."


def _row(method, scale, n, v, r) -> list:
    t = _test(r)
    paper = "-" if r.get("paper_M_GT") is None else f"{pct(r['paper_M_GT'])} (enc., paper scale)"
    sd = r.get(f"{KEY}_sd")
    norms = "-" if r.get("anchored_norm") is None or r.get("trained_norm") is None else \
        f"{fmt(r['anchored_norm'], 2)} / {fmt(r['trained_norm'], 2)}"
    rate = "-" if r.get("anchored_rate") is None else \
        f"{pct(r['anchored_rate'])} / {pct(r['anchored_feature_rate'])}"
    return [method, f"{scale} (n = {n})", v, r["n_seeds"], f"{pct(r[KEY])}" + ("" if sd is None else f" +- {pct(sd)}"),
            "-" if not t else f"{'+' if t['diff_mean'] >= 0 else ''}{pct(t['diff_mean'])}",
            "-" if t.get("p") is None else fmt(t["p"], 2), t.get("verdict", "-") if t else "-",
            pct(r.get("M_GT_decoder_90")), fmt(r.get("fvu"), 4), pct(r.get("dead_fraction")), rate, norms, paper]


def blocks(report: dict) -> list:
    res = results(report)
    if not res:
        return []
    out: list = [Heading("Feature anchoring (eq. 26): verdict, mechanism, variants"), Paragraph(summary(res))]
    table = [_row(m, s, n, v, r) for (m, s, n), rows in _groups(res).items() for v, r in rows.items()]
    out.append(Table(["method", "scale", "variant", "seeds", "decoder M_GT(0.95) mean +- sd", "paired diff vs plain",
                      "p (paired t)", "verdict", "decoder M_GT(0.9)", "FVU", "dead",
                      "anchored latents' / features' firing rate", "anchored / trained encoder norm", "paper M_GT"], table,
                     "non-anchored features only; variants: " + "; ".join(
                         f"{k}: {v}" for k, v in res[0].get("variants", {}).items())))
    add_figure(out, report, "anchoring", "Non-anchored decoder M_GT(0.95) against the number of features n (paper "
                                         "ratios), one line per anchoring variant; bars: sd over seeds.")
    return out
