"""The decision rules of the checks, one by one, on numbers (fast: these are the mutation-testing targets).

Every rule that turns numbers into a verdict is a small pure function; each test below pins one rule on
both sides of every threshold, so that a flipped comparison, a dropped condition or a changed constant
is caught (benchmarks/mutation_score.py)."""
import numpy as np
import pytest

from sdlscape.outcomes import Outcome, Reading, Severity, Status
from sdlscape.solvers.acs import piece_outcome
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU, TopK, TopKReLU
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify import thm3_1, thm3_2, thm3_3, thm3_4, thm3_6, thm3_8
from sdlscape.verify.claims import ClaimResult, Context, Searched, readings_for, result
from sdlscape.verify.ex3_5 import exact_ok
from sdlscape.verify.search import BUDGETS, Budget, budget_named

# -- claims / search -------------------------------------------------------------------------------

def test_result_defaults_severity_for_failures_only():
    r = result("thm3.1", "relu", Status.FAILS, tried=1, evidence={}, searched=Searched(), tolerance=None)
    assert r.severity is Severity.SUBSTANTIVE and r.reading is Reading.DEF_3_1 and r.instances_tried == 1
    h = result("thm3.1", "relu", Status.HOLDS, tried=2, evidence={"a": 1}, searched=Searched(points=3), tolerance=0.1,
               reading=Reading.SELECTION)
    assert h.severity is None and h.reading is Reading.SELECTION and h.searched.points == 3 and h.tolerance == 0.1
    lit = result("thm3.3", "topk", Status.FAILS, tried=1, evidence={}, searched=Searched(), tolerance=None,
                 severity=Severity.LITERAL, natural={"status": "holds"})
    assert lit.severity is Severity.LITERAL and lit.natural == {"status": "holds"}


def test_claim_result_validation_each_condition():
    base = dict(claim="c", activation="a", instances_tried=0)
    ClaimResult(**base, status="fails", severity="substantive")
    ClaimResult(**base, status="inconclusive")
    for bad in (dict(status="holds", severity="substantive"), dict(status="inconclusive", severity="literal",
                                                                  natural={"x": 1}),
                dict(status="fails"), dict(status="fails", severity="literal", natural={})):
        with pytest.raises(ValueError):
            ClaimResult(**base, **bad)
    d = ClaimResult(**base, status="holds", reading="selection", searched=Searched(instances=2)).to_dict()
    assert d["reading"] == "selection" and d["searched"]["instances"] == 2 and d["severity"] is None


def test_readings_and_budgets():
    assert readings_for("thm3.8-corrected", "topk") == (Reading.DEF_3_1, Reading.SELECTION)
    assert readings_for("thm3.1", "topk") == (Reading.DEF_3_1,)
    assert readings_for("thm3.6", "jumprelu") == (Reading.DEF_3_1,)
    assert budget_named("quick") is BUDGETS["quick"] and BUDGETS["full"].max_patterns is None
    assert BUDGETS["quick"].acs_starts == 4 and BUDGETS["full"].acs_starts > 4
    Budget(name="x", acs_starts=4, max_patterns=None, draws=0, mc=1, points=1)
    with pytest.raises(ValueError):
        Budget(name="x", acs_starts=3, max_patterns=None, draws=0, mc=1, points=1)
    assert Context().full is False and Context(budget="full").full is True


def test_counterexample_file_names(tmp_path):
    c = Context(counterexample_dir=tmp_path)
    inst = I.orthogonal(2, "relu")
    assert c.save_counterexample("thm3.2", "topk", inst).endswith("thm3.2-topk.json")
    assert c.save_counterexample("thm3.2", "topk", inst, Reading.SELECTION).endswith("thm3.2-topk-selection.json")
    assert Context().save_counterexample("thm3.2", "topk", inst) is None


# -- solvers: the outcome order of a piece -----------------------------------------------------------

def test_piece_outcome_order():
    P, L, N = Outcome.PARTIAL_OPTIMUM, Outcome.LEAVES_REGION, Outcome.INCONCLUSIVE
    assert piece_outcome([L, P, N]) is P and piece_outcome([N, L]) is L and piece_outcome([N]) is N
    assert piece_outcome([]) is N and piece_outcome([P]) is P and piece_outcome([L, L]) is L


# -- thm3.1 ----------------------------------------------------------------------------------------

def test_thm3_1_bound_rule_both_sides():
    V, S, U = (thm3_1.PointVerdict.VIOLATED, thm3_1.PointVerdict.SATISFIED, thm3_1.PointVerdict.UNDECIDED)
    assert thm3_1.decide_bound(0.7, 0.1, 0.2, 0.5) is V          # 0.6 > 0.5
    assert thm3_1.decide_bound(0.6, 0.1, 0.2, 0.5) is U          # 0.5, not > 0.5
    assert thm3_1.decide_bound(0.1, 0.1, 0.2, 0.5) is S          # 0.2 <= 0.2
    assert thm3_1.decide_bound(0.1, 0.11, 0.2, 0.5) is U
    assert thm3_1.decide_bound(-0.7, 0.1, 0.2, 0.5) is V
    assert thm3_1.decide_bound(-0.1, 0.1, 0.2, 0.5) is S
    assert thm3_1.decide_bound(0.6 + 0.5e-3, 0.1, 0.2, 0.5, tol=1e-3) is U
    assert thm3_1.decide_bound(0.1 + 0.5e-3, 0.1, 0.2, 0.5, tol=1e-3) is S


def test_thm3_1_status_rule():
    f = thm3_1.status_from_counts
    assert f({"violated": 1, "satisfied": 5, "undecided": 0}) is Status.FAILS
    assert f({"violated": 0, "satisfied": 5, "undecided": 0}) is Status.HOLDS
    assert f({"violated": 0, "satisfied": 5, "undecided": 1}) is Status.INCONCLUSIVE
    assert f({"violated": 0, "satisfied": 0, "undecided": 0}) is Status.INCONCLUSIVE


def test_thm3_1_laws():
    law = thm3_1.independent(2, 0.2)
    probs = dict((tuple(sorted(T)), p) for T, p in law.supports)
    assert probs[()] == pytest.approx(0.64) and probs[(0,)] == pytest.approx(0.16) and probs[(0, 1)] == pytest.approx(0.04)
    assert law.one_minus_S == pytest.approx(0.2) and law.max_cofire == pytest.approx(0.04) and law.satisfies_H
    assert law.p_multi == pytest.approx(0.04)
    assert np.allclose(law.weights(), 0.16 * thm3_1.SECOND_MOMENT)
    pair = thm3_1.cofiring_pair(3, 0.2)
    assert pair.max_cofire == pytest.approx(0.2) and not pair.satisfies_H and pair.prob(lambda T: T == {0}) == 0
    assert pair.marginal(2) == pytest.approx(0.2) and pair.p_multi == pytest.approx(0.2)  # the pair's block
    h = thm3_1.hierarchy(4, 0.2)
    assert h.marginal(0) == pytest.approx(0.2) and h.marginal(1) == pytest.approx(0.1) and h.marginal(3) == pytest.approx(0.2)
    assert h.prob(lambda T: 1 in T and 2 in T) == 0.0 and not h.satisfies_H
    assert h.one_minus_S == pytest.approx(0.2)
    ex = thm3_1.exclusive(3, 0.2)
    assert ex.prob(lambda T: not T) == pytest.approx(0.4) and ex.max_cofire == 0 and ex.satisfies_H
    edge = thm3_1.SupportLaw(name="edge", n=2, supports=((frozenset({0, 1}), 0.04), (frozenset({0}), 0.16),
                                                        (frozenset({1}), 0.16), (frozenset(), 0.64)))
    assert edge.satisfies_H                      # co-firing exactly (1 - S)^2
    worse = thm3_1.SupportLaw(name="worse", n=2, supports=((frozenset({0, 1}), 0.05), (frozenset({0}), 0.15),
                                                          (frozenset({1}), 0.15), (frozenset(), 0.65)))
    assert not worse.satisfies_H
    rng = np.random.default_rng(0)
    X = pair.sample(20000, rng)
    assert np.all((X[:, 0] > 0) == (X[:, 1] > 0)) and abs((X[:, 0] > 0).mean() - 0.2) < 0.02
    assert X[X > 0].min() >= thm3_1.LO and X.max() <= thm3_1.HI
    back = thm3_1.SupportLaw.from_dict(pair.to_dict())
    assert back.max_cofire == pytest.approx(pair.max_cofire) and back.n == 3


def test_thm3_1_c_upper_and_closed_form():
    inst = I.orthogonal(2, "relu")
    assert thm3_1.c_upper(inst, np.zeros((2, 2)), np.eye(2), 2) == pytest.approx(2.0)
    assert thm3_1.c_upper(inst, np.eye(2), np.eye(2), 1) == pytest.approx(4.0)
    law = thm3_1.exclusive(2, 0.5)
    # relu, W_D = 0: L1 = sum_d P({d}) E[u^2] ||w_r^d||^2 = 2 * 0.5 * E[u^2]
    assert thm3_1.one_feature_closed_form(inst, np.zeros((2, 2)), np.eye(2), law) == pytest.approx(thm3_1.SECOND_MOMENT)
    assert thm3_1.approx_loss_weighted(inst, np.zeros((2, 2)), np.eye(2), law.weights()) == \
        pytest.approx(thm3_1.SECOND_MOMENT)
    jr = I.orthogonal(2, JumpReLU(theta=0.5))  # codes u: passed only above 0.5; W_D = I
    val = thm3_1.one_feature_closed_form(jr, np.eye(2), np.eye(2), law)
    expect = (0.5 ** 3 - 0.1 ** 3) / 3 / 0.9   # error u^2 below theta, 0 above, per feature, weight 0.5 each
    assert val == pytest.approx(expect)


# -- thm3.2 / thm3.3 / thm3.4 -------------------------------------------------------------------------

def test_thm3_2_verdict_rule():
    v = thm3_2.verdict
    assert v(thm3_2.TOL, None, False, True, [True, None]) is Status.HOLDS
    assert v(thm3_2.TOL * 1.01, None, False, True, [True]) is Status.FAILS
    assert v(0.0, -thm3_2.EIG_TOL, False, True, [True]) is Status.HOLDS
    assert v(0.0, -thm3_2.EIG_TOL * 1.01, False, True, [True]) is Status.FAILS
    assert v(0.0, None, True, True, []) is Status.FAILS
    assert v(0.0, None, False, False, []) is Status.FAILS
    assert v(0.0, None, False, True, [False]) is Status.FAILS


def test_thm3_3_severity_and_natural_reading():
    assert thm3_3.severity(0, 0) is None
    assert thm3_3.severity(3, 0) is Severity.LITERAL
    assert thm3_3.severity(3, 1) is Severity.SUBSTANTIVE and thm3_3.severity(0, 1) is Severity.SUBSTANTIVE
    assert thm3_3.natural_hypotheses(I.orthogonal(2, JumpReLU(theta=0.99)))
    assert not thm3_3.natural_hypotheses(I.orthogonal(2, JumpReLU(theta=1.0)))
    assert thm3_3.natural_hypotheses(I.orthogonal(2, TopK(k=1))) and thm3_3.natural_hypotheses(I.orthogonal(2, "relu"))
    from sdlscape.verify.search import obtuse

    ob = obtuse(3, 0.1, TopK(k=2))   # interferences -0.1 (with feature 0) and 0.01: |M| = 0.1
    assert thm3_3.natural_bound(ob) == pytest.approx(9 * 0.01 * 3)
    r = thm3_3.decide(ob)
    assert r["violated"] and not r["natural_violated"] and r["negative_codes_passed"]
    assert thm3_3.decide(ob, bound_factor=1e-6)["natural_violated"]


def test_thm3_4_rules():
    inst = I.orthogonal(2, TopK(k=1), n_latents=3)
    W_E = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    W_D = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 5.0]])
    assert thm3_4.topk1_forced(inst, W_D, W_E)
    assert not thm3_4.topk1_forced(inst, W_D * 1.01, W_E)
    assert thm3_4.topk1_forced(inst, W_D + 0.5 * thm3_4.RESIDUAL_TOL, W_E)
    assert not thm3_4.topk1_forced(I.orthogonal(2, TopK(k=2), n_latents=3), W_D, W_E)
    assert thm3_4.forces_decoder(I.orthogonal(2, TopKReLU(k=1), n_latents=2))
    assert not thm3_4.forces_decoder(I.orthogonal(2, JumpReLU(theta=0.5), n_latents=3))
    rows = [{"conclusion_applies": True, "decoder_forced": True, "forcing_verified": False,
             "encoder_recovers_none": 1, "decoder_recovers_none": 1}]
    assert thm3_4.part_status(rows, "decoder") is Status.HOLDS       # forcing not verified: not a proof
    assert thm3_4.part_status([], "encoder") is Status.INCONCLUSIVE
    assert thm3_4.part_status(rows + [dict(rows[0], conclusion_applies=False, encoder_recovers_none=0)],
                              "encoder") is Status.HOLDS


def test_ex3_5_exact_rule():
    good = {"loss": 1, "grad_W_D": [0, 0], "grad_W_E": [0], "decoder_block_min": 1, "encoder_block_min": 1,
            "encoder_argmin_in_region": True}
    assert exact_ok(good)
    for key, bad in (("loss", 2), ("grad_W_D", [0, 1]), ("grad_W_E", [1]), ("decoder_block_min", 0),
                     ("encoder_block_min", 0), ("encoder_argmin_in_region", False)):
        assert not exact_ok(good | {key: bad}), key


# -- thm3.6 ----------------------------------------------------------------------------------------

def test_set_partitions_are_bell_numbers():
    assert [sum(1 for _ in thm3_6.set_partitions(list(range(n)), n)) for n in range(1, 6)] == [1, 2, 5, 15, 52]
    assert sum(1 for _ in thm3_6.set_partitions([0, 1, 2], 2)) == 4
    pats = thm3_6.partition_patterns(I.orthogonal(3, "relu"))
    assert len(pats) == 4 and all(p.polysemantic and p.is_partition for p in pats)
    assert len({p.canonical() for p in pats}) == 4


def test_thm3_6_status_and_disagreement_rules():
    f = thm3_6.status_as_written
    assert f({"none": 1, "exists": 3}) is Status.FAILS and f({"exists": 3}) is Status.HOLDS
    assert f({"exists": 3, "undecided": 1}) is Status.INCONCLUSIVE and f({"exists": 1, "zero_loss": 1}) is Status.INCONCLUSIVE
    assert f({}) is Status.INCONCLUSIVE and f({"unrealizable": 2}) is Status.INCONCLUSIVE
    K, C, J = thm3_6.Kind, thm3_6.Criterion, thm3_6.JudgeVerdict
    ok = J(judge="x", exists=True)
    assert thm3_6.disagreement(C(kind=K.NOT_APPLICABLE, necessity_applies=True), [ok, J(judge="y", exists=False)]) is None
    assert thm3_6.disagreement(C(kind=K.EXISTS, necessity_applies=False), [J(judge="y", exists=False)])
    assert thm3_6.disagreement(C(kind=K.EXISTS, necessity_applies=False), [ok]) is None
    assert thm3_6.disagreement(C(kind=K.NONE, necessity_applies=True), [J(judge="y", exists=False)]) is None


def test_thm3_6_criterion_cases():
    eq = Piece(I.orthogonal(2, "relu"), Pattern.parse([[0, 1], []], 2, 2))
    c = thm3_6.criterion(eq)
    assert c.kind is thm3_6.Kind.EXISTS and c.necessity_applies and c.point is not None
    W_D, W_E = c.point
    assert eq.contains(W_E) and eq.reads_back(W_E)
    un = Piece(I.orthogonal(2, "relu", M=[1.0, 2.0]), Pattern.parse([[0, 1], []], 2, 2))
    assert thm3_6.criterion(un).kind is thm3_6.Kind.NONE
    sel = Piece(I.orthogonal(2, TopK(k=1), M=[1.0, 2.0]), Pattern.parse([[0, 1], []], 2, 2), reading=Reading.SELECTION)
    assert thm3_6.criterion(sel).kind is thm3_6.Kind.EXISTS   # orders only: signed codes allowed
    notpart = Piece(I.orthogonal(3, "relu"), Pattern.parse([[0, 1], [1, 2], []], 3, 3))
    assert thm3_6.criterion(notpart).kind is thm3_6.Kind.NOT_APPLICABLE
    jr = Piece(I.orthogonal(2, JumpReLU(theta=0.5)), Pattern.parse([[0, 1], []], 2, 2))
    cj = thm3_6.criterion(jr)
    assert cj.kind is thm3_6.Kind.EXISTS and np.all((cj.point[1] @ jr.instance.W_p)[0] > 0.5)
    assert thm3_6.sign_blind_criterion(un).kind is thm3_6.Kind.EXISTS
    assert not un.contains(thm3_6.sign_blind_criterion(un).point[1])


def test_thm3_6_necessity_rule():
    P = Pattern.parse([[0, 1], [2], []], 3, 3)
    dup = I.Instance(W_p=np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), activation=TopK(k=1), n_latents=3)
    assert not thm3_6.necessity_applies(Piece(dup, P))   # W_p[:, F_0] has rank 1
    assert thm3_6.necessity_applies(Piece(I.random_unit(3, 2, TopKReLU(k=1), seed=0), P))


# -- thm3.8 ----------------------------------------------------------------------------------------

def test_thm3_8_rules():
    W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    assert thm3_8.separated(W, [0], [1])
    assert not thm3_8.separated(W, [0, 2], [])          # w0 + w2 = 0
    assert thm3_8.separated(W, [1], [0, 2])
    assert thm3_8.separated(W, [0], [2, 1])             # e1 is not in cone(-e1, e2)
    assert not thm3_8.separated(W, [1], [0, 1])         # w1 lies in cone(w0, w1)
    no = thm3_8.Split(realizable=False, status="unrealizable", farkas_ok=True)
    und = thm3_8.Split(realizable=False, status="undecided", farkas_ok=False)
    yes = thm3_8.Split(realizable=True, status="realizable")

    def rec(**per_sub):
        return thm3_8.Evidence(instance="t", activation="relu", hypothesis=True, parent=0,
                               per_sub={int(k[1:]): v for k, v in per_sub.items()})

    assert thm3_8.split_refuted(rec(j0=no, j1=no)) and rec(j0=no, j1=no).splittable == []
    assert not thm3_8.split_refuted(rec(j0=und, j1=no))
    one = rec(j0=no, j1=yes)
    assert one.splittable == [1] and not thm3_8.split_refuted(one) and thm3_8.split_refuted(one, every=True)
    assert not thm3_8.split_refuted(rec(j0=yes), every=True)


def test_thm3_8_region_types_and_predictions():
    inst = thm3_8.angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], TopKReLU(k=1), "a")
    P = Pattern.parse([[1], [2, 3], [0]], 4, 3)
    assert thm3_8.region_type(Piece(inst, P)) is thm3_8.RegionType.ORDERING
    relu = inst.with_(activation="relu")
    assert thm3_8.region_type(Piece(relu, P)) is thm3_8.RegionType.CONE
    assert thm3_8.region_type(Piece(inst.with_(activation=JumpReLU(theta=0.5)), P)) is thm3_8.RegionType.THRESHOLD
    pred = thm3_8.cone_prediction(relu, P, thm3_8.RegionType.CONE)
    assert pred["predicted"] is False and Piece(relu, P).realizable is False
    assert thm3_8.cone_prediction(relu, P, thm3_8.RegionType.THRESHOLD) == {"predicted": None}
    order = thm3_8.cone_prediction(inst, P, thm3_8.RegionType.ORDERING)
    assert order["relu_condition"] is False and order["predicted"] in (None, False)
    moved = thm3_8.move_pattern(thm3_8.parent_pattern(inst), 0, 1, 1)
    assert moved.to_json() == [[0], [1, 2, 3], []]
