"""Thm 3.6 as written (fails with unequal weights; plain TopK fails under Def. 3.1) and the corrected
statement tested both ways against pluggable judges (false rules and lying judges make it fail)."""
import numpy as np

from sdlscape.outcomes import Reading, Status
from sdlscape.theory import instance as I
from sdlscape.theory.activations import TopK
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import recheck
from sdlscape.verify.thm3_6 import (
    JUDGES,
    Criterion,
    JudgeVerdict,
    Kind,
    criterion,
    disagreement,
    necessity_applies,
    partition_patterns,
    sign_blind_criterion,
)


def ctx(inst=None, tmp=None):
    return Context(budget="quick", seed=0, instance=inst, counterexample_dir=tmp)


def test_equal_weights_hold_unequal_fail(tmp_path):
    assert check_function("thm3.6")("relu", ctx(I.orthogonal(2, "relu"))).status is Status.HOLDS
    res = check_function("thm3.6")("relu", ctx(I.orthogonal(2, "relu", M=[1.0, 2.0]), tmp_path))
    assert res.status is Status.FAILS
    cx = res.counterexample
    assert cx["pattern"] == [[0, 1], []] and all(cx["hypotheses"].values()) and cx["recheck"]["agrees"]
    assert recheck(res.to_dict())[0]


def test_topk_fails_under_def31_holds_under_selection():
    inst = I.orthogonal(2, TopK(k=1), M=[1.0, 2.0])
    assert check_function("thm3.6")("topk", ctx(inst), Reading.DEF_3_1).status is Status.FAILS
    sel = check_function("thm3.6")("topk", ctx(inst), Reading.SELECTION)
    assert sel.status is Status.HOLDS and sel.reading is Reading.SELECTION


def test_criterion_on_a_rank_deficient_instance():
    inst = I.random_unit(3, 2, "relu", seed=0)
    assert np.linalg.matrix_rank(inst.W_p) < inst.n
    kinds = []
    for P in partition_patterns(inst):
        pc = Piece(inst, P)
        if pc.realizable:
            c = criterion(pc)
            kinds.append(c.kind)
            if c.kind is Kind.EXISTS:
                assert JUDGES["certificate"](pc, c, 4, 0).exists is True
    assert Kind.EXISTS in kinds


def test_necessity_hypothesis():
    inst = I.random_unit(3, 2, "relu", seed=0)   # separable, rank-deficient: non-strict rows can press
    P = Pattern.parse([[0, 1], [2], []], 3, 3)
    assert not necessity_applies(Piece(inst, P))
    full = I.orthogonal(3, "relu")
    assert necessity_applies(Piece(full, P))
    topk = I.random_unit(3, 2, TopK(k=1), seed=0)   # strict rows only
    assert necessity_applies(Piece(topk, P))


def test_disagreement_rule():
    ex = Criterion(kind=Kind.EXISTS, necessity_applies=True)
    none = Criterion(kind=Kind.NONE, necessity_applies=True)
    beyond = Criterion(kind=Kind.NONE, necessity_applies=False)
    found, unknown = JudgeVerdict(judge="a", exists=True), JudgeVerdict(judge="a", exists=None)
    refuted, proven_none = JudgeVerdict(judge="c", exists=None, refutes_point=True), JudgeVerdict(judge="b", exists=False)
    assert disagreement(ex, [found]) is None and disagreement(ex, [unknown]) is None
    assert disagreement(ex, [refuted]) and disagreement(ex, [proven_none])
    assert disagreement(none, [found]) and disagreement(none, [unknown]) is None
    assert disagreement(beyond, [found]) is None


def test_corrected_holds_and_fails_on_false_rule_and_lying_judges():
    inst = I.orthogonal(2, "relu", M=[1.0, 2.0])
    assert check_function("thm3.6-corrected")("relu", ctx(inst)).status is Status.HOLDS
    assert check_function("thm3.6-corrected")("relu", ctx(inst), rule=sign_blind_criterion).status is Status.FAILS
    says_none = lambda piece: Criterion(kind=Kind.NONE, necessity_applies=True)
    assert check_function("thm3.6-corrected")("relu", ctx(I.orthogonal(2, "relu")), rule=says_none).status \
        is Status.FAILS
    finds_everything = {"liar": lambda piece, crit, starts, seed: JudgeVerdict(judge="liar", exists=True)}
    assert check_function("thm3.6-corrected")("relu", ctx(inst), judges=finds_everything).status is Status.FAILS
    eq = I.orthogonal(2, "relu")
    refutes = {"certificate": lambda piece, crit, starts, seed: JudgeVerdict(judge="certificate", exists=None,
                                                                             refutes_point=True)}
    assert check_function("thm3.6-corrected")("relu", ctx(eq), judges=refutes).status is Status.FAILS


def test_user_instance_searches_every_pattern():
    inst = I.orthogonal(4, "relu")
    res = check_function("thm3.6")("relu", ctx(inst))
    assert res.searched.patterns == len(partition_patterns(inst)) == 14
