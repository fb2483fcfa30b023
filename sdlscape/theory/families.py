"""Families of SDL instances: orthogonal, random unit, superposed, hierarchical, transcoder pairs, Example 3.5."""
from __future__ import annotations

import math

import numpy as np

from sdlscape.errors import InputError
from sdlscape.theory.activations import Activation, TopKReLU, activation_from
from sdlscape.theory.instance_types import Instance


def _unit(W: np.ndarray) -> np.ndarray:
    return W / np.linalg.norm(W, axis=0, keepdims=True)


def orthogonal(n: int, activation: Activation | str = "relu", n_latents: int | None = None,
               n_p: int | None = None, M=None, **kw) -> Instance:
    """W_p = W_r = the first n columns of I_{n_p} (n_p >= n): no superposition."""
    n_p = n if n_p is None else n_p
    if n_p < n:
        raise InputError(f"orthogonal features need n_p >= n, got n_p = {n_p} < n = {n}")
    return Instance(W_p=np.eye(n_p)[:, :n], activation=_act(activation),
                    n_latents=n if n_latents is None else n_latents, M=M, name=kw.pop("name", f"orthogonal-n{n}"), **kw)


def random_unit(n: int, n_p: int, activation: Activation | str = "relu", n_latents: int | None = None,
                seed: int = 0, M=None, **kw) -> Instance:
    """Gaussian columns normalized to unit norm (generic position with probability 1)."""
    rng = np.random.default_rng(seed)
    return Instance(W_p=_unit(rng.standard_normal((n_p, n))), activation=_act(activation),
                    n_latents=n if n_latents is None else n_latents, M=M,
                    name=kw.pop("name", f"random-n{n}-np{n_p}-s{seed}"), **kw)


def superposed_dictionary(n: int, n_p: int, max_interference: float, seed: int = 0, *, margin: float = 1e-3,
                          penalty: float = 1e-3, step: float = 0.05, max_steps: int = 5000) -> np.ndarray:
    """Unit columns with max_{i!=j} <w^i, w^j> <= max_interference (Appendix C, small CPU version).

    Projected gradient descent on L_int = sum_{i!=j} relu(<w^i,w^j> - (M - margin))^2
    + penalty * sum_{i!=j} relu(<w^i,w^j>)^2, columns renormalized after every step.
    Raises InputError if the target is not reached within max_steps.
    """
    if not (0.0 < max_interference < 1.0):
        raise InputError(f"max interference M must lie in (0, 1), got {max_interference}")
    rng = np.random.default_rng(seed)
    W = _unit(rng.standard_normal((n_p, n)))
    target = max_interference - margin
    for _ in range(max_steps):
        G = W.T @ W
        np.fill_diagonal(G, -np.inf)
        if G.max() <= max_interference:
            return W
        excess = np.maximum(G - target, 0.0) + penalty * np.maximum(G, 0.0)
        np.fill_diagonal(excess, 0.0)
        W = _unit(W - step * 4.0 * (W @ excess))  # d/dW of sum_{i!=j} relu(G_ij - t)^2 = 4 W E (E sym.)
    raise InputError(f"could not place {n} unit features in R^{n_p} with max interference <= "
                     f"{max_interference} within {max_steps} projected steps")


def superposed(n: int, n_p: int, max_interference: float, activation: Activation | str = "relu",
               n_latents: int | None = None, seed: int = 0, M=None, **kw) -> Instance:
    """Features in superposition (n > n_p allowed) with bounded positive interference."""
    W = superposed_dictionary(n, n_p, max_interference, seed)
    return Instance(W_p=W, activation=_act(activation), n_latents=n if n_latents is None else n_latents,
                    M=M, name=kw.pop("name", f"superposed-n{n}-np{n_p}-M{max_interference:g}-s{seed}"), **kw)


def hierarchical(children_per_parent: tuple[int, ...] | list[int], n_p: int | None = None,
                 activation: Activation | str = "relu", n_latents: int | None = None, spread: float = 0.5,
                 seed: int = 0, M=None, **kw) -> Instance:
    """Parents with sub-concepts (Def. 3.2): sub-concepts of one parent share a parent direction.

    Each sub-concept direction is normalize(u_parent + spread * v), with u_parent and v random; the
    instance's features are the sub-concepts, and `parents` records the grouping. A parent is
    active iff one of its sub-concepts is (a sub-concept never appears without its parent's
    direction), which is the hierarchical structure Thm 3.8 speaks of.
    """
    sizes = [int(c) for c in children_per_parent]
    if not sizes or any(c < 1 for c in sizes):
        raise InputError("children_per_parent must list positive sub-concept counts")
    n = sum(sizes)
    n_p = n if n_p is None else n_p
    rng = np.random.default_rng(seed)
    cols, parents, start = [], [], 0
    for c in sizes:
        u = rng.standard_normal(n_p)
        u /= np.linalg.norm(u)
        for _ in range(c):
            cols.append(u + spread * rng.standard_normal(n_p) / math.sqrt(n_p))
        parents.append(tuple(range(start, start + c)))
        start += c
    W = _unit(np.stack(cols, axis=1))
    return Instance(W_p=W, activation=_act(activation), n_latents=n if n_latents is None else n_latents,
                    M=M, parents=tuple(parents), name=kw.pop("name", f"hierarchical-{'-'.join(map(str, sizes))}-s{seed}"),
                    **kw)


def transcoder_pair(n: int, n_p: int, n_r: int, activation: Activation | str = "relu",
                    n_latents: int | None = None, seed: int = 0, M=None, **kw) -> Instance:
    """A transcoder-style instance: independent random unit dictionaries W_p (input) and W_r (output)."""
    rng = np.random.default_rng(seed)
    return Instance(W_p=_unit(rng.standard_normal((n_p, n))), W_r=_unit(rng.standard_normal((n_r, n))),
                    activation=_act(activation), n_latents=n if n_latents is None else n_latents, M=M,
                    name=kw.pop("name", f"transcoder-n{n}-np{n_p}-nr{n_r}-s{seed}"), **kw)


def example_3_5() -> Instance:
    """The paper's Example 3.5: n = n_p = n_q = n_r = 2, Top-1 o ReLU, W_p = W_r = I, M = (1, 1)."""
    return Instance(W_p=np.eye(2), activation=TopKReLU(k=1), n_latents=2, M=np.ones(2),
                    name="example-3.5")


def _act(a: Activation | str | dict) -> Activation:
    return activation_from(a)
