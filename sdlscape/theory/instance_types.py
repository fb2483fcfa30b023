"""SDL instances: ground-truth dictionaries W_p, W_r, feature weights M_d, activation, latent count.

An Instance is what is given to every solver (PAPER.md Sec. 1): x_p = W_p x, x_r = W_r x with
unit-norm columns, the weights M_d of the approximate loss (eq. 11), the activation sigma and the
number of latents n_q. Value types only: the instance file (ARCHITECTURE.md) is read and written by
theory/instance_io.py, the families of instances are built in theory/families.py.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.theory.activations import Activation, activation_from

UNIT_NORM_TOL = numerics.UNIT_NORM_TOL
M_CONDITION_MAX = 1e12        # max(M)/min(M): beyond it float64 sums of the weighted losses drop the small weights
M_RANGE = (1e-100, 1e100)     # M scales the loss linearly; outside this range its sums overflow or underflow


def axis_length(array: str, axis: int, doc: str) -> property:
    """A read-only property: the length of attribute `array` along `axis` (a dimension of a value type)."""
    return property(lambda self: getattr(self, array).shape[axis], doc=doc)


def check_weights(M: np.ndarray, what: str = "M") -> None:
    """Weights the solvers can use exactly: finite, positive, within M_RANGE, condition max/min <= M_CONDITION_MAX
    (InputError naming the condition number otherwise; a common factor of M does not change the minimisers, so
    rescaling M into range is always possible when only the range is violated)."""
    if M.size == 0:
        return
    if not np.all(np.isfinite(M)) or np.any(M <= 0):
        bad = "a non-finite" if not np.all(np.isfinite(M)) else "a non-positive"
        raise InputError(f"{what} must be finite and positive (got {bad} weight)")
    lo, hi = float(M.min()), float(M.max())
    if hi / lo > M_CONDITION_MAX:
        raise InputError(f"{what} has condition number max/min = {hi / lo:.3g}, above {M_CONDITION_MAX:.0e}: "
                         "the solvers cannot resolve the small weights")
    if lo < M_RANGE[0] or hi > M_RANGE[1]:
        raise InputError(f"{what}: weights in [{lo:.3g}, {hi:.3g}], outside [{M_RANGE[0]:.0e}, {M_RANGE[1]:.0e}] where its "
                         "sums stay finite; divide M by a common factor (the minimisers do not change)")


@dataclass(frozen=True)
class FeatureLaw:
    """Independent features x_d = m_d (c_min + E_d), m_d ~ Bernoulli(p_active), E_d ~ Exp(mean beta).

    beta is the *mean* of the exponential (scale), not its rate.
    """

    p_active: float
    c_min: float = 0.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if not (0.0 < self.p_active <= 1.0):
            raise InputError(f"p_active must lie in (0, 1], got {self.p_active}")
        if not (math.isfinite(self.c_min) and self.c_min >= 0):
            raise InputError(f"c_min must be finite and >= 0, got {self.c_min}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise InputError(f"beta (mean of the exponential) must be > 0, got {self.beta}")

    @property
    def S(self) -> float:
        """The paper's S of Thm 3.1: the probability that a feature is inactive."""
        return 1.0 - self.p_active

    def second_moment(self) -> float:
        """E[x_d^2 | x_d > 0] = E[(c + E)^2] = c^2 + 2 c beta + 2 beta^2 for E ~ Exp(mean beta)."""
        c, b = self.c_min, self.beta
        return c * c + 2.0 * c * b + 2.0 * b * b

    def weights(self, n: int) -> np.ndarray:
        """M_d = Pr(x = x_d e_d) E[x_d^2 | x_d > 0] (Thm 3.1), the same for every d."""
        p_alone = self.p_active * (1.0 - self.p_active) ** (n - 1)
        return np.full(n, p_alone * self.second_moment())

    def sample(self, n_samples: int, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """Draw an (n_samples x n) matrix of feature coefficients."""
        rng = np.random.default_rng(seed)
        mask = rng.random((n_samples, n)) < self.p_active
        mags = self.c_min + rng.exponential(self.beta, size=(n_samples, n))
        return mask * mags

    def to_dict(self) -> dict[str, float]:
        return {"p_active": self.p_active, "c_min": self.c_min, "beta": self.beta}


def _as_matrix(name: str, a: Any) -> np.ndarray:
    try:
        arr = np.asarray(a)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"dtype {arr.dtype}")
        arr = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not a numeric matrix ({str(exc).splitlines()[0]})") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} must be a non-empty 2-D matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    return arr


def _as_vector(name: str, a: Any) -> np.ndarray:
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not a numeric vector ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr.astype(float).reshape(-1)


def _as_groups(groups: Any) -> tuple[tuple[int, ...], ...]:
    out = []
    for g in groups:
        if isinstance(g, (str, bytes)) or not hasattr(g, "__iter__"):
            raise InputError(f"parents must be lists of feature indices, got {g!r}")
        for d in g:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
                raise InputError(f"parents must list integer feature indices, got {d!r}")
        out.append(tuple(int(d) for d in g))
    return tuple(out)


def _unit_columns(name: str, W: np.ndarray, normalize: bool) -> np.ndarray:
    norms = np.linalg.norm(W, axis=0)
    if np.any(norms == 0):
        raise InputError(f"{name} has a zero column {int(np.argmin(norms))}; columns must have unit norm")
    bad = np.flatnonzero(np.abs(norms - 1.0) > UNIT_NORM_TOL)
    if bad.size:
        if not normalize:
            j = int(bad[0])
            raise InputError(f"{name} column {j} has norm {norms[j]:.6g}, not 1 within {UNIT_NORM_TOL:g} "
                             f"({bad.size} such columns; use --normalize to rescale them)")
        W = W / norms
    return W


@dataclass(frozen=True, eq=False)
class Instance:
    """An SDL instance: W_p (n_p x n), W_r (n_r x n), weights M (n,), activation, n_latents.

    parents: optional tuple of sub-concept index tuples, one per parent concept (Def. 3.2).
    law: optional FeatureLaw that defines M and draws samples.
    """

    W_p: np.ndarray
    activation: Activation
    n_latents: int
    W_r: np.ndarray | None = None
    M: np.ndarray | None = None
    parents: tuple[tuple[int, ...], ...] | None = None
    law: FeatureLaw | None = None
    name: str = ""
    normalize: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        W_p = _unit_columns("W_p", _as_matrix("W_p", self.W_p), self.normalize)
        W_r = W_p if self.W_r is None else _unit_columns("W_r", _as_matrix("W_r", self.W_r), self.normalize)
        if W_r.shape[1] != W_p.shape[1]:
            raise InputError(f"W_r has {W_r.shape[1]} columns but W_p has {W_p.shape[1]}: "
                             "both need one column per ground-truth feature")
        n = W_p.shape[1]
        object.__setattr__(self, "activation", activation_from(self.activation))
        if isinstance(self.law, dict):
            from sdlscape.schema import LawSpec, ValidationError, _raise

            try:
                spec = LawSpec.model_validate(self.law)
            except ValidationError as exc:
                _raise("law", exc)
            object.__setattr__(self, "law", FeatureLaw(**spec.model_dump()))
        if self.M is None:
            M = self.law.weights(n) if self.law is not None else np.ones(n)
        else:
            M = _as_vector("M", self.M)
            if M.shape != (n,):
                raise InputError(f"M must have one weight per feature ({n}), got {M.size}")
            if not np.all(np.isfinite(M)) or np.any(M <= 0):
                raise InputError("M must be finite and positive")
        check_weights(M, "M" if self.M is not None else "the law's weights M")
        if isinstance(self.n_latents, bool) or not isinstance(self.n_latents, numbers.Integral) \
                or self.n_latents < 1:
            raise InputError(f"n_latents must be a positive integer, got {self.n_latents!r}")
        object.__setattr__(self, "n_latents", int(self.n_latents))
        self.activation.check_latents(self.n_latents)
        if self.parents is not None:
            parents = _as_groups(self.parents)
            flat = [d for g in parents for d in g]
            if any(d < 0 or d >= n for d in flat):
                raise InputError(f"parents name a feature outside 0..{n - 1}")
            if len(flat) != len(set(flat)):
                raise InputError("parents overlap: a sub-concept belongs to at most one parent")
            object.__setattr__(self, "parents", parents)
        for a in (W_p, W_r, M):
            a.setflags(write=False)
        object.__setattr__(self, "W_p", W_p)
        object.__setattr__(self, "W_r", W_r)
        object.__setattr__(self, "M", M)

    n = axis_length("W_p", 1, "number of features")
    n_p = axis_length("W_p", 0, "input dimension")
    n_r = axis_length("W_r", 0, "target dimension")

    @property
    def is_sae(self) -> bool:
        return self.W_r.shape == self.W_p.shape and bool(np.array_equal(self.W_r, self.W_p))

    @property
    def max_interference(self) -> float:
        """M = max_{i != j} <w_p^i, w_p^j> (PAPER.md Sec. 1); 0 for a single feature."""
        if self.n < 2:
            return 0.0
        G = self.W_p.T @ self.W_p
        np.fill_diagonal(G, -np.inf)
        return float(G.max())

    def with_(self, **changes: Any) -> Instance:
        """A copy with some fields replaced."""
        d = {"W_p": self.W_p, "W_r": None if self.is_sae else self.W_r, "M": self.M,
             "activation": self.activation, "n_latents": self.n_latents, "parents": self.parents,
             "law": self.law, "name": self.name}
        if "law" in changes and "M" not in changes:
            d["M"] = None
        d.update(changes)
        return Instance(**d)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"W_p": self.W_p.tolist()}
        if not self.is_sae:
            d["W_r"] = self.W_r.tolist()
        d["M"] = self.M.tolist()
        d["activation"] = self.activation.to_dict()
        d["n_latents"] = self.n_latents
        if self.parents is not None:
            d["parents"] = [list(g) for g in self.parents]
        if self.law is not None:
            d["law"] = self.law.to_dict()
        if self.name:
            d["name"] = self.name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], normalize: bool = False, what: str = "instance") -> Instance:
        """An instance from the file format, validated by sdlscape.schema (InputError naming the field)."""
        from sdlscape.schema import instance_spec

        spec = instance_spec(d, what)
        try:
            return cls(W_p=spec["W_p"], W_r=spec["W_r"], M=spec["M"], activation=spec["activation"],
                       n_latents=spec["n_latents"], parents=spec["parents"], law=spec["law"],
                       name=spec["name"], normalize=normalize)
        except InputError as exc:
            raise InputError(f"{what}: {exc}") from None
