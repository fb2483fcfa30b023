"""Property-based fuzzing of the bad-input contract through the real entry point sdlscape.cli.main.

Generated malformed instance files (one field of a valid instance replaced by a wrongly typed, out of
range or unknown value; JSON and .npz), malformed patterns, bad options and unwritable output paths
must each give exit 2, one line on stderr, no traceback and nothing written. The default run uses a
fast profile; --runslow runs a long one. The control test runs the same commands on valid input and
must see them succeed, so a contract check that could never pass or never fail is caught.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from malformed_cases import (
    BAD_ARGV,
    BAD_FIELDS,
    BAD_FILES,
    BAD_OPTIONS,
    BAD_OUTPUTS,
    BAD_PATTERNS,
    BASE,
    INSTANCE_COMMANDS,
    TARGET_KINDS,
    check_contract,
    command_argv,
    fill,
    instance_with,
    maybe_valid,
    write_instance,
)

from sdlscape.cli import main

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=600, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _root() -> Path:
    return Path(tempfile.mkdtemp(prefix="sdlscape-fuzz-"))


def _field_case(case, cmd, suffix):
    root = _root()
    try:
        inst = write_instance(root / f"inst{suffix}", instance_with(*case))
        if inst is None:            # the value has no .npz form: try it as JSON
            inst = write_instance(root / "inst.json", instance_with(*case))
        out = root / "out"
        assert check_contract(command_argv(cmd, inst, out), root) is None, (case, cmd, suffix)
        assert not out.exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)


fields = st.sampled_from(BAD_FIELDS)
commands = st.sampled_from(INSTANCE_COMMANDS)
suffixes = st.sampled_from([".json", ".npz"])


@FAST
@given(case=fields, cmd=commands, suffix=suffixes)
def test_malformed_instance_fields(case, cmd, suffix):
    _field_case(case, cmd, suffix)


@pytest.mark.slow
@LONG
@given(case=fields, cmd=commands, suffix=suffixes)
def test_malformed_instance_fields_long(case, cmd, suffix):
    _field_case(case, cmd, suffix)


def _nested_case(cmd: str, junk) -> None:
    """A generated junk value (any JSON) in a random field of the base instance, if it is not valid there."""
    key, value = junk
    d = instance_with(key, value)
    root = _root()
    try:
        inst = write_instance(root / "inst.json", d)
        assert check_contract(command_argv(cmd, inst, root / "out"), root) is None, (key, value, cmd)
    finally:
        shutil.rmtree(root, ignore_errors=True)


json_junk = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True)
                         | st.text(max_size=4),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                      max_size=2),
                         max_leaves=6)
# Junk in a field of the base instance, skipped where it could be valid there (maybe_valid).
junk = st.tuples(st.sampled_from(["W_p", "n_latents", "activation", "law", "parents", "zz_unknown"]), json_junk
                 ).filter(lambda kv: not maybe_valid(*kv))


@FAST
@given(cmd=commands, junk=junk)
def test_generated_junk_values(cmd, junk):
    _nested_case(cmd, junk)


@pytest.mark.slow
@LONG
@given(cmd=commands, junk=junk)
def test_generated_junk_values_long(cmd, junk):
    _nested_case(cmd, junk)


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_files_that_are_not_instances(name, tmp_path):
    path = BAD_FILES[name](tmp_path / "inst")
    for cmd in ("realizable", "landscape", "crosscheck"):
        assert check_contract(command_argv(cmd, path, tmp_path / "out"), tmp_path) is None, (name, cmd)


@FAST
@given(pattern=st.sampled_from(BAD_PATTERNS) | st.text(max_size=12).filter(lambda t: not t.lstrip().startswith("[")),
       cmd=st.sampled_from(["realizable", "piece"]))
def test_malformed_patterns(pattern, cmd):
    root = _root()
    try:
        inst = write_instance(root / "inst.json", BASE)
        assert check_contract(command_argv(cmd, inst, root / "out", pattern=pattern), root) is None, pattern
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("cmd, extra", [(c, e) for c, opts in BAD_OPTIONS.items() for e in opts])
def test_bad_options(cmd, extra, tmp_path):
    inst = write_instance(tmp_path / "inst.json", BASE)
    argv = command_argv(cmd, inst, tmp_path / "out") + fill(extra, tmp_path)
    assert check_contract(argv, tmp_path) is None, extra


@pytest.mark.parametrize("cmd, extra", BAD_OUTPUTS)
def test_unwritable_outputs_refused_before_any_work(cmd, extra, tmp_path):
    inst = write_instance(tmp_path / "inst.json", BASE)
    if cmd in ("reproduce", "figures", "verify"):
        argv = [cmd] + fill(extra, tmp_path)
    else:
        argv = [a for a in command_argv(cmd, inst, tmp_path / "out")]
        cut = argv.index("--json")
        argv = argv[:cut] + argv[cut + 2:] + fill(extra, tmp_path)
    assert check_contract(argv, tmp_path) is None, argv


@pytest.mark.parametrize("argv", BAD_ARGV, ids=lambda a: " ".join(a)[:60])
def test_bad_command_lines(argv, tmp_path):
    assert check_contract(fill(argv, tmp_path), tmp_path) is None, argv


def _not_int(t: str) -> bool:
    try:
        int(t)
        return False
    except ValueError:
        return True


def _not_positive_float(t: str) -> bool:
    import math

    try:
        v = float(t)
    except ValueError:
        return True
    return not (math.isfinite(v) and v > 0)


# (command, option, generated value that the option must refuse)
bad_seed = st.integers().filter(lambda v: not 0 <= v < 2 ** 32).map(str) | st.text(max_size=8).filter(_not_int)
bad_count = st.integers(max_value=0).map(str) | st.text(max_size=8).filter(_not_int)
bad_positive = (st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.text(max_size=8)
                ).filter(_not_positive_float)
option_values = st.one_of(
    st.tuples(st.sampled_from(["piece", "landscape", "crosscheck", "verify"]), st.just("--seed"), bad_seed),
    st.tuples(st.sampled_from(["piece", "landscape"]), st.just("--starts"), bad_count),
    st.tuples(st.just("landscape"), st.sampled_from(["--workers", "--max-pieces"]), bad_count),
    st.tuples(st.sampled_from(["realizable", "piece", "landscape"]), st.just("--eps"), bad_positive),
    st.tuples(st.just("crosscheck"), st.just("--lr"), bad_positive),
    st.tuples(st.just("landscape"), st.just("--scheduler"),
              st.text(max_size=12).filter(lambda t: ":" not in t or "//" in t)),
)


@FAST
@given(case=option_values)
def test_generated_option_values(case):
    cmd, opt, value = case
    root = _root()
    try:
        inst = write_instance(root / "inst.json", BASE)
        argv = command_argv(cmd, inst, root / "out") + [f"{opt}={value}"]
        assert check_contract(argv, root) is None, case
    finally:
        shutil.rmtree(root, ignore_errors=True)


@FAST
@given(kind=st.sampled_from(TARGET_KINDS), cmd=st.sampled_from(["realizable", "piece", "landscape"]),
       option=st.sampled_from(["--json", "--csv"]))
def test_generated_output_path_kinds(kind, cmd, option):
    """A FIFO, symlink, device node or over-long name given as the output: refused, the thing left as it was."""
    if option == "--csv" and cmd != "landscape":
        option = "--json"
    root = _root()
    try:
        inst = write_instance(root / "inst.json", BASE)
        argv = command_argv(cmd, inst, root / "out")
        cut = argv.index("--json")
        argv = argv[:cut] + argv[cut + 2:] + fill([option, kind], root)
        assert check_contract(argv, root) is None, (kind, cmd, option)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@FAST
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode),
       cut=st.integers(min_value=0, max_value=400))
def test_generated_cache_damage_recomputed(data, cut, cached_stage):
    """Any bytes in a stage's cache file, or the file cut short: the stage is recomputed, never a traceback."""
    root = _root()
    try:
        cache, path, fn, calls = cached_stage(root)
        intact = path.read_bytes()
        damaged = intact[:cut] if cut < len(intact) else data
        path.write_bytes(damaged)
        assert cache.run("verify", {"b": 1}, fn) == {"v": len(calls)}
        same = damaged.strip() == intact.strip()         # a cut that drops only the final newline leaves it intact
        assert len(calls) == (1 if same else 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_control_valid_inputs_succeed(tmp_path, capsys):
    """The same command lines on valid input exit 0 and write their result (the contract check can fail)."""
    inst = write_instance(tmp_path / "inst.json", BASE)
    for cmd in ("realizable", "piece"):
        assert main(command_argv(cmd, inst, tmp_path / "out")) == 0
    assert json.loads((tmp_path / "out" / "r.json").read_text())["realizable"] is True
    assert check_contract(command_argv("realizable", inst, tmp_path / "out2"), tmp_path) is not None
    npz = write_instance(tmp_path / "inst.npz", {**BASE, "activation": "relu"})   # a bare name in an .npz
    assert main(command_argv("realizable", npz, tmp_path / "out3")) == 0
