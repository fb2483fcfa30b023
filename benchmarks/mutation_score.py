"""Mutation score of the decision modules: mutmut on verify/ and the solver modules that decide outcomes
(solvers/certificate.py, solvers/acs.py's piece_outcome), with the fast rule tests of pyproject's
[tool.mutmut] section (tests/verify/test_rules.py, tests/solvers/test_certificate.py).

Runs on a copy of the working tree (mutmut writes mutants/ next to the sources), under nice, with mutmut's
own (very long) output in a log file; prints the score killed / (killed + survived + timeout counted as
killed) over the mutants some selected test reaches, the count of each status, and every surviving mutant
with its diff. Functions no selected test reaches ("no tests": the searches and I/O of the checks, and the
rest of acs.py) are listed by count, not scored.

    python benchmarks/mutation_score.py [--workdir /tmp/mut_verify] [--jobs 2] [--resume] [--json OUT]
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_tree(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the working tree (no results/, no caches)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for f in files:
        if not f or f.startswith(("results/", "mutants/")):
            continue
        src, dst = ROOT / f, dest / f
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def restrict(pyproject: Path, globs: list[str], key: str = "only_mutate") -> None:
    """Rewrite `key` (only_mutate, or the test selection) in the copy's [tool.mutmut] section (the project's
    own file is left alone)."""
    import re

    text = pyproject.read_text()
    new = f"{key} = [" + ", ".join(f'"{g}"' for g in globs) + "]"
    text, n = re.subn(key + r" = \[[^\]]*\]", new, text, count=1)
    if n != 1:
        raise SystemExit(f"no {key} in [tool.mutmut]")
    pyproject.write_text(text)


def results(workdir: Path, env: dict) -> dict[str, str]:
    out = subprocess.run(["mutmut", "results", "--all", "true"], cwd=workdir, capture_output=True, text=True, env=env)
    status = {}
    for line in out.stdout.splitlines():
        name, sep, st = line.strip().rpartition(": ")
        if sep:
            status[name] = st
    return status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", default="/tmp/mut_verify")
    ap.add_argument("--jobs", type=int, default=2, help="mutmut --max-children")
    ap.add_argument("--resume", action="store_true", help="keep an existing copy and its mutants/ (mutmut resumes)")
    ap.add_argument("--no-diffs", action="store_true", help="list the survivors without their diffs")
    ap.add_argument("--only", nargs="+", metavar="GLOB",
                    help="mutate only these files (replaces [tool.mutmut] only_mutate in the copy, e.g. the verify "
                         "decision modules: sdlscape/verify/thm3_*.py sdlscape/verify/claims.py)")
    ap.add_argument("--tests", nargs="+", metavar="PATH",
                    help="the tests mutmut runs (replaces pytest_add_cli_args_test_selection in the copy)")
    ap.add_argument("--deselect", action="append", default=[], metavar="TEST_ID",
                    help="a test the run leaves out (a slow one; repeatable)")
    ap.add_argument("--mutants", nargs="+", metavar="NAME",
                    help="run only these mutants (e.g. the survivors of an earlier run, to check new tests)")
    ap.add_argument("--json", metavar="OUT", help="write the score, the counts and the survivors here")
    args = ap.parse_args(argv)
    work = Path(args.workdir)
    if not args.resume and work.exists():
        shutil.rmtree(work)
    if not args.resume or not work.exists():
        copy_tree(work)
        if args.only:
            restrict(work / "pyproject.toml", args.only)
        if args.tests or args.deselect:
            tests = args.tests or []
            tests += [a for t in args.deselect for a in ("--deselect", t)]
            restrict(work / "pyproject.toml", tests, "pytest_add_cli_args_test_selection")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = work / "mutmut-run.log"
    with open(log, "w") as fh:
        rc = subprocess.run(["nice", "-n", "10", "mutmut", "run", "--max-children", str(args.jobs)] + (args.mutants or []),
                            cwd=work, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    status = results(work, env)
    counts = collections.Counter(status.values())
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    survived = counts.get("survived", 0)
    scored = killed + survived
    print(f"mutmut run exit {rc} (log: {log})")
    print("mutants by status: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if scored:
        print(f"mutation score: {killed}/{scored} = {killed / scored:.1%} of the mutants the rule tests reach")
    by_module = collections.Counter(n.split(".x_")[0].rsplit(".", 1)[0] if ".x_" in n else n.split("__mutmut")[0]
                                    for n, s in status.items() if s == "no tests")
    if by_module:
        print("not reached by the rule tests (not scored): " + ", ".join(f"{m} {c}" for m, c in sorted(by_module.items())))
    surv = sorted(n for n, s in status.items() if s == "survived")
    print(f"surviving mutants: {len(surv)}")
    for n in surv:
        print(f"  {n}")
        if not args.no_diffs:
            diff = subprocess.run(["mutmut", "show", n], cwd=work, capture_output=True, text=True, env=env).stdout
            print("\n".join("      " + ln for ln in diff.splitlines() if ln.startswith(("+", "-")) and
                            not ln.startswith(("+++", "---"))))
    if args.json:
        write_score(Path(args.json), args, rc, counts, surv)
    return 0 if rc == 0 else 1


def write_score(out: Path, args, rc: int, counts: collections.Counter, surv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from sdlscape.storage import provenance, write_json

    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    write_json(out, {"mutated": args.only, "tests": args.tests, "only_mutants": args.mutants,
                     "deselected": args.deselect, "mutmut_exit": rc,
                     "by_status": dict(sorted(counts.items())), "killed": killed,
                     "scored": killed + counts.get("survived", 0), "survivors": surv,
                     "provenance": provenance()})


if __name__ == "__main__":
    sys.exit(main())
