"""Resumable runs: a file of finished pieces keyed by a hash of the instance and the settings.

One loader and one writer for `landscape` (solvers/landscape.py) and `certify` (solvers/certify/global_min.py):
a checkpoint is read back only under the same key, and a file that is missing, unreadable, or written
under another key (other settings, another version) reads as empty.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def settings_hash(settings: dict[str, Any]) -> str:
    """A short hash of JSON-able settings (instance included): the checkpoint key."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def load_checkpoint(path: Path | None, key: str) -> dict[str, dict]:
    """The finished pieces (pattern text -> result dict) of a checkpoint written under `key`; else {}."""
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("pieces"), dict):
        return {}
    return data["pieces"]


def save_checkpoint(path: Path | None, key: str, version: int, done: dict[str, dict]) -> None:
    """Rewrite the checkpoint atomically (storage.write_json) with every finished piece."""
    if path is None:
        return
    from sdlscape.storage import write_json

    write_json(path, {"key": key, "version": version, "pieces": done})
