"""Thm 3.2 per reading (plain TopK fails under Def. 3.1) and Thm 3.3 (literal vs natural readings)."""
import numpy as np

from sdlscape.outcomes import Reading, Severity, Status
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU, TopK
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import obtuse, recheck
from sdlscape.verify.thm3_2 import TOL, decide, verdict


def ctx(inst=None, tmp=None):
    return Context(budget="quick", seed=0, instance=inst, counterexample_dir=tmp)


def test_thm3_2_topk_fails_under_def31_holds_under_selection(tmp_path):
    inst = I.orthogonal(2, TopK(k=1))
    bad = check_function("thm3.2")("topk", ctx(inst, tmp_path), Reading.DEF_3_1)
    assert bad.status is Status.FAILS and bad.reading is Reading.DEF_3_1
    ch = bad.counterexample["chord"]
    assert ch["pattern"] == ch["pattern_2"] and ch["loss_mid"] > (ch["loss_1"] + ch["loss_2"]) / 2 or ch["excess_rel"] > TOL
    assert recheck(bad.to_dict())[0]
    assert (tmp_path / "thm3.2-topk.json").is_file()
    assert check_function("thm3.2")("topk", ctx(inst), Reading.SELECTION).status is Status.HOLDS


def test_thm3_2_false_variant_fails_and_relu_holds():
    inst = I.random_unit(3, 2, TopK(k=1), seed=3)
    assert check_function("thm3.2")("topk", ctx(inst), Reading.SELECTION).status is Status.HOLDS
    assert check_function("thm3.2")("topk", ctx(inst), Reading.SELECTION, same_region=False).status is Status.FAILS
    assert check_function("thm3.2")("relu", ctx(inst.with_(activation="relu"))).status is Status.HOLDS


def test_a_chord_leaving_its_region_is_reported_not_raised():
    inst = I.orthogonal(2, "relu")
    W_E, W_E2 = np.eye(2), -np.eye(2)   # different patterns: the chord leaves the first one's region
    r = decide(inst, np.eye(2), W_E, W_E2, np.eye(2), Reading.DEF_3_1)
    assert r["left_region_at_t"] is not None
    assert verdict(0.0, None, True, True, [True]) is Status.FAILS
    assert verdict(0.0, 0.0, False, True, [True]) is Status.HOLDS
    assert verdict(2 * TOL, None, False, True, [None]) is Status.FAILS
    assert verdict(0.0, -1e-3, False, True, [True]) is Status.FAILS
    assert verdict(0.0, None, False, False, [True]) is Status.FAILS
    assert verdict(0.0, None, False, True, [False]) is Status.FAILS


def test_thm3_3_literal_failures_with_natural_reading(tmp_path):
    res = check_function("thm3.3")("topk", ctx(obtuse(3, 0.1, TopK(k=2)), tmp_path))
    assert res.status is Status.FAILS and res.severity is Severity.LITERAL
    assert res.natural["status"] == "holds" and res.natural["violations"] == 0
    assert recheck(res.to_dict())[0]
    jr = check_function("thm3.3")("jumprelu", ctx(I.orthogonal(2, JumpReLU(theta=1.5)), tmp_path))
    assert jr.status is Status.FAILS and jr.severity is Severity.LITERAL
    assert jr.natural["status"] == "inconclusive"  # theta >= 1: the natural reading does not apply
    ok = check_function("thm3.3")("relu", ctx(I.superposed(4, 3, 0.5, "relu", seed=0)))
    assert ok.status is Status.HOLDS
    worse = check_function("thm3.3")("relu", ctx(I.superposed(4, 3, 0.5, "relu", seed=0)), bound_factor=0.0)
    assert worse.status is Status.FAILS and worse.severity is Severity.SUBSTANTIVE


def test_thm3_3_search_counts_natural_trials():
    res = check_function("thm3.3")("topk", ctx())
    assert res.status is Status.FAILS and res.severity is Severity.LITERAL
    assert res.natural["instances"] >= 200 and res.natural["violations"] == 0
