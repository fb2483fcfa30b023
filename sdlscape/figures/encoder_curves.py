"""The encoder experiment's curves (bench/encoder.py): the oracle run and hypotheses (a)-(c) over training.

Reads a result of run_encoder_experiment; computes nothing.  Legends sit below each panel so that
they never cover a curve.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.figures._common import new_figure, save


def _legend(ax) -> None:
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)


def draw(result: dict, out_dir: str | Path, name: str = "encoder_curves") -> list[Path]:
    tau = result["paper"]["tau"]
    fig, (a0, a1, a2) = new_figure(13.0, 4.6, ncols=3)
    oc = result["oracle"]["curves"]
    for key, label, style in (("enc_M_IP", "encoder rows vs features (M_IP)", "-"),
                              (f"enc_M_GT@{tau}", f"encoder rows vs features (M_GT, tau={tau})", "--"),
                              ("reader_M_IP", "encoder rows vs readers (W W^T)^+ w_j (M_IP)", "-"),
                              ("dec_M_IP", "decoder columns vs features (M_IP, fixed)", ":")):
        a0.plot(oc["step"], oc[key], style, label=label)
    a0.set_title("Oracle: decoder fixed at W_p, encoder started at W_p", fontsize=9)
    a0.set_xlabel("training step")
    a0.set_ylabel("M_IP / M_GT")
    a0.set_ylim(-0.03, 1.03)
    _legend(a0)

    hyp = result["hypotheses"]
    free, tied, early = hyp["decoder_measured"]["curves"], hyp["tied"]["curves"], hyp["early_stopping"]["curves"]
    k = f"enc_M_GT@{tau}"
    a1.plot(free["step"], free[k], label="(a) free: encoder rows")
    a1.plot(free["step"], free[f"dec_M_GT@{tau}"], label="(a) free: decoder columns")
    a1.plot(tied["step"], tied[k], label="(b) tied: encoder = decoder^T")
    a1.plot(early["step"], early[k], label="(c) SAELens 0.1-norm init: encoder rows")
    a1.axhline(result["paper"]["encoder_M_GT"], color="0.4", lw=0.8, ls="--",
               label=f"paper: encoder M_GT {result['paper']['encoder_M_GT']:.1%} (paper scale)")
    a1.set_title(f"Three hypotheses: M_GT at tau = {tau}", fontsize=9)
    a1.set_xlabel("training step")
    a1.set_ylabel(f"M_GT (tau = {tau})")
    a1.set_ylim(-0.03, 1.03)
    _legend(a1)

    for curves, label in ((oc, "oracle (encoder only)"), (free, "(a) free"), (tied, "(b) tied"), (early, "(c) 0.1-norm init")):
        a2.plot(curves["step"], curves["fvu"], label=label)
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
