"""The reproduction's job pool (pipeline/schedule.py): dependency order, each job once, a sequential run's numbers."""
import operator

import pytest

from sdlscape.pipeline import reproduce as R
from sdlscape.pipeline.schedule import Job, priorities, run_jobs


def _chain_jobs(log: list, results: dict) -> list[Job]:
    """a -> b -> c (each adds to its predecessor's result), and d alone; on_done records the finishing order."""
    def done(name):
        def f(result, wall, cpu):
            results[name] = result
            log.append(name)
        return f

    return [Job("c", operator.add, lambda: (results["b"], 100), seconds=1.0, after=("b",), on_done=done("c")),
            Job("d", operator.mul, (6, 7), seconds=5.0, on_done=done("d")),
            Job("b", operator.add, lambda: (results["a"], 10), seconds=1.0, after=("a",), on_done=done("b")),
            Job("a", operator.add, (1, 2), seconds=0.5, on_done=done("a"))]


def test_priorities_are_the_longest_chain_below_a_job():
    jobs = _chain_jobs([], {})
    assert priorities(jobs) == {"a": 2.5, "b": 2.0, "c": 1.0, "d": 5.0}
    with pytest.raises(ValueError, match="cycle"):
        priorities([Job("x", abs, (1,), after=("y",)), Job("y", abs, (1,), after=("x",))])


@pytest.mark.parametrize("workers", [1, 2])
def test_every_job_runs_once_after_its_dependencies(workers):
    log, results = [], {}
    seen = [job.id for job, *_ in run_jobs(_chain_jobs(log, results), workers=workers)]
    assert sorted(seen) == ["a", "b", "c", "d"] and log == seen
    assert log.index("a") < log.index("b") < log.index("c")
    assert results == {"a": 3, "b": 13, "c": 113, "d": 42}
    if workers == 1:                       # in this process: longest chain first (d 5 s > a's chain 2.5 s)
        assert seen == ["d", "a", "b", "c"]


def test_a_failing_job_stops_the_pool_with_its_error():
    jobs = [Job("bad", int, ("not a number",), seconds=2.0), Job("ok", abs, (-1,), seconds=1.0)]
    with pytest.raises(ValueError, match="invalid literal"):
        list(run_jobs(jobs, workers=2))


def _drop_times(x):
    if isinstance(x, dict):
        return {k: _drop_times(v) for k, v in x.items() if "seconds" not in k}
    if isinstance(x, list):
        return [_drop_times(v) for v in x]
    return x


def test_stages_in_worker_processes_give_the_numbers_of_a_sequential_run(tmp_path):
    """Two landscape stages in 2 worker processes, then in this process one after the other: same results,
    each stage computed once per run, records in the sequential order; a third run reads them back."""
    instances = {k: v for k, v in R.canonical_instances().items() if k in ("example-3.5", "topk1_n4_np2_q3")}
    names = [f"landscape-{k}" for k in instances]
    runs = {}
    for workers in (2, 1, 2):
        cache, done = R.StageCache(tmp_path / f"w{workers}", lambda msg: None), {}
        jobs = [j for j in R.stage_jobs(cache, lambda s: s == "landscape", R.SCALES["small"], instances,
                                        tmp_path / f"w{workers}", "cpu", 0, False, done, threads=1) if j is not None]
        ran = [job.id for job, *_ in run_jobs(jobs, workers)]
        if workers in runs:                    # the rerun: everything from the stage cache, nothing run
            assert ran == [] and all(cache.records[n]["cached"] for n in names)
            assert done == runs[workers]
            continue
        assert sorted(ran) == sorted(names) and not any(cache.records[n]["cached"] for n in names)
        assert list(cache.ordered(names)) == names
        runs[workers] = done
    assert _drop_times(runs[2]) == _drop_times(runs[1]) and set(runs[2]) == set(names)
