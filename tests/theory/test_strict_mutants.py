"""Rules of theory/strict.py that the mutation run (benchmarks/mutation_score.py) found untested: which
float points are repaired into exact witnesses, and on which support a float Motzkin certificate is re-solved."""
from fractions import Fraction

import numpy as np
import pytest

from sdlscape.theory.strict import exact_motzkin, repaired_witness

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
