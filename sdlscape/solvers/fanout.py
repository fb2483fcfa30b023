"""Fan-out of independent piece tasks: in this process, a local process pool, or a Dask scheduler.

Results arrive in completion order; on an exception or Ctrl-C the pending futures are cancelled (a
rerun resumes from the caller's checkpoint)."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from sdlscape.errors import InputError

DASK_CONNECT_TIMEOUT = "10s"


def dask_client(address: str):
    """A dask.distributed Client for the scheduler address (Dask is the optional extra sdlscape[dask])."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask distributed: pip install 'sdlscape[dask]'") from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None


def run_tasks(fn: Callable[[dict], dict], tasks: list[dict], workers: int = 1,
              scheduler: str | None = None) -> Iterator[dict]:
    """fn(task) for every task, yielded as each finishes."""
    if scheduler is not None:
        client = dask_client(scheduler)
        from dask.distributed import as_completed

        try:
            for f in as_completed(client.map(fn, tasks, pure=False)):
                yield f.result()
        finally:
            client.close()
        return
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield fn(t)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import as_completed as done_first

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futs = [pool.submit(fn, t) for t in tasks]
        try:
            for f in done_first(futs):
                yield f.result()
        except BaseException:
            for f in futs:
                f.cancel()
            raise
