"""Patterns: reading, predicates, realizability LPs with witnesses and Farkas certificates."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.theory import instance as I
from sdlscape.theory.patterns import Pattern, absorptions, check_farkas, read_pattern, realize, region

ACTS = [I.Activation("relu"), I.Activation("jumprelu", theta=0.4), I.Activation("topk", k=2),
        I.Activation("topk_relu", k=2)]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 100_000), act_i=st.integers(0, 3))
def test_pattern_read_off_random_encoder_is_realizable_and_its_region_contains_it(seed, act_i):
    inst = I.random_unit(5, 3, activation=ACTS[act_i], n_latents=4, seed=seed % 50)
    W_E = np.random.default_rng(seed).standard_normal((4, 3)) * 2
    P = read_pattern(inst, W_E)
    eps = 1e-9
    assert region(inst, P, eps).contains(W_E, tol=1e-9)
    res = realize(inst, P, eps=1e-6)
    assert res.realizable
    assert read_pattern(inst, res.witness) == P


def test_infeasible_pattern_has_a_certificate_that_rechecks():
    # three directions in R^2 at 120 degrees: no half-plane contains all three
    ang = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    inst = I.Instance(W_p=np.stack([np.cos(ang), np.sin(ang)]), activation=I.Activation("relu"), n_latents=1)
    P = Pattern.parse([[0, 1, 2]], 3, 1)
    res = realize(inst, P)
    assert not res.realizable and res.certificate is not None
    reg = region(inst, P, res.eps)
    assert check_farkas(reg, res.certificate)
    y = res.certificate.copy()
    y[0] += 1.0  # a perturbed certificate no longer proves anything
    assert not check_farkas(reg, y)


def test_example_3_5_patterns():
    inst = I.example_3_5()
    assert realize(inst, Pattern.parse([[0, 1], []], 2, 2)).realizable
    assert realize(inst, Pattern.parse([[0], [1]], 2, 2)).realizable


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
    inst = I.orthogonal(2, activation=I.Activation("topk", k=1), n_latents=2)
    with pytest.raises(InputError, match="exactly k"):
        realize(inst, Pattern.parse([[0, 1], [1]], 2, 2))
