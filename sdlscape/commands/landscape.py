"""`sdlscape landscape INSTANCE`: every activation-pattern piece of a small instance, solved and classified."""
from __future__ import annotations

import csv
import io
import json
import time

from sdlscape.commands._common import (
    add_instance_argument,
    add_json_argument,
    load_instance_arg,
    positive_float,
    positive_int,
    seed_int,
)

DESCRIPTION = """\
Enumerate the realizable activation patterns (cells of the hyperplane arrangement; joint orderings for TopK),
solve each piece by alternating convex search from several starts, and classify it: global, spurious partial
minimum, leaves its region, or inconclusive. Piece values are ACS upper bounds, reported beside a lower bound
and the gap."""


def register(sub) -> None:
    p = sub.add_parser("landscape", help="enumerate, solve (ACS) and classify every piece of a small instance",
                       description=DESCRIPTION)
    add_instance_argument(p)
    p.add_argument("--starts", type=positive_int, default=4, help="ACS starts per piece (default 4)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the random starts (default 0)")
    p.add_argument("--eps", type=positive_float, default=1e-3, help="margin of strict inequalities (default 1e-3)")
    p.add_argument("--workers", type=positive_int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask distributed scheduler address (needs pip install 'sdlscape[dask]')")
    p.add_argument("--max-pieces", type=positive_int, default=2000,
                   help="refuse instances with more pieces than this, before solving (default 2000)")
    p.add_argument("--max-iter", type=positive_int, default=500, help="ACS iterations per start (default 500)")
    p.add_argument("--tol", type=positive_float, default=1e-6, help="loss tolerance of the classes (default 1e-6)")
    p.add_argument("--csv", metavar="PATH", help="also write the table of pieces as CSV")
    p.add_argument("--no-resume", action="store_true", help="ignore a checkpoint left by an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_json_argument(p)
    p.set_defaults(func=run)


CSV_FIELDS = ("pattern", "multiplicity", "class", "loss", "upper_bound", "lower_bound", "gap", "certified",
              "polysemantic", "dead_latents", "absorptions", "encoder_recovery", "decoder_recovery", "toward",
              "reason")


def csv_text(pieces: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for p in pieces:
        rec = p.get("recovery") or {}
        w.writerow([json.dumps(p["pattern"]), p["multiplicity"], p["class"], p["loss"], p["upper_bound"],
                    p["lower_bound"], p["gap"], p["certified"], p["polysemantic"], len(p["dead_latents"]),
                    len(p["absorptions"]), rec.get("encoder_mean"), rec.get("decoder_mean"),
                    json.dumps(p["toward"]), p["reason"]])
    return buf.getvalue()


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.6g}"


def run(args) -> int:
    from sdlscape.solvers.landscape import checkpoint_path, map_landscape
    from sdlscape.solvers.piece_bounds import check_enumerable
    from sdlscape.storage import provenance, write_json, write_text

    inst = load_instance_arg(args.instance, args.normalize)
    check_enumerable(inst, args.max_pieces, args.eps)        # closed-form bounds, before any enumeration
    ck = checkpoint_path(args.json) if args.json else None
    if ck is not None and args.no_resume and ck.exists():
        ck.unlink()

    def announce(pc) -> None:
        print(f"instance {inst.name}: n = {inst.n}, n_p = {inst.n_p}, n_latents = {inst.n_latents}, "
              f"activation {inst.activation}; {pc.cells_per_latent} cells per latent, {pc.n_pieces} pieces "
              f"({pc.lp_calls} LP calls, {pc.seconds:.2f} s to enumerate)", flush=True)

    t0 = time.perf_counter()
    res = map_landscape(inst, starts=args.starts, seed=args.seed, eps=args.eps, workers=args.workers,
                        scheduler=args.scheduler, max_pieces=args.max_pieces, checkpoint=ck,
                        progress=not args.no_progress, tol=args.tol, on_count=announce,
                        max_iter=args.max_iter)
    res.provenance = provenance("cpu", time.perf_counter() - t0)
    s = res.summary
    print(f"{'class':<14}{'loss':>12}{'lower':>12}{'mult':>6}  pattern")
    for p in res.pieces:
        print(f"{p['class']:<14}{_fmt(p['loss']):>12}{_fmt(p['lower_bound']):>12}{p['multiplicity']:>6}  "
              f"{json.dumps(p['pattern'], separators=(',', ':'))}"
              + (f"  -> {json.dumps(p['toward'], separators=(',', ':'))}" if p["toward"] else ""))
    print("counts: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items())
          + " (labelled patterns: " + ", ".join(f"{k} {v}" for k, v in s["counts_weighted"].items()) + ")")
    if s["counts"]["spurious"]:
        print(f"spurious partial minima: {s['spurious_polysemantic']} polysemantic; joint Hessian "
              + ", ".join(f"{k} {v}" for k, v in sorted(s["spurious_by_hessian"].items())))
    print(f"global value {_fmt(s['global_value'])} ("
          + ("certified: equals the least piece lower bound" if s["global_certified"] else
             f"upper bound only; least piece lower bound {_fmt(s['global_lower_bound'])}") + ")")
    print(f"{s['certified_pieces']} piece minima certified (gap <= {s['tolerance']:g}); "
          f"{s['upper_bound_only']} are ACS upper bounds only")
    if s["best_recovery"]:
        b = s["best_recovery"]
        print(f"best recovery among global pieces: encoder mean |cos| {b['encoder_mean']:.4f}, "
              f"decoder {b['decoder_mean']:.4f} (pattern {json.dumps(b['pattern'], separators=(',', ':'))})")
    if s["resumed_pieces"]:
        print(f"resumed {s['resumed_pieces']} pieces from {ck}")
    if args.json:
        write_json(args.json, res.to_dict())
    if args.csv:
        write_text(args.csv, csv_text(res.pieces))
    if ck is not None and args.json and ck.exists():   # the result is written: its checkpoint is spent
        ck.unlink()
    return 0
