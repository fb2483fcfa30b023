"""The certifier's bounds are sound (sampled points never beat them), its values exact on tiny instances."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.solvers.certify import certify_piece, interval
from sdlscape.solvers.certify.bnb import branch_and_bound
from sdlscape.solvers.certify.bounds import captured_energy, g_constant, node_bound
from sdlscape.solvers.certify.reduce import reduce_piece
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, TopKReLU
from sdlscape.theory.instance import Instance, example_3_5, random_unit, transcoder_pair
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import linear_piece


def best_loss(piece, W_E):
    """min over W_D of L~ at W_E on the piece (least squares)."""
    from sdlscape.solvers.certify.piece_cert import least_squares_decoder

    return piece.loss(least_squares_decoder(piece, W_E), W_E)


def loss_tolerance(piece, W_E):
    """Float error of best_loss at W_E: least squares loses u kappa(B) ||R||^2 (B the scaled codes)."""
    inst = piece.instance
    B = piece.codes(W_E) * np.sqrt(inst.M)[None, :]
    sv = np.linalg.svd(B, compute_uv=False)
    sv = sv[sv > 1e-14 * max(sv.max(initial=0.0), 1e-300)]
    kappa = float(sv.max() / sv.min()) if sv.size else 1.0
    return 64 * np.finfo(float).eps * kappa * float(np.sum(inst.M * np.sum(inst.W_r ** 2, axis=0)))


def random_piece(seed, act, n=4, n_p=2, q=2, transcoder=False):
    rng = np.random.default_rng(seed)
    inst = (transcoder_pair(n, n_p, 3, act, n_latents=q, seed=seed % 11) if transcoder
            else random_unit(n, n_p, act, n_latents=q, seed=seed % 11))
    W_E = rng.standard_normal((q, n_p))
    pat = read_pattern(inst, W_E, inst.activation.linear_reading)
    return inst, linear_piece(inst, pat, 1e-3), W_E, rng


def evaluation_error(piece, W_D, W_E):
    """Float error of L~ at (W_D, W_E): each code c = mask (W_E W_p) errs by <= 16 u |W_E| |W_p| (a point near a
    rank drop has large W_E and cancelling products: a code 2e-3 from entries 6e5), and each residual entry
    w_r - W_D c by <= 16 u (|w_r| + |W_D| |c|) + |W_D| (the codes' error)."""
    inst = piece.instance
    C = piece.codes(W_E)
    u16 = 16 * np.finfo(float).eps
    code_err = piece.loss_mask * (u16 * np.abs(W_E) @ np.abs(inst.W_p))
    err = u16 * (np.abs(inst.W_r) + np.abs(W_D) @ np.abs(C)) + np.abs(W_D) @ code_err
    res = inst.W_r - W_D @ C
    return float(np.sum(inst.M * np.sum(2 * np.abs(res) * err + err * err, axis=0)))


def exact_loss(piece, W_D, W_E):
    """L~ at the float (W_D, W_E) in exact rational arithmetic."""
    from fractions import Fraction

    inst = piece.instance
    F = np.vectorize(lambda x: Fraction(float(x)), otypes=[object])
    Wr, Wp, M, WD, WE = F(inst.W_r), F(inst.W_p), F(inst.M), F(W_D), F(W_E)
    C = (WE @ Wp) * piece.loss_mask.astype(int)
    res = Wr - WD @ C
    return sum(M[d] * sum(res[r, d] ** 2 for r in range(res.shape[0])) for d in range(res.shape[1]))


ACTS = {"relu": ReLU(), "jumprelu": JumpReLU(theta=0.3), "topk_relu": TopKReLU(k=1)}


# -- soundness: no point of a piece lies below its certified lower bound ----------------------------

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), act=st.sampled_from(sorted(ACTS)), n_p=st.sampled_from([2, 3]),
       transcoder=st.booleans())
def test_no_point_of_a_piece_below_its_lower_bound(seed, act, n_p, transcoder):
    inst, piece, W_E, rng = random_piece(seed, ACTS[act], n=4, n_p=n_p, q=2, transcoder=transcoder)
    if not piece.realizable:
        return
    cert = certify_piece(piece, node_limit=2000)     # a node budget: the same statuses on any machine
    if cert.status is CertifyStatus.INCONCLUSIVE and cert.reason is CertifyReason.UNSUPPORTED:
        return
    # the sampled encoder and random perturbations of it that keep the pattern
    pts = [W_E] + [W_E + s * rng.standard_normal(W_E.shape) for s in (1e-3, 1e-2, 0.1, 0.3) for _ in range(5)]
    for W in pts:
        if piece.reads_back(W):
            assert best_loss(piece, W) >= cert.lower_bound - loss_tolerance(piece, W)
    if cert.value is not None:
        assert cert.value >= cert.lower_bound - 1e-12
        assert piece.contains(cert.minimiser_W_E, tol=0.0) and piece.reads_back(cert.minimiser_W_E)
        W_D, W_E = cert.minimiser_W_D, cert.minimiser_W_E
        # the value is the upper end of L~ in interval arithmetic at the minimiser; the float L~ lies in that
        # interval (up to its own rounding error): near a rank drop the interval is wider than 1e-9 (cancellation)
        iv = interval.loss_interval(inst, W_D, W_E, piece.loss_mask)
        assert cert.value == interval.hi(iv)
        assert interval.lo(iv) <= exact_loss(piece, W_D, W_E) <= interval.hi(iv)     # the interval encloses L~
        err = evaluation_error(piece, W_D, W_E)
        assert interval.lo(iv) - err <= piece.loss(W_D, W_E) <= interval.hi(iv) + err


def _random_node(red, rng):
    """A random sub-simplex of each free row's polytope (its vertices: random points of the polytope)."""
    Ws = []
    for c in red.free:
        s = c.simplices[rng.integers(len(c.simplices))]
        V = c.vertices[list(s)]
        lam = rng.dirichlet(np.ones(len(s)), size=len(s))
        shrink = 10.0 ** rng.uniform(-4, 0)
        centre = lam.mean(axis=0)
        lam = centre + shrink * (lam - centre)
        Ws.append(lam @ V)
    return tuple(Ws)


def _max_violation(remainder_factor, seeds, n_p=2):
    """Largest phi(point) - bound over random nodes and random points in them."""
    worst = -np.inf
    for seed in seeds:
        inst, piece, _, rng = random_piece(seed, ReLU(), n=4, n_p=n_p, q=2, transcoder=True)
        if not piece.realizable:
            continue
        red = reduce_piece(piece)
        if red.k == 0:
            continue
        cG, trG = g_constant(red.Gr, red.k), float(np.trace(red.G))
        for _ in range(30):
            Ws = _random_node(red, rng)
            V = [W @ L.T for W, L in zip(Ws, red.maps)]
            bound, _, _ = node_bound(V, red.Gr, cG, trG, remainder_factor)
            for _ in range(10):
                W = np.stack([rng.dirichlet(np.ones(len(Wi))) @ Wi for Wi in Ws])
                worst = max(worst, captured_energy(red.reduced_rows(W), red.Gr).phi - bound)
    return worst


def test_node_bound_is_never_beaten_by_points_of_its_node():
    assert _max_violation(3.0, range(40)) <= 0.0
    assert _max_violation(3.0, range(12), n_p=3) <= 0.0


def test_a_bound_without_its_remainder_term_is_caught():
    """Dropping the second-order remainder (factor 0) makes the perturbation bound unsound: found."""
    from sdlscape.solvers.certify import bounds

    saved = bounds.subspace_bound
    bounds.subspace_bound = lambda V, G, k, *dims: np.inf       # only the perturbation bound decides
    try:
        assert _max_violation(0.0, range(40)) > 0.0
        assert _max_violation(3.0, range(40)) <= 0.0
    finally:
        bounds.subspace_bound = saved


def test_gradient_matches_finite_differences():
    inst, piece, _, rng = random_piece(3, ReLU(), n=5, n_p=2, q=2, transcoder=True)
    red = reduce_piece(piece)
    B = rng.standard_normal((2, red.m))
    pv = captured_energy(B, red.Gr)
    E = rng.standard_normal(B.shape)
    h = 1e-6
    fd = (captured_energy(B + h * E, red.Gr).phi - captured_energy(B - h * E, red.Gr).phi) / (2 * h)
    assert abs(fd - float(np.sum(pv.grad * E))) < 1e-6 * max(1.0, abs(fd))


# -- exact values --------------------------------------------------------------------------------

def test_example_3_5_exact_values():
    """Top-1 o ReLU, W_p = W_r = I (Example 3.5): piece minima 0, 1, 1, 1, 2 (sympy: the paper's values)."""
    from sdlscape.theory.symbolic import example_3_5_exact

    ex = example_3_5_exact()
    inst = example_3_5()
    expect = {"[[0],[1]]": 0, "[[],[0,1]]": 1, "[[],[0]]": 1, "[[],[1]]": 1, "[[],[]]": 2}
    for key, v in expect.items():
        pat = Pattern.parse(eval(key), 2, 2)
        c = certify_piece(linear_piece(inst, pat))
        assert c.certified and abs(c.value - v) <= 1e-7 * max(1, v) + 1e-12 and c.lower_bound <= v
    assert ex is not None


def _exact_single_latent(W_p, features, cell_vertices):
    """inf of L~ for one latent on cell F: ||R||^2 - max over the closed segment of the Rayleigh quotient
    b^T G b / b^T b (b = D a(w), w on the normalised segment), solved exactly by sympy."""
    Wp = sp.Matrix(W_p)
    G = Wp.T * Wp
    t = sp.Symbol("t", real=True)
    w0, w1 = (sp.Matrix([sp.nsimplify(x, rational=True) for x in v]) for v in cell_vertices)
    w = (1 - t) * w0 + t * w1
    a = sp.Matrix([(Wp[:, d].T * w)[0] if d in features else 0 for d in range(Wp.cols)])
    rq = sp.simplify((a.T * G * a)[0] / (a.T * a)[0])
    crit = [s for s in sp.solve(sp.numer(sp.together(sp.diff(rq, t))), t) if s.is_real and 0 <= s <= 1]
    best = max(rq.subs(t, s) for s in [sp.Integer(0), sp.Integer(1)] + crit)
    return sp.nsimplify(G.trace() - best)


@pytest.mark.parametrize("features", [(0, 1), (0, 1, 2), (1, 2)])
def test_single_latent_values_match_sympy(features):
    # unit columns with rational entries: (1, 0), (3/5, 4/5), (0, 1)
    W_p = np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 1.0]])
    inst = Instance(W_p=W_p, activation=ReLU(), n_latents=1)
    pat = Pattern.parse([list(features)], 3, 1)
    piece = linear_piece(inst, pat)
    if not piece.realizable:
        pytest.skip("cell not realizable")
    red = reduce_piece(piece)
    assert red.k == 1
    V = red.free[0].vertices
    exact = float(_exact_single_latent(W_p, features, V))
    c = certify_piece(piece)
    assert c.certified
    assert c.lower_bound <= exact + 1e-12 and abs(c.value - exact) <= 1e-7 * exact + 1e-12


def test_boundary_infimum_is_reported_with_its_face():
    """relu_n3 piece [[0],[1,2]]: ACS leaves the region; the infimum (value 1) is on the face where latent
    1's code of feature 2 vanishes, and the minimiser is an interior point."""
    inst = random_unit(3, 2, "relu", n_latents=2, seed=0)
    piece = linear_piece(inst, Pattern.parse([[0], [1, 2]], 3, 2))
    c = certify_piece(piece)
    assert c.certified and c.infimum_on_boundary and c.boundary_face == ((1, (2,)),)
    assert abs(c.value - 1.0) < 1e-7 and piece.contains(c.minimiser_W_E, tol=0.0)


def test_time_limit_gives_inconclusive_with_valid_bounds():
    inst = random_unit(8, 2, "relu", n_latents=2, seed=3)
    piece = linear_piece(inst, Pattern.parse([[0, 2, 5, 7], [0, 3, 4, 5, 6, 7]], 8, 2))   # closes in ~7000 nodes
    c = certify_piece(piece, node_limit=5)
    assert not c.certified and c.status is CertifyStatus.INCONCLUSIVE and c.reason is CertifyReason.NODE_LIMIT
    assert c.value is None or c.lower_bound <= c.value


def test_plain_topk_has_its_own_reduction():
    """Plain TopK is no longer refused: its pieces go to certify/topk_plain.py (tests/solvers/test_certify_topk_plain.py)."""
    inst = random_unit(4, 2, TopK(k=1), n_latents=2, seed=0)
    spec_pat = read_pattern(inst, np.eye(2), inst.activation.linear_reading)
    c = certify_piece(linear_piece(inst, spec_pat))
    assert c.reason is not CertifyReason.UNSUPPORTED and c.detail["reduction"] == "topk_plain"


def test_bnb_cutoff_prunes_but_keeps_a_valid_bound():
    inst = random_unit(4, 2, "relu", n_latents=2, seed=0)
    piece = linear_piece(inst, Pattern.parse([[0, 1], [2, 3]], 4, 2))
    if not piece.realizable:
        pytest.skip("not realizable")
    red = reduce_piece(piece)
    full = branch_and_bound(red)
    cut = branch_and_bound(red, L_cutoff=0.0)           # every node is above L~ = 0: pruned at once
    assert cut.nodes <= full.nodes and cut.phi_upper >= full.phi_best - 1e-12


@pytest.mark.parametrize("pattern", [[[], [], [1]], [[], [0], [1]]])
def test_fixed_rows_on_an_off_face_are_still_realised(pattern):
    """Pieces with no free row whose realizability witness lies on an OFF face (a code 0 up to rounding):
    the fixed directions are taken deep inside the cell, so an interior point is realised and certified."""
    inst = random_unit(4, 2, "relu", n_latents=3, seed=0)
    piece = linear_piece(inst, Pattern.parse(pattern, 4, 3), 1e-3)
    c = certify_piece(piece, node_limit=5000)
    assert c.status is CertifyStatus.CERTIFIED and c.value is not None
    assert piece.contains(c.minimiser_W_E, tol=0.0) and piece.reads_back(c.minimiser_W_E)
    assert abs(approx_loss(inst, c.minimiser_W_D, c.minimiser_W_E, piece.loss_mask) - c.value) <= 1e-9


def test_what_is_not_certified_is_said_in_the_result():
    """Plain TopK(k >= 2) is certified as a lower bound only (the passing sets' shared latents decoupled), and the
    result says so; JumpReLU's pieces are certified through the cone of directions of a cell, and the result
    names that reduction. (An unsupported activation: tests/api/test_topk_jumprelu.py.)"""
    from sdlscape.solvers.certify import certify_global

    g = certify_global(random_unit(4, 3, TopK(k=2), n_latents=3, seed=0), node_limit=100, incumbent_starts=2)
    assert g.detail["reduction"] == "topk_plain" and "LOWER BOUND only" in g.detail["certifies"]
    assert all(p.value is None and p.reason is not CertifyReason.UNSUPPORTED for p in g.pieces)
    from sdlscape.solvers.certify.global_min import what_is_certified

    assert "cone of directions" in what_is_certified(random_unit(4, 2, JumpReLU(theta=0.3), n_latents=2, seed=0))
    assert what_is_certified(random_unit(4, 2, ReLU(), n_latents=2, seed=0)).startswith("the infimum of L~")
    inst = random_unit(4, 2, JumpReLU(theta=0.3), n_latents=2, seed=0)
    pat = read_pattern(inst, np.array([[1.0, 0.2], [-0.3, 1.0]]), inst.activation.linear_reading)
    c = certify_piece(linear_piece(inst, pat), node_limit=2000)
    assert c.detail["reduction"] == "jump_threshold" and c.reason is not CertifyReason.UNSUPPORTED
