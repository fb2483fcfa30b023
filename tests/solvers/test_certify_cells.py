"""Thin, one-ray and lower-dimensional cells in the certifier (reduce.cell_polytope, global mode).

Lower-dimensional pieces (a code exactly at the threshold: no interior, never enumerated with a margin)
can be skipped in global mode when the activation is continuous from one side there: for ReLU,
sigma(z) = max(z, 0) is continuous, so at fixed W_D, L~ is continuous in W_E, and a point of a
lower-dimensional piece is a limit of points of an adjacent open piece; its loss is no lower than that
piece's infimum (the certifier's infima include boundary limits). The test below checks exactly that:
points on the walls between cells never go below the certified global lower bound.
"""
import numpy as np
import pytest

from sdlscape.solvers.certify import certify_global
from sdlscape.solvers.certify.piece_cert import least_squares_decoder
from sdlscape.solvers.certify.reduce import MERGE_ATOL, cell_polytope
from sdlscape.theory.activations import ReLU
from sdlscape.theory.instance import Instance, random_unit
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import linear_piece


def thin_instance(n=5, gap=1e-7, seed=0):
    """random_unit(n, 2) with feature 1 moved to gap radians from feature 0 (a thin wedge between them)."""
    W = random_unit(n, 2, "relu", n_latents=2, seed=seed).W_p.copy()
    a = np.arctan2(W[1, 0], W[0, 0]) + gap
    W[:, 1] = [np.cos(a), np.sin(a)]
    return Instance(W_p=W, activation=ReLU(), n_latents=2, name=f"thin-n{n}-gap{gap:g}")


def antipodal_instance(n=4, seed=0):
    """random_unit(n, 2) with feature 1 = -feature 0."""
    W = random_unit(n, 2, "relu", n_latents=2, seed=seed).W_p.copy()
    W[:, 1] = -W[:, 0]
    return Instance(W_p=W, activation=ReLU(), n_latents=2, name=f"antipodal-n{n}")


def test_a_thin_cell_keeps_both_ends():
    """The wedge between two features 1e-7 rad apart: a relative merge tolerance (1e-5) made it one vertex."""
    inst = thin_instance()
    seen = 0
    for pattern in ([[0], []], [[1], []], [[0, 1], []]):
        piece = linear_piece(inst, Pattern.parse(pattern, inst.n, 2))
        if not piece.realizable or len(pattern[0]) < 2:
            continue
        P = cell_polytope(piece, 0)
        assert len(P.vertices) == 2 and np.max(np.abs(P.vertices[0] - P.vertices[1])) > MERGE_ATOL
        seen += 1
    assert seen == 1


@pytest.mark.slow
@pytest.mark.parametrize("make", [thin_instance, antipodal_instance])
def test_thin_and_antipodal_instances_certify(make):
    g = certify_global(make(), node_limit=20_000)
    assert g.certified and g.lower_bound > 0
    assert not any(p.reason is not None and p.reason.value == "unsupported" for p in g.pieces)


def test_points_on_cell_walls_are_no_lower_than_the_global_bound():
    """ReLU: encoder rows exactly on a wall (a code exactly 0) belong to no enumerated piece; their loss
    is bounded below by the certified global lower bound (continuity; module docstring)."""
    inst = random_unit(4, 2, ReLU(), n_latents=2, seed=0)
    g = certify_global(inst, node_limit=20_000)
    assert g.certified
    rng = np.random.default_rng(0)
    normals = [np.array([-w[1], w[0]]) for w in inst.W_p.T]      # rows with <w, w_p^d> = 0 exactly
    for _ in range(60):
        W_E = rng.standard_normal((2, 2))
        for i in range(2):
            if rng.random() < 0.7:
                W_E[i] = normals[rng.integers(len(normals))] * rng.uniform(0.1, 3)
        pat = read_pattern(inst, W_E, inst.activation.linear_reading)
        piece = linear_piece(inst, pat, 1e-3)
        W_D = least_squares_decoder(piece, W_E)
        assert piece.loss(W_D, W_E) >= g.lower_bound - 1e-12


@pytest.mark.slow
def test_the_multistart_incumbent_is_a_value_of_the_loss_and_prunes():
    """The seed is L~ at an actual point (no lower than the certified minimum) and prunes pieces at once."""
    from sdlscape.solvers.certify.incumbent import multistart_incumbent
    from sdlscape.theory.loss import approx_loss

    inst = random_unit(4, 2, ReLU(), n_latents=2, seed=0)
    seed = multistart_incumbent(inst, starts=8)
    mask = np.asarray(inst.activation.passes(seed.W_E @ inst.W_p, axis=0), dtype=bool)
    assert abs(approx_loss(inst, seed.W_D, seed.W_E, mask) - seed.value) <= 1e-12 * max(1.0, seed.value)
    with_seed = certify_global(inst, node_limit=20_000, incumbent_starts=8)
    without = certify_global(inst, node_limit=20_000, incumbent_starts=0)
    assert with_seed.certified and without.certified
    assert seed.value >= with_seed.lower_bound - 1e-12
    assert abs(with_seed.value - without.value) <= 1e-7 * without.value
    assert sum(p.nodes for p in with_seed.pieces) <= sum(p.nodes for p in without.pieces)
