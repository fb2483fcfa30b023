"""The decision rules of Thm 3.6 on their own (mutation testing found them reached only through whole checks):
the status of the statement as written from the pattern counts, and the corrected check's disagreement rule."""
import pytest

from sdlscape.outcomes import Status
from sdlscape.verify.thm3_6 import status_as_written
from sdlscape.verify.thm3_6_judges import Criterion, JudgeVerdict, Kind, disagreement


@pytest.mark.parametrize("counts, status", [
    ({}, Status.INCONCLUSIVE),                                   # nothing searched is never "holds"
    ({"none": 1}, Status.FAILS),
    ({"none": 1, "exists": 5}, Status.FAILS),                    # one proven failure is enough
    ({"exists": 3}, Status.HOLDS),
    ({"exists": 3, "none": 0, "undecided": 0, "zero_loss": 0}, Status.HOLDS),
    ({"exists": 3, "undecided": 1}, Status.INCONCLUSIVE),
    ({"exists": 3, "zero_loss": 1}, Status.INCONCLUSIVE),        # a zero-loss optimum is not the positive-loss one
    ({"undecided": 2}, Status.INCONCLUSIVE),
    ({"zero_loss": 2}, Status.INCONCLUSIVE),
    ({"exists": 0, "unrealizable": 4}, Status.INCONCLUSIVE),
])
def test_status_as_written(counts, status):
    assert status_as_written(counts) is status


def _v(judge, exists, refutes=False):
    return JudgeVerdict(judge=judge, exists=exists, refutes_point=refutes)


def test_disagreement_names_the_refuting_judges():
    crit = Criterion(kind=Kind.EXISTS, necessity_applies=True)
    assert disagreement(crit, [_v("certificate", True), _v("acs", None)]) is None
    assert disagreement(crit, [_v("certificate", None, refutes=True), _v("acs", True)]) == \
        "the criterion's partial optimum is refuted by certificate"
    assert disagreement(crit, [_v("certificate", None, refutes=True), _v("acs", False)]) == \
        "the criterion's partial optimum is refuted by certificate, acs"


def test_disagreement_where_ii_says_none():
    none_ii = Criterion(kind=Kind.NONE, necessity_applies=True)
    assert disagreement(none_ii, [_v("acs", None), _v("certificate", False)]) is None
    assert disagreement(none_ii, [_v("acs", True), _v("other", True)]) == \
        "a judge certified a partial optimum where (ii) says none: acs, other"
    beyond = Criterion(kind=Kind.NONE, necessity_applies=False)     # (ii) does not apply: a find is no contradiction
    assert disagreement(beyond, [_v("acs", True)]) is None
    assert disagreement(Criterion(kind=Kind.NOT_APPLICABLE, necessity_applies=False), [_v("acs", True)]) is None


# decide(): the verdict of one piece from the criterion and the judges (both pluggable, so the rule is tested alone)

def _piece():
    import numpy as np

    from sdlscape.outcomes import Reading
    from sdlscape.theory.activations import ReLU
    from sdlscape.theory.instance import Instance
    from sdlscape.theory.patterns import Pattern
    from sdlscape.theory.piece import Piece

    inst = Instance(W_p=np.eye(2), activation=ReLU(), n_latents=2, name="orthogonal-n2")
    pc = Piece(inst, Pattern.parse([[0, 1], []], 2, 2), reading=Reading.DEF_3_1)
    assert pc.realizable
    return pc


@pytest.mark.parametrize("kind, necessity, judge, verdict, loss", [
    (Kind.NONE, True, _v("acs", None), "none", None),            # (ii) proves none, no judge found one
    (Kind.NONE, False, _v("acs", None), "undecided", None),      # (ii) does not apply: no proof
    (Kind.NONE, False, JudgeVerdict(judge="acs", exists=True, loss=0.5), "exists", 0.5),
    (Kind.EXISTS, True, JudgeVerdict(judge="certificate", exists=True, loss=2.0), "exists", 2.0),
    (Kind.EXISTS, True, _v("certificate", None), "zero_loss", None),          # certified, but with zero loss
    (Kind.EXISTS, True, _v("certificate", None, refutes=True), "undecided", None),
    (Kind.EXISTS, True, JudgeVerdict(judge="certificate", exists=None, solver_ok=False), "undecided", None),
])
def test_decide_verdict(kind, necessity, judge, verdict, loss):
    from sdlscape.verify.thm3_6 import decide

    seen = []

    def judge_fn(piece, crit, starts, seed):
        seen.append((judge.judge, seed))
        return judge

    def other(piece, crit, starts, seed):
        seen.append(("other", seed))
        return _v("other", None)

    judges = {"certificate": judge_fn, "acs": other} if judge.judge == "certificate" else \
        {"certificate": other, "acs": judge_fn}
    ev = decide(_piece(), 4, 11, rule=lambda pc: Criterion(kind=kind, necessity_applies=necessity), judges=judges)
    assert ev.verdict.value == verdict and ev.loss == loss and ev.pattern == [[0, 1], []]
    assert seen == [(judge.judge, 11)] and ev.judges == (judge,)   # EXISTS asks the certificate only, else the rest


class _Unrealizable:
    """A piece stand-in whose realizability is decided (or fails) without an LP."""

    def __init__(self, certificate=None, error=None):
        from types import SimpleNamespace

        from sdlscape.theory.patterns import Pattern

        self.pattern = Pattern.parse([[0, 1], []], 2, 2)
        self._rz = SimpleNamespace(realizable=False, certificate=certificate, detail="the LP's answer")
        self._error = error

    @property
    def realizability(self):
        if self._error is not None:
            raise self._error
        return self._rz


def test_decide_unrealizable_needs_a_certificate():
    from sdlscape.errors import InputError
    from sdlscape.verify.thm3_6 import decide

    def never(*a):
        raise AssertionError("no criterion on an unrealizable piece")

    ev = decide(_Unrealizable(certificate=[1.0, 2.0]), 4, 0, rule=never)
    assert (ev.verdict.value, ev.reason, ev.pattern) == ("unrealizable", "the LP's answer", [[0, 1], []])
    ev = decide(_Unrealizable(certificate=None), 4, 0, rule=never)      # no certificate: not a proof
    assert (ev.verdict.value, ev.reason, ev.pattern) == ("undecided", "the LP's answer", [[0, 1], []])
    ev = decide(_Unrealizable(error=InputError("TopK counts: 3 latents fire, k = 1")), 4, 0, rule=never)
    assert (ev.verdict.value, ev.reason, ev.pattern) == ("unrealizable", "TopK counts: 3 latents fire, k = 1",
                                                          [[0, 1], []])
