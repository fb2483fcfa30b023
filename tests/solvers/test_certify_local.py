"""Per-piece first incumbents from local solves (piece_cert._local_points, incumbent.local_point).

n_p = 3: the minimum of random_unit(4, 3, relu, 2 latents, seed 0) lies inside the piece where both latents
fire on every feature, and equals that piece's root bound (the top-2 captured energy of R^T R on the codes'
span). Branch and bound alone only approaches such a point (every node around it keeps a bound above its
centre value), so the piece stays open however far it branches; a local solve reaches the point and the
root bound meets it.
"""
import numpy as np

from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.solvers.certify import certify_global, certify_piece, piece_cert
from sdlscape.solvers.certify.incumbent import multistart_incumbent
from sdlscape.solvers.certify.piece_cert import _seed_rows, cheap_lower_bound
from sdlscape.solvers.certify.reduce import reduce_piece
from sdlscape.theory.activations import ReLU
from sdlscape.theory.instance import random_unit
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import linear_piece

INST = random_unit(4, 3, ReLU(), n_latents=2, seed=0)
FULL = Pattern.parse("[[0,1,2,3],[0,1,2,3]]", 4, 2)


def test_an_attained_infimum_at_the_root_bound_closes_at_the_root():
    piece = linear_piece(INST, FULL, 1e-3)
    cert = certify_piece(piece, node_limit=50)
    assert cert.status is CertifyStatus.CERTIFIED and cert.nodes <= 50
    assert cert.value - cert.lower_bound <= 1e-7 * cert.value
    assert abs(cert.lower_bound - cheap_lower_bound(piece)) <= 1e-9 * cert.value     # the root bound itself
    assert piece.reads_back(cert.minimiser_W_E) and not cert.infimum_on_boundary


def test_without_local_solves_the_same_piece_stays_open_in_the_plain_chart(monkeypatch):
    """Simplices of (b_1, b_2) only (no span chart, charts_span.py): the piece stays open without local solves."""
    from sdlscape.solvers.certify import charts_span

    monkeypatch.setattr(piece_cert, "LOCAL_STARTS", 0)
    monkeypatch.setattr(charts_span, "span_roots", lambda red: None)
    cert = certify_piece(linear_piece(INST, FULL, 1e-3), node_limit=2000)
    assert cert.status is CertifyStatus.INCONCLUSIVE and cert.reason is CertifyReason.NODE_LIMIT


def test_the_span_chart_closes_it_without_local_solves(monkeypatch):
    """Two latents on one cell get the span chart (b_1, direction u): its nodes have full rank and realisable
    centres, so branch and bound alone closes the piece."""
    monkeypatch.setattr(piece_cert, "LOCAL_STARTS", 0)
    cert = certify_piece(linear_piece(INST, FULL, 1e-3), node_limit=2000)
    assert cert.status is CertifyStatus.CERTIFIED and cert.value - cert.lower_bound <= 1e-7 * cert.value


def test_start_points_outside_the_piece_are_not_offered():
    piece = linear_piece(INST, FULL, 1e-3)
    red = reduce_piece(piece)
    rng = np.random.default_rng(0)
    inside, outside = [], []
    for _ in range(200):
        W = rng.standard_normal((2, 3))
        (inside if read_pattern(INST, W) == FULL else outside).append(W)
    assert inside and outside
    assert _seed_rows(red, outside) == ()
    rows = _seed_rows(red, inside)
    assert len(rows) == len(inside)
    for W in rows:          # normalised: the codes of each free row sum to 1
        for c, w in zip(red.free, W):
            assert abs(float(INST.W_p[:, list(c.features)].sum(axis=1) @ w) - 1.0) <= 1e-12


def test_np3_global_minimum_is_certified_and_no_multistart_point_goes_below_it():
    g = certify_global(INST, node_limit=2000)
    assert g.certified and g.value - g.lower_bound <= 1e-7 * g.value
    brute = multistart_incumbent(INST, starts=64, seed=1)
    assert brute.value >= g.lower_bound - 1e-12
    for _, pat, W_E in brute.points:                 # every local optimum found, on its own piece
        mask = linear_piece(INST, pat, 1e-3).loss_mask
        W_D = piece_cert.least_squares_decoder(linear_piece(INST, pat, 1e-3), W_E)
        assert approx_loss(INST, W_D, W_E, mask) >= g.lower_bound - 1e-12
