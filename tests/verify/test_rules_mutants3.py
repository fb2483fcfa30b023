"""Fast rule tests for the strict-inequality decisions (theory/strict.py), thm3.8's split rule and thm3.6's
per-block necessity (the mutation run of benchmarks/mutation_score.py selects them)."""
from fractions import Fraction

import numpy as np
import pytest

from sdlscape.outcomes import Feasibility, InconclusiveReason
from sdlscape.theory.activations import ReLU
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.theory.strict import (
    _solve_exact,
    decide_strict,
    exact_motzkin,
    exact_slacks,
    max_margin,
    motzkin_lp,
    repaired_witness,
    witness_holds,
)
from sdlscape.verify.thm3_6_judges import latent_free
from sdlscape.verify.thm3_8 import Evidence, Split, split_refuted

T, F = True, False


def test_exact_slacks_and_witness_holds():
    A, b = np.array([[1.0, 2.0], [-1.0, 0.0]]), np.array([3.0, 0.0])
    assert exact_slacks(A, b, np.array([1.0, 0.5])) == [Fraction(1), Fraction(1)]
    assert exact_slacks(A, b, np.array([0.1, 0.0]))[0] == Fraction(3) - Fraction(0.1)   # exact, not 2.9
    assert witness_holds(A, b, [T, T], np.array([1.0, 0.5]))
    assert not witness_holds(A, b, [T, T], np.array([1.0, 1.0]))      # slack 0 on a strict row
    assert witness_holds(A, b, [F, T], np.array([1.0, 1.0]))          # slack 0 on a non-strict row
    assert not witness_holds(A, b, [F, F], np.array([2.0, 1.0]))      # slack -1


def test_solve_exact():
    one = [Fraction(1)]
    assert _solve_exact([[Fraction(1), Fraction(1)]], one, [Fraction(0), Fraction(5)]) == [Fraction(-4), Fraction(5)]
    assert _solve_exact([[Fraction(2), Fraction(0)], [Fraction(0), Fraction(4)]], [Fraction(1), Fraction(1)],
                        [Fraction(9), Fraction(9)]) == [Fraction(1, 2), Fraction(1, 4)]
    assert _solve_exact([[Fraction(1)], [Fraction(1)]], [Fraction(1), Fraction(2)], [Fraction(0)]) is None
    assert _solve_exact([[Fraction(0)], [Fraction(1)]], [Fraction(0), Fraction(3)], [Fraction(0)]) == [Fraction(3)]
    # a pivot found below the first row (row swap) and a row eliminated above it
    M = [[Fraction(0), Fraction(1)], [Fraction(1), Fraction(1)]]
    assert _solve_exact(M, [Fraction(2), Fraction(3)], [Fraction(0)] * 2) == [Fraction(1), Fraction(2)]


def test_max_margin_values():
    A, b = np.array([[-1.0], [1.0]]), np.array([0.0, 0.5])                # 0 < x < 1/2
    t, x, status = max_margin(A, b, np.array([T, T]))
    assert status == "optimal" and t == pytest.approx(0.25) and x == pytest.approx([0.25])
    t, x, _ = max_margin(A, b, np.array([T, F]))                         # margin on x > 0 only, x/s <= 1/2
    assert t == pytest.approx(0.5) and 0 < x[0] <= 0.5 + 1e-12
    t, x, _ = max_margin(A, np.zeros(2), np.array([T, T]))               # x > 0 and x < 0: t* = 0, no point
    assert t == pytest.approx(0.0, abs=1e-12) and x is None


def test_motzkin_lp_and_exact_certificate():
    A, b, st = np.array([[-1.0], [1.0]]), np.array([0.0, -1.0]), np.array([F, F])   # x >= 0, x <= -1
    y, status = motzkin_lp(A, b, st)
    assert status == "optimal" and y == pytest.approx([1.0, 1.0])
    sol = exact_motzkin(A, b, st, y)
    assert sol == [Fraction(1), Fraction(1)]
    assert exact_motzkin(A, b, st, np.array([1.0, 1.0, 0.0])) is None    # wrong shape
    assert exact_motzkin(A, b, st, np.array([0.0, 0.0])) is None         # zero
    assert exact_motzkin(A, b, st, np.array([np.nan, 1.0])) is None
    assert exact_motzkin(A, np.array([0.0, 1.0]), st, np.array([1.0, 1.0])) is None   # b^T y = 1 > 0
    assert exact_motzkin(A, np.zeros(2), st, np.array([1.0, 1.0])) is None            # b^T y = 0, no strict row
    assert exact_motzkin(A, np.zeros(2), np.array([T, F]), np.array([1.0, 1.0])) == [Fraction(1), Fraction(1)]
    y, status = motzkin_lp(A, np.array([0.0, 1.0]), st)                  # feasible system: no certificate
    assert y is None and status.startswith("motzkin LP status 2")


def test_repaired_witness():
    # x0 <= 0 and -x0 <= 0 (x0 = 0 exactly), x1 > 0; the float point misses row 0 by 1e-17
    A, b, st = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]]), np.zeros(3), np.array([F, F, T])
    xq = repaired_witness(A, b, st, np.array([1e-17, 1.0]))
    assert xq == [Fraction(0), Fraction(1)]
    assert repaired_witness(A, b, st, np.array([0.0, 1.0])) == [Fraction(0), Fraction(1)]   # already tight
    assert repaired_witness(A, b, st, np.array([1e-17, -1.0])) is None   # a strict row violated: not repairable
    assert repaired_witness(A, b, st, np.array([0.5, 1.0])) is None      # far outside: not round-off
    assert repaired_witness(A[2:], b[2:], st[2:], np.array([0.0, 1.0])) is None   # nothing tight to repair


def test_decide_strict_branches():
    A = np.array([[-1.0], [1.0]])
    r = decide_strict(A, np.array([0.0, 1.0]), np.array([T, T]))
    assert r.status is Feasibility.REALIZABLE and r.feasible and r.reason is None and 0 < r.witness[0] < 1
    assert r.margin == pytest.approx(0.5) and "exact rationals" in r.detail and "boundary" not in r.detail
    r = decide_strict(A, np.zeros(2), np.array([T, F]))
    assert r.status is Feasibility.UNREALIZABLE and not r.feasible and r.witness is None and r.certificate is not None
    r = decide_strict(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]]), np.zeros(3), np.array([F, F, T]))
    assert r.status is Feasibility.REALIZABLE and r.witness[0] == 0.0 and r.witness[1] > 0   # x0 = 0 forced
    r = decide_strict(np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=bool))
    assert r.status is Feasibility.REALIZABLE and r.witness.tolist() == [0.0, 0.0]
    thin = decide_strict(A, np.array([0.0, 1e-13]), np.array([T, T]))
    assert thin.status is not Feasibility.UNREALIZABLE
    if thin.status is Feasibility.UNDECIDED:
        assert thin.reason is InconclusiveReason.FP_BAND and thin.certificate is None


def _rec(splittable, per_sub):
    rec = Evidence(instance="t", activation="relu", hypothesis=True, parent=0, per_sub={
        j: Split(realizable=v["realizable"], status="", farkas_ok=v["farkas_ok"]) for j, v in per_sub.items()})
    assert rec.splittable == splittable
    return rec


def test_split_refuted_rule():
    no = {"realizable": False, "farkas_ok": True}
    und = {"realizable": False, "farkas_ok": False}
    yes = {"realizable": True, "farkas_ok": False}
    assert split_refuted(_rec([], {0: no, 1: no}))
    assert not split_refuted(_rec([], {0: no, 1: und}))                 # an undecided split refutes nothing
    assert not split_refuted(_rec([1], {0: no, 1: yes}))                # some split is realizable
    assert split_refuted(_rec([1], {0: no, 1: yes}), every=True)         # the false variant: not every split
    assert split_refuted(_rec([1], {0: und, 2: no, 1: yes}), every=True)
    assert not split_refuted(_rec([1], {0: und, 1: yes}), every=True)
    assert not split_refuted(_rec([0, 1], {0: yes, 1: yes}), every=True)


def test_latent_free_rank_conditions():
    W = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, -1.0]])
    inst = Instance(W_p=W, activation=ReLU(), n_latents=4, name="b")
    pc = Piece(inst, Pattern.parse([[0, 1], [2], [3], []], 4, 4))
    assert latent_free(pc, 0)                                  # span(e1, e2) meets span(e3) only at 0
    assert not latent_free(pc, 1) and not latent_free(pc, 2)   # e3 and -e3 share their span
    assert not latent_free(pc, 3)                              # dead: no block
    pc2 = Piece(inst, Pattern.parse([[0, 1], [2, 3], [], []], 4, 4))
    assert not latent_free(pc2, 1)                                            # e3, -e3: dependent columns
    W3 = np.array([[1.0, 0, 1 / np.sqrt(2)], [0, 1.0, 1 / np.sqrt(2)]])
    pc3 = Piece(Instance(W_p=W3, activation=ReLU(), n_latents=3), Pattern.parse([[0, 1], [2], []], 3, 3))
    assert not latent_free(pc3, 0) and latent_free(pc3, 1) is False           # shared span; w^2 in span(w^0, w^1)


def test_split_judge_rule_and_record():
    def judged(predicted, realizable, farkas_ok):
        s = Split(realizable=realizable, status="", farkas_ok=farkas_ok, region_type="cone", predicted=predicted)
        s.judge()
        return s.disagrees

    assert judged(True, False, True) and judged(False, True, False)
    assert not judged(True, False, False)           # an undecided P' contradicts nothing
    assert not judged(None, False, True) and not judged(True, True, False) and not judged(False, False, True)
    plain = Split(realizable=True, status="realizable", margin=0.5)
    assert plain.to_dict() == {"realizable": True, "status": "realizable", "margin": 0.5, "farkas_ok": False}
    rec = Evidence(instance="t", activation="relu", hypothesis=True, parent=1, per_sub={2: plain})
    assert rec.to_dict()["splittable"] == [2] and rec.to_dict()["subconcepts"] == [2]
    assert Evidence(instance="t", activation="relu", hypothesis=False, status="undecided").to_dict() == {
        "instance": "t", "hypothesis": False, "status": "undecided", "activation": "relu"}


def test_cone_prediction_on_ordering_regions():
    from sdlscape.verify.thm3_8 import RegionType, cone_prediction, separated

    # w1 = (1, 0.1) lies in cone(w0, w2) = the first quadrant: neither the ReLU condition nor the pairwise one
    W = np.array([[1.0, 1.0, 0.0], [0.0, 0.1, 1.0]])
    inst = Instance(W_p=W, activation=ReLU(), n_latents=3, name="o", normalize=True)
    assert cone_prediction(inst, Pattern.parse([[0, 2], [1], []], 3, 3), RegionType.ORDERING) == {
        "predicted": False, "relu_condition": False, "pairwise": False}
    eye = Instance(W_p=np.eye(2), activation=ReLU(), n_latents=2, name="e")
    assert cone_prediction(eye, Pattern.parse([[0], [1]], 2, 2), RegionType.ORDERING) == {
        "predicted": True, "relu_condition": True, "pairwise": True}
    assert separated(np.array([[1, 0], [0, 1]]), [0], [1])          # integer features read as numbers
    assert not separated(np.array([[1, 2], [0, 0]]), [0], [1])
