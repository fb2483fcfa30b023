"""Systems of strict and non-strict linear inequalities decided by their largest margin, checked exactly.

A x < b on the strict rows, A x <= b on the others (a region Omega_P, eq. 13, before any margin). The
decision never depends on a chosen margin eps:

- the largest margin t* of the homogenised LP  max t  s.t.  A x - b s + t e_strict <= 0,  t <= s,
  |x|_inf <= 1, 0 <= s <= 1, 0 <= t <= 1  (first with the margin on every row, then on the strict rows
  only) is > 0 iff the system has a solution; its point x/s is a *witness*, accepted only after it
  satisfies every inequality in exact rational arithmetic (fractions.Fraction of the floats);
- otherwise a *Motzkin certificate* (Motzkin's transposition theorem): y >= 0 with A^T y = 0,
  b^T y <= 0 and (y_strict != 0 or b^T y < 0); if x solved the system, 0 = y^T A x < b^T y (strict rows
  carry weight) or <= b^T y < 0, a contradiction. It is found by an LP (the normalisation
  sum(y_strict) - b^T y = 1) and accepted only after an exact re-solve on its support: A^T y = 0 holds
  in rationals, y >= 0, b^T y <= 0.  That exact y is what is returned (``certificate_exact``, rationals;
  ``certificate`` is it rounded to floats), not the LP's float y, which meets A^T y = 0 only to round-off;
- a system where neither survives its exact check is UNDECIDED with a typed reason (the floating-point
  band between the two), never unrealizable.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

from sdlscape.outcomes import Feasibility, InconclusiveReason


@dataclass(frozen=True, kw_only=True)
class StrictAnswer:
    """The decision on one strict system: an exactly checked witness x, or an exactly checked Motzkin y."""

    status: Feasibility
    margin: float | None                  # t* of the max-margin LP (None: the LP did not finish)
    witness: np.ndarray | None
    certificate: np.ndarray | None        # the exact certificate rounded to floats (for display and solvers)
    reason: InconclusiveReason | None = None
    detail: str = ""
    certificate_exact: tuple[Fraction, ...] | None = None   # y itself, every row (0 off its support)
    witness_exact: tuple[Fraction, ...] | None = None       # x itself where it is not the float witness

    @property
    def feasible(self) -> bool:
        return self.status is Feasibility.REALIZABLE


def _q(v: float) -> Fraction:
    return Fraction(float(v))


def exact_slacks(A: np.ndarray, b: np.ndarray, x: np.ndarray) -> list[Fraction]:
    """b - A x for every row, in exact rational arithmetic on the floats as given."""
    xq = [_q(v) for v in np.asarray(x, dtype=float).reshape(-1)]
    out = []
    for r in range(A.shape[0]):
        acc = _q(b[r])
        for j in np.flatnonzero(A[r]):
            acc -= _q(A[r, j]) * xq[j]
        out.append(acc)
    return out


def witness_holds(A: np.ndarray, b: np.ndarray, strict: np.ndarray, x: np.ndarray) -> bool:
    """Does x satisfy A x < b (strict rows) and A x <= b (the others) exactly?"""
    sl = exact_slacks(A, b, x)
    return all((s > 0) if st else (s >= 0) for s, st in zip(sl, np.asarray(strict, dtype=bool)))


def repaired_witness(A: np.ndarray, b: np.ndarray, strict: np.ndarray, x: np.ndarray) -> list[Fraction] | None:
    """An exact witness near a float x that misses only nearly tight non-strict rows by round-off: x + d with
    A_T d = (b - A x)_T in rationals on those rows T (they become equalities), then every row checked
    exactly; None if that fails."""
    st = np.asarray(strict, dtype=bool)
    sl = exact_slacks(A, b, x)
    scale = 1e-9 * max(1.0, float(np.abs(x).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
    T = [r for r, v in enumerate(sl) if not st[r] and abs(v) <= scale]
    if not T or any(v <= 0 for r, v in enumerate(sl) if st[r]) or any(v < -scale for v in sl):
        return None
    M = [[_q(A[r, j]) for j in range(A.shape[1])] for r in T]
    d = _solve_exact(M, [sl[r] for r in T], [Fraction(0)] * A.shape[1])
    if d is None:
        return None
    xq = [_q(v) + dv for v, dv in zip(np.asarray(x, dtype=float), d)]
    for r in range(A.shape[0]):
        v = _q(b[r]) - sum((_q(A[r, j]) * xq[j] for j in np.flatnonzero(A[r])), Fraction(0))
        if v < 0 or (st[r] and v == 0):
            return None
    return xq


def _solve_exact(M: list[list[Fraction]], rhs: list[Fraction], guess: list[Fraction]) -> list[Fraction] | None:
    """A rational solution of M y = rhs (free variables set to `guess`), or None if inconsistent."""
    rows, cols = len(M), len(guess)
    aug = [list(M[r]) + [rhs[r]] for r in range(rows)]
    pivots, r = [], 0
    for c in range(cols):
        p = next((i for i in range(r, rows) if aug[i][c] != 0), None)
        if p is None:
            continue
        aug[r], aug[p] = aug[p], aug[r]
        inv = 1 / aug[r][c]
        aug[r] = [v * inv for v in aug[r]]
        for i in range(rows):
            if i != r and aug[i][c] != 0:
                f = aug[i][c]
                aug[i] = [a - f * bb for a, bb in zip(aug[i], aug[r])]
        pivots.append(c)
        r += 1
        if r == rows:
            break
    if any(all(v == 0 for v in aug[i][:cols]) and aug[i][cols] != 0 for i in range(r, rows)):
        return None
    y = list(guess)
    free = [c for c in range(cols) if c not in pivots]
    for i, c in enumerate(pivots):
        y[c] = aug[i][cols] - sum((aug[i][f] * y[f] for f in free), Fraction(0))
    return y


def exact_motzkin(A: np.ndarray, b: np.ndarray, strict: np.ndarray, y: np.ndarray) -> list[Fraction] | None:
    """The exact certificate on the support of the float y: y_S >= 0, A_S^T y_S = 0, b_S^T y_S <= 0,
    sum(y_strict) - b^T y = 1 (so some strict row carries weight or b^T y < 0), or None."""
    found = _exact_motzkin(A, b, strict, y)
    return None if found is None else found[1]


def exact_motzkin_full(A: np.ndarray, b: np.ndarray, strict: np.ndarray, y: np.ndarray) -> list[Fraction] | None:
    """exact_motzkin's certificate as a vector over every row of A (0 off its support), or None."""
    found = _exact_motzkin(A, b, strict, y)
    if found is None:
        return None
    full = [Fraction(0)] * A.shape[0]
    for r, v in zip(*found):
        full[r] = v
    return full


def _exact_motzkin(A: np.ndarray, b: np.ndarray, strict: np.ndarray, y: np.ndarray
                   ) -> tuple[list[int], list[Fraction]] | None:
    y = np.asarray(y, dtype=float)
    if y.shape != (A.shape[0],) or not np.all(np.isfinite(y)) or y.max(initial=0.0) <= 0:
        return None
    for cut in (1e-9, 1e-6, 1e-4):   # an interior-point y has tiny entries off the support
        S = [int(r) for r in np.flatnonzero(y > cut * y.max())]
        sol = _exact_on_support(A, b, strict, y, S)
        if sol is not None:
            return S, sol
    return None


def _exact_on_support(A: np.ndarray, b: np.ndarray, strict: np.ndarray, y: np.ndarray, S: list[int]
                      ) -> list[Fraction] | None:
    st = np.asarray(strict, dtype=bool)
    cols_used = [j for j in range(A.shape[1]) if np.any(A[S, j] != 0)]
    M = [[_q(A[r, j]) for r in S] for j in cols_used]
    M.append([Fraction(int(st[r])) - _q(b[r]) for r in S])
    rhs = [Fraction(0)] * len(cols_used) + [Fraction(1)]
    sol = _solve_exact(M, rhs, [_q(y[r]) for r in S])
    if sol is None or any(v < 0 for v in sol):
        return None
    bty = sum((_q(b[r]) * v for r, v in zip(S, sol)), Fraction(0))
    if bty > 0 or not (bty < 0 or any(v > 0 and st[r] for r, v in zip(S, sol))):
        return None
    return sol


def max_margin(A: np.ndarray, b: np.ndarray, on_rows: np.ndarray, method: str = "highs"
               ) -> tuple[float | None, np.ndarray | None, str]:
    """The homogenised max-margin LP (margin on `on_rows`): (t*, x/s or None, LP status)."""
    m, n = A.shape
    e = np.asarray(on_rows, dtype=float)
    # variables (x, s, t): rows A x - b s + t e <= 0 and t - s <= 0
    G = np.vstack([np.hstack([A, -b[:, None], e[:, None]]), np.r_[np.zeros(n), -1.0, 1.0][None, :]])
    res = linprog(np.r_[np.zeros(n + 1), -1.0], A_ub=G, b_ub=np.zeros(m + 1),
                  bounds=[(-1, 1)] * n + [(0, 1), (0, 1)], method=method)
    if res.status != 0:
        return None, None, f"max-margin LP status {res.status}: {str(res.message).splitlines()[0]}"
    t, s = float(res.x[-1]), float(res.x[-2])
    return t, (res.x[:n] / s if t > 0 and s > 0 else None), "optimal"


def motzkin_lp(A: np.ndarray, b: np.ndarray, strict: np.ndarray, method: str = "highs"
               ) -> tuple[np.ndarray | None, str]:
    """A float Motzkin certificate: y >= 0, A^T y = 0, b^T y <= 0, sum(y_strict) - b^T y = 1 (min sum y)."""
    m, n = A.shape
    st = np.asarray(strict, dtype=float)
    A_eq = np.vstack([A.T, (st - b)[None, :]])
    b_eq = np.r_[np.zeros(n), 1.0]
    res = linprog(np.ones(m), A_ub=b[None, :], b_ub=[0.0], A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method=method)
    if res.status == 0:
        return res.x, "optimal"
    return None, f"motzkin LP status {res.status}: {str(res.message).splitlines()[0]}"


def decide_strict(A: np.ndarray, b: np.ndarray, strict: np.ndarray, method: str = "highs") -> StrictAnswer:
    """Is {A x < b (strict rows), A x <= b (the others)} feasible? See the module docstring."""
    b = np.asarray(b, dtype=float)
    A = np.asarray(A, dtype=float)
    strict = np.asarray(strict, dtype=bool)
    if A.shape[0] == 0:
        return StrictAnswer(status=Feasibility.REALIZABLE, margin=1.0, witness=np.zeros(A.shape[1]),
                            certificate=None, detail="no inequalities")
    notes, best, solved = [], None, {}
    for on in (np.ones(len(b), dtype=bool), strict):   # strictly inside every row first, then the strict ones
        if on.tobytes() not in solved:                  # all rows strict: the second LP is the first
            solved[on.tobytes()] = max_margin(A, b, on, method)
        t, x, status = solved[on.tobytes()]
        if t is None:
            notes.append(status)
            continue
        best = t if best is None else max(best, t)
        if x is not None and witness_holds(A, b, strict, x):
            return StrictAnswer(status=Feasibility.REALIZABLE, margin=t, witness=x, certificate=None,
                                detail="max-margin witness, checked in exact rationals"
                                       + ("" if on is not strict else " (on a non-strict boundary)"))
        xq = None if x is None else repaired_witness(A, b, strict, x)
        if xq is not None:
            return StrictAnswer(status=Feasibility.REALIZABLE, margin=t, certificate=None,
                                witness=np.array([float(v) for v in xq]), witness_exact=tuple(xq),
                                detail="max-margin witness made exact on its tight non-strict rows (rationals)")
        notes.append(f"t* = {t:.3g}" + ("" if x is None else ", witness failed its exact check"))
    y, status = motzkin_lp(A, b, strict, method)
    if y is not None:
        exact = exact_motzkin_full(A, b, strict, y)
        if exact is not None:
            return StrictAnswer(status=Feasibility.UNREALIZABLE, margin=best, witness=None,
                                certificate=np.array([float(v) for v in exact]), certificate_exact=tuple(exact),
                                detail="Motzkin certificate of the strict system, checked in exact rationals")
        notes.append("Motzkin certificate failed its exact check")
    else:
        notes.append(status)
    solver = best is None
    return StrictAnswer(status=Feasibility.UNDECIDED, margin=best, witness=None, certificate=None,
                        reason=InconclusiveReason.SOLVER_STATUS if solver else InconclusiveReason.FP_BAND,
                        detail="; ".join(notes))
