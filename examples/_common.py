"""Shared by the example scripts: run one claim check and print its verdict with the numbers."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def show(res) -> None:
    """Print a ClaimResult: status, reading, severity, what was searched, the counterexample's why."""
    s = res.searched
    print(f"{res.label}: {res.status.value}" + (f" ({res.severity.value})" if res.severity else "")
          + f"  [searched {s.instances} instances, {s.patterns} patterns, {s.points} points, {s.starts} ACS starts]")
    if res.counterexample:
        print(f"  why: {res.counterexample['why']}")
        rc = res.counterexample.get("recheck")
        if isinstance(rc, dict) and "agrees" in rc:
            print(f"  independent re-check agrees: {rc['agrees']}")
    if res.natural:
        print(f"  natural reading: {res.natural}")
