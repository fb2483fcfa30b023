"""Cells of the activation arrangement: Zaslavsky's counts, agreement with brute force, witnesses, LP savings."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.solvers.arrangement import (
    brute_force_cells,
    brute_force_joint,
    enumerate_joint_patterns,
    latent_cells,
    zaslavsky_affine,
    zaslavsky_central,
)
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, TopKReLU
from sdlscape.theory.instance import Instance, example_3_5, random_unit
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece, linear_piece

S2 = math.sqrt(0.5)
# non-generic: a repeated column, an antipodal pair, three coplanar columns, a parallel pair
DEGENERATE = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [S2, S2, 0], [S2, S2, 0],
                       [-S2, -S2, 0], [0, S2, S2]]).T


def _check_witnesses(inst, ce, eps):
    # a witness may sit on an "off" hyperplane (a face), so the off side is checked to round-off
    for F, w in zip(ce.cells, ce.witnesses):
        z = w @ inst.W_p
        t = 0.0 if inst.activation.name == "relu" else inst.activation.theta
        on = np.isin(np.arange(inst.n), sorted(F))
        assert np.all(z[on] >= t + eps - 1e-9) and np.all(z[~on] <= t + 1e-9)


@pytest.mark.parametrize("n, k", [(1, 1), (2, 1), (3, 2), (5, 2), (6, 3), (9, 3), (12, 3), (7, 4), (10, 4), (8, 5)])
def test_zaslavsky_central_counts(n, k):
    inst = random_unit(n, k, "relu", n_latents=1, seed=n * 10 + k)
    ce = latent_cells(inst)
    assert len(ce.chambers) == zaslavsky_central(n, k)
    # the only cell that is not a region is {} (on the face w = 0, when the w_p^d span R^k positively)
    assert set(ce.cells) - set(ce.chambers) <= {frozenset()}
    assert frozenset() in ce.cells
    _check_witnesses(inst, ce, 1e-3)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), k=st.integers(2, 4), seed=st.integers(0, 10**6),
       theta=st.floats(0.05, 0.9))
def test_zaslavsky_affine_counts_jumprelu(n, k, seed, theta):
    # (k >= 2: in R^1 unit columns are +-1, so hyperplanes coincide and the arrangement is not generic)
    inst = random_unit(n, k, JumpReLU(theta=theta), n_latents=1, seed=seed)
    ce = latent_cells(inst, eps=1e-6)
    assert len(ce.chambers) == zaslavsky_affine(n, k)
    # generic affine arrangement, theta > 0: every cell is a region (unless too thin for the margin)
    assert set(ce.cells) | set(ce.dropped_thin) == set(ce.chambers)
    assert not set(ce.cells) & set(ce.dropped_thin)
    _check_witnesses(inst, ce, 1e-6)


def test_thin_region_dropped_for_margin():
    inst = random_unit(12, 3, JumpReLU(theta=0.3), n_latents=1, seed=0)
    wide, narrow = latent_cells(inst, eps=1e-3), latent_cells(inst, eps=1e-7)
    assert len(wide.chambers) == len(narrow.chambers) == zaslavsky_affine(12, 3)
    assert wide.dropped_thin and set(wide.cells) | set(wide.dropped_thin) == set(narrow.cells)
    for F in wide.dropped_thin:   # realizable whatever eps (theory/strict.py), but narrower than 1e-3
        thick, fine = (Piece(inst, Pattern((F,), 12), eps).realizability for eps in (1e-3, 1e-7))
        assert thick.realizable and fine.realizable
        assert thick.thin and 0 < thick.margin < 1e-3 and not fine.thin


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_relu_cells_agree_with_brute_force_random(n, k, seed):
    inst = random_unit(n, k, "relu", n_latents=1, seed=seed)
    ce = latent_cells(inst)
    bf, calls = brute_force_cells(inst)
    assert set(ce.cells) == set(bf) and len(ce.cells) == len(bf)
    assert calls == 2 ** n


@pytest.mark.parametrize("act", [ReLU(), JumpReLU(theta=0.5), JumpReLU(theta=0.05)])
def test_degenerate_instance_agrees_with_brute_force(act):
    inst = Instance(W_p=DEGENERATE, activation=act, n_latents=1)
    ce = latent_cells(inst)
    bf, _ = brute_force_cells(inst)
    assert set(ce.cells) == set(bf)
    assert len(set(ce.cells)) == len(ce.cells)
    _check_witnesses(inst, ce, 1e-3)
    # the repeated columns 4 and 5 always fire together
    assert all((4 in F) == (5 in F) for F in ce.cells)


def test_antipodal_pair_face_only_cell():
    # +-e1, +-e2 in R^2: {} is realizable only at w = 0 (a face), every other cell is a quadrant or a half-axis side
    inst = Instance(W_p=np.array([[1, -1, 0, 0], [0, 0, 1, -1]]), activation="relu", n_latents=1)
    ce = latent_cells(inst)
    assert sorted(map(sorted, ce.cells)) == [[], [0], [0, 2], [0, 3], [1], [1, 2], [1, 3], [2], [3]]
    assert len(ce.chambers) == 4 and frozenset() not in ce.chambers
    assert set(ce.cells) == set(brute_force_cells(inst)[0])


def test_cells_match_realize_per_pattern():
    inst = random_unit(5, 2, "relu", n_latents=1, seed=4)
    ce = latent_cells(inst)
    cells = set(ce.cells)
    for mask in range(2 ** 5):
        F = frozenset(d for d in range(5) if mask >> d & 1)
        assert Piece(inst, Pattern((F,), 5)).realizability.realizable == (F in cells)


def test_enumerator_needs_far_fewer_lps_than_brute_force():
    inst = random_unit(12, 3, "relu", n_latents=1, seed=0)
    ce = latent_cells(inst)
    assert len(ce.cells) == zaslavsky_central(12, 3) + 1
    assert ce.lp_calls * 20 <= 2 ** 12


def test_too_many_cells_is_input_error():
    with pytest.raises(InputError, match="more than 50 cells"):
        latent_cells(random_unit(12, 4, "relu", n_latents=1, seed=0), max_cells=50)


def test_single_cells_refuse_topk():
    with pytest.raises(InputError, match="couples"):
        latent_cells(example_3_5())


def test_joint_patterns_example_3_5():
    je = enumerate_joint_patterns(example_3_5())
    assert sorted(str(p) for p in je.patterns) == sorted(["[[0],[1]]", "[[],[0,1]]", "[[],[0]]", "[[],[1]]", "[[],[]]"])
    bf, calls = brute_force_joint(example_3_5())
    assert set(je.patterns) == bf and calls == 9


@pytest.mark.parametrize("act, n, n_p, nl", [(TopK(k=1), 3, 2, 2), (TopK(k=1), 4, 2, 3),
                                              (TopKReLU(k=1), 4, 2, 3),
                                              (TopK(k=2), 4, 3, 3)])
def test_joint_patterns_agree_with_brute_force(act, n, n_p, nl):
    inst = random_unit(n, n_p, act, n_latents=nl, seed=3)
    je = enumerate_joint_patterns(inst)
    bf, calls = brute_force_joint(inst)
    assert set(je.patterns) == bf
    assert je.lp_calls < calls
    for p, W in zip(je.patterns, je.witnesses):   # each witness lies in its pattern's region
        assert linear_piece(inst, p, 1e-3).region.contains(W, tol=1e-9)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(2, 3), n=st.integers(1, 7), seed=st.integers(0, 10**6),
       act=st.sampled_from([ReLU(), JumpReLU(theta=0.5),
                            JumpReLU(theta=math.sqrt(0.5))]))
def test_lattice_instances_agree_with_brute_force(k, n, seed, act):
    """Columns from {-1, 0, 1}^k: repeated, antipodal, coplanar columns, and thresholds hit exactly."""
    rng = np.random.default_rng(seed)
    W = rng.integers(-1, 2, size=(k, n)).astype(float)
    W[:, np.all(W == 0, axis=0)] = 1.0
    inst = Instance(W_p=W / np.linalg.norm(W, axis=0), activation=act, n_latents=1)
    ce = latent_cells(inst)
    assert set(ce.cells) == set(brute_force_cells(inst)[0])
    _check_witnesses(inst, ce, 1e-3)
