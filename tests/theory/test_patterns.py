"""Patterns: reading, predicates, realizability LPs with witnesses and Farkas certificates."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory import instance as I
from sdlscape.theory.activations import ReLU, TopK, examples
from sdlscape.theory.patterns import Pattern, absorptions, read_pattern
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import check_farkas

ACTS = examples()      # every registered activation, at its search parameters


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 100_000), act=st.sampled_from(ACTS))
def test_pattern_read_off_random_encoder_is_realizable_and_its_region_contains_it(seed, act):
    inst = I.random_unit(5, 3, activation=act, n_latents=4, seed=seed % 50)
    W_E = np.random.default_rng(seed).standard_normal((4, 3)) * 2
    P = read_pattern(inst, W_E)
    eps = 1e-9
    assert Piece(inst, P, eps).region.contains(W_E, tol=1e-9)
    res = Piece(inst, P, 1e-6).realizability
    assert res.realizable
    assert read_pattern(inst, res.witness) == P


def test_infeasible_pattern_has_a_certificate_that_rechecks():
    # three directions in R^2 at 120 degrees: no half-plane contains all three
    ang = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    inst = I.Instance(W_p=np.stack([np.cos(ang), np.sin(ang)]), activation=ReLU(), n_latents=1)
    P = Pattern.parse([[0, 1, 2]], 3, 1)
    res = Piece(inst, P).realizability
    assert not res.realizable and res.certificate is not None
    reg = Piece(inst, P, res.eps).region
    assert check_farkas(reg, res.certificate)
    y = res.certificate.copy()
    y[0] += 1.0  # a perturbed certificate no longer proves anything
    assert not check_farkas(reg, y)


def test_example_3_5_patterns():
    inst = I.example_3_5()
    assert Piece(inst, Pattern.parse([[0, 1], []], 2, 2)).realizability.realizable
    assert Piece(inst, Pattern.parse([[0], [1]], 2, 2)).realizability.realizable


def test_predicates():
    P = Pattern.parse([[0, 1], [], [2]], 3, 3)
    assert P.polysemantic and P.is_partition and P.dead_latents == (1,)
    Q = Pattern.parse([[0, 1], [1], []], 3, 3)
    assert not Q.is_partition and Q.uncovered_features == (2,)
    assert Pattern.parse([[2], [0, 1], []], 3, 3).canonical() == Pattern.parse([[], [0, 1], [2]], 3, 3).canonical()


def test_absorption_detected():
    parents = [(0, 1, 2)]
    P = Pattern.parse([[0, 1], [2], []], 3, 3)
    ev = absorptions(P, parents)
    assert ev and ev[0]["subconcept"] == 2 and ev[0]["latent"] == 1
    assert absorptions(Pattern.parse([[0, 1, 2], [], []], 3, 3), parents) == []


@pytest.mark.parametrize("obj, message", [
    ([[0, 7], []], "names feature 7"),
    ([[0]], "n_latents"),
    ("[[0", "not valid JSON"),
    ([[0, 0], []], "twice"),
    ([["a"], []], "not a feature index"),
])
def test_bad_patterns(obj, message):
    with pytest.raises(InputError, match=message):
        Pattern.parse(obj, 2, 2)


def test_impossible_topk_pattern_is_an_input_error():
    inst = I.orthogonal(2, activation=TopK(k=1), n_latents=2)
    with pytest.raises(InputError, match="more than k"):
        Piece(inst, Pattern.parse([[0, 1], [1]], 2, 2))
    with pytest.raises(InputError, match="exactly k"):   # the selection reading passes exactly k latents
        Piece(inst, Pattern.parse([[0, 1], [1]], 2, 2), reading=Reading.SELECTION)
    assert Piece(inst, Pattern.parse([[0, 1], []], 2, 2)).realizable   # Def. 3.1: a feature may fire none
