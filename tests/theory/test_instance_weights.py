"""Extreme weights M are refused with their condition number or range (issue 25 item 6), never solved wrongly."""
from __future__ import annotations

import numpy as np
import pytest

from sdlscape.errors import InputError
from sdlscape.theory.instance import Instance
from sdlscape.theory.instance_types import M_CONDITION_MAX, M_RANGE, check_weights

W = [[1.0, 0.6], [0.0, 0.8]]


@pytest.mark.parametrize("M, words", [([1e308, 1e308], "outside"), ([1e60, 1.0], "condition number"),
                                      ([1e120, 1e120], "outside"), ([1e-200, 1e-200], "outside"),
                                      ([1.0, 1e-13], "condition number"), ([np.inf, 1.0], "finite")])
def test_extreme_M_refused(M, words):
    with pytest.raises(InputError, match=words):
        Instance(W_p=W, activation="relu", n_latents=1, M=M)


def test_condition_number_named():
    with pytest.raises(InputError, match=r"1e\+60"):
        Instance(W_p=W, activation="relu", n_latents=1, M=[1e60, 1.0])


@pytest.mark.parametrize("law", [{"p_active": 0.5, "beta": 1e200}, {"p_active": 0.5, "c_min": 1e300},
                                 {"p_active": 1e-300}])
def test_law_whose_weights_overflow_or_vanish_refused(law):
    with pytest.raises(InputError, match="law's weights"):
        Instance(W_p=W, activation="relu", n_latents=1, law=law)


def test_weights_at_the_bounds_accepted():
    inst = Instance(W_p=W, activation="relu", n_latents=1, M=[M_CONDITION_MAX, 1.0])
    assert inst.M.max() / inst.M.min() == M_CONDITION_MAX
    check_weights(np.array([M_RANGE[1], M_RANGE[1]]))
    check_weights(np.array([M_RANGE[0], M_RANGE[0]]))
    with pytest.raises(InputError):
        check_weights(np.array([M_CONDITION_MAX * 1.01, 1.0]))
