"""The theory's diagnostics of a trained dictionary: its piece of L~ and how far it is from a partial optimum.

The dictionary's encoder rows and decoder columns are read as the model of Def. 2.3 (no biases: their
a dictionary whose biases matter is diagnosed without them, and says so) on the instance
(W_p, W_r, M) of the bench, with M_d = E[x_d^2] estimated from the truth's held-out coefficients, so that
L~ (eq. 11) is the diagonal part of the exact loss.  Then:

* **pattern** (Def. 3.1): F_i = {d : sigma(W_E w_p^d)_i > 0}; dead latents (F_i empty), polysemantic
  latents (|F_i| >= 2), and for a hierarchy the absorption events of Thm 3.8 (theory.patterns.absorptions,
  one group of children per parent);
* **decoder block** solved exactly at the dictionary's encoder (least squares, solvers.blocks.decoder_closed_form):
  ``decoder_gap`` = L~(W_D, W_E) - min_{W_D'} L~(W_D', W_E) >= 0;
* **encoder block** over the dictionary's own region Omega_P at that decoder (convex by Thm 3.2):
  ``encoder_gap`` = L~(W_D*, W_E) - min_{W_E' in Omega_P} L~(W_D*, W_E').  Small instances (at most
  ``EXACT_VARIABLES`` encoder entries) solve it with the CVXPY block (solvers.blocks.EncoderBlock; exact,
  status recorded); larger ones by region-preserving gradient descent (a step is halved until the
  pattern of W_E stays P and L~ decreases), a feasible point, so the gap reported is a *lower bound*
  on the true gap (``encoder_method`` says which);
* **ACS** from there (solvers.acs.run_acs, small instances; its outcome and loss), and at scale the loss
  after ``rounds`` alternations of the two blocks above;
* small instances (n_latents x n at most ``CERTIFY_CELLS``) also get the piece's certified infimum
  (solvers.certify.certify_piece) and the certified global minimum of L~ (certify_global) for comparison.
"""
from __future__ import annotations

import time

import numpy as np

EXACT_VARIABLES = 400        # encoder entries up to which the CVXPY encoder block and ACS run
CERTIFY_CELLS = 16           # n_latents * n up to which the certifier runs
DESCENT_STEPS = 50           # region-preserving gradient steps per encoder block at scale


def _activation_spec(sae) -> tuple[dict | None, str]:
    """The theory's activation for the dictionary (or None and why not)."""
    arch, info = sae.architecture, sae.info
    if arch in ("standard", "relu"):
        return {"name": "relu"}, ""
    if arch == "topk" and info.get("k"):
        return {"name": "topk_relu", "k": int(info["k"])}, ""
    return None, f"architecture {arch!r} has no activation of Def. 2.3 here (relu and TopK o ReLU are read)"


def instance_of(sae, truth):
    """(Instance, W_E, W_D) of the dictionary on the bench (Def. 2.3; M_d = E[x_d^2] from held-out codes)."""
    from sdlscape.theory.instance import Instance

    spec, why = _activation_spec(sae)
    if spec is None:
        return None, None, None, why
    X = np.asarray(truth.eval_codes, dtype=np.float64)
    M = (X ** 2).mean(0)
    M = np.maximum(M, 1e-12 * max(M.max(), 1e-12))
    inst = Instance(W_p=truth.W_in, W_r=truth.W_out, M=M, activation=spec, n_latents=sae.d_sae, normalize=True)
    return inst, np.asarray(sae.W_enc, np.float64), np.asarray(sae.W_dec, np.float64).T, ""


def pattern_report(inst, W_E, hierarchy) -> dict:
    from sdlscape.theory.loss import feature_mask
    from sdlscape.theory.patterns import Pattern, absorptions

    mask = feature_mask(inst, W_E)
    sizes = mask.sum(1)
    pat = Pattern.from_mask(mask)
    groups = [list(g["children"]) for g in hierarchy]
    events = absorptions(pat, groups) if groups else []
    covered = mask.any(0)
    return {"dead": int((sizes == 0).sum()), "dead_fraction": float(np.mean(sizes == 0)),
            "polysemantic": int((sizes >= 2).sum()), "max_features_per_latent": int(sizes.max(initial=0)),
            "features_covered": float(covered.mean()), "absorption_events": len(events),
            "absorbed_parents": sorted({hierarchy[e["parent"]]["parent"] for e in events}), "_pattern": pat,
            "_mask": mask}


def _descend(inst, W_D, W_E, mask, steps: int) -> tuple[np.ndarray, float, int]:
    """Region-preserving gradient descent on L~(W_D, .) with the pattern fixed (a feasible point of the block)."""
    from sdlscape.theory.loss import approx_grad, approx_loss, passed_mask

    L = approx_loss(inst, W_D, W_E, mask)
    t, taken = None, 0
    for _ in range(steps):
        _, gE = approx_grad(inst, W_D, W_E, mask)
        gn = float(np.sum(gE * gE))
        if gn == 0.0:
            break
        if t is None:   # first trial step: a Cauchy step of the quadratic along -gE
            Zg = np.where(mask, gE @ inst.W_p, 0.0)
            curv = 2.0 * float(np.sum(inst.M * np.sum((W_D @ Zg) ** 2, axis=0)))
            t = gn / curv if curv > 0 else 1.0
        while t > 1e-12:
            W_new = W_E - t * gE
            if np.array_equal(passed_mask(inst, W_new), mask):
                L_new = approx_loss(inst, W_D, W_new, mask)
                if L_new < L:
                    W_E, L, taken = W_new, L_new, taken + 1
                    t *= 1.5
                    break
            t *= 0.5
        else:
            break
    return W_E, L, taken


def diagnose(sae, truth, rounds: int = 3, steps: int = DESCENT_STEPS, certify: bool = True,
             time_limit: float = 30.0) -> dict:
    """The diagnostics of the module docstring, as a JSON-ready dict."""
    from sdlscape.solvers.blocks import decoder_closed_form
    from sdlscape.theory.loss import approx_loss, passed_mask

    t0 = time.perf_counter()
    inst, W_E, W_D, why = instance_of(sae, truth)
    if inst is None:
        return {"applicable": False, "why": why}
    pat = pattern_report(inst, W_E, truth.hierarchy)
    mask = passed_mask(inst, W_E)
    L0 = approx_loss(inst, W_D, W_E)
    W_Ds = decoder_closed_form(inst, W_E, mask)
    L_dec = approx_loss(inst, W_Ds, W_E, mask)
    out = {"applicable": True, "activation": inst.activation.name, "n_latents": inst.n_latents,
           "M_weights": "E[x_d^2] from the held-out coefficients",
           "biases": "left out (the model of Def. 2.3 has none)",
           "pattern": {k: v for k, v in pat.items() if not k.startswith("_")},
           "loss": L0, "loss_decoder_solved": L_dec, "decoder_gap": L0 - L_dec}
    small = inst.n_latents * inst.n_p <= EXACT_VARIABLES
    if small:
        out.update(_exact_blocks(inst, pat["_pattern"], W_Ds, W_E, L_dec))
    else:
        W_Es, L_enc, taken = _descend(inst, W_Ds, W_E, mask, steps)
        out.update({"encoder_method": f"region-preserving gradient descent, {steps} steps ({taken} taken): a "
                                      "feasible point, so encoder_gap is a lower bound",
                    "loss_encoder_solved": L_enc, "encoder_gap": L_dec - L_enc})
        W_e, W_d, L = W_Es, W_Ds, L_enc
        for _ in range(max(rounds - 1, 0)):
            W_d = decoder_closed_form(inst, W_e, mask)
            W_e, L, _ = _descend(inst, W_d, W_e, mask, steps)
        out["acs"] = {"method": f"{rounds} alternations of the two blocks above (decoder exact, encoder by descent)",
                      "loss": float(L), "outcome": "not certified at this size"}
    if certify and small and inst.n_latents * inst.n <= CERTIFY_CELLS:
        out["certified"] = _certified(inst, pat["_pattern"], time_limit)
    out["seconds"] = time.perf_counter() - t0
    return out


def _exact_blocks(inst, pattern, W_Ds, W_E, L_dec) -> dict:
    from sdlscape.errors import InputError
    from sdlscape.solvers.acs import run_acs
    from sdlscape.solvers.blocks import EncoderBlock
    from sdlscape.theory.piece import linear_piece

    piece = linear_piece(inst, pattern)
    sol = EncoderBlock(piece).solve(W_Ds)
    out = {"encoder_method": f"CVXPY encoder block over the closed region (margin eps = {piece.margin:g}), "
                             f"status {sol.status}", "encoder_status": sol.status}
    if not sol.optimal:
        return {**out, "loss_encoder_solved": None, "encoder_gap": None, "acs": None}
    out.update({"loss_encoder_solved": sol.value, "encoder_gap": L_dec - sol.value})
    start = W_E
    try:
        acs = run_acs(piece, start, max_iter=200)
        acs_from = "the dictionary's encoder"
    except InputError:            # a trained encoder within eps of its region's boundary: start at the block's answer
        acs = run_acs(piece, sol.W, max_iter=200)
        acs_from = "the encoder block's solution (the dictionary's encoder is within the margin of its boundary)"
    out["acs"] = {"from": acs_from, "outcome": acs.outcome.value, "loss": acs.loss, "iterations": acs.iterations,
                  "reason": acs.reason}
    return out


def _certified(inst, pattern, time_limit: float) -> dict:
    from sdlscape.solvers.certify import certify_global, certify_piece
    from sdlscape.theory.piece import linear_piece

    pc = certify_piece(linear_piece(inst, pattern), time_limit=time_limit)
    gc = certify_global(inst, time_limit=time_limit)
    return {"piece": {"value": pc.value, "lower_bound": pc.lower_bound, "certified": pc.certified,
                      "status": pc.status.value, "infimum_on_boundary": pc.infimum_on_boundary},
            "global": {"value": gc.value, "lower_bound": gc.lower_bound, "certified": gc.certified,
                       "pattern": None if gc.minimiser is None else gc.minimiser.pattern.to_json()}}
