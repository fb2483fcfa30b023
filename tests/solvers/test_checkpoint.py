"""The checkpoint journal: appended piece by piece, read back under its key, a torn tail survived."""
from __future__ import annotations

import json

from sdlscape.solvers.checkpoint import load_checkpoint, save_checkpoint


def test_pieces_are_appended_not_rewritten(tmp_path):
    ck = tmp_path / "run.checkpoint.json"
    done: dict[str, dict] = {}
    sizes = []
    for i in range(4):
        done[f"p{i}"] = {"value": float(i), "leaves": list(range(50))}
        save_checkpoint(ck, "K", 1, done)
        sizes.append(len(ck.read_text().splitlines()))
    assert sizes == [2, 3, 4, 5]                      # the header, then one line per piece, each written once
    first = ck.read_text().splitlines()[1]
    save_checkpoint(ck, "K", 1, done)                  # nothing new: nothing written
    assert len(ck.read_text().splitlines()) == 5 and ck.read_text().splitlines()[1] == first
    done["p1"] = {"value": -1.0}                       # a piece solved again: appended, and the last line wins
    save_checkpoint(ck, "K", 1, done)
    assert len(ck.read_text().splitlines()) == 6
    assert load_checkpoint(ck, "K") == done
    assert load_checkpoint(ck, "other settings") == {}


def test_a_torn_tail_is_dropped_and_then_rewritten(tmp_path):
    ck = tmp_path / "run.checkpoint.json"
    done = {"a": {"value": 1.0}, "b": {"value": 2.0}}
    save_checkpoint(ck, "K", 1, done)
    ck.write_text(ck.read_text() + '{"pattern": "c", "res')     # killed mid-append
    back = load_checkpoint(ck, "K")
    assert back == done
    back["c"] = {"value": 3.0}
    save_checkpoint(ck, "K", 1, back)                  # no append after the torn text: the file is rewritten
    assert load_checkpoint(ck, "K") == back
    assert all(json.loads(line) for line in ck.read_text().splitlines())


def test_the_former_single_object_format_is_still_read(tmp_path):
    ck = tmp_path / "old.checkpoint.json"
    ck.write_text(json.dumps({"key": "K", "version": 1, "pieces": {"a": {"value": 1.0}}}, indent=2))
    assert load_checkpoint(ck, "K") == {"a": {"value": 1.0}}
    assert load_checkpoint(ck, "L") == {}
