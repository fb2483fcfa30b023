"""The calibration record: where each seed's coefficient search of the committed tables ended.

A coefficient search (bench/calibration.py) is a few full trainings on one seed; at small scale it is a quarter
of a cold ``sdlscape reproduce``'s trainings.  The record maps a job's configuration key (plan.Job.id, the row's
Resolved.key before a coefficient is fixed, which includes the trainer's CODE_VERSION) to the coefficient that
job's search found, from the generic start (calibration.COEF_HINTS), in the row cache of a reference run.  A
search that starts there trains that same configuration first; on the machine and code that made the record it
reaches the same L0, within the search's tolerance, and stops after one training with the numbers of the full
search.  Elsewhere it is only a better first coefficient: the search goes on from it as from any start.  Keys
that no longer exist (a changed trainer or bench: another CODE_VERSION) are never looked up.

Only searches that ended within the tolerance are recorded, with every trial they took (``search``), so the file
says how each coefficient was found.  ``python -m sdlscape.bench.calibration_record --cache DIR`` rebuilds it
from a run's row cache (``<out>/cache/bench-rows`` of ``sdlscape reproduce``).
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path

from sdlscape.errors import InputError

RECORD_FILE = Path(__file__).with_name("calibration_record.json")
RECORD_TABLES = ("table1", "table4", "table5", "table7")   # the tables whose searches a record may hold


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict[str, float]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        return {}
    out = {}
    for key, entry in data["entries"].items():
        coef = entry.get("coef") if isinstance(entry, dict) else None
        if isinstance(coef, (int, float)) and math.isfinite(coef) and coef > 0:
            out[str(key)] = float(coef)
    return out


def recorded_coefficient(job_key: str, path: Path | None = None) -> float | None:
    """The coefficient the record holds for this configuration key, else None (absent, unreadable, not positive)."""
    return _load(str(path or RECORD_FILE)).get(job_key)


def build_record(scale: str, cache_dir: Path, tables=RECORD_TABLES, seed: int = 0) -> dict:
    """The record of the paper tables' searches at ``scale`` (record_plan on their plan)."""
    from sdlscape.bench.plan import make_plan
    from sdlscape.bench.tables import TABLE_TITLES, table_rows

    plan = make_plan({t: (table_rows(t), TABLE_TITLES[t]) for t in tables}, scale, "cpu", seed)
    return {"scale": scale, "tables": list(tables), **record_plan(plan, cache_dir)}


def record_plan(plan, cache_dir: Path) -> dict:
    """Replay every coefficient search of a plan (bench/plan.py) from the generic start, on the trainings the
    row cache holds; a search whose trials are all cached and that ended within tolerance is recorded."""
    from sdlscape.bench import experiments as ex
    from sdlscape.bench.calibration import SEARCH_TOL, first_coefficient, search_coefficient
    from sdlscape.storage import read_cached

    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        raise InputError(f"row cache {str(cache_dir)!r} is not a directory")

    class Missing(Exception):
        pass

    def measure(res):
        hit = read_cached(cache_dir / f"{res.key()}.json", ex.ROW_KEYS)
        if hit is None:
            raise Missing(res.key())
        return hit["l0"]

    entries, missing = {}, 0
    for job in plan.jobs.values():
        if not job.search:
            continue
        try:
            coef, trials = search_coefficient(job.res, measure, first_coefficient(job.res, record=False))
        except Missing:
            missing += 1
            continue
        target = job.res.settings["target_l0"]
        l0 = dict(trials)[coef]
        if abs(l0 / target - 1.0) <= SEARCH_TOL:
            entries[job.id] = {"coef": coef, "l0": l0, "target_l0": target, "tables": plan.tables_of(job.id),
                               "search": [{"coef": c, "l0": x} for c, x in trials]}
    return {"searches_recorded": len(entries), "searches_not_cached": missing,
            "entries": dict(sorted(entries.items()))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sdlscape.bench.calibration_record", description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, help="a row cache folder (<out>/cache/bench-rows of sdlscape reproduce)")
    ap.add_argument("--scale", default="small")
    ap.add_argument("--json", default=str(RECORD_FILE), help="where to write the record (default: the package's)")
    ap.add_argument("--source", default="", help="provenance: which run made the cache")
    args = ap.parse_args(argv)
    try:
        rec = build_record(args.scale, Path(args.cache))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rec["source"] = args.source
    from sdlscape.storage import provenance, write_json

    rec["provenance"] = provenance()
    write_json(Path(args.json), rec)
    print(f"{rec['searches_recorded']} searches recorded, {rec['searches_not_cached']} not in the cache -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
