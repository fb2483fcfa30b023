"""The closed-form / sampled bounds bracket the enumerated cells and pieces, degenerate instances included."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.solvers.arrangement import latent_cells
from sdlscape.solvers.landscape import count_pieces
from sdlscape.solvers.piece_bounds import check_enumerable, piece_bounds
from sdlscape.theory.activations import JumpReLU, TopK, TopKReLU
from sdlscape.theory.instance import Instance


def _instance(seed: int, n: int, n_p: int, nl: int, act, degenerate: bool) -> Instance:
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_p, n))
    if degenerate and n >= 3:          # a repeated column and an antiparallel one
        W[:, 1] = W[:, 0]
        W[:, 2] = -W[:, 0]
    return Instance(W_p=W / np.linalg.norm(W, axis=0), activation=act, n_latents=nl, name=f"s{seed}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6), n_p=st.integers(1, 3), nl=st.integers(1, 3),
       theta=st.sampled_from([0.0, 0.3]), degenerate=st.booleans())
def test_separable_bounds_bracket_the_enumeration(seed, n, n_p, nl, theta, degenerate):
    act = "relu" if theta == 0 else JumpReLU(theta=theta)
    inst = _instance(seed, n, n_p, nl, act, degenerate)
    b = piece_bounds(inst, 1e-3)
    cells = len(latent_cells(inst, 1e-3).cells)
    assert b.cells_lower <= cells <= b.cells_upper
    pieces = math.comb(cells + nl - 1, nl)
    assert b.pieces_lower <= pieces <= b.pieces_upper


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), nl=st.integers(2, 3), relu=st.booleans())
def test_coupled_bounds_bracket_the_enumeration(seed, n, nl, relu):
    act = TopKReLU(k=1) if relu else TopK(k=1)
    inst = _instance(seed, n, 2, nl, act, False)
    b = piece_bounds(inst, 1e-3)               # no max_pieces: the sampled lower bound always runs
    found = count_pieces(inst, 1e-3, max_pieces=10_000).n_pieces
    assert 1 <= b.pieces_lower <= found <= b.pieces_upper


def test_relu_lower_bound_is_exact_in_general_position():
    # 2 sum_{i<k} C(n-1, i) chambers for n generic hyperplanes in R^k; the bound 2^k / 2n is below it
    inst = _instance(3, 5, 2, 1, "relu", False)
    assert piece_bounds(inst, 1e-3).cells_lower == 10 == len(latent_cells(inst, 1e-3).chambers)


def test_check_enumerable_refuses_at_once_and_names_the_option(monkeypatch):
    import sdlscape.solvers.arrangement as A

    monkeypatch.setattr(A, "central_sets", lambda *a, **k: pytest.fail("enumeration started"))
    inst = _instance(0, 30, 10, 10, "relu", False)
    with pytest.raises(InputError, match="more than --max-pieces 2000"):
        check_enumerable(inst, 2000, 1e-3)
    small = _instance(0, 3, 2, 2, "relu", False)
    assert check_enumerable(small, 2000, 1e-3).pieces_upper <= 2000


def test_topk_guard_refuses_before_the_search():
    inst = _instance(0, 30, 10, 10, TopK(k=2), False)
    with pytest.raises(InputError, match="at least .* pieces .*more than --max-pieces 2000"):
        check_enumerable(inst, 2000, 1e-3)
