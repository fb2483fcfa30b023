"""Atomic result files, JSON encoding of numpy data, and provenance records."""
from __future__ import annotations

import json
import math
import os
import platform
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """Convert numpy arrays/scalars, dataclasses-as-dicts, tuples and sets to JSON types.

    Non-finite floats become the strings "inf", "-inf" and "nan" so that files stay strict JSON.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(to_jsonable(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return obj


NAME_MAX = 255     # bytes in one path component on Linux/macOS file systems
PATH_MAX = 4096    # bytes in a whole path on Linux


def target_problem(path: str | os.PathLike) -> str | None:
    """Why a file may not be (re)written at path, or None: only a new name or an existing regular file is
    replaced (a device node, FIFO, socket, symlink or folder at the path is refused, never renamed over);
    a path component longer than NAME_MAX bytes is refused too."""
    p = Path(path)
    try:
        if len(os.fsencode(p)) >= PATH_MAX:
            return f"the path is {len(os.fsencode(p))} bytes long (at most {PATH_MAX - 1})"
    except UnicodeEncodeError:
        return "its name cannot be encoded for the file system"
    for part in p.parts:
        try:
            size = len(os.fsencode(part))
        except UnicodeEncodeError:
            return "its name cannot be encoded for the file system"
        if size > NAME_MAX:
            return f"a path component is {size} bytes long (at most {NAME_MAX})"
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror or exc})"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device node" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    return f"is {kind}; only a regular file or a new name is written"


def check_target(path: str | os.PathLike) -> None:
    """InputError naming the path if target_problem finds one."""
    why = target_problem(path)
    if why is not None:
        from sdlscape.errors import InputError

        raise InputError(f"refusing to write {str(path)!r}: {why}")


def _atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        check_target(path)             # again: something may have appeared at the path meanwhile
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write obj as indented JSON, atomically (a reader never sees a half-written file)."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False)
    _atomic_write_bytes(path, (text + "\n").encode())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    _atomic_write_bytes(path, text.encode())


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write a binary file atomically."""
    _atomic_write_bytes(path, data)


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Cache entries: a JSON object with a checksum of its content, read back only when intact

CHECKSUM_KEY = "_sha256"


def _digest(obj: dict) -> str:
    import hashlib

    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def write_cached(path: str | os.PathLike, obj: dict) -> None:
    """Write a cache entry (a dict) atomically, with the sha256 of its canonical JSON under CHECKSUM_KEY."""
    body = to_jsonable(obj)
    if not isinstance(body, dict):
        raise TypeError(f"a cache entry is a dict, got {type(obj).__name__}")
    body.pop(CHECKSUM_KEY, None)
    write_json(path, {**body, CHECKSUM_KEY: _digest(body)})


def cache_problem(path: str | os.PathLike, required: tuple[str, ...] = ()) -> tuple[dict | None, str | None]:
    """(entry, None) for an intact cache entry at path, (None, why) for a damaged one, (None, None) if absent.
    Intact: a regular file holding a JSON object with every `required` key whose checksum, if it has one,
    matches its content (entries written before checksums are accepted on their keys alone)."""
    p = Path(path)
    if not p.is_file():
        return None, None if not os.path.lexists(p) else "not a regular file"
    try:
        data = json.loads(p.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"not JSON ({type(exc).__name__})" if p.stat().st_size else "empty"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if not isinstance(data, dict):
        return None, f"a JSON {type(data).__name__}, not an object"
    stored = data.pop(CHECKSUM_KEY, None)
    if stored is not None and stored != _digest(data):
        return None, "checksum mismatch"
    missing = [k for k in required if k not in data]
    if missing:
        return None, f"missing key(s) {', '.join(missing)}"
    return data, None


def read_cached(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict | None:
    """The cache entry at path (without its checksum), or None if there is none or it is damaged; a damaged
    one is reported on stderr by name (one line) and the caller recomputes it (its rewrite replaces it)."""
    entry, why = cache_problem(path, required)
    if why is not None:
        print(f"sdlscape: damaged cache entry {str(path)!r} ({why}); recomputing it", file=sys.stderr, flush=True)
    return entry


def git_commit() -> str | None:
    """The git commit of the sdlscape checkout, with "-dirty" if it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose numerics affect results."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("sdlscape", "numpy", "scipy", "cvxpy", "clarabel", "torch", "sympy", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def device_name(device: str = "cpu") -> str:
    """A human-readable name of the compute device (GPU model or CPU description)."""
    if device.startswith("cuda"):
        try:
            import torch

            return torch.cuda.get_device_name(torch.device(device))
        except Exception:  # noqa: BLE001 - provenance must never crash a run
            return device
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def provenance(device: str = "cpu", seconds: float | None = None, **extra: Any) -> dict[str, Any]:
    """Provenance of a run: command line, git commit, device, library versions, wall time."""
    rec = {
        "command": " ".join(["sdlscape"] + sys.argv[1:]) if sys.argv and "sdlscape" in sys.argv[0]
        else " ".join(sys.argv),
        "git_commit": git_commit(),
        "device": device_name(device),
        "versions": library_versions(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if seconds is not None:
        rec["seconds"] = float(seconds)
    rec.update(_process_facts())
    rec.update(extra)
    return rec


def _process_facts() -> dict[str, Any]:
    """Peak resident memory of this process, its torch threads (if torch is loaded) and the machine's load:
    what a wall time measured on a shared machine needs beside it."""
    out: dict[str, Any] = {}
    try:
        import resource

        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except (ImportError, OSError):
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
    return out


# ---------------------------------------------------------------------------------------------
# One writer per output folder

LOCK_NAME = ".sdlscape.lock"


class FolderLock:
    """An exclusive flock on DIR/.sdlscape.lock, held while this object lives (close() or garbage collection
    releases it; the kernel releases it when the process dies, so a killed run never leaves a stale lock)."""

    def __init__(self, folder: str | os.PathLike, what: str = "run"):
        import fcntl

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOCK_NAME
        check_target(self.path)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if os.pread(self._fd, 64, 0).decode(errors="replace").strip() != f"pid {os.getpid()}":
                    raise
                # Held by this process: maybe by an unreachable FolderLock (a run that ended in an exception
                # kept its frame in a reference cycle); collect it and retry once.
                import gc

                gc.collect()
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "another process"
            self.close()
            from sdlscape.errors import InputError

            raise InputError(f"{str(folder)!r} is in use by another sdlscape {what} ({holder}); wait for it to "
                             "finish or choose another folder") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"pid {os.getpid()}\n".encode(), 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)          # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
