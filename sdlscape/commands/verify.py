"""`sdlscape verify`: check every statement of the paper per activation and reading; print a verdict table."""
from __future__ import annotations

import time
from pathlib import Path

from sdlscape.commands._common import load_instance_arg, seed_int, write_result
from sdlscape.outcomes import Severity, Status
from sdlscape.theory.activations import names
from sdlscape.verify.claims import CLAIMS, run_checks

DEFAULT_FOLDER = "sdlscape-counterexamples"


def register(sub) -> None:
    acts = names()
    p = sub.add_parser("verify", help="check the paper's statements per activation (counterexample search)",
                       description="Run one check per statement of the paper (Thm 3.1-3.8, Example 3.5 and "
                                   "corrected versions) for each activation and pattern reading, searching instance "
                                   "families for counterexamples; print a verdict table (holds / fails / "
                                   "inconclusive, with severity and what was searched).")
    p.add_argument("--claim", action="append", choices=CLAIMS, metavar="ID",
                   help=f"a claim to check (repeatable; default all): {', '.join(CLAIMS)}")
    p.add_argument("--activation", action="append", choices=acts, metavar="NAME",
                   help=f"an activation (repeatable; default all, or the instance's): {', '.join(acts)}")
    p.add_argument("--instance", metavar="FILE",
                   help="check on this instance file (every pattern of it) instead of the built-in families")
    p.add_argument("--normalize", action="store_true", help="rescale non-unit columns of the instance")
    p.add_argument("--budget", choices=("quick", "full"), default="quick",
                   help="search budget of the random families: quick (a few minutes in all) or full")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    p.add_argument("--counterexamples", metavar="DIR", default=None,
                   help="where counterexample instance files go (default: beside the --json file, "
                        f"<stem>-counterexamples/; without --json, ./{DEFAULT_FOLDER}/)")
    p.add_argument("--json", metavar="PATH", help="write {\"results\": [ClaimResult, ...]} here")
    p.set_defaults(func=run)


def counterexample_folder(json_path: str | None, explicit: str | None) -> Path:
    """The folder counterexamples go to: the explicit one, else beside the --json output, else a named
    folder in the working directory (never the repository's committed results/)."""
    if explicit:
        return Path(explicit)
    if json_path:
        j = Path(json_path)
        return j.parent / f"{j.stem}-counterexamples"
    return Path.cwd() / DEFAULT_FOLDER


def _searched(r) -> str:
    s = r.searched
    return f"{s.instances}/{s.patterns}/{s.points}/{s.starts}"


def format_table(results) -> str:
    """The verdict table: claim x activation x reading, status, severity, what was searched, seconds."""
    head = (f"{'claim':<17} {'activation':<10} {'reading':<9} {'status':<14} {'severity':<11} "
            f"{'inst/pat/pts/starts':>19} {'seconds':>8}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.claim:<17} {r.activation:<10} {r.reading.value:<9} {r.status.value:<14} "
                     f"{(r.severity.value if r.severity else '-'):<11} {_searched(r):>19} {r.seconds:>8.2f}")
    return "\n".join(lines)


def run(args) -> int:
    from sdlscape.storage import provenance

    inst = load_instance_arg(args.instance, args.normalize) if args.instance else None
    for name in sorted(set(args.activation or ()) - ({inst.activation.name} if inst else set())):
        if inst is not None:      # run_checks substitutes it: say so, never silently
            print(f"note: --activation {name}: the checks run on {inst.name}'s W_p, W_r and M with {name} "
                  f"(default parameters) in place of the file's activation {inst.activation}")
    folder = counterexample_folder(args.json, args.counterexamples)
    t0 = time.perf_counter()
    results = run_checks(claims=args.claim, activations=args.activation, instance=inst, budget=args.budget,
                         seed=args.seed, counterexample_dir=folder, progress=True)
    wall = time.perf_counter() - t0
    print(format_table(results))
    print("(searched: instances / patterns / points / ACS starts per piece)")
    for r in results:
        if r.counterexample:
            cx = r.counterexample
            where = cx["instance"] if isinstance(cx.get("instance"), str) else "(inline)"
            print(f"\n{r.label}: COUNTEREXAMPLE ({r.severity.value}) {where}"
                  + (f" pattern {cx['pattern']}" if cx.get("pattern") is not None else ""))
            print(f"  why: {cx.get('why')}")
            if r.rests_on:
                print(f"  rests on: {'; '.join(r.rests_on)}")
            rc = cx.get("recheck")
            if isinstance(rc, dict) and "agrees" in rc:
                print(f"  independent re-check agrees: {bool(rc['agrees'])}")
            if r.severity is Severity.LITERAL and r.natural:
                print(f"  natural reading ({r.natural.get('reading')}): {r.natural.get('status')}")
    counts = {s: sum(r.status is s for r in results) for s in Status}
    print(f"\n{len(results)} checks: {counts[Status.HOLDS]} hold, {counts[Status.FAILS]} fail, "
          f"{counts[Status.INCONCLUSIVE]} inconclusive, {counts[Status.NOT_APPLICABLE]} not applicable; "
          f"budget {args.budget}, seed {args.seed}; wall time {wall:.1f} s")
    write_result(args, {"results": [r.to_dict() for r in results],
                        "provenance": provenance("cpu", wall, budget=args.budget, seed=args.seed)})
    return 0
