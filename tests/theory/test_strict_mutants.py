"""Rules of theory/strict.py that the mutation run (benchmarks/mutation_score.py) found untested: which
float points are repaired into exact witnesses, and on which support a float Motzkin certificate is re-solved."""
import re
from fractions import Fraction

import numpy as np
import pytest

from sdlscape.outcomes import Feasibility, InconclusiveReason
from sdlscape.theory import strict
from sdlscape.theory.strict import (
    _solve_exact,
    decide_strict,
    exact_motzkin,
    max_margin,
    motzkin_lp,
    repaired_witness,
)

T, F = True, False
NEXT_ONE = float(np.nextafter(1.0, 2.0))   # 1 + 2.2e-16: misses x <= 1 by round-off


def test_repair_makes_only_the_nearly_tight_rows_equalities():
    # x <= 1 missed by round-off is made tight; x >= 0 (slack 1) must stay free, else the system is inconsistent
    A, b = np.array([[1.0], [-1.0]]), np.array([1.0, 0.0])
    assert repaired_witness(A, b, [F, F], np.array([NEXT_ONE])) == [Fraction(1)]


def test_repair_scale_follows_the_largest_number():
    # round-off is 1e-9 relative to max(1, |x|, |b|): a miss of 1e-7 is round-off at 1000, not at 1
    assert repaired_witness(np.array([[1.0, -1.0]]), np.zeros(1), [F], np.array([1000.0000001, 1000.0])) == \
        [Fraction(1000), Fraction(1000)]                                               # |x| = 1000
    assert repaired_witness(np.array([[1000.0]]), np.array([1000.0]), [F], np.array([1 + 1e-10])) == [Fraction(1)]  # |b|
    assert repaired_witness(np.array([[-1.0]]), np.zeros(1), [F], np.array([-5e-10])) == [Fraction(0)]  # floor 1
    assert repaired_witness(np.array([[-1.0]]), np.zeros(1), [F], np.array([-1.5e-9])) is None   # beyond round-off
    # exactly at the scale (1e-9 * 1): still repaired
    assert repaired_witness(np.array([[-1.0]]), np.zeros(1), [F], np.array([-1e-9])) == [Fraction(0)]


def test_repair_that_breaks_a_strict_row_is_rejected():
    # x >= 0, x <= 1 (missed by round-off), x > 1 (met by the float point only): moving x to 1 breaks the last row
    A, b = np.array([[-1.0], [1.0], [-1.0]]), np.array([0.0, 1.0, -1.0])
    assert repaired_witness(A, b, [F, F, T], np.array([NEXT_ONE])) is None


@pytest.mark.parametrize("coef, noise", [(1e7, 0.0), (1e5, 1e-8), (1e3, 1e-5)])
def test_certificate_support_cuts(coef, noise):
    """x < 0, -coef x <= 0, -x <= 5: the certificate is y = (1, 1/coef, 0). Its small entry 1/coef must be kept
    and a float entry `noise` on the third row (which would give b^T y > 0) dropped: each relative cut
    (1e-9, 1e-6, 1e-4) is the only one that does both for one of the cases; y is scaled, the cut is relative."""
    A, b = np.array([[1.0], [-coef], [-1.0]]), np.array([0.0, 0.0, 5.0])
    y = 1e3 * np.array([1.0, 1.0 / coef, noise])
    assert exact_motzkin(A, b, [T, F, F], y) == [Fraction(1), 1 / Fraction(coef)]


def test_certificate_checks_every_used_column():
    # x < 0 twice is feasible: y = (1/2, 1/2) normalises but A^T y = 1 != 0 (a column of ones is still a column)
    assert exact_motzkin(np.array([[1.0], [1.0]]), np.zeros(2), [T, T], np.array([0.5, 0.5])) is None


def test_certificate_may_put_zero_weight_on_a_row():
    # x < 0, x >= 0, and a row on x2 whose float weight 1e-3 the exact re-solve sets to 0 (A^T y = 0 forces it)
    A = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    assert exact_motzkin(A, np.zeros(3), [T, F, F], np.array([1.0, 1.0, 1e-3])) == [1, 1, 0]


def test_solve_exact_goes_past_a_column_without_pivot():
    # column 0 is all zero (free, kept at its guess); column 1 still carries the equation
    assert _solve_exact([[Fraction(0), Fraction(1)]], [Fraction(3)], [Fraction(7), Fraction(0)]) == [7, 3]


def test_decide_strict_says_how_it_decided():
    r = decide_strict(np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=bool))
    assert r.margin == 1.0 and r.detail == "no inequalities"
    r = decide_strict(np.array([[-1.0], [1.0]]), np.array([0.0, 1.0]), np.array([T, T]))
    assert r.detail == "max-margin witness, checked in exact rationals"
    # x0 = 0 forced by two non-strict rows: no point is strictly inside them, the witness sits on their boundary
    r = decide_strict(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]]), np.zeros(3), np.array([F, F, T]))
    assert r.detail == "max-margin witness, checked in exact rationals (on a non-strict boundary)"
    _, status = motzkin_lp(np.array([[-1.0], [1.0]]), np.array([0.0, 1.0]), np.array([F, F]))
    assert "infeasible" in status.lower()          # the solver's own message, for the report


@pytest.mark.parametrize("row, b, t, x", [(1.0, -0.5, 2 / 3, -1.5), (-1.0, -0.5, 2 / 3, 1.5)])
def test_max_margin_homogenised_bounds(row, b, t, x):
    """x < -1/2 (or x > 1/2) with |x| <= 1 and t <= s <= 1: t* = 2/3 at s = 2/3 (t <= 1 - s/2 and t <= s), so
    the witness x/s = -/+ 3/2 lies outside the box: the homogenisation is what lets it."""
    t_star, w, status = max_margin(np.array([[row]]), np.array([b]), np.array([T]))
    assert status == "optimal" and t_star == pytest.approx(t) and w == pytest.approx([x])


def test_decide_strict_repairs_a_witness_missed_by_round_off(monkeypatch):
    """The max-margin LP's point misses the non-strict row x0 <= 0 by 1e-17 (what a float LP can return): the
    decision repairs it exactly instead of calling the system undecided."""
    A, b = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]]), np.zeros(3)
    monkeypatch.setattr(strict, "max_margin", lambda *a: (0.5, np.array([1e-17, 1.0]), "optimal"))
    r = decide_strict(A, b, np.array([F, F, T]))
    assert r.status is Feasibility.REALIZABLE and r.margin == 0.5 and r.witness.tolist() == [0.0, 1.0]
    assert r.witness_exact == (Fraction(0), Fraction(1))       # the rationals themselves: 1e-17 repaired to 0
    assert r.detail == "max-margin witness made exact on its tight non-strict rows (rationals)" and r.certificate is None


def test_decide_strict_undecided_branches(monkeypatch):
    A, b, st = np.array([[-1.0], [1.0]]), np.zeros(2), np.array([T, F])       # x > 0, x <= 0: empty
    r = decide_strict(A, b, st)
    assert r.status is Feasibility.UNREALIZABLE and r.margin == pytest.approx(0.0, abs=1e-12)
    assert r.detail == "Motzkin certificate of the strict system, checked in exact rationals"
    # a float certificate that fails its exact check: the floating-point band, t* kept
    monkeypatch.setattr(strict, "motzkin_lp", lambda *a: (np.array([1.0, 0.0]), "optimal"))   # A^T y != 0
    r = decide_strict(A, b, st)
    assert r.status is Feasibility.UNDECIDED and r.reason is InconclusiveReason.FP_BAND and r.certificate is None
    assert r.margin == pytest.approx(0.0, abs=1e-12) and r.detail.endswith("; Motzkin certificate failed its exact check")
    assert re.fullmatch(r"t\* = -?0; t\* = -?0; Motzkin certificate failed its exact check", r.detail)  # no point
    # no LP finished: the solver's status, not the floating-point band
    monkeypatch.setattr(strict, "max_margin", lambda *a: (None, None, "max-margin LP status 4: numerical"))
    monkeypatch.setattr(strict, "motzkin_lp", lambda *a: (None, "motzkin LP status 4: numerical"))
    r = decide_strict(A, b, st)
    assert r.status is Feasibility.UNDECIDED and r.reason is InconclusiveReason.SOLVER_STATUS and r.margin is None
    assert r.detail == "; ".join(["max-margin LP status 4: numerical"] * 2 + ["motzkin LP status 4: numerical"])
    # a point that fails its exact check and cannot be repaired: said so
    monkeypatch.setattr(strict, "max_margin", lambda *a: (1e-9, np.array([5e-3]), "optimal"))
    r = decide_strict(A, b, st)
    assert r.status is Feasibility.UNDECIDED and "t* = 1e-09, witness failed its exact check" in r.detail
