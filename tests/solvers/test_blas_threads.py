"""The certifier runs its tiny linear algebra with one BLAS thread (solvers/blas_threads.py) and gives the pools back."""
from threadpoolctl import threadpool_info, threadpool_limits

from sdlscape.solvers.blas_threads import one_blas_thread
from sdlscape.solvers.certify import certify_global
from sdlscape.theory.instance import random_unit


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_one_blas_thread_inside_and_the_pools_restored_after():
    with threadpool_limits(limits=2, user_api="blas"):   # a pool of 2 on any machine, so "restored" can fail
        _inside_a_pool_of_two()


def _inside_a_pool_of_two():
    before = _blas_threads()
    assert before and max(before) == 2               # numpy's OpenBLAS at least (a single-threaded build stays 1)
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
        with one_blas_thread():                      # nested: still one, and the outer limit survives the inner exit
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before


def test_certify_global_runs_with_one_blas_thread():
    seen = []
    certify_global(random_unit(4, 2, "relu", n_latents=2, seed=0), node_limit=50, incumbent_starts=2,
                   progress=lambda done, total, c: seen.append(tuple(_blas_threads())))
    assert seen and all(set(s) == {1} for s in seen)


def test_the_exact_commands_and_the_reproduce_jobs_run_with_one_blas_thread():
    from sdlscape.cli import EXACT_COMMANDS, build_parser
    from sdlscape.pipeline.schedule import timed_call

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(EXACT_COMMANDS) <= set(sub.choices) and "bench" not in EXACT_COMMANDS
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        seen, _, _ = timed_call(_blas_threads, ())
        assert max(before) == 2 and set(seen) == {1} and _blas_threads() == before
