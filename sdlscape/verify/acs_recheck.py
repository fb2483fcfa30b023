"""A disagreement of the cross-check: run ACS again from the gradient end point and say who is right.

A converged gradient start whose L~ differs from its piece's ACS value (verify/crosscheck.py) is
handed to run_acs from that very point; the outcome says whether the gradient, the landscape or both
are right.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece


def recheck_with_acs(inst: Instance, pattern: Pattern, W_E: np.ndarray, gd_loss: float, piece_loss: float | None,
                     eps: float, loss_tol: float, seed: int = 0) -> dict[str, Any]:
    """run_acs from a flagged gradient end point, and a verdict on who is right."""
    from sdlscape.solvers.acs import run_acs

    t0 = time.perf_counter()
    try:
        r = run_acs(Piece(inst, pattern, eps, inst.activation.linear_reading), W_E0=W_E, seed=seed)
    except Exception as exc:  # noqa: BLE001 - a solver failure is reported with the flagged start, not fatal
        return {"acs_outcome": "error", "acs_loss": None,
                "verdict": f"ACS from this point failed: {type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - t0}
    scale = max(1.0, float(np.sum(inst.M)))
    tol = loss_tol * scale
    if r.outcome == "partial_optimum" and r.loss is not None:
        if abs(r.loss - gd_loss) <= tol:
            if piece_loss is None:
                v = ("gradient is right: ACS from this point certifies a partial optimum at the gradient's value, "
                     "which the landscape's own ACS starts did not")
            elif r.loss < piece_loss - tol:
                v = "gradient is right: ACS from this point certifies a LOWER partial optimum than the landscape's"
            else:
                v = ("both right: ACS from this point certifies a partial optimum at the gradient's value; the "
                     "piece has several partial optima and the landscape reports the least it found")
        elif r.loss < gd_loss - tol:
            v = "landscape is right: ACS from this point descends below the gradient's end value"
        else:
            v = "unexplained: ACS from this point ends higher than gradient descent"
    else:
        v = f"ACS from this point: {r.outcome} ({r.reason})"
    return {"acs_outcome": r.outcome, "acs_loss": r.loss, "acs_reason": r.reason,
            "hessian": None if not r.hessian else r.hessian.get("classification"), "verdict": v,
            "seconds": time.perf_counter() - t0}
