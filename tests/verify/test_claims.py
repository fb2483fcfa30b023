"""Each claim check returns a ClaimResult, holds where the statement is true, and FAILS on a
deliberately false variant (a wrong constant, a perturbed point, a false rule): checks can fail."""
import json

import numpy as np
import pytest

from sdlscape.errors import InputError
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU, ReLU, TopK
from sdlscape.verify.claims import (
    CLAIMS,
    ClaimResult,
    Context,
    check_function,
    run_checks,
)


def ctx(inst=None, tmp=None):
    return Context(budget="quick", seed=0, instance=inst, counterexample_dir=tmp)


def test_claim_list_and_contract(tmp_path):
    assert CLAIMS[0] == "thm3.1" and "thm3.6" in CLAIMS and "thm3.8" in CLAIMS
    res = run_checks(["thm3.3"], ["relu"], budget="quick", counterexample_dir=tmp_path)
    d = res[0].to_dict()
    assert set(d) >= {"claim", "activation", "status", "instances_tried", "evidence", "counterexample",
                      "tolerance", "seconds"}
    json.dumps(d)
    with pytest.raises(InputError):
        run_checks(["thm9.9"])
    with pytest.raises(InputError):
        run_checks(["thm3.3"], ["sigmoid"])


def test_thm3_1_bound_constant():
    inst = I.orthogonal(2, "relu")
    good = check_function("thm3.1")("relu", ctx(inst))
    assert good.status == "holds"
    bad = check_function("thm3.1")("relu", ctx(inst), bound_factor=1e-6)
    assert bad.status == "fails"


def test_thm3_1_jumprelu_fails_and_rechecks(tmp_path):
    inst = I.orthogonal(2, JumpReLU(theta=0.5))
    res = check_function("thm3.1")("jumprelu", ctx(inst, tmp_path))
    assert res.status == "fails"
    assert res.counterexample["recheck"]["agrees"]
    assert (tmp_path / "thm3.1-jumprelu.json").is_file()


def test_thm3_1_corrected_wrong_constant():
    inst = I.random_unit(2, 2, "relu", seed=1)
    assert check_function("thm3.1-corrected")("relu", ctx(inst)).status == "holds"
    assert check_function("thm3.1-corrected")("relu", ctx(inst), c_factor=0.0).status == "fails"


def test_thm3_2_holds_and_cross_region_chords_fail():
    inst = I.random_unit(3, 2, TopK(k=1), seed=3)
    assert check_function("thm3.2")("topk", ctx(inst)).status == "holds"
    assert check_function("thm3.2")("topk", ctx(inst), same_region=False).status == "fails"


def test_thm3_3_wrong_bound_and_topk_counterexample(tmp_path):
    inst = I.superposed(4, 3, 0.5, "relu", seed=0)
    assert check_function("thm3.3")("relu", ctx(inst)).status == "holds"
    assert check_function("thm3.3")("relu", ctx(inst), bound_factor=0.0).status == "fails"
    from sdlscape.verify.claims_families import obtuse

    res = check_function("thm3.3")("topk", ctx(obtuse(3, 0.1, TopK(k=2)), tmp_path))
    assert res.status == "fails" and res.counterexample["recheck"]["agrees"]


def test_thm3_4_paper_statement_holds_false_variant_fails():
    inst = I.orthogonal(2, "relu")
    assert check_function("thm3.4")("relu", ctx(inst)).status == "holds"
    assert check_function("thm3.4")("relu", ctx(inst), statement="forces_recovery").status == "fails"


def test_ex3_5_holds_and_perturbed_point_fails():
    res = check_function("ex3.5")("topk_relu", ctx())
    assert res.status == "holds"
    assert res.evidence["exact"]["loss"] == "1"
    W_D = np.array([[0.6, 0.0], [0.4, 0.0]])
    W_E = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert check_function("ex3.5")("topk_relu", ctx(), point=(W_D, W_E)).status == "fails"


def test_thm3_6_equal_vs_unequal_weights(tmp_path):
    eq = I.orthogonal(2, "relu")
    assert check_function("thm3.6")("relu", ctx(eq)).status == "holds"
    res = check_function("thm3.6")("relu", ctx(I.orthogonal(2, "relu", M=[1.0, 2.0]), tmp_path))
    assert res.status == "fails"
    cx = res.counterexample
    assert cx["pattern"] == [[0, 1], []] and cx["recheck"]["agrees"]
    assert all(cx["hypotheses"].values())


def test_thm3_6_corrected_false_rule_fails():
    inst = I.orthogonal(2, "relu", M=[1.0, 2.0])
    assert check_function("thm3.6-corrected")("relu", ctx(inst)).status == "holds"
    assert check_function("thm3.6-corrected")("relu", ctx(inst), sign_free=True).status == "fails"


def test_thm3_8_relu_fails_jumprelu_holds():
    from sdlscape.verify.claims_absorb import angles_instance

    relu = angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], ReLU(), "a")
    res = check_function("thm3.8")("relu", ctx(relu))
    assert res.status == "fails" and res.counterexample["recheck"]["agrees"]
    jr = relu.with_(activation=JumpReLU(theta=0.5))
    assert check_function("thm3.8")("jumprelu", ctx(jr)).status == "holds"


def test_claim_result_rejects_bad_status():
    with pytest.raises(ValueError):
        ClaimResult("thm3.1", "relu", "maybe", 0)
