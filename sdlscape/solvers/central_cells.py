"""Sign cells of a central hyperplane arrangement: every F with some w, <w, p_j> > 0 (j in F), <= 0 otherwise.

The enumerator is incremental over hyperplanes, with a restriction recursion: a cell S of the first m-1
hyperplanes meets both sides of hyperplane m iff it meets the hyperplane itself, and the cells meeting it
are the cells of the arrangement restricted to it (one dimension less). So most splits are decided by
linear algebra; the remaining cases (degenerate tight sets) by an LP, counted in an `LPCounter`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

from sdlscape import numerics
from sdlscape.errors import InconclusiveError, InputError

TOL = numerics.HYPERPLANE_TOL
DEFAULT_MAX_CELLS = 20000


@dataclass
class LPCounter:
    """LPs solved so far (the enumerators report it)."""

    lp_calls: int = 0


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


def _lp_on(P: np.ndarray, on: np.ndarray, off: np.ndarray, ctr: LPCounter) -> np.ndarray | None:
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


def central_sets(P: np.ndarray, required: frozenset[int], ctr: LPCounter,
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
        sub_local = central_sets(B.T @ P[:, done], sub_req, ctr, max_cells) if done else {frozenset(): np.zeros(k - 1)}
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


def is_chamber(P: np.ndarray, F: frozenset[int], w: np.ndarray, ctr: LPCounter) -> bool:
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


def normalized(P: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(P, axis=0)
    return np.where(norms <= TOL, 0.0, P / np.where(norms <= TOL, 1.0, norms))

