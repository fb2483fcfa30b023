"""`sdlscape figures --out DIR [--from RESULTS]`: draw the report's figures, or redraw them from saved results."""
from __future__ import annotations

from pathlib import Path

from sdlscape.commands._common import check_output_dir, seed_int
from sdlscape.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("figures", help="draw the figures (from saved results with --from, without recomputing)",
                       description="Draw the report's figures as PNG and PDF files. With --from, redraw them from "
                                   "a reproduce output folder (or its report.json) without recomputing anything; "
                                   "without it, compute the small landscapes and theory figures first.")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the PNG and PDF files (default with --from: RESULTS/figures)")
    p.add_argument("--from", dest="source", metavar="RESULTS",
                   help="a reproduce output folder or its report.json: redraw from it without recomputing")
    p.add_argument("--report", action="store_true",
                   help="with --from a reproduce folder: also write its report.md and report.html again from "
                        "report.json (text and figures follow the code; no result is recomputed)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--json", metavar="PATH", help="write the list of figure files here")
    p.set_defaults(func=run)


FIGURE_KEYS = ("fig4", "landscapes", "crosscheck", "bench", "encoder", "bench3d", "thm31", "real")


def run(args) -> int:
    from sdlscape.pipeline.report import draw_figures
    from sdlscape.storage import read_json, write_json

    if args.report:
        if not args.source or not Path(args.source).is_dir() or not (Path(args.source) / "report.json").is_file():
            raise InputError("--report needs --from DIR, a reproduce output folder holding report.json")
        if args.out is not None:
            raise InputError("--report redraws into DIR/figures: leave out --out")
        from sdlscape.pipeline.report import rebuild

        report = rebuild(Path(args.source))
        for name, paths in report["figures"].items():
            print(f"{name}: " + ", ".join(paths))
        print(f"wrote {Path(args.source) / 'report.md'} and report.html")
        return 0
    if args.out is None and not args.source:
        raise InputError("give --out DIR (where the figures go), or --from RESULTS to redraw a reproduce run's")
    if args.source:
        src = Path(args.source)
        src = src / "report.json" if src.is_dir() else src
        if args.out is None:
            args.out = str(src.parent / "figures")
            check_output_dir(args.out)
        if not src.is_file():
            raise InputError(f"no results at {str(src)!r}: give a reproduce folder or its report.json")
        try:
            report = read_json(src)
        except ValueError as exc:
            raise InputError(f"cannot read {str(src)!r}: {exc}") from None
        if not isinstance(report, dict) or not any(report.get(k) for k in FIGURE_KEYS):
            raise InputError(f"{str(src)!r} is not a reproduce report: it holds none of "
                             f"{', '.join(FIGURE_KEYS)}, so no figure would be drawn")
        report.pop("figures", None)
    else:
        # Without saved results: the figures that need no training (theory, landscapes, a 3-D bench).
        from sdlscape.pipeline.reproduce import reproduce

        report = reproduce(Path(args.out) / "_run", scale="small", seed=args.seed, progress=False,
                           only=("landscape",))
        report.pop("figures", None)
    figures = draw_figures(report, Path(args.out))
    for name, paths in figures.items():
        print(f"{name}: " + ", ".join(str(p) for p in paths))
    if args.json:
        write_json(args.json, {k: [str(p) for p in v] for k, v in figures.items()})
    return 0
