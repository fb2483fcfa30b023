"""The one search driver every theorem check shares: budgets, instance families, shrinking, re-checks.

- `Budget`: what a search may spend (quick: every check in a few minutes on 2 cores; full). The budget
  limits the *random families* only: a user's instance is always searched completely (every pattern).
  ACS uses at least 4 starts per piece in every budget.
- Families: orthogonal (equal and unequal weights M_d), random unit, superposed (n > n_p),
  hierarchical, transcoder pairs, obtuse (negative interference), the paper's Example 3.5, and
  hypothesis-style random draws with simple numbers (small integer matrices, normalized), with
  rank-deficient W_p among them.
- `shrink` greedily removes features, latents and input dimensions and simplifies numbers while a
  predicate keeps failing, so that a reported counterexample is as small as the search allows.
- `recheck(result_dict)`: the independent re-check of a reported counterexample, dispatched to the
  theorem module's own `recheck`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdlscape.errors import InputError
from sdlscape.theory import instance as I
from sdlscape.theory.instance import Activation, Instance
from sdlscape.theory.patterns import Pattern


@dataclass(frozen=True, kw_only=True)
class Budget:
    """What one check may spend on the random families (never on a user's instance)."""

    name: str
    acs_starts: int          # ACS starts per piece (>= 4)
    max_patterns: int | None  # patterns per random-family instance (None: all)
    draws: int               # hypothesis-style random instances per check
    mc: int                  # Monte Carlo samples per support (thm3.1)
    points: int              # random points per instance (thm3.1, thm3.2)

    def __post_init__(self) -> None:
        if self.acs_starts < 4:
            raise ValueError("a budget uses at least 4 ACS starts per piece")


BUDGETS = {"quick": Budget(name="quick", acs_starts=4, max_patterns=6, draws=2, mc=3000, points=4),
           "full": Budget(name="full", acs_starts=8, max_patterns=None, draws=8, mc=10000, points=12)}


def budget_named(name: str) -> Budget:
    if name not in BUDGETS:
        raise InputError(f"unknown budget {name!r}; expected one of {', '.join(BUDGETS)}")
    return BUDGETS[name]


def _fits(act: Activation, n_latents: int) -> bool:
    return act.fits(n_latents)


def obtuse(n: int, a: float, activation: Activation, n_latents: int | None = None) -> Instance:
    """w^0 = e_0, w^j = -a e_0 + sqrt(1 - a^2) e_j: feature 0 interferes negatively with all others,
    the others interfere positively (a^2) with each other; M = a^2 (n_p = n)."""
    W = np.zeros((n, n))
    W[0, 0] = 1.0
    for j in range(1, n):
        W[0, j] = -a
        W[j, j] = np.sqrt(1 - a * a)
    return Instance(W_p=W, activation=activation, n_latents=n if n_latents is None else n_latents,
                    name=f"obtuse-n{n}-a{a:g}")


def standard_family(act: Activation, full: bool = False, seed: int = 0) -> list[Instance]:
    """The named instances every check tries (paper's examples first, then growing sizes)."""
    out: list[Instance] = []

    def add(make: Callable[[], Instance]) -> None:
        try:
            inst = make()
        except InputError:
            return
        if _fits(act, inst.n_latents):
            out.append(inst)

    add(lambda: I.example_3_5().with_(activation=act))
    add(lambda: I.orthogonal(2, act, M=[1.0, 2.0], name="orthogonal-n2-M12"))
    add(lambda: I.orthogonal(3, act))
    add(lambda: I.orthogonal(3, act, M=[1.0, 2.0, 3.0], name="orthogonal-n3-M123"))
    add(lambda: I.orthogonal(2, act, n_latents=3, name="orthogonal-n2-q3"))
    add(lambda: I.random_unit(3, 3, act, seed=seed))
    add(lambda: I.random_unit(3, 2, act, seed=seed))
    add(lambda: I.superposed(4, 3, 0.5, act, seed=seed))
    add(lambda: I.hierarchical((2, 2), 3, act, n_latents=4, seed=seed))
    add(lambda: I.transcoder_pair(3, 3, 3, act, seed=seed))
    add(lambda: obtuse(3, 0.1, act))
    if full:
        add(lambda: I.orthogonal(4, act, M=[1.0, 1.0, 2.0, 3.0], n_latents=5, name="orthogonal-n4-q5"))
        add(lambda: I.random_unit(4, 4, act, seed=seed + 1, M=[1.0, 2.0, 1.0, 3.0]))
        add(lambda: I.superposed(5, 3, 0.4, act, seed=seed + 1))
        add(lambda: I.hierarchical((2, 3), 2, act, n_latents=6, seed=seed + 1))
        add(lambda: I.transcoder_pair(4, 3, 2, act, seed=seed + 1))
        add(lambda: obtuse(4, 0.05, act))
    return out


def random_draws(act: Activation, count: int, seed: int = 0, max_n: int = 4) -> Iterator[Instance]:
    """Hypothesis-style draws with simple numbers: integer W_p in [-2, 2] normalized, M_d in {1, 2, 3};
    about half have n_p < n (rank-deficient W_p)."""
    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        n = int(rng.integers(2, max_n + 1))
        n_p = int(rng.integers(2, n + 1)) if rng.random() < 0.5 else n
        n_latents = n + int(rng.integers(0, 2))
        W = rng.integers(-2, 3, size=(n_p, n)).astype(float)
        if np.any(np.linalg.norm(W, axis=0) == 0):
            continue
        if not _fits(act, n_latents):
            continue
        M = rng.integers(1, 4, size=n).astype(float)
        made += 1
        yield Instance(W_p=W, activation=act, n_latents=n_latents, M=M, normalize=True,
                       name=f"draw-{seed}-{made}")


def angles_instance(degrees: list[float], parents: list[list[int]], act: Activation, name: str) -> Instance:
    """Unit features in 2-D at the given angles, grouped into parents; one dead latent (round-off zeros made 0)."""
    t = np.radians(degrees)
    # rounded to 12 digits: features meant antiparallel (0 and 180 deg) are exactly so, not 1e-16 apart
    W = np.round(np.vstack([np.cos(t), np.sin(t)]), 12) + 0.0
    return Instance(W_p=W, activation=act, n_latents=len(parents) + 1,
                    parents=parents, name=name)


def parent_family(act: Activation, draws: int, seed: int = 0, full: bool = False) -> list[Instance]:
    """Thm 3.8's instances (sub-concepts grouped by parent, one dead latent): 2-D angles, fixed and random, and
    hierarchical instances of several sizes, spreads and seeds."""
    out = [angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], act, "angles-0-100-200-300"),
           angles_instance([0, 60, 180, 240], [[0, 1], [2, 3]], act, "angles-0-60-180-240"),
           # sub-concept 60 lies between its siblings: it splits off under no activation (the `every` variant)
           angles_instance([0, 60, 120, 270], [[0, 1, 2], [3]], act, "angles-0-60-120-270")]
    for s in range(3 * draws):
        for sizes, n_p in (((2, 2), 2), ((2, 2), 3), ((2, 3), 3)) + ((((3, 3), 2), ((2, 2, 2), 3)) if full else ()):
            for spread in (0.5, 2.0):
                h = I.hierarchical(sizes, n_p, act, spread=spread, seed=seed + s, n_latents=len(sizes) + 1)
                out.append(h.with_(name=f"{h.name}-sp{spread:g}"))
    rng = np.random.default_rng(seed)
    for s in range(4 * draws):  # random angles in the plane
        deg = np.sort(rng.uniform(0, 360, 4))
        out.append(angles_instance(list(deg), [[0, 1], [2, 3]], act, f"angles-random-{s}"))
    return [i for i in out if act.fits(i.n_latents)]


# ---------------------------------------------------------------------------------------------
# Shrinking


def _drop_feature(inst: Instance, d: int) -> Instance:
    keep = [j for j in range(inst.n) if j != d]
    parents = None
    if inst.parents is not None:
        remap = {j: i for i, j in enumerate(keep)}
        parents = tuple(tuple(remap[j] for j in g if j != d) for g in inst.parents)
        parents = tuple(g for g in parents if g) or None
    return Instance(W_p=inst.W_p[:, keep], W_r=None if inst.is_sae else inst.W_r[:, keep], M=inst.M[keep],
                    activation=inst.activation, n_latents=inst.n_latents, parents=parents, name=inst.name)


def _pattern_drop_feature(p: Pattern, d: int) -> Pattern:
    sets = tuple(frozenset(j - (j > d) for j in s if j != d) for s in p.sets)
    return Pattern(sets, p.n - 1)


def _candidates(inst: Instance, pattern: Pattern | None):
    """Smaller or simpler variants of (inst, pattern), smallest changes to the size first."""
    if inst.n > 2:
        for d in range(inst.n):
            try:
                yield _drop_feature(inst, d), (None if pattern is None else _pattern_drop_feature(pattern, d))
            except InputError:
                pass
    if inst.n_latents > inst.activation.min_latents:
        for i in reversed(range(inst.n_latents)):
            if pattern is not None and pattern.sets[i]:
                continue
            p2 = None if pattern is None else Pattern(pattern.sets[:i] + pattern.sets[i + 1:], pattern.n)
            try:
                yield inst.with_(n_latents=inst.n_latents - 1), p2
            except InputError:
                pass
    if inst.n_p > 1:
        for r in range(inst.n_p):
            W = np.delete(inst.W_p, r, axis=0)
            if np.all(np.linalg.norm(W, axis=0) > 1e-9):
                try:
                    yield Instance(W_p=W, W_r=None if inst.is_sae else inst.W_r, M=inst.M,
                                   activation=inst.activation, n_latents=inst.n_latents, parents=inst.parents,
                                   name=inst.name, normalize=True), pattern
                except InputError:
                    pass
    if not np.allclose(inst.M, 1.0):
        yield inst.with_(M=np.ones(inst.n)), pattern
    if not np.allclose(inst.M, np.round(inst.M)):
        yield inst.with_(M=np.maximum(np.round(inst.M), 1.0)), pattern
    for digits in (0, 1):
        W = np.round(inst.W_p, digits)
        if np.all(np.linalg.norm(W, axis=0) > 0) and not np.allclose(W, inst.W_p):
            try:
                yield Instance(W_p=W, W_r=None if inst.is_sae else inst.W_r, M=inst.M, activation=inst.activation,
                               n_latents=inst.n_latents, parents=inst.parents, name=inst.name,
                               normalize=True), pattern
            except InputError:
                pass


def shrink(inst: Instance, fails: Callable[[Instance, Pattern | None], bool], pattern: Pattern | None = None,
           max_rounds: int = 30) -> tuple[Instance, Pattern | None]:
    """Greedily shrink (inst, pattern) while `fails` stays true; returns the smallest pair found."""
    for _ in range(max_rounds):
        for cand, pcand in _candidates(inst, pattern):
            try:
                ok = fails(cand, pcand)
            except InputError:
                ok = False
            if ok:
                inst, pattern = cand, pcand
                break
        else:
            break
    return inst.with_(name=(inst.name or "instance") + "-shrunk"), pattern


def recheck(result: dict[str, Any]) -> tuple[bool, dict]:
    """True if the counterexample in a ClaimResult dict re-checks as one by an independent route
    (the theorem module's `recheck`: closed forms, exact rationals, a second solver or estimator)."""
    import importlib

    cx = result.get("counterexample")
    if result.get("status") != "fails" or not cx:
        return False, {"why": "no counterexample"}
    from sdlscape.verify.claims import _CHECKS

    module = importlib.import_module(f"sdlscape.verify.{_CHECKS[result['claim']][0]}")
    return module.recheck(result)


def load_counterexample_instance(cx: dict) -> Instance:
    """The instance of a counterexample: a saved file path, or the inline instance dict."""
    from sdlscape.theory.instance import load_instance

    src = cx["instance"]
    return load_instance(src) if isinstance(src, str) else Instance.from_dict(src)
