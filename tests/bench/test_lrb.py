"""Tests of the Linear Representation Bench: guarantees, determinism, bad input."""
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sdlscape.bench.lrb import (
    BenchConfig,
    interference,
    make_bench,
    make_dictionary,
    sample_coefficients,
)
from sdlscape.errors import InputError


@pytest.mark.parametrize("kind", ["sae", "transcoder", "crosscoder"])
def test_small_bench_guarantees(kind):
    cfg = BenchConfig(n=60, n_p=40, n_samples=3000, p_active=0.05, max_interference=0.15, kind=kind, seed=3)
    b = make_bench(cfg)
    d_in = 40 * (2 if kind == "crosscoder" else 1)
    assert b.x_in.shape == (3000, d_in)
    assert b.truth_in.shape == (d_in, 60)
    # every dictionary block has unit columns and interference <= M
    blocks = [b.truth_in[s * 40:(s + 1) * 40] for s in range(d_in // 40)]
    if kind == "transcoder":
        blocks.append(b.truth_out)
        assert not torch.equal(b.truth_out, b.truth_in)
    for W in blocks:
        assert torch.allclose(W.norm(dim=0), torch.ones(60), atol=1e-5)
        assert interference(W) <= 0.15 + 1e-6
    assert abs(b.active_rate - 0.05) < 0.005
    # x = W x_coef exactly: a held-out sample with the same law lies in the span of the truth
    x_in, x_out = b.sample(10, seed=1)
    assert x_in.shape == (10, d_in)


def test_bench_is_deterministic_per_seed():
    cfg = BenchConfig(n=50, n_p=30, n_samples=500, p_active=0.1, max_interference=0.2, seed=7)
    a, b = make_bench(cfg), make_bench(cfg)
    assert torch.equal(a.x_in, b.x_in) and torch.equal(a.truth_in, b.truth_in)
    c = make_bench(BenchConfig(n=50, n_p=30, n_samples=500, p_active=0.1, max_interference=0.2, seed=8))
    assert not torch.equal(a.x_in, c.x_in)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(8, 30), M=st.floats(0.2, 0.9), seed=st.integers(0, 1000))
def test_dictionary_invariants(n, d, M, seed):
    assume(n <= 2 * d)     # always feasible: the 2d vectors +-e_i have pairwise <w_i, w_j> <= 0
    W = make_dictionary(n, d, M, seed)
    assert W.shape == (d, n)
    assert torch.allclose(W.norm(dim=0), torch.ones(n), atol=1e-5)
    assert interference(W) <= M + 1e-6


def test_coefficients_law():
    X = sample_coefficients(20000, 20, p_active=0.2, c_min=0.5, beta=2.0, seed=0)
    active = X != 0
    assert abs(float(active.float().mean()) - 0.2) < 0.01
    vals = X[active]
    assert float(vals.min()) >= 0.5
    assert abs(float(vals.mean()) - 2.5) < 0.05          # c_min + mean of Exp(mean beta)


@pytest.mark.parametrize("p", [0.0, -0.1, 1.5, math.nan])
def test_bad_p_active(p):
    with pytest.raises(InputError, match="p_active"):
        sample_coefficients(10, 5, p, 0.0, 1.0, 0)


@pytest.mark.parametrize("M", [0.0, 1.0, 1.2, -0.3])
def test_bad_interference(M):
    with pytest.raises(InputError, match="interference"):
        make_dictionary(10, 5, M, 0)


def test_unreachable_interference_is_input_error():
    # 30 unit vectors in 2-D cannot all have pairwise <w_i, w_j> <= 0.05
    with pytest.raises(InputError, match="could not reach"):
        make_dictionary(30, 2, 0.05, 0, max_steps=200)
