"""`sdlscape piece INSTANCE --pattern JSON`: one activation-pattern piece solved by alternating convex search.

Realizability first (LP), then ACS with exact CVXPY blocks from N starts in the region; each start
ends as a certified partial optimum, as leaving the region (which row it presses, toward which
pattern), or inconclusive.
"""
from __future__ import annotations

import time

from sdlscape.commands._common import (
    add_eps_argument,
    add_instance_argument,
    add_json_argument,
    add_pattern_argument,
    add_reading_argument,
    add_seed_argument,
    describe_instance,
    fmt_matrix,
    load_instance_arg,
    make_piece,
    parse_pattern_arg,
    positive_int,
    write_result,
)
from sdlscape.outcomes import Outcome

DESCRIPTION = """\
Decide whether the pattern is realizable, then run alternating convex search (exact CVXPY blocks) from several
starts inside its region: a certified partial optimum, a move out of the region, or inconclusive."""


def register(sub) -> None:
    p = sub.add_parser("piece", help="solve one activation-pattern piece by alternating convex search",
                       description=DESCRIPTION)
    add_instance_argument(p)
    add_pattern_argument(p)
    p.add_argument("--starts", type=positive_int, default=4, help="ACS starts: the LP witness + random (default 4)")
    add_seed_argument(p, "the random starts")
    add_eps_argument(p)
    add_reading_argument(p)
    p.add_argument("--solver", default="CLARABEL", type=str.upper, choices=("CLARABEL", "OSQP"),
                   help="QP solver of the encoder block (default CLARABEL)")
    p.add_argument("--max-iter", type=positive_int, default=500, help="ACS iteration budget per start (default 500)")
    add_json_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sdlscape.solvers.acs import solve_piece
    from sdlscape.storage import provenance

    inst = load_instance_arg(args.instance, args.normalize)
    pattern = parse_pattern_arg(args.pattern, inst)
    t0 = time.perf_counter()
    res = solve_piece(make_piece(inst, pattern, args.eps, args.reading), starts=args.starts, seed=args.seed,
                      solver=args.solver,
                      max_iter=args.max_iter)
    seconds = time.perf_counter() - t0
    if not res.realizable:          # a finding about the pattern, not bad input: exit 0, "realizable": false
        rz = res.realizability
        why = ("a Motzkin certificate of the strict system, checked in exact rationals" if rz.certificate is not None
               else f"the LPs were not conclusive: {rz.detail}")
        verdict = "NOT realizable" if rz.certificate is not None else "UNDECIDED"
        print(describe_instance(inst))
        print(f"pattern {pattern}: {verdict} ({why}; no margin involved); no piece to solve "
              "(see `sdlscape realizable` for the certificate)")
        write_result(args, {"instance": inst.name, "activation": inst.activation.to_dict(), **res.to_dict(),
                            "solver": args.solver, "max_iter": args.max_iter,
                            "provenance": provenance("cpu", seconds)})
        return 0
    print(describe_instance(inst))
    print(f"pattern {pattern}: realizable (eps = {args.eps:g}); ACS from {args.starts} start(s), "
          f"solver {args.solver}, seed {args.seed}")
    for k, s in enumerate(res.starts):
        loss = "n/a" if s.loss is None else f"{s.loss:.10g}"
        extra = ""
        if s.outcome is Outcome.PARTIAL_OPTIMUM:
            c = s.certificate
            extra = f" gaps dec {c.decoder_gap:.2g} enc {c.encoder_gap:.2g}"
            if s.hessian:
                extra += f"; joint Hessian: {s.hessian['classification']}"
        elif s.outcome is Outcome.LEAVES_REGION and s.pressing:
            p = s.pressing[0]
            extra = f" presses '{p.describe}' (multiplier {p.multiplier:.3g}) toward {s.toward}"
        else:
            extra = f" ({s.reason})"
        print(f"  start {k}: {s.outcome.value:15s} L~ = {loss} after {s.iterations} iterations;{extra}")
    best = res.best
    print(f"piece outcome: {res.outcome}; best loss: "
          f"{'n/a' if res.best_loss is None else f'{res.best_loss:.10g}'}")
    if best is not None and best.W_E is not None:
        print(f"best W_E =\n{fmt_matrix(best.W_E)}\nbest W_D =\n{fmt_matrix(best.W_D)}")
    out = {"instance": inst.name, "activation": inst.activation.to_dict(), **res.to_dict(),
           "solver": args.solver, "max_iter": args.max_iter,
           "provenance": provenance("cpu", seconds)}
    write_result(args, out)
    return 0
