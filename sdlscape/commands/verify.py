"""`sdlscape verify`: check every statement of the paper per activation; print a verdict table."""
from __future__ import annotations

import time


def register(sub) -> None:
    from sdlscape.theory.activations import names

    ACTIVATIONS = names()
    from sdlscape.verify.claims import CLAIMS

    p = sub.add_parser("verify", help="check the paper's statements per activation (counterexample search)",
                       description="Run one check per statement of the paper (Thm 3.1-3.8, Example 3.5 and "
                                   "corrected versions) for each activation, searching instance families for "
                                   "counterexamples; print a verdict table (holds / fails / inconclusive).")
    p.add_argument("--claim", action="append", choices=CLAIMS, metavar="ID",
                   help=f"a claim to check (repeatable; default all): {', '.join(CLAIMS)}")
    p.add_argument("--activation", action="append", choices=ACTIVATIONS, metavar="NAME",
                   help=f"an activation (repeatable; default all, or the instance's): {', '.join(ACTIVATIONS)}")
    p.add_argument("--instance", metavar="FILE", help="check on this instance file instead of the built-in families")
    p.add_argument("--normalize", action="store_true", help="rescale non-unit columns of the instance")
    p.add_argument("--budget", choices=("quick", "full"), default="quick",
                   help="search budget: quick (all checks in about 2 minutes) or full")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--counterexamples", metavar="DIR", default="results/counterexamples",
                   help="where counterexample instance files go (default results/counterexamples)")
    p.add_argument("--json", metavar="PATH", help="write {\"results\": [ClaimResult, ...]} here")
    p.set_defaults(func=run)


def format_table(results) -> str:
    """The verdict table: claim x activation with status, instances tried and seconds."""
    head = f"{'claim':<18} {'activation':<10} {'status':<13} {'instances':>9} {'seconds':>8}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.claim:<18} {r.activation:<10} {r.status:<13} {r.instances_tried:>9} {r.seconds:>8.2f}")
    return "\n".join(lines)


def run(args) -> int:
    from sdlscape.commands._common import load_instance_arg, write_result
    from sdlscape.storage import provenance
    from sdlscape.verify.claims import run_checks

    inst = load_instance_arg(args.instance, args.normalize) if args.instance else None
    for name in sorted(set(args.activation or ()) - ({inst.activation.name} if inst else set())):
        if inst is not None:      # run_checks substitutes it: say so, never silently
            print(f"note: --activation {name}: the checks run on {inst.name}'s W_p, W_r and M with {name} "
                  f"(default parameters) in place of the file's activation {inst.activation}")
    t0 = time.perf_counter()
    results = run_checks(claims=args.claim, activations=args.activation, instance=inst, budget=args.budget,
                         seed=args.seed, counterexample_dir=args.counterexamples, progress=True)
    wall = time.perf_counter() - t0
    print(format_table(results))
    for r in results:
        if r.counterexample:
            cx = r.counterexample
            where = cx["instance"] if isinstance(cx.get("instance"), str) else "(inline)"
            print(f"\n{r.claim} / {r.activation}: COUNTEREXAMPLE {where}"
                  + (f" pattern {cx['pattern']}" if cx.get("pattern") is not None else ""))
            print(f"  why: {cx.get('why')}")
            rc = cx.get("recheck")
            if isinstance(rc, dict) and "agrees" in rc:
                print(f"  independent re-check agrees: {bool(rc['agrees'])}")
    counts = {s: sum(r.status == s for r in results) for s in ("holds", "fails", "inconclusive")}
    print(f"\n{len(results)} checks: {counts['holds']} hold, {counts['fails']} fail, {counts['inconclusive']} "
          f"inconclusive; budget {args.budget}, seed {args.seed}; wall time {wall:.1f} s")
    write_result(args, {"results": [r.to_dict() for r in results],
                        "provenance": provenance("cpu", wall, budget=args.budget, seed=args.seed)})
    return 0
