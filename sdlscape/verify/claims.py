"""Claim checks: one check per statement of the paper (PAPER.md Sec. 2), per activation -> ClaimResult.

Each check searches a family of instances (orthogonal, random, superposed, hierarchical, unequal
weights M_d, the paper's own examples, the user's instance) for a counterexample, within a budget.
"holds" means the stated search found none (the evidence says what was searched), "fails" comes
with a counterexample (instance file, pattern, why) re-checked by an independent route, and a
solver status other than optimal makes a result "inconclusive".

Entry point: `run_checks(claims=None, activations=None, instance=None, budget="quick", seed=0,
counterexample_dir=None, progress=False) -> list[ClaimResult]`; `CLAIMS` is the ordered claim list.
The checks themselves live in claims_loss.py (thm3.1), claims_convex.py (thm3.2),
claims_zero.py (thm3.3, thm3.4), claims_minima.py (ex3.5, thm3.6), claims_absorb.py (thm3.8).
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from sdlscape.errors import InputError
from sdlscape.theory.activations import Activation, activation_class
from sdlscape.theory.activations import names as activation_names
from sdlscape.theory.instance import Instance, save_instance

BUDGETS = ("quick", "full")
ACTIVATIONS = activation_names()

CLAIMS = ("thm3.1", "thm3.1-corrected", "thm3.2", "thm3.3", "thm3.4", "ex3.5", "thm3.6",
          "thm3.6-corrected", "thm3.8")


@dataclass
class ClaimResult:
    """The verdict of one check on one activation (ARCHITECTURE.md contract)."""

    claim: str
    activation: str
    status: str  # holds | fails | inconclusive
    instances_tried: int
    evidence: dict[str, Any] = field(default_factory=dict)
    counterexample: dict[str, Any] | None = None
    tolerance: Any = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in ("holds", "fails", "inconclusive"):
            raise ValueError(f"bad status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        from sdlscape.storage import to_jsonable

        return to_jsonable(asdict(self))


@dataclass
class Context:
    """What every check receives: budget, seed, the user's instance, where counterexamples go."""

    budget: str = "quick"
    seed: int = 0
    instance: Instance | None = None
    counterexample_dir: Path | None = None
    cache: dict = field(default_factory=dict, repr=False)  # results shared between checks of one run

    @property
    def full(self) -> bool:
        return self.budget == "full"

    def save_counterexample(self, claim: str, activation: str, inst: Instance) -> str | None:
        """Write the (shrunk) counterexample instance; return its path (None if no directory)."""
        if self.counterexample_dir is None:
            return None
        path = Path(self.counterexample_dir) / f"{claim}-{activation}.json"
        save_instance(inst.with_(name=f"{claim}-{activation}-counterexample (from {inst.name})"), path)
        return str(path)


def default_activation(name: str) -> Activation:
    """The activation `name` with the checks' default parameters (jumprelu theta = 0.5, TopK k = 1)."""
    return activation_class(name).default()


def activation_variants(name: str, full: bool) -> list[Activation]:
    """The parameter values a check tries for one activation name."""
    return activation_class(name).search_variants(full)


_CHECKS = {
    "thm3.1": ("claims_loss", "check_thm3_1"),
    "thm3.1-corrected": ("claims_loss", "check_thm3_1_corrected"),
    "thm3.2": ("claims_convex", "check_thm3_2"),
    "thm3.3": ("claims_zero", "check_thm3_3"),
    "thm3.4": ("claims_zero", "check_thm3_4"),
    "ex3.5": ("claims_minima", "check_ex3_5"),
    "thm3.6": ("claims_minima", "check_thm3_6"),
    "thm3.6-corrected": ("claims_minima", "check_thm3_6_corrected"),
    "thm3.8": ("claims_absorb", "check_thm3_8"),
}


def check_function(claim: str) -> Callable[..., ClaimResult]:
    """The check of one claim id: f(activation_name, ctx, **false_variant_options) -> ClaimResult."""
    import importlib

    module, func = _CHECKS[claim]
    return getattr(importlib.import_module(f"sdlscape.verify.{module}"), func)


def run_checks(claims=None, activations=None, instance: Instance | None = None, budget: str = "quick",
               seed: int = 0, counterexample_dir=None, progress: bool = False) -> list[ClaimResult]:
    """Run the selected checks (default: all of CLAIMS) for the selected activations (default: all).

    With an instance, the checks run on that instance (and for activation names other than its own,
    on the same instance with that activation and default parameters) instead of the built-in families.
    """
    claims = list(CLAIMS) if not claims else list(claims)
    for c in claims:
        if c not in CLAIMS:
            raise InputError(f"unknown claim {c!r}; expected one of {', '.join(CLAIMS)}")
    if activations:
        for a in activations:
            if a not in ACTIVATIONS:
                raise InputError(f"unknown activation {a!r}; expected one of {', '.join(ACTIVATIONS)}")
        acts = list(activations)
    elif instance is not None:
        acts = [instance.activation.name]
    else:
        acts = list(ACTIVATIONS)
    if budget not in BUDGETS:
        raise InputError(f"unknown budget {budget!r}; expected quick or full")
    ctx = Context(budget=budget, seed=int(seed), instance=instance,
                  counterexample_dir=None if counterexample_dir is None else Path(counterexample_dir))
    results = []
    jobs = [(c, a) for c in claims for a in acts]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), file=sys.stderr, desc="verify", leave=False)
    for c, a in jobs:
        t0 = time.perf_counter()
        res = check_function(c)(a, ctx)
        res.seconds = round(time.perf_counter() - t0, 3)
        results.append(res)
        if bar is not None:
            bar.set_postfix_str(f"{c} {a}: {res.status}")
            bar.update(1)
    if bar is not None:
        bar.close()
    return results


def instance_for(ctx: Context, act: Activation) -> Instance | None:
    """The user's instance with activation `act` substituted (same name otherwise), or None."""
    if ctx.instance is None:
        return None
    if ctx.instance.activation.name == act.name:
        return ctx.instance
    return ctx.instance.with_(activation=act)


def user_activations(ctx: Context, name: str) -> list[Activation]:
    """Activations to try: the user's instance's own one if it has this name, else the variants."""
    if ctx.instance is not None and ctx.instance.activation.name == name:
        return [ctx.instance.activation]
    if ctx.instance is not None:
        return [default_activation(name)]
    return activation_variants(name, ctx.full)
