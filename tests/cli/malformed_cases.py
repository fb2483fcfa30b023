"""Malformed inputs and the bad-input contract, shared by test_fuzz_inputs.py and benchmarks/malformed_inputs.py.

The contract (ARCHITECTURE.md, Commands): through the real entry point `sdlscape.cli.main`, a malformed
instance file, pattern or option gives exit status 2, exactly one line on stderr ("sdlscape CMD: error:
..."), no traceback, and no file written or changed.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

NAN, INF = math.nan, math.inf

BASE = {"W_p": [[1.0, 0.0], [0.0, 1.0]], "activation": {"name": "relu"}, "n_latents": 2}
PATTERN = "[[0],[1]]"

# (where, bad value): `where` is a top-level key, or "activation.<param>" / "law.<param>" with the base
# activation / law given first. Every value is invalid in its place (a type, a range, a shape, a key).
BAD_FIELDS: list[tuple[str, Any]] = [
    ("W_p", "a"), ("W_p", True), ("W_p", None), ("W_p", 1.0), ("W_p", []), ("W_p", [[]]),
    ("W_p", [["a", 0.0], [0.0, 1.0]]), ("W_p", [[1.0, 0.0], [0.0]]), ("W_p", [[1.0, 0.0], [0.0, 2.0]]),
    ("W_p", [[NAN, 0.0], [0.0, 1.0]]), ("W_p", [[INF, 0.0], [0.0, 1.0]]), ("W_p", [[True, False], [False, True]]),
    ("W_p", {"a": 1}), ("W_p", [[[1.0]]]), ("W_p", [1.0, 0.0]), ("W_p", [["1", "0"], ["0", "1"]]),
    ("W_p", [[0.0, 0.0], [0.0, 1.0]]),
    ("W_r", "a"), ("W_r", True), ("W_r", []), ("W_r", [[1.0, 0.0, 0.0]]), ("W_r", [[2.0, 0.0], [0.0, 1.0]]),
    ("W_r", [["x"]]), ("W_r", {"a": 1}),
    ("M", "a"), ("M", [1.0]), ("M", [1.0, -1.0]), ("M", [0.0, 1.0]), ("M", [NAN, 1.0]), ("M", ["a", 1]),
    ("M", [True, 1.0]), ("M", True), ("M", 1.0), ("M", {}), ("M", []), ("M", ["0.5", "0.5"]),
    ("M", [1e308, 1e308]), ("M", [1e60, 1.0]), ("M", [1e-200, 1e-200]), ("law", {"p_active": 0.5, "beta": 1e200}),
    ("n_latents", "two"), ("n_latents", None), ("n_latents", True), ("n_latents", False), ("n_latents", 0),
    ("n_latents", -1), ("n_latents", 2.5), ("n_latents", 2.0), ("n_latents", [2]), ("n_latents", {}),
    ("n_latents", "2"),
    ("activation", None), ("activation", 1), ("activation", True), ("activation", []), ("activation", "softmax"),
    ("activation", {"name": "softmax"}), ("activation", {}), ("activation", {"name": 1}),
    ("activation", {"name": "relu", "bogus": 1}), ("activation", {"name": "jumprelu"}),
    ("activation", {"name": "topk"}), ("activation", {"name": "relu", "theta": 0.5}),
    ("activation.theta", "0.5"), ("activation.theta", True), ("activation.theta", -1.0), ("activation.theta", 0.0),
    ("activation.theta", NAN), ("activation.theta", INF), ("activation.theta", [0.5]), ("activation.theta", None),
    ("activation.k", "two"), ("activation.k", 1.5), ("activation.k", True), ("activation.k", 0),
    ("activation.k", 99), ("activation.k", None), ("activation.k", -2), ("activation.k", 1.0),
    ("parents", "a"), ("parents", [["a"]]), ("parents", [[0, 5]]), ("parents", [[0], [0]]), ("parents", [[True]]),
    ("parents", [[-1]]), ("parents", [0, 1]), ("parents", {}), ("parents", [[1.5]]), ("parents", 3),
    ("law", "x"), ("law", {"p_active": 0.1, "bogus": 1}), ("law", {}), ("law", {"p_active": "0.1"}),
    ("law", {"p_active": 0.0}), ("law", {"p_active": 1.5}), ("law", {"p_active": 0.1, "beta": -1.0}),
    ("law", {"p_active": 0.1, "c_min": NAN}), ("law", {"p_active": True}), ("law", [0.1]),
    ("law", {"p_active": 0.1, "beta": "1"}),
    ("name", 1), ("name", True), ("name", []), ("name", {}),
    ("bogus", 1), ("w_p", [[1.0]]), ("W_P", [[1.0]]), ("activations", {"name": "relu"}),
    ("-W_p", None), ("-activation", None), ("-n_latents", None),
]

# Patterns given to `realizable` / `piece` on the valid base instance (2 features, 2 latents).
BAD_PATTERNS: list[str] = [
    "[[0]]", "[[0],[7]]", "[[0],[-1]]", '[["a"],[1]]', "[[true],[1]]", "[[0.0],[1]]", "[[0,0],[1]]", "{}",
    "[0,1]", "[[0],[1]", "[", "null", '"[[0],[1]]"', "[[0],[1],[]]", "[[null],[1]]", "[[[0]],[1]]",
    "[[0],[1e400]]", "[[0],[NaN]]", "[[0], {\"a\": 1}]",
    "[[0],[1" + "0" * 5000 + "]]", "[[0],[1" + "0" * 30 + "]]", "[" * 900 + "]" * 900, '[[0],["\ud800"]]',
]


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def maybe_valid(key: str, value: Any) -> bool:
    """Could `value` be valid as the base instance's `key` (2 features, relu)? Generated junk that could is
    skipped: the contract is about malformed input only."""
    if key == "n_latents":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if key == "activation":
        return value in ("relu", {"name": "relu"})
    if key in ("law", "parents", "W_r", "M"):
        return value is None or (key == "parents" and isinstance(value, list)
                                 and all(isinstance(g, list) and not g for g in value))
    if key == "W_p":          # a non-empty rectangular numeric matrix with unit-norm columns
        if not (isinstance(value, list) and value and all(isinstance(r, list) and r for r in value)):
            return False
        if len({len(r) for r in value}) != 1 or not all(_number(x) for r in value for x in r):
            return False
        cols = np.asarray(value, dtype=float)
        return bool(np.all(np.abs(np.linalg.norm(cols, axis=0) - 1.0) <= 1e-6))
    if key == "name":
        return isinstance(value, str)
    return False


def instance_with(where: str, value: Any) -> dict[str, Any]:
    """The base instance with one field replaced, added (unknown key) or removed ('-key')."""
    d = json.loads(json.dumps(BASE))
    if where.startswith("-"):
        d.pop(where[1:])
    elif where.startswith("activation."):
        param = where.split(".", 1)[1]
        d["activation"] = {"name": "jumprelu" if param == "theta" else "topk", param: value}
    elif where.startswith("law."):
        d["law"] = {"p_active": 0.1, where.split(".", 1)[1]: value}
    else:
        d[where] = value
    return d


def write_instance(path: Path, d: dict[str, Any]) -> Path | None:
    """Write d as JSON (path.suffix .json) or .npz (numeric arrays; JSON text for activation/law/parents).
    None if the value has no .npz form (a ragged list, say)."""
    if path.suffix != ".npz":
        path.write_text(json.dumps(d))
        return path
    arrays = {}
    try:
        for k, v in d.items():
            if k in ("activation", "law", "parents") and isinstance(v, (dict, list)):
                arrays[k] = np.asarray(json.dumps(v))
            else:
                arrays[k] = np.asarray(v)
                if json.dumps(arrays[k].tolist()) != json.dumps(v):
                    return None           # numpy would change the value (True -> 1.0): no faithful .npz form
    except (ValueError, TypeError):
        return None
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _text_npz(p: Path) -> Path:
    p = p.with_suffix(".npz")
    p.write_text("this is not an archive")
    return p


def _garbage_zip(p: Path) -> Path:
    p = p.with_suffix(".npz")
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("W_p.npy", b"not an array")
    return p


def _object_npz(p: Path) -> Path:
    p = p.with_suffix(".npz")
    np.savez(p, W_p=np.array([[1.0, 0.0], [0.0, 1.0]]), activation=np.array([{"name": "relu"}], dtype=object),
             n_latents=np.array(2))
    return p


def _array_n_latents_npz(p: Path) -> Path:
    p = p.with_suffix(".npz")
    np.savez(p, W_p=np.eye(2), activation=np.asarray('{"name": "relu"}'), n_latents=np.array([2, 3]))
    return p


def _bool_npz(p: Path) -> Path:
    p = p.with_suffix(".npz")
    np.savez(p, W_p=np.eye(2, dtype=bool), activation=np.asarray("relu"), n_latents=np.array(2))
    return p


def _bad_activation_text_npz(p: Path) -> Path:
    p = p.with_suffix(".npz")
    np.savez(p, W_p=np.eye(2), activation=np.asarray("{name: relu"), n_latents=np.array(2))
    return p


def _write(text: str | bytes, suffix: str = ".json") -> Callable[[Path], Path]:
    def make(p: Path) -> Path:
        p = p.with_suffix(suffix)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        return p
    return make


def _directory(p: Path) -> Path:
    p = p.with_suffix(".json")
    p.mkdir()
    return p


def _missing(p: Path) -> Path:
    return p.with_name("does-not-exist.json")


# Files that are not instance files at all: name -> maker(path stem) -> the path to pass.
BAD_FILES: dict[str, Callable[[Path], Path]] = {
    "text named .npz": _text_npz, "zip of garbage": _garbage_zip, "object array in .npz": _object_npz,
    "n_latents an array in .npz": _array_n_latents_npz, "boolean W_p in .npz": _bool_npz,
    "activation text not JSON in .npz": _bad_activation_text_npz,
    "empty file": _write(""), "binary bytes as .json": _write(b"\x89PNG\r\n\x1a\n\x00\xff"),
    "JSON list": _write("[1, 2]"), "JSON string": _write('"W_p"'), "JSON null": _write("null"),
    "truncated JSON": _write('{"W_p": [[1, 0], [0, 1]], "activation"'), "deeply nested JSON": _write("[" * 100000),
    "directory": _directory, "missing file": _missing,
    # parse, then break later (issue 25 item 5)
    "an integer of 5000 digits": _write('{"W_p": [[1, 0], [0, 1]], "activation": "relu", "n_latents": 1%s}'
                                        % ("0" * 5000)),
    "an integer of 4000 digits": _write('{"W_p": [[1, 0], [0, 1]], "activation": "relu", "n_latents": 1%s}'
                                        % ("0" * 4000)),
    "k of 4000 digits": _write('{"W_p": [[1, 0], [0, 1]], "activation": {"name": "topk", "k": 1%s}, '
                               '"n_latents": 2}' % ("0" * 4000)),
    "900-deep nesting in law": _write('{"W_p": [[1, 0], [0, 1]], "activation": "relu", "n_latents": 2, "law": '
                                      + "[" * 900 + "]" * 900 + "}"),
    "900-deep objects in name": _write('{"W_p": [[1, 0], [0, 1]], "activation": "relu", "n_latents": 2, "name": '
                                       + '{"a": ' * 900 + "1" + "}" * 901),
    "a lone surrogate in the name": _write('{"W_p": [[1, 0], [0, 1]], "activation": "relu", "n_latents": 2, '
                                           '"name": "x\\ud800"}'),
}

# Options: command -> list of extra argv that must be refused (with a valid instance and pattern).
BAD_OPTIONS: dict[str, list[list[str]]] = {
    "realizable": [["--eps", v] for v in ("inf", "nan", "-1", "0", "x", "-inf", "1e400")] + [["--reading", "x"]],
    "piece": [["--eps", "inf"], ["--eps", "nan"], ["--starts", "0"], ["--starts", "x"], ["--starts", "-3"],
              ["--max-iter", "0"], ["--solver", "nope"]],
    "landscape": [["--eps", "inf"], ["--eps", "-1e-3"], ["--tol", "inf"], ["--tol", "nan"], ["--tol", "0"],
                  ["--max-pieces", "0"], ["--workers", "0"], ["--starts", "0"], ["--max-iter", "x"]],
    "crosscheck": [["--lr", "nan"], ["--lr", "inf"], ["--lr", "-1"], ["--starts", "0"], ["--steps", "0"],
                   ["--device", "gpu"], ["--device", "cuda:9"], ["--device", "cuda:x"], ["--init", "weird"],
                   ["--landscape", "{missing}"], ["--landscape", "{dir}"]],
    "verify": [],
}
BAD_OPTIONS["landscape"] += [["--scheduler", a] for a in ("bogus", "http://[::1", "tcp://[zz]:1", "host:0", "")]
# Seeds out of [0, 2**32) on every command that takes one (issue 25 item 4).
BAD_SEEDS = ["-1", "4294967296", "1" + "0" * 24, "0x10", "1.5"]
for _cmd in ("piece", "landscape", "crosscheck", "verify"):
    BAD_OPTIONS[_cmd] += [["--seed", v] for v in BAD_SEEDS]

# Whole command lines (no instance) that must be refused: {out} etc. are filled by fill().
BAD_OPTIONS["crosscheck"] += [["--starts", str(10 ** 15)]]            # petabytes of end points (estimate)
BAD_ARGV: list[list[str]] = [
    ["bench", "custom", "--method", "topk", "--n", "0", "--json", "{out}"],
    ["bench", "custom", "--method", "topk", "--anchors", "{npz}", "--steps", "1", "--json", "{out}"],
    ["bench", "custom", "--method", "topk", "--anchors", "{file}", "--steps", "1", "--json", "{out}"],
    ["figures", "--from", "{file_json}", "--out", "{out}"],
    *[["bench", "custom", "--method", "topk", "--seed", v, "--json", "{out}"] for v in BAD_SEEDS],
    *[["reproduce", "--out", "{out}", "--seed", v] for v in BAD_SEEDS[:3]],
    *[["figures", "--out", "{out}", "--seed", v] for v in BAD_SEEDS[:3]],
]

# Output paths that cannot be written: (command argv builder, description). {dir}: an existing folder,
# {file}: an existing file, {under_file}: a path below a file.
BAD_OUTPUTS: list[tuple[str, list[str]]] = [
    ("realizable", ["--json", "{dir}"]), ("piece", ["--json", "{dir}"]), ("landscape", ["--json", "{dir}"]),
    ("landscape", ["--csv", "{dir}"]), ("landscape", ["--json", "{under_file}"]),
    ("crosscheck", ["--json", "{dir}"]), ("realizable", ["--json", "{under_file}"]),
    ("reproduce", ["--out", "{file}"]), ("reproduce", ["--out", "{under_file}"]),
    ("reproduce", ["--out", "{out}", "--json", "{dir}"]), ("figures", ["--out", "{file}"]),
    ("verify", ["--claim", "thm3.6", "--json", "{dir}"]), ("figures", ["--from", "{missing}", "--out", "{out}"]),
]
# Output paths whose target is not a regular file or a new name (issue 25 item 1), and over-long names:
# refused before any work, the thing at the path left as it was.
TARGET_KINDS = ("{fifo}", "{symlink}", "{device}", "{long}", "{long_dir}", "{long_path}")
BAD_OUTPUTS += [(cmd, ["--json", kind]) for cmd in ("realizable", "piece", "landscape", "crosscheck")
                for kind in TARGET_KINDS]
BAD_OUTPUTS += [("landscape", ["--csv", "{fifo}"]), ("reproduce", ["--out", "{long}"]),
                ("verify", ["--claim", "thm3.6", "--json", "{symlink}"])]


def command_argv(cmd: str, inst: Path, out: Path, pattern: str = PATTERN) -> list[str]:
    """A command line that would run on `inst`, writing its result under `out`."""
    if cmd == "realizable":
        return ["realizable", str(inst), "--pattern", pattern, "--json", str(out / "r.json")]
    if cmd == "piece":
        return ["piece", str(inst), "--pattern", pattern, "--starts", "1", "--json", str(out / "p.json")]
    if cmd == "landscape":
        return ["landscape", str(inst), "--starts", "1", "--no-progress", "--json", str(out / "l.json")]
    if cmd == "crosscheck":
        return ["crosscheck", str(inst), "--starts", "2", "--steps", "5", "--no-resampling",
                "--json", str(out / "c.json")]
    if cmd == "verify":
        return ["verify", "--instance", str(inst), "--claim", "thm3.6", "--counterexamples", str(out / "cx"),
                "--json", str(out / "v.json")]
    if cmd == "certify":
        return ["certify", str(inst), "--json", str(out / "z.json")]
    raise ValueError(cmd)


INSTANCE_COMMANDS = ("realizable", "piece", "landscape", "crosscheck", "verify")


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Kind, size and mtime of everything under root (lstat: a FIFO or symlink replaced by a file shows)."""
    return {str(p): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def check_contract(argv: list[str], root: Path) -> str | None:
    """Run `sdlscape.cli.main(argv)` in-process; None if it met the bad-input contract, else why not."""
    from sdlscape.cli import main

    before = snapshot(root)
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                rc = main(argv)
            except SystemExit as exc:              # argparse's usage errors
                rc = exc.code
    except Exception as exc:                       # noqa: BLE001 - a traceback is what we look for
        return f"raised {type(exc).__name__}: {str(exc)[:200]}"
    lines = err.getvalue().strip().splitlines()
    if rc != 2:
        return f"exit {rc}, not 2 (stderr: {err.getvalue().strip()[:200]!r})"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr, not 1: {err.getvalue()[:300]!r}"
    if "Traceback" in err.getvalue() or "error:" not in lines[0] or not lines[0].startswith("sdlscape"):
        return f"not a one-line error: {lines[0][:200]!r}"
    if snapshot(root) != before:
        return "a file was written or changed"
    return None


def special_file(root: Path, kind: str) -> Path:
    """A FIFO, a symlink to a regular file, or a device node (a copy of /dev/null where mknod is allowed,
    else a FIFO) under root."""
    import os
    import stat

    p = root / f"a_{kind}"
    if os.path.lexists(p):
        return p
    if kind == "symlink":
        target = root / "a_file.txt"
        if not target.exists():
            target.write_text("x")
        p.symlink_to(target)
    elif kind == "device":
        try:
            os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 3))     # what /dev/null is
        except PermissionError:
            os.mkfifo(p)
    else:
        os.mkfifo(p)
    return p


def fill(argv: list[str], root: Path) -> list[str]:
    """Replace {dir}, {file}, {under_file}, {missing}, {out}, {fifo}, {symlink}, {device}, {long} (a 300-byte
    file name), {long_dir} (a 300-byte folder name above the file) by paths under root (created as needed)."""
    d, f = root / "a_dir", root / "a_file.txt"
    d.mkdir(exist_ok=True)
    if not f.exists():
        f.write_text("x")
    table = {"{dir}": str(d), "{file}": str(f), "{under_file}": str(f / "r.json"),
             "{missing}": str(root / "missing.json"), "{out}": str(root / "fresh_out"),
             "{long}": str(root / ("n" * 295 + ".json")), "{long_dir}": str(root / ("d" * 300) / "r.json"),
             "{long_path}": str(root.joinpath(*(["d" * 200] * 25)) / "r.json")}
    if "{npz}" in argv:
        np.savez(root / "a.npz", a=np.ones((3, 4)))
        table["{npz}"] = str(root / "a.npz")
    if "{file_json}" in argv:
        (root / "any.json").write_text('{"a": 1}')
        table["{file_json}"] = str(root / "any.json")
    for kind in ("fifo", "symlink", "device"):
        if "{" + kind + "}" in argv:
            table["{" + kind + "}"] = str(special_file(root, kind))
    return [table.get(a, a) for a in argv]


# Damage done to a cache entry (a stage file or a bench row file): each must be detected, named, recomputed.
def _cut(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:40])


def _keyless(p: Path) -> None:
    d = json.loads(p.read_text())
    p.write_text(json.dumps({k: v for k, v in d.items() if k not in ("seconds", "l0", "_sha256")}))


def _edited(p: Path) -> None:
    d = json.loads(p.read_text())
    d["edited"] = 1                                    # keys intact, checksum now wrong
    p.write_text(json.dumps(d))


CACHE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _cut, "garbage": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff garbage"),
    "empty": lambda p: p.write_text(""), "key-less": _keyless, "edited": _edited,
    "a JSON list": lambda p: p.write_text("[1, 2]"), "deep nesting": lambda p: p.write_text("[" * 100000),
    "not UTF-8": lambda p: p.write_bytes(b'{"seconds": "\xff"}'),
}
