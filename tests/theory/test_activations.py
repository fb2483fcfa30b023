"""Activations: eq. 10, positive homogeneity, TopK selection and the regions Omega_P."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sdlscape.errors import InputError
from sdlscape.theory import activations as A
from sdlscape.theory.instance import Activation

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
ACTS = [Activation("relu"), Activation("jumprelu", theta=0.5), Activation("topk", k=2), Activation("topk_relu", k=2)]


@given(Z=arrays(float, (5, 4), elements=finite))
def test_eq10_every_output_is_zero_or_passthrough(Z):
    for act in ACTS:
        out = A.apply(act, Z)
        assert np.all((out == 0) | (out == Z))
        sel = A.selection(act, Z)
        assert np.array_equal(np.where(sel, Z, 0.0), out)


@given(Z=arrays(float, (3, 4), elements=finite), c=st.floats(0.01, 100))
def test_relu_and_topk_are_positively_homogeneous(Z, c):
    for act in ACTS:
        if act.positively_homogeneous:
            assert np.allclose(A.apply(act, c * Z), c * A.apply(act, Z), rtol=1e-12, atol=1e-12)


def test_jumprelu_is_not_positively_homogeneous():
    act = Activation("jumprelu", theta=1.0)
    z = np.array([[0.8]])
    assert A.apply(act, z)[0, 0] == 0.0
    assert A.apply(act, 2 * z)[0, 0] == pytest.approx(1.6)  # sigma(2z) = 1.6 != 2 sigma(z) = 0
    assert not act.positively_homogeneous


def test_topk_keeps_k_largest_and_topk_relu_drops_negatives():
    Z = np.array([[3.0, -1.0, 2.0, -0.5]])
    assert np.array_equal(A.topk(Z, 2), [[3.0, 0, 2.0, 0]])
    assert np.array_equal(A.topk(Z, 3), [[3.0, 0, 2.0, -0.5]])
    assert np.array_equal(A.topk_relu(Z, 3), [[3.0, 0, 2.0, 0]])
    with pytest.raises(InputError, match="exceeds"):
        A.topk(Z, 5)


def test_batchtopk_selects_over_the_batch():
    Z = np.array([[5.0, 4.0, 3.0], [0.1, 0.2, 0.3]])
    out = A.batchtopk(Z, 1)  # 2 entries kept in all, both from the first row
    assert np.count_nonzero(out) == 2 and np.count_nonzero(out[0]) == 2


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), act_i=st.integers(0, 3))
def test_region_contains_encoder_whose_pattern_it_is(seed, act_i):
    rng = np.random.default_rng(seed)
    act = ACTS[act_i]
    W_p = rng.standard_normal((3, 4))
    W_p /= np.linalg.norm(W_p, axis=0)
    W_E = rng.standard_normal((3, 3))
    mask = A.selection(act, (W_E @ W_p).T).T
    reg = A.region_inequalities(act, W_p, mask, eps=1e-12)
    slack = reg.slack(W_E)
    # strict rows may be violated only by ties within 1e-12, which random data does not produce
    assert np.all(slack >= -1e-9)


def test_region_rows_describe_constraints():
    W_p = np.eye(2)
    act = Activation("topk_relu", k=1)
    reg = A.region_inequalities(act, W_p, np.array([[True, True], [False, False]]), eps=0.01)
    kinds = sorted({c.kind for c in reg.constraints})
    assert kinds == ["on", "order"]
    assert reg.strict.all()
    assert reg.contains(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert not reg.contains(np.array([[1.0, 1.0], [2.0, 0.0]]))


def test_impossible_topk_patterns_are_rejected():
    W_p = np.eye(2)
    with pytest.raises(InputError, match="exactly k"):
        A.region_inequalities(Activation("topk", k=1), W_p, np.array([[True, True], [True, False]]))
    with pytest.raises(InputError, match="more than k"):
        A.region_inequalities(Activation("topk_relu", k=1), W_p, np.array([[True, False], [True, False]]))
