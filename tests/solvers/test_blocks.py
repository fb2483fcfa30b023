"""Tests of the exact convex blocks: decoder (CVXPY vs closed form), encoder (KKT from CVXPY duals)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.solvers import blocks
from sdlscape.solvers.acs import scaled_witness
from sdlscape.solvers.blocks import (
    DecoderBlock,
    EncoderBlock,
    decoder_closed_form,
    encoder_problem_fresh,
)
from sdlscape.theory.activations import ReLU, examples
from sdlscape.theory.instance import random_unit, transcoder_pair
from sdlscape.theory.patterns import read_pattern
from sdlscape.theory.piece import linear_piece

ACTS = examples()      # every registered activation, at its search parameters


def _piece(seed, act, n=6, n_p=4, n_latents=4, transcoder=False):
    """A random instance and the pattern of a random encoder, with a point of its region."""
    if transcoder:
        inst = transcoder_pair(n, n_p, 3, act, n_latents=n_latents, seed=seed)
    else:
        inst = random_unit(n, n_p, act, n_latents=n_latents, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    inst = inst.with_(M=rng.uniform(0.2, 2.0, n))
    pattern = read_pattern(inst, rng.standard_normal((n_latents, n_p)), act.linear_reading)
    piece = linear_piece(inst, pattern)
    rz = piece.realizability
    assert rz.realizable
    # the LP witness has codes of the size of the margin; scaled to unit rows where the region is a cone
    W_E = scaled_witness(piece, rz.witness)
    return inst, pattern, W_E, rng


def _masked_design(inst, mask, W_D):
    """L~ for fixed W_D as ||b - A vec(W_E)||^2, built entry by entry (independent of the package)."""
    nl, n_p = mask.shape[0], inst.n_p
    A = np.zeros((inst.n * inst.n_r, nl * n_p))
    b = np.zeros(inst.n * inst.n_r)
    for d in range(inst.n):
        s = np.sqrt(inst.M[d])
        for r in range(inst.n_r):
            row = d * inst.n_r + r
            b[row] = s * inst.W_r[r, d]
            for i in range(nl):
                if mask[i, d]:
                    for j in range(n_p):
                        A[row, i * n_p + j] = s * W_D[r, i] * inst.W_p[j, d]
    return A, b


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS), solver=st.sampled_from(["CLARABEL", "OSQP"]),
       transcoder=st.booleans(), n_latents=st.sampled_from([4, 8]))
def test_decoder_cvxpy_matches_closed_form(seed, act, solver, transcoder, n_latents):
    """n_latents = 8 > n = 6 makes the codes rank-deficient: then only W_D Q and L~ are unique."""
    inst, pattern, W_E, rng = _piece(seed, act, n_latents=n_latents, transcoder=transcoder)
    if act.positively_homogeneous:
        W_E = W_E * rng.uniform(1.0, 3.0)  # any point of the region (cones: scaling up stays inside)
    cf = decoder_closed_form(inst, W_E, pattern.mask)
    sol = DecoderBlock(linear_piece(inst, pattern), solver).solve(W_E)
    assert sol.status == "optimal"
    from sdlscape.theory.loss import approx_loss
    L_cf = approx_loss(inst, cf, W_E, pattern.mask)
    # the values agree to 1e-8 (relative), whatever the solver
    assert abs(sol.value - L_cf) <= 1e-8 * max(1.0, L_cf)
    # the fitted reconstructions W_D Q (unique even when W_D is not) agree to 1e-8 as well
    Q = np.where(pattern.mask, W_E @ inst.W_p, 0.0)
    assert np.linalg.norm(sol.W @ Q - cf @ Q) <= 1e-8 * max(1.0, np.linalg.norm(cf @ Q))
    # where W_D is unique (the live code rows have full row rank), the matrices agree too
    live = pattern.mask.any(axis=1)
    if np.linalg.matrix_rank(Q[live]) == live.sum():
        assert np.linalg.norm(sol.W - cf) <= 1e-8 * max(1.0, np.linalg.norm(cf))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS))
def test_decoder_closed_form_is_least_squares_optimum(seed, act):
    """No perturbation of the closed-form W_D lowers L~ (it minimizes a convex quadratic)."""
    from sdlscape.theory.loss import approx_loss
    inst, pattern, W_E, rng = _piece(seed, act)
    W_D = decoder_closed_form(inst, W_E, pattern.mask)
    L0 = approx_loss(inst, W_D, W_E, pattern.mask)
    for _ in range(20):
        P = rng.standard_normal(W_D.shape) * 10 ** rng.uniform(-4, 0)
        assert approx_loss(inst, W_D + P, W_E, pattern.mask) >= L0 - 1e-12 * max(1.0, L0)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS), solver=st.sampled_from(["CLARABEL", "OSQP"]),
       transcoder=st.booleans())
def test_encoder_block_satisfies_kkt(seed, act, solver, transcoder):
    """Stationarity of the Lagrangian (numpy), complementary slackness, primal and dual feasibility."""
    inst, pattern, W_E, rng = _piece(seed, act, transcoder=transcoder)
    W_D = rng.standard_normal((inst.n_r, inst.n_latents))
    block = EncoderBlock(linear_piece(inst, pattern), solver=solver)
    sol = block.solve(W_D)
    assert sol.status == "optimal", sol.solver
    reg = block.region
    lam, w = sol.duals, sol.W.reshape(-1)
    A, b = _masked_design(inst, pattern.mask, W_D)
    grad = 2.0 * A.T @ (A @ w - b)
    scale = max(1.0, np.abs(grad).max(), np.abs(lam).max())
    tol = 1e-6 * scale
    assert np.abs(grad + reg.G.T @ lam).max() <= tol, "stationarity"
    assert lam.min() >= -tol, "dual feasibility"
    slack = reg.h - reg.G @ w
    assert slack.min() >= -1e-7 * max(1.0, np.abs(w).max()), "primal feasibility"
    assert np.abs(lam * slack).max() <= tol, "complementary slackness"
    # the value is L~ (A w = b is the masked loss): independent evaluation
    assert abs(sol.value - float(np.sum((A @ w - b) ** 2))) <= 1e-9 * max(1.0, sol.value)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS))
def test_encoder_dpp_resolve_matches_fresh_build(seed, act):
    inst, pattern, _, rng = _piece(seed, act)
    block = EncoderBlock(linear_piece(inst, pattern))
    assert block.problem.is_dpp()
    first_prog = None
    for _ in range(3):
        W_D = rng.standard_normal((inst.n_r, inst.n_latents))
        a = block.solve(W_D)
        if first_prog is None:
            first_prog = block.problem._cache.param_prog
        b = encoder_problem_fresh(linear_piece(inst, pattern), W_D)
        assert a.status == b.status == "optimal"
        assert abs(a.value - b.value) <= 1e-7 * max(1.0, b.value)
    assert block.problem._cache.param_prog is first_prog, "re-solving recompiled the problem"


def test_encoder_block_lower_than_any_region_point():
    """The block minimum is no larger than L~ at random feasible points of the region."""
    from sdlscape.solvers.acs import random_region_point
    from sdlscape.theory.loss import approx_loss
    inst, pattern, W_E, rng = _piece(3, ReLU(), n=5, n_p=3, n_latents=3)
    block = EncoderBlock(linear_piece(inst, pattern))
    W_D = rng.standard_normal((inst.n_r, inst.n_latents))
    sol = block.solve(W_D)
    for _ in range(30):
        P = random_region_point(block.region, W_E, rng)
        assert block.region.contains(P, tol=1e-9)
        assert sol.value <= approx_loss(inst, W_D, P, pattern.mask) + 1e-9


def test_non_optimal_status_is_reported(monkeypatch):
    """A solve stopped early reports its status (never 'optimal'), and fallback=False keeps it."""
    inst, pattern, _, rng = _piece(5, ReLU())
    monkeypatch.setitem(blocks.SOLVER_OPTIONS, "CLARABEL", {"max_iter": 1})
    sol = EncoderBlock(linear_piece(inst, pattern), fallback=False).solve(rng.standard_normal((inst.n_r, inst.n_latents)))
    assert sol.status != "optimal" and not sol.optimal
    assert np.isnan(sol.value)
    # with the fallback another solver answers, and says so
    sol2 = EncoderBlock(linear_piece(inst, pattern)).solve(rng.standard_normal((inst.n_r, inst.n_latents)))
    assert sol2.status == "optimal" and "fallback" in sol2.solver


def test_bad_inputs_raise_input_error():
    inst, pattern, W_E, _ = _piece(1, ReLU())
    with pytest.raises(InputError):
        EncoderBlock(linear_piece(inst, pattern), solver="NOPE")
    with pytest.raises(InputError):
        DecoderBlock(linear_piece(inst, pattern)).solve(W_E[:, :2])
    other = random_unit(7, 4, "relu", n_latents=4, seed=0)
    with pytest.raises(InputError):
        DecoderBlock(linear_piece(other, pattern))


def test_every_latent_dead():
    """With every latent dead L~ does not depend on W_D: the decoder block is W_D = 0 (as the closed form)."""
    from sdlscape.theory.instance import orthogonal
    from sdlscape.theory.patterns import Pattern
    inst = orthogonal(2, "relu")
    P = Pattern.parse([[], []], 2, 2)
    W_E = -np.eye(2)
    sol = DecoderBlock(linear_piece(inst, P)).solve(W_E)
    assert sol.optimal and np.array_equal(sol.W, np.zeros((2, 2)))
    assert np.array_equal(decoder_closed_form(inst, W_E, P.mask), np.zeros((2, 2)))
    assert sol.value == pytest.approx(2.0)
    enc = EncoderBlock(linear_piece(inst, P)).solve(np.ones((2, 2)))
    assert enc.optimal and enc.value == pytest.approx(2.0)
