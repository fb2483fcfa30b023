"""Tests of alternating convex search inside one piece: outcomes, certificates, Hessian classification."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.outcomes import Outcome
from sdlscape.solvers import blocks
from sdlscape.solvers.acs import piece_outcome, random_region_point, run_acs, solve_piece
from sdlscape.solvers.second_order import joint_hessian
from sdlscape.theory.activations import (
    TopK,
    TopKReLU,
    examples,
)
from sdlscape.theory.instance import Instance, example_3_5, random_unit
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import linear_piece


def _pat(inst, obj):
    return Pattern.parse(obj, inst.n, inst.n_latents)


def _loss_hessian_fd(inst, W_D, W_E, mask, h=1e-4):
    """Hessian of L~ by central second differences of the loss itself (not of approx_grad)."""
    x0 = np.concatenate([W_D.reshape(-1), W_E.reshape(-1)])
    nD = W_D.size

    def f(x):
        return approx_loss(inst, x[:nD].reshape(W_D.shape), x[nD:].reshape(W_E.shape), mask)

    m = x0.size
    H = np.zeros((m, m))
    for a in range(m):
        for b in range(a, m):
            ea, eb = np.eye(m)[a] * h, np.eye(m)[b] * h
            H[a, b] = H[b, a] = (f(x0 + ea + eb) - f(x0 + ea - eb) - f(x0 - ea + eb) + f(x0 - ea - eb)) / (4 * h * h)
    return H


# --- Example 3.5 --------------------------------------------------------------------------------

def test_example_3_5_partial_optimum_from_paper_point():
    inst = example_3_5()
    P = _pat(inst, [[0, 1], []])
    res = run_acs(linear_piece(inst, P), np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert res.outcome == "partial_optimum", res.reason
    assert abs(res.loss - 1.0) <= 1e-6
    assert np.allclose(res.W_D, [[0.5, 0.0], [0.5, 0.0]], atol=1e-8)  # the paper's W_D*
    assert np.allclose(res.W_E[0], [1.0, 1.0], atol=1e-8)
    cert = res.certificate
    assert 0 <= max(cert.decoder_gap, cert.encoder_gap) + 1e-15 <= cert.gap_tolerance
    assert cert.decoder_status == cert.encoder_status == "optimal"
    assert res.pressing == () and res.toward is None
    assert res.tolerances["eps"] == 1e-3 and res.tolerances["tol"] == 1e-9


def test_example_3_5_joint_hessian_classification():
    """Inside the region L~ = ||I - w z^T||^2 (latent 2 dead). By hand, in (w_D^1, z_1, z_2) the Hessian
    has eigenvalues {0, 0, 5, 5}: one zero is the rescaling symmetry (projected out), the other the
    rotation of the best rank-1 approximation of I_2 (it changes w z^T, so it is not a fibre of the
    reconstruction map): the classification is therefore 'undecided', projected eigenvalues {0, 5, 5}."""
    inst = example_3_5()
    P = _pat(inst, [[0, 1], []])
    res = run_acs(linear_piece(inst, P), np.array([[1.0, 1.0], [0.0, 0.0]]))
    hess = res.hessian
    assert hess["classification"] == "undecided"
    assert hess["invariances"] == {"kernel": 2, "dead": 2, "rescale": 1}
    # the reconstruction map (w, z) -> w z^T has rank 3 everywhere near: ker J = those 5 directions
    assert hess["constant_rank"] and hess["jacobian_rank"] == 3 and hess["projected_out"] == 5
    assert np.allclose(sorted(hess["eigenvalues"]), [0.0, 5.0, 5.0], atol=1e-6)
    # and no direction of the flat valley lowers L~ to second order: the full spectrum is >= 0
    assert min(hess["full_eigenvalues"]) >= -1e-6


def test_joint_hessian_matches_second_differences_of_the_loss():
    rng = np.random.default_rng(0)
    inst = random_unit(4, 3, "relu", n_latents=3, seed=3)
    W_E = rng.standard_normal((3, 3))
    W_D = rng.standard_normal((3, 3))
    mask = read_pattern(inst, W_E).mask
    H = joint_hessian(inst, W_D, W_E, mask)
    H_fd = _loss_hessian_fd(inst, W_D, W_E, mask)
    assert np.abs(H - H_fd).max() <= 1e-5 * max(1.0, np.abs(H).max())


# --- saddles and minima with known spectra ---------------------------------------------------------

def test_obtuse_features_give_a_saddle_partial_optimum():
    """relu, features at an obtuse angle (Gram eigenvalues 1.6, 0.4), one latent for both: the
    only stationary point inside the region is the second eigenvector, L~ = 2 - 0.4 = 1.6, a saddle."""
    inst = Instance(W_p=np.array([[1.0, -0.6], [0.0, 0.8]]), activation="relu", n_latents=2)
    P = _pat(inst, [[0, 1], []])
    res = solve_piece(linear_piece(inst, P), starts=1)  # the LP witness start
    s = res.starts[0]
    assert s.outcome == "partial_optimum"
    assert abs(s.loss - 1.6) <= 1e-8
    assert s.hessian["classification"] == "saddle"
    # independent check: along the negative eigenvector (lifted back) the true L~ goes down
    H = joint_hessian(inst, s.W_D, s.W_E, P.mask)
    w, V = np.linalg.eigh(H)
    v = V[:, 0]
    assert w[0] < -1e-3
    nD = s.W_D.size
    t = 1e-3
    W_D2, W_E2 = s.W_D + t * v[:nD].reshape(s.W_D.shape), s.W_E + t * v[nD:].reshape(s.W_E.shape)
    assert read_pattern(inst, W_E2) == P
    assert approx_loss(inst, W_D2, W_E2) < s.loss - 1e-8


def test_acute_features_give_a_local_min():
    """Features at 60 degrees (Gram eigenvalues 1.5, 0.5): the top eigenvector is inside the region,
    L~ = 0.5, a local minimum once the rescaling, dead-latent and kernel directions are projected out."""
    c, s_ = np.cos(np.pi / 3), np.sin(np.pi / 3)
    inst = Instance(W_p=np.array([[1.0, c], [0.0, s_]]), activation="relu", n_latents=2)
    res = solve_piece(linear_piece(inst, _pat(inst, [[0, 1], []])), starts=2, seed=1)
    assert res.outcome == "partial_optimum"
    assert abs(res.best_loss - 0.5) <= 1e-8
    for s in res.starts:
        assert s.outcome == "partial_optimum"
        assert s.hessian["classification"] == "local_min"
        assert min(s.hessian["eigenvalues"]) > 0


def test_obtuse_features_leave_the_region_from_random_starts():
    inst = Instance(W_p=np.array([[1.0, -0.6], [0.0, 0.8]]), activation="relu", n_latents=2)
    P = _pat(inst, [[0, 1], []])
    res = solve_piece(linear_piece(inst, P), starts=3, seed=0, max_iter=200)
    left = [s for s in res.starts[1:] if s.outcome == "leaves_region"]
    assert left, [s.reason for s in res.starts]
    # the LP witness start certifies the saddle: any certified start makes the piece a partial optimum
    assert res.starts[0].outcome is Outcome.PARTIAL_OPTIMUM
    assert res.outcome is Outcome.PARTIAL_OPTIMUM and abs(res.best_loss - 1.6) <= 1e-8
    for s in left:
        p = s.pressing[0]
        assert p.kind == "stop" and p.latent == 0 and p.multiplier > 0
        assert s.toward == Pattern.parse([[1 - p.feature], []], 2, 2)
        assert s.loss < 1.6  # it went below the saddle's value on its way out


# --- invariants on random pieces ----------------------------------------------------------------

ACTS = examples()      # every registered activation, at its search parameters


def _random_piece(seed: int, act):
    """A random instance (n = 4, n_p = 3, 3 latents), the pattern a random encoder shows on it, and the
    generator that drew the encoder (for further draws)."""
    inst = random_unit(4, 3, act, n_latents=3, seed=seed)
    rng = np.random.default_rng(seed)
    return inst, read_pattern(inst, rng.standard_normal((3, 3)), act.linear_reading), rng


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS))
def test_acs_outcome_invariants(seed, act):
    inst, P, _ = _random_piece(seed, act)
    rz = linear_piece(inst, P).realizability
    assert rz.realizable
    res = run_acs(linear_piece(inst, P), rz.witness, max_iter=60)
    assert res.outcome in tuple(Outcome)
    hist = np.array(res.history)
    # ACS never increases L~ (beyond round-off)
    assert np.all(np.diff(hist) <= 1e-9 * np.maximum(1.0, hist[:-1]))
    assert res.tolerances["eps"] == 1e-3 and "tol" in res.tolerances
    reg = linear_piece(inst, P).region
    if res.outcome == "partial_optimum":
        c = res.certificate
        assert max(c.decoder_gap, c.encoder_gap) <= c.gap_tolerance
        assert res.pressing == ()
        assert reg.contains(res.W_E, tol=1e-7)
        assert abs(res.loss - approx_loss(inst, res.W_D, res.W_E, P.mask)) <= 1e-12 * max(1, res.loss)
        assert res.hessian["classification"] in ("local_min", "saddle", "undecided")
    elif res.outcome == "leaves_region":
        assert res.pressing and res.toward is not None and res.toward != P
        linear_piece(inst, res.toward)  # a valid pattern for the activation (raises otherwise)
        slack = reg.slack(res.W_E)
        for p in res.pressing:
            assert p.multiplier > 0 and slack[p.row] <= 1e-6
    else:
        assert res.reason


def test_same_seed_same_result():
    inst = random_unit(4, 3, TopKReLU(k=2), n_latents=3, seed=2)
    P = read_pattern(inst, np.random.default_rng(2).standard_normal((3, 3)), inst.activation.linear_reading)
    a = solve_piece(linear_piece(inst, P), starts=2, seed=7, max_iter=40).to_dict()
    b = solve_piece(linear_piece(inst, P), starts=2, seed=7, max_iter=40).to_dict()
    for sa, sb in zip(a["starts"], b["starts"]):
        assert sa["outcome"] == sb["outcome"] and sa["loss"] == sb["loss"]


def test_random_region_points_are_in_the_region_and_differ():
    inst = random_unit(5, 3, "relu", n_latents=3, seed=4)
    P = read_pattern(inst, np.random.default_rng(4).standard_normal((3, 3)))
    rz = linear_piece(inst, P).realizability
    reg = linear_piece(inst, P).region
    rng = np.random.default_rng(0)
    pts = [random_region_point(reg, rz.witness, rng) for _ in range(5)]
    assert all(reg.contains(p, tol=1e-9) for p in pts)
    assert min(np.abs(pts[i] - pts[j]).max() for i in range(5) for j in range(i)) > 1e-6


# --- inconclusive and bad input -----------------------------------------------------------------

def test_iteration_budget_exhausted_is_inconclusive():
    inst = random_unit(5, 3, "relu", n_latents=4, seed=2)
    P = read_pattern(inst, np.random.default_rng(1).standard_normal((4, 3)))
    res = run_acs(linear_piece(inst, P), linear_piece(inst, P).realizability.witness, max_iter=3)
    assert res.outcome == "inconclusive" and "no convergence" in res.reason
    assert res.iterations == 3 and len(res.history) == 4


def test_solver_failure_is_inconclusive(monkeypatch):
    monkeypatch.setitem(blocks.SOLVER_OPTIONS, "CLARABEL", {"max_iter": 1})
    monkeypatch.setitem(blocks.FALLBACKS, "CLARABEL", [])
    inst = random_unit(4, 3, "relu", n_latents=3, seed=1)
    P = read_pattern(inst, np.random.default_rng(1).standard_normal((3, 3)))
    res = run_acs(linear_piece(inst, P), linear_piece(inst, P).realizability.witness, fast_path=False)
    assert res.outcome == "inconclusive"
    assert res.stop["encoder_status"] != "optimal" and res.certificate is None


def test_unrealizable_piece():
    ang = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    inst = Instance(W_p=np.vstack([np.cos(ang), np.sin(ang)]), activation="relu", n_latents=1)
    res = solve_piece(linear_piece(inst, _pat(inst, [[0, 1, 2]])))
    assert not res.realizable and res.outcome == "inconclusive" and res.starts == ()
    assert res.to_dict()["best_loss"] is None


def test_bad_inputs():
    inst = example_3_5()
    P = _pat(inst, [[0, 1], []])
    with pytest.raises(InputError):
        run_acs(linear_piece(inst, P), np.array([[-1.0, 1.0], [0.0, 0.0]]))  # not in the region
    with pytest.raises(InputError):
        run_acs(linear_piece(inst, P), np.eye(3))
    with pytest.raises(InputError):
        solve_piece(linear_piece(inst, P), starts=0)
    with pytest.raises(InputError):
        run_acs(linear_piece(inst, P), solver="SCS")


def test_piece_result_contract():
    inst = example_3_5()
    d = solve_piece(linear_piece(inst, _pat(inst, [[0, 1], []])), starts=2).to_dict()
    assert d["realizable"] is True and d["outcome"] == "partial_optimum"
    assert abs(d["best_loss"] - 1.0) <= 1e-6
    for s in d["starts"]:
        assert set(s) >= {"outcome", "loss", "W_E", "W_D"}
        assert np.asarray(s["W_E"]).shape == (2, 2) and np.asarray(s["W_D"]).shape == (2, 2)


def test_a_feature_that_wants_to_start_activating():
    """Latent 0 must fire for features 0 and 1 (at 53 degrees) but not for feature 2 = (0.6, -0.8): the
    best direction for 0 and 1 (their bisector) has a positive code for feature 2, so the converged
    iterates press the 'off' row of (latent 0, feature 2): a start move toward [[0, 1, 2], []]."""
    inst = Instance(W_p=np.array([[1.0, 0.6, 0.6], [0.0, 0.8, -0.8]]), activation="relu", n_latents=2)
    P = _pat(inst, [[0, 1], []])
    res = solve_piece(linear_piece(inst, P), starts=2)
    assert res.outcome == "leaves_region" and res.best_loss is not None
    for s in res.starts:
        assert s.outcome == "leaves_region" and s.tolerances["stopped_by"] == "converged"
        p = s.pressing[0]
        assert (p.kind, p.latent, p.feature) == ("start", 0, 2) and p.multiplier > 0
        assert s.toward == _pat(inst, [[0, 1, 2], []])
        assert s.certificate.relaxed_gap > s.certificate.gap_tolerance
        # the code of feature 2 on latent 0 sits on its boundary z = 0
        assert abs(s.W_E[0] @ inst.W_p[:, 2]) <= 1e-7


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS))
def test_active_set_fast_path_agrees_with_cvxpy(seed, act):
    """When the active-set solve answers, it is the CVXPY optimum of the same block (value and KKT)."""
    from sdlscape.solvers.blocks import EncoderBlock, encoder_active_set
    inst, P, rng = _random_piece(seed, act)
    W_E = linear_piece(inst, P).realizability.witness
    piece = linear_piece(inst, P)
    block = EncoderBlock(piece)
    for _ in range(3):
        W_D = rng.standard_normal((inst.n_r, 3))
        ref = block.solve(W_D)
        assert ref.optimal
        guess = tuple(np.flatnonzero(ref.duals > 1e-7 * max(1.0, ref.value)))
        for S in (guess, ()):
            e = encoder_active_set(piece, W_D, W_E, S)
            if e is None:
                continue
            assert abs(e.value - ref.value) <= 1e-7 * max(1.0, ref.value)
            assert block.region.contains(e.W, tol=1e-9) and e.duals.min() >= 0


def test_fast_path_and_pure_cvxpy_reach_the_same_answer():
    c, s_ = np.cos(np.pi / 3), np.sin(np.pi / 3)
    cases = [(example_3_5(), [[0, 1], []]),
             (Instance(W_p=np.array([[1.0, c], [0.0, s_]]), activation="relu", n_latents=2), [[0, 1], []]),
             (Instance(W_p=np.array([[1.0, 0.6, 0.6], [0.0, 0.8, -0.8]]), activation="relu", n_latents=2),
              [[0, 1], []])]
    for inst, pat in cases:
        P = _pat(inst, pat)
        W0 = linear_piece(inst, P).realizability.witness
        a = run_acs(linear_piece(inst, P), W0, fast_path=True)
        b = run_acs(linear_piece(inst, P), W0, fast_path=False)
        assert a.outcome == b.outcome
        assert abs(a.loss - b.loss) <= 1e-7 * max(1.0, b.loss)
        assert b.tolerances["qp_solves"] >= a.tolerances["qp_solves"]


def test_hessian_projection_contains_the_explicit_invariances():
    inst = random_unit(5, 3, TopK(k=2), n_latents=4, seed=2)
    P = read_pattern(inst, np.random.default_rng(1).standard_normal((4, 3)), inst.activation.linear_reading)
    res = solve_piece(linear_piece(inst, P), starts=2)
    opt = [s for s in res.starts if s.outcome == "partial_optimum"]
    assert opt
    for s in opt:
        h = s.hessian
        assert h["explicit_in_kernel"] <= 1e-8  # rescaling, dead rows and encoder kernel lie in ker J
        assert h["invariance_residual"] <= 1e-6 * max(1.0, max(abs(x) for x in h["full_eigenvalues"]))


def test_piece_outcome_is_partial_optimum_if_any_start_certified_one():
    Oc = Outcome
    assert piece_outcome([Oc.LEAVES_REGION, Oc.PARTIAL_OPTIMUM, Oc.INCONCLUSIVE]) is Oc.PARTIAL_OPTIMUM
    assert piece_outcome([Oc.INCONCLUSIVE, Oc.LEAVES_REGION, Oc.INCONCLUSIVE]) is Oc.LEAVES_REGION
    assert piece_outcome([Oc.INCONCLUSIVE]) is Oc.INCONCLUSIVE
    assert piece_outcome([]) is Oc.INCONCLUSIVE
