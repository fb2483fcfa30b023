"""The Linear Representation Bench (paper Appendix C): dictionaries of bounded interference, sparse data.

W_p (n_p x n, unit columns) is drawn Gaussian and pushed by projected gradient descent on
  L_int = sum_{i!=j} max(0, <w^i,w^j> - (M - eps))^2 + lam * sum_{i!=j} max(0, <w^i,w^j>)^2
(columns renormalised after every step) until max_{i!=j} <w^i, w^j> <= M.  Like the paper only
*positive* interference is bounded.  Coefficients: x_d = m_d (c_min + Exp(mean beta)),
m_d ~ Bernoulli(p_active).  Samples x_p = W_p x (and x_r = W_r x for transcoders; crosscoders
concatenate m sources W_p^(s) x).

Sparsity is named ``p_active`` = Pr(x_d != 0): the paper's "S = 0.99" default is p_active = 0.01
(see PAPER.md, note on S).  Our defaults for what the paper leaves open: eps = 1e-3, lam = 1e-3,
step 0.05 (Adam-free plain PGD in float64), c_min = 0, beta = 1 (mean of the exponential).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch

from sdlscape.errors import InputError

KINDS = ("sae", "transcoder", "crosscoder")


def _check_unit_interval(name: str, value: float, closed_right: bool) -> None:
    ok = 0.0 < value <= 1.0 if closed_right else 0.0 < value < 1.0
    if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
        raise InputError(f"{name} must be in {'(0, 1]' if closed_right else '(0, 1)'}, got {value}")


def interference(W: torch.Tensor) -> float:
    """max_{i != j} <w^i, w^j> over the columns of W (signed, as the paper bounds it)."""
    G = W.t() @ W
    G.fill_diagonal_(float("-inf"))
    return float(G.max())


def make_dictionary(n: int, d: int, max_interference: float, seed: int, device: str = "cpu",
                    eps: float = 1e-3, lam: float = 1e-3, step: float = 0.05,
                    max_steps: int = 20000) -> torch.Tensor:
    """A d x n float32 matrix with unit columns and max_{i!=j} <w^i, w^j> <= M (projected GD, App. C)."""
    _check_unit_interval("max interference M", max_interference, closed_right=False)
    if n < 1 or d < 1:
        raise InputError(f"dictionary size must be positive, got n={n}, d={d}")
    M = float(max_interference)
    gen = torch.Generator().manual_seed(int(seed))
    W = torch.randn(d, n, generator=gen, dtype=torch.float64).to(device)
    W = W / W.norm(dim=0, keepdim=True)
    off = ~torch.eye(n, dtype=torch.bool, device=device)
    for _ in range(max_steps):
        G = W.t() @ W
        if n == 1 or float(G[off].max()) <= M:
            break
        # dL/dG on the off-diagonal; L counts each unordered pair twice (i!=j), so dL/dW = 2 W dL/dG.
        dG = 2.0 * torch.clamp(G - (M - eps), min=0) + 2.0 * lam * torch.clamp(G, min=0)
        dG = dG * off
        W = W - step * 2.0 * (W @ dG)
        W = W / W.norm(dim=0, keepdim=True)
    W32 = (W / W.norm(dim=0, keepdim=True)).float()
    got = interference(W32) if n > 1 else -1.0
    if got > M + 1e-6:
        raise InputError(f"could not reach max interference {M} with n={n} features in d={d} dims "
                         f"(reached {got:.4f} after {max_steps} steps); raise M or d")
    return W32


def sample_coefficients(n_samples: int, n: int, p_active: float, c_min: float, beta: float, seed: int,
                        device: str = "cpu") -> torch.Tensor:
    """N x n coefficients x_d = m_d (c_min + Exp(mean beta)), m_d ~ Bernoulli(p_active)."""
    _check_unit_interval("p_active", p_active, closed_right=True)
    if c_min < 0 or not beta > 0:
        raise InputError(f"need c_min >= 0 and beta > 0, got c_min={c_min}, beta={beta}")
    gen = torch.Generator().manual_seed(int(seed))
    mask = torch.rand(n_samples, n, generator=gen) < p_active
    mag = c_min + torch.empty(n_samples, n).exponential_(1.0 / beta, generator=gen)
    return (mask * mag).to(device)


@dataclass(frozen=True)
class BenchConfig:
    """One bench: sizes, interference bound, feature law and the instantiation (sae/transcoder/crosscoder)."""

    n: int = 1000
    n_p: int = 768
    n_samples: int = 100_000
    p_active: float = 0.01           # Pr(feature active); the paper's "S = 0.99"
    max_interference: float = 0.1   # M
    c_min: float = 0.0
    beta: float = 1.0                # mean of the exponential magnitude
    kind: str = "sae"
    n_r: int | None = None           # transcoder target dim (default n_p)
    n_sources: int = 2               # crosscoder sources
    seed: int = 0

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"bench kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        _check_unit_interval("p_active", self.p_active, closed_right=True)
        _check_unit_interval("max interference M", self.max_interference, closed_right=False)
        if self.n < 1 or self.n_p < 1 or self.n_samples < 1 or self.n_sources < 1:
            raise InputError("n, n_p, n_samples and n_sources must be positive")

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Bench:
    """Generated bench: inputs/targets for training and the ground-truth dictionaries for metrics."""

    config: BenchConfig
    x_in: torch.Tensor          # N x d_in
    x_out: torch.Tensor         # N x d_out
    truth_in: torch.Tensor      # d_in x n: features as seen by the encoder (columns)
    truth_out: torch.Tensor     # d_out x n: features as written by the decoder
    active_rate: float          # realised fraction of nonzero coefficients
    checks: dict

    def sample(self, n_samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh (x_in, x_out) from the same dictionaries and law (e.g. held-out evaluation data)."""
        c = self.config
        X = sample_coefficients(n_samples, c.n, c.p_active, c.c_min, c.beta, seed, self.x_in.device.type)
        x_in = X @ self.truth_in.t()
        return x_in, (x_in if self.truth_out is self.truth_in else X @ self.truth_out.t())


def make_bench(config: BenchConfig, device: str = "cpu", chunk: int = 8192) -> Bench:
    """Generate a bench deterministically from config.seed and assert its guarantees."""
    config.validate()
    c = config
    M = c.max_interference
    if c.kind == "sae":
        mats_in = [make_dictionary(c.n, c.n_p, M, c.seed, device)]
        mats_out = mats_in
    elif c.kind == "transcoder":
        mats_in = [make_dictionary(c.n, c.n_p, M, c.seed, device)]
        mats_out = [make_dictionary(c.n, c.n_r or c.n_p, M, c.seed + 1, device)]
    else:
        mats_in = [make_dictionary(c.n, c.n_p, M, c.seed + s, device) for s in range(c.n_sources)]
        mats_out = mats_in
    W_in = torch.cat(mats_in, 0)
    W_out = W_in if mats_out is mats_in else torch.cat(mats_out, 0)
    xs_in, xs_out, nnz = [], [], 0
    for start in range(0, c.n_samples, chunk):
        m = min(chunk, c.n_samples - start)
        X = sample_coefficients(m, c.n, c.p_active, c.c_min, c.beta, c.seed * 1_000_003 + start + 7, device)
        nnz += int((X != 0).sum())
        xs_in.append(X @ W_in.t())
        if W_out is not W_in:
            xs_out.append(X @ W_out.t())
    x_in = torch.cat(xs_in)
    x_out = torch.cat(xs_out) if xs_out else x_in
    rate = nnz / (c.n_samples * c.n)
    checks = {}
    for s, W in enumerate(mats_in + ([] if mats_out is mats_in else mats_out)):
        norms = W.norm(dim=0)
        checks[f"unit_norm_err_{s}"] = float((norms - 1).abs().max())
        checks[f"max_interference_{s}"] = interference(W) if c.n > 1 else -1.0
        assert checks[f"unit_norm_err_{s}"] < 1e-5, f"bench dictionary {s}: columns not unit norm"
        assert checks[f"max_interference_{s}"] <= M + 1e-6, f"bench dictionary {s}: interference above M"
    # Bernoulli rate: allow 6 standard errors (+ one count for tiny benches).
    tol = 6 * math.sqrt(c.p_active * (1 - c.p_active) / (c.n_samples * c.n)) + 1.0 / (c.n_samples * c.n)
    checks["active_rate"] = rate
    checks["active_rate_tol"] = tol
    assert abs(rate - c.p_active) <= tol, f"bench activation rate {rate} far from p_active {c.p_active}"
    return Bench(config=c, x_in=x_in, x_out=x_out, truth_in=W_in, truth_out=W_out, active_rate=rate, checks=checks)
