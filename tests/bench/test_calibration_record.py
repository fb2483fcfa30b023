"""The calibration record (bench/calibration_record.py): where a reference run's coefficient searches ended.

A search started at the recorded coefficient reaches the same coefficient in one training where the generic
start took several; searches that ended outside the tolerance are not recorded; a damaged record is ignored."""
import json
import math

import pytest

from sdlscape.bench import calibration, calibration_record
from sdlscape.bench import experiments as ex
from sdlscape.bench.plan import make_plan
from sdlscape.bench.tables import Row
from sdlscape.errors import InputError
from sdlscape.storage import write_cached


def _use_record(monkeypatch, path):
    monkeypatch.setattr(calibration_record, "RECORD_FILE", path)
    calibration_record._load.cache_clear()


def _plan():
    rows = [Row("relu", anchoring=False, n=1000), Row("relu", anchoring=True, n=1000), Row("topk", anchoring=False)]
    return make_plan({"t": (rows, "test table")}, "small", seeds=2)


def _fake_l0(res, scale):
    """A made-up L0 falling with the coefficient (slope -1 in log-log), as a training's would."""
    return res.settings["target_l0"] * scale * calibration.COEF_HINTS[("small", "relu", False)] / res.settings["coef"]


def _cache_searches(plan, cache, scale):
    """Run every search of the plan from the generic start on fake L0s, writing each trial to the row cache."""
    ends = {}
    for job in plan.jobs.values():
        if not job.search:
            continue

        def measure(res):
            l0 = _fake_l0(res, scale)
            write_cached(cache / f"{res.key()}.json", {k: 0.0 for k in ex.ROW_KEYS} | {"key": res.key(), "l0": l0})
            return l0

        ends[job.id] = calibration.search_coefficient(job.res, measure, calibration.first_coefficient(job.res))
    return ends


def test_record_replays_the_searches_and_shortens_them(tmp_path, monkeypatch, no_calibration_record):
    plan, cache = _plan(), tmp_path / "rows"
    cache.mkdir()
    ends = _cache_searches(plan, cache, scale=2.3)                # generic start: L0 2.3 x target, several trials
    assert ends and all(len(trials) >= 2 for _, trials in ends.values())
    rec = calibration_record.record_plan(plan, cache)
    assert rec["searches_recorded"] == len(ends) == 4 and rec["searches_not_cached"] == 0
    for job_id, (coef, trials) in ends.items():
        entry = rec["entries"][job_id]
        assert entry["coef"] == coef and len(entry["search"]) == len(trials)
        assert abs(entry["l0"] / entry["target_l0"] - 1) <= calibration.SEARCH_TOL
    path = tmp_path / "record.json"
    path.write_text(json.dumps(rec))
    _use_record(monkeypatch, path)
    for job_id, (coef, _) in ends.items():
        job = plan.jobs[job_id]
        assert calibration.first_coefficient(job.res) == coef
        assert calibration.first_coefficient(job.res, record=False) != coef
        seen = []
        tuned = calibration.calibrate_seed(job.res, lambda r, seen=seen: seen.append(r) or _fake_l0(r, 2.3))
        assert len(seen) == 1 and tuned.settings["coef"] == coef
    topk = [j for j in plan.jobs.values() if not j.search]
    assert topk and all(j.id not in rec["entries"] for j in topk)


def test_searches_that_miss_the_tolerance_or_are_not_cached_are_not_recorded(tmp_path, no_calibration_record):
    plan, cache = _plan(), tmp_path / "rows"
    cache.mkdir()
    jobs = [j for j in plan.jobs.values() if j.search]
    for job in jobs[:2]:          # a code whose L0 never moves: 6 trials, none within the tolerance
        def measure(res):
            write_cached(cache / f"{res.key()}.json", {k: 0.0 for k in ex.ROW_KEYS} | {"l0": 3 * res.settings["target_l0"]})
            return 3 * res.settings["target_l0"]

        coef, trials = calibration.search_coefficient(job.res, measure, calibration.first_coefficient(job.res))
        assert len(trials) == calibration.SEARCH_TRIALS
    rec = calibration_record.record_plan(plan, cache)
    assert rec["searches_recorded"] == 0 and rec["searches_not_cached"] == len(jobs) - 2
    with pytest.raises(InputError, match="not a directory"):
        calibration_record.record_plan(plan, tmp_path / "nowhere")


@pytest.mark.parametrize("content", ["not json", json.dumps({"entries": {"k": {"coef": -1.0}}}),
                                     json.dumps({"entries": {"k": {"coef": float("nan")}}}),
                                     json.dumps({"entries": {"k": "1.5"}}), json.dumps([1, 2])])
def test_a_damaged_record_is_ignored(tmp_path, content):
    path = tmp_path / "record.json"
    path.write_text(content)
    calibration_record._load.cache_clear()
    assert calibration_record.recorded_coefficient("k", path) is None


def test_record_lookup(tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"entries": {"k": {"coef": 1.25}, "z": {"coef": 0}}}))
    calibration_record._load.cache_clear()
    assert calibration_record.recorded_coefficient("k", path) == 1.25
    assert calibration_record.recorded_coefficient("z", path) is None
    assert calibration_record.recorded_coefficient("other", path) is None
    assert math.isfinite(calibration_record.recorded_coefficient("k", path))


def test_the_committed_record_holds_reproduce_searches_within_tolerance():
    """The package's record: every entry within the search's tolerance of its target, found by a search."""
    calibration_record._load.cache_clear()
    data = json.loads(calibration_record.RECORD_FILE.read_text())
    assert data["entries"], "the package ships a calibration record"
    for entry in data["entries"].values():
        assert abs(entry["l0"] / entry["target_l0"] - 1) <= calibration.SEARCH_TOL
        assert entry["search"][-1]["coef"] == entry["coef"] or entry["coef"] in [t["coef"] for t in entry["search"]]
