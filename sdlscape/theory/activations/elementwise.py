"""Separable activations: ReLU and JumpReLU (eq. 5, 6). A latent passes iff its code exceeds a threshold."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from sdlscape.outcomes import Reading
from sdlscape.theory.activations.base import Activation, Reduction, check_positive_float
from sdlscape.theory.region import Constraint, ConstraintKind


class Separable(Activation):
    """sigma(z)_i = z_i if z_i > threshold else 0; every latent on its own (cells per latent)."""

    separable: ClassVar[bool] = True
    passes_negative_codes: ClassVar[bool] = False   # thresholds are >= 0

    def passes(self, Z, axis: int = -1):
        return Z > self.threshold

    def fires(self, Z, axis: int = -1):
        return self.passes(Z, axis)   # thresholds are >= 0: a passed code is positive

    def feature_constraints(self, on: Sequence[int], n_latents: int, reading: Reading) -> list[Constraint]:
        self.check_reading(reading)
        t, on = self.threshold, set(on)
        return [Constraint(ConstraintKind.ON if i in on else ConstraintKind.OFF, i, threshold=t)
                for i in range(n_latents)]


@dataclasses.dataclass(frozen=True)
class ReLU(Separable):
    """max(z, 0) (eq. 5; trained with an L1 penalty)."""

    name: ClassVar[str] = "relu"
    positively_homogeneous: ClassVar[bool] = True
    certifier_reduction: ClassVar[Reduction] = Reduction.HOMOGENEOUS
    threshold: ClassVar[float] = 0.0


@dataclasses.dataclass(frozen=True)
class JumpReLU(Separable):
    """z * H(z - theta), theta > 0, H(0) = 0: a code exactly at theta is off (eq. 6). Not homogeneous."""

    name: ClassVar[str] = "jumprelu"
    positively_homogeneous: ClassVar[bool] = False
    certifier_reduction: ClassVar[Reduction] = Reduction.JUMP_THRESHOLD
    theta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta", check_positive_float("jumprelu", "threshold theta", self.theta))

    @property
    def threshold(self) -> float:
        return self.theta

    @classmethod
    def default(cls) -> JumpReLU:
        return cls(theta=0.5)

    @classmethod
    def search_variants(cls, full: bool) -> list[Activation]:
        return [cls(theta=t) for t in ((0.5, 1.5) if not full else (0.25, 0.5, 1.0, 1.5))]
