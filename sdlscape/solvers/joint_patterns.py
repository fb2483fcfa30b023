"""Joint activation patterns of TopK / TopK o ReLU (Def. 3.1, eq. 13), which couple the latents by orderings.

The patterns are enumerated feature by feature with an LP feasibility check per new branch (incremental
pruning), latents with identical histories treated as interchangeable.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InconclusiveError, InputError
from sdlscape.outcomes import Reading
from sdlscape.solvers.central_cells import LPCounter
from sdlscape.solvers.piece_bounds import check_enumerable
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.region import feasible_point, pattern_region

DEFAULT_EPS = numerics.MARGIN_EPS


@dataclass(frozen=True)
class JointEnumeration:
    """Realizable joint patterns (canonical: one per class of latent relabellings), a witness W_E for each
    (rows in the canonical latent order, in the region with margin eps), LP calls, search nodes."""

    patterns: list[Pattern]
    witnesses: list[np.ndarray]
    lp_calls: int
    seconds: float
    nodes: int


def _selections(sizes: range, n_latents: int, history: list[tuple]) -> list[tuple[int, ...]]:
    """Candidate selected sets for the next feature, one per class of interchangeable latents.

    Latents with the same history (membership in every earlier selection) are interchangeable:
    choosing which of them are selected, only the lowest-indexed ones are tried.
    """
    groups: dict[tuple, list[int]] = {}
    for i in range(n_latents):
        groups.setdefault(history[i], []).append(i)
    glist = list(groups.values())
    out = []
    for size in sizes:
        def rec(g: int, left: int, chosen: list[int]) -> None:
            if g == len(glist):
                if left == 0:
                    out.append(tuple(sorted(chosen)))
                return
            for c in range(0, min(left, len(glist[g])) + 1):
                rec(g + 1, left - c, chosen + glist[g][:c])
        rec(0, size, [])
    return out


def enumerate_joint_patterns(inst: Instance, eps: float = DEFAULT_EPS, max_patterns: int = 100000,
                             reading: Reading | None = None) -> JointEnumeration:
    """Joint patterns of a topk / topk_relu instance by depth-first search over features with LP pruning.

    A branch (selections for features 0..d) is kept iff its region (eq. 13 on those features) is
    feasible with margin eps: checked first on the parent's witness, else by one LP. Returns the
    realizable patterns up to latent relabelling (canonical, deduplicated).
    """
    if inst.activation.separable:
        raise InputError(f"joint enumeration is for activations that couple latents, not {inst.activation} "
                         "(use latent_cells)")
    reading = inst.activation.linear_reading if reading is None else reading
    check_enumerable(inst, max_patterns, eps, reading)      # refuse at once what is provably too large
    t0 = time.perf_counter()
    ctr = LPCounter()
    act, nl, n = inst.activation, inst.n_latents, inst.n
    found: dict[Pattern, np.ndarray] = {}
    nodes = 0

    def feasible(mask: np.ndarray, W_parent: np.ndarray) -> np.ndarray | None:
        reg = pattern_region(act, inst.W_p[:, :mask.shape[1]], mask, eps, reading)
        if reg.contains(W_parent, tol=0.0):
            return W_parent
        ctr.lp_calls += 1
        x, status = feasible_point(reg, 0.0)
        if x is None and status != "infeasible":
            raise InconclusiveError(f"a joint-pattern LP ended with {status.splitlines()[0]}, neither optimal nor "
                                    "infeasible: the enumeration is inconclusive (the instance is too large or "
                                    "ill-conditioned; try fewer features or latents, or a larger --eps)")
        return None if x is None else x.reshape(nl, inst.n_p)

    def dfs(d: int, mask: np.ndarray, W: np.ndarray) -> None:
        nonlocal nodes
        nodes += 1
        if d == n:
            labelled = Pattern.from_mask(mask)
            pat = labelled.canonical()
            if pat not in found:   # witness rows put in the latent order of the canonical pattern
                order = sorted(range(nl), key=lambda i: (len(labelled.sets[i]), sorted(labelled.sets[i])))
                found[pat] = W[order]
                if len(found) > max_patterns:
                    raise InputError(f"more than {max_patterns} joint patterns; the instance is too large "
                                     "to enumerate")
            return
        history = [tuple(mask[i]) for i in range(nl)]
        for sel in _selections(act.column_sizes(nl, reading), nl, history):
            col = np.zeros((nl, 1), dtype=bool)
            col[list(sel), 0] = True
            child = np.hstack([mask, col])
            W2 = feasible(child, W)
            if W2 is not None:
                dfs(d + 1, child, W2)

    dfs(0, np.zeros((nl, 0), dtype=bool), np.zeros((nl, inst.n_p)))
    pats = sorted(found, key=lambda p: (str(p)))
    return JointEnumeration(pats, [found[p] for p in pats], ctr.lp_calls, time.perf_counter() - t0, nodes)


def brute_force_joint(inst: Instance, eps: float = DEFAULT_EPS, reading: Reading | None = None
                      ) -> tuple[set[Pattern], int]:
    """Every joint selection (one selected set per feature) tested by one LP: (canonical patterns, LP calls)."""
    act, nl = inst.activation, inst.n_latents
    reading = act.linear_reading if reading is None else reading
    sizes = act.column_sizes(nl, reading)
    per_feature = [s for r in sizes for s in itertools.combinations(range(nl), r)]
    out, calls = set(), 0
    for choice in itertools.product(per_feature, repeat=inst.n):
        mask = np.zeros((nl, inst.n), dtype=bool)
        for d, s in enumerate(choice):
            mask[list(s), d] = True
        calls += 1
        x, _ = feasible_point(pattern_region(act, inst.W_p, mask, eps, reading), 0.0)
        if x is not None:
            out.add(Pattern.from_mask(mask).canonical())
    return out, calls
