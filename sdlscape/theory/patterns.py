"""Activation patterns (Def. 3.1): the Pattern type, reading patterns off W_E, and their predicates.

A pattern P = (F_1, ..., F_{n_q}) lists, for each latent i, the features d that activate it when d
appears alone. The file format is a list of lists of 0-based feature indices, one per latent. The region
and realizability of a pattern belong to its Piece (theory/piece.py).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading


@dataclass(frozen=True)
class Pattern:
    """An activation pattern: sets[i] = F_i, the features that activate latent i (n features in all)."""

    sets: tuple[frozenset[int], ...]
    n: int

    def __post_init__(self) -> None:
        if len(self.sets) < 1 or int(self.n) < 1:   # an instance has >= 1 latent and >= 1 feature
            raise InputError(f"a pattern needs at least one latent set and one feature, got {len(self.sets)} "
                             f"latent sets over n = {self.n}")

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> Pattern:
        mask = np.asarray(mask, dtype=bool)
        return cls(tuple(frozenset(int(d) for d in np.flatnonzero(row)) for row in mask), mask.shape[1])

    @classmethod
    def parse(cls, obj: Any, n: int, n_latents: int, what: str = "pattern") -> Pattern:
        """Parse the file format (a list of lists, or its JSON text) and check it against the sizes.

        Validated by sdlscape.schema (strict: a boolean or 1.0 is not a feature index); InputError otherwise.
        """
        from sdlscape.schema import parse_json_text, pattern_spec

        if isinstance(obj, str):
            obj = parse_json_text(obj, what)
        sets_in = pattern_spec(obj, what)
        if len(sets_in) != n_latents:
            raise InputError(f"{what} has {len(sets_in)} latent sets but the instance has n_latents = {n_latents}")
        sets = []
        for i, s in enumerate(sets_in):
            for d in s:
                if not 0 <= d < n:
                    raise InputError(f"{what}: latent {i} names feature {d}, but features are 0..{n - 1}")
            if len(set(s)) != len(s):
                raise InputError(f"{what}: latent {i} lists a feature twice")
            sets.append(frozenset(s))
        return cls(tuple(sets), n)

    @property
    def n_latents(self) -> int:
        return len(self.sets)

    @property
    def mask(self) -> np.ndarray:
        """Boolean n_latents x n matrix: mask[i, d] iff d in F_i."""
        m = np.zeros((self.n_latents, self.n), dtype=bool)
        for i, s in enumerate(self.sets):
            m[i, sorted(s)] = True
        return m

    def column(self, d: int) -> frozenset[int]:
        """The latents feature d activates."""
        return frozenset(i for i, s in enumerate(self.sets) if d in s)

    def to_json(self) -> list[list[int]]:
        return [sorted(s) for s in self.sets]

    def __str__(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @property
    def polysemantic(self) -> bool:
        """Some latent is activated by two or more features."""
        return any(len(s) >= 2 for s in self.sets)

    @property
    def dead_latents(self) -> tuple[int, ...]:
        """Latents with F_i empty."""
        return tuple(i for i, s in enumerate(self.sets) if not s)

    @property
    def is_partition(self) -> bool:
        """The nonempty F_i are disjoint and cover all features (empty F_i allowed), as in Thm 3.6."""
        seen: set[int] = set()
        for s in self.sets:
            if seen & s:
                return False
            seen |= s
        return seen == set(range(self.n))

    @property
    def uncovered_features(self) -> tuple[int, ...]:
        """Features that activate no latent (they are reconstructed as 0)."""
        covered = set().union(*self.sets) if self.sets else set()
        return tuple(d for d in range(self.n) if d not in covered)

    def canonical(self) -> Pattern:
        """The representative of this pattern up to a permutation of latents (sets sorted)."""
        return Pattern(tuple(sorted(self.sets, key=lambda s: (len(s), sorted(s)))), self.n)

    def canonical_order(self) -> list[int]:
        """The latent order canonical() uses: canonical().sets[j] = sets[order[j]]."""
        return sorted(range(self.n_latents), key=lambda i: (len(self.sets[i]), sorted(self.sets[i])))


def read_pattern(inst, W_E: np.ndarray, reading: Reading = Reading.DEF_3_1) -> Pattern:
    """The activation pattern of W_E on the instance's features (Def. 3.1, or the selection reading)."""
    from sdlscape.theory.loss import check_weights, feature_mask

    check_weights(inst, W_E=W_E)
    return Pattern.from_mask(feature_mask(inst, np.asarray(W_E, dtype=float), reading))


def absorptions(pattern: Pattern, parents: Sequence[Sequence[int]]) -> list[dict[str, int]]:
    """Feature absorption events (Thm 3.8) in a pattern over hierarchical features.

    For parent p and sub-concept c: some latent fires for c alone (F = {c}) while another latent
    fires for other sub-concepts of p but not for c, i.e. the parent's latent lost c.
    """
    out = []
    for p, subs in enumerate(parents):
        subs = set(subs)
        for c in subs:
            own = [i for i, s in enumerate(pattern.sets) if s == {c}]
            parent_like = [i for i, s in enumerate(pattern.sets) if (s & (subs - {c})) and c not in s]
            if own and parent_like:
                out.append({"parent": p, "subconcept": c, "latent": own[0], "parent_latent": parent_like[0]})
    return out


def parse_patterns(objs: Iterable[Any], inst) -> list[Pattern]:
    return [Pattern.parse(o, inst.n, inst.n_latents) for o in objs]
