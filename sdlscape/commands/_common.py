"""Argument helpers shared by the subcommands: instance and pattern arguments, numbers, output paths.

Every check here runs before any work starts: a bad number, a missing file or an output path that
cannot be written is an InputError (exit 2, one line) with nothing computed and nothing written.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.instance import load_instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece

# Options that name a file the command writes, and options that name a folder it writes into.
FILE_OUTPUTS = ("json", "csv")
DIR_OUTPUTS = ("out", "export", "cache", "counterexamples")


def add_instance_argument(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    if optional:
        parser.add_argument("--instance", metavar="FILE", help="instance file (JSON or .npz)")
    else:
        parser.add_argument("instance", metavar="INSTANCE", help="instance file (JSON or .npz)")
    parser.add_argument("--normalize", action="store_true",
                        help="rescale non-unit columns of W_p/W_r instead of rejecting them")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="write the machine-readable result here")


def add_pattern_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", required=True,
                        help="JSON list of lists of 0-based feature indices, one per latent (or a file holding it)")


def add_eps_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eps", type=positive_float, default=1e-3,
                        help="margin of strict inequalities (default 1e-3)")


def add_seed_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--seed", type=seed_int, default=0, help=f"seed of {what} (default 0)")


def describe_instance(inst) -> str:
    """The line that commands print first about an instance: its name, sizes and activation."""
    return (f"instance {inst.name}: n = {inst.n}, n_p = {inst.n_p}, n_latents = {inst.n_latents}, "
            f"activation {inst.activation}")


def load_instance_arg(path: str, normalize: bool):
    return load_instance(path, normalize=normalize)


def read_pattern_text(text: str) -> tuple[str, str]:
    """(JSON text, what) of a --pattern value: inline JSON (starts with '[') or a file holding it."""
    if text.lstrip().startswith("["):
        return text, "--pattern"
    path = Path(text)
    what = f"pattern file {text!r}"
    if path.is_dir():
        raise InputError(f"--pattern {text!r} is a directory; give a JSON list of lists (e.g. [[0, 1], []]) "
                         "or a file holding one")
    if not path.exists():
        raise InputError(f"--pattern {text!r}: no such file (give a JSON list of lists, e.g. [[0, 1], []], "
                         "or the path of a file holding one)")
    try:
        return path.read_text(encoding="utf-8"), what
    except UnicodeDecodeError:
        raise InputError(f"{what} is not a text file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}") from None


def parse_pattern_arg(text: str, inst) -> Any:
    """A pattern given as JSON text, or as the path of a file holding it."""
    body, what = read_pattern_text(text)
    return Pattern.parse(body, inst.n, inst.n_latents, what=what)


def add_reading_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reading", choices=("def3.1", "selection"), default="def3.1",
                        help="how a pattern is read: Def. 3.1 (sigma(.)_i > 0, the paper's) or the selected set "
                             "(differs for plain TopK only; default def3.1)")


def make_piece(inst, pattern, eps: float, reading: str):
    return Piece(inst, pattern, eps, Reading(reading))


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text)} characters)"


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not an integer") from None


def positive_int(text: str) -> int:
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


SEED_LIMIT = 2 ** 32     # numpy's legacy and torch's generators both take a 32-bit seed everywhere


def seed_int(text: str) -> int:
    """A random seed: an integer with 0 <= seed < 2**32."""
    v = _int(text)
    if not 0 <= v < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {_shown(text)}")
    return v


def positive_float(text: str) -> float:
    """A finite number > 0 (inf, nan, 0 and negatives are refused)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {v:g}")
    return v


DEVICE_NAME = r"cpu|cuda(:\d+)?"


def device_name(text: str) -> str:
    """cpu, cuda or cuda:i, checked as text (torch is not imported here: availability is checked later)."""
    if not re.fullmatch(DEVICE_NAME, text):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:i, got {text!r}")
    return text


def _device_index(device: str) -> int:
    return int(device.partition(":")[2] or 0)


NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")   # module constants, so that tests can point them elsewhere
DEV = Path("/dev")


def cuda_devices_at_most() -> int | None:
    """An upper bound on the CUDA devices this process can see, found without importing torch: the NVIDIA GPUs
    the driver lists (/proc/driver/nvidia/gpus, else the /dev/nvidiaN nodes), cut to CUDA_VISIBLE_DEVICES'
    leading valid entries when it is set. None when it cannot be told (no NVIDIA GPU, but a ROCm or WSL
    device node that a torch build may drive as "cuda")."""
    gpus = len(list(NVIDIA_GPUS.glob("*"))) or sum(1 for q in DEV.glob("nvidia*") if re.fullmatch(r"nvidia\d+", q.name))
    if gpus == 0:
        return None if any((DEV / d).exists() for d in ("kfd", "dxg")) else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    leading = 0
    for entry in visible.split(","):      # CUDA stops at the first entry that names no device
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        leading += 1
    return min(leading, gpus)


def check_device_early(device: str, option: str = "--device") -> str:
    """The device's name and, for cuda[:i], that this machine can have it, before torch is imported
    (InputError, one line). torch has the last word later (check_device_torch)."""
    if not isinstance(device, str) or not re.fullmatch(DEVICE_NAME, device):
        raise InputError(f"{option} must be cpu, cuda or cuda:i, got {device!r}")
    if device == "cpu":
        return device
    at_most = cuda_devices_at_most()
    if at_most == 0:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise InputError(f"{option} {device}: this machine has no CUDA device"
                         + ("" if hidden is None else f" visible (CUDA_VISIBLE_DEVICES={hidden!r})"))
    if at_most is not None and _device_index(device) >= at_most:
        raise InputError(f"{option} {device}: this machine has at most {at_most} CUDA device(s) "
                         f"(cuda:0..cuda:{at_most - 1})")
    return device


def check_device_torch(device: str, option: str = "--device") -> None:
    """After torch is imported: CUDA available and the index below torch's device count (InputError)."""
    if device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise InputError(f"{option} {device}: CUDA is not available on this machine")
    count = torch.cuda.device_count()
    if _device_index(device) >= count:
        raise InputError(f"{option} {device}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")


# ---------------------------------------------------------------------------------------------
# Memory, estimated before any work

def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable, else free physical pages), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def crosscheck_bytes(inst, starts: int) -> int:
    """An upper estimate of a cross-check's peak memory: per start its weights, gradients, Adam moments and end
    point (24 float64 copies of n_latents x (n_p + n_r + n)) and ~1 KiB of bookkeeping; measured ~2.4x below
    this for n = n_p = n_latents = 2 (1.4 KiB per start over 100k..400k starts)."""
    per_start = 1024 + 8 * 24 * inst.n_latents * (inst.n_p + inst.n_r + inst.n)
    return int(starts) * per_start


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def check_memory(need: int, what: str) -> None:
    """InputError if `need` bytes (an estimate) exceed the memory available now."""
    have = available_memory()
    if have is not None and need > have:
        raise InputError(f"{what} needs about {_size(need)} of memory (estimate), more than the {_size(have)} "
                         "available; ask for less")


# ---------------------------------------------------------------------------------------------
# Output paths, checked before any work


def _writable_ancestor(path: Path, option: str) -> None:
    """The first existing ancestor of path is a folder this process may create entries in."""
    parent = path.parent if str(path.parent) else Path(".")
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{option} {str(path)!r}: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option} {str(path)!r}: folder {str(parent)!r} is not writable")


def _check_names(path: str, option: str) -> None:
    """Every component of path encodable and at most NAME_MAX bytes (else the write fails after the work)."""
    from sdlscape.storage import NAME_MAX, PATH_MAX

    try:
        if len(os.fsencode(path)) >= PATH_MAX:
            raise InputError(f"{option} {path[:40]!r}...: the path is {len(os.fsencode(path))} bytes long "
                             f"(at most {PATH_MAX - 1})")
    except UnicodeEncodeError:
        raise InputError(f"{option} {path[:40]!r}: the name cannot be encoded for the file system") from None
    for part in Path(path).parts:
        try:
            size = len(os.fsencode(part))
        except UnicodeEncodeError:
            raise InputError(f"{option} {path!r}: the name cannot be encoded for the file system") from None
        if size > NAME_MAX:
            raise InputError(f"{option} {path[:60]!r}...: a path component is {size} bytes long "
                             f"(at most {NAME_MAX})")


def check_output_file(path: str, option: str = "--json") -> None:
    """A file the command will write: a new name or an existing regular file (not a folder, device node,
    FIFO or symlink), names of at most NAME_MAX bytes, its folder writable (InputError otherwise)."""
    from sdlscape.storage import target_problem

    p = Path(path)
    if not str(path).strip():
        raise InputError(f"{option}: empty path")
    _check_names(path, option)
    if p.is_dir():
        raise InputError(f"{option} {path!r} is an existing folder; give a file name")
    why = target_problem(p)
    if why is not None:
        raise InputError(f"{option} {path!r} {why}")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{option} {path!r} exists and is not writable")
    _writable_ancestor(p, option)


def check_output_dir(path: str, option: str = "--out") -> None:
    """A folder the command will write into: not an existing file, creatable (InputError otherwise)."""
    p = Path(path)
    if not str(path).strip():
        raise InputError(f"{option}: empty path")
    _check_names(path, option)
    if p.exists() and not p.is_dir():
        raise InputError(f"{option} {path!r} is an existing file; give a folder")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise InputError(f"{option} {path!r} is not writable")
        return
    _writable_ancestor(p, option)


def check_output_args(args: argparse.Namespace) -> None:
    """Check every output option a subcommand was given (FILE_OUTPUTS, DIR_OUTPUTS) and the form of a
    --scheduler address before it runs."""
    if isinstance(getattr(args, "scheduler", None), str):
        from sdlscape.solvers.fanout import check_scheduler_address

        check_scheduler_address(args.scheduler)
    for dest in FILE_OUTPUTS:
        value = getattr(args, dest, None)
        if isinstance(value, str):
            check_output_file(value, "--" + dest.replace("_", "-"))
    for dest in DIR_OUTPUTS:
        value = getattr(args, dest, None)
        if isinstance(value, str):
            check_output_dir(value, "--" + dest.replace("_", "-"))


def write_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if getattr(args, "json", None):
        from sdlscape.storage import write_json

        write_json(args.json, result)


def fmt_matrix(W, digits: int = 4) -> str:
    return np.array2string(np.asarray(W), precision=digits, suppress_small=True)


def dumps(obj: Any) -> str:
    from sdlscape.storage import to_jsonable

    return json.dumps(to_jsonable(obj))
