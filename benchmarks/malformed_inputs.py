"""Run a fixed catalogue of malformed inputs through the sdlscape CLI and count those that met the contract.

    python benchmarks/malformed_inputs.py [--quick] [--verbose]

The contract (ARCHITECTURE.md): exit 2, one line on stderr, no traceback, nothing written or changed.
The catalogue: every case of issue 15 (on realizable, piece, landscape, verify --instance and
crosscheck), then every malformed field of tests/cli/malformed_cases.py on the same five commands as
JSON and as .npz, files that are not instance files, malformed patterns, bad options, unwritable
output paths (FIFOs, symlinks, device nodes, over-long names), seeds, scheduler addresses, memory-bound
counts, extreme weights M, and seeded random junk values; then issue 25's hostile cases (damaged cache
entries, a closed stdout, the worker cap, certify on an unrealizable pattern). Controls that must NOT exit 2 (a valid but
unrealizable pattern, an .npz with a bare activation name) are run and reported separately.
Prints "N/N malformed inputs met the contract" and every case that did not.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "cli"))

import malformed_cases as cases  # noqa: E402
from malformed_cases import BASE, INSTANCE_COMMANDS, check_contract, command_argv, fill, write_instance  # noqa: E402

ISSUE_FIELDS = [("M", ["a", 1, 1]), ("activation.theta", "0.5"), ("activation.k", "two"), ("n_latents", "two"),
                ("n_latents", None), ("n_latents", True), ("law", {"p_active": 0.1, "bogus": 1}),
                ("parents", [["a"]])]


def issue_cases(root: Path):
    """(label, argv) for every case issue 15 lists."""
    ok = write_instance(root / "ok.json", BASE)
    for where, value in ISSUE_FIELDS:
        d = cases.instance_with(where, value)
        if where == "M":
            d["W_p"] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        p = write_instance(root / f"issue-{where}-{json.dumps(value)[:10]}.json".replace("/", "_"), d)
        for cmd in INSTANCE_COMMANDS:
            yield f"issue: {where} = {json.dumps(value)} ({cmd})", command_argv(cmd, p, root / "out")
    npz = cases.BAD_FILES["n_latents an array in .npz"](root / "issue-nl-array")
    for cmd in INSTANCE_COMMANDS:
        yield f"issue: .npz with n_latents an array ({cmd})", command_argv(cmd, npz, root / "out")
    for cmd, opt in (("landscape", "--eps"), ("landscape", "--tol"), ("piece", "--eps"), ("realizable", "--eps"),
                     ("crosscheck", "--lr")):
        yield f"issue: {cmd} {opt} inf", command_argv(cmd, ok, root / "out") + [opt, "inf"]
    yield "issue: landscape --json an existing folder", \
        ["landscape", str(ok), "--no-progress", "--json", fill(["{dir}"], root)[0]]
    yield "issue: reproduce --out an existing file", ["reproduce", "--out", fill(["{file}"], root)[0]]
    from sdlscape.theory.activations import TopK
    from sdlscape.theory.instance import random_unit, save_instance

    for act, tag in ((TopK(k=2), "TopK"), ("relu", "ReLU")):
        big = root / f"big-{tag}.json"
        save_instance(random_unit(30, 10, act, n_latents=10, seed=0), big)
        yield f"issue: landscape on a too-large {tag} instance (n 30, n_p 10, 10 latents)", \
            ["landscape", str(big), "--no-progress", "--json", str(root / "out" / "big.json")]
    yield "issue: a text file named x.npz", command_argv("realizable", cases.BAD_FILES["text named .npz"](root / "x"),
                                                         root / "out")
    yield "issue: --pattern missing.json", command_argv("realizable", ok, root / "out",
                                                        pattern=str(root / "missing.json"))
    yield "issue: crosscheck on a missing file", command_argv("crosscheck", root / "nope.json", root / "out")


def generated_cases(root: Path, n_random: int, quick: bool):
    """(label, argv) for the catalogue of tests/cli/malformed_cases.py and seeded random junk."""
    k = 0
    for where, value in cases.BAD_FIELDS:
        for suffix in (".json",) if quick else (".json", ".npz"):
            k += 1
            d = cases.instance_with(where, value)
            p = write_instance(root / f"f{k}{suffix}", d) or write_instance(root / f"f{k}.json", d)
            for cmd in INSTANCE_COMMANDS[:2] if quick else INSTANCE_COMMANDS:
                yield f"field {where} = {json.dumps(value)[:30]} ({p.suffix}, {cmd})", \
                    command_argv(cmd, p, root / "out")
    for name, make in cases.BAD_FILES.items():
        p = make(root / f"file{k}")
        k += 1
        for cmd in INSTANCE_COMMANDS:
            yield f"file: {name} ({cmd})", command_argv(cmd, p, root / "out")
    ok = write_instance(root / "valid.json", BASE)
    for pat in cases.BAD_PATTERNS:
        for cmd in ("realizable", "piece"):
            yield f"pattern {pat} ({cmd})", command_argv(cmd, ok, root / "out", pattern=pat)
    for cmd, extras in cases.BAD_OPTIONS.items():
        for extra in extras:
            yield f"option {' '.join(extra)} ({cmd})", command_argv(cmd, ok, root / "out") + fill(extra, root)
    for cmd, extra in cases.BAD_OUTPUTS:
        if cmd in ("reproduce", "figures", "verify"):
            argv = [cmd] + fill(extra, root)
        else:
            argv = command_argv(cmd, ok, root / "out")
            cut = argv.index("--json")
            argv = argv[:cut] + argv[cut + 2:] + fill(extra, root)
        yield f"output {' '.join(extra)} ({cmd})", argv
    for argv in cases.BAD_ARGV:
        yield f"command line {' '.join(argv)[:60]}", fill(argv, root)
    for device in ("gpu", "cuda:9", "cuda:x", "CPU"):
        yield f"option --device {device} (bench)", ["bench", "table1", "--device", device, "--no-progress",
                                                    "--json", str(root / "out" / "b.json")]
    rng = random.Random(0)
    leaves = [None, True, False, 0, -1, 3, 0.5, float("nan"), float("inf"), "", "a", "0.5", [], {}]
    for j in range(n_random):
        key = rng.choice(["W_p", "n_latents", "activation", "law", "parents", "zz_unknown"])
        value = rng.choice(leaves)
        for _ in range(rng.randint(0, 2)):
            value = rng.choice([[value], [value, value], {"name": value}, {"p_active": value, "x": value}])
        if cases.maybe_valid(key, value):
            continue
        p = write_instance(root / f"r{j}.json", cases.instance_with(key, value))
        yield f"random {key} = {json.dumps(value)[:30]}", command_argv(rng.choice(INSTANCE_COMMANDS), p, root / "out")


def hostile_cases(root: Path) -> list[tuple[str, bool, str]]:
    """Issue 25's cases whose contract is not exit 2: damaged caches recomputed and named, a closed stdout,
    the worker cap, an unrealizable pattern given to certify. (label, handled, detail)."""
    import os

    from sdlscape.bench import experiments as ex
    from sdlscape.cli import EXIT_BROKEN_PIPE, main
    from sdlscape.pipeline.reproduce import StageCache
    from sdlscape.solvers import fanout

    out = []
    for name, damage in cases.CACHE_DAMAGE.items():
        folder = root / f"cache-{len(out)}"
        cache = StageCache(folder, lambda m: None)
        calls = []
        fn = lambda calls=calls: calls.append(1) or {"v": len(calls)}  # noqa: E731
        cache.run("verify", {"b": 1}, fn)
        damage(cache.path("verify", {"b": 1}))
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                got = cache.run("verify", {"b": 1}, fn)
            ok = got == {"v": 2} and cache.path("verify", {"b": 1}).name in err.getvalue()
            detail = err.getvalue().strip()[:120]
        except Exception as exc:  # noqa: BLE001 - a traceback is what we look for
            ok, detail = False, f"raised {type(exc).__name__}: {exc}"
        out.append((f"stage cache entry {name}: named and recomputed", ok, detail))
    real_train = ex.train_and_measure

    def fake(res, progress=False):
        return {"key": res.key(), "enc_best": [0.9] * 5, "dec_best": [0.8] * 5, "mcc_decoder": 0.5,
                "mcc_encoder": 0.5, "uniqueness_decoder": 1.0, "fvu": 0.1, "dead_fraction": 0.0, "l0": 2.0,
                "anchored_encoder_cos": None, "final_loss": 0.1, "final_coef": None, "train_seconds": 0.0}
    ex.train_and_measure = fake
    try:
        for name, damage in cases.CACHE_DAMAGE.items():
            folder = root / f"rows-{len(out)}"
            rows = [ex.Row("topk", False, n=200)]
            ex.run_rows(rows, "small", cache_dir=folder, steps=1, seeds=1)
            damage(next(folder.glob("*.json")))
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err):
                    ex.run_rows(rows, "small", cache_dir=folder, steps=1, seeds=1)
                ok, detail = "damaged cache entry" in err.getvalue(), err.getvalue().strip()[:120]
            except Exception as exc:  # noqa: BLE001
                ok, detail = False, f"raised {type(exc).__name__}: {exc}"
            out.append((f"bench row cache entry {name}: named and recomputed", ok, detail))
    finally:
        ex.train_and_measure = real_train
    inst = write_instance(root / "pipe.json", BASE)
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([sys.executable, "-m", "sdlscape.cli", "realizable", str(inst), "--pattern", "[[0],[1]]"],
                          stdout=w, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(w)
    out.append(("stdout closed by its reader (| head -1): quiet exit",
                proc.returncode == EXIT_BROKEN_PIPE and not proc.stderr, f"exit {proc.returncode}, "
                f"stderr {proc.stderr[:80]!r}"))
    cap = fanout.capped_workers(10 ** 6, 10)
    out.append(("--workers 1000000 on 10 tasks capped at the cores", cap <= min(fanout.usable_cores(), 10),
                f"{cap} workers"))
    tri = root / "tri25.json"
    tri.write_text(json.dumps({"W_p": [[1.0, -0.5, -0.5], [0.0, 0.8660254037844386, -0.8660254037844386]],
                               "activation": {"name": "relu"}, "n_latents": 1}))
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["certify", str(tri), "--pattern", "[[0,1,2]]", "--json", str(root / "c25.json")])
    out.append(("certify --pattern on an unrealizable pattern: exit 0, realizable false", rc == 0
                and json.loads((root / "c25.json").read_text())["realizable"] is False, f"exit {rc}"))
    return out


def controls(root: Path) -> list[tuple[str, bool, str]]:
    """Inputs that are findings or valid, not bad input: (label, met, detail)."""
    from sdlscape.cli import main

    out = []
    tri = root / "tri.json"
    tri.write_text(json.dumps({"W_p": [[1.0, -0.5, -0.5], [0.0, 0.8660254037844386, -0.8660254037844386]],
                               "activation": {"name": "relu"}, "n_latents": 1}))
    res = root / "ctl" / "piece.json"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["piece", str(tri), "--pattern", "[[0,1,2]]", "--json", str(res)])
    realizable = json.loads(res.read_text())["realizable"] if res.exists() else None
    out.append(("piece on a valid but unrealizable pattern: exit 0, realizable false",
                rc == 0 and realizable is False, f"exit {rc}, realizable {realizable}"))
    npz = write_instance(root / "bare.npz", {**BASE, "activation": "relu"})
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(command_argv("realizable", npz, root / "ctl"))
    out.append(('.npz with activation = "relu" (a bare name): exit 0', rc == 0, f"exit {rc}"))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "import sys; from sdlscape.cli import main; "
                           "rc = main(sys.argv[1:]); print('torch' in sys.modules); sys.exit(rc)",
                           "crosscheck", str(root / "nope.json"), "--starts", "3"],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    secs = time.perf_counter() - t0
    out.append(("crosscheck rejects a missing file without importing torch",
                proc.returncode == 2 and proc.stdout.strip() == "False",
                f"exit {proc.returncode}, torch imported: {proc.stdout.strip()}, {secs:.2f} s in a fresh process"))
    for argv in (["crosscheck", str(tri), "--starts", "3", "--device", "cuda:9"], ["bench", "table1", "--device", "cuda:9"]):
        proc = subprocess.run([sys.executable, "-c", "import sys; from sdlscape.cli import main; "
                               "rc = main(sys.argv[1:]); print('torch' in sys.modules); sys.exit(rc)", *argv],
                              capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
        out.append((f"{argv[0]} --device cuda:9 refused without importing torch (a machine with < 10 GPUs)",
                    proc.returncode == 2 and proc.stdout.strip() == "False" and len(proc.stderr.splitlines()) == 1,
                    f"exit {proc.returncode}, torch imported: {proc.stdout.strip()}, {proc.stderr.strip()!r}"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="JSON only, two commands per field (about 4x fewer)")
    ap.add_argument("--random", type=int, default=200, help="seeded random junk cases (default 200)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sdlscape-malformed-"))
    failures, n, t0 = [], 0, time.perf_counter()
    try:
        for group in (issue_cases(root), generated_cases(root, args.random, args.quick)):
            for label, argv in group:
                n += 1
                why = check_contract(argv, root)
                if why is not None:
                    failures.append((label, why))
                if args.verbose:
                    print(("ok   " if why is None else "FAIL ") + label)
        ctl = controls(root)
        hostile = hostile_cases(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for label, why in failures:
        print(f"FAIL {label}: {why}")
    for label, met, detail in ctl:
        print(f"control {'ok' if met else 'FAIL'}: {label} ({detail})")
    for label, met, detail in hostile:
        if not met or args.verbose:
            print(f"hostile {'ok' if met else 'FAIL'}: {label} ({detail})")
    print(f"{n - len(failures)}/{n} malformed inputs met the contract "
          f"(exit 2, one line on stderr, no traceback, nothing written) in {time.perf_counter() - t0:.1f} s")
    print(f"{sum(m for _, m, _ in hostile)}/{len(hostile)} hostile cases handled (damaged caches named and "
          "recomputed, closed stdout, worker cap, certify on an unrealizable pattern)")
    return 0 if not failures and all(m for _, m, _ in ctl) and all(m for _, m, _ in hostile) else 1


if __name__ == "__main__":
    sys.exit(main())
