"""`sdlscape realizable INSTANCE --pattern JSON`: is an activation pattern realizable? Witness or certificate."""
from __future__ import annotations

from sdlscape.commands._common import (
    add_eps_argument,
    add_instance_argument,
    add_json_argument,
    add_pattern_argument,
    add_reading_argument,
    describe_instance,
    fmt_matrix,
    load_instance_arg,
    make_piece,
    parse_pattern_arg,
    write_result,
)

DESCRIPTION = """\
Decide by linear programming whether some encoder W_E produces the pattern; print a witness W_E or a Farkas
certificate of infeasibility."""


def register(sub) -> None:
    p = sub.add_parser("realizable", help="decide whether an activation pattern is realizable (LP)",
                       description=DESCRIPTION)
    add_instance_argument(p)
    add_pattern_argument(p)
    add_eps_argument(p)
    add_reading_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    inst = load_instance_arg(args.instance, args.normalize)
    pattern = parse_pattern_arg(args.pattern, inst)
    piece = make_piece(inst, pattern, args.eps, args.reading)
    res = piece.realizability
    out = {"instance": inst.name, "activation": inst.activation.to_dict(), "pattern": pattern.to_json(),
           "polysemantic": pattern.polysemantic, "partition": pattern.is_partition,
           "dead_latents": list(pattern.dead_latents), "reading": piece.reading.value, **res.to_dict()}
    print(describe_instance(inst))
    print(f"pattern {pattern}: ", end="")
    if res.realizable:
        print(f"REALIZABLE (largest margin t* = {res.margin:.3g}, witness checked in exact rationals"
              + (f"; thinner than the solvers' eps = {res.eps:g}" if res.thin else "")
              + f"); witness W_E =\n{fmt_matrix(res.witness)}")
    elif res.certificate is not None:
        y = res.certificate
        print(f"NOT realizable (no margin: the strict system itself); Motzkin certificate y >= 0 with G^T y = 0, "
              f"h^T y <= 0, on a strict row or h^T y < 0, checked in exact rationals, on {int((y > 1e-12).sum())} "
              f"of {y.size} constraints" + (" (--json: farkas_y_exact, the rationals checked)" if args.json else ""))
    else:
        print(f"UNDECIDED ({res.reason}): {res.detail}")
    write_result(args, out)
    return 0
