"""The bench stages of a reproduction: paper tables (their distinct trainings planned once and spread over
worker processes or a Dask cluster), the real-representation table and the small 3-D bench of Fig. 9.
Called by pipeline/reproduce.py; each returns JSON-ready results."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdlscape.pipeline.reproduce import Scale, StageCache


def row_train_seconds(table: dict) -> float:
    """Training seconds of a table: its recorded total (every training, coefficient-search trials included),
    else, for a table written before that total existed, each row's mean train_seconds x number of seeds."""
    if table.get("train_seconds") is not None:
        return float(table["train_seconds"])
    return float(sum((r.get("train_seconds") or 0.0) * max(1, len(r.get("per_seed") or ())) for r in table["rows"]))


def bench_workers(device: str, scheduler: str | None) -> int:
    """Local worker processes for the bench's trainings: one per core on the CPU, one on a GPU or with Dask."""
    return (os.cpu_count() or 1) if device == "cpu" and scheduler is None else 1


def run_bench_stages(cache: StageCache, sc: Scale, device: str, seed: int, cache_dir: Path, progress: bool,
                     scheduler: str | None = None, extra: list | None = None) -> tuple[dict[str, dict], dict]:
    """The bench tables, cached per table: the distinct (row x seed) jobs of every table not cached are planned
    once (bench/plan.py) and trained in parallel (bench/plan_run.py); each training's seconds count once, in
    the first table that uses it (the stage's seconds), and each table states what it shares.

    extra: other jobs (pipeline/schedule.Job: the reproduction's other stages) run in the same local pool.
    Returns ({table: result}, what this invocation did: jobs, trainings computed now / read from the row cache).
    """
    from sdlscape.bench.experiments import table_result
    from sdlscape.bench.plan import assemble, make_plan
    from sdlscape.bench.plan_run import execute
    from sdlscape.bench.tables import TABLE_TITLES, table_rows
    from sdlscape.storage import read_cached

    configs = {t: {"table": t, "scale": sc.bench_scale, "device": device, "seed": seed} for t in sc.bench_tables}
    todo = [t for t, c in configs.items()      # absent or damaged stage files are recomputed
            if read_cached(cache.path(f"bench-{t}", c), ("seconds", "result")) is None]
    out = {t: cache.run(f"bench-{t}", c, lambda: None) for t, c in configs.items() if t not in todo}
    run = {"tables_computed": todo, "tables_from_stage_cache": [t for t in configs if t not in todo]}
    workers = bench_workers(device, scheduler)
    if not todo:
        from sdlscape.pipeline.schedule import run_jobs

        for _ in run_jobs(list(extra or ()), workers):
            pass
        return out, run
    plan = make_plan({t: (table_rows(t), TABLE_TITLES[t]) for t in todo}, sc.bench_scale, device, seed)
    t0 = time.perf_counter()
    results, stats = execute(plan, cache_dir / "bench-rows", workers, scheduler, log=cache.log if progress else None,
                             extra=extra)
    wall = time.perf_counter() - t0
    run.update(stats, wall_seconds=wall)
    distinct = {k: m for r in results.values() for k, m in r["trainings"].items()}
    run.update(trainings=len(distinct), train_seconds=float(sum(m.get("train_seconds") or 0.0
                                                              for m in distinct.values())))
    now = {k for r in results.values() for k in r["trained_now"]}
    for t in todo:
        table = assemble(plan, t, results)
        keys = {k for ids in plan.tables[t].jobs for i in ids for k in results[i]["trainings"]}
        result = table_result(t, table["title"], sc.bench_scale, device, seed, table["rows"], wall,
                              {k: v for k, v in table.items() if k not in ("table", "title", "rows")})
        result["compute_seconds"] = table["own_train_seconds"]
        result["compute_note"] = _compute_note(table)
        result["trained_now"] = len(keys & now)
        result["read_from_row_cache"] = len(keys - now)
        out[t] = cache.store(f"bench-{t}", configs[t], result, table["own_train_seconds"],
                             extra={"trainings": table["trainings"], "trained_now": len(keys & now),
                                    "read_from_row_cache": len(keys - now),
                                    "shared_with": table["shared_with"]})
    return out, run


def _compute_note(t: dict) -> str:
    """The table's training time, with the trainings it shares with other tables said once."""
    text = f"{t['train_seconds']:.0f} s of training ({t['trainings']} trainings"
    if t["shared_trainings"]:
        counted = t["train_seconds"] - t["own_train_seconds"]
        text += (f"; {t['shared_trainings']} of them, {t['shared_train_seconds']:.0f} s, shared with "
                 f"{', '.join(t['shared_with'])}"
                 + (f", of which {counted:.0f} s counted there" if counted > 0.5 else ", counted here"))
    return text + ")"


class Background:
    """The bench tables trained in a background thread (its worker processes do the work) while the caller
    runs the other stages; join() returns run_bench_stages's result or raises its exception."""

    def __init__(self, *args, **kwargs):
        self._out = None
        self._exc: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=args, kwargs=kwargs, daemon=True)
        self._thread.start()

    def _run(self, *args, **kwargs):
        try:
            self._out = run_bench_stages(*args, **kwargs)
        except BaseException as exc:       # noqa: BLE001 -- re-raised by join() in the caller's thread
            self._exc = exc

    def join(self):
        self._thread.join()
        if self._exc is not None:
            raise self._exc
        return self._out


def stage_real(scale: Scale, device: str, seed: int, progress: bool) -> dict:
    from sdlscape.bench.real import run_real_table

    return run_real_table("digits", scale=scale.real_scale, device=device, seed=seed, progress=progress)


def stage_bench3d(seed: int) -> dict:
    """A small bench in R^3 for the Fig. 9 analogue."""
    import numpy as np

    from sdlscape.theory.instance import FeatureLaw, superposed_dictionary

    W = superposed_dictionary(6, 3, 0.5, seed=seed)
    law = FeatureLaw(p_active=0.2)
    X = law.sample(600, 6, seed=seed)
    X = X[X.sum(axis=1) > 0]
    return {"W_p": W, "samples": X @ W.T, "max_interference": float(np.max(W.T @ W - 2 * np.eye(6))),
            "p_active": law.p_active}
