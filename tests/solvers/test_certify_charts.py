"""Blow-up charts at degenerate corners (nested patterns): the chart spans what B spans, its node bound is
never beaten by a point of its box, and nested pieces close."""
import numpy as np
import pytest

from sdlscape.outcomes import CertifyStatus
from sdlscape.solvers.certify import certify_piece
from sdlscape.solvers.certify.bounds import captured_energy, g_constant, node_bound
from sdlscape.solvers.certify.charts import BlowUp, chart_rows, corner_pairs, root_nodes
from sdlscape.solvers.certify.reduce import reduce_piece
from sdlscape.theory.instance import random_unit, transcoder_pair
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import linear_piece

NESTED = [  # (instance, pattern): two latents whose feature sets are nested (a degenerate corner)
    (lambda: transcoder_pair(4, 2, 3, "relu", n_latents=2, seed=0), [[0, 2], [0, 2, 3]]),
    (lambda: transcoder_pair(4, 2, 3, "relu", n_latents=2, seed=0), [[2, 3], [0, 2, 3]]),
    (lambda: random_unit(5, 2, "relu", n_latents=2, seed=0), [[2, 3], [0, 2, 3]]),
    (lambda: random_unit(5, 2, "relu", n_latents=2, seed=0), [[2, 3], [2, 3, 4]]),
]


def _reduced(make, pattern):
    inst = make()
    return reduce_piece(linear_piece(inst, Pattern.parse(pattern, inst.n, inst.n_latents)))


@pytest.mark.parametrize("case", range(len(NESTED)))
def test_nested_patterns_have_a_charted_corner(case):
    red = _reduced(*NESTED[case])
    assert corner_pairs(red), "a nested pattern's segments meet at parallel codes"
    roots, uncharted = root_nodes(red)
    assert uncharted == 0 and any(isinstance(p, BlowUp) for node in roots for p in node)


def _blowups(red):
    return [p for node in root_nodes(red)[0] for p in node if isinstance(p, BlowUp)]


@pytest.mark.parametrize("case", range(len(NESTED)))
def test_chart_rows_span_the_code_rows(case):
    """phi of the chart rows (a + rho tau d_f, d_g - mu rho d_f) equals phi of the true rows for tau > 0."""
    red = _reduced(*NESTED[case])
    rng = np.random.default_rng(case)
    for part in _blowups(red):
        for _ in range(20):
            rho, tau = rng.uniform(0.05, 1.0), 10.0 ** rng.uniform(-3, 0)
            W = {**{i: c.centroid for i, c in enumerate(red.free)}, **part.point(rho, tau)}
            B = red.reduced_rows(np.stack([W[i] for i in range(red.k)]))
            node = tuple([part.__class__(part.f, part.g, part.wf, part.dwf, part.wg, part.dwg, part.mu,
                                         (rho, rho, tau, tau))])
            V, _ = chart_rows(red, node + tuple(_others(red, part, W)))
            C = np.stack([Vi.mean(axis=0) for Vi in V])
            assert abs(captured_energy(C, red.Gr).phi - captured_energy(B, red.Gr).phi) <= 1e-9


def _others(red, part, W):
    from sdlscape.solvers.certify.charts import Simplex

    return [Simplex(i, np.array([W[i], W[i]])) for i in range(red.k) if i not in (part.f, part.g)]


@pytest.mark.parametrize("case", range(len(NESTED)))
def test_blowup_node_bound_is_never_beaten_by_its_points(case):
    """Random sub-boxes of the chart (touching tau = 0 or not): every point with tau > 0 has phi <= bound."""
    red = _reduced(*NESTED[case])
    rng = np.random.default_rng(100 + case)
    cG, trG = g_constant(red.Gr, red.k), float(np.trace(red.G))
    worst = -np.inf
    for part in _blowups(red):
        for _ in range(40):
            w = 10.0 ** rng.uniform(-5, 0)
            r0, t0 = rng.uniform(0, 1 - w), (0.0 if rng.random() < 0.5 else rng.uniform(0, 1 - w))
            sub = BlowUp(part.f, part.g, part.wf, part.dwf, part.wg, part.dwg, part.mu, (r0, r0 + w, t0, t0 + w))
            V, _ = chart_rows(red, (sub,))
            bound, _, _ = node_bound(V, red.Gr, cG, trG)
            for _ in range(10):
                rho, tau = r0 + w * rng.random(), t0 + w * rng.uniform(1e-3, 1)
                W = sub.point(rho, tau)
                B = red.reduced_rows(np.stack([W[i] for i in range(red.k)]))
                worst = max(worst, captured_energy(B, red.Gr, rank_tol=0.0).phi - bound)
    assert worst <= 1e-12


def test_a_nested_piece_closes():
    """transcoder n = 4, pattern [[0,2],[0,2,3]]: stuck at lower bound 0.344 without the chart."""
    make, pattern = NESTED[0]
    inst = make()
    piece = linear_piece(inst, Pattern.parse(pattern, inst.n, inst.n_latents))
    c = certify_piece(piece, node_limit=20_000)
    assert c.status is CertifyStatus.CERTIFIED, (c.status, c.reason, c.value, c.lower_bound)
    assert c.lower_bound <= c.value <= c.lower_bound * (1 + 1e-7) + 1e-12
    assert piece.contains(c.minimiser_W_E, tol=0.0) and piece.reads_back(c.minimiser_W_E)


def test_a_corner_parallel_to_rounding_is_found():
    """transcoder n = 5, n_r = 2, [[0,2,3],[0,1,2,3]]: the shared end differs by 1.6e-17 in one code; a test
    on sqrt(1 - cos^2) (precision ~1e-8) missed it and the piece stayed at its degenerate corner."""
    red = _reduced(lambda: transcoder_pair(5, 2, 2, "relu", n_latents=2, seed=0), [[0, 2, 3], [0, 1, 2, 3]])
    assert corner_pairs(red) and root_nodes(red)[1] == 0
