"""Activation-pattern regions Omega_P (eq. 13) as linear inequalities in vec(W_E).

An activation describes, feature by feature, the inequalities on the codes z_{., d} = W_E w_p^d under
which feature d alone shows a given set of latents (its `feature_constraints`, one `Constraint` each);
this module turns them into rows G vec(W_E) <= h (row-major: index i * n_p + j for W_E[i, j]). Strict
inequalities carry the solvers' margin eps in h (a.w < b is stored as a.w <= b - eps) and their own
right-hand side in h_open; whether a region is empty is decided on h_open by `Region.decide` (largest
margin, exact checks: theory/strict.py), never by eps.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from sdlscape import numerics


class ConstraintKind(str, Enum):
    ON = "on"          # z_id > threshold (strict): feature d activates latent i
    OFF = "off"        # z_id <= threshold: it does not
    ORDER = "order"    # z_id > z_jd (strict): for feature d, latent i ranks above latent j (TopK)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Constraint:
    """One inequality of a region: which latent (and other latent, for ORDER) and feature it concerns."""

    kind: ConstraintKind
    latent: int
    feature: int = -1
    other: int = -1
    threshold: float = 0.0

    @property
    def strict(self) -> bool:
        return self.kind is not ConstraintKind.OFF

    def describe(self) -> str:
        if self.kind is ConstraintKind.ON:
            return f"feature {self.feature} activates latent {self.latent}"
        if self.kind is ConstraintKind.OFF:
            return f"feature {self.feature} does not activate latent {self.latent}"
        return f"for feature {self.feature}, latent {self.latent} ranks above latent {self.other}"


@dataclass(frozen=True, eq=False)
class Region:
    """Omega_P as G @ vec(W_E) <= h (eq. 13); `strict[r]` marks rows tightened by the margin eps."""

    G: np.ndarray
    h: np.ndarray
    strict: np.ndarray
    constraints: tuple[Constraint, ...]
    shape: tuple[int, int]
    eps: float
    h_open: np.ndarray | None = None   # the right-hand sides before the margin (a.w < b: b); None = h + eps

    def __post_init__(self) -> None:
        if self.h_open is None:
            object.__setattr__(self, "h_open", self.h + self.eps * self.strict)

    @property
    def n_rows(self) -> int:
        return self.G.shape[0]

    def slack(self, W_E: np.ndarray) -> np.ndarray:
        """h - G vec(W_E): nonnegative inside the (margin-tightened) region."""
        return self.h - self.G @ np.asarray(W_E, dtype=float).reshape(-1)

    def contains(self, W_E: np.ndarray, tol: float = numerics.REGION_MEMBERSHIP_TOL) -> bool:
        return bool(np.all(self.slack(W_E) >= -tol))

    def without(self, rows) -> Region:
        """The region with some rows left out (the block over a relaxed region)."""
        keep = np.setdiff1d(np.arange(self.n_rows), np.asarray(list(rows), dtype=int))
        return Region(self.G[keep], self.h[keep], self.strict[keep], tuple(self.constraints[k] for k in keep),
                      self.shape, self.eps, self.h_open[keep])

    def decide(self, method: str = "highs"):
        """Is the region (its strict rows strict, no margin) non-empty? Decided by the largest margin with
        exactly checked witness / Motzkin certificate (theory/strict.py): the answer never depends on eps."""
        from sdlscape.theory.strict import decide_strict

        return decide_strict(self.G, self.h_open, self.strict, method)


def code_row(i: int, d: int, W_p: np.ndarray, n_latents: int) -> np.ndarray:
    """Coefficients of z_id = <w_E^i, w_p^d> in vec(W_E)."""
    n_p = W_p.shape[0]
    row = np.zeros(n_latents * n_p)
    row[i * n_p:(i + 1) * n_p] = W_p[:, d]
    return row


def region_from_constraints(W_p: np.ndarray, n_latents: int, constraints: list[Constraint], eps: float) -> Region:
    """Rows G vec(W_E) <= h for the given constraints (each names its feature)."""
    rows, rhs, strict, open_rhs = [], [], [], []
    for c in constraints:
        zi = code_row(c.latent, c.feature, W_p, n_latents)
        if c.kind is ConstraintKind.ON:           # -z_id <= -t - eps
            row, b = -zi, -c.threshold
        elif c.kind is ConstraintKind.OFF:        # z_id <= t
            row, b = zi, c.threshold
        else:                                     # z_jd - z_id <= -eps
            row, b = code_row(c.other, c.feature, W_p, n_latents) - zi, 0.0
        rows.append(row)
        rhs.append(b - eps if c.strict else b)
        open_rhs.append(b)
        strict.append(c.strict)
    dim = n_latents * W_p.shape[0]
    G = np.array(rows).reshape(-1, dim) if rows else np.zeros((0, dim))
    return Region(G=G, h=np.array(rhs, dtype=float), strict=np.array(strict, dtype=bool),
                  constraints=tuple(constraints), shape=(n_latents, W_p.shape[0]), eps=float(eps),
                  h_open=np.array(open_rhs, dtype=float))


def pattern_region(activation, W_p: np.ndarray, mask: np.ndarray, eps: float, reading,
                   fired: np.ndarray | None = None) -> Region:
    """Omega_P: encoders whose pattern (in `reading`) on each feature alone is mask[:, d].

    fired: for a selection mask S of plain TopK, also fix which passed codes are positive (a linear
    part of a Def. 3.1 piece): codes in fired > 0, other passed codes <= 0.
    """
    import dataclasses

    from sdlscape.errors import InputError

    if not (eps > 0 and np.isfinite(eps)):
        raise InputError(f"the margin eps must be finite and positive, got {eps}")
    mask = np.asarray(mask, dtype=bool)
    n_latents, n = mask.shape
    cons: list[Constraint] = []
    for d in range(n):
        on = [int(i) for i in np.flatnonzero(mask[:, d])]
        cons += [dataclasses.replace(c, feature=d) for c in activation.feature_constraints(on, n_latents, reading)]
        if fired is not None:
            cons += [Constraint(ConstraintKind.ON if fired[i, d] else ConstraintKind.OFF, i, d) for i in on]
    return region_from_constraints(W_p, n_latents, cons, eps)


# ---------------------------------------------------------------------------------------------
# Linear programs on a region (scipy HiGHS): a point, or a Farkas certificate that there is none


def feasible_point(reg: Region, slack: float = 0.0) -> tuple[np.ndarray | None, str]:
    """A point of {G w <= h - slack} of least L1 norm (HiGHS), or None with the LP status."""
    from scipy.optimize import linprog

    dim = reg.G.shape[1]
    if reg.n_rows == 0:
        return np.zeros(dim), "optimal"
    # w = u - v, u, v >= 0; minimize sum(u + v) subject to G (u - v) <= h - slack.
    A = np.hstack([reg.G, -reg.G])
    res = linprog(np.ones(2 * dim), A_ub=A, b_ub=reg.h - slack, bounds=(0, None), method="highs")
    if res.status == 0:
        return res.x[:dim] - res.x[dim:], "optimal"
    if res.status == 2:
        return None, "infeasible"
    return None, f"lp status {res.status}: {res.message}"


def farkas_certificate(reg: Region) -> tuple[np.ndarray | None, str]:
    """Solve min h^T y s.t. G^T y = 0, y >= 0, sum y = 1; a negative optimum is a certificate."""
    from scipy.optimize import linprog

    m, dim = reg.G.shape
    if m == 0:
        return None, "no rows: the region is everything"
    A_eq = np.vstack([reg.G.T, np.ones((1, m))])
    b_eq = np.concatenate([np.zeros(dim), [1.0]])
    res = linprog(reg.h, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        return None, f"farkas lp status {res.status}: {res.message}"
    return (res.x, "optimal") if res.fun < 0 else (None, f"farkas optimum {res.fun:.3g} >= 0")


def check_farkas(reg: Region, y: np.ndarray, tol: float = numerics.FARKAS_TOL) -> bool:
    """Independent re-check of an infeasibility certificate for G w <= h: y >= 0, G^T y = 0, h^T y < 0."""
    y = np.asarray(y, dtype=float)
    if y.shape != (reg.n_rows,) or np.any(y < -tol):
        return False
    scale = max(1.0, float(np.abs(y).sum()))
    return bool(np.max(np.abs(reg.G.T @ y), initial=0.0) <= tol * scale and reg.h @ y < -tol * scale)
