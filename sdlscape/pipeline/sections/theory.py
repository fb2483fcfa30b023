"""The report's theory figures (Fig. 4 analogue, Thm 3.1 bound) and the data they show."""
from __future__ import annotations

import numpy as np

from sdlscape.pipeline.document import Heading
from sdlscape.pipeline.sections._common import add_figure, figure
from sdlscape.theory.activations import JumpReLU, ReLU


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
    out = {"W_p": W_p, "W_E": W_E, "W_D": W_D, "loss": approx_loss(inst, W_D, W_E), "rotation_deg": rotation_deg,
           "best_cosine": float(max(max(rec["encoder_best_cos"]), max(rec["decoder_best_cos"])))}
    # TopK(1), the same features and rotated encoder rows: zero loss forces each used decoder column onto its
    # feature (Thm 3.4's conclusion fails for decoders there)
    from sdlscape.theory.activations import TopK

    t1 = inst.with_(activation=TopK(k=1))
    W_D1 = zero_loss_decoder(t1, W_E)
    if W_D1 is not None:
        r1 = recovery(t1, W_D1, W_E, 0.9)
        out["topk1"] = {"W_p": W_p, "W_E": W_E, "W_D": W_D1, "loss": approx_loss(t1, W_D1, W_E),
                        "decoder_best_cos_min": float(min(r1["decoder_best_cos"])),
                        "encoder_best_cos_max": float(max(r1["encoder_best_cos"]))}
    return out


def thm31_data(seed: int = 0, mc: int = 3000) -> dict:
    """Gap |L_SDL - L~| and the eq. 12 bound over sparsity at one random point: relu and jumprelu with
    independent features, and relu with a pair of features that always fire together (a co-firing law,
    allowed by Thm 3.1's hypotheses: there the gap is first order in p and exceeds the bound).

    Magnitudes U[0.1, 1] so that C is finite (with exponential magnitudes C is unbounded and eq. 12 is
    vacuous; see the thm3.1 check). Uses the thm3.1 check's own estimator (verify/thm3_1.py).
    """
    from sdlscape.theory.instance import orthogonal
    from sdlscape.verify.thm3_1 import cofiring_pair, decide, independent

    rng = np.random.default_rng(seed)
    W_E = rng.standard_normal((2, 2))
    W_D = rng.standard_normal((2, 2)) / np.sqrt(2)
    series = {}
    for act, make, label in ((ReLU(), independent, "relu"), (JumpReLU(theta=0.5), independent, "jumprelu(theta=0.5)"),
                             (ReLU(), cofiring_pair, "relu, co-firing pair")):
        inst = orthogonal(2, activation=act, n_latents=2)
        rows = [decide(inst, W_D, W_E, make(inst.n, f / inst.n), mc, np.random.default_rng(seed))
                for f in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)]
        series[label] = {"p_active": [r["p_active"] for r in rows], "gap": [abs(r["diff"]) for r in rows],
                         "ci95_half": [r["half"] for r in rows],
                         "bound_lo": [r["bound_with_C_lo"] for r in rows],
                         "bound_hi": [r["bound_with_C_hi"] for r in rows],
                         "verdicts": [r["verdict"].value for r in rows]}
    return {"series": series, "title": "Thm 3.1 (eq. 12), orthogonal n = 2, one random point, magnitudes U[0.1, 1]"}


def blocks(report: dict) -> list:
    blocks: list = []
    f = figure(report, "fig4_zero_loss", "Fig. 4 analogue: zero loss without recovering any feature (ReLU, 4 "
                                       "features in R^2, 4 latents); below, TopK(1) with the same encoder: zero "
                                       "loss puts every decoder column on a feature (Thm 3.4's conclusion fails "
                                       "for decoders).")
    if f:
        blocks += [Heading("Non-identifiability and the loss approximation"), f]
    add_figure(blocks, report, "thm31_bound", "Thm 3.1: measured |L_SDL - L~| against the bound of eq. 12 over sparsity, "
                                              "one panel per case (relu and jumprelu with independent features, relu "
                                              "with a pair that always fires together); crosses mark the levels where "
                                              "the gap exceeds the bound; the slope at small p_active is 2 for a "
                                              "second-order gap, 1 for a first-order one.")
    return blocks
