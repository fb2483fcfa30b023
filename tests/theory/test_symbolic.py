"""Exact (sympy) forms: block Hessians are Gram matrices (Thm 3.2), Example 3.5 in rationals."""
import numpy as np
import sympy as sp

from sdlscape.theory.symbolic import (
    block_hessian_gram_identity,
    exact_positive_eigenvectors,
    example_3_5_exact,
    joint_hessian_at,
)


def test_block_hessians_are_gram_matrices():
    W = np.array([[1.0, 0.6], [0.0, 0.8]])
    mask = np.array([[True, True], [False, True]])
    out = block_hessian_gram_identity(W, W, [1.0, 2.0], mask)
    assert out["convex_in_each_block"]
    assert out["encoder"]["variables"] == 4 and out["decoder"]["variables"] == 4


def test_joint_hessian_is_indefinite_somewhere():
    """Biconvex but not jointly convex: at W_D = 0, W_E = 0 the cross terms give a negative eigenvalue."""
    mask = np.array([[True, True], [False, False]])
    H = joint_hessian_at(np.eye(2), np.eye(2), [1, 1], mask, np.zeros((2, 2)), np.zeros((2, 2)))
    eigs = [complex(e).real for e in H.eigenvals(multiple=True)]
    assert min(eigs) < 0


def test_example_3_5_exact():
    ex = example_3_5_exact()
    assert ex["pattern"] == [[0, 1], []]
    assert ex["loss"] == 1
    assert ex["grad_W_D"] == sp.zeros(2, 2) and ex["grad_W_E"] == sp.zeros(2, 2)
    assert ex["decoder_block_min"] == 1 and ex["encoder_block_min"] == 1
    assert ex["decoder_argmin_live_column"] == [sp.Rational(1, 2)] * 2
    assert ex["encoder_argmin_row0"] == [1, 1] and ex["encoder_argmin_in_region"]


def test_exact_positive_eigenvectors():
    res = exact_positive_eigenvectors(np.diag([1.0, 2.0]))
    assert all(r["positive"] is False for r in res)
    res = exact_positive_eigenvectors(np.array([[1.0, 0.5], [0.5, 1.0]]))
    assert sorted(r["positive"] for r in res) == [False, True]
