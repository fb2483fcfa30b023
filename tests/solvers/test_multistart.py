"""Batched multi-start training (solvers/multistart.py): equal to the theory's loss, gradient and activations."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.solvers.multistart import (
    batched_loss_grad,
    init_weights,
    multistart,
    selection,
    train_batched,
)
from sdlscape.theory.activations import examples
from sdlscape.theory.instance import (
    example_3_5,
    orthogonal,
    random_unit,
    transcoder_pair,
)
from sdlscape.theory.loss import approx_grad, approx_loss
from sdlscape.theory.patterns import read_pattern
from sdlscape.verify.crosscheck import read_masks

ACTS = examples()      # every registered activation, at its search parameters


def _instance(act, seed, transcoder=False):
    if transcoder:
        return transcoder_pair(4, 3, 5, act, n_latents=5, seed=seed, M=np.linspace(0.5, 2.0, 4))
    return random_unit(4, 3, act, n_latents=5, seed=seed, M=np.linspace(0.5, 2.0, 4))


@settings(max_examples=30, deadline=None)
@given(act=st.sampled_from(ACTS), seed=st.integers(0, 10_000), transcoder=st.booleans())
def test_loss_and_gradient_equal_theory(act, seed, transcoder):
    inst = _instance(act, seed, transcoder)
    rng = np.random.default_rng(seed)
    W_E = rng.standard_normal((7, inst.n_latents, inst.n_p))
    W_D = rng.standard_normal((7, inst.n_r, inst.n_latents))
    L, gD, gE, masks = batched_loss_grad(inst, W_D, W_E)
    for s in range(7):
        assert abs(L[s] - approx_loss(inst, W_D[s], W_E[s])) <= 1e-10 * max(1.0, L[s])
        rD, rE = approx_grad(inst, W_D[s], W_E[s])
        np.testing.assert_allclose(gD[s], rD, atol=1e-10, rtol=1e-10)
        np.testing.assert_allclose(gE[s], rE, atol=1e-10, rtol=1e-10)
        assert np.array_equal(masks[s], read_pattern(inst, W_E[s], inst.activation.linear_reading).mask)


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_selection_equals_theory_including_ties(act):
    rng = np.random.default_rng(1)
    Z = rng.integers(-2, 3, size=(200, 5)).astype(float)   # many exact ties
    ref = act.passes(Z)
    inst = random_unit(3, 3, act, n_latents=5)
    got = selection(inst, torch.tensor(Z.T)).numpy().T      # latents along axis 0
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_batched_pattern_reader_equals_read_pattern(act):
    inst = random_unit(4, 3, act, n_latents=4, seed=3)
    W_E = np.random.default_rng(2).standard_normal((50, 4, 3))
    masks = read_masks(inst, W_E)
    for s in range(50):
        assert np.array_equal(masks[s], read_pattern(inst, W_E[s], inst.activation.linear_reading).mask)


def test_training_reduces_loss_and_finds_critical_points():
    inst = orthogonal(3, "relu", 3)
    r = multistart(inst, 200, steps=1500, seed=0)
    assert np.all(r.loss <= r.loss0 + 1e-12)
    assert np.mean(r.grad_norm < 1e-5) > 0.9
    # every end value of this instance is an integer (a feature is either reconstructed or lost)
    ok = r.grad_norm < 1e-5
    assert np.allclose(r.loss[ok], np.round(r.loss[ok]), atol=1e-6)


def test_same_seed_same_result_and_chunking_invariant():
    inst = example_3_5()
    a = multistart(inst, 64, steps=300, seed=5)
    b = multistart(inst, 64, steps=300, seed=5)
    c = multistart(inst, 64, steps=300, seed=6)
    assert np.array_equal(a.W_E, b.W_E) and np.array_equal(a.loss, b.loss)
    assert not np.array_equal(a.W_E, c.W_E)
    W_E0, W_D0 = init_weights(inst, 30, "random", 1)
    full = train_batched(inst, W_E0, W_D0, steps=200)
    chunked = train_batched(inst, W_E0, W_D0, steps=200, chunk=7)
    np.testing.assert_allclose(full[0], chunked[0], rtol=1e-12, atol=1e-14)


def test_batched_equals_one_at_a_time():
    inst = example_3_5()
    W_E0, W_D0 = init_weights(inst, 5, "tied", 2)
    E, D, L, G, _ = train_batched(inst, W_E0, W_D0, steps=100, optimizer="gd", lr=0.05)
    for s in range(5):
        e, _d, _loss, _g, _ = train_batched(inst, W_E0[s:s + 1], W_D0[s:s + 1], steps=100, optimizer="gd", lr=0.05)
        np.testing.assert_allclose(E[s], e[0], rtol=1e-12, atol=1e-14)
    # a plain GD step is W <- W - lr * approx_grad: reproduce 100 steps with the theory's gradient
    W_E, W_D = W_E0[0].copy(), W_D0[0].copy()
    from sdlscape.solvers.multistart import _lr_at
    for t in range(100):
        gD, gE = approx_grad(inst, W_D, W_E)
        a = _lr_at(t, 100, 0.05, 1e-3)
        W_E, W_D = W_E - a * gE, W_D - a * gD
    np.testing.assert_allclose(E[0], W_E, rtol=1e-9, atol=1e-12)


def test_tied_init_is_transpose_and_unit_norm():
    inst = example_3_5()
    W_E, W_D = init_weights(inst, 10, "tied", 0)
    assert np.allclose(W_E, W_D.transpose(0, 2, 1))
    assert np.allclose(np.linalg.norm(W_D, axis=1), 1.0)


def test_bad_input():
    inst = example_3_5()
    with pytest.raises(InputError):
        multistart(inst, 0)
    with pytest.raises(InputError):
        multistart(inst, 4, init="orthogonal")
    with pytest.raises(InputError):
        multistart(transcoder_pair(3, 2, 4, "relu"), 4, init="tied")
    if not torch.cuda.is_available():
        with pytest.raises(InputError):
            multistart(inst, 4, device="cuda")
    with pytest.raises(InputError):
        multistart(inst, 4, device="tpu")
    with pytest.raises(InputError):
        train_batched(inst, *init_weights(inst, 2, "random", 0), lr=-1.0)


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_lipschitz_bound_dominates_block_curvatures(act):
    from sdlscape.solvers.multistart import Problem, lipschitz_bound, to_last
    inst = _instance(act, 4)
    rng = np.random.default_rng(4)
    W_E = rng.standard_normal((inst.n_latents, inst.n_p))
    W_D = rng.standard_normal((inst.n_r, inst.n_latents))
    mask = read_pattern(inst, W_E, inst.activation.linear_reading).mask
    bound = float(lipschitz_bound(Problem.of(inst), to_last(W_D[None], "cpu", torch.float64),
                                  to_last(W_E[None], "cpu", torch.float64),
                                  float(np.linalg.norm(inst.W_p, 2) ** 2))[0])
    for which, W in (("D", W_D), ("E", W_E)):
        n = W.size
        H = np.zeros((n, n))
        for j in range(n):  # the piece's quadratic is exactly quadratic in each block: central differences are exact
            dW = np.zeros(n)
            dW[j] = 1.0
            dW = dW.reshape(W.shape)
            gp = approx_grad(inst, *((W_D + dW, W_E) if which == "D" else (W_D, W_E + dW)), mask=mask)
            gm = approx_grad(inst, *((W_D - dW, W_E) if which == "D" else (W_D, W_E - dW)), mask=mask)
            H[:, j] = ((gp[0] - gm[0]) if which == "D" else (gp[1] - gm[1])).reshape(-1) / 2.0
        assert np.linalg.eigvalsh((H + H.T) / 2).max() <= bound * (1 + 1e-9)


def test_gd_lip_is_stable_where_plain_gd_blows_up():
    inst = random_unit(4, 2, {"name": "topk", "k": 1}, n_latents=3, seed=0)
    W_E0, W_D0 = init_weights(inst, 20, "random", 0)
    W_E0, W_D0 = 10 * W_E0, 10 * W_D0
    with np.errstate(all="ignore"):
        plain = train_batched(inst, W_E0, W_D0, steps=200, optimizer="gd", lr=0.05)[2]
    lip = train_batched(inst, W_E0, W_D0, steps=200, optimizer="gd_lip", lr=0.5)
    L0 = batched_loss_grad(inst, W_D0, W_E0)[0]
    assert not np.all(np.isfinite(plain) & (plain <= L0))
    assert np.all(np.isfinite(lip[2])) and np.all(lip[2] <= L0 + 1e-9)
