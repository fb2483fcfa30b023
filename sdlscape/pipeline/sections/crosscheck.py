"""The report's gradient-descent vs exact-map section (results of sdlscape crosscheck)."""
from __future__ import annotations

from sdlscape.pipeline.document import Heading, Paragraph, Table, pct
from sdlscape.pipeline.sections._common import add_figure


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
            w, wo = b["runs"].get("with_resampling", {}), b["runs"].get("without_resampling", {})
            note = None
            if w.get("final_mse_full_data") is not None and wo.get("final_mse_full_data") is not None:
                note = (f"final MSE (full data): {wo['final_mse_full_data']:.4g} without, "
                        f"{w['final_mse_full_data']:.4g} with resampling")
                if w.get("fraction_resampled_dead_at_end") is not None:
                    note += (f"\n{100 * w['fraction_resampled_dead_at_end']:.0f}% of the "
                             f"{w.get('n_latents_ever_resampled')} resampled latents are dead again at the end")
            return {"curves": curves, "note": note, "resample_steps": list(range(every, steps, every)) if every else [],
                    "title": f"ReLU SAE on a small bench (n={st.get('n')}, d={st.get('d')}, "
                             f"{st.get('n_latents')} latents, L1 {st.get('l1_coef')}): resampling every {every} steps"}
    return {}


def blocks(report: dict) -> list:
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
    add_figure(blocks, report, "crosscheck_outcomes", "Where gradient descent from random starts ends.")
    add_figure(blocks, report, "fig7_resampling", "Fig. 7 analogue: loss with and without resampling dead latents; the "
                                                          "box gives how far apart the two curves are and what "
                                                          "became of the resampled latents.")
    return blocks
