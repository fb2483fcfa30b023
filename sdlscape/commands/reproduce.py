"""`sdlscape reproduce --out DIR`: every verdict, landscape, cross-check and table, in one report."""
from __future__ import annotations

from sdlscape.commands._common import seed_int

DESCRIPTION = """\
Run the claim checks, the landscapes of canonical instances, the cross-check, the bench tables and the
real-representation table; write DIR/report.md, DIR/report.html, DIR/report.json and DIR/figures/. Finished
stages are cached in DIR/cache, so a rerun or a run after an interruption redoes nothing finished."""


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="run everything at a scale and write DIR/report.md, .html, .json, figures",
                       description=DESCRIPTION)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--scale", choices=("small", "paper"), default="small")
    p.add_argument("--device", default="cpu", help="cpu or cuda (torch stages)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--only", action="append", choices=("verify", "landscape", "crosscheck", "bench", "real"),
                   help="run only these stages (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or progress lines")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="train the bench tables on this Dask distributed scheduler (needs pip install "
                        "'sdlscape[dask]'; each worker on its own device); the row cache in DIR/cache is where "
                        "the results meet, so an interrupted run resumes")
    p.add_argument("--json", metavar="PATH", help="also write report.json here")
    p.set_defaults(func=run)


def run(args) -> int:
    from sdlscape.pipeline.reproduce import reproduce
    from sdlscape.storage import write_json

    report = reproduce(args.out, scale=args.scale, device=args.device, seed=args.seed,
                       progress=not args.no_progress, only=tuple(args.only) if args.only else None,
                       scheduler=args.scheduler)
    if args.json:
        write_json(args.json, report)
    print(open(f"{args.out}/report.md").read())
    print(f"wrote {args.out}/report.md, report.html, report.json and {len(report['figures'])} figures "
          f"in {report['provenance']['seconds']:.0f} s")
    return 0
