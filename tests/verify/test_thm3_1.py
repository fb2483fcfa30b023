"""Thm 3.1: fails as written (co-firing laws), the corrected statement holds with (H), its false variants fail."""
import numpy as np

from sdlscape.outcomes import Severity, Status
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import recheck
from sdlscape.verify.thm3_1_estimate import PointVerdict, decide, decide_bound, one_feature_closed_form
from sdlscape.verify.thm3_1_laws import cofiring_pair, exclusive, hierarchy, independent


def ctx(inst=None, tmp=None):
    return Context(budget="quick", seed=0, instance=inst, counterexample_dir=tmp)


def test_laws_exact_probabilities():
    law = independent(3, 0.1)
    assert abs(sum(p for _, p in law.supports) - 1) < 1e-12 and abs(law.marginal(1) - 0.1) < 1e-12
    assert abs(law.max_cofire - 0.01) < 1e-12 and law.satisfies_H
    pair = cofiring_pair(3, 0.1)
    assert pair.marginal(0) == pair.marginal(1) == 0.1 and abs(pair.max_cofire - 0.1) < 1e-12 and not pair.satisfies_H
    assert pair.weights()[0] == 0.0 and pair.weights()[2] > 0  # features 0, 1 never fire alone
    h = hierarchy(3, 0.2)
    assert abs(h.marginal(0) - 0.2) < 1e-12 and abs(h.marginal(1) - 0.1) < 1e-12 and not h.satisfies_H
    ex = exclusive(2, 0.5)
    assert ex.max_cofire == 0.0 and ex.satisfies_H and ex.p_multi == 0.0


def test_decide_bound_rule():
    assert decide_bound(1.0, 0.1, 0.1, 0.5) is PointVerdict.VIOLATED
    assert decide_bound(-1.0, 0.1, 0.1, 0.5) is PointVerdict.VIOLATED
    assert decide_bound(0.05, 0.01, 0.1, 0.5) is PointVerdict.SATISFIED
    assert decide_bound(0.3, 0.01, 0.1, 0.5) is PointVerdict.UNDECIDED
    assert decide_bound(0.55, 0.1, 0.1, 0.5) is PointVerdict.UNDECIDED   # the CI reaches below the bound
    assert decide_bound(0.1, 0.0, 0.1, 0.5) is PointVerdict.SATISFIED    # on the bound
    assert decide_bound(0.1 + 1e-13, 0.0, 0.1, 0.5, tol=1e-12) is PointVerdict.SATISFIED


def test_cofiring_pair_exceeds_eq12_relu():
    """The issue's case: two features that always fire together at p = 0.01, relu, W_D = 0: L~ = 0 (no
    feature fires alone) while L_SDL = p E||x||^2: about 9x the bound n^2 C p^2."""
    inst = I.orthogonal(2, "relu")
    W_E, W_D = np.eye(2), np.zeros((2, 2))
    r = decide(inst, W_D, W_E, cofiring_pair(2, 0.01), 4000, np.random.default_rng(0))
    assert r["reference"] == 0.0 and r["verdict"] is PointVerdict.VIOLATED
    assert 7.0 < r["ratio_to_bound_hi"] < 11.0
    indep = decide(inst, W_D, W_E, independent(2, 0.01), 4000, np.random.default_rng(0))
    assert indep["verdict"] is PointVerdict.SATISFIED


def test_closed_form_one_feature_term_matches_quadrature_jumprelu():
    inst = I.orthogonal(2, JumpReLU(theta=0.5))
    rng = np.random.default_rng(1)
    W_E, W_D = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    law = exclusive(2, 0.3)
    r = decide(inst, W_D, W_E, law, 100, rng, corrected=True)
    assert abs(r["one_feature_term"] - one_feature_closed_form(inst, W_D, W_E, law)) <= r["half"] + 1e-12


def test_thm3_1_fails_as_written_relu(tmp_path):
    res = check_function("thm3.1")("relu", ctx(I.orthogonal(2, "relu"), tmp_path))
    assert res.status is Status.FAILS and res.severity is Severity.SUBSTANTIVE
    assert res.counterexample["law"]["name"] != "independent"
    assert res.natural["counts"]["violated"] == 0  # independent features: no violation
    ok, detail = recheck(res.to_dict())
    assert ok and detail["verdict"] == "violated"


def test_thm3_1_jumprelu_fails_even_with_independent_features(tmp_path):
    res = check_function("thm3.1")("jumprelu", ctx(I.orthogonal(2, JumpReLU(theta=0.5)), tmp_path))
    assert res.status is Status.FAILS and res.counterexample["law"]["name"] == "independent"
    assert recheck(res.to_dict())[0]
    # what it rests on is the activation (no co-firing law involved), said in the result for the report
    assert list(res.rests_on) == ["activation: not positively homogeneous (L~ is not the one-active-feature term)"]


def test_thm3_1_relu_failure_rests_on_the_law_not_the_activation(tmp_path):
    res = check_function("thm3.1")("relu", ctx(I.orthogonal(2, "relu"), tmp_path))
    assert res.rests_on and all(r.startswith("law: co-firing") for r in res.rests_on)


def test_thm3_1_corrected_holds_and_its_false_variants_fail():
    inst = I.random_unit(2, 2, "relu", seed=1)
    good = check_function("thm3.1-corrected")("relu", ctx(inst))
    assert good.status is Status.HOLDS and good.evidence["outside_hypothesis"]["violated"] > 0
    assert good.evidence["counts"]["satisfied"] > 0
    assert check_function("thm3.1-corrected")("relu", ctx(inst), bound_factor=1e-3).status is Status.FAILS
    bad = check_function("thm3.1-corrected")("relu", ctx(inst), enforce_hypothesis=False)
    assert bad.status is Status.FAILS and bad.counterexample["law"]["name"] in ("cofiring-pair", "hierarchy")


def test_thm3_1_corrected_jumprelu_uses_the_one_feature_term():
    inst = I.orthogonal(2, JumpReLU(theta=0.5))
    assert check_function("thm3.1-corrected")("jumprelu", ctx(inst)).status is Status.HOLDS
