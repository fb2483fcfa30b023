"""ClaimResult is typed, frozen and keyword-only; it names its reading and severity; the JSON contract keeps its keys."""
import dataclasses
import json

import pytest

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading, Severity, Status
from sdlscape.verify.claims import (
    CLAIMS,
    ClaimResult,
    Searched,
    readings_for,
    run_checks,
)
from sdlscape.verify.search import BUDGETS, Budget


def test_contract_keys_and_new_keys(tmp_path):
    (res,) = run_checks(["thm3.3"], ["relu"], budget="quick", counterexample_dir=tmp_path)
    d = res.to_dict()
    assert set(d) >= {"claim", "activation", "status", "instances_tried", "evidence", "counterexample",
                      "tolerance", "seconds", "reading", "severity", "searched"}
    assert d["reading"] == "def3.1" and d["status"] == "holds" and d["severity"] is None
    assert d["searched"]["instances"] == d["instances_tried"] > 30
    json.dumps(d)


def test_claim_result_is_frozen_keyword_only_and_validated():
    r = ClaimResult(claim="thm3.1", activation="relu", status="holds", instances_tried=1)
    assert r.status is Status.HOLDS and r.reading is Reading.DEF_3_1
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = Status.FAILS
    with pytest.raises(TypeError):
        ClaimResult("thm3.1", "relu", "holds", 1)
    with pytest.raises(ValueError):
        ClaimResult(claim="thm3.1", activation="relu", status="maybe", instances_tried=0)
    with pytest.raises(ValueError):  # a failure needs a severity
        ClaimResult(claim="thm3.1", activation="relu", status="fails", instances_tried=0)
    with pytest.raises(ValueError):  # and only a failure has one
        ClaimResult(claim="thm3.1", activation="relu", status="holds", instances_tried=0, severity="literal")
    with pytest.raises(ValueError):  # a literal failure carries the natural reading's result
        ClaimResult(claim="thm3.1", activation="relu", status="fails", instances_tried=0, severity="literal")
    ok = ClaimResult(claim="thm3.3", activation="topk", status="fails", instances_tried=1, severity="literal",
                     natural={"status": "holds"}, searched=Searched(instances=1))
    assert ok.severity is Severity.LITERAL and ok.label == "thm3.3/topk"


def test_pattern_claims_run_per_reading():
    assert readings_for("thm3.6", "topk") == (Reading.DEF_3_1, Reading.SELECTION)
    assert readings_for("thm3.6", "relu") == (Reading.DEF_3_1,)
    assert readings_for("thm3.3", "topk") == (Reading.DEF_3_1,)
    res = run_checks(["thm3.2"], ["topk"])
    assert [r.reading for r in res] == [Reading.DEF_3_1, Reading.SELECTION]
    assert res[1].label == "thm3.2/topk/selection"


def test_budgets_use_at_least_four_acs_starts():
    assert all(b.acs_starts >= 4 for b in BUDGETS.values())
    with pytest.raises(ValueError):
        Budget(name="x", acs_starts=1, max_patterns=1, draws=1, mc=10, points=1)


def test_bad_input():
    with pytest.raises(InputError):
        run_checks(["thm9.9"])
    with pytest.raises(InputError):
        run_checks(["thm3.3"], ["sigmoid"])
    with pytest.raises(InputError):
        run_checks(["thm3.3"], budget="huge")
    assert CLAIMS[0] == "thm3.1" and "thm3.8-corrected" in CLAIMS
