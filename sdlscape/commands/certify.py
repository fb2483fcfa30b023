"""`sdlscape certify INSTANCE`: certified global minimum of L~ (eq. 11), or the certified infimum of one piece."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sdlscape import numerics
from sdlscape.commands._common import (
    add_instance_argument,
    add_json_argument,
    load_instance_arg,
    parse_pattern_arg,
    positive_float,
    positive_int,
)
from sdlscape.errors import InputError
from sdlscape.theory.piece import Piece


def _rtol(text: str) -> float:
    v = positive_float(text)
    if v >= 1:
        raise argparse.ArgumentTypeError(f"rtol must be < 1, got {v}")
    return v


DESCRIPTION = """\
Variable projection eliminates W_D exactly; each piece is reduced to its normalised cell polytopes and solved by
spatial branch and bound with perturbation and subspace bounds; the final comparison is done in interval
arithmetic. Values are infima over the open regions (boundary limits included), reported at an interior point.
relu, jumprelu, topk_relu; n_p <= 3. Plain topk: a passing-set relaxation (exact for k = 1 where its optimiser is
realised; a lower bound for k >= 2), any n_p."""


def register(sub) -> None:
    p = sub.add_parser("certify", help="certified global minimum of L~ (or of one piece) by branch and bound",
                       description=DESCRIPTION)
    add_instance_argument(p)
    p.add_argument("--pattern", metavar="JSON", help="certify this one piece (JSON list of lists, or a file)")
    p.add_argument("--rtol", type=_rtol, default=1e-7, help="relative gap at which a value is certified (default 1e-7)")
    p.add_argument("--node-limit", type=positive_int, default=50_000,
                   help="branch-and-bound nodes per piece (default 50000): the budget, the same on any machine")
    p.add_argument("--time-limit", type=positive_float, default=3600.0,
                   help="wall-clock safety stop per piece in seconds (default 3600; status time_limit)")
    p.add_argument("--workers", type=positive_int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask distributed scheduler address")
    p.add_argument("--eps", type=positive_float, default=1e-3,
                   help="margin of the interior point reported as minimiser (default 1e-3)")
    p.add_argument("--max-pieces", type=positive_int, default=2000,
                   help="refuse an instance with more pieces than this (default 2000)")
    p.add_argument("--incumbent-starts", type=int, default=16, metavar="N",
                   help="L-BFGS starts of the first incumbent in global mode (default 16; 0: none)")
    p.add_argument("--all-pieces", action="store_true",
                   help="certify every piece even when the multistart's value already meets the trivial bound "
                        "L~ >= 0 (by default such a zero-loss instance is certified without enumerating pieces)")
    p.add_argument("--no-resume", action="store_true", help="ignore a checkpoint left by an earlier run")
    p.add_argument("--certificate", metavar="FILE",
                   help="write every closed node with its parametrisation and bound here "
                        "(verify with `sdlscape check-certificate FILE`)")
    add_json_argument(p)
    p.set_defaults(func=run)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.10g}"


def run(args) -> int:
    from sdlscape.solvers.certify import certify_global, certify_piece
    from sdlscape.storage import provenance, write_json

    inst = load_instance_arg(args.instance, args.normalize)
    if args.incumbent_starts < 0:
        raise InputError(f"--incumbent-starts must be >= 0, got {args.incumbent_starts}")
    if args.scheduler is not None:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise InputError("--scheduler needs Dask distributed: pip install 'sdlscape[dask]'") from None
    t0 = time.perf_counter()
    if args.pattern is not None:
        pat = parse_pattern_arg(args.pattern, inst)
        piece = Piece(inst, pat, args.eps, inst.activation.linear_reading)
        if not piece.realizable:     # a finding about the pattern, not bad input: exit 0 (as `piece`)
            rz = piece.realizability
            verdict = "NOT realizable" if rz.certificate is not None else "UNDECIDED"
            print(f"pattern {pat}: {verdict} with margin eps = {args.eps:g} ({rz.detail}); no piece to certify")
            out = {"instance": inst.to_dict(), "mode": "piece", "pattern": pat.to_json(), "realizable": False,
                   "realizability": verdict, "certified": False, "value": None, "lower_bound": None,
                   "pieces": [], "seconds": time.perf_counter() - t0}
        else:
            c = certify_piece(piece, rtol=args.rtol, time_limit=args.time_limit, node_limit=args.node_limit,
                              record=args.certificate is not None)
            out = {"instance": inst.to_dict(), "mode": "piece", "value": c.value, "lower_bound": c.lower_bound,
                   "certified": c.certified, "rtol": c.rtol, "minimiser": c.to_dict()["minimiser"],
                   "pieces": [c.to_dict()], "seconds": time.perf_counter() - t0}
            print(f"piece {json.dumps(pat.to_json(), separators=(',', ':'))}: value {_fmt(c.value)}, lower bound "
                  f"{_fmt(c.lower_bound)}, {c.status}" + (f" ({c.reason})" if c.reason else "")
                  + (f"; infimum on the boundary (face {list(c.boundary_face)})" if c.infimum_on_boundary else "")
                  + f"; {c.nodes} nodes, {c.seconds:.2f} s")
    else:
        ck = None
        if args.json:
            ck = Path(args.json).with_name(Path(args.json).name + ".checkpoint.json")
            if args.no_resume and ck.exists():
                ck.unlink()

        def progress(done: int, total: int, c) -> None:
            print(f"[{done}/{total}] {json.dumps(c.pattern.to_json(), separators=(',', ':'))}: {c.status}"
                  f" value {_fmt(c.value)} lower {_fmt(c.lower_bound)}", file=sys.stderr, flush=True)

        g = certify_global(inst, rtol=args.rtol, time_limit=args.time_limit, node_limit=args.node_limit,
                           workers=args.workers, record=args.certificate is not None,
                           scheduler=args.scheduler, eps=args.eps, checkpoint=ck, progress=progress,
                           max_pieces=args.max_pieces, incumbent_starts=args.incumbent_starts,
                           zero_shortcut=not args.all_pieces)
        out = {"instance": inst.to_dict(), **g.to_dict()}
        out["seconds"] = time.perf_counter() - t0
        d = g.detail
        if "trivial_bound" in d:
            print(f"instance {inst.name or args.instance}: {d['trivial_bound']} "
                  f"({d['incumbent']['starts']} L-BFGS starts)")
        else:
            print(f"instance {inst.name or args.instance}: {d['pieces']} pieces ({d['certified_pieces']} certified, "
                  f"{d['pruned']} pruned against the incumbent)")
        print(f"global minimum {_fmt(g.value)}, lower bound {_fmt(g.lower_bound)}: "
              + ("certified" if g.certified else "NOT certified") + f" at rtol {args.rtol:g}"
              + ("" if g.minimiser is None else
                 f"; minimiser pattern {json.dumps(g.minimiser.pattern.to_json(), separators=(',', ':'))}"))
        open_reasons = {r: n for r, n in d.get("reasons", {}).items() if r != "cutoff"}
        if open_reasons:
            print("not closed: " + ", ".join(f"{n} piece(s) {r}" for r, n in sorted(open_reasons.items()))
                  + f" (activation reduction: {d['reduction']})")
        print(f"what is certified: {d['certifies']}")
        if ck is not None and ck.exists():
            ck.unlink()
    out["provenance"] = provenance("cpu", time.perf_counter() - t0)
    records = [p.pop("record", None) for p in out["pieces"]]
    if args.certificate:
        from sdlscape.certcheck import FORMAT

        cert = {"format": FORMAT, **out, "pieces": [{**p, "record": r} for p, r in zip(out["pieces"], records)]}
        cert["atol"] = out.get("atol", numerics.CERTIFY_ATOL)
        if str(args.certificate).endswith(".gz"):     # what check-certificate reads back as gzip
            import gzip

            from sdlscape.storage import to_jsonable, write_bytes

            text = json.dumps(to_jsonable(cert), indent=2, allow_nan=False) + "\n"
            write_bytes(args.certificate, gzip.compress(text.encode(), mtime=0))
        else:
            write_json(args.certificate, cert)
        print(f"certificate: {args.certificate} ({sum(len(r['leaves']) for r in records if r)} leaves); "
              f"check it with `sdlscape check-certificate {args.certificate}`")
    if args.json:
        write_json(args.json, out)
    return 0
