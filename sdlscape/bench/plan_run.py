"""Running a bench plan (bench/plan.py): inline, in local worker processes, or on a Dask cluster, with progress.

Jobs whose trainings the row cache already holds are read back in this process; the others go out
longest first (one at a time per worker, so the workers stay evenly loaded).  Each finished job's
trainings are written to the row cache as they arrive (by the worker where it shares the cache folder,
and by this process for a remote Dask worker), so an interrupted run resumes.  Progress lines (finished
row x seed jobs per table, trainings, an ETA) go to ``log`` at each finished job and at least every
``every`` seconds.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sdlscape.bench.plan import Plan, cached_trials, run_job

PROGRESS_EVERY = 30.0     # seconds: the longest silence while jobs run
SECONDS_PER_COST = 4.5e-10   # CPU seconds per unit of Job.cost (small scale, one thread): for ordering only


def _job_in_worker(task: dict) -> dict:
    """A job in a worker process (local pool or Dask): one torch thread on the CPU, the task's device."""
    if task["job"].res.train.device == "cpu":
        import torch

        torch.set_num_threads(1)
    t0 = time.perf_counter()
    out = run_job(task["job"], task["cache_dir"], task.get("known"))
    out["worker_seconds"] = time.perf_counter() - t0
    return out


class Progress:
    """Finished jobs per table and overall, trainings done, elapsed and an ETA (by the jobs' relative costs)."""

    def __init__(self, plan: Plan, todo: list[str], log: Callable[[str], None] | None, every: float):
        self.plan, self.log, self.every = plan, log, every
        self.total = {t: {i for ids in tp.jobs for i in ids} for t, tp in plan.tables.items()}
        self.done: set[str] = set(plan.jobs) - set(todo)
        self.cost_todo = sum(plan.jobs[i].cost for i in todo)
        self.cost_done = 0.0
        self.trained = 0
        self.t0 = self.last = time.perf_counter()

    def finished(self, job_id: str, result: dict) -> None:
        self.done.add(job_id)
        self.cost_done += self.plan.jobs[job_id].cost
        self.trained += len(result.get("trained_now", ()))
        self.emit()

    def tick(self) -> None:
        if time.perf_counter() - self.last >= self.every:
            self.emit()

    def line(self) -> str:
        el = time.perf_counter() - self.t0
        left = self.cost_todo - self.cost_done
        eta = f"ETA {_mmss(el * left / self.cost_done)}" if self.cost_done > 0 else "ETA -"
        per = ", ".join(f"{t} {len(self.done & ids)}/{len(ids)}" for t, ids in self.total.items())
        return (f"[bench] {len(self.done)}/{len(self.plan.jobs)} row x seed jobs done ({per}); "
                f"{self.trained} trainings this run; {_mmss(el)} elapsed, {eta}")

    def emit(self) -> None:
        self.last = time.perf_counter()
        if self.log is not None:
            self.log(self.line())


def _mmss(s: float) -> str:
    return f"{int(s) // 60}m{int(s) % 60:02d}s"


def execute(plan: Plan, cache_dir: str | Path | None = None, workers: int = 1, scheduler: str | None = None,
            log: Callable[[str], None] | None = None, every: float = PROGRESS_EVERY,
            extra: list | None = None) -> tuple[dict, dict]:
    """Every job's result ({job id: run_job output}) and what this run did: {"jobs", "jobs_from_cache",
    "trained_now", "trained_now_seconds", "read_from_cache", "workers", "scheduler"}.

    extra: other jobs (pipeline/schedule.Job, e.g. a reproduction's stages) run in the same local pool as
    the trainings, ordered with them by estimated seconds (not with a Dask scheduler)."""
    if extra and scheduler is not None:
        raise ValueError("extra jobs share a local pool, not a Dask cluster")
    cache = str(cache_dir) if cache_dir else None
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for i, job in plan.jobs.items():          # finished jobs: replayed from the row cache here
        r = run_job(job, cache, train=False)
        if r is not None:
            results[i] = r
    todo = plan.longest_first(i for i in plan.jobs if i not in results)
    from_cache = len(results)
    prog = Progress(plan, todo, log, every)
    if todo and log is not None:
        where = f"the Dask cluster at {scheduler}" if scheduler else \
            f"{workers} processes" if workers > 1 and len(todo) + len(extra or ()) > 1 else "this process"
        if extra:
            where += f", with {len(extra)} other stages"
        log(f"[bench] {len(plan.jobs)} distinct row x seed jobs for {', '.join(plan.tables)}: "
            f"{from_cache} read from the row cache, {len(todo)} to train in {where}")
    for r in _stream(plan, todo, cache, workers, scheduler, prog, extra or []):
        if cache is not None:                 # a remote worker cannot write our cache: store what it sent
            for k, m in r["trainings"].items():
                p = Path(cache) / f"{k}.json"
                if not p.is_file():
                    from sdlscape.storage import write_cached

                    write_cached(p, m)
        results[r["id"]] = r
        prog.finished(r["id"], r)
    now = [m for r in results.values() for k, m in r["trainings"].items() if k in r.get("trained_now", ())]
    stats = {"jobs": len(plan.jobs), "jobs_from_cache": from_cache, "trained_now": len(now),
             "trained_now_seconds": float(sum(m.get("train_seconds") or 0.0 for m in now)),
             "read_from_cache": sum(len(r["trainings"]) for r in results.values()) - len(now),
             "workers": workers, "scheduler": scheduler}
    return results, stats


def _stream(plan: Plan, todo: list[str], cache: str | None, workers: int, scheduler: str | None, prog: Progress,
            extra: list):
    """Finished job results in completion order; the waiting thread prints progress at least every prog.every s."""
    if not todo and not extra:
        return
    tasks = [{"job": plan.jobs[i], "cache_dir": cache,
              "known": cached_trials(plan.jobs[i], cache) if scheduler else None} for i in todo]
    if scheduler is None:                     # one local pool (or this process) for trainings and extra jobs
        from sdlscape.pipeline.schedule import Job, run_jobs

        pooled = workers > 1 and len(tasks) + len(extra) > 1     # inline: this process's torch threads
        jobs = [Job(f"train:{t['job'].id}", _job_in_worker if pooled else _inline, (t,),
                    seconds=t["job"].cost * SECONDS_PER_COST) for t in tasks]
        for job, r, _, _ in run_jobs(jobs + list(extra), workers if pooled else 1, prog.tick, min(prog.every, 5.0)):
            if job.id.startswith("train:"):
                yield r
        return
    from sdlscape.solvers.fanout import run_tasks

    source = run_tasks(_job_in_worker, tasks, scheduler=scheduler)
    q: queue.Queue = queue.Queue()

    def pump():
        try:
            for r in source:
                q.put(("ok", r))
            q.put(("end", None))
        except BaseException as exc:       # noqa: BLE001 -- handed to the waiting thread, which raises it
            q.put(("err", exc))

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            kind, val = q.get(timeout=min(prog.every, 5.0))
        except queue.Empty:
            prog.tick()
            continue
        if kind == "end":
            return
        if kind == "err":
            raise val
        yield val


def _inline(task: dict) -> dict:
    return run_job(task["job"], task["cache_dir"], task.get("known"))
