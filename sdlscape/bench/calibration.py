"""Target-L0 calibration of the bench's penalised codes (ReLU L1, JumpReLU L0, gated L1) by a search over
fixed coefficients, one seed at a time (bench/experiments.py says why not the trainer's adaptive coefficient).

Each trial is a full training at one coefficient from step 0, measured by the caller (held-out L0); L0
falls as the coefficient grows, and the search moves in log L0 vs log coef.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdlscape.bench.experiments import Resolved

SEARCH_TOL = 0.1       # a coefficient search stops at an L0 within +-10% of the target
SEARCH_TRIALS = 6      # at most this many fixed-coefficient trainings per row
SEARCH_STEP = math.log(30.0)   # no trial moves the coefficient by more than 30x


def with_coef(res: Resolved, coef: float) -> Resolved:
    """The row trained at a fixed sparsity coefficient (no adaptive controller)."""
    train = replace(res.train, target_l0=None, **{res.train.code().coef_field: float(coef)})
    return replace(res, train=train, settings={**res.settings, "coef": float(coef)})


def next_coefficient(trials: list[tuple[float, float]], target: float, slope_hint: float = -0.5) -> float:
    """The next coefficient of a search, from (coef, L0) trials; L0 falls as the coefficient grows.

    In log-log coordinates: bracketed, linear interpolation between the closest trials on either side
    (regula falsi); otherwise a secant through the last two trials with its slope held in [-3, -0.1],
    or ``slope_hint`` from a single trial; one move is at most SEARCH_STEP.
    """
    pts = [_log_point(c, l0, target) for c, l0 in trials]
    t = math.log(target)
    above = [p for p in pts if p[1] > t]          # too dense: coefficient too small
    below = [p for p in pts if p[1] < t]
    if above and below:
        (x0, y0), (x1, y1) = max(above), min(below)        # (log coef, log L0) tuples order by coef
        return math.exp(x0 + (t - y0) * (x1 - x0) / (y1 - y0))      # y0 > t > y1: never 0 / 0
    x, y = pts[-1]
    measured = _secant_slope(pts)
    slope = min(-0.1, max(-3.0, slope_hint if measured is None else measured))
    step = max(-SEARCH_STEP, min(SEARCH_STEP, (t - y) / slope))
    return math.exp(x + step)


def _log_point(coef: float, l0: float, target: float) -> tuple[float, float]:
    """(log coef, log L0), an L0 of 0 (every latent dead) floored at 1e-3 x target."""
    return math.log(coef), math.log(max(l0, 1e-3 * target))


def _secant_slope(pts: list[tuple[float, float]]) -> float | None:
    """d log L0 / d log coef through the last two points, None for fewer points or one coefficient twice."""
    if len(pts) < 2 or pts[-2][0] == pts[-1][0]:
        return None
    (x0, y0), (x1, y1) = pts[-2:]
    return (y1 - y0) / (x1 - x0)


def search_coefficient(res: Resolved, measure: Callable[[Resolved], float], start: float | None = None,
                       slope_hint: float = -0.5) -> tuple[float, list[tuple[float, float]]]:
    """A fixed coefficient whose training reaches the row's target L0, by trainings on this seed.

    measure(resolved) -> the L0 of that trained model (held-out samples).  Starts at ``start`` (default:
    the config's coefficient); stops within SEARCH_TOL of the target or after SEARCH_TRIALS trainings,
    returning the trial closest to the target (in log L0) and every trial.
    """
    target = res.settings["target_l0"]
    coef = getattr(res.train, res.train.code().coef_field) if start is None else float(start)
    trials: list[tuple[float, float]] = []
    for _ in range(SEARCH_TRIALS):
        l0 = float(measure(with_coef(res, coef)))
        trials.append((coef, l0))
        if abs(l0 / target - 1.0) <= SEARCH_TOL:
            break
        coef = next_coefficient(trials, target, slope_hint)
    best = min(trials, key=lambda cl: abs(_log_point(*cl, target)[1] - math.log(target)))
    return best[0], trials


def calibrate_seeds(group: list[Resolved], measure: Callable[[Resolved], float]) -> list[Resolved]:
    """Each seed of a row at its own searched coefficient (L0 at a fixed coefficient varies by about
    +-15% between seeds at small scale); seeds after the first start from the first seed's coefficient
    with the slope its last two trials measured, so most need one or two trainings."""
    out, start, slope = [], None, -0.5
    for res in group:
        coef, trials = search_coefficient(res, measure, start, slope)
        if start is None:
            start = coef
            target = res.settings["target_l0"]
            measured = _secant_slope([_log_point(c, l0, target) for c, l0 in trials])
            slope = slope if measured is None else measured
        tuned = with_coef(res, coef)
        tuned.settings["coef_search"] = [{"coef": c, "l0": l0} for c, l0 in trials]
        out.append(tuned)
    return out
