"""Span charts (charts_span.py): two free rows whose n_p = 3 cells meet (two latents on one cell, nested cells,
cells sharing an edge). Row g is replaced by a direction u of L = (Im_f + Im_g) cap ker(lambda).

- the chart spans what B spans: for actual rows (b_f, b_g) of the piece, u = b_g / lambda(b_g) - b_f / lambda(b_f)
  lies in span(E) and phi(span{b_f, u}) = phi(span{b_f, b_g});
- a node bound (perturbation / subspace / Pluecker) is never beaten by a sampled point of its box;
- the pieces of random_unit(4, 3, relu, 2 latents, seeds 1 and 4) close, and the global minima are certified
  (slow: with a 300-start multistart that finds no point below any piece's bound).
"""
import itertools

import numpy as np
import pytest

from sdlscape.outcomes import CertifyStatus
from sdlscape.solvers.certify import certify_global, certify_piece, piece_cert
from sdlscape.solvers.certify.bounds import captured_energy, g_constant, node_bound, wedge_bound, wedge_operator
from sdlscape.solvers.certify.charts import Simplex, chart_rows, root_nodes
from sdlscape.solvers.certify.charts_span import SpanDir
from sdlscape.solvers.certify.incumbent import multistart_incumbent
from sdlscape.solvers.certify.reduce import reduce_piece
from sdlscape.theory.activations import ReLU
from sdlscape.theory.instance import random_unit
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import linear_piece

CASES = ["[[0,1,2,3],[0,1,2,3]]", "[[0,1],[0,1,2,3]]", "[[0,1,2],[0,1,3]]", "[[0,2,3],[0,1,2,3]]"]
#        one cell                  nested (a shared vertex)  a shared edge         nested (a shared edge)


def _red(seed, pattern):
    inst = random_unit(4, 3, ReLU(), n_latents=2, seed=seed)
    return reduce_piece(linear_piece(inst, Pattern.parse(pattern, 4, 2), 1e-3))


def _span_part(roots):
    return next(p for node in roots for p in node if isinstance(p, SpanDir))


@pytest.mark.parametrize("pattern", CASES)
def test_meeting_cells_get_a_span_chart_whose_directions_span_the_rows(pattern):
    red = _red(1, pattern)
    roots, uncharted = root_nodes(red)
    sd = _span_part(roots)
    assert uncharted == 0 and all(len(node) == 2 for node in roots)
    assert sorted({p.axis for node in roots for p in node if isinstance(p, SpanDir)}) == list(range(len(sd.E)))
    inst = red.piece.instance
    rng = np.random.default_rng(0)
    for _ in range(50):
        rows = {}
        for i, c in enumerate(red.free):
            rows[i] = rng.dirichlet(np.ones(len(c.vertices))) @ c.vertices
        f, g = sd.partner, sd.row
        lam = {i: float(inst.W_p[:, list(red.free[i].features)].sum(axis=1) @ rows[i]) for i in (f, g)}
        u = red.maps[g] @ rows[g] / lam[g] - red.maps[f] @ rows[f] / lam[f]
        coef = np.linalg.lstsq(sd.E.T, u, rcond=None)[0]
        assert np.linalg.norm(sd.E.T @ coef - u) <= 1e-10 * max(np.linalg.norm(u), 1e-300)     # u in L
        B = red.reduced_rows(np.stack([rows[0], rows[1]]))
        C = np.stack([red.maps[f] @ rows[f], u])
        assert abs(captured_energy(B, red.Gr).phi - captured_energy(C, red.Gr).phi) <= 1e-9


@pytest.mark.parametrize("pattern", CASES)
def test_span_node_bounds_are_never_beaten_by_sampled_points(pattern):
    """Random small boxes (a sub-triangle of the partner's cell x a sub-box of a cube face): phi at sampled points
    of the box <= the node bound and <= the Pluecker bound (a sampled value above a bound is a bug)."""
    red = _red(1, pattern)
    roots, _ = root_nodes(red)
    cG, trG = g_constant(red.Gr, red.k), float(np.trace(red.G))
    A, pairs = wedge_operator(red.Gr)
    rng = np.random.default_rng(1)
    checked = 0
    for node in roots:
        simplex, sd = node
        for _ in range(12):
            w = 10.0 ** rng.uniform(-3, -0.5)
            bary = rng.dirichlet(np.ones(3), size=3)
            bary = (1 - w) * bary.mean(axis=0) + w * bary         # a small sub-triangle
            sub = Simplex(simplex.row, bary @ simplex.W)
            box = []
            for _ in sd.box:
                lo = rng.uniform(-1, 1 - 2 * w)
                box.append((lo, lo + 2 * w))
            part = SpanDir(sd.row, sd.partner, sd.gens, sd.pivot, sd.axis, tuple(box), sd.E, sd.same_cell)
            V, _ = chart_rows(red, (sub, part))
            bound, _, _ = node_bound(V, red.Gr, cG, trG)
            wb = wedge_bound(V, A, pairs, trG)
            for _ in range(20):
                x = rng.dirichlet(np.ones(3)) @ V[sub.row]
                c = [rng.uniform(lo, hi) for lo, hi in box]
                others = [j for j in range(len(sd.E)) if j != sd.axis]
                u = sd.E[sd.axis] + sum(ci * sd.E[j] for ci, j in zip(c, others))
                phi = captured_energy(np.stack([x, u]), red.Gr).phi
                assert phi <= bound + 1e-12 and phi <= wb + 1e-12
                checked += 1
    assert checked > 500


def test_two_latents_on_one_cell_close_with_the_span_chart():
    """The minimising piece of seed 1: its infimum lies where both rows meet a vertex of the cell (limits only);
    the span chart is exact there, and the piece is certified within the node budget."""
    piece = linear_piece(random_unit(4, 3, ReLU(), n_latents=2, seed=1), Pattern.parse(CASES[0], 4, 2), 1e-3)
    cert = certify_piece(piece, node_limit=20000)
    assert cert.status is CertifyStatus.CERTIFIED and cert.nodes < 20000
    assert cert.value - cert.lower_bound <= 1e-7 * cert.value
    assert piece.reads_back(cert.minimiser_W_E)


def test_the_wedge_operator_gives_phi():
    rng = np.random.default_rng(3)
    R = rng.standard_normal((4, 4))
    G = R.T @ R
    A, pairs = wedge_operator(G)
    from sdlscape.solvers.certify.bounds import wedges

    for _ in range(5):
        x, u = rng.standard_normal(4), rng.standard_normal(4)
        w = wedges(x[None], u[None], pairs)[0]
        assert abs(w @ A @ w / (w @ w) - captured_energy(np.stack([x, u]), G).phi) <= 1e-12 * np.trace(G)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 4])
def test_np3_seeds_1_and_4_are_certified_and_no_multistart_point_goes_below_a_bound(seed):
    inst = random_unit(4, 3, ReLU(), n_latents=2, seed=seed)
    g = certify_global(inst, node_limit=20000)
    assert g.certified and g.value - g.lower_bound <= 1e-7 * g.value
    bounds = {str(p.pattern): p.lower_bound for p in g.pieces}
    brute = multistart_incumbent(inst, starts=300, seed=1)
    assert brute.value >= g.lower_bound - 1e-12
    for _, pat, W_E in brute.points:                   # every local optimum, against its own piece's bound
        piece = linear_piece(inst, pat, 1e-3)
        W_D = piece_cert.least_squares_decoder(piece, W_E)
        L = approx_loss(inst, W_D, W_E, piece.loss_mask)
        assert L >= g.lower_bound - 1e-12
        if str(pat) in bounds:
            assert L >= bounds[str(pat)] - 1e-12


def test_cube_faces_cover_every_direction_up_to_sign():
    """Every non-zero coefficient vector is, up to sign and scale, on the face of its largest coefficient."""
    rng = np.random.default_rng(5)
    for r in (2, 3):
        for _ in range(100):
            v = rng.standard_normal(r)
            a = int(np.argmax(np.abs(v)))
            w = v / v[a]
            assert w[a] == 1.0 and np.all(np.abs(w) <= 1.0 + 1e-15)
    assert list(itertools.product((-1.0, 1.0), repeat=0)) == [()]
