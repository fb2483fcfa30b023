"""The encoder experiment's curves (bench/encoder.py): the oracle run and hypotheses (a)-(c) over training.

Reads a result of run_encoder_experiment; computes nothing.  Legends sit below each panel so that
they never cover a curve.  One colour per run in every panel (oracle black, (a) blue, (b) green, (c) red);
line style tells the quantity (encoder rows solid, decoder columns dashed, readers dash-dot); a curve drawn
over another is thinner and marked, so that neither hides.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.figures._common import new_figure, save

RUN_COLOURS = {"oracle": "black", "free": "C0", "tied": "C2", "early": "C3"}


def _legend(ax) -> None:
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)


def draw(result: dict, out_dir: str | Path, name: str = "encoder_curves") -> list[Path]:
    tau = result["paper"]["tau"]
    fig, (a0, a1, a2) = new_figure(13.0, 4.6, ncols=3)
    oc = result["oracle"]["curves"]
    for key, label, style, marker in (("enc_M_IP", "encoder rows vs features (M_IP)", "-", None),
                                      (f"enc_M_GT@{tau}", f"encoder rows vs features (M_GT, tau={tau})", "-", "o"),
                                      ("reader_M_IP", "encoder rows vs readers (W W^T)^+ w_j (M_IP)", "-.", None),
                                      ("dec_M_IP", "decoder columns vs features (M_IP, fixed)", "--", None)):
        a0.plot(oc["step"], oc[key], style, color=RUN_COLOURS["oracle"], marker=marker, ms=3,
                markevery=max(1, len(oc["step"]) // 15), label=label)
    a0.set_title("Oracle: decoder fixed at W_p, encoder started at W_p", fontsize=9)
    a0.set_xlabel("training step")
    a0.set_ylabel("M_IP / M_GT")
    a0.set_ylim(-0.03, 1.03)
    _legend(a0)

    hyp = result["hypotheses"]
    free, tied, early = hyp["decoder_measured"]["curves"], hyp["tied"]["curves"], hyp["early_stopping"]["curves"]
    k = f"enc_M_GT@{tau}"
    # drawn widest first: a curve on top of another (e.g. two at 0) stays visible as a thin marked line
    a1.plot(early["step"], early[k], color=RUN_COLOURS["early"], lw=4, alpha=0.45,
            label="(c) SAELens 0.1-norm init: encoder rows")
    a1.plot(tied["step"], tied[k], color=RUN_COLOURS["tied"], lw=2.5, alpha=0.8, label="(b) tied: encoder = decoder^T")
    a1.plot(free["step"], free[f"dec_M_GT@{tau}"], "--", color=RUN_COLOURS["free"], lw=1.5,
            label="(a) free: decoder columns")
    a1.plot(free["step"], free[k], color=RUN_COLOURS["free"], lw=1.2, marker="o", ms=3,
            markevery=max(1, len(free["step"]) // 15), label="(a) free: encoder rows")
    flat = [lab for lab, c in (("(a) encoder rows", free[k]), ("(b)", tied[k]), ("(c)", early[k])) if max(c) == 0]
    if flat:
        a1.text(0.03, 0.75, "at 0 throughout: " + ", ".join(flat), transform=a1.transAxes, fontsize=7.5)
    a1.axhline(result["paper"]["encoder_M_GT"], color="0.4", lw=0.8, ls="--",
               label=f"paper: encoder M_GT {result['paper']['encoder_M_GT']:.1%} (paper scale)")
    a1.set_title(f"Three hypotheses: M_GT at tau = {tau}", fontsize=9)
    a1.set_xlabel("training step")
    a1.set_ylabel(f"M_GT (tau = {tau})")
    a1.set_ylim(-0.03, 1.03)
    _legend(a1)

    for curves, label, run in ((oc, "oracle (encoder only)", "oracle"), (free, "(a) free", "free"),
                               (tied, "(b) tied", "tied"), (early, "(c) 0.1-norm init", "early")):
        a2.plot(curves["step"], curves["fvu"], color=RUN_COLOURS[run], label=label)
    a2.set_yscale("log")
    a2.set_title("Reconstruction (held-out samples)", fontsize=9)
    a2.set_xlabel("training step")
    a2.set_ylabel("FVU")
    _legend(a2)
    s = result["settings"]
    fig.suptitle(f"Encoder experiment, {s['name']} scale: n = {s['n']}, n_p = {s['n_p']}, n_latents = {s['n_latents']}, "
                 f"k = {s['k']}, p_active = {s['p_active']}, M = {s['M']}", fontsize=10)
    fig.tight_layout()
    return save(fig, out_dir, name)
