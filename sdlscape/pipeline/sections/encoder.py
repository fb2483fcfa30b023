"""The report's encoder-experiment section (bench/encoder.py): oracle run, hypotheses (a)-(c), paper beside them."""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, fmt, pct
from sdlscape.pipeline.sections._common import add_figure


def _trend(start: float, end: float) -> str:
    return "rises" if end > start else ("falls" if end < start else "stays")


def summary(res: dict) -> str:
    """The paragraph: what the numbers of this run show (every number read from res)."""
    p, s = res["paper"], res["settings"]
    tau = p["tau"]
    oc = res["oracle"]["curves"]
    h = res["hypotheses"]
    a, b, c = h["decoder_measured"], h["tied"], h["early_stopping"]
    k = f"enc_M_GT@{tau}"
    steps = oc["step"][-1]
    moved = "moves encoder rows off" if oc["enc_M_IP"][-1] < oc["enc_M_IP"][0] else "does not move encoder rows off"
    text = (f"Oracle ({s['name']} scale, n = {s['n']}, n_p = {s['n_p']}, k = {s['k']}, {steps} steps): with the "
            f"decoder fixed at the true features and the encoder started at them, the TopK loss {moved} "
            f"the features: encoder M_IP {fmt(oc['enc_M_IP'][0], 3)} -> {fmt(oc['enc_M_IP'][-1], 3)}, "
            f"encoder M_GT(tau = {tau}) {pct(oc[k][0])} -> {pct(oc[k][-1])}, while their similarity to the "
            f"least-squares readers (W W^T)^+ w_j {_trend(oc['reader_M_IP'][0], oc['reader_M_IP'][-1])} "
            f"({fmt(oc['reader_M_IP'][0], 3)} -> {fmt(oc['reader_M_IP'][-1], 3)}) and FVU goes "
            f"{fmt(oc['fvu'][0], 3)} -> {fmt(oc['fvu'][-1], 3)}. ")
    text += (f"Hypotheses, against the paper's encoder M_GT {pct(p['encoder_M_GT'])} at tau = {tau} "
             f"({p['settings']}): (a) free training gives encoder M_GT {pct(a['encoder_M_GT'])} but decoder "
             f"M_GT {pct(a['decoder_M_GT'])}; (b) tied weights give encoder M_GT {pct(b['encoder_M_GT'])} at "
             f"FVU {fmt(b['final']['fvu'], 3)} ({fmt(b.get('fvu_ratio_vs_free'), 2)}x the free model's "
             f"{fmt(a['final']['fvu'], 3)}); (c) with SAELens's 0.1-norm init the encoder's M_GT peaks at "
             f"{pct(c['peak']['enc_M_GT'])} (step {c['peak']['step']}) and ends at {pct(c['final'][k])} "
             f"(tau = 0.9: peak {pct(c['peak@0.9']['enc_M_GT'])} at step {c['peak@0.9']['step']}). ")
    gaps = {"(a) decoder measured": abs(a["decoder_M_GT"] - p["encoder_M_GT"]),
            "(b) tied weights": abs(b["encoder_M_GT"] - p["encoder_M_GT"]),
            "(c) early stopping": abs(c["encoder_M_GT"] - p["encoder_M_GT"])}
    best = min(gaps, key=gaps.get)
    text += (f"Closest to the paper's number at this scale: {best} (|difference| {pct(gaps[best])}); one seed "
             f"(seed {s['seed']}), so no noise estimate: one feature is {pct(1 / s['n'])} of M_GT here.")
    return text


def blocks(report: dict) -> list:
    res = report.get("encoder")
    if not res:
        return []
    p = res["paper"]
    tau = p["tau"]
    k = f"enc_M_GT@{tau}"
    out: list = [Heading(f"The encoder experiment (TopK SAE encoder rows vs features, tau = {tau})"),
                 Paragraph(summary(res))]
    rows = []
    oc = res["oracle"]
    rows.append(["oracle, step 0", pct(oc["curves"][k][0]), fmt(oc["curves"]["enc_M_IP"][0], 3),
                 pct(oc["curves"][f"dec_M_GT@{tau}"][0]), fmt(oc["curves"]["reader_M_IP"][0], 3),
                 fmt(oc["curves"]["fvu"][0], 3), "–"])
    rows.append(["oracle, end", pct(oc["final"][k]), fmt(oc["final"]["enc_M_IP"], 3), pct(oc["final"][f"dec_M_GT@{tau}"]),
                 fmt(oc["final"]["reader_M_IP"], 3), fmt(oc["final"]["fvu"], 3), fmt(oc.get("l0"), 3)])
    for h in res["hypotheses"].values():
        f = h["final"]
        rows.append([h["label"], pct(f[k]), fmt(f["enc_M_IP"], 3), pct(f[f"dec_M_GT@{tau}"]), fmt(f["reader_M_IP"], 3),
                     fmt(f["fvu"], 3), fmt(h.get("l0"), 3)])
    e = res["hypotheses"]["early_stopping"]["peak"]
    rows.append([f"(c) at its peak (step {e['step']})", pct(e["enc_M_GT"]), fmt(e["enc_M_IP"], 3), "–", "–",
                 fmt(e["fvu"], 3), "–"])
    rows.append([f"paper, {p['table']} {p['method']} ({p['settings']})", pct(p["encoder_M_GT"]),
                 fmt(p["encoder_M_IP"], 3), "–", "–", "–", "–"])
    out.append(Table(["run", f"encoder M_GT (tau = {tau})", "encoder M_IP", f"decoder M_GT (tau = {tau})",
                      "encoder M_IP vs readers", "FVU (held out)", "L0"], rows,
                     f"{res['settings']['name']} scale, seed {res['settings']['seed']}; last row: the paper"))
    add_figure(out, report, "encoder_curves", "The encoder experiment over training: oracle run (left), "
                                              "hypotheses (a)-(c) beside the paper's number (middle), FVU (right).")
    return out
