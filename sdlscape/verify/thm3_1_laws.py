"""Thm 3.1's feature laws: a law given by its supports (Pr(supp x = T), exactly), magnitudes U[lo, hi] i.i.d.
on the support, and the families the check searches (independent, co-firing pair, Def. 3.2 hierarchy, exclusive)."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

LO, HI = 0.1, 1.0
SECOND_MOMENT = (LO * LO + LO * HI + HI * HI) / 3.0  # E[u^2], u ~ U[lo, hi]


@dataclass(frozen=True, kw_only=True)
class SupportLaw:
    """A feature law by its supports: supports[k] = (T, Pr(supp x = T)), magnitudes U[lo, hi] on T."""

    name: str
    n: int
    supports: tuple[tuple[frozenset[int], float], ...]

    def prob(self, pred) -> float:
        return float(sum(p for T, p in self.supports if pred(T)))

    def marginal(self, d: int) -> float:
        return self.prob(lambda T: d in T)

    @property
    def one_minus_S(self) -> float:
        """1 - S with S the largest value such that Pr(x_i = 0) >= S for every i."""
        return max(self.marginal(d) for d in range(self.n))

    @property
    def max_cofire(self) -> float:
        return max((self.prob(lambda T, i=i, j=j: i in T and j in T)
                    for i, j in itertools.combinations(range(self.n), 2)), default=0.0)

    @property
    def satisfies_H(self) -> bool:
        """(H): Pr(x_i > 0 and x_j > 0) <= (1 - S)^2 for every pair (relative round-off allowed)."""
        p = self.one_minus_S
        return self.max_cofire <= p * p * (1 + 1e-9)

    @property
    def p_multi(self) -> float:
        return self.prob(lambda T: len(T) >= 2)

    def weights(self) -> np.ndarray:
        """M_d = Pr(x = x_d e_d) E[x_d^2 | x_d > 0] (Thm 3.1's definition; 0 when d never fires alone)."""
        return np.array([self.prob(lambda T, d=d: T == frozenset({d})) * SECOND_MOMENT for d in range(self.n)])

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        probs = np.array([p for _, p in self.supports])
        idx = rng.choice(len(self.supports), size=count, p=probs / probs.sum())
        X = np.zeros((count, self.n))
        for k, (T, _) in enumerate(self.supports):
            rows = np.flatnonzero(idx == k)
            if T and rows.size:
                X[np.ix_(rows, sorted(T))] = LO + (HI - LO) * rng.random((rows.size, len(T)))
        return X

    def to_dict(self) -> dict:
        return {"name": self.name, "n": self.n, "magnitudes": [LO, HI],
                "supports": [[sorted(T), p] for T, p in self.supports if p > 0]}

    @classmethod
    def from_dict(cls, d: dict) -> SupportLaw:
        return cls(name=d["name"], n=int(d["n"]), supports=tuple((frozenset(T), float(p)) for T, p in d["supports"]))


def _blocks_law(name: str, n: int, blocks: list[tuple[frozenset[int], ...]], probs: list[list[float]]) -> SupportLaw:
    """Independent blocks; block b takes support option k with probability probs[b][k] (or none)."""
    out: dict[frozenset[int], float] = {}
    options = [list(zip(opts, pr)) + [(frozenset(), 1.0 - sum(pr))] for opts, pr in zip(blocks, probs)]
    for combo in itertools.product(*options):
        T = frozenset().union(*(t for t, _ in combo))
        out[T] = out.get(T, 0.0) + math.prod(p for _, p in combo)
    return SupportLaw(name=name, n=n, supports=tuple((T, p) for T, p in out.items() if p > 0))


def independent(n: int, p: float) -> SupportLaw:
    return _blocks_law("independent", n, [(frozenset({d}),) for d in range(n)], [[p]] * n)


def cofiring_pair(n: int, p: float) -> SupportLaw:
    """Features 0 and 1 always fire together (probability p); the others independently."""
    blocks = [(frozenset({0, 1}),)] + [(frozenset({d}),) for d in range(2, n)]
    return _blocks_law("cofiring-pair", n, blocks, [[p]] * len(blocks))


def hierarchy(n: int, p: float) -> SupportLaw:
    """Def. 3.2: feature 0 is a parent, features 1..k (k = min(2, n - 1)) its children; the parent fires
    iff one of them does (exactly one child, uniformly, probability p in all); the others independently."""
    k = min(2, n - 1)
    blocks = [tuple(frozenset({0, c}) for c in range(1, k + 1))] + [(frozenset({d}),) for d in range(k + 1, n)]
    return _blocks_law("hierarchy", n, blocks, [[p / k] * k] + [[p]] * (n - k - 1))


def exclusive(n: int, p: float) -> SupportLaw:
    """At most one feature fires (each alone with probability p <= 1/n): (H) holds with co-firing 0."""
    return SupportLaw(name="exclusive", n=n, supports=tuple([(frozenset({d}), p) for d in range(n)]
                                                            + [(frozenset(), 1.0 - n * p)]))


LAWS_AS_WRITTEN = (independent, cofiring_pair, hierarchy)
LAWS_CORRECTED = (independent, exclusive, cofiring_pair, hierarchy)
