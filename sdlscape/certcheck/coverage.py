"""Pattern coverage of a global certificate: every activation pattern whose region has interior is a piece.

The global lower bound (the least piece lower bound) bounds L~ (eq. 11) only if the certificate's pieces cover every
encoder. This module derives, from the instance alone and in exact rational arithmetic (the float data are exact
rationals), the patterns (Def. 3.1, up to a relabelling of latents: a multiset of feature sets) whose region
(eq. 13) has nonempty interior, and `missing_patterns` lists those that no piece of the certificate stands for.

The region of a pattern has nonempty interior iff the system of its inequalities made strict is feasible:
  relu       one latent's cell {<w, x_d> > 0 (d in F), <w, x_d> < 0 (d not in F)};
  jumprelu   {<w, x_d> > theta (d in F), < theta (d not in F)}, homogenised by (w, t), t > 0, theta -> theta t;
  topk_relu  per feature d with fired set S_d (|S_d| <= k): z_id > 0 (i in S_d); where |S_d| = k,
             z_id > z_jd (i in S_d, j not in S_d); where |S_d| < k, z_jd < 0 (j not in S_d);
  topk       per feature |S_d| = min(k, n_latents), z_id > z_jd (i in S_d, j not in S_d);
with z_id = <w_E^i, x_d>. relu / jumprelu latents are independent (a pattern's region is the product of its latents'
cells: the required patterns are the multisets of full-dimensional cells); topk / topk_relu patterns are joint.
A homogeneous strict system {y : M y > 0} is decided by Gordan's alternative: it is infeasible iff some lambda >= 0,
sum lambda = 1, has M^T lambda = 0, an LP feasibility problem solved by a phase-one simplex in fractions.Fraction
with Bland's rule (terminates, exact); a system whose float least-squares solution of M y = 1 meets M y > 0 in
exact arithmetic is feasible without it (`_witnessed`, the common case). Patterns are enumerated feature by
feature; a prefix whose system is infeasible is not extended (its extensions' systems contain it).

Why interior suffices (what the certificate must cover):
  relu       L~ is continuous in (W_D, W_E) and the full-dimensional regions are dense (their complement lies in
             finitely many hyperplanes), so the infimum over them is the infimum over all encoders: a region without
             interior (e.g. the dead cell {0} when the features span no half-plane, or a one-ray cell of antipodal
             features) need not be a piece (the certifier lists them anyway; extra pieces only lower the bound);
  jumprelu   every nonempty region has interior (theta > 0: (1 - delta) w makes every inequality strict), so every
             realizable pattern is required;
  topk(_relu) the encoders outside every region's interior have a tie at the k-th code of some feature (or a zero
             code, where TopK o ReLU is continuous); the claim is over the encoders with no such tie (the
             certifier's own statement for topk), and ties are not covered.
"""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

LP_BUDGET = 200000
"""Strict systems the enumeration may decide per certificate ("exact LPs": each decided exactly, by a float witness
checked in rationals or by the fraction simplex); a deterministic stop, past which coverage is undecided."""


class Undecided(Exception):
    """The enumeration ran past LP_BUDGET."""


def _phase_one_feasible(A: list[list[Fraction]], b: list[Fraction]) -> bool:
    """Is {x >= 0 : A x = b} nonempty (b >= 0)? Phase-one simplex (artificial basis, Bland's rule), exact."""
    m, n = len(A), len(A[0]) if A else 0
    T = [list(A[i]) + [Fraction(int(i == j)) for j in range(m)] + [b[i]] for i in range(m)]
    obj = [-sum((T[i][j] for i in range(m)), Fraction(0)) for j in range(n + m + 1)]
    for j in range(n, n + m):
        obj[j] = Fraction(0)
    basis = [n + i for i in range(m)]
    while True:
        enter = next((j for j in range(n + m) if obj[j] < 0), None)
        if enter is None:
            return obj[-1] == 0                      # -obj[-1] is the least sum of the artificials
        best = None
        for i in range(m):
            if T[i][enter] > 0:
                r = T[i][-1] / T[i][enter]
                if best is None or r < best[0] or (r == best[0] and basis[i] < basis[best[1]]):
                    best = (r, i)
        if best is None:                             # unbounded below: impossible for a sum of artificials >= 0
            raise ArithmeticError("phase one unbounded")
        i = best[1]
        piv = T[i][enter]
        T[i] = [t / piv for t in T[i]]
        for r in range(m):
            if r != i and T[r][enter] != 0:
                f = T[r][enter]
                T[r] = [a - f * c for a, c in zip(T[r], T[i])]
        f = obj[enter]
        obj = [a - f * c for a, c in zip(obj, T[i])]
        basis[i] = enter


def strictly_feasible(rows: list[list[Fraction]]) -> bool:
    """Is there y with <r, y> > 0 for every row r? Exact (Gordan's alternative + `_phase_one_feasible`)."""
    if not rows:
        return True
    nv = len(rows[0])
    if any(all(x == 0 for x in r) for r in rows):
        return False
    A = [[rows[k][v] for k in range(len(rows))] for v in range(nv)] + [[Fraction(1)] * len(rows)]
    b = [Fraction(0)] * nv + [Fraction(1)]
    return not _phase_one_feasible(A, b)


class _Counter:
    def __init__(self, budget: int):
        self.calls, self.budget = 0, budget

    def feasible(self, rows: list[list[Fraction]]) -> bool:
        self.calls += 1
        if self.calls > self.budget:
            raise Undecided(f"more than {self.budget} exact LPs")
        return _witnessed(rows) or strictly_feasible(rows)


def _witnessed(rows: list[list[Fraction]]) -> bool:
    """A shortcut for wide cones: the least-squares y of M y = 1 (floats), if M y > 0 holds for it exactly."""
    if not rows:
        return True
    M = np.array([[float(x) for x in r] for r in rows])
    y = np.linalg.lstsq(M, np.ones(len(rows)), rcond=None)[0]
    if not np.all(np.isfinite(y)) or not np.all(M @ y > 1e-6):
        return False
    yq = [Fraction(float(t)) for t in y]
    return all(sum((a * b for a, b in zip(r, yq)), Fraction(0)) > 0 for r in rows)


def _exact(W_p: np.ndarray) -> list[list[Fraction]]:
    """The feature vectors x_d (columns of W_p) as exact rationals."""
    return [[Fraction(float(W_p[r, d])) for r in range(W_p.shape[0])] for d in range(W_p.shape[1])]


def full_cells(W_p: np.ndarray, theta: float, ctr: _Counter) -> list[frozenset[int]]:
    """The single-latent sets F whose cell has interior (relu: theta = 0; jumprelu: theta > 0), exactly."""
    X = _exact(W_p)
    th = Fraction(float(theta))
    out: list[frozenset[int]] = []
    base = [[Fraction(0)] * len(X[0]) + [Fraction(1)]] if th != 0 else []      # t > 0 (homogenised jumprelu)

    def row(d: int, s: int) -> list[Fraction]:
        r = [s * x for x in X[d]]
        return r + [-s * th] if th != 0 else r

    def walk(d: int, rows: list, F: tuple[int, ...]) -> None:
        if d == len(X):
            out.append(frozenset(F))
            return
        for s in (1, -1):
            nxt = rows + [row(d, s)]
            if ctr.feasible(nxt):
                walk(d + 1, nxt, F + (d,) if s > 0 else F)

    walk(0, base, ())
    return out


def joint_patterns(W_p: np.ndarray, n_latents: int, k: int, relu: bool, ctr: _Counter) -> set[tuple]:
    """The TopK (relu=False) / TopK o ReLU patterns whose region has interior, as multiset keys (`key`), exactly.

    Feature by feature, the latents with the same history so far are interchangeable: only the number of them in
    the feature's fired set is branched on (every relabelling class is reached)."""
    X = _exact(W_p)
    n_p, q = len(X[0]), n_latents
    nv = q * n_p
    out: set[tuple] = set()

    def vec(d: int, coef: dict[int, int]) -> list[Fraction]:
        r = [Fraction(0)] * nv
        for i, c in coef.items():
            for a in range(n_p):
                r[i * n_p + a] += c * X[d][a]
        return r

    def rows_of(d: int, S: set[int]) -> list[list[Fraction]]:
        rest = [j for j in range(q) if j not in S]
        rs = []
        if relu:
            rs += [vec(d, {i: 1}) for i in sorted(S)]
            if len(S) < k:
                return rs + [vec(d, {j: -1}) for j in rest]
        return rs + [vec(d, {i: 1, j: -1}) for i in sorted(S) for j in rest]

    def walk(d: int, rows: list, classes: list[list[int]], sets: list[list[int]]) -> None:
        if d == len(X):
            out.add(key(sets))
            return
        for counts in itertools.product(*[range(len(c) + 1) for c in classes]):
            size = sum(counts)
            if (relu and size > k) or (not relu and size != min(k, q)):
                continue
            S = {i for c, m in zip(classes, counts) for i in c[:m]}
            nxt = rows + rows_of(d, S)
            if not ctr.feasible(nxt):
                continue
            new_classes = [part for c, m in zip(classes, counts) for part in (c[:m], c[m:]) if part]
            walk(d + 1, nxt, new_classes, [s + [d] if i in S else s for i, s in enumerate(sets)])

    walk(0, [], [list(range(q))], [[] for _ in range(q)])
    return out


def key(pattern) -> tuple:
    """A pattern up to a relabelling of latents: its feature sets, each sorted, in canonical order."""
    return tuple(sorted((tuple(sorted(int(d) for d in F)) for F in pattern), key=lambda s: (len(s), s)))


def required_patterns(inst: dict, budget: int = LP_BUDGET) -> tuple[set[tuple], int]:
    """The patterns (keys) whose region has interior, and the exact LPs spent; ValueError for an activation the
    checker does not know, Undecided past the budget."""
    W_p = np.asarray(inst["W_p"], dtype=float)
    act = inst.get("activation", {})
    name = act.get("name")
    q = int(inst["n_latents"])
    ctr = _Counter(budget)
    if name in ("relu", "jumprelu"):
        theta = float(act.get("theta", 0.0) or 0.0) if name == "jumprelu" else 0.0
        if name == "jumprelu" and not theta > 0:
            raise ValueError(f"jumprelu with threshold {theta!r}")
        cells = full_cells(W_p, theta, ctr)
        return {key(c) for c in itertools.combinations_with_replacement(cells, q)}, ctr.calls
    if name in ("topk", "topk_relu"):
        k = int(act.get("k", 0) or 0)
        if k < 1:
            raise ValueError(f"{name} without a k >= 1")
        return joint_patterns(W_p, q, k, name == "topk_relu", ctr), ctr.calls
    raise ValueError(f"activation {name!r} is not known to the coverage check")


def missing_patterns(cert: dict, budget: int = LP_BUDGET) -> tuple[list[list[list[int]]], int, int]:
    """The required patterns (canonical JSON, sorted) that no piece of `cert` stands for, how many patterns are
    required, and the exact LPs spent."""
    have = {key(p["pattern"]) for p in cert["pieces"]}
    need, calls = required_patterns(cert["instance"], budget)
    return [[list(F) for F in m] for m in sorted(need - have)], len(need), calls
