"""One pool of independent jobs over the cores: the stages of a reproduction and the bench's trainings together.

Each job runs exactly once, when the jobs it depends on have finished; among the jobs that may start,
the one with the longest remaining chain (its own estimated seconds plus the longest chain of jobs waiting
on it) goes first, so that a long stage and a cheap stage that a long one waits for both start early and
the cores stay busy to the end.  A job's numbers do not depend on where or when it runs: each is a
module-level function of its arguments (seeded), run with the torch thread count it is given, so the
results are those of a sequential run.  With one worker every job runs in this process, in that order.
Workers are spawned processes (not daemonic, so a job may start its own process, e.g. real-digits' pinned
one); they ignore Ctrl-C and die with this process.
"""
from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Job:
    """One unit of work.  args: a tuple, or a function of nothing returning it, called when the job starts
    (after its dependencies finished, so it can read their results); on_done(result, wall_s, cpu_s) runs in
    this process when the job finishes, before any job waiting on it starts."""

    id: str
    fn: Callable[..., Any]
    args: tuple | Callable[[], tuple] = ()
    seconds: float = 1.0                       # estimated compute seconds: the order, never a limit
    after: tuple[str, ...] = ()                # ids of jobs that must finish first (others: already done)
    threads: int | None = None                 # torch intra-op threads to run with (None: leave as is)
    on_done: Callable[[Any, float, float], Any] | None = None
    on_start: Callable[[], None] | None = None   # called in this process when the job is handed out


def priorities(jobs: list[Job]) -> dict[str, float]:
    """Each job's longest chain: its seconds plus the longest chain among the jobs that wait on it."""
    ids = {j.id for j in jobs}
    waiting: dict[str, list[Job]] = {j.id: [] for j in jobs}
    for j in jobs:
        for d in j.after:
            if d in ids:
                waiting[d].append(j)
    rank: dict[str, float] = {}

    def chain(j: Job, seen: tuple[str, ...] = ()) -> float:
        if j.id in seen:
            raise ValueError(f"jobs depend on each other in a cycle through {j.id!r}")
        if j.id not in rank:
            rank[j.id] = j.seconds + max((chain(w, (*seen, j.id)) for w in waiting[j.id]), default=0.0)
        return rank[j.id]

    for j in jobs:
        chain(j)
    return rank


def run_jobs(jobs: list[Job], workers: int = 1, tick: Callable[[], None] | None = None,
             every: float = 5.0) -> Iterator[tuple[Job, Any, float, float]]:
    """Run every job once; yields (job, result, wall seconds, CPU seconds) in completion order, after the
    job's on_done.  tick() is called at least every ``every`` seconds while jobs run (progress lines).
    The first job that raises stops the pool (running jobs are terminated) and its exception propagates."""
    if len({j.id for j in jobs}) != len(jobs):
        raise ValueError("job ids must be distinct")
    rank = priorities(jobs)
    pending = {j.id: j for j in jobs}
    done: set[str] = set()

    def ready() -> list[Job]:
        out = [j for j in pending.values() if all(d in done or d not in rank for d in j.after)]
        return sorted(out, key=lambda j: -rank[j.id])

    def finish(job: Job, value) -> tuple[Job, Any, float, float]:
        result, wall, cpu = value
        if job.on_done is not None:
            job.on_done(result, wall, cpu)
        done.add(job.id)
        return job, result, wall, cpu

    if workers <= 1 or len(jobs) <= 1:
        while pending:
            job = ready()[0]
            del pending[job.id]
            _started(job)
            yield finish(job, timed_call(job.fn, _args(job), job.threads))
            if tick is not None:
                tick()
        return
    yield from _in_processes(pending, ready, finish, workers, tick, every)


def _in_processes(pending, ready, finish, workers, tick, every):
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=quiet_worker)
    running: dict = {}
    try:
        while pending or running:
            for job in ready()[:max(0, workers - len(running))]:
                del pending[job.id]
                _started(job)
                running[pool.submit(timed_call, job.fn, _args(job), job.threads)] = job
            if not running:
                raise ValueError("jobs wait on jobs that never run: " + ", ".join(sorted(pending)))
            finished, _ = wait(running, timeout=every, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield finish(running.pop(fut), fut.result())
            if tick is not None:
                tick()
    finally:
        if running:                     # an error or Ctrl-C: stop what still runs, no half-written stage
            for p in list(getattr(pool, "_processes", {}).values()):
                p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _started(job: Job) -> None:
    if job.on_start is not None:
        job.on_start()


def _args(job: Job) -> tuple:
    return tuple(job.args()) if callable(job.args) else tuple(job.args)


def timed_call(fn, args: tuple, threads: int | None = None) -> tuple[Any, float, float]:
    """(fn(*args), wall seconds, CPU seconds of this process and of the processes it started and reaped)."""
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
    from sdlscape.solvers.blas_threads import one_blas_thread

    c0 = _cpu()
    t0 = time.perf_counter()
    with one_blas_thread():              # the pool fills the cores with jobs: a BLAS pool per job oversubscribes
        out = fn(*args)
    return out, time.perf_counter() - t0, _cpu() - c0


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def quiet_worker() -> None:
    """Workers leave Ctrl-C to the parent, which terminates them, and die with it (even on SIGKILL)."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from sdlscape.solvers.fanout import die_with_parent

    die_with_parent(os.getppid())
