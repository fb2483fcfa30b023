"""SDL instances: ground-truth dictionaries W_p, W_r, feature weights M_d, activation, latent count.

An Instance is what is given to every solver (PAPER.md Sec. 1): x_p = W_p x, x_r = W_r x with
unit-norm columns, the weights M_d of the approximate loss (eq. 11), the activation sigma and the
number of latents n_q. Instances load from and save to the instance file of ARCHITECTURE.md.
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.theory.activations import Activation, TopKReLU, activation_from

UNIT_NORM_TOL = numerics.UNIT_NORM_TOL


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

    @property
    def n(self) -> int:
        return self.W_p.shape[1]

    @property
    def n_p(self) -> int:
        return self.W_p.shape[0]

    @property
    def n_r(self) -> int:
        return self.W_r.shape[0]

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

    def with_(self, **changes: Any) -> "Instance":
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
    def from_dict(cls, d: dict[str, Any], normalize: bool = False, what: str = "instance") -> "Instance":
        """An instance from the file format, validated by sdlscape.schema (InputError naming the field)."""
        from sdlscape.schema import instance_spec

        spec = instance_spec(d, what)
        try:
            return cls(W_p=spec["W_p"], W_r=spec["W_r"], M=spec["M"], activation=spec["activation"],
                       n_latents=spec["n_latents"], parents=spec["parents"], law=spec["law"],
                       name=spec["name"], normalize=normalize)
        except InputError as exc:
            raise InputError(f"{what}: {exc}") from None


def _read_npz(path: Path, what: str) -> dict[str, Any]:
    """The keys of an .npz instance file as plain values; JSON text for activation/law/parents."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise InputError(f"{what}: not a valid .npz file (not a zip archive of .npy arrays)")
    d: dict[str, Any] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                try:
                    v = z[key]
                except ValueError:
                    raise InputError(f"{what}: {key}: holds an object (pickled) array; "
                                     "only numeric arrays and strings are accepted") from None
                if not isinstance(v, np.ndarray):
                    raise InputError(f"{what}: not a valid .npz file ({key!r} is not a .npy array)")
                if v.dtype.kind in "US":
                    text = str(v) if v.ndim == 0 else None
                    if text is None:
                        raise InputError(f"{what}: {key}: expected one string, got an array of {v.size}")
                    d[key] = _npz_text(key, text, what)
                elif v.dtype.kind not in "biuf":
                    raise InputError(f"{what}: {key}: expected a numeric array, got dtype {v.dtype}")
                else:
                    d[key] = v.item() if v.ndim == 0 else v.tolist()
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{what}: not a valid .npz file ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    return d


def _npz_text(key: str, text: str, what: str) -> Any:
    """A string entry of an .npz: the name as is; activation as JSON or a bare name; law/parents as JSON."""
    if key == "name":
        return text
    if key not in ("activation", "law", "parents"):
        raise InputError(f"{what}: {key}: expected a numeric array, got the string {text[:30]!r}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if key == "activation" and text.strip() and not text.lstrip().startswith(("{", "[", '"')):
            return text.strip()              # a bare activation name, e.g. "relu"
        raise InputError(f"{what}: {key}: not valid JSON text ({exc})") from None


def load_instance(path: str | Path, normalize: bool = False) -> Instance:
    """Read an instance file (JSON, or .npz with the same keys). Bad files raise InputError (one line)."""
    from sdlscape.schema import parse_json_text

    path = Path(path)
    what = f"instance file {str(path)!r}"
    if path.is_dir():
        raise InputError(f"{what}: is a directory, not an instance file")
    if not path.is_file():
        raise InputError(f"cannot read {what}: no such file")
    if path.suffix == ".npz":
        d: Any = _read_npz(path, what)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what} is not a JSON text file (use .npz for binary instance files)") from None
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}") from None
        d = parse_json_text(text, what)
    inst = Instance.from_dict(d, normalize=normalize, what=what)
    if not inst.name:
        inst = inst.with_(name=path.stem)
    return inst


def save_instance(inst: Instance, path: str | Path) -> None:
    """Write an instance file atomically: .npz if the suffix says so, JSON otherwise."""
    from sdlscape.storage import write_bytes, write_json

    path = Path(path)
    if path.suffix == ".npz":
        import io

        d = inst.to_dict()
        arrays = {k: np.asarray(v) for k, v in d.items() if k in ("W_p", "W_r", "M", "n_latents")}
        for k in ("activation", "law", "parents", "name"):
            if k in d:
                arrays[k] = np.asarray(json.dumps(d[k]) if k != "name" else d[k])
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes(path, buf.getvalue())
    else:
        write_json(path, inst.to_dict())


# ---------------------------------------------------------------------------------------------
# Constructors


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
