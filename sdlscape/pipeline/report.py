"""Turn the results of a reproduction (report.json) into figures and the report's blocks.

Every number in the report is read from the results; the paper's numbers appear only in columns
labelled "paper".
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sdlscape.theory.activations import JumpReLU, ReLU
from sdlscape.pipeline.document import Document, Figure, Heading, Paragraph, Table, fmt, pct

ACTIVATION_ORDER = ("relu", "jumprelu", "topk", "topk_relu")
TABLE_VARIES = {"table4": "n", "table5": "M", "table6": "p_active", "table7": "k"}


# ---------------------------------------------------------------------------------------------
# Figure data, extracted from results (so `sdlscape figures --from` redraws without recomputing)


def fig4_data(rotation_deg: float = 45.0) -> dict:
    """A zero-loss ReLU dictionary for 4 features in R^2 that recovers none of them (Fig. 4).

    Features +-e1, +-e2; four latents whose encoder rows are the axes rotated by `rotation_deg`;
    the decoder is the exact solution W_D = W_r Q^+ of eq. 11 = 0 (Thm 3.4), checked to be exact.
    """
    from sdlscape.theory.constructions import recovery, zero_loss_decoder
    from sdlscape.theory.instance import Instance
    from sdlscape.theory.loss import approx_loss

    W_p = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    inst = Instance(W_p=W_p, activation=ReLU(), n_latents=4, name="fig4")
    ang = np.deg2rad(rotation_deg + 90.0 * np.arange(4))
    W_E = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    W_D = zero_loss_decoder(inst, W_E)
    if W_D is None:
        return {}
    rec = recovery(inst, W_D, W_E, 0.9)
    return {"W_p": W_p, "W_E": W_E, "W_D": W_D, "loss": approx_loss(inst, W_D, W_E),
            "rotation_deg": rotation_deg,
            "best_cosine": float(max(max(rec["encoder_best_cos"]), max(rec["decoder_best_cos"])))}


def thm31_data(seed: int = 0, mc: int = 3000) -> dict:
    """Gap |L_SDL - L~| and the eq. 12 bound over sparsity at one random point, relu vs jumprelu.

    Magnitudes U[0.1, 1] so that C is finite (with exponential magnitudes C is unbounded and eq. 12
    is vacuous; see the thm3.1 check). Uses the thm3.1 check's own estimator.
    """
    from sdlscape.theory.instance import orthogonal
    from sdlscape.verify.claims_loss import evaluate_point

    rng = np.random.default_rng(seed)
    W_E = rng.standard_normal((2, 2))
    W_D = rng.standard_normal((2, 2)) / np.sqrt(2)
    series = {}
    for act in (ReLU(), JumpReLU(theta=0.5)):
        inst = orthogonal(2, activation=act, n_latents=2)
        rows = [evaluate_point(inst, W_D, W_E, f / inst.n, mc, np.random.default_rng(seed))
                for f in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)]
        series[str(act)] = {"p_active": [r["p_active"] for r in rows], "gap": [abs(r["diff"]) for r in rows],
                            "ci95_half": [r["ci95_half"] for r in rows],
                            "bound_lo": [r["bound_with_C_lo"] for r in rows],
                            "bound_hi": [r["bound_with_C_hi"] for r in rows],
                            "verdicts": [r["verdict"] for r in rows]}
    return {"series": series, "title": "Thm 3.1 (eq. 12), orthogonal n = 2, one random point, magnitudes U[0.1, 1]"}


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


def resampling_data(report: dict) -> dict:
    """Loss curves of the bench SAE with and without resampling (the cross-check's bench experiment)."""
    for res in report.get("crosscheck", {}).values():
        b = res.get("bench_resampling")
        if b and b.get("runs"):
            st = b.get("setting", {})
            curves = {name.replace("_", " "): {"step": run["history"]["step"], "loss": run["history"]["loss"]}
                      for name, run in b["runs"].items()}
            every = st.get("resample_every")
            steps = st.get("steps", 0)
            return {"curves": curves, "resample_steps": list(range(every, steps, every)) if every else [],
                    "title": f"ReLU SAE on a small bench (n={st.get('n')}, d={st.get('d')}, "
                             f"{st.get('n_latents')} latents, L1 {st.get('l1_coef')}): resampling every {every} steps"}
    return {}


def draw_figures(report: dict, folder: Path) -> dict[str, list[Path]]:
    """Draw every figure whose data the report holds; returns {figure name: [png, pdf]}."""
    from sdlscape.figures import (
        bench3d,
        crosscheck_outcomes,
        landscape_map,
        recovery_curve,
        resampling,
        thm31_bound,
        zero_loss,
    )

    folder = Path(folder)
    out: dict[str, list[Path]] = {}
    if "fig4" not in report:
        report["fig4"] = fig4_data()
    if report["fig4"]:
        out["fig4_zero_loss"] = zero_loss.draw(report["fig4"], folder)
    for name, land in report.get("landscapes", {}).items():
        out[f"landscape_{name}"] = landscape_map.draw(land, folder, name=f"landscape_{name}",
                                                      title=f"Pieces of {name} ({land['summary']['activation']['name']})")
    if report.get("crosscheck"):
        out["crosscheck_outcomes"] = crosscheck_outcomes.draw(report["crosscheck"], folder)
    data = recovery_curve_data(report)
    if data:
        out["fig6_recovery_curve"] = recovery_curve.draw(data, folder)
    data = resampling_data(report)
    if data:
        out["fig7_resampling"] = resampling.draw(data, folder)
    if report.get("bench3d"):
        out["fig9_bench3d"] = bench3d.draw(report["bench3d"], folder)
    if "thm31" not in report:
        report["thm31"] = thm31_data(report.get("seed", 0))
    out["thm31_bound"] = thm31_bound.draw(report["thm31"], folder)
    if report.get("real", {}).get("top_examples"):
        from sdlscape.figures import top_activations

        out["top_activations"] = top_activations.draw(report["real"], folder)
    return out


# ---------------------------------------------------------------------------------------------
# The document


def _fig(report: dict, name: str, caption: str) -> Figure | None:
    paths = report.get("figures", {}).get(name)
    if not paths:
        return None
    png = next((p for p in paths if p.endswith(".png")), None)
    return Figure(png, caption) if png else None


def _add_figure(blocks: list, report: dict, name: str, caption: str) -> None:
    """Append the figure `name` if the report drew it."""
    f = _fig(report, name, caption)
    if f:
        blocks.append(f)


def verdict_blocks(report: dict) -> list:
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


def landscape_blocks(report: dict) -> list:
    lands = report.get("landscapes", {})
    if not lands:
        return []
    blocks: list = [Heading("Landscapes of small instances"),
                    Paragraph("Every activation-pattern piece enumerated (cells of the hyperplane arrangement, "
                              "pieces up to latent permutation) and solved by alternating convex search from "
                              "several starts. A piece's loss is an upper bound on its minimum; the global value "
                              "is the lowest certified partial optimum found.")]
    rows = []
    for name, land in lands.items():
        s = land["summary"]
        c = s.get("counts", {})
        rows.append([name, s["activation"]["name"] + (f"(k={s['activation']['k']})" if "k" in s["activation"] else ""),
                     s.get("n"), s.get("n_p"), s.get("n_latents"), s.get("cells_per_latent"), s.get("pieces"),
                     s.get("global_value"), c.get("global"), c.get("spurious"), c.get("leaves_region"),
                     c.get("inconclusive")])
    blocks.append(Table(["instance", "activation", "n", "n_p", "n_latents", "cells/latent", "pieces", "global value",
                         "global", "spurious", "leaves region", "inconclusive"], rows))
    for name in lands:
        _add_figure(blocks, report, f"landscape_{name}", f"Pieces of {name} by ACS loss, coloured by class.")
    return blocks


def crosscheck_blocks(report: dict) -> list:
    cc = report.get("crosscheck", {})
    if not cc:
        return []
    blocks: list = [Heading("Gradient descent against the exact map"),
                    Paragraph("Independent random starts trained by gradient descent on L~ (eq. 11); each final "
                              "point is matched to its piece and its loss compared with that piece's ACS value.")]
    rows = []
    for name, res in cc.items():
        o = res.get("outcomes", {})
        rows.append([name, res.get("starts"), pct(o.get("global")), pct(o.get("spurious")),
                     pct(o.get("leaves_region")), pct(o.get("not_converged")), res.get("disagreements")])
    blocks.append(Table(["instance", "starts", "global", "spurious", "region boundary", "not converged",
                         "disagreements with ACS"], rows))
    _add_figure(blocks, report, "crosscheck_outcomes", "Where gradient descent from random starts ends.")
    _add_figure(blocks, report, "fig7_resampling", "Fig. 7 analogue: loss with and without resampling dead latents.")
    return blocks


def bench_blocks(report: dict) -> list:
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
    _add_figure(blocks, report, "fig6_recovery_curve", "Fig. 6 analogue: M_GT of encoder rows as a function of tau.")
    _add_figure(blocks, report, "fig9_bench3d", "Fig. 9 analogue: a small bench in R^3.")
    return blocks


def real_blocks(report: dict) -> list:
    real = report.get("real")
    if not real:
        return []
    blocks: list = [Heading(f"Real representations: {real.get('table')} (Table 2 analogue)"),
                    Paragraph(real.get("description", "Class-mean anchors of some classes; recovery measured "
                                                      "against the class-mean directions of held-out classes. "
                                                      "The paper's columns are CLIP ViT-B/32 on ImageNet-1K, a "
                                                      "different dataset."))]
    rows = [[r["method"], r["anchoring"], pct(r["M_GT"]), fmt(r["M_IP"], 3), fmt(r.get("M_IP_other_latents"), 3),
             pct(r.get("paper_M_GT")), fmt(r.get("paper_M_IP"), 3), fmt(r.get("anchor_cos"), 3),
             fmt(r.get("anchor_precision"), 3), fmt(r.get("anchor_recall"), 3)] for r in real["rows"]]
    blocks.append(Table(["method", "anchoring", "ours M_GT", "ours M_IP", "ours M_IP without anchored latents",
                         "paper M_GT (CLIP/ImageNet)", "paper M_IP (CLIP/ImageNet)", "anchored latent cos to class mean",
                         "anchored latent precision", "anchored latent recall"], rows))
    _add_figure(blocks, report, "top_activations", "Top-activating examples of a few latents, with and without anchoring.")
    return blocks


def theory_figure_blocks(report: dict) -> list:
    blocks: list = []
    f = _fig(report, "fig4_zero_loss", "Fig. 4 analogue: zero loss without recovering any feature (ReLU, 4 "
                                       "features in R^2, 4 latents).")
    if f:
        blocks += [Heading("Non-identifiability and the loss approximation"), f]
    _add_figure(blocks, report, "thm31_bound", "Thm 3.1: measured |L_SDL - L~| against the bound of eq. 12 over sparsity.")
    return blocks


def build_document(report: dict) -> Document:
    prov = report.get("provenance", {})
    doc = Document("sdlscape reproduction of arXiv:2512.05534")
    doc.add(Paragraph(f"Scale {report.get('scale', {}).get('name')}, device {prov.get('device', report.get('device'))}, "
                      f"seed {report.get('seed')}, wall time {prov.get('seconds', 0):.0f} s, git "
                      f"{prov.get('git_commit')}, {prov.get('date_utc', '')}. Numbers are from this run; paper "
                      f"numbers are in columns labelled 'paper'."))
    for blocks in (verdict_blocks(report), landscape_blocks(report), crosscheck_blocks(report), bench_blocks(report),
                   real_blocks(report), theory_figure_blocks(report)):
        for b in blocks:
            doc.add(b)
    if prov:
        doc.add(Heading("Provenance"))
        doc.add(Table(["key", "value"], [[k, v if not isinstance(v, dict) else ", ".join(f"{a} {b}" for a, b in v.items())]
                                         for k, v in prov.items()]))
    return doc
