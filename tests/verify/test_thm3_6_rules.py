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
