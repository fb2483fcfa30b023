"""The interface every activation of the exact theory implements (eq. 10 and Def. 3.1).

Every activation here satisfies sigma(z)_i in {0, z_i} (eq. 10): it *passes* a set of latents and
zeroes the rest, so one boolean rule, `passes`, defines it; `apply` and the Def. 3.1 pattern
(`fires`: sigma(z)_i > 0) follow from that rule. The rule is written once for NumPy arrays and
PyTorch tensors alike (`array_ops`), with latents along `axis`.

The region of a pattern (eq. 13) is described feature by feature: `feature_constraints` lists the
inequalities on z_{., d} = W_E w_p^d under which feature d alone shows the latent set `on`, in a
given reading (Def. 3.1 by default; plain TopK also has the selection reading).

Every question the theory, the solvers and the report ask of an activation is answered by its class,
with no default a new subclass could inherit silently: the required class attributes (REQUIRED) and the
abstract members (`passes`, `feature_constraints`, `threshold`) must be set, or `register` refuses the
class (registry.py). Adding an activation = one subclass + one `register` call (CONTRIBUTING.md).
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from enum import Enum
from typing import Any, ClassVar

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.activations import array_ops as ops
from sdlscape.theory.region import Constraint


class Reduction(str, Enum):
    """Which reduction of the exact certifier (solvers/certify/reduce.py) applies to an activation's pieces."""

    HOMOGENEOUS = "homogeneous"        # threshold 0, passed codes positive: row i is normalised, its region rows kept
    JUMP_THRESHOLD = "jump_threshold"  # separable threshold theta > 0: the cone of directions of a cell (theta cancels)
    TOPK_PLAIN = "topk_plain"          # plain TopK: k = 1 decouples by latent (rank-one regression), k >= 2 relaxed
                                       # per passing set (solvers/certify/topk_plain.py); codes may be negative
    UNSUPPORTED = "unsupported"        # not certified (passed codes can be <= 0, or a threshold couples with orderings)

    def __str__(self) -> str:
        return self.value


REQUIRED = ("name", "positively_homogeneous", "separable", "passes_negative_codes", "certifier_reduction")


@dataclasses.dataclass(frozen=True)
class Activation(ABC):
    """A per-sample activation with sigma(z)_i in {0, z_i} (eq. 10); subclasses are frozen dataclasses.

    Required class attributes (no defaults: `register` refuses a class that leaves one unset):
      name                    the instance-file name ("relu", ...)
      positively_homogeneous  sigma(c z) = c sigma(z) for every c > 0
      separable               sigma(z)_i depends on z_i alone (latents independent: cells per latent)
      passes_negative_codes   sigma can pass a code z_i <= 0 (plain TopK): Def. 3.1's pattern then differs
                              from the selection
      certifier_reduction     the Reduction the certifier applies (UNSUPPORTED: it refuses, never guesses)
    Optional: readings, the pattern readings that differ for this activation (Def. 3.1 first).
    Abstract: passes (the rule, NumPy and torch alike: the trainer's and the theory's sigma), feature_constraints
    (the region, eq. 13) and threshold (on which code a latent fires).
    """

    name: ClassVar[str]
    positively_homogeneous: ClassVar[bool]
    separable: ClassVar[bool]
    passes_negative_codes: ClassVar[bool]
    certifier_reduction: ClassVar[Reduction]
    readings: ClassVar[tuple[Reading, ...]] = (Reading.DEF_3_1,)

    @classmethod
    def unanswered(cls) -> list[str]:
        """The required class attributes and abstract members this class leaves unset (empty: complete)."""
        missing = [a for a in REQUIRED if not hasattr(cls, a)]
        return missing + sorted(getattr(cls, "__abstractmethods__", ()))

    # -- the rule ------------------------------------------------------------------------------
    @abstractmethod
    def passes(self, Z, axis: int = -1):
        """Boolean array: the latents whose pre-activation sigma passes through (NumPy or torch)."""

    def apply(self, Z, axis: int = -1):
        """sigma(Z) with latents along `axis` (NumPy or torch, following the input)."""
        return ops.where(self.passes(Z, axis), Z, 0.0)

    def fires(self, Z, axis: int = -1):
        """Def. 3.1: sigma(z)_i > 0."""
        return self.passes(Z, axis) & (Z > 0)

    def pattern_mask(self, Z, reading: Reading = Reading.DEF_3_1, axis: int = -1):
        """The activation pattern of each row of Z in a reading (Def. 3.1: fires; selection: passes)."""
        self.check_reading(reading)
        return self.passes(Z, axis) if reading is Reading.SELECTION else self.fires(Z, axis)

    # -- regions (eq. 13) ----------------------------------------------------------------------
    @abstractmethod
    def feature_constraints(self, on: Sequence[int], n_latents: int, reading: Reading) -> list[Constraint]:
        """Inequalities on z_{., d} under which a feature alone shows exactly the latents `on` (feature -1:
        the caller fills it in). Raises InputError if no z can (check_column)."""

    @property
    def min_latents(self) -> int:
        """The fewest latents the activation can act on (TopK: k)."""
        return 1

    def fits(self, n_latents: int) -> bool:
        return n_latents >= self.min_latents

    def check_latents(self, n_latents: int) -> None:
        """Raise InputError if the activation cannot act on this many latents (TopK: k > n_latents)."""
        if not self.fits(n_latents):
            raise InputError(f"{self} needs at least {self.min_latents} latents, got {n_latents}")

    def check_column(self, count: int, n_latents: int, reading: Reading) -> str | None:
        """Why no z shows `count` latents for one feature (structural, e.g. TopK counts), or None."""
        return None

    def passing_sets(self, on: frozenset[int], n_latents: int, reading: Reading) -> list[frozenset[int]]:
        """The passed sets S compatible with the pattern set `on` of one feature. sigma = S * z on each;
        one set (S = on) unless the reading hides non-positive passed codes (plain TopK, Def. 3.1)."""
        return [frozenset(on)]

    def column_sizes(self, n_latents: int, reading: Reading) -> range:
        """The sizes a feature's pattern set can have (for joint enumeration of coupled latents)."""
        return range(0, n_latents + 1)

    @property
    @abstractmethod
    def threshold(self) -> float:
        """The per-latent firing threshold: latent i fires (Def. 3.1) only where z_i > threshold, and every
        region row on/off a latent is z_id > threshold / z_id <= threshold (TopK-type: besides the orderings).
        Separable activations pass latent i iff z_i > threshold."""

    @property
    def central_arrangement(self) -> bool:
        """Do all region hyperplanes pass through 0 (z_id = threshold and z_id = z_jd: threshold 0)? Then a
        piece's region is a cone (scale-invariant) and Cover's bound counts its chambers."""
        return self.threshold == 0.0

    @property
    def linear_reading(self) -> Reading:
        """The reading whose pieces are linear pieces of sigma (the selection where it differs)."""
        return Reading.SELECTION if Reading.SELECTION in self.readings else Reading.DEF_3_1

    def check_reading(self, reading: Reading) -> None:
        if not isinstance(reading, Reading):
            raise InputError(f"unknown pattern reading {reading!r}; expected one of "
                             f"{', '.join(r.value for r in Reading)}")

    # -- parameters, names ---------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params()}

    def __str__(self) -> str:
        p = self.params()
        return self.name if not p else f"{self.name}(" + ", ".join(f"{k}={v:g}" for k, v in p.items()) + ")"

    @classmethod
    def default(cls) -> Activation:
        """The activation with the parameters the checks use by default."""
        return cls()

    @classmethod
    def search_variants(cls, full: bool) -> list[Activation]:
        """The parameter values a claim search tries (quick or full budget)."""
        return [cls.default()]


def check_positive_float(owner: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{owner} needs a number {field} > 0, got {value!r}")
    import math

    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{owner} needs a finite {field} > 0, got {value!r}")
    return float(value)


def check_positive_int(owner: str, field: str, value: Any) -> int:
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{owner} needs an integer {field} >= 1, got {value!r}")
    return int(value)
