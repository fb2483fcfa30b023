"""The record slack of a certificate file (numerics.CERTIFY_RECORD_SLACK, certify/record.py: record_slack).

With `--certificate` every leaf bound of a piece is raised by the room that the independent checker needs there
(measured by running sdlscape.certcheck on the piece's record) plus numerics.CERTIFY_RECORD_MARGIN ||R||^2,
floored at 0 and capped at CERTIFY_RECORD_SLACK ||R||^2. Checked here: a run without a file is unchanged; the file
leaves the checker exactly that margin of room (so less slack than needed is refused); a piece where the checker
is looser than the certifier (a pruned n_p = 3 piece of relu_n4_np3_q2_s0) gets a positive slack
and is refused without it; a slack that breaks certification is reported, and one over the cap is capped.
"""
import copy
import json
from dataclasses import replace

import numpy as np
import pytest

import sdlscape.certcheck as cc
from sdlscape import numerics
from sdlscape.certcheck import check
from sdlscape.cli import main
from sdlscape.outcomes import CertifyReason, CertifyStatus
from sdlscape.solvers.certify import certify_piece, interval, record
from sdlscape.solvers.certify.global_min import _pruned
from sdlscape.solvers.certify.piece_cert import cheap_bound_parts
from sdlscape.solvers.certify.reduce import reduce_piece
from sdlscape.storage import to_jsonable
from sdlscape.theory.instance import load_instance, save_instance, transcoder_pair
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece

ULPS = 64 * np.finfo(float).eps          # the room is read back through a relative number: a few ulps of ||R||^2
NEEDY = "results/landscape/issue28/relu_n4_np3_q2_s0.instance.json"
NEEDY_PATTERN = [[1, 3], [0, 1, 2]]        # pruned on its root bound; the checker needs 2.5e-12 (6e-13 ||R||^2) more there
# (relu_n5_thin's [[0,2,3],[2,3,4]] needed 1.02e-10 ||R||^2 while the certifier's float Ky Fan bound fell below the
# exact one; since that bound holds for the exact span, the checker is the tighter of the two there)


def _nested():
    inst = transcoder_pair(4, 2, 3, "relu", n_latents=2, seed=0)
    pat = Pattern.parse([[0, 2], [0, 2, 3]], inst.n, inst.n_latents)
    return Piece(inst, pat, 1e-3, inst.activation.linear_reading)


def _total(inst) -> float:
    return interval.hi(interval.energy_interval(inst))


def _one_piece_certificate(inst, pc) -> dict:
    """A certificate file of one piece, as `certify --certificate` writes it (through JSON)."""
    d = pc.to_dict()
    doc = {"format": cc.FORMAT, "instance": inst.to_dict(), "lower_bound": d["lower_bound"], "certified": False,
           "rtol": d["rtol"], "atol": d["atol"], "pieces": [d]}
    return json.loads(json.dumps(to_jsonable(doc), allow_nan=False))


def _check_without_refinement(cert):
    budget = cc.REFINE_BUDGET
    try:
        cc.REFINE_BUDGET = 0                     # the recorded leaves as they are
        return check(cert)
    finally:
        cc.REFINE_BUDGET = budget


def _raise_lower_bound(cert, by: float) -> dict:
    bad = copy.deepcopy(cert)
    bad["pieces"][0]["lower_bound"] += by
    bad["lower_bound"] = bad["pieces"][0]["lower_bound"]
    return bad


@pytest.fixture(autouse=True)
def always_measured(monkeypatch):
    """The checker sizes every piece's slack here (at rtol 1e-2 the pieces have room: they would take the cap)."""
    monkeypatch.setattr(record, "ROOM_FACTOR", np.inf)


@pytest.fixture(scope="module")
def nested_runs():
    piece = _nested()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(record, "ROOM_FACTOR", np.inf)
        return piece, [certify_piece(piece, rtol=1e-2, node_limit=2000, record=r) for r in (False, True)]


def test_a_run_without_a_file_is_unchanged_and_the_file_gives_up_only_the_slack(nested_runs):
    piece, (plain, rec) = nested_runs
    assert plain.record is None and "record_slack" not in plain.detail
    assert plain.status is rec.status is CertifyStatus.CERTIFIED
    assert (plain.value, plain.nodes) == (rec.value, rec.nodes)
    s = rec.detail["record_slack"]
    total = _total(piece.instance)
    assert 0.0 <= s["slack"] <= numerics.CERTIFY_RECORD_SLACK * total and not s["capped"]
    assert s["slack"] == pytest.approx(max(s["checker_need"] + numerics.CERTIFY_RECORD_MARGIN * total, 0.0),
                                       abs=ULPS * total)
    assert plain.lower_bound - s["slack"] - ULPS * total <= rec.lower_bound <= plain.lower_bound


def test_the_file_leaves_the_checker_the_margin_and_no_more(nested_runs):
    """The recorded lower bound is the checker's floor minus max(margin, what the certifier had over it): the file
    is VALID with no refinement, and a lower bound raised past that room is refused on a leaf."""
    piece, (_, rec) = nested_runs
    cert = _one_piece_certificate(piece.instance, rec)
    v = check(cert)
    assert v.valid and v.refined == 0, v.failures[:3]
    total = _total(piece.instance)
    s = rec.detail["record_slack"]
    room = v.least_room * total
    assert room == pytest.approx(max(numerics.CERTIFY_RECORD_MARGIN * total, -s["checker_need"]), abs=ULPS * total)
    w = _check_without_refinement(_raise_lower_bound(cert, room + ULPS * total))
    assert not w.valid and w.least_room < 0 and any(" leaf " in f for f in w.failures)


def test_the_cli_file_of_a_piece_checks_valid_with_its_recorded_slack(tmp_path):
    inst = tmp_path / "t4.json"
    save_instance(_nested().instance, inst)
    out = tmp_path / "t4.cert.json"
    assert main(["certify", str(inst), "--pattern", "[[0,2],[0,2,3]]", "--rtol", "1e-2", "--node-limit", "2000",
                 "--certificate", str(out)]) == 0
    cert = json.loads(out.read_text())
    assert "record_slack" in cert["pieces"][0]["detail"] and cert["certified"]
    v = check(cert)
    assert v.valid and v.least_room >= 0, v.failures[:3]


@pytest.fixture(scope="module")
def needy_pruned():
    inst = load_instance(NEEDY)
    piece = Piece(inst, Pattern.parse(NEEDY_PATTERN, inst.n, inst.n_latents), 1e-3, inst.activation.linear_reading)
    return inst, piece, _pruned(piece.pattern, 10.0, 1e-7, 1e-12, piece)


def test_a_pruned_piece_where_the_checker_is_looser_gets_the_room_it_needs(needy_pruned):
    inst, piece, pc = needy_pruned
    total = _total(inst)
    s = pc.detail["record_slack"]
    assert s["checker_need"] > 1e-13 * total and not s["capped"]          # measured: 6.3e-13 ||R||^2
    assert s["slack"] == pytest.approx(s["checker_need"] + numerics.CERTIFY_RECORD_MARGIN * total, rel=1e-12)
    cert = _one_piece_certificate(inst, pc)
    v = _check_without_refinement(cert)
    assert v.valid and v.refined == 0, v.failures[:3]
    assert v.least_room * total == pytest.approx(numerics.CERTIFY_RECORD_MARGIN * total, abs=ULPS * total)
    w = _check_without_refinement(_raise_lower_bound(cert, v.least_room * total + ULPS * total))
    assert not w.valid and any(" leaf " in f for f in w.failures)


def test_without_the_slack_the_checker_refuses_that_pruned_piece(needy_pruned):
    """The certifier's own root bound, recorded with no slack: the checker cannot prove it (a deliberately false
    variant of the rule: slack 0)."""
    inst, piece, pc = needy_pruned
    red, claim = cheap_bound_parts(piece)
    bare = replace(pc, record=record.pruned_record(red, claim),
                   lower_bound=max(interval.lo(interval.lower_bound_interval(inst, claim)), 0.0))
    w = _check_without_refinement(_one_piece_certificate(inst, bare))
    assert not w.valid and w.least_room < 0


def test_the_cheap_bound_without_slack_stays_below_a_value_of_the_piece(needy_pruned):
    inst, piece, _ = needy_pruned
    red, claim = cheap_bound_parts(piece)
    c = certify_piece(piece, rtol=1e-3, node_limit=500)
    assert c.value is not None and c.value >= interval.lo(interval.lower_bound_interval(inst, claim))


def _fake_floor(by_relative: float):
    """A checker that is looser than the certifier by `by_relative` ||R||^2 on the piece's largest leaf bound."""
    def floor(red, rec):
        top = max(leaf["bound"] for leaf in rec["leaves"])
        return red.total - top - by_relative * red.total, []
    return floor


def test_a_slack_that_breaks_certification_is_reported_not_certified(monkeypatch):
    piece = _nested()
    monkeypatch.setattr(record, "checker_floor", _fake_floor(0.1))
    monkeypatch.setattr(numerics, "CERTIFY_RECORD_SLACK", 1.0)
    c = certify_piece(piece, rtol=1e-2, node_limit=2000, record=True)
    assert c.status is CertifyStatus.INCONCLUSIVE and c.reason is CertifyReason.INTERVAL_CHECK and not c.certified
    assert "record_slack_breaks_certification" in c.detail
    total = _total(piece.instance)
    assert c.detail["record_slack"]["slack"] == pytest.approx(0.1 * total, rel=1e-6)
    plain = certify_piece(piece, rtol=1e-2, node_limit=2000)
    assert plain.certified and plain.lower_bound - c.lower_bound == pytest.approx(0.1 * total, rel=1e-6)


def test_a_need_over_the_cap_is_capped(monkeypatch):
    piece = _nested()
    monkeypatch.setattr(record, "checker_floor", _fake_floor(1e-6))
    c = certify_piece(piece, rtol=1e-2, node_limit=2000, record=True)
    s = c.detail["record_slack"]
    assert s["capped"]
    assert s["slack"] == pytest.approx(numerics.CERTIFY_RECORD_SLACK * _total(piece.instance), rel=1e-12)
    assert s["checker_need"] > s["slack"]


def test_a_piece_with_room_to_spare_takes_the_cap_unmeasured(monkeypatch, tmp_path):
    """Without the fixture's override: at rtol 1e-2 the bound has far more than twice the cap to spare, so the
    checker is not run for it (the file still checks VALID: the checker refines a leaf if the cap is short)."""
    monkeypatch.setattr(record, "ROOM_FACTOR", 2.0)
    piece = _nested()
    c = certify_piece(piece, rtol=1e-2, node_limit=2000, record=True)
    s = c.detail["record_slack"]
    assert s["sized_by"] == "room" and s["checker_need"] is None and s["seconds"] == 0.0
    assert s["slack"] == pytest.approx(numerics.CERTIFY_RECORD_SLACK * _total(piece.instance), rel=1e-12)
    v = check(_one_piece_certificate(piece.instance, c))
    assert v.valid, v.failures[:3]
    # the same bound with less to spare than twice the cap is measured
    red = reduce_piece(piece)
    rec = record.piece_record(red, [], [], 0.0)
    cap = numerics.CERTIFY_RECORD_SLACK * red.total
    assert record.record_slack(red, rec, 1.0, spare=2.0 * cap).sized_by == "room"
    monkeypatch.setattr(record, "checker_floor", lambda red, rec: (1.0, []))
    assert record.record_slack(red, rec, 1.0, spare=1.99 * cap).sized_by == "checker"
