"""Numbers that differ between two report.json files (what a code change did to the results).

`python -m sdlscape.pipeline.diff OLD NEW [--rtol R] [--ignore KEY]...` flattens both reports to
`path -> leaf` (lists by index, verdict lists keyed by claim/activation/reading so that reordering
is not a change), and prints every leaf that was added, removed, or changed beyond `rtol`.
Timing and provenance keys are ignored by default.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from typing import Any

DEFAULT_IGNORE = ("provenance", "seconds", "stages", "compute_seconds", "wall_seconds", "computed_utc",
                  "figures", "cached", "skipped")


def _key(item: Any, index: int) -> str:
    if isinstance(item, dict) and "claim" in item and "activation" in item:
        return f"{item['claim']}/{item['activation']}/{item.get('reading', 'def3.1')}"
    if isinstance(item, dict) and "pattern" in item:
        return json.dumps(item["pattern"], separators=(",", ":"))
    if isinstance(item, dict) and "method" in item:
        return f"{item['method']}/anchoring={item.get('anchoring')}/{item.get('variant', '')}"
    return str(index)


def flatten(node: Any, ignore: tuple[str, ...], path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (path, leaf) for every scalar leaf of a JSON tree, skipping keys in `ignore`."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k not in ignore:
                yield from flatten(v, ignore, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        keys = [_key(item, i) for i, item in enumerate(node)]
        if len(set(keys)) != len(keys):
            keys = [str(i) for i in range(len(node))]
        for k, item in zip(keys, node):
            yield from flatten(item, ignore, f"{path}[{k}]")
    else:
        yield path, node


def differs(a: Any, b: Any, rtol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return type(a) is not type(b) or a != b
    if math.isnan(a) and math.isnan(b):
        return False
    return not math.isclose(a, b, rel_tol=rtol, abs_tol=rtol)


def report_diff(old: dict, new: dict, rtol: float = 1e-6, ignore: tuple[str, ...] = DEFAULT_IGNORE
                ) -> list[tuple[str, Any, Any]]:
    """Return (path, old, new) for every leaf added, removed or changed; missing sides are `...`."""
    a, b = dict(flatten(old, ignore)), dict(flatten(new, ignore))
    out = []
    for path in sorted(a.keys() | b.keys()):
        va, vb = a.get(path, ...), b.get(path, ...)
        if va is ... or vb is ... or differs(va, vb, rtol):
            out.append((path, va, vb))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sdlscape.pipeline.diff", description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--ignore", action="append", default=[], help="extra keys to ignore")
    ap.add_argument("--prefix", action="append", default=[], help="only paths starting with this")
    args = ap.parse_args(argv)
    try:
        with open(args.old) as f:
            old = json.load(f)
        with open(args.new) as f:
            new = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = report_diff(old, new, args.rtol, DEFAULT_IGNORE + tuple(args.ignore))
    if args.prefix:
        rows = [r for r in rows if any(r[0].startswith(p) for p in args.prefix)]
    for path, va, vb in rows:
        show = lambda v: "(absent)" if v is ... else json.dumps(v)  # noqa: E731
        print(f"{path}: {show(va)} -> {show(vb)}")
    print(f"{len(rows)} leaves differ (rtol {args.rtol:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
