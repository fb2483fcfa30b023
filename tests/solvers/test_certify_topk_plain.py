"""Plain TopK in the certifier (solvers/certify/topk_plain.py): hand-derived values, soundness, what is claimed.

The hand instance: w_p = (c, s), (c, -s), -(c, s), -(c, -s) in R^2 with c = cos 30deg, s = sin 30deg, W_r = W_p,
M = 1, TopK(1), 2 latents. Latent 0 passes feature d iff u . p_d > 0 (u = w_0 - w_1), so each latent takes one
of every antipodal pair: the pieces are {p1, p2 | p3, p4} and {p1, p4 | p2, p3} (up to relabelling). Both
latents' Gram matrices are diag(2 c^2, 2 s^2) on every piece, so each piece's rank-one relaxation is
2 (2 - 2 c^2) = 4 s^2 = 1, with top eigenvector e1 for both latents. On the first piece w_0 = 2 e1, w_1 = e1
realises it (u = e1: u . p1 = u . p2 = c > 0), so the global minimum is 1. On the second the optimiser needs
u = (c_0 - c_1) e1 with u . (c, s) >= 0 and u . (-c, s) >= 0, i.e. c_0 = c_1: every code tied, on the closed
region's apex; points of the piece near it (u -> 0) reach 1 in the limit, so that piece's infimum is 1 too,
approached only at its boundary.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_certify import best_loss, loss_tolerance  # tests/solvers is on sys.path (pytest prepend mode, no __init__)

from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.solvers.certify import certify_global, certify_piece
from sdlscape.solvers.certify.incumbent import multistart_incumbent
from sdlscape.solvers.certify.topk_plain import group_bound, relaxed_bound
from sdlscape.theory.activations import Reduction, TopK
from sdlscape.theory.instance import Instance, random_unit, transcoder_pair
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import linear_piece


def hand_instance() -> Instance:
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    W_p = np.array([[c, c, -c, -c], [s, -s, -s, s]])
    return Instance(W_p=W_p, activation=TopK(k=1), n_latents=2)


def test_plain_topk_answers_its_own_reduction():
    assert TopK(k=1).certifier_reduction is Reduction.TOPK_PLAIN
    assert TopK(k=1).passes_negative_codes and TopK(k=1).positively_homogeneous


def test_hand_instance_global_minimum_is_certified_at_one():
    inst = hand_instance()
    g = certify_global(inst)
    assert g.certified and abs(g.value - 1.0) <= 1e-9 and g.lower_bound <= 1.0 <= g.value + 1e-12
    assert g.detail["reduction"] == "topk_plain" and "rank-one" in g.detail["certifies"]
    assert g.minimiser.minimiser_W_E is not None
    W_E = g.minimiser.minimiser_W_E
    piece = linear_piece(inst, read_pattern(inst, W_E, inst.activation.linear_reading))
    assert piece.reads_back(W_E) and abs(approx_loss(inst, g.minimiser.minimiser_W_D, W_E, piece.loss_mask)
                                         - g.value) <= 1e-12


def test_hand_pieces_both_reach_one_one_only_at_its_boundary():
    inst = hand_instance()
    for pat, margin in (([[0, 1], [2, 3]], 0.5), ([[0, 3], [1, 2]], 0.0)):
        c = certify_piece(linear_piece(inst, Pattern.parse(pat, 4, 2)))
        assert c.status is CertifyStatus.CERTIFIED and abs(c.value - 1.0) <= 1e-9 and c.lower_bound <= 1.0
        assert abs(c.detail["lp_margin"] - margin) <= 0.5 if margin else abs(c.detail["lp_margin"]) <= 1e-12


def test_a_piece_whose_relaxed_optimiser_is_outside_keeps_its_bound():
    """random_unit(6, 3, TopK(1), 2 latents, seed 0), piece [[0,1,4],[2,3,5]]: the LP over the optimisers' signs
    has negative margin; the piece is inconclusive (not_realised) with the relaxed bound, which no sampled point
    of the piece beats; with a cutoff at or below the bound it is pruned."""
    inst = random_unit(6, 3, TopK(k=1), n_latents=2, seed=0)
    piece = linear_piece(inst, Pattern.parse([[0, 1, 4], [2, 3, 5]], 6, 2))
    c = certify_piece(piece)
    assert c.status is CertifyStatus.INCONCLUSIVE and c.reason is CertifyReason.NOT_REALISED and c.value is None
    assert c.detail["lp_margin"] < -0.1 and "outside the closed region" in c.detail["why"]
    rng = np.random.default_rng(0)
    W0 = piece.realizability.witness
    seen = 0
    for s in (0.0, 0.1, 0.3, 1.0, 3.0):
        for _ in range(40):
            W = W0 + s * rng.standard_normal(W0.shape) * np.linalg.norm(W0)
            if piece.reads_back(W):
                seen += 1
                assert best_loss(piece, W) >= c.lower_bound - loss_tolerance(piece, W)
    assert seen > 20
    assert certify_piece(piece, L_cutoff=c.lower_bound).status is CertifyStatus.PRUNED


def test_hand_instance_brute_force_finds_nothing_below_the_bound():
    """Multistart L-BFGS over eq. 11 (W_D eliminated), 40 starts: every point is >= the certified bound, and
    the best reaches it."""
    inst = hand_instance()
    lb = certify_global(inst).lower_bound
    best = multistart_incumbent(inst, 40, seed=1)
    assert best.value >= lb - 1e-12 and best.value <= 1.0 + 1e-6


def test_group_bound_matches_reduced_rank_regression_closed_form():
    """SAE: ||R||^2 - top-k eigenvalues of sum_d M_d p_d p_d^T; transcoder: targets projected on row(P)."""
    inst = random_unit(5, 3, TopK(k=1), n_latents=2, seed=4)
    ds = (0, 1, 2, 3, 4)
    G = (inst.W_p * inst.M) @ inst.W_p.T
    lam = np.linalg.eigvalsh(G)
    b = group_bound(inst, (0,), ds)
    assert b.kind == "gram" and b.bound <= np.trace(G) - lam[-1] <= b.bound + 2e-9 * lam[-1]   # 2 k delta, delta <= 1e-9 lam_max
    b2 = group_bound(inst, (0, 1), ds)
    assert b2.bound <= lam[0] <= b2.bound + 4e-9 * lam[-1]
    tc = transcoder_pair(5, 2, 3, TopK(k=1), n_latents=2, seed=1)
    P, R = tc.W_p * np.sqrt(tc.M), tc.W_r * np.sqrt(tc.M)
    Rhat = R @ np.linalg.pinv(P) @ P
    s = np.linalg.svd(Rhat, compute_uv=False)
    want = float(np.sum(R * R) - s[0] ** 2)
    b3 = group_bound(tc, (0,), ds)
    assert b3.kind == "schur" and b3.bound <= want <= b3.bound + 1e-10


def test_k2_claims_a_lower_bound_only():
    inst = random_unit(4, 3, TopK(k=2), n_latents=3, seed=0)
    g = certify_global(inst, incumbent_starts=4)
    assert "LOWER BOUND only" in g.detail["certifies"]
    assert all(p.value is None for p in g.pieces)
    assert all("k = 2" in p.detail.get("why", "k = 2") for p in g.pieces)


ACT = {1: TopK(k=1), 2: TopK(k=2)}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.sampled_from([1, 2]), n_p=st.sampled_from([2, 3]), q=st.sampled_from([2, 3]),
       transcoder=st.booleans())
def test_no_point_of_a_plain_topk_piece_below_its_lower_bound(seed, k, n_p, q, transcoder):
    rng = np.random.default_rng(seed)
    inst = (transcoder_pair(4, n_p, 3, ACT[k], n_latents=q, seed=seed % 11) if transcoder
            else random_unit(4, n_p, ACT[k], n_latents=q, seed=seed % 11))
    W_E = rng.standard_normal((q, n_p))
    piece = linear_piece(inst, read_pattern(inst, W_E, inst.activation.linear_reading), 1e-3)
    if not piece.realizable:
        return
    cert = certify_piece(piece)
    assert cert.lower_bound == relaxed_bound(piece)[0]
    pts = [W_E] + [W_E + s * rng.standard_normal(W_E.shape) for s in (1e-3, 1e-2, 0.1, 0.3, 1.0) for _ in range(6)]
    for W in pts:
        if piece.reads_back(W):
            assert best_loss(piece, W) >= cert.lower_bound - loss_tolerance(piece, W)
    if cert.value is not None:
        assert cert.value >= cert.lower_bound - 1e-12
        assert piece.reads_back(cert.minimiser_W_E)
        assert approx_loss(inst, cert.minimiser_W_D, cert.minimiser_W_E, piece.loss_mask) <= cert.value + 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_topk1_two_latents_certified_and_matches_multistart(seed):
    inst = random_unit(4, 2, TopK(k=1), n_latents=2, seed=seed)
    g = certify_global(inst)
    assert g.certified
    assert multistart_incumbent(inst, 24, seed=seed + 7).value >= g.lower_bound - 1e-12
