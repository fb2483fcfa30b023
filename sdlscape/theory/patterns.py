"""Activation patterns (Def. 3.1): reading them off W_E, their predicates, and realizability by LP.

A pattern P = (F_1, ..., F_{n_q}) lists, for each latent i, the features d that activate it when
d appears alone. The file format is a list of lists of 0-based feature indices, one per latent.
Realizability asks whether some W_E lies in Omega_P (eq. 13) with margin eps; it is decided by a
linear program (scipy HiGHS), which returns a witness W_E or a Farkas certificate of infeasibility.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from scipy.optimize import linprog

from sdlscape.errors import InputError
from sdlscape.theory.activations import DEFAULT_EPS, Region, check_selection_counts, region_inequalities
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import check_weights, feature_selection


@dataclass(frozen=True)
class Pattern:
    """An activation pattern: sets[i] = F_i, the features that activate latent i (n features in all)."""

    sets: tuple[frozenset[int], ...]
    n: int

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "Pattern":
        mask = np.asarray(mask, dtype=bool)
        return cls(tuple(frozenset(int(d) for d in np.flatnonzero(row)) for row in mask), mask.shape[1])

    @classmethod
    def parse(cls, obj: Any, n: int, n_latents: int) -> "Pattern":
        """Parse the file format (a list of lists, or its JSON text) and check it against the sizes."""
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as exc:
                raise InputError(f"pattern is not valid JSON: {exc}") from None
        if not isinstance(obj, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in obj):
            raise InputError("pattern must be a list of lists of feature indices, one list per latent")
        if len(obj) != n_latents:
            raise InputError(f"pattern has {len(obj)} latent sets but the instance has n_latents = {n_latents}")
        sets = []
        for i, s in enumerate(obj):
            for d in s:
                if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                    raise InputError(f"pattern latent {i} lists {d!r}, not a feature index")
                if not 0 <= d < n:
                    raise InputError(f"pattern latent {i} names feature {d}, but features are 0..{n - 1}")
            if len(set(s)) != len(s):
                raise InputError(f"pattern latent {i} lists a feature twice")
            sets.append(frozenset(int(d) for d in s))
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

    def canonical(self) -> "Pattern":
        """The representative of this pattern up to a permutation of latents (sets sorted)."""
        return Pattern(tuple(sorted(self.sets, key=lambda s: (len(s), sorted(s)))), self.n)


def read_pattern(inst: Instance, W_E: np.ndarray) -> Pattern:
    """The activation pattern of W_E on the instance's features (Def. 3.1)."""
    check_weights(inst, W_E=W_E)
    return Pattern.from_mask(feature_selection(inst, np.asarray(W_E, dtype=float)))


def region(inst: Instance, pattern: Pattern, eps: float = DEFAULT_EPS) -> Region:
    """Omega_P for the instance's activation, strict inequalities tightened by eps."""
    _check_sizes(inst, pattern)
    return region_inequalities(inst.activation, inst.W_p, pattern.mask, eps)


def _check_sizes(inst: Instance, pattern: Pattern) -> None:
    if pattern.n != inst.n:
        raise InputError(f"pattern is over {pattern.n} features but the instance has {inst.n}")
    if pattern.n_latents != inst.n_latents:
        raise InputError(f"pattern has {pattern.n_latents} latent sets but the instance has "
                         f"n_latents = {inst.n_latents}")
    check_selection_counts(inst.activation, pattern.mask)


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


@dataclass(frozen=True)
class Realizability:
    """The answer of the realizability LP: a witness W_E in Omega_P, or a Farkas certificate y.

    certificate y >= 0 with G^T y = 0 and h^T y < 0 proves G w <= h has no solution.
    """

    realizable: bool
    witness: np.ndarray | None
    certificate: np.ndarray | None
    eps: float
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {"realizable": self.realizable,
                "witness": None if self.witness is None else self.witness.tolist(),
                "certificate": None if self.certificate is None else {
                    "farkas_y": self.certificate.tolist(),
                    "meaning": "y >= 0, G^T y = 0, h^T y < 0 for the region G vec(W_E) <= h (margin eps)"},
                "eps": self.eps, "status": self.status}


def check_farkas(reg: Region, y: np.ndarray, tol: float = 1e-8) -> bool:
    """Independent re-check of an infeasibility certificate for G w <= h."""
    y = np.asarray(y, dtype=float)
    if y.shape != (reg.n_rows,) or np.any(y < -tol):
        return False
    scale = max(1.0, float(np.abs(y).sum()))
    return bool(np.max(np.abs(reg.G.T @ y), initial=0.0) <= tol * scale and reg.h @ y < -tol * scale)


def feasible_point(reg: Region, slack: float = 0.0) -> tuple[np.ndarray | None, str]:
    """A point of {G w <= h - slack} of least L1 norm (HiGHS), or None with the LP status."""
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
    m, dim = reg.G.shape
    A_eq = np.vstack([reg.G.T, np.ones((1, m))])
    b_eq = np.concatenate([np.zeros(dim), [1.0]])
    res = linprog(reg.h, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        return None, f"farkas lp status {res.status}: {res.message}"
    return (res.x, "optimal") if res.fun < 0 else (None, f"farkas optimum {res.fun:.3g} >= 0")


def realize(inst: Instance, pattern: Pattern, eps: float = DEFAULT_EPS) -> Realizability:
    """Is the pattern realizable for the instance's activation with margin eps?

    Returns a witness W_E (re-checked: its pattern is `pattern`), or a Farkas certificate
    (re-checked by check_farkas). If neither can be confirmed the status says so.
    """
    reg = region(inst, pattern, eps)
    # First look for a witness strictly inside every inequality (non-strict ones too), so that
    # reading its pattern back is not at the mercy of round-off at z = threshold; else any point.
    for slack in (eps, 0.0):
        w, status = feasible_point(reg, slack)
        if w is None:
            continue
        W_E = w.reshape(reg.shape)
        if reg.contains(W_E, tol=1e-7) and (slack == 0.0 or read_pattern(inst, W_E) == pattern):
            return Realizability(True, W_E, None, eps, "optimal" if slack else "optimal (on the boundary)")
        status = "witness failed re-check"
    y, fstatus = farkas_certificate(reg)
    if y is not None and check_farkas(reg, y):
        return Realizability(False, None, y, eps, "infeasible")
    return Realizability(False, None, None, eps, f"undecided: {status}; {fstatus}")


def parse_patterns(objs: Iterable[Any], inst: Instance) -> list[Pattern]:
    return [Pattern.parse(o, inst.n, inst.n_latents) for o in objs]
