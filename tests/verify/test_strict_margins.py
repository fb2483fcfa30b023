"""Strict inequalities decided by their largest margin: no margin knob changes a verdict (issue 23)."""
import functools

import numpy as np
import pytest

from sdlscape.outcomes import Feasibility, InconclusiveReason, Reading, Status
from sdlscape.theory.activations import JumpReLU, ReLU, TopK
from sdlscape.theory.constructions import split_pattern
from sdlscape.theory.instance import Instance
from sdlscape.theory.piece import Piece
from sdlscape.theory.strict import decide_strict, exact_motzkin, witness_holds
from sdlscape.verify import thm3_8
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import recheck
from sdlscape.verify.thm3_8 import angles_instance, parent_pattern

# the full budget's false counterexample (issue 23): its sub-concept 2 splits off with a margin of only 2.5e-4
THIN = angles_instance([140.0, 234.2, 246.8, 247.8], [[0, 1], [2, 3]], JumpReLU(theta=0.25), "thin-split")


def ctx(inst=None):
    return Context(budget="quick", seed=0, instance=inst)


def test_strict_systems_by_their_largest_margin():
    A, b = np.array([[-1.0], [1.0]]), np.array([0.0, 1e-5])           # 0 < x < 1e-5: realizable, thin
    ans = decide_strict(A, b, np.array([True, True]))
    assert ans.status is Feasibility.REALIZABLE and witness_holds(A, b, [True, True], ans.witness)
    assert 0 < ans.margin < 1e-5
    thinner = decide_strict(A, np.array([0.0, 1e-13]), np.array([True, True]))   # below the LP's resolution:
    assert thinner.status is not Feasibility.UNREALIZABLE                         # undecided or a witness, never "no"
    ans = decide_strict(A, np.zeros(2), np.array([True, False]))      # x > 0, x <= 0: a Motzkin certificate
    assert ans.status is Feasibility.UNREALIZABLE and exact_motzkin(A, np.zeros(2), [True, False], ans.certificate)
    assert decide_strict(A, np.zeros(2), np.array([False, False])).status is Feasibility.REALIZABLE  # x = 0
    # the same certificate proves nothing for the non-strict system, and a wrong y is rejected exactly
    assert exact_motzkin(A, np.zeros(2), [False, False], np.array([1.0, 1.0])) is None
    assert exact_motzkin(A, np.zeros(2), [True, False], np.array([1.0, 1.0 + 1e-15])) is not None   # re-solved
    assert exact_motzkin(np.array([[-1.0], [-2.0]]), np.zeros(2), [True, False], np.array([1.0, 0.3])) is None


def test_fp_band_is_undecided_not_unrealizable():
    # x1 > 0 (via feature at 60 deg), x0 <= 0, -x0 + 1e-16 x1 <= 0: empty in exact arithmetic by 1e-16 only
    A = np.array([[-0.5, -0.8660254037844386], [1.0, 0.0], [-1.0, 1.2246467991473532e-16]])
    ans = decide_strict(A, np.zeros(3), np.array([True, False, False]))
    assert ans.status is not Feasibility.REALIZABLE
    if ans.status is Feasibility.UNDECIDED:
        assert ans.reason is InconclusiveReason.FP_BAND


def test_issue_23_false_counterexample_is_realizable():
    P = parent_pattern(THIN)
    r = Piece(THIN, split_pattern(P, 1, 2, 2)).realizability
    assert r.realizable and 1e-4 < r.margin < 1e-3 and r.thin      # narrower than the solvers' eps = 1e-3
    res = check_function("thm3.8")("jumprelu", ctx(THIN))
    assert res.status is Status.HOLDS and res.evidence["smallest_split_margin"] < 1e-3
    assert check_function("thm3.8-corrected")("jumprelu", ctx(THIN)).status is Status.HOLDS


@pytest.mark.parametrize("eps", [1e-7, 1e-5, 1e-3, 1e-1, 0.3])
def test_margin_knob_changes_no_verdict(eps, monkeypatch):
    relu = angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], ReLU(), "a")
    base = {(i.name, p, j): Piece(i, split_pattern(parent_pattern(i), p, j, 2)).realizability.status
            for i in (THIN, relu) for p in (0, 1) for j in i.parents[p]}
    got = {(i.name, p, j): Piece(i, split_pattern(parent_pattern(i), p, j, 2), eps).realizability.status
           for i in (THIN, relu) for p in (0, 1) for j in i.parents[p]}
    assert got == base and Feasibility.UNREALIZABLE in base.values() and Feasibility.REALIZABLE in base.values()
    monkeypatch.setattr(thm3_8, "Piece", functools.partial(Piece, margin=eps))
    assert check_function("thm3.8")("jumprelu", ctx(THIN)).status is Status.HOLDS
    assert check_function("thm3.8")("relu", ctx(relu)).status is Status.FAILS


def test_thm3_8_not_applicable_and_vacuous():
    flat = Instance(W_p=np.eye(2), activation=ReLU(), n_latents=2, name="no-parents")
    for claim in ("thm3.8", "thm3.8-corrected"):
        res = check_function(claim)("relu", ctx(flat))
        assert res.status is Status.NOT_APPLICABLE and res.to_dict()["status"] == "not_applicable"
    # parents whose own pattern is unrealizable (three latents needed for TopK(2) patterns of one feature
    # on two latents each, but features 0 and 1 antiparallel): nothing was searched, so not "holds"
    anti = angles_instance([0, 180, 90, 270], [[0, 1], [2, 3]], ReLU(), "antiparallel-parents")
    res = check_function("thm3.8")("relu", ctx(anti))
    assert res.evidence["parents_checked"] == 0 and res.status is Status.INCONCLUSIVE
    assert res.evidence["reason"] == InconclusiveReason.NOTHING_SEARCHED.value


def test_false_variants_fail_for_jumprelu():
    every = check_function("thm3.8")("jumprelu", ctx(), every=True)
    assert every.status is Status.FAILS and every.rests_on == ("false variant: every",)
    assert recheck(every.to_dict())[0]
    flip = check_function("thm3.8-corrected")("jumprelu", ctx(), flip=True)
    assert flip.status is Status.FAILS and flip.rests_on == ("false variant: flip",)


def test_relu_failure_says_what_it_rests_on():
    relu = angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], ReLU(), "a")
    res = check_function("thm3.8")("relu", ctx(relu))
    assert res.status is Status.FAILS and res.to_dict()["rests_on"] == [thm3_8.REGIONS_WITHOUT_THRESHOLD]
    t = relu.with_(activation=TopK(k=2))
    assert check_function("thm3.8")("topk", ctx(t), Reading.DEF_3_1).rests_on == (thm3_8.REGIONS_WITHOUT_THRESHOLD,)
