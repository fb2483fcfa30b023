"""Damaged cache entries are detected, reported by name and recomputed (issue 25 item 3)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sdlscape.storage import CHECKSUM_KEY, cache_problem, read_cached, write_cached

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from malformed_cases import CACHE_DAMAGE  # noqa: E402

ENTRY = {"stage": "verify", "seconds": 1.5, "result": {"x": [1.0, 2.0], "s": "inf"}}


DAMAGE = CACHE_DAMAGE


def test_intact_entry_round_trips(tmp_path):
    p = tmp_path / "e.json"
    write_cached(p, ENTRY)
    assert CHECKSUM_KEY in json.loads(p.read_text())
    assert read_cached(p, ("seconds", "result")) == ENTRY
    assert cache_problem(tmp_path / "absent.json") == (None, None)


def test_entry_without_checksum_accepted_on_its_keys(tmp_path):
    p = tmp_path / "old.json"
    p.write_text(json.dumps(ENTRY))
    assert read_cached(p, ("seconds",)) == ENTRY


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_entry_reported_by_name(damage, tmp_path, capsys):
    p = tmp_path / "verify-0123.json"
    write_cached(p, ENTRY)
    DAMAGE[damage](p)
    assert read_cached(p, ("seconds", "result")) is None
    err = capsys.readouterr().err
    assert "verify-0123.json" in err and "damaged cache entry" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_stage_cache_recomputes_a_damaged_stage(damage, tmp_path, capsys):
    from sdlscape.pipeline.reproduce import StageCache

    cache = StageCache(tmp_path, lambda m: None)
    calls = []
    fn = lambda: calls.append(1) or {"v": len(calls)}  # noqa: E731
    assert cache.run("verify", {"budget": "quick"}, fn) == {"v": 1}
    path = cache.path("verify", {"budget": "quick"})
    DAMAGE[damage](path)
    assert cache.run("verify", {"budget": "quick"}, fn) == {"v": 2}      # recomputed, not a traceback
    assert path.name in capsys.readouterr().err
    assert cache.run("verify", {"budget": "quick"}, fn) == {"v": 2} and len(calls) == 2   # the rewrite is intact


@pytest.mark.parametrize("damage", sorted(CACHE_DAMAGE))
def test_bench_row_cache_recomputes_a_damaged_row(damage, tmp_path, monkeypatch, capsys):
    from sdlscape.bench import experiments as ex

    calls = []

    def fake(res, progress=False):
        calls.append(res.key())
        n = 5
        return {"key": res.key(), "enc_best": [0.9] * n, "dec_best": [0.8] * n, "mcc_decoder": 0.5,
                "mcc_encoder": 0.5, "uniqueness_decoder": 1.0, "fvu": 0.1, "dead_fraction": 0.0, "l0": 2.0,
                "anchored_encoder_cos": None, "final_loss": 0.1, "final_coef": None, "train_seconds": 0.01,
                "seconds": 0.02}

    monkeypatch.setattr(ex, "train_and_measure", fake)
    rows = [ex.Row("topk", False, n=200)]
    first = ex.run_rows(rows, "small", cache_dir=tmp_path, steps=10, seeds=1)
    (path,) = tmp_path.glob("*.json")
    DAMAGE[damage](path)
    again = ex.run_rows(rows, "small", cache_dir=tmp_path, steps=10, seeds=1)
    assert len(calls) == 2 and again[0]["M_GT"] == first[0]["M_GT"]
    assert path.name in capsys.readouterr().err


def test_cut_at_every_length_recomputed_unless_only_the_newline_went(tmp_path, capsys, cached_stage):
    cache, path, fn, calls = cached_stage(tmp_path)
    intact = path.read_bytes()
    for cut in range(len(intact)):
        path.write_bytes(intact[:cut])
        before = len(calls)
        cache.run("verify", {"b": 1}, fn)
        assert len(calls) == before + (0 if cut == len(intact) - 1 else 1), cut
        intact = path.read_bytes()                  # the rewrite (same length: a small integer v)
