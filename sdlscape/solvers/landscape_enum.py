"""Enumerating the pieces of a small instance (Def. 3.1, eq. 13), one per relabelling class.

For relu / jumprelu the latents are independent, so a piece is a multiset of single-latent cells
(solvers/arrangement.py); for topk / topk_relu the joint patterns are enumerated with LP pruning.
Patterns equal up to a relabelling of latents have the same loss landscape, so one canonical
representative is kept and its multiplicity (the number of labelled patterns it stands for) recorded.
"""
from __future__ import annotations

import itertools
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.solvers.arrangement import (
    DEFAULT_MAX_CELLS,
    enumerate_joint_patterns,
    latent_cells,
)
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern

DEFAULT_MAX_PIECES = 2000
DEFAULT_EPS = numerics.MARGIN_EPS


@dataclass(frozen=True)
class PieceSpec:
    """One piece to solve: a canonical pattern, how many labelled patterns it stands for, a witness W_E."""

    pattern: Pattern
    multiplicity: int
    witness: np.ndarray | None = None


@dataclass(frozen=True)
class PieceCount:
    """The enumeration before solving: cells per latent, pieces, and what it cost."""

    cells_per_latent: int
    pieces: list[PieceSpec]
    lp_calls: int
    seconds: float
    method: str
    detail: dict = field(default_factory=dict)

    @property
    def n_pieces(self) -> int:
        return len(self.pieces)


def multiplicity(pattern: Pattern) -> int:
    """Labelled patterns in the relabelling class of `pattern`: n_latents! / prod(repeats of a set)!."""
    reps = Counter(pattern.sets)
    return math.factorial(pattern.n_latents) // math.prod(math.factorial(c) for c in reps.values())


def count_pieces(inst: Instance, eps: float = DEFAULT_EPS, max_pieces: int = DEFAULT_MAX_PIECES,
                 max_cells: int = DEFAULT_MAX_CELLS) -> PieceCount:
    """Enumerate the pieces of an instance (no solving); InputError if there are more than max_pieces."""
    if max_pieces < 1:
        raise InputError(f"max_pieces must be >= 1, got {max_pieces}")
    t0 = time.perf_counter()
    nl = inst.n_latents
    if inst.activation.separable:
        ce = latent_cells(inst, eps, max_cells=max_cells)
        c = len(ce.cells)
        total = math.comb(c + nl - 1, nl)
        if total > max_pieces:
            raise InputError(f"instance {inst.name or '(unnamed)'} has {total} pieces ({c} cells per latent, "
                             f"{nl} latents), more than --max-pieces {max_pieces}; not starting")
        specs = []
        for combo in _multisets(range(c), nl):
            pat = Pattern(tuple(ce.cells[j] for j in combo), inst.n).canonical()
            W = np.stack([ce.witnesses[j] for j in _canonical_order(ce, combo)])
            specs.append(PieceSpec(pat, multiplicity(pat), W))
        return PieceCount(c, specs, ce.lp_calls, time.perf_counter() - t0, ce.method,
                          {"regions": len(ce.chambers), "cells_too_thin_for_eps": [sorted(F) for F in ce.dropped_thin],
                           "cells": [sorted(F) for F in ce.cells]})
    try:
        je = enumerate_joint_patterns(inst, eps, max_patterns=max_pieces)
    except InputError as exc:
        raise InputError(f"instance {inst.name or '(unnamed)'}: {exc} (more than --max-pieces {max_pieces}); "
                         "not starting") from None
    cells = {s for p in je.patterns for s in p.sets}
    specs = [PieceSpec(p, multiplicity(p), W) for p, W in zip(je.patterns, je.witnesses)]
    return PieceCount(len(cells), specs, je.lp_calls, time.perf_counter() - t0, "joint-dfs-lp",
                      {"search_nodes": je.nodes, "cells": sorted(sorted(F) for F in cells)})


def _multisets(items: Iterable[int], r: int) -> Iterator[tuple[int, ...]]:
    return itertools.combinations_with_replacement(list(items), r)


def _canonical_order(ce, combo: tuple[int, ...]) -> list[int]:
    """The cell indices of combo in the latent order Pattern.canonical() uses."""
    return sorted(combo, key=lambda j: (len(ce.cells[j]), sorted(ce.cells[j])))


def enumerate_pieces(inst: Instance, eps: float = DEFAULT_EPS, max_pieces: int = DEFAULT_MAX_PIECES
                     ) -> list[PieceSpec]:
    """Every piece of the instance up to latent relabelling (canonical patterns with multiplicities)."""
    return count_pieces(inst, eps, max_pieces).pieces

