"""A cheap first incumbent for global mode: multistart L-BFGS on L~ (eq. 11) with W_D eliminated.

f(W_E) = min over W_D of L~(W_D, W_E) (least squares, the variable projection of CERTIFY.md sec. 1); on
a piece f is smooth where the codes have full row rank, and by the envelope theorem its gradient is that
of L~ in W_E at the optimal W_D. Every value found is L~ at an actual point, re-evaluated in interval
arithmetic with the pattern the activation reads at that point: an upper bound on the global minimum.
Global mode prunes against it at once every piece whose root bound already reaches it. Every local
optimum found is also kept as a start point of its own piece (`points`, best per piece): a piece whose
infimum is attained inside, at the root bound's value, then closes at its root (bound meets value).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from sdlscape.solvers.certify import interval
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern, read_pattern


@dataclass(frozen=True, kw_only=True)
class Incumbent:
    value: float                 # upper end of L~ at (W_E, W_D) in interval arithmetic
    pattern: Pattern             # the activation's reading of W_E (rows as in W_E; .canonical() names the piece)
    W_E: np.ndarray
    W_D: np.ndarray
    starts: int
    points: tuple = ()           # ((value, canonical pattern, W_E with rows in canonical order), ...) best per piece


def _f(inst: Instance, x: np.ndarray) -> tuple[float, np.ndarray]:
    q, n_p = inst.n_latents, inst.n_p
    W_E = x.reshape(q, n_p)
    Z = W_E @ inst.W_p
    P = np.asarray(inst.activation.passes(Z, axis=0), dtype=bool)
    C = np.where(P, Z, 0.0)
    D = np.sqrt(inst.M)
    W_D = np.linalg.lstsq((C * D).T, (inst.W_r * D).T, rcond=None)[0].T
    res = inst.W_r - W_D @ C
    RM = res * inst.M
    gE = np.where(P, -2.0 * W_D.T @ RM, 0.0) @ inst.W_p.T
    return float(np.sum(inst.M * np.sum(res * res, axis=0))), gE.ravel()


def multistart_incumbent(inst: Instance, starts: int = 16, seed: int = 0, max_iter: int = 500,
                         enough=None) -> Incumbent | None:
    """The least interval-checked value of `starts` L-BFGS runs from Gaussian encoders (None if starts = 0).

    enough(value) -> bool: stop at the first start whose value it accepts (`starts` then counts the runs made)."""
    rng = np.random.default_rng(seed)
    best: Incumbent | None = None
    per_piece: dict[str, tuple[float, Pattern, np.ndarray]] = {}
    reading = inst.activation.linear_reading
    for run in range(starts):
        x0 = rng.standard_normal(inst.n_latents * inst.n_p)
        r = minimize(lambda x: _f(inst, x), x0, jac=True, method="L-BFGS-B",
                     options={"maxiter": max_iter, "gtol": 1e-12, "ftol": 1e-15})
        W_E = r.x.reshape(inst.n_latents, inst.n_p)
        pat = read_pattern(inst, W_E, reading)
        mask = np.asarray(inst.activation.passes(W_E @ inst.W_p, axis=0), dtype=bool)
        C = np.where(mask, W_E @ inst.W_p, 0.0)
        D = np.sqrt(inst.M)
        W_D = np.linalg.lstsq((C * D).T, (inst.W_r * D).T, rcond=None)[0].T
        value = interval.hi(interval.loss_interval(inst, W_D, W_E, mask))
        key = str(pat.canonical())
        if key not in per_piece or value < per_piece[key][0]:
            per_piece[key] = (value, pat.canonical(), W_E[pat.canonical_order()])
        if best is None or value < best.value:
            best = Incumbent(value=value, pattern=pat, W_E=W_E, W_D=W_D, starts=starts)
        if enough is not None and enough(value):
            starts = run + 1
            break
    if best is None:
        return None
    return Incumbent(value=best.value, pattern=best.pattern, W_E=best.W_E, W_D=best.W_D, starts=starts,
                     points=tuple(sorted(per_piece.values(), key=lambda t: t[0])))


def local_point(inst: Instance, W_E0: np.ndarray, max_iter: int = 500) -> np.ndarray:
    """L-BFGS on f from W_E0 (a point of a piece): a local solve whose end point, when it reads back the
    piece's pattern, is a first incumbent of that piece (piece_cert.certify_piece checks that)."""
    r = minimize(lambda x: _f(inst, x), np.asarray(W_E0, dtype=float).ravel(), jac=True, method="L-BFGS-B",
                 options={"maxiter": max_iter, "gtol": 1e-12, "ftol": 1e-15})
    return r.x.reshape(inst.n_latents, inst.n_p)
