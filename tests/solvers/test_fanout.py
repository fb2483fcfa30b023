"""The local process pool: capped at the cores and the tasks, and its workers die with their parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sdlscape.solvers import fanout

ROOT = Path(__file__).resolve().parents[2]


def _pid(task: dict) -> dict:
    return {"i": task["i"], "pid": os.getpid()}


def test_workers_capped_at_cores_and_tasks(monkeypatch, capsys):
    monkeypatch.setattr(fanout, "usable_cores", lambda: 3)
    monkeypatch.setattr(fanout, "_NOTED", set())
    assert fanout.capped_workers(40, 10) == 3
    assert "40 workers requested, 3 started" in capsys.readouterr().err
    assert fanout.capped_workers(40, 2) == 2
    assert fanout.capped_workers(2, 10) == 2
    assert capsys.readouterr().err.count("note:") == 1          # (40, 2) noted, (2, 10) not cut
    assert fanout.capped_workers(5, 0) == 1


def test_run_tasks_starts_no_more_processes_than_cores(monkeypatch):
    monkeypatch.setattr(fanout, "usable_cores", lambda: 2)
    out = list(fanout.run_tasks(_pid, [{"i": i} for i in range(8)], workers=40))
    assert sorted(r["i"] for r in out) == list(range(8))
    assert len({r["pid"] for r in out}) <= 2
    assert os.getpid() not in {r["pid"] for r in out}


def test_usable_cores_is_the_affinity():
    n = fanout.usable_cores()
    assert 1 <= n <= (os.cpu_count() or n)
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))


SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from sdlscape.solvers.fanout import process_pool

    def park(d):
        Path(d, str(os.getpid())).write_text("")
        time.sleep(300)                 # a safety stop; the test kills the parent long before

    if __name__ == "__main__":
        with process_pool(2) as pool:
            futs = [pool.submit(park, sys.argv[1]) for _ in range(2)]
            time.sleep(300)
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


def _poll(cond, iterations: int = 600, step: float = 0.05) -> bool:
    """cond() checked up to `iterations` times (the bound is a safety stop, not the verdict)."""
    for _ in range(iterations):
        if cond():
            return True
        time.sleep(step)
    return cond()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_workers_die_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env)
    try:
        assert _poll(lambda: len([p for p in tmp_path.iterdir() if p.name.isdigit()]) == 2, iterations=2400)
        workers = [int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()]
        assert all(_alive(w) for w in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _poll(lambda: not any(_alive(w) for w in workers)), "workers outlived their killed parent"
    finally:
        parent.kill()
        for p in tmp_path.iterdir():
            if p.name.isdigit() and _alive(int(p.name)):
                os.kill(int(p.name), signal.SIGKILL)


@pytest.mark.parametrize("address", ["bogus", "http://[::1", "tcp://[::1", "tcp://[zz]:1", "h:70000", "ftp://h:1", ""])
def test_malformed_scheduler_addresses_refused(address):
    with pytest.raises(fanout.InputError, match="scheduler"):
        fanout.check_scheduler_address(address)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tcp://[::1]:8786",
                                     "tls://sched.example.org:8786", "inproc://10.0.0.1/1/1"])
def test_scheduler_addresses_accepted(address):
    assert fanout.check_scheduler_address(address) == address


def test_unreachable_scheduler_leaves_no_checkpoint(tmp_path, monkeypatch, capsys):
    pytest.importorskip("dask.distributed")
    from sdlscape.cli import main

    monkeypatch.setattr(fanout, "DASK_CONNECT_TIMEOUT", "1s")
    inst = tmp_path / "i.json"
    inst.write_text('{"W_p": [[1, 0], [0, 1]], "activation": "relu", "n_latents": 2}')
    out = tmp_path / "out" / "l.json"
    rc = main(["landscape", str(inst), "--starts", "1", "--no-progress", "--scheduler", "tcp://127.0.0.1:9",
               "--json", str(out)])
    assert rc == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["i.json"]
