"""Tests of the recovery metrics (M_GT, M_IP, curves, MCC, uniqueness, FVU, dead fraction)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.bench import metrics as mt


def _truth(d=12, n=8, seed=0):
    T = np.random.default_rng(seed).normal(size=(d, n))
    return T / np.linalg.norm(T, axis=0)


def test_perfect_recovery_with_permutation_sign_and_scale():
    T = _truth()
    L = -3.0 * T.T[::-1]                     # rows = features, reversed, flipped, scaled
    r = mt.feature_recovery(L, T, tau=0.95)
    assert r["M_GT"] == 1.0 and r["M_IP"] == pytest.approx(1.0)
    assert mt.mcc(L, T) == pytest.approx(1.0)
    assert mt.uniqueness(L, T) == 1.0


def test_partial_recovery_and_exclude():
    T = _truth(d=30, n=10)
    L = T.T[:6].copy()                       # only features 0..5 learned
    r = mt.feature_recovery(L, T, tau=0.9)
    assert r["M_GT"] < 1.0
    assert mt.feature_recovery(L, T, tau=0.9, exclude=range(6, 10))["M_GT"] == 1.0
    assert len(mt.feature_recovery(L, T, exclude=[0, 1])["best"]) == 8


def test_duplicate_latents_lower_uniqueness_not_mgt():
    T = _truth()
    L = np.concatenate([T.T, T.T])
    assert mt.feature_recovery(L, T)["M_GT"] == 1.0
    assert mt.uniqueness(L, T) == pytest.approx(0.5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 20))
def test_curve_monotone_and_bounds(seed, m):
    rng = np.random.default_rng(seed)
    T = _truth(d=10, n=7, seed=seed)
    L = rng.normal(size=(m, 10))
    taus = np.linspace(0, 0.99, 12)
    c = mt.recovery_curve(L, T, taus)
    assert np.all(np.diff(c) <= 1e-12) and np.all((0 <= c) & (c <= 1))
    r = mt.feature_recovery(L, T)
    assert 0 <= r["M_IP"] <= 1 + 1e-12
    if m >= 7:   # every true feature gets one latent: matching can only lower its best match
        assert 0 <= mt.mcc(L, T) <= r["M_IP"] + 1e-9
    assert 0 < mt.uniqueness(L, T) <= 1


def test_fvu_and_dead_fraction():
    x = np.random.default_rng(0).normal(size=(100, 5))
    assert mt.fvu(x, x) == 0.0
    assert mt.fvu(x, np.broadcast_to(x.mean(0), x.shape)) == pytest.approx(1.0)
    acts = np.zeros((10, 4))
    acts[3, 1] = 0.5
    assert mt.dead_fraction(acts) == 0.75


def test_dimension_mismatch_is_an_error():
    with pytest.raises(ValueError):
        mt.feature_recovery(np.ones((3, 4)), np.ones((5, 2)))


def test_reader_directions_are_the_dual_basis():
    W = _truth(d=8, n=5, seed=3)                  # full column rank: readers are the dual basis
    R = mt.reader_directions(W)
    np.testing.assert_allclose(W.T @ R, np.eye(5), atol=1e-10)
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0][:, :4]
    np.testing.assert_allclose(mt.reader_directions(Q), Q, atol=1e-10)   # orthonormal: readers = features
