"""Fan-out of independent piece tasks: in this process, a local process pool, or a Dask scheduler.

Results arrive in completion order; on an exception or Ctrl-C the pending futures are cancelled (a
rerun resumes from the caller's checkpoint). A local pool has at most as many processes as this process
may use cores and as there are tasks, and its workers die with their parent (even one killed by SIGKILL)."""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from sdlscape.errors import InputError

DASK_CONNECT_TIMEOUT = "10s"
PR_SET_PDEATHSIG = 1          # linux/prctl.h
WATCHDOG_PERIOD_S = 1.0       # how often a worker without prctl checks that its parent is alive
_NOTED: set[tuple[int, int]] = set()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def capped_workers(workers: int, n_tasks: int) -> int:
    """min(workers, usable cores, tasks), at least 1; a one-line note on stderr (once) when it cuts."""
    cores = usable_cores()
    cap = max(1, min(int(workers), cores, int(n_tasks)))
    if cap < workers and (workers, cap) not in _NOTED:
        _NOTED.add((workers, cap))
        print(f"note: {workers} workers requested, {cap} started ({cores} usable cores, {n_tasks} tasks)",
              file=sys.stderr)
    return cap


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        threading.Event().wait(WATCHDOG_PERIOD_S)


def die_with_parent(parent: int) -> None:
    """Pool initializer: this worker gets SIGKILL when its parent dies (prctl on Linux, else a watchdog
    thread polling the parent's pid)."""
    done = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            done = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            done = False
    if os.getppid() != parent:          # the parent died before prctl took effect
        os._exit(1)
    if not done:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def process_pool(workers: int):
    """A ProcessPoolExecutor of exactly `workers` processes that die with this process."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),))


SCHEDULER_PROTOCOLS = ("tcp", "tls", "ucx", "inproc", "ws", "wss")
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"


def check_scheduler_address(address: str) -> str:
    """A Dask scheduler address, checked as text: [PROTOCOL://]HOST:PORT (HOST a name, an IPv4 address or a
    bracketed IPv6 address; PORT 1..65535), PROTOCOL one of SCHEDULER_PROTOCOLS (InputError otherwise)."""
    import ipaddress
    import re

    if not isinstance(address, str):
        raise InputError(f"--scheduler must be an address like tcp://HOST:8786, got {address!r}")
    shown = repr(address) if len(address) <= 60 else repr(address[:60]) + "..."
    proto, sep, rest = address.partition("://")
    if not sep:
        proto, rest = "tcp", address
    if proto == "inproc":
        return address
    m = re.fullmatch(rf"({_HOST}):(\d{{1,5}})", rest)
    if proto not in SCHEDULER_PROTOCOLS or m is None or not 1 <= int(m.group(2)) <= 65535:
        hint = " (http:// is the dashboard's, not the scheduler's)" if proto in ("http", "https") else ""
        raise InputError(f"--scheduler {shown} is not a scheduler address; give [tcp://]HOST:PORT, e.g. "
                         f"tcp://127.0.0.1:8786{hint}")
    host = m.group(1)
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise InputError(f"--scheduler {shown}: {host} is not an IPv6 address") from None
    return address


def dask_client(address: str):
    """A dask.distributed Client for the scheduler address (Dask is the optional extra sdlscape[dask])."""
    check_scheduler_address(address)
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask distributed: pip install 'sdlscape[dask]'") from None
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None


def run_tasks(fn: Callable[[dict], dict], tasks: list[dict], workers: int = 1,
              scheduler: str | None = None) -> Iterator[dict]:
    """fn(task) for every task, yielded as each finishes. The scheduler is reached (or refused) and the
    workers capped here, before the first result is asked for: a caller's checkpoint is not written for a
    run that cannot start."""
    if scheduler is not None:
        return _dask_results(dask_client(scheduler), fn, tasks)
    return _local_results(fn, tasks, capped_workers(workers, len(tasks)))


def _dask_results(client, fn, tasks):
    from dask.distributed import as_completed

    try:
        for f in as_completed(client.map(fn, tasks, pure=False)):
            yield f.result()
    finally:
        client.close()


def _local_results(fn, tasks, workers):
    if workers <= 1:
        for t in tasks:
            yield fn(t)
        return
    from concurrent.futures import as_completed as done_first

    with process_pool(workers) as pool:
        futs = [pool.submit(fn, t) for t in tasks]
        try:
            for f in done_first(futs):
                yield f.result()
        except BaseException:
            for f in futs:
                f.cancel()
            raise
