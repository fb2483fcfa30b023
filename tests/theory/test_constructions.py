"""Constructions: Thm 3.3's point, zero-loss decoders, eq. 55, partition stationary points, splits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory import instance as I
from sdlscape.theory.activations import examples
from sdlscape.theory.constructions import (
    bound_3_3,
    construction_3_3,
    eq55_decoder,
    partition_stationary_points,
    positive_vector_in_span,
    recovery,
    split_pattern,
    zero_loss_decoder,
)
from sdlscape.theory.loss import approx_grad, approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import Piece


def test_construction_3_3_shapes_and_orthogonal_zero_loss():
    inst = I.orthogonal(3, "relu", n_latents=5)
    W_D, W_E = construction_3_3(inst)
    assert W_D.shape == (3, 5) and W_E.shape == (5, 3)
    assert np.all(W_D[:, 3:] == 0) and np.all(W_E[3:] == 0)
    assert approx_loss(inst, W_D, W_E) == 0.0 and bound_3_3(inst) == 0.0
    with pytest.raises(InputError):
        construction_3_3(I.orthogonal(3, "relu", n_latents=2))


def test_construction_3_3_relu_bound_on_superposed():
    inst = I.superposed(5, 3, 0.4, "relu", seed=2)
    W_D, W_E = construction_3_3(inst)
    assert 0 < approx_loss(inst, W_D, W_E) <= bound_3_3(inst)


def test_zero_loss_decoder_and_recovery():
    inst = I.orthogonal(2, "relu")
    A = np.array([[1.0, 1.0], [1.0, 1.5]])  # positive mixing: codes pass relu, W_D = A^-1
    W_D = zero_loss_decoder(inst, A)
    assert np.allclose(W_D, np.linalg.inv(A)) and approx_loss(inst, W_D, A) < 1e-20
    rec = recovery(inst, W_D, A, tau=0.9)
    assert rec["encoder_recovered"] == 0 and rec["decoder_recovered"] == 0
    assert zero_loss_decoder(inst, np.array([[1.0, 1.0], [-1.0, -1.0]])) is None  # codes of rank 1


def test_eq55_decoder_is_the_decoder_block_optimum():
    inst = I.random_unit(3, 3, "relu", seed=4, M=[1.0, 2.0, 3.0])
    W_E = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]) @ np.linalg.pinv(inst.W_p)
    P = read_pattern(inst, W_E)
    W_D = eq55_decoder(inst, W_E, P)
    gD, gE = approx_grad(inst, W_D, W_E)
    assert np.abs(gD).max() < 1e-10  # the decoder block is stationary ...
    assert np.abs(gE).max() > 1e-3  # ... but the encoder block is not: eq. 55 is not a partial optimum here


def test_positive_vector_in_span():
    assert positive_vector_in_span(np.array([[1.0], [2.0]])) is not None
    assert positive_vector_in_span(np.array([[1.0], [-2.0]])) is None
    v = positive_vector_in_span(np.eye(3)[:, :3])
    assert np.all(v >= 1 - 1e-9)


# every registered activation whose linear pieces can be partitions (a feature firing exactly one latent)
@pytest.mark.parametrize("act", [a for a in examples() if 1 in a.column_sizes(3, a.linear_reading)], ids=str)
def test_partition_stationary_point_is_block_stationary_and_in_region(act):
    inst = I.random_unit(3, 3, act, seed=1, M=[1.0, 2.0, 1.0])
    P = Pattern.parse([[0, 1], [2], []], 3, 3)
    piece = Piece(inst, P, reading=act.linear_reading)
    lat, cand = partition_stationary_points(piece)
    if cand is None:  # only where codes must be positive (not plain TopK's selection reading)
        assert any(a.positive_eigenvalue is None for a in lat) and act.linear_reading is Reading.DEF_3_1
        return
    W_D, W_E = cand
    assert read_pattern(inst, W_E, act.linear_reading) == P
    gD, gE = approx_grad(inst, W_D, W_E)
    assert max(np.abs(gD).max(), np.abs(gE).max()) < 1e-9


def test_partition_stationary_points_unequal_orthogonal_has_none():
    inst = I.orthogonal(2, "relu", M=[1.0, 2.0])
    lat, cand = partition_stationary_points(Piece(inst, Pattern.parse([[0, 1], []], 2, 2)))
    assert cand is None and np.allclose(lat[0].eigenvalues, [2.0, 1.0])
    lat, cand = partition_stationary_points(Piece(inst.with_(M=[1.0, 1.0]), Pattern.parse([[0, 1], []], 2, 2)))
    assert cand is not None


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000))
def test_split_pattern(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    P = Pattern(tuple([frozenset(range(n)), frozenset()]), n)
    d = int(rng.integers(0, n))
    Q = split_pattern(P, 0, d, 1)
    assert Q.sets[1] == {d} and d not in Q.sets[0] and Q.is_partition
    with pytest.raises(InputError):
        split_pattern(Q, 0, d, 1)
