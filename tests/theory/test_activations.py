"""Activations as objects: eq. 10, one rule for NumPy and torch, Def. 3.1 vs the selection reading, regions."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.activations import (
    REGISTRY,
    JumpReLU,
    ReLU,
    TopK,
    TopKReLU,
    activation_from,
    examples,
    names,
)
from sdlscape.theory.region import ConstraintKind, pattern_region

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
ACTS = examples()      # every registered activation, at its search parameters


@given(Z=arrays(float, (5, 4), elements=finite))
def test_eq10_every_output_is_zero_or_passthrough(Z):
    for act in ACTS:
        out = act.apply(Z)
        assert np.all((out == 0) | (out == Z))
        assert np.array_equal(np.where(act.passes(Z), Z, 0.0), out)


@given(Z=arrays(float, (4, 5), elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])), axis=st.sampled_from([0, 1]))
def test_numpy_and_torch_follow_the_same_rule_with_ties(Z, axis):
    """Ties (repeated values, zeros) are where two implementations of TopK usually differ."""
    for act in ACTS:
        a = act.passes(Z, axis=axis)
        t = act.passes(torch.tensor(Z), axis=axis).numpy()
        assert np.array_equal(a, t), act
        assert np.array_equal(act.apply(Z, axis=axis), act.apply(torch.tensor(Z), axis=axis).numpy())


def test_topk_ties_break_toward_the_lower_index():
    Z = np.array([[1.0, 1.0, 1.0, 0.0]])
    assert TopK(k=2).passes(Z).tolist() == [[True, True, False, False]]


@given(Z=arrays(float, (3, 4), elements=finite), c=st.floats(0.01, 100))
def test_relu_and_topk_are_positively_homogeneous(Z, c):
    for act in ACTS:
        if act.positively_homogeneous:
            assert np.allclose(act.apply(c * Z), c * act.apply(Z), rtol=1e-12, atol=1e-12)


def test_jumprelu_is_not_positively_homogeneous():
    act = JumpReLU(theta=1.0)
    z = np.array([[0.8]])
    assert act.apply(z)[0, 0] == 0.0
    assert act.apply(2 * z)[0, 0] == pytest.approx(1.6)  # sigma(2z) = 1.6 != 2 sigma(z) = 0
    assert not act.positively_homogeneous


def test_topk_keeps_k_largest_and_topk_relu_drops_negatives():
    Z = np.array([[3.0, -1.0, 2.0, -0.5]])
    assert np.array_equal(TopK(k=2).apply(Z), [[3.0, 0, 2.0, 0]])
    assert np.array_equal(TopK(k=3).apply(Z), [[3.0, 0, 2.0, -0.5]])
    assert np.array_equal(TopKReLU(k=3).apply(Z), [[3.0, 0, 2.0, 0]])
    with pytest.raises(InputError, match="exceeds"):
        TopK(k=5).apply(Z)


def test_def31_and_selection_readings_differ_only_for_plain_topk():
    Z = np.array([[3.0, -1.0, 2.0, -0.5]])
    sel = TopK(k=3).pattern_mask(Z, Reading.SELECTION)
    fired = TopK(k=3).pattern_mask(Z, Reading.DEF_3_1)
    assert sel.tolist() == [[True, False, True, True]]
    assert fired.tolist() == [[True, False, True, False]]   # the selected -0.5 does not fire (Def. 3.1)
    for act in (ReLU(), JumpReLU(theta=0.5), TopKReLU(k=3)):
        assert np.array_equal(act.pattern_mask(Z, Reading.SELECTION), act.pattern_mask(Z, Reading.DEF_3_1))
    assert TopK(k=1).readings == (Reading.DEF_3_1, Reading.SELECTION)
    assert ReLU().readings == (Reading.DEF_3_1,)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), act=st.sampled_from(ACTS), reading=st.sampled_from(list(Reading)))
def test_region_contains_encoder_whose_pattern_it_is(seed, act, reading):
    rng = np.random.default_rng(seed)
    W_p = rng.standard_normal((3, 4))
    W_p /= np.linalg.norm(W_p, axis=0)
    W_E = rng.standard_normal((3, 3))
    mask = act.pattern_mask(W_E @ W_p, reading, axis=0)
    reg = pattern_region(act, W_p, mask, 1e-12, reading)
    assert np.all(reg.slack(W_E) >= -1e-9)
    # and a random encoder with another pattern lies outside it
    W2 = rng.standard_normal((3, 3))
    if not np.array_equal(act.pattern_mask(W2 @ W_p, reading, axis=0), mask):
        assert not reg.contains(W2, tol=1e-9)


def test_region_rows_describe_constraints():
    W_p = np.eye(2)
    reg = pattern_region(TopKReLU(k=1), W_p, np.array([[True, True], [False, False]]), 0.01, Reading.DEF_3_1)
    assert sorted({c.kind.value for c in reg.constraints}) == ["on", "order"]
    assert reg.strict.all()
    assert reg.contains(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert not reg.contains(np.array([[1.0, 1.0], [2.0, 0.0]]))
    off = pattern_region(ReLU(), W_p, np.array([[True, False]]), 0.01, Reading.DEF_3_1)
    assert [c.kind for c in off.constraints] == [ConstraintKind.ON, ConstraintKind.OFF]
    assert off.strict.tolist() == [True, False]


def test_impossible_topk_patterns_are_rejected():
    W_p = np.eye(2)
    with pytest.raises(InputError, match="exactly k"):
        pattern_region(TopK(k=1), W_p, np.array([[True, True], [True, False]]), 1e-3, Reading.SELECTION)
    with pytest.raises(InputError, match="more than k"):
        pattern_region(TopKReLU(k=1), W_p, np.array([[True, False], [True, False]]), 1e-3, Reading.DEF_3_1)
    # under Def. 3.1 plain TopK may fire fewer than k latents (the others pass non-positive codes)
    pattern_region(TopK(k=2), W_p, np.array([[True, False], [False, False], [False, True]]), 1e-3, Reading.DEF_3_1)


def test_def31_region_of_plain_topk_equals_topk_relu_region():
    """sigma(z)_i > 0 picks the same latents for TopK and TopK o ReLU, so their Def. 3.1 regions coincide."""
    rng = np.random.default_rng(3)
    W_p = rng.standard_normal((2, 3))
    W_p /= np.linalg.norm(W_p, axis=0)
    mask = np.array([[True, False, False], [False, False, True], [False, False, False]])
    a = pattern_region(TopK(k=2), W_p, mask, 1e-3, Reading.DEF_3_1)
    b = pattern_region(TopKReLU(k=2), W_p, mask, 1e-3, Reading.DEF_3_1)
    assert np.array_equal(a.G, b.G) and np.array_equal(a.h, b.h)


def test_passing_sets_list_the_linear_pieces_a_def31_topk_column_covers():
    assert TopK(k=2).passing_sets(frozenset({0}), 3, Reading.DEF_3_1) == [frozenset({0, 1}), frozenset({0, 2})]
    assert TopK(k=2).passing_sets(frozenset({0}), 3, Reading.SELECTION) == [frozenset({0})]
    assert TopKReLU(k=2).passing_sets(frozenset({0}), 3, Reading.DEF_3_1) == [frozenset({0})]


def test_registry_round_trips_every_activation_and_rejects_bad_specs():
    assert set(names()) >= {"relu", "jumprelu", "topk", "topk_relu"}
    for act in ACTS:
        assert activation_from(act.to_dict()) == act
        assert REGISTRY[act.name] is type(act)
    assert activation_from("relu") == ReLU()
    for bad, msg in [({"name": "nope"}, "unknown activation"), ({"name": "jumprelu"}, "needs theta"),
                     ({"name": "topk", "k": 1, "theta": 2}, "unknown keys"), ({"name": "topk", "k": True}, "integer k"),
                     ({"name": "topk", "k": 1.5}, "integer k"), ({"name": "jumprelu", "theta": -1}, "theta > 0"),
                     ({"name": "jumprelu", "theta": "0.5"}, "number"), ({"name": "jumprelu", "theta": float("nan")}, "finite"),
                     (["relu"], "an object")]:
        with pytest.raises(InputError, match=msg):
            activation_from(bad)


def test_activation_flags():
    assert ReLU().separable and JumpReLU(theta=1).separable and not TopK(k=1).separable
    assert ReLU().threshold == 0 and JumpReLU(theta=0.3).threshold == 0.3
    assert TopK(k=1).threshold == 0.0 and TopKReLU(k=2).threshold == 0.0    # TopK-type latents fire above 0 too
    assert str(JumpReLU(theta=0.25)) == "jumprelu(theta=0.25)" and str(ReLU()) == "relu"


def test_ties_break_toward_the_lower_index_on_long_rows_in_both_libraries():
    Z = np.zeros((2, 200))
    Z[1, ::3] = 1.0
    for act in (TopK(k=5), TopKReLU(k=5)):
        for arr in (Z, torch.tensor(Z)):
            got = np.asarray(act.passes(arr))
            if act.name == "topk":
                assert np.flatnonzero(got[0]).tolist() == [0, 1, 2, 3, 4]
            else:
                assert not got[0].any()                                   # zeros do not pass TopK o ReLU
            assert np.flatnonzero(got[1]).tolist() == [0, 3, 6, 9, 12]


def test_codes_exactly_at_the_threshold_do_not_pass():
    assert not ReLU().passes(np.array([[0.0]])).any()
    assert not JumpReLU(theta=0.5).passes(np.array([[0.5]])).any()
    assert JumpReLU(theta=0.5).passes(np.array([[0.5 + 1e-12]])).all()
    assert TopKReLU(k=1).passes(np.array([[0.0, -1.0]])).tolist() == [[False, False]]
    assert TopK(k=1).passes(np.array([[0.0, -1.0]])).tolist() == [[True, False]]
    assert TopK(k=1).fires(np.array([[0.0, -1.0]])).tolist() == [[False, False]]


def test_k_may_equal_the_number_of_latents():
    assert TopK(k=2).passes(np.array([[1.0, -1.0]])).all()
    with pytest.raises(InputError, match="k = 3 exceeds n_latents = 2"):
        TopK(k=3).passes(np.array([[1.0, -1.0]]))
    assert TopK(k=2).min_latents == 2 and TopK(k=2).fits(2) and not TopK(k=2).fits(1) and ReLU().fits(1)


def test_selection_regions_order_and_def31_regions_sign():
    sel = TopK(k=1).feature_constraints([1], 3, Reading.SELECTION)
    assert [(c.kind, c.latent, c.other) for c in sel] == [(ConstraintKind.ORDER, 1, 0), (ConstraintKind.ORDER, 1, 2)]
    d31 = TopK(k=2).feature_constraints([1], 3, Reading.DEF_3_1)
    assert [(c.kind, c.latent) for c in d31] == [(ConstraintKind.ON, 1), (ConstraintKind.OFF, 0), (ConstraintKind.OFF, 2)]
    with pytest.raises(InputError, match="impossible pattern for topk\\(k=2\\): a feature activates 1 latents"):
        TopK(k=2).feature_constraints([1], 3, Reading.SELECTION)
    assert TopK(k=2).column_sizes(4, Reading.SELECTION) == range(2, 3)
    assert TopK(k=2).column_sizes(4, Reading.DEF_3_1) == range(0, 3) == TopKReLU(k=2).column_sizes(4, Reading.DEF_3_1)
    assert ReLU().column_sizes(3, Reading.DEF_3_1) == range(0, 4)


def test_parameters_are_stored_and_validated():
    assert JumpReLU(theta=1).theta == 1.0 and isinstance(JumpReLU(theta=1).theta, float)
    assert TopK(k=np.int64(3)).k == 3 and type(TopK(k=np.int64(3)).k) is int
    assert JumpReLU.default() == JumpReLU(theta=0.5) and TopK.default() == TopK(k=1) and ReLU.default() == ReLU()
    assert JumpReLU.search_variants(False) == [JumpReLU(theta=0.5), JumpReLU(theta=1.5)]
    assert [a.k for a in TopKReLU.search_variants(True)] == [1, 2, 3]
    with pytest.raises(InputError, match="jumprelu needs"):
        JumpReLU(theta=0)
    with pytest.raises(InputError, match="topk_relu needs an integer k >= 1"):
        TopKReLU(k=0)
    assert ReLU().linear_reading is Reading.DEF_3_1 and TopK(k=1).linear_reading is Reading.SELECTION


GRID = np.array([[a, b, c] for a in np.linspace(-2, 2, 9) for b in (-0.3, 0.4, 0.6, 1.2) for c in (0.0, 1.6, -1.0)])


@pytest.mark.parametrize("act", ACTS, ids=str)
def test_every_registered_activation_answers_what_its_rule_does(act):
    """The class's answers (base.REQUIRED, threshold, central_arrangement, certifier_reduction) agree with the
    rule `passes` on a grid around the thresholds: no answer is a default that the rule contradicts."""
    from sdlscape.theory.activations import Reduction

    assert type(act).unanswered() == []
    out, fires, passes = act.apply(GRID), act.fires(GRID), act.passes(GRID)
    assert np.all(GRID[fires] > act.threshold)                     # a latent fires only above its threshold
    if act.separable:
        assert np.array_equal(passes, GRID > act.threshold)
    homogeneous = all(np.allclose(act.apply(c * GRID), c * out) for c in (0.5, 2.0, 3.0))
    assert homogeneous == act.positively_homogeneous
    assert bool(np.any(passes & (GRID <= 0))) == act.passes_negative_codes
    assert act.central_arrangement == (act.threshold == 0.0)
    if act.certifier_reduction is Reduction.HOMOGENEOUS:
        assert act.positively_homogeneous and act.central_arrangement and not act.passes_negative_codes
    if act.certifier_reduction is Reduction.JUMP_THRESHOLD:
        assert act.separable and act.threshold > 0


def test_trainer_codes_and_activations_share_one_namespace():
    from sdlscape.solvers.torch_codes import CODES
    from sdlscape.theory.activations import TRAINERS, register

    assert set(CODES) == set(TRAINERS)
    for name, code in TRAINERS.items():
        assert code.activation is None or code.activation in REGISTRY
        assert name not in REGISTRY or code.activation == name     # a shared name = the activation it trains
        assert CODES[name].activation == code.activation
    with pytest.raises(ValueError, match="already registered"):
        register(ReLU)
    assert REGISTRY["relu"] is ReLU
