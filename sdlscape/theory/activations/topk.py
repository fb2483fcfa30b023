"""TopK activations (eq. 7): plain TopK and TopK o ReLU. They couple the latents through orderings.

Plain TopK passes the k largest codes whatever their sign, so its Def. 3.1 pattern (codes > 0) and its
selection (the k passed latents) differ; the selection reading is offered as a labelled variant. Under
Def. 3.1 a feature that fires fewer than k latents also passes k - |F| non-positive codes, chosen by an
ordering the pattern does not see: its region is the TopK o ReLU region, but sigma is not the
pattern's linear map there (`passing_sets` lists the linear pieces it covers).

TopKFamily is the base of any "k largest among the codes above a threshold" map: a subclass states its
threshold (TopK o ReLU: 0; a TopK o JumpReLU: theta) and the required answers; the rule and the region
follow (ON / OFF rows at the threshold, orderings among the passed).
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import ClassVar

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.activations import array_ops as ops
from sdlscape.theory.activations.base import Activation, Reduction, check_positive_int
from sdlscape.theory.region import Constraint, ConstraintKind


@dataclasses.dataclass(frozen=True)
class TopKFamily(Activation):
    """The k largest codes, among those above `threshold` unless `passes_negative_codes` (plain TopK)."""

    k: int
    separable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", check_positive_int(self.name, "k", self.k))

    @property
    def min_latents(self) -> int:
        return self.k

    def check_latents(self, n_latents: int) -> None:
        if self.k > n_latents:
            raise InputError(f"k = {self.k} exceeds n_latents = {n_latents}")

    def passes(self, Z, axis: int = -1):
        self.check_latents(Z.shape[axis])
        top = ops.topk_mask(Z, self.k, axis)
        return top if self.passes_negative_codes else top & (Z > self.threshold)

    def _firing_constraints(self, on: Sequence[int], n_latents: int) -> list[Constraint]:
        """Codes of `on` above the threshold and passed; with fewer than k of them every other code is
        <= the threshold, otherwise every other latent ranks below each of them."""
        on, t = sorted(set(on)), self.threshold
        out = [Constraint(ConstraintKind.ON, i, threshold=t) for i in on]
        rest = [j for j in range(n_latents) if j not in on]
        if len(on) < self.k:
            return out + [Constraint(ConstraintKind.OFF, j, threshold=t) for j in rest]
        return out + [Constraint(ConstraintKind.ORDER, i, other=j) for i in on for j in rest]

    def column_sizes(self, n_latents: int, reading: Reading) -> range:
        return range(0, self.k + 1)

    def check_column(self, count: int, n_latents: int, reading: Reading) -> str | None:
        if count > self.k:
            return f"more than k = {self.k}"
        return None

    def feature_constraints(self, on: Sequence[int], n_latents: int, reading: Reading) -> list[Constraint]:
        self.check_reading(reading)
        self.check_latents(n_latents)
        why = self.check_column(len(set(on)), n_latents, reading)
        if why is not None:
            raise InputError(f"impossible pattern for {self}: a feature activates {len(set(on))} latents, {why}")
        return self._firing_constraints(on, n_latents)

    @classmethod
    def default(cls) -> Activation:
        return cls(k=1)

    @classmethod
    def search_variants(cls, full: bool) -> list[Activation]:
        return [cls(k=k) for k in ((1, 2) if not full else (1, 2, 3))]


@dataclasses.dataclass(frozen=True)
class TopKReLU(TopKFamily):
    """TopK o ReLU: the k largest codes that are also positive."""

    name: ClassVar[str] = "topk_relu"
    positively_homogeneous: ClassVar[bool] = True
    passes_negative_codes: ClassVar[bool] = False
    certifier_reduction: ClassVar[Reduction] = Reduction.HOMOGENEOUS
    threshold: ClassVar[float] = 0.0


@dataclasses.dataclass(frozen=True)
class TopK(TopKFamily):
    """Plain TopK: keep the k largest codes, whatever their signs (eq. 7). Latents fire above 0 (Def. 3.1)."""

    name: ClassVar[str] = "topk"
    positively_homogeneous: ClassVar[bool] = True
    passes_negative_codes: ClassVar[bool] = True
    certifier_reduction: ClassVar[Reduction] = Reduction.TOPK_PLAIN     # passed codes can be <= 0
    readings: ClassVar[tuple[Reading, ...]] = (Reading.DEF_3_1, Reading.SELECTION)
    threshold: ClassVar[float] = 0.0

    def column_sizes(self, n_latents: int, reading: Reading) -> range:
        return range(self.k, self.k + 1) if reading is Reading.SELECTION else range(0, self.k + 1)

    def check_column(self, count: int, n_latents: int, reading: Reading) -> str | None:
        if reading is Reading.SELECTION and count != self.k:
            return f"but TopK passes exactly k = {self.k}"
        return super().check_column(count, n_latents, reading)

    def feature_constraints(self, on: Sequence[int], n_latents: int, reading: Reading) -> list[Constraint]:
        if reading is not Reading.SELECTION:
            return super().feature_constraints(on, n_latents, reading)
        self.check_latents(n_latents)
        on = sorted(set(on))
        why = self.check_column(len(on), n_latents, reading)
        if why is not None:
            raise InputError(f"impossible pattern for {self}: a feature activates {len(on)} latents, {why}")
        return [Constraint(ConstraintKind.ORDER, i, other=j) for i in on for j in range(n_latents) if j not in on]

    def passing_sets(self, on: frozenset[int], n_latents: int, reading: Reading) -> list[frozenset[int]]:
        if reading is Reading.SELECTION or len(on) >= self.k:
            return [frozenset(on)]
        rest = [j for j in range(n_latents) if j not in on]
        return [frozenset(on) | frozenset(extra) for extra in itertools.combinations(rest, self.k - len(on))]
