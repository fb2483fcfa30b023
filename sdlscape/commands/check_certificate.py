"""`sdlscape check-certificate FILE`: re-verify a certificate file with the independent checker (certcheck)."""
from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

from sdlscape.errors import InputError

DESCRIPTION = """\
Replays every leaf of every piece, checks that the leaves cover the pieces, that every cell is inside its
region and maximal, and (global certificates) that every activation pattern whose region has interior has a
piece (decided in exact rationals from the instance alone); re-evaluates each leaf's bound in interval
arithmetic and the value at the minimiser in mpmath.iv; imports none of the branch-and-bound code.
Exit 0: valid; 3: invalid (the failing leaves or missing patterns are printed)."""


def register(sub) -> None:
    p = sub.add_parser("check-certificate", help="re-verify a certificate written by `certify --certificate`",
                       description=DESCRIPTION)
    p.add_argument("file", metavar="FILE", help="certificate file (JSON, or JSON.gz)")
    p.add_argument("--json", metavar="PATH", help="write the verdict here")
    p.set_defaults(func=run)


def run(args) -> int:
    from sdlscape.certcheck import check
    from sdlscape.storage import provenance, write_json

    path = Path(args.file)
    try:
        if path.suffix == ".gz":
            cert = json.loads(gzip.decompress(path.read_bytes()).decode())
        else:
            cert = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"certificate file {args.file} does not exist") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"certificate file {args.file} is not readable JSON: {exc}") from None
    if not isinstance(cert, dict) or "pieces" not in cert or "instance" not in cert:
        raise InputError(f"{args.file} is not a certificate file (no 'instance' / 'pieces')")
    t0 = time.perf_counter()
    v = check(cert)
    print(f"{args.file}: " + ("VALID" if v.valid else "INVALID") + f" ({v.pieces} pieces, {v.leaves} leaves checked, "
          f"{v.refined} closed by the checker's refinement in {v.refine_nodes} nodes)")
    for f in v.failures[:20]:
        print(f"  fails: {f}")
    for n in v.notes[:5]:
        print(f"  note: {n}")
    if args.json:
        write_json(args.json, {**v.to_dict(), "provenance": provenance("cpu", time.perf_counter() - t0)})
    return 0 if v.valid else 3
