"""Realizable activation sets as cells of a hyperplane arrangement, and joint TopK patterns (Def. 3.1, eq. 13).

ReLU: feature d activates latent i iff <w_E^i, w_p^d> > 0, so the sets F that one latent can show
are the sign patterns of the central arrangement {w : <w, w_p^d> = 0} in R^{n_p}, read as
"on" = strictly positive side, "off" = the closed other side. These are the positive parts of all
its faces: the full-dimensional regions (Zaslavsky's count) plus sets seen only on lower faces,
such as F = {} at w = 0 when the w_p^d span R^{n_p} positively. JumpReLU: the affine arrangement
{<w, w_p^d> = theta}, handled by homogenizing, (w, s) with s > 0 and hyperplanes (w_p^d, -theta).

The cells are enumerated by solvers/central_cells.py (incremental, with a restriction recursion; LPs
only for degenerate tight sets, counted in `lp_calls`). TopK and TopK o ReLU couple the latents by
orderings: their joint patterns are enumerated by solvers/joint_patterns.py (re-exported here).
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.solvers.central_cells import (
    DEFAULT_MAX_CELLS,
    TOL,  # noqa: F401  (re-exported)
    LPCounter,
    central_sets,
    is_chamber,
    normalized,
)
from sdlscape.solvers.joint_patterns import (  # noqa: F401  (re-exported: the joint enumeration's public names)
    JointEnumeration,
    brute_force_joint,
    enumerate_joint_patterns,
)
from sdlscape.theory.instance import Instance
from sdlscape.theory.region import feasible_point, pattern_region

DEFAULT_EPS = numerics.MARGIN_EPS


@dataclass(frozen=True)
class CellEnumeration:
    """The realizable single-latent sets of an instance, with one witness encoder row per set.

    cells: realizable sets F (margin eps), sorted by (size, members); witnesses[c] realizes cells[c].
    chambers: the sets with a full-dimensional region (strict on both sides): Zaslavsky's regions,
    counted whatever their width (a region too thin for margin eps is in dropped_thin, not in cells).
    lp_calls: LPs solved (the restriction recursion decides the rest by linear algebra).
    """

    cells: list[frozenset[int]]
    witnesses: list[np.ndarray]
    chambers: list[frozenset[int]]
    lp_calls: int
    seconds: float
    method: str = "incremental-restriction"
    dropped_thin: list[frozenset[int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cells": [sorted(c) for c in self.cells], "n_cells": len(self.cells),
                "n_chambers": len(self.chambers), "lp_calls": self.lp_calls, "seconds": self.seconds,
                "method": self.method, "dropped_thin": [sorted(c) for c in self.dropped_thin]}


def zaslavsky_central(n: int, k: int) -> int:
    """Regions of n generic hyperplanes through the origin of R^k: 2 sum_{i<k} C(n-1, i)."""
    if n == 0:
        return 1
    return 2 * sum(math.comb(n - 1, i) for i in range(k))


def zaslavsky_affine(n: int, k: int) -> int:
    """Regions of n generic affine hyperplanes in R^k: sum_{i<=k} C(n, i)."""
    return sum(math.comb(n, i) for i in range(k + 1))


def cell_upper_bound(inst: Instance) -> int:
    """An a-priori bound on the number of single-latent cells (generic position is the worst case), +1 for {}."""
    _check_single(inst)
    if inst.activation.central_arrangement:
        return zaslavsky_central(inst.n, inst.n_p) + 1
    return zaslavsky_affine(inst.n, inst.n_p) + 1


# ---------------------------------------------------------------------------------------------
# Public: single-latent cells of relu / jumprelu.


def _check_single(inst: Instance) -> None:
    if not inst.activation.separable:
        raise InputError(f"single-latent cells exist for separable activations (relu, jumprelu); {inst.activation} couples "
                         "the latents (use enumerate_joint_patterns)")


def single_region(inst: Instance, F: frozenset[int], eps: float):
    """The region of one latent with set F (eq. 13 for n_latents = 1)."""
    mask = np.zeros((1, inst.n), dtype=bool)
    mask[0, sorted(F)] = True
    return pattern_region(inst.activation, inst.W_p, mask, eps, Reading.DEF_3_1)


def latent_cells(inst: Instance, eps: float = DEFAULT_EPS, max_cells: int = DEFAULT_MAX_CELLS) -> CellEnumeration:
    """The realizable single-latent sets of a relu / jumprelu instance (cells of the arrangement).

    Each witness row w satisfies the region of its set with margin eps (re-checked); for jumprelu a
    set realizable only with a margin below eps is dropped (listed in dropped_thin) after an LP says so.
    """
    _check_single(inst)
    if eps <= 0:
        raise InputError(f"the margin eps must be positive, got {eps}")
    t0 = time.perf_counter()
    ctr = LPCounter()
    n, k = inst.n, inst.n_p
    theta = float(inst.activation.threshold)
    homogenized = theta != 0
    if not homogenized:
        P, required = inst.W_p, frozenset()
    else:
        P = np.vstack([np.hstack([inst.W_p, np.zeros((k, 1))]), np.r_[np.full(n, -theta), 1.0][None, :]])
        required = frozenset([n])
    sets = central_sets(np.asarray(P, dtype=float), required, ctr, max_cells)
    cells, witnesses, chambers, thin = [], [], [], []
    Pn = normalized(np.asarray(P, dtype=float))
    for F in sorted(sets, key=lambda s: (len(s), sorted(s))):
        w = sets[F]
        chamber = is_chamber(Pn, F, w, ctr)
        cell = frozenset(j for j in F if j < n)
        if chamber:
            chambers.append(cell)
        if homogenized:
            w = w[:k] / w[k]
        reg = single_region(inst, cell, eps)
        w = _with_margin(inst, reg, cell, w, eps)
        if w is None:
            ctr.lp_calls += 1
            x, _ = feasible_point(reg, 0.0)
            if x is None:
                thin.append(cell)
                continue
            w = x
        cells.append(cell)
        witnesses.append(w)
    return CellEnumeration(cells, witnesses, chambers, ctr.lp_calls, time.perf_counter() - t0,
                           dropped_thin=thin)



def _with_margin(inst: Instance, reg, F: frozenset[int], w: np.ndarray, eps: float) -> np.ndarray | None:
    """A witness of F meeting the region with margin eps (relu: rescaled, a cone), or None."""
    w = np.asarray(w, dtype=float)
    if inst.activation.central_arrangement and F:
        v = w @ inst.W_p[:, sorted(F)]
        if np.min(v) <= 0:
            return None
        w = w * (2 * eps / float(np.min(v)))
    return w if reg.contains(w[None, :], tol=1e-9) else None


def brute_force_cells(inst: Instance, eps: float = DEFAULT_EPS) -> tuple[list[frozenset[int]], int]:
    """Every subset F of the features tested by one LP each (the baseline): (realizable sets, LP calls)."""
    _check_single(inst)
    cells = []
    calls = 0
    for r in range(inst.n + 1):
        for F in itertools.combinations(range(inst.n), r):
            calls += 1
            x, _ = feasible_point(single_region(inst, frozenset(F), eps), 0.0)
            if x is not None:
                cells.append(frozenset(F))
    return cells, calls
