"""Tests added for the mutants of the decision rules that survived tests/verify/test_rules.py
(benchmarks/mutation_score.py): missing count keys, the decoder-only failure of thm3.4, the judges named in a
disagreement, and the fields result() passes through."""
import pytest

from sdlscape.outcomes import Reading, Severity, Status
from sdlscape.verify import thm3_1, thm3_4
from sdlscape.verify.claims import ClaimResult, Searched, result
from sdlscape.verify.thm3_6_judges import Criterion, JudgeVerdict, Kind, disagreement

V = thm3_1.PointVerdict


def test_thm3_1_status_with_missing_keys():
    assert thm3_1.status_from_counts({}) is Status.INCONCLUSIVE                     # no point decided
    assert thm3_1.status_from_counts({V.SATISFIED.value: 3}) is Status.HOLDS      # no 'undecided' key
    assert thm3_1.status_from_counts({V.UNDECIDED.value: 2}) is Status.INCONCLUSIVE
    assert thm3_1.status_from_counts({V.VIOLATED.value: 1}) is Status.FAILS


def _row(none=1, forced=False, verified=False, applies=True):
    return {"conclusion_applies": applies, "decoder_forced": forced, "forcing_verified": verified,
            "encoder_recovers_none": none, "decoder_recovers_none": none}


def test_thm3_4_part_status():
    forced = [_row(forced=True, verified=True)]
    assert thm3_4.part_status(forced, "decoder") is Status.FAILS
    assert thm3_4.part_status(forced, "encoder") is Status.HOLDS                   # forcing is about decoders
    assert thm3_4.part_status([_row(forced=True, verified=False)], "decoder") is Status.HOLDS
    assert thm3_4.part_status([_row(none=0)], "encoder") is Status.INCONCLUSIVE   # no example on an instance
    assert thm3_4.part_status([_row(), _row(none=0)], "decoder") is Status.INCONCLUSIVE
    assert thm3_4.part_status([_row(applies=False, forced=True, verified=True)], "decoder") is Status.INCONCLUSIVE


def _v(judge, exists=None, refutes=False):
    return JudgeVerdict(judge=judge, exists=exists, refutes_point=refutes)


def test_disagreement_names_exactly_the_contradicting_judges():
    exists = Criterion(kind=Kind.EXISTS, necessity_applies=True)
    assert disagreement(exists, [_v("certificate", refutes=True), _v("acs")]) == \
        "the criterion's partial optimum is refuted by certificate"
    assert disagreement(exists, [_v("certificate", refutes=True), _v("acs", exists=False)]) == \
        "the criterion's partial optimum is refuted by certificate, acs"
    assert disagreement(exists, [_v("certificate", exists=True), _v("acs")]) is None
    none = Criterion(kind=Kind.NONE, necessity_applies=True)
    assert disagreement(none, [_v("acs", exists=True), _v("certificate")]) == \
        "a judge certified a partial optimum where (ii) says none: acs"
    assert disagreement(none, [_v("acs", exists=True), _v("other", exists=True)]) == \
        "a judge certified a partial optimum where (ii) says none: acs, other"
    assert disagreement(Criterion(kind=Kind.NONE, necessity_applies=False), [_v("acs", exists=True)]) is None


def test_claim_result_messages_and_reading_field():
    r = ClaimResult(claim="thm3.2", activation="topk", status="holds", instances_tried=1, reading="selection")
    assert r.reading is Reading.SELECTION and r.to_dict()["reading"] == "selection"
    with pytest.raises(ValueError, match="^a failing result needs a severity, and only a failing result has one$"):
        ClaimResult(claim="x", activation="relu", status="fails", instances_tried=0)
    with pytest.raises(ValueError, match="^a literal failure must carry the natural reading's result$"):
        ClaimResult(claim="x", activation="relu", status="fails", instances_tried=0, severity="literal")


def test_result_passes_every_field():
    cx, ev = {"instance": "f.json", "why": "w"}, {"counts": {"violated": 1}}
    r = result("thm3.1", "relu", Status.FAILS, tried=3, evidence=ev, searched=Searched(instances=3),
               tolerance={"t": 1}, counterexample=cx)
    assert (r.claim, r.activation, r.instances_tried) == ("thm3.1", "relu", 3)
    assert r.evidence == ev and r.counterexample == cx and r.severity is Severity.SUBSTANTIVE
    assert result("thm3.3", "topk", Status.FAILS, tried=1, evidence={}, searched=Searched(), tolerance=None,
                  severity=Severity.LITERAL, natural={"status": "holds"}).severity is Severity.LITERAL
