"""The partial-optimum certificate (solvers/certificate.py): its decision rule and the numbers it rests on."""
import itertools

import numpy as np
import pytest

from sdlscape import numerics
from sdlscape.outcomes import Outcome, PressKind
from sdlscape.solvers import certificate as C
from sdlscape.solvers.blocks import BlockSolution
from sdlscape.theory.instance import Instance, example_3_5
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece, linear_piece
from sdlscape.theory.region import Constraint, ConstraintKind, region_from_constraints

W_D_PAPER = np.array([[0.5, 0.0], [0.5, 0.0]])
W_E_PAPER = np.array([[1.0, 1.0], [0.0, 0.0]])


def _ex35_piece():
    inst = example_3_5()
    return Piece(inst, Pattern.parse([[0, 1], []], 2, 2))


# --- decide: the rule, on numbers only --------------------------------------------------------------

@pytest.mark.parametrize("solver_ok,in_region,relaxed_ok,material", list(itertools.product([True, False], repeat=4)))
def test_decide_truth_table(solver_ok, in_region, relaxed_ok, material):
    tol = 1e-8
    for gaps, small in (((0.0, 0.0), True), ((tol, tol), True), ((2 * tol, 0.0), False), ((0.0, 2 * tol), False)):
        got = C.decide(solver_ok=solver_ok, in_region=in_region, relaxed_ok=relaxed_ok, material_pressing=material,
                       decoder_gap=gaps[0], encoder_gap=gaps[1], gap_tolerance=tol)
        if not (solver_ok and in_region and relaxed_ok):
            want = Outcome.INCONCLUSIVE
        elif material:
            want = Outcome.LEAVES_REGION
        else:
            want = Outcome.PARTIAL_OPTIMUM if small else Outcome.INCONCLUSIVE
        assert got is want, (solver_ok, in_region, relaxed_ok, material, gaps)


def test_activity_tolerance_scales_with_the_largest_entry():
    assert C.activity_tolerance(np.array([[0.5, -0.25]])) == pytest.approx(numerics.ACTIVE_ROW_REL)
    assert C.activity_tolerance(np.array([[3.0, -1.0]])) == pytest.approx(3 * numerics.ACTIVE_ROW_REL)


# --- pressing rows: active AND positive multiplier, largest first ------------------------------------

def _two_row_region():
    W_p = np.eye(2)
    cons = [Constraint(ConstraintKind.ON, 0, feature=0), Constraint(ConstraintKind.OFF, 0, feature=1)]
    return region_from_constraints(W_p, 1, cons, eps=1e-3)


def test_pressing_rows_selects_active_rows_with_positive_multipliers():
    reg = _two_row_region()                        # rows: -z_00 <= -eps, z_01 <= 0
    act = numerics.ACTIVE_ROW_REL                  # |W_E| <= 1: the activity tolerance is ACTIVE_ROW_REL
    L = 0.5                                        # max(1, L) = 1: the multiplier tolerance is MULTIPLIER_REL
    mult = numerics.MULTIPLIER_REL
    W = np.array([[1e-3 + act / 2, -act / 2]])    # slacks act / 2: both rows active
    assert [p.row for p in C.pressing_rows(reg, np.array([2 * mult, 3 * mult]), W, L)] == [1, 0]   # by multiplier
    p = C.pressing_rows(reg, np.array([2 * mult, 0.0]), W, L)[0]
    assert (p.row, p.latent, p.feature, p.kind, p.strict) == (0, 0, 0, PressKind.STOP, True)
    assert p.slack == pytest.approx(act / 2) and p.describe == "feature 0 activates latent 0"
    assert C.pressing_rows(reg, np.array([mult, mult]), W, L) == ()                # multiplier at the tolerance
    W_far = np.array([[1e-3 + 2 * act, -2 * act]])                                  # not active
    assert C.pressing_rows(reg, np.array([1.0, 1.0]), W_far, L) == ()
    assert C.pressing_rows(reg, np.array([3 * mult, 3 * mult]), W, 4.0) == ()      # tolerance grows with L ...
    assert len(C.pressing_rows(reg, np.array([5 * mult, 5 * mult]), W, 4.0)) == 2  # ... as 4 * MULTIPLIER_REL
    assert C.pressing_rows(reg, None, W, L) == () and C.pressing_rows(reg, np.zeros(0), W, L) == ()
    kinds = {p.kind for p in C.pressing_rows(reg, np.array([1.0, 1.0]), W, L)}
    assert kinds == {PressKind.STOP, PressKind.START}


# --- certify_point on known points --------------------------------------------------------------------

def test_example_3_5_point_is_certified_with_every_number_recorded():
    piece = _ex35_piece()
    c = C.certify_point(piece, W_D_PAPER, W_E_PAPER)     # no decoder block passed: built here
    assert c.outcome is Outcome.PARTIAL_OPTIMUM and c.certified and c.reads_back and c.in_region and c.solver_ok
    assert c.loss == pytest.approx(1.0, abs=1e-12)
    assert c.gap_tolerance == pytest.approx(numerics.BLOCK_GAP_REL)          # max(1, L) = 1
    assert abs(c.decoder_gap) <= c.gap_tolerance and abs(c.encoder_gap) <= c.gap_tolerance
    assert c.decoder_gap_cvxpy == pytest.approx(c.decoder_gap, abs=1e-9)
    assert c.decoder_gap_closed_form == pytest.approx(0.0, abs=1e-12)
    assert c.activity_tolerance == pytest.approx(numerics.ACTIVE_ROW_REL)
    assert c.multiplier_tolerance == pytest.approx(numerics.MULTIPLIER_REL)
    assert c.min_slack == pytest.approx(float(piece.region.slack(W_E_PAPER).min()))
    assert c.pressing == () and c.decoder_status == c.encoder_status == "optimal"
    d = c.to_dict()
    assert d["outcome"] == "partial_optimum" and d["loss"] == c.loss and d["pressing"] == []
    assert d["in_region"] is True and d["reads_back"] is True and d["gap_tolerance"] == c.gap_tolerance


def test_gap_tolerance_is_relative_above_one():
    piece = _ex35_piece()
    c = C.certify_point(piece, 2 * W_D_PAPER, W_E_PAPER)   # L~ = 2: the decoder block would bring it to 1
    assert c.loss == pytest.approx(2.0)
    assert c.gap_tolerance == pytest.approx(2.0 * numerics.BLOCK_GAP_REL)
    assert c.decoder_gap == pytest.approx(1.0) and c.outcome is Outcome.INCONCLUSIVE and not c.certified


def test_a_loosened_tolerance_would_certify_a_point_with_gap_1e_minus_6():
    """A point whose decoder block improves L~ by ~1e-6 is not a partial optimum at BLOCK_GAP_REL = 1e-8."""
    piece = _ex35_piece()
    W_D = W_D_PAPER * (1 + 1e-3)                          # decoder gap = 2 * 0.25 * 1e-6 * 2 = 1e-6
    c = C.certify_point(piece, W_D, W_E_PAPER)
    assert 5e-7 < c.decoder_gap < 2e-6
    assert c.outcome is Outcome.INCONCLUSIVE and not c.certified
    assert c.decoder_gap > 1e6 * 1e-14                    # i.e. a millionfold looser tolerance would accept it


def test_a_point_outside_the_region_is_inconclusive_with_no_pressing():
    piece = _ex35_piece()
    W_E = np.array([[1.0, -0.5], [0.0, 0.0]])            # feature 1 does not activate latent 0
    c = C.certify_point(piece, W_D_PAPER, W_E)
    assert not c.in_region and not c.reads_back and c.outcome is Outcome.INCONCLUSIVE and c.pressing == ()


def test_round_off_outside_the_region_within_the_activity_tolerance_counts_as_inside():
    piece = _ex35_piece()
    eps = piece.margin
    W_E = np.array([[eps * (1 - 1e-6), eps * (1 - 1e-6)], [0.0, 0.0]])   # violates the margin by 1e-9
    c = C.certify_point(piece, np.array([[0.5 / eps, 0], [0.5 / eps, 0]]), W_E)
    assert c.min_slack < -1e-10 and c.in_region


def test_a_failed_block_solve_is_inconclusive(monkeypatch):
    piece = _ex35_piece()
    bad = BlockSolution(W=np.full((2, 2), np.nan), value=float("nan"), status="solver_error: forced", solver="x")
    monkeypatch.setattr(C, "encoder_problem_fresh", lambda *a, **k: bad)
    c = C.certify_point(piece, W_D_PAPER, W_E_PAPER)
    assert not c.solver_ok and c.outcome is Outcome.INCONCLUSIVE and not c.certified


def _leaving_case():
    """relu: latent 0 must fire for features 0, 1 but not 2; its best direction presses the 'off' row of feature 2."""
    inst = Instance(W_p=np.array([[1.0, 0.6, 0.6], [0.0, 0.8, -0.8]]), activation="relu", n_latents=2)
    piece = linear_piece(inst, Pattern.parse([[0, 1], []], 3, 2))
    from sdlscape.solvers.acs import solve_piece

    s = solve_piece(piece, starts=1).starts[0]
    assert s.outcome is Outcome.LEAVES_REGION
    return piece, s.W_D, s.W_E


def test_material_pressing_leaves_the_region_and_immaterial_pressing_does_not(monkeypatch):
    piece, W_D, W_E = _leaving_case()
    c = C.certify_point(piece, W_D, W_E)
    assert c.outcome is Outcome.LEAVES_REGION and c.pressing and c.relaxed_gap > c.gap_tolerance
    assert c.relaxed_gap == pytest.approx(c.loss - C.encoder_problem_fresh(piece, W_D, drop_rows=[c.pressing[0].row]).value,
                                          rel=1e-6)
    # if crossing the pressed rows gained exactly the tolerance, the boundary would not matter
    real = C.encoder_problem_fresh

    def relaxed_by_tolerance(piece_, W_D_, solver="CLARABEL", fallback=True, drop_rows=()):
        sol = real(piece_, W_D_, solver, fallback, drop_rows)
        if not len(drop_rows):
            return sol
        L = piece_.loss(W_D_, W_E)
        return BlockSolution(W=sol.W, value=L - 0.5 * numerics.BLOCK_GAP_REL * max(1.0, L), status=sol.status,
                             solver=sol.solver, duals=sol.duals)

    monkeypatch.setattr(C, "encoder_problem_fresh", relaxed_by_tolerance)
    c2 = C.certify_point(piece, W_D, W_E)
    assert c2.pressing == () and c2.immaterial_pressing and c2.outcome is not Outcome.LEAVES_REGION


def test_recorded_numbers_match_their_definitions():
    piece = _ex35_piece()
    eps = piece.margin   # the paper's point scaled onto the margin: its ON rows are active
    W_D, W_E = W_D_PAPER / eps, W_E_PAPER * eps
    c = C.certify_point(piece, W_D, W_E, solver="OSQP")
    slack = piece.region.slack(W_E)
    assert c.active_rows == tuple(int(r) for r in np.flatnonzero(slack <= c.activity_tolerance)) and c.active_rows
    assert c.decoder_solver.startswith("OSQP") and c.encoder_solver.startswith("OSQP")
    d = c.to_dict()
    assert d["active_rows"] == list(c.active_rows) and d["immaterial_pressing"] == [] and d["outcome"] == "partial_optimum"
    c2 = C.certify_point(piece, 2 * W_D_PAPER, W_E_PAPER)
    assert c2.multiplier_tolerance == pytest.approx(2.0 * numerics.MULTIPLIER_REL)


def test_a_failed_block_solve_computes_no_pressing_even_with_multipliers(monkeypatch):
    piece = _ex35_piece()
    bad = BlockSolution(W=np.zeros((2, 2)), value=0.5, status="optimal_inaccurate", solver="x",
                        duals=np.ones(piece.region.n_rows))
    monkeypatch.setattr(C, "encoder_problem_fresh", lambda *a, **k: bad)
    eps = piece.margin
    c = C.certify_point(piece, W_D_PAPER / eps, W_E_PAPER * eps)
    assert c.active_rows and c.pressing == () and c.outcome is Outcome.INCONCLUSIVE


def test_pressing_rows_of_a_point_outside_the_region_are_not_reported():
    piece, W_D, W_E = _leaving_case()
    row = C.certify_point(piece, W_D, W_E).pressing[0].row
    W_out = W_E.copy()
    W_out[0] += 1e-2 * piece.instance.W_p[:, 2]            # feature 2 now activates latent 0: row violated
    assert piece.region.slack(W_out)[row] < -1e-3
    c = C.certify_point(piece, W_D, W_out)
    assert not c.in_region and c.pressing == () and c.outcome is Outcome.INCONCLUSIVE
    Q = piece.loss(C.decoder_closed_form(piece.instance, W_out, piece.loss_mask), W_out)
    assert c.decoder_gap_closed_form == pytest.approx(c.loss - Q, abs=1e-12)


def test_a_failed_relaxed_solve_is_inconclusive_with_no_relaxed_gap(monkeypatch):
    piece, W_D, W_E = _leaving_case()
    real = C.encoder_problem_fresh
    solvers = []

    def relaxed_fails(piece_, W_D_, solver="CLARABEL", fallback=True, drop_rows=()):
        solvers.append(solver)
        if not len(drop_rows):
            return real(piece_, W_D_, solver, fallback, drop_rows)
        return BlockSolution(W=np.full(piece_.region.shape, np.nan), value=float("nan"), status="infeasible", solver="x")

    monkeypatch.setattr(C, "encoder_problem_fresh", relaxed_fails)
    c = C.certify_point(piece, W_D, W_E, solver="OSQP")
    assert c.relaxed_gap is None and c.relaxed_status == "infeasible" and c.outcome is Outcome.INCONCLUSIVE
    assert solvers == ["OSQP", "OSQP"]                      # the relaxed block uses the same solver


def test_max_multiplier_and_pressing_to_dict():
    piece, W_D, W_E = _leaving_case()
    c = C.certify_point(piece, W_D, W_E)
    duals = C.encoder_problem_fresh(piece, W_D).duals
    assert c.max_multiplier == pytest.approx(float(duals.max()), rel=1e-6)
    p = c.pressing[0].to_dict()
    assert p == {"row": c.pressing[0].row, "latent": 0, "feature": 2, "kind": "start",
                 "multiplier": c.pressing[0].multiplier, "slack": c.pressing[0].slack, "strict": False,
                 "describe": "feature 2 does not activate latent 0"}
    order = C.Pressing(row=1, latent=0, feature=1, other=2, kind=PressKind.ORDER, multiplier=1.0, slack=0.0,
                       strict=True, describe="x").to_dict()
    assert order["other"] == 2 and order["kind"] == "order"
