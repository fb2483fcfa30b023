"""Realizable activation sets as cells of a hyperplane arrangement, and joint TopK patterns (Def. 3.1, eq. 13).

ReLU: feature d activates latent i iff <w_E^i, w_p^d> > 0, so the sets F that one latent can show
are the sign patterns of the central arrangement {w : <w, w_p^d> = 0} in R^{n_p}, read as
"on" = strictly positive side, "off" = the closed other side. These are the positive parts of all
its faces: the full-dimensional regions (Zaslavsky's count) plus sets seen only on lower faces,
such as F = {} at w = 0 when the w_p^d span R^{n_p} positively. JumpReLU: the affine arrangement
{<w, w_p^d> = theta}, handled by homogenizing, (w, s) with s > 0 and hyperplanes (w_p^d, -theta).

The enumerator is incremental over features, with a restriction recursion: a cell S of the
first m-1 hyperplanes meets both sides of hyperplane m iff it meets the hyperplane itself, and
the cells meeting it are the cells of the arrangement restricted to it (one dimension less). So
most splits are decided by linear algebra; the remaining cases (degenerate tight sets) by an LP,
counted in `lp_calls`. TopK and TopK o ReLU couple the latents by orderings: their joint
patterns are enumerated feature by feature with an LP feasibility check per new branch
(incremental pruning), latents with identical histories treated as interchangeable.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

from sdlscape import numerics
from sdlscape.errors import InconclusiveError, InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.region import feasible_point, pattern_region

TOL = numerics.HYPERPLANE_TOL
DEFAULT_EPS = numerics.MARGIN_EPS
DEFAULT_MAX_CELLS = 20000


@dataclass
class _Counter:
    lp_calls: int = 0


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
# The central arrangement: sets F with <w, p_j> > 0 (j in F), <= 0 (j not in F).


def _safe_step(w: np.ndarray, d: np.ndarray, P: np.ndarray, on: np.ndarray, off_strict: np.ndarray) -> float:
    """A step t > 0 keeping <w + t d, p_j> > 0 on `on` and < 0 on `off_strict` (half the limit, capped)."""
    wv, dv = w @ P, d @ P
    lim = np.inf
    dec = on & (dv < 0)
    if dec.any():
        lim = min(lim, float(np.min(wv[dec] / -dv[dec])))
    inc = off_strict & (dv > 0)
    if inc.any():
        lim = min(lim, float(np.min(-wv[inc] / dv[inc])))
    scale = max(float(np.linalg.norm(w)), 1.0) / max(float(np.linalg.norm(d)), 1e-300)
    return 0.5 * min(lim, scale)


def _direction(Pt: np.ndarray, p: np.ndarray | None) -> np.ndarray | None:
    """A direction d with <d, p_j> < 0 for the columns of Pt (p = None), or with <d, p> > 0 and
    <d, p_j> <= 0 (p given); None where linear algebra alone cannot tell (dependent columns)."""
    k, t = Pt.shape
    if t and np.linalg.matrix_rank(Pt, tol=1e-10) < t:
        return None
    if p is None:
        if t == 0:
            return None
        d, *_ = np.linalg.lstsq(Pt.T, -np.ones(t), rcond=None)   # <d, p_j> = -1 for every j
        return d
    if t == 0:
        return p.copy()
    c, *_ = np.linalg.lstsq(Pt, p, rcond=None)
    resid = p - Pt @ c
    if np.linalg.norm(resid) > 1e-9:                      # p outside span: move along its residual
        return resid
    if np.all(c >= -1e-12):                               # p in cone(Pt): no such d (Farkas)
        return np.zeros_like(p)
    target = np.where(c < -1e-12, -1.0, 0.0)             # <d, p_j> = -1 where c_j < 0, else 0
    d, *_ = np.linalg.lstsq(Pt.T, target, rcond=None)
    return d


def _lp_on(P: np.ndarray, on: np.ndarray, off: np.ndarray, ctr: _Counter) -> np.ndarray | None:
    """LP: some w with <w, p_j> >= 1 on `on`, <= 0 on `off` (a cone, so >= 1 is > 0), or None."""
    ctr.lp_calls += 1
    k = P.shape[0]
    A = np.vstack([-P[:, on].T, P[:, off].T])
    b = np.concatenate([-np.ones(on.sum()), np.zeros(off.sum())])
    res = linprog(np.zeros(k), A_ub=A, b_ub=b, bounds=(None, None), method="highs")
    if res.status == 0:
        return res.x
    if res.status == 2:
        return None
    raise InconclusiveError(f"a cell LP ended with status {res.status} ({str(res.message).splitlines()[0]}), "
                            "neither optimal nor infeasible: the enumeration is inconclusive (the instance is "
                            "too large or ill-conditioned; try fewer features or a larger --eps)")


def _interiorize(w: np.ndarray, P: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Move a witness off the hyperplanes it lies on among its "off" features, where that is possible."""
    v = w @ P
    tight = (~on) & (np.abs(v) <= TOL * max(1.0, np.linalg.norm(w)))
    if not tight.any():
        return w
    d = _direction(P[:, tight], None)
    if d is None:
        return w
    off_strict = (~on) & ~tight
    t = _safe_step(w, d, P, on, off_strict)
    w2 = w + t * d
    v2 = w2 @ P
    if np.all(v2[on] > 0) and np.all(v2[~on] < 0):
        return w2
    return w


def _central_sets(P: np.ndarray, required: frozenset[int], ctr: _Counter,
                  max_cells: int = DEFAULT_MAX_CELLS) -> dict[frozenset[int], np.ndarray]:
    """All F (containing `required`) with a w: <w, P[:, j]> > 0 for j in F, <= 0 otherwise; F -> witness w."""
    k, n = P.shape
    norms = np.linalg.norm(P, axis=0)
    zero = norms <= TOL
    if any(zero[j] for j in required):
        return {}
    P = np.where(zero, 0.0, P / np.where(zero, 1.0, norms))
    if k == 0 or n == 0 or zero.all():
        return {} if required else {frozenset(): np.zeros(k)}
    if k == 1:
        out: dict[frozenset[int], np.ndarray] = {}
        for s in (1.0, -1.0, 0.0):
            F = frozenset(int(j) for j in np.flatnonzero(s * P[0] > TOL))
            if required <= F and F not in out:
                out[F] = np.array([s])
        return out
    order = [j for j in range(n) if j in required] + [j for j in range(n) if j not in required and not zero[j]]
    nodes: dict[frozenset[int], np.ndarray] = {frozenset(): np.zeros(k)}
    done: list[int] = []
    for m in order:
        p = P[:, m]
        B = null_space(p[None, :])                         # k x (k-1) orthonormal basis of p^perp
        sub_req = frozenset(i for i, j in enumerate(done) if j in required)
        sub_local = _central_sets(B.T @ P[:, done], sub_req, ctr, max_cells) if done else {frozenset(): np.zeros(k - 1)}
        sub = {frozenset(done[i] for i in F): B @ u for F, u in sub_local.items()}
        idx = np.array(done + [m], dtype=int)
        Pd = P[:, idx]
        new: dict[frozenset[int], np.ndarray] = {}
        for F, w in nodes.items():
            v = float(w @ p)
            Fm = F | {m}
            if v > TOL * max(1.0, np.linalg.norm(w)):
                new[Fm] = w
                if F in sub:
                    new[F] = sub[F]
                continue
            new[F] = w
            if F not in sub:
                continue                                   # the cell never meets hyperplane m: no "on" side
            u = sub[F]
            on = np.array([j in Fm for j in idx])
            uv = u @ Pd
            tight = (~on) & (np.abs(uv) <= TOL * max(1.0, np.linalg.norm(u)))
            tight[-1] = False
            d = _direction(Pd[:, tight], p)
            if d is None:
                w2 = _lp_on(Pd, on, ~on, ctr)
            elif np.linalg.norm(d) == 0:
                w2 = None
            else:
                on_prev = on.copy()
                on_prev[-1] = False
                off_strict = (~on) & ~tight
                t = _safe_step(u, d, Pd, on_prev, off_strict)
                w2 = u + t * d
                v2 = w2 @ Pd
                if not (np.all(v2[on] > 0) and np.all(v2[~on] <= TOL * max(1.0, np.linalg.norm(w2)))):
                    w2 = _lp_on(Pd, on, ~on, ctr)
            if w2 is not None:
                new[Fm] = w2
        if m in required:
            new = {F: w for F, w in new.items() if m in F}
        done.append(m)
        idx = np.array(done, dtype=int)
        Pd = P[:, idx]
        nodes = {}
        for F, w in new.items():
            on = np.array([j in F for j in idx])
            nodes[F] = _interiorize(w, Pd, on)
        if len(nodes) > max_cells:
            raise InputError(f"more than {max_cells} cells after {len(done)} of {n} hyperplanes; "
                             "the instance is too large to enumerate")
    return nodes


def _is_chamber(P: np.ndarray, F: frozenset[int], w: np.ndarray, ctr: _Counter) -> bool:
    """Does F have a witness strictly off every hyperplane? Checked on w, else by an LP (max margin)."""
    on = np.array([j in F for j in range(P.shape[1])])
    v = w @ P
    if np.all(v[on] > 0) and np.all(v[~on] < 0):
        return True
    ctr.lp_calls += 1
    k = P.shape[0]
    # maximize t: -<w,p_j> + t <= 0 (on), <w,p_j> + t <= 0 (off), |w|_inf <= 1, t <= 1
    A = np.hstack([np.vstack([-P[:, on].T, P[:, ~on].T]), np.ones((P.shape[1], 1))])
    res = linprog(np.r_[np.zeros(k), -1.0], A_ub=A, b_ub=np.zeros(P.shape[1]),
                  bounds=[(-1, 1)] * k + [(None, 1)], method="highs")
    return bool(res.status == 0 and -res.fun > 1e-9)


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
    ctr = _Counter()
    n, k = inst.n, inst.n_p
    theta = float(inst.activation.threshold)
    homogenized = theta != 0
    if not homogenized:
        P, required = inst.W_p, frozenset()
    else:
        P = np.vstack([np.hstack([inst.W_p, np.zeros((k, 1))]), np.r_[np.full(n, -theta), 1.0][None, :]])
        required = frozenset([n])
    sets = _central_sets(np.asarray(P, dtype=float), required, ctr, max_cells)
    cells, witnesses, chambers, thin = [], [], [], []
    Pn = _normalized(np.asarray(P, dtype=float))
    for F in sorted(sets, key=lambda s: (len(s), sorted(s))):
        w = sets[F]
        chamber = _is_chamber(Pn, F, w, ctr)
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


def _normalized(P: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(P, axis=0)
    return np.where(norms <= TOL, 0.0, P / np.where(norms <= TOL, 1.0, norms))


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


# ---------------------------------------------------------------------------------------------
# Joint patterns of TopK / TopK o ReLU.


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
    from sdlscape.solvers.piece_bounds import check_enumerable

    check_enumerable(inst, max_patterns, eps, reading)      # refuse at once what is provably too large
    t0 = time.perf_counter()
    ctr = _Counter()
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
