"""Claim checks: one per statement of the paper (PAPER.md Sec. 2), per activation and pattern reading.

Each theorem lives in its own module (thm3_1.py ... thm3_8.py, ex3_5.py): its docstring quotes the
statement, a short `decide(case) -> Evidence` says whether one case satisfies it (with numbers), and
its `check_*` functions run the shared search (verify/search.py) and return a `ClaimResult`.

"holds" means the stated search found no counterexample (`searched` says what was searched), "fails"
comes with a counterexample re-checked by an independent route, and a solver status other than
optimal, or a case the search could not decide, makes a result "inconclusive". Every result names
the pattern reading it used (Def. 3.1 by default; plain TopK's selection reading as a labelled
variant beside it) and, for a failure, its severity: substantive, or literal when only a literal
reading of a hypothesis fails (the natural reading's result is then in `natural`).

Entry point: `run_checks(claims=None, activations=None, instance=None, budget="quick", seed=0,
counterexample_dir=None, progress=False) -> list[ClaimResult]`; `CLAIMS` is the ordered claim list.
"""
from __future__ import annotations

import dataclasses
import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading, Severity, Status
from sdlscape.theory.activations import Activation, activation_class
from sdlscape.theory.activations import names as activation_names
from sdlscape.theory.instance import Instance, save_instance
from sdlscape.verify.search import BUDGETS, Budget, budget_named

CLAIMS = ("thm3.1", "thm3.1-corrected", "thm3.2", "thm3.3", "thm3.4", "ex3.5", "thm3.6",
          "thm3.6-corrected", "thm3.8", "thm3.8-corrected")

# claim id -> (module, function); each function is f(activation_name, ctx, reading, **false_variant)
_CHECKS = {
    "thm3.1": ("thm3_1", "check_thm3_1"),
    "thm3.1-corrected": ("thm3_1", "check_thm3_1_corrected"),
    "thm3.2": ("thm3_2", "check_thm3_2"),
    "thm3.3": ("thm3_3", "check_thm3_3"),
    "thm3.4": ("thm3_4", "check_thm3_4"),
    "ex3.5": ("ex3_5", "check_ex3_5"),
    "thm3.6": ("thm3_6", "check_thm3_6"),
    "thm3.6-corrected": ("thm3_6", "check_thm3_6_corrected"),
    "thm3.8": ("thm3_8", "check_thm3_8"),
    "thm3.8-corrected": ("thm3_8", "check_thm3_8_corrected"),
}

PATTERN_CLAIMS = frozenset({"thm3.2", "thm3.6", "thm3.6-corrected", "thm3.8", "thm3.8-corrected"})
"""Claims whose statement reads activation patterns: they run once per reading the activation has."""


@dataclass(frozen=True, kw_only=True)
class Searched:
    """What a check searched: counts of instances, patterns (pieces), points and ACS starts per piece."""

    instances: int = 0
    patterns: int = 0
    points: int = 0
    starts: int = 0
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class ClaimResult:
    """The verdict of one check on one activation in one reading (the ARCHITECTURE.md contract, plus
    `reading`, `severity`, `natural`, `searched` and `rests_on`); status not_applicable: the instance cannot
    meet the claim's hypotheses (nothing was searched)."""

    claim: str
    activation: str
    status: Status
    instances_tried: int
    evidence: dict[str, Any] = field(default_factory=dict)
    counterexample: dict[str, Any] | None = None
    tolerance: Any = None
    seconds: float = 0.0
    reading: Reading = Reading.DEF_3_1
    severity: Severity | None = None
    natural: dict[str, Any] | None = None
    searched: Searched = field(default_factory=Searched)
    rests_on: tuple[str, ...] = ()   # what a failure rests on (a law, a reading, a special case); empty otherwise

    def __post_init__(self) -> None:
        object.__setattr__(self, "rests_on", tuple(str(r) for r in self.rests_on))
        if self.rests_on and self.status is not Status.FAILS:
            raise ValueError("only a failing result rests on something")
        object.__setattr__(self, "status", Status(self.status))   # ValueError on a bad status
        object.__setattr__(self, "reading", Reading(self.reading))
        if self.severity is not None:
            object.__setattr__(self, "severity", Severity(self.severity))
        if (self.status is Status.FAILS) != (self.severity is not None):
            raise ValueError("a failing result needs a severity, and only a failing result has one")
        if self.severity is Severity.LITERAL and not self.natural:
            raise ValueError("a literal failure must carry the natural reading's result")

    @property
    def label(self) -> str:
        """claim/activation[/reading] for messages and file names (the reading only when not Def. 3.1)."""
        return f"{self.claim}/{self.activation}" + ("" if self.reading is Reading.DEF_3_1 else f"/{self.reading}")

    def to_dict(self) -> dict[str, Any]:
        from sdlscape.storage import to_jsonable

        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["searched"] = self.searched.to_dict()
        d["rests_on"] = list(self.rests_on)
        return to_jsonable(d)


@dataclass
class Context:
    """What every check receives: budget, seed, the user's instance, where counterexamples go."""

    budget: Budget | str = "quick"
    seed: int = 0
    instance: Instance | None = None
    counterexample_dir: Path | None = None
    cache: dict = field(default_factory=dict, repr=False)  # results shared between checks of one run

    def __post_init__(self) -> None:
        if not isinstance(self.budget, Budget):
            self.budget = budget_named(self.budget)

    @property
    def full(self) -> bool:
        return self.budget.name == "full"

    def save_counterexample(self, claim: str, activation: str, inst: Instance,
                            reading: Reading = Reading.DEF_3_1) -> str | None:
        """Write the (shrunk) counterexample instance; return its path (None if no directory)."""
        if self.counterexample_dir is None:
            return None
        suffix = "" if reading is Reading.DEF_3_1 else f"-{reading.value}"
        path = Path(self.counterexample_dir) / f"{claim}-{activation}{suffix}.json"
        save_instance(inst.with_(name=f"{claim}-{activation}{suffix}-counterexample (from {inst.name})"), path)
        return str(path)


def default_activation(name: str) -> Activation:
    """The activation `name` with the checks' default parameters (jumprelu theta = 0.5, TopK k = 1)."""
    return activation_class(name).default()


def check_function(claim: str) -> Callable[..., ClaimResult]:
    """The check of one claim id: f(activation_name, ctx, reading=Reading.DEF_3_1, **false_variant)."""
    if claim not in _CHECKS:
        raise InputError(f"unknown claim {claim!r}; expected one of {', '.join(CLAIMS)}")
    module, func = _CHECKS[claim]
    return getattr(importlib.import_module(f"sdlscape.verify.{module}"), func)


def readings_for(claim: str, activation: str) -> tuple[Reading, ...]:
    """The readings a claim runs in for an activation: Def. 3.1 first, then the labelled variants."""
    if claim not in PATTERN_CLAIMS:
        return (Reading.DEF_3_1,)
    return tuple(activation_class(activation).readings)


def run_checks(claims=None, activations=None, instance: Instance | None = None, budget: str = "quick",
               seed: int = 0, counterexample_dir=None, progress: bool = False) -> list[ClaimResult]:
    """Run the selected checks (default: all of CLAIMS) for the selected activations (default: all), in
    every reading each activation has (pattern claims only).

    With an instance, the checks run on that instance (every pattern of it: the budget limits the random
    families, never a user's instance; for activation names other than its own, on the same instance
    with that activation and default parameters) instead of the built-in families.
    """
    claims = list(CLAIMS) if not claims else list(claims)
    for c in claims:
        if c not in CLAIMS:
            raise InputError(f"unknown claim {c!r}; expected one of {', '.join(CLAIMS)}")
    known = activation_names()
    if activations:
        for a in activations:
            if a not in known:
                raise InputError(f"unknown activation {a!r}; expected one of {', '.join(known)}")
        acts = list(activations)
    elif instance is not None:
        acts = [instance.activation.name]
    else:
        acts = list(known)
    if budget not in BUDGETS:
        raise InputError(f"unknown budget {budget!r}; expected one of {', '.join(BUDGETS)}")
    ctx = Context(budget=budget, seed=int(seed), instance=instance,
                  counterexample_dir=None if counterexample_dir is None else Path(counterexample_dir))
    jobs = [(c, a, r) for c in claims for a in acts for r in readings_for(c, a)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), file=sys.stderr, desc="verify", leave=False)
    results = []
    for c, a, r in jobs:
        t0 = time.perf_counter()
        res = check_function(c)(a, ctx, r)
        results.append(dataclasses.replace(res, seconds=round(time.perf_counter() - t0, 3)))
        if bar is not None:
            bar.set_postfix_str(f"{c} {a} {r}: {res.status}")
            bar.update(1)
    if bar is not None:
        bar.close()
    return results


def instance_for(ctx: Context, act: Activation) -> Instance | None:
    """The user's instance with activation `act` substituted (same name otherwise), or None."""
    if ctx.instance is None:
        return None
    if ctx.instance.activation == act:
        return ctx.instance
    return ctx.instance.with_(activation=act)


def user_activations(ctx: Context, name: str) -> list[Activation]:
    """Activations to try: the user's instance's own one if it has this name, else the variants."""
    if ctx.instance is not None and ctx.instance.activation.name == name:
        return [ctx.instance.activation]
    if ctx.instance is not None:
        return [default_activation(name)]
    return activation_class(name).search_variants(ctx.full)


def result(claim: str, name: str, status: Status, *, reading: Reading = Reading.DEF_3_1, tried: int,
           evidence: dict, searched: Searched, tolerance: Any, counterexample: dict | None = None,
           severity: Severity | None = None, natural: dict | None = None, rests_on=()) -> ClaimResult:
    """A ClaimResult with the fields every check fills (keyword-only, so that none is misplaced)."""
    if status is Status.FAILS and severity is None:
        severity = Severity.SUBSTANTIVE
    return ClaimResult(claim=claim, activation=name, status=status, instances_tried=tried, evidence=evidence,
                       counterexample=counterexample, tolerance=tolerance, reading=reading, severity=severity,
                       natural=natural, searched=searched, rests_on=tuple(rests_on or ()))
