"""Regions as linear inequalities, and the LPs on them: witnesses and Farkas certificates (independently re-checked)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.activations import ReLU, TopK
from sdlscape.theory.region import (
    Constraint,
    ConstraintKind,
    check_farkas,
    farkas_certificate,
    feasible_point,
    pattern_region,
    region_from_constraints,
)


def _one_latent(cons, W_p=None, eps=0.1):
    return region_from_constraints(np.eye(2) if W_p is None else W_p, 1, cons, eps)


def test_rows_signs_margins_and_strictness():
    reg = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0, threshold=0.3),
                       Constraint(ConstraintKind.OFF, 0, feature=1, threshold=0.3)])
    assert reg.G.tolist() == [[-1.0, 0.0], [0.0, 1.0]]
    assert reg.h == pytest.approx([-0.3 - 0.1, 0.3]) and reg.strict.tolist() == [True, False]
    assert reg.shape == (1, 2) and reg.eps == 0.1 and reg.n_rows == 2
    assert reg.h.dtype == float and reg.strict.dtype == bool
    order = region_from_constraints(np.eye(2), 2, [Constraint(ConstraintKind.ORDER, 0, feature=1, other=1)], 0.1)
    assert order.G.tolist() == [[0.0, -1.0, 0.0, 1.0]] and order.h.tolist() == [-0.1]   # z_11 - z_01 <= -eps
    empty = region_from_constraints(np.eye(2), 2, [], 0.1)
    assert empty.G.shape == (0, 4) and empty.n_rows == 0 and empty.contains(np.ones((2, 2)))


def test_slack_contains_and_without():
    reg = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=1)])
    W = np.array([[0.1, 0.0]])                       # on the boundary of both rows
    assert reg.slack(W) == pytest.approx([0.0, 0.0])
    assert reg.contains(W, tol=0.0) and reg.contains(W - [[1e-10, 0]], tol=1e-9)
    assert not reg.contains(W - [[1e-8, 0]], tol=1e-9)
    assert not reg.contains(np.array([[0.2, 1e-3]]), tol=1e-9)
    assert reg.slack([[0.2, -0.1]]) == pytest.approx([0.1, 0.1])     # lists are accepted
    sub = reg.without([0])
    assert sub.n_rows == 1 and sub.constraints == (reg.constraints[1],) and sub.strict.tolist() == [False]
    assert sub.shape == reg.shape and sub.eps == reg.eps and sub.G.tolist() == [[0.0, 1.0]]


def test_pattern_region_checks_its_margin_and_fires():
    W_p = np.eye(2)
    for bad in (0.0, -1e-3, float("inf"), float("nan")):
        with pytest.raises(InputError, match="margin eps must be finite and positive"):
            pattern_region(ReLU(), W_p, np.array([[True, False]]), bad, Reading.DEF_3_1)
    # a selection-reading part of plain TopK: passed codes split into positive (fired) and non-positive ones
    S = np.array([[True, True], [True, False], [False, True]])     # k = 2: two passed latents per feature
    fired = np.array([[True, False], [False, False], [False, True]])
    reg = pattern_region(TopK(k=2), W_p, S, 1e-3, Reading.SELECTION, fired=fired)
    signs = [(c.kind, c.latent, c.feature) for c in reg.constraints if c.kind is not ConstraintKind.ORDER]
    assert signs == [(ConstraintKind.ON, 0, 0), (ConstraintKind.OFF, 1, 0), (ConstraintKind.OFF, 0, 1),
                     (ConstraintKind.ON, 2, 1)]
    assert all(c.kind is ConstraintKind.ORDER for c in reg.constraints[:2])


def test_feasible_point_is_the_least_l1_point_and_reports_infeasibility():
    reg = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0, threshold=0.9)], eps=0.1)   # w_0 >= 1
    w, status = feasible_point(reg)
    assert status == "optimal" and w == pytest.approx([1.0, 0.0], abs=1e-9)
    w, status = feasible_point(reg, slack=0.5)                                    # w_0 >= 1.5
    assert status == "optimal" and w == pytest.approx([1.5, 0.0], abs=1e-9)
    neg = _one_latent([Constraint(ConstraintKind.OFF, 0, feature=0, threshold=-0.5)])   # w_0 <= -0.5
    assert feasible_point(neg)[0] == pytest.approx([-0.5, 0.0], abs=1e-9)
    clash = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=0)])
    assert feasible_point(clash) == (None, "infeasible")
    none = region_from_constraints(np.eye(2), 2, [], 0.1)
    w, status = feasible_point(none)
    assert status == "optimal" and w.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_farkas_certificate_exists_exactly_for_infeasible_regions():
    clash = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=0)])
    y, status = farkas_certificate(clash)
    assert status == "optimal" and np.all(y >= -1e-12) and y.sum() == pytest.approx(1.0)
    assert check_farkas(clash, y)
    ok = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0)])
    assert farkas_certificate(ok)[0] is None                     # no y with G^T y = 0 at all
    box = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=0,
                                                                           threshold=1.0)])   # eps <= w_0 <= 1
    y, status = farkas_certificate(box)                          # y = (1/2, 1/2) has h^T y = 0.45 >= 0
    assert y is None and status == "farkas optimum 0.45 >= 0"
    assert farkas_certificate(region_from_constraints(np.eye(2), 1, [], 0.1))[0] is None
    # a single infeasible row: 0 . w <= -1
    from sdlscape.theory.region import Region

    one = Region(np.zeros((1, 2)), np.array([-1.0]), np.array([True]), (Constraint(ConstraintKind.ON, 0, 0),), (1, 2), 1.0)
    y, status = farkas_certificate(one)
    assert status == "optimal" and y == pytest.approx([1.0]) and check_farkas(one, y)


def test_check_farkas_rejects_everything_that_is_not_a_certificate():
    clash = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=0)])
    good = np.array([0.5, 0.5])                    # G^T y = 0, h^T y = -eps/2 < 0
    assert check_farkas(clash, good) and check_farkas(clash, 100 * good)
    assert not check_farkas(clash, np.array([0.5]))               # wrong shape
    assert not check_farkas(clash, np.array([0.5, 0.5, 0.0]))
    assert not check_farkas(clash, np.array([-0.5, -0.5]))        # not >= 0
    assert not check_farkas(clash, np.array([1.0, 0.0]))          # G^T y != 0
    assert not check_farkas(clash, np.zeros(2))                   # h^T y = 0: proves nothing
    assert not check_farkas(clash, np.array([0.6, 0.4]))          # G^T y = -0.2: not a combination to 0
    tiny = clash.without([])
    assert check_farkas(tiny, np.array([0.5, 0.5]), tol=1e-12)
    # the tolerances scale with sum |y|: a slightly off y that is fine at scale 1 fails at a tight tol
    off = np.array([0.5, 0.5 + 1e-9])
    assert check_farkas(clash, off, tol=1e-8) and not check_farkas(clash, off, tol=1e-10)
    h_zero = clash.without([])
    object.__setattr__(h_zero, "h", np.array([1e-9, -1e-9 - 1e-12]))   # h^T y barely negative
    assert not check_farkas(h_zero, good, tol=1e-8)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_witness_xor_certificate_on_random_regions(seed):
    """Every random region has exactly one of a feasible point and a re-checked Farkas certificate."""
    rng = np.random.default_rng(seed)
    W_p = rng.standard_normal((2, 5))
    W_p /= np.linalg.norm(W_p, axis=0)
    mask = rng.random((1, 5)) < 0.5
    reg = pattern_region(ReLU(), W_p, mask, 1e-3, Reading.DEF_3_1)
    w, status = feasible_point(reg)
    y, _ = farkas_certificate(reg)
    assert (w is None) == (y is not None)
    if w is not None:
        assert reg.contains(w.reshape(1, 2), tol=1e-9) and status == "optimal"
    else:
        assert check_farkas(reg, y)


def test_farkas_tolerances_scale_with_the_size_of_y():
    clash = _one_latent([Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=0)])
    big = 100 * np.array([0.5, 0.5 + 1e-9])          # |G^T y| = 1e-7 <= tol * sum|y| = 1e-6
    assert check_farkas(clash, big, tol=1e-8)
    off = np.array([0.5, 0.5 + 1.5e-8])              # |G^T y| = 1.5e-8 > tol * max(1, sum|y|) = 1e-8
    assert not check_farkas(clash, off, tol=1e-8)


def test_a_zero_farkas_optimum_is_no_certificate():
    from sdlscape.theory.region import Region

    c = Constraint(ConstraintKind.OFF, 0, 0)
    flat = Region(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros(2), np.array([False, False]), (c, c), (1, 2), 1e-3)
    y, status = farkas_certificate(flat)                 # w_0 = 0 is feasible: min h^T y = 0
    assert y is None and status.startswith("farkas optimum")
    assert not check_farkas(flat, np.array([0.5, 0.5]))
