"""The bench stages of a reproduction: paper tables (parallel processes on the CPU), the real-representation
table and the small 3-D bench of Fig. 9. Called by pipeline/reproduce.py; each returns JSON-ready results."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdlscape.pipeline.reproduce import Scale, StageCache


def stage_bench(table: str, scale: Scale, device: str, seed: int, cache: Path, progress: bool) -> dict:
    from sdlscape.bench.experiments import run_table

    if device == "cpu":
        import torch

        torch.set_num_threads(1)  # one table per core beats two threads per table on small models
    result = run_table(table, scale=scale.bench_scale, device=device, seed=seed, cache_dir=cache / "bench-rows",
                       progress=progress)
    # rows come from the row cache when a run resumes: the stage's compute time is the rows' training time
    result["compute_seconds"] = row_train_seconds(result)
    return result


def row_train_seconds(table: dict) -> float:
    """Training seconds of a table: its recorded total (every training, coefficient-search trials included),
    else, for a table written before that total existed, each row's mean train_seconds x number of seeds."""
    if table.get("train_seconds") is not None:
        return float(table["train_seconds"])
    return float(sum((r.get("train_seconds") or 0.0) * max(1, len(r.get("per_seed") or ())) for r in table["rows"]))


def run_bench_stages(cache: StageCache, sc: Scale, device: str, seed: int, cache_dir: Path,
                     progress: bool) -> dict[str, dict]:
    """The bench tables, cached per table; on the CPU, independent tables train in parallel processes."""
    import os
    from multiprocessing import get_context

    from sdlscape.storage import read_cached

    configs = {t: {"table": t, "scale": sc.bench_scale, "device": device, "seed": seed} for t in sc.bench_tables}
    workers = min(len(configs), os.cpu_count() or 1) if device == "cpu" else 1
    if workers <= 1:
        return {t: cache.run(f"bench-{t}", c, lambda t=t: stage_bench(t, sc, device, seed, cache_dir, progress))
                for t, c in configs.items()}
    longest_first = ("table5", "table6", "table1", "table4", "table7")  # measured order of their run times
    todo = sorted((t for t, c in configs.items()
                   if read_cached(cache.path(f"bench-{t}", c), ("seconds", "result")) is None),
                  key=lambda t: longest_first.index(t) if t in longest_first else -1)
    if todo:
        cache.log(f"[bench] training {', '.join(todo)} in {workers} processes ...")
        # Pool's context manager terminates the workers on the way out, also on Ctrl-C; finished rows
        # are already in the row cache, so a rerun resumes inside a table.
        with get_context("spawn").Pool(workers, initializer=_ignore_sigint) as pool:
            jobs = [(t, sc, device, seed, cache_dir) for t in todo]
            for t, result, seconds in pool.imap_unordered(_bench_job, jobs):
                cache.store(f"bench-{t}", configs[t], result, seconds)
    return {t: cache.run(f"bench-{t}", c, lambda t=t: stage_bench(t, sc, device, seed, cache_dir, progress))
            for t, c in configs.items()}


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which terminates them (no traceback per worker)."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from sdlscape.solvers.fanout import die_with_parent

    die_with_parent(os.getppid())        # a killed reproduce takes its training workers with it


def _bench_job(job):
    t, sc, device, seed, cache_dir = job
    t0 = time.perf_counter()
    result = stage_bench(t, sc, device, seed, cache_dir, False)
    return t, result, time.perf_counter() - t0


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


