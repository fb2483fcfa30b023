"""Target-L0 calibration of the bench's penalised codes (ReLU L1, JumpReLU L0, gated L1) by a search over
fixed coefficients, one seed at a time (bench/experiments.py says why not the trainer's adaptive coefficient).

Each trial is a full training at one coefficient from step 0, measured by the caller (held-out L0); L0
falls as the coefficient grows, and the search moves in log L0 vs log coef.  Every seed is searched on its
own, from :func:`first_coefficient` (where a reference run's search of this configuration ended, else a
measured hint), so that seeds are independent jobs (bench/plan.py) and a seed's numbers do not depend on which
seeds ran before it.
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

# Where a seed's search starts: the coefficient the search ended at, geometric median over seeds and rows,
# in the committed small-scale tables (results/bench/table1_small.json, table4_small.json, table5_small.json;
# 30 ReLU and 12 JumpReLU seeds per anchoring mode, targets L0 0.4-0.7, n 40-70, M 0.05-0.5; L0 at a fixed
# coefficient varies by about +-15% between seeds).  Starting at the config's 3e-2 instead cost 2.0-2.4
# trainings per seed there (the first trial gave L0 10-25 for target 0.5).  Keyed by (scale, trainer code,
# anchoring); elsewhere the search starts at the config's coefficient.
COEF_HINTS: dict[tuple[str, str, bool], float] = {
    ("small", "relu", False): 1.65, ("small", "relu", True): 1.62,
    ("small", "jumprelu", False): 0.191, ("small", "jumprelu", True): 0.197,
}


def with_coef(res: Resolved, coef: float) -> Resolved:
    """The row trained at a fixed sparsity coefficient (no adaptive controller)."""
    train = replace(res.train, target_l0=None, **{res.train.code().coef_field: float(coef)})
    return replace(res, train=train, settings={**res.settings, "coef": float(coef)})


def first_coefficient(res: Resolved, record: bool = True) -> float:
    """The coefficient a seed's search starts at: the calibration record's coefficient for this configuration
    (bench/calibration_record.py; record=False skips it), else COEF_HINTS for the row's scale, code and
    anchoring, else the config's coefficient."""
    if record:
        from sdlscape.bench.calibration_record import recorded_coefficient

        coef = recorded_coefficient(res.key())
        if coef is not None:
            return coef
    hint = COEF_HINTS.get((res.settings.get("scale"), res.train.activation, res.train.anchor_coef > 0))
    return float(hint) if hint is not None else float(getattr(res.train, res.train.code().coef_field))


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


def calibrate_seed(res: Resolved, measure: Callable[[Resolved], float]) -> Resolved:
    """One seed at its own searched coefficient, started at first_coefficient(res); the search is recorded
    in settings["coef_search"]."""
    coef, trials = search_coefficient(res, measure, first_coefficient(res))
    tuned = with_coef(res, coef)
    tuned.settings["coef_search"] = [{"coef": c, "l0": l0} for c, l0 in trials]
    return tuned


def calibrate_seeds(group: list[Resolved], measure: Callable[[Resolved], float]) -> list[Resolved]:
    """Each seed of a row at its own searched coefficient (calibrate_seed), independently of the others."""
    return [calibrate_seed(res, measure) for res in group]
