"""Resumable runs: a file of finished pieces keyed by a hash of the instance and the settings.

One loader and one writer for `landscape` (solvers/landscape.py) and `certify` (solvers/certify/global_min.py):
a checkpoint is read back only under the same key, and a file that is missing, unreadable, or written
under another key (other settings, another version) reads as empty.

The file is a journal (JSON lines): a header {"key", "version"}, then one {"pattern", "result"} line per finished
piece, appended as pieces finish (a piece solved again is appended again; the last line wins). Rewriting the
whole file after every piece cost O(pieces^2): with certificate records (every leaf of every piece) a 165-piece
transcoder rewrote ~100 MB per piece. A torn last line (a crash mid-append) is ignored, so at most the piece
being written is lost. A file in the former format (one JSON object) is still read.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_WRITTEN: dict[str, tuple[str, dict[str, Any]]] = {}
"""path -> (key, pattern -> the result object last written there): what an append may skip."""


def settings_hash(settings: dict[str, Any]) -> str:
    """A short hash of JSON-able settings (instance included): the checkpoint key."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def load_checkpoint(path: Path | None, key: str) -> dict[str, dict]:
    """The finished pieces (pattern text -> result dict) of a checkpoint written under `key`; else {}."""
    if path is None or not path.is_file():
        return {}
    try:
        text = path.read_text()
    except OSError:
        return {}
    read = _read_journal(text, key)
    if read is None:                                     # the former format: one JSON object
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("pieces"), dict):
            return {}
        return data["pieces"]
    pieces, clean = read
    if clean:
        _WRITTEN[str(path)] = (key, dict(pieces))
    else:                                                # the next save rewrites the file (no append after a torn line)
        _WRITTEN.pop(str(path), None)
    return pieces


def _read_journal(text: str, key: str) -> tuple[dict[str, dict], bool] | None:
    """(pieces, whether every line read whole) of a journal under `key`; ({}, False) under another; None if the
    text is not a journal."""
    lines = text.split("\n")
    try:
        head = json.loads(lines[0])
    except json.JSONDecodeError:
        return None
    if not isinstance(head, dict) or "pieces" in head or "key" not in head:
        return None
    if head["key"] != key:
        return {}, False
    pieces: dict[str, dict] = {}
    body = lines[1:-1] if lines[-1] == "" else lines[1:]
    for line in body:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return pieces, False                         # a torn last line
        if not isinstance(entry, dict) or not isinstance(entry.get("result"), dict):
            return pieces, False
        pieces[str(entry["pattern"])] = entry["result"]
    return pieces, True


def save_checkpoint(path: Path | None, key: str, version: int, done: dict[str, dict]) -> None:
    """Record every finished piece: append the ones not yet in the file (same key), else rewrite it atomically."""
    if path is None:
        return
    from sdlscape.storage import to_jsonable, write_text

    state = _WRITTEN.get(str(path))
    if state is None or state[0] != key or not path.is_file():
        head = json.dumps({"key": key, "version": version})
        body = "".join(_line(p, r, to_jsonable) for p, r in done.items())
        write_text(path, head + "\n" + body)
        _WRITTEN[str(path)] = (key, dict(done))
        return
    written = state[1]
    new = [(p, r) for p, r in done.items() if written.get(p) is not r]
    if not new:
        return
    with open(path, "a") as f:
        f.write("".join(_line(p, r, to_jsonable) for p, r in new))
        f.flush()
        os.fsync(f.fileno())
    written.update(new)


def _line(pattern: str, result: dict, to_jsonable) -> str:
    return json.dumps({"pattern": pattern, "result": to_jsonable(result)}, allow_nan=False) + "\n"
