"""Losses: L~ (eq. 11), its region gradients (finite differences, torch autograd), the exact loss (eq. 3)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU, examples
from sdlscape.theory.loss import (
    approx_grad,
    approx_loss,
    approx_loss_per_feature,
    exact_loss,
    passed_mask,
)

ACTS = examples()      # every registered activation, at its search parameters


def _point(inst, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((inst.n_r, inst.n_latents)), rng.standard_normal((inst.n_latents, inst.n_p))


def test_example_3_5_loss_is_one():
    inst = I.example_3_5()
    W_E = np.array([[1.0, 1.0], [0.0, 0.0]])
    W_D = np.array([[0.5, 0.0], [0.5, 0.0]])
    assert approx_loss(inst, W_D, W_E) == pytest.approx(1.0, abs=1e-15)
    assert np.allclose(approx_loss_per_feature(inst, W_D, W_E), [0.5, 0.5])


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_gradients_match_finite_differences(act):
    inst = I.transcoder_pair(5, 3, 4, activation=act, n_latents=4, seed=1, M=np.linspace(0.5, 2, 5))
    W_D, W_E = _point(inst, 2)
    mask = passed_mask(inst, W_E)
    gD, gE = approx_grad(inst, W_D, W_E, mask)
    h = 1e-6
    for W, g, which in ((W_D, gD, "D"), (W_E, gE, "E")):
        num = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            Wp, Wm = W.copy(), W.copy()
            Wp[idx] += h
            Wm[idx] -= h
            f = (lambda V: approx_loss(inst, V, W_E, mask)) if which == "D" else (lambda V: approx_loss(inst, W_D, V, mask))
            num[idx] = (f(Wp) - f(Wm)) / (2 * h)
        assert np.allclose(g, num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_gradients_match_torch_autograd(act):
    import torch
    inst = I.random_unit(6, 3, activation=act, n_latents=5, seed=4, M=np.linspace(1, 3, 6))
    W_D, W_E = _point(inst, 5)
    mask = passed_mask(inst, W_E)
    tD = torch.tensor(W_D, requires_grad=True)
    tE = torch.tensor(W_E, requires_grad=True)
    Z = tE @ torch.tensor(inst.W_p)
    Q = Z * torch.tensor(mask, dtype=torch.float64)  # the region's linear map (sigma inside the region)
    R = torch.tensor(inst.W_r) - tD @ Q
    loss = (torch.tensor(inst.M) * (R ** 2).sum(0)).sum()
    loss.backward()
    gD, gE = approx_grad(inst, W_D, W_E, mask)
    assert loss.item() == pytest.approx(approx_loss(inst, W_D, W_E), rel=1e-12)
    assert np.allclose(tD.grad.numpy(), gD, rtol=1e-10, atol=1e-12)
    assert np.allclose(tE.grad.numpy(), gE, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from([a for a in ACTS if a.positively_homogeneous]),
       scale=st.floats(0.1, 10))
def test_one_active_feature_exact_loss_equals_weighted_approx_terms(seed, act, scale):
    """For homogeneous sigma, a sample x = c e_d has error c^2 || w_r^d - W_D sigma(W_E w_p^d) ||^2."""
    inst = I.random_unit(4, 3, activation=act, n_latents=3, seed=seed % 97)
    W_D, W_E = _point(inst, seed)
    X = scale * np.eye(inst.n)
    exact = exact_loss(inst, W_D, W_E, X) * inst.n
    approx = scale ** 2 * approx_loss(inst, W_D, W_E)  # M_d = 1
    assert exact == pytest.approx(approx, rel=1e-9)


def test_jumprelu_breaks_that_identity():
    inst = I.orthogonal(2, activation=JumpReLU(theta=0.5), n_latents=2)
    W_E, W_D = np.eye(2), np.eye(2)
    assert approx_loss(inst, W_D, W_E) == 0.0  # unit magnitude clears theta
    X = 0.4 * np.eye(2)  # magnitude 0.4 < theta: nothing passes, the error is ||0.4 w_r^d||^2
    assert exact_loss(inst, W_D, W_E, X) == pytest.approx(0.16)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(0.05, 20))
def test_relu_symmetries_permutation_and_positive_rescaling(seed, c):
    inst = I.random_unit(5, 3, activation="relu", n_latents=4, seed=seed % 31, M=np.linspace(1, 2, 5))
    W_D, W_E = _point(inst, seed)
    base = approx_loss(inst, W_D, W_E)
    perm = np.random.default_rng(seed).permutation(4)
    assert approx_loss(inst, W_D[:, perm], W_E[perm]) == pytest.approx(base, rel=1e-10, abs=1e-12)
    i = seed % 4
    W_E2, W_D2 = W_E.copy(), W_D.copy()
    W_E2[i] *= c
    W_D2[:, i] /= c
    assert approx_loss(inst, W_D2, W_E2) == pytest.approx(base, rel=1e-9, abs=1e-12)


def test_shape_and_value_errors():
    inst = I.orthogonal(2, n_latents=2)
    with pytest.raises(InputError, match="feature coefficients"):
        exact_loss(inst, np.eye(2), np.eye(2), np.ones((3, 5)))
