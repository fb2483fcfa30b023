"""`sdlscape bench TABLE`: run a paper table on the Linear Representation Bench, ours beside the paper's."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sdlscape.commands import bench_own
from sdlscape.commands._common import check_device_early, check_device_torch, seed_int
from sdlscape.errors import InputError

TABLE_CHOICES = ("table1", "table4", "table5", "table6", "table7", "real", "encoder", "custom", "data", "evaluate",
                 "anchoring")


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="Linear Representation Bench runs and the paper's tables (1, 4-7, real)")
    p.add_argument("table", choices=TABLE_CHOICES, metavar="TABLE",
                   help=f"one of {', '.join(TABLE_CHOICES)} ('encoder': the encoder experiment, bench/encoder.py; "
                        "'custom': one configurable run; 'data' / 'evaluate': your own SAE, commands/bench_own.py)")
    p.add_argument("--scale", choices=("small", "medium", "paper"), default="small")
    p.add_argument("--seeds", type=int, help="training seeds per row (default: the scale's, 3 at small/medium)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--json", metavar="PATH", help="write the result (with provenance) here")
    p.add_argument("--cache", metavar="DIR", help="cache of finished rows (default: <json stem>_cache next to --json)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.add_argument("--source", default="digits", help="real-data source for TABLE=real: digits, minilm or npz:PATH")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a shared machine)")
    p.add_argument("--workers", type=int, default=1,
                   help="paper tables: train the table's distinct (row x seed) jobs in this many local processes")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="paper tables: train them on this Dask distributed scheduler instead (needs pip install "
                        "'sdlscape[dask]'; each worker on its own device); the row cache (--cache) is where the "
                        "results meet, so an interrupted run resumes")
    p.add_argument("--methods", metavar="M[,M...]",
                   help="run only these methods' rows of the table (e.g. topk: Table 1's TopK rows at paper scale)")
    a = p.add_argument_group("anchoring experiment (TABLE=anchoring; bench/anchoring.py)")
    a.add_argument("--variants", metavar="V[,V...]",
                   help="anchoring variants (default: plain and every variant; plain is the paired baseline)")
    a.add_argument("--sizes", metavar="N[,N...]", help="bench sizes n at the paper's ratios, instead of --scale")
    a.add_argument("--reference", metavar="JSON", help="a Table 1 result whose plain / eq. 26 seeds stand in for those variants")
    g = p.add_argument_group("custom run (TABLE=custom; paper units, scaled like the tables)")
    g.add_argument("--method", default="topk", help="relu, jumprelu, topk, batchtopk, matryoshka, gated, transcoder, crosscoder")
    g.add_argument("--anchoring", action="store_true", help="feature anchoring with ground-truth anchors (eq. 26)")
    g.add_argument("--anchors", metavar="NPY", help="anchor encoder rows A_in (n_anchors x d_in) from a .npy file")
    g.add_argument("--n", type=int, help="number of features (paper units)")
    g.add_argument("--p-active", type=float, help="Pr(feature active), in (0, 1] (paper units)")
    g.add_argument("--max-interference", type=float, help="M, in (0, 1)")
    g.add_argument("--k", type=int, help="TopK k")
    g.add_argument("--n-latents", type=int, help="dictionary size (at the chosen scale)")
    g.add_argument("--tau", type=float, default=0.9)
    g.add_argument("--steps", type=int, help="training steps (default: the scale's; also applies to tables)")
    g.add_argument("--export", metavar="DIR", help="save the trained dictionary (SAELens layout) here")
    bench_own.add_arguments(p)
    p.set_defaults(func=run)


def _at_least(args, **least: int) -> None:
    """InputError for the first given option below its least value (options left unset are not checked)."""
    for dest, low in least.items():
        value = getattr(args, dest)
        if value is not None and value < low:
            raise InputError(f"--{dest.replace('_', '-')} must be >= {low}, got {value}")


def _validate(args) -> None:
    """Check every user-supplied number before anything runs or is written (InputError, one line)."""
    if args.p_active is not None and not 0.0 < args.p_active <= 1.0:
        raise InputError(f"--p-active must be in (0, 1], got {args.p_active}")
    if args.max_interference is not None and not 0.0 < args.max_interference < 1.0:
        raise InputError(f"--max-interference must be in (0, 1), got {args.max_interference}")
    _at_least(args, n=1, k=1, n_latents=1)
    check_device_early(args.device)     # the name and the machine, before torch is imported
    _at_least(args, steps=0, seeds=1, threads=1)
    if args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    if (args.workers > 1 or args.scheduler) and args.table in ("real", "encoder", "custom"):
        raise InputError(f"--workers / --scheduler run a paper table's trainings, not {args.table!r}")
    check_device_torch(args.device)     # last: it imports torch for cuda
    if not 0.0 <= args.tau < 1.0:
        raise InputError(f"--tau must be in [0, 1), got {args.tau}")
    args.methods = _methods(args.methods, args.table)


def _methods(text: str | None, table: str) -> tuple[str, ...] | None:
    """--methods as a tuple of registered method names that the table has rows for (InputError otherwise)."""
    if text is None:
        return None
    if table == "anchoring":
        return tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if table in ("real", "encoder", "custom"):
        raise InputError(f"--methods selects rows of a paper table, not of {table!r} (custom takes --method)")
    from sdlscape.bench.methods import method
    from sdlscape.bench.tables import table_rows

    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not names:
        raise InputError("--methods needs at least one method name")
    for name in names:
        method(name)
    present = {r.method for r in table_rows(table)}
    missing = [m for m in names if m not in present]
    if missing:
        raise InputError(f"{table} has no rows for {', '.join(missing)}; its methods are {', '.join(sorted(present))}")
    return names


def _print(result: dict) -> None:
    print(f"{result.get('title', result.get('table'))}  [scale={result.get('scale')}, device={result.get('device')}]")
    if result.get("regime"):
        print(f"regime: {result['regime']}")
    head = (f"{'method':<30} {'FA':<3} {'M_GT':>8} {'M_IP':>7} | {'paper M_GT':>10} {'paper M_IP':>10} | "
            f"{'dec M_GT':>8} {'+-sd':>6} {'MCC':>6} {'enc~rdr':>7} {'L0':>6} {'target':>6}  setting")
    print(head)
    print("-" * len(head))

    def f(x, pct=False):
        if x is None:
            return "-"
        return f"{100 * x:.2f}%" if pct else f"{x:.3f}"

    for r in result.get("rows", []):
        s = r.get("settings", {})
        setting = ", ".join(f"{k}={s[k]}" for k in ("n_paper", "p_active_paper", "M", "k") if k in s)
        print(f"{r.get('label', r.get('method', '?')):<30} {'yes' if r.get('anchoring') else 'no':<3} "
              f"{f(r.get('M_GT'), True):>8} {f(r.get('M_IP')):>7} | "
              f"{f(r.get('paper_M_GT'), True):>10} {f(r.get('paper_M_IP')):>10} | "
              f"{f(r.get('M_GT_decoder'), True):>8} {f(r.get('M_GT_decoder_sd'), True):>6} {f(r.get('mcc_decoder')):>6} "
              f"{f(r.get('M_IP_encoder_vs_reader')):>7} {f(r.get('l0')):>6} {f(r.get('target_l0')):>6}  {setting}")
    print("(ours: M_GT/M_IP on encoder rows, as the paper; 'paper' columns are the paper's reported numbers;\n"
          " dec M_GT: decoder columns; MCC: SAELens-style on decoder; enc~rdr: mean best |cos| of encoder rows\n"
          " with the least-squares readers (W W^T)^+ w_j)")


def run(args) -> int:
    if args.table in bench_own.OWN:
        return bench_own.run(args)
    _validate(args)
    from sdlscape.storage import provenance, write_json

    progress = not args.no_progress
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cache = args.cache
    if cache is None and args.json:
        jp = Path(args.json)
        cache = str(jp.with_name(jp.stem + "_cache"))
    t0 = time.perf_counter()
    if args.table == "real":
        from sdlscape.bench.real import run_real_table

        result = run_real_table(source=args.source, scale=args.scale, device=args.device, seed=args.seed,
                                progress=progress)
        result.setdefault("table", f"real-{args.source}")
        result.setdefault("scale", args.scale)
        result.setdefault("device", args.device)
    elif args.table == "custom":
        result = _custom(args, cache, progress)
    elif args.table == "anchoring":
        from sdlscape.commands._bench_anchoring import run_from_args

        return run_from_args(args, cache, progress)
    elif args.table == "encoder":
        from sdlscape.bench.encoder import run_encoder_experiment

        result = run_encoder_experiment(args.scale, seed=args.seed, device=args.device)
    else:
        from sdlscape.bench.experiments import run_table

        if args.scheduler is not None:
            from sdlscape.solvers.fanout import dask_client

            dask_client(args.scheduler).close()     # unreachable: an input error before anything runs
        result = run_table(args.table, args.scale, args.device, args.seed, cache, progress, steps=args.steps,
                           seeds=args.seeds, methods=args.methods, workers=args.workers, scheduler=args.scheduler)
    seconds = time.perf_counter() - t0
    result["provenance"] = provenance(args.device, seconds)
    if args.table == "encoder":
        from sdlscape.pipeline.sections.encoder import summary

        print(summary(result))
    else:
        _print(result)
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _custom(args, cache, progress) -> dict:
    from sdlscape.bench import experiments as ex

    row = ex.Row(args.method, args.anchoring or bool(args.anchors), args.tau, n=args.n, p_active=args.p_active,
                 M=args.max_interference, k=args.k)
    res = ex.resolve(row, ex.SCALES[args.scale], args.device, args.seed, args.n_latents, args.steps)
    if args.anchors is None and args.export is None:
        return ex.run_custom(args.method, args.scale, args.device, args.seed, row.anchoring, args.tau, args.n,
                             args.p_active, args.max_interference, args.k, args.n_latents, cache, progress,
                             steps=args.steps)
    anchors = None
    if args.anchors:
        from sdlscape.solvers.gradient import check_anchors

        try:
            A_in = np.load(args.anchors)
        except (OSError, ValueError) as exc:
            raise InputError(f"--anchors {args.anchors}: cannot read a .npy array ({exc})") from None
        if not isinstance(A_in, np.ndarray) or A_in.dtype.kind not in "fiu":
            raise InputError(f"--anchors {args.anchors}: not a numeric .npy array (an .npz archive or other data)")
        bench = res.bench
        d_in = bench.n_p * (bench.n_sources if bench.kind == "crosscoder" else 1)
        d_out = (bench.n_r or bench.n_p) if bench.kind == "transcoder" else d_in
        if A_in.ndim != 2 or A_in.shape[1] != d_in:
            raise InputError(f"--anchors must be n_anchors x d_in={d_in}, got shape {A_in.shape}")
        A_out = A_in.T if d_out == d_in else None
        if A_out is None:
            raise InputError("--anchors from a file needs an SAE or crosscoder (d_out = d_in)")
        anchors = check_anchors((A_in, A_out), d_in, d_out, res.train.n_latents)
    t0 = time.perf_counter()
    measured = ex.train_and_measure(res, progress=progress, anchors=anchors, return_model=bool(args.export))
    model = measured.pop("_model", None)
    out = {"table": "custom", "title": f"custom run: {args.method}", "scale": args.scale, "device": args.device,
           "seed": args.seed, "rows": [ex.summarize(row, res, measured)], "conventions": ex.conventions(args.scale),
           "seconds": time.perf_counter() - t0}
    if args.export:
        from sdlscape.bench.export import export_saelens

        out["export"] = export_saelens(model, args.export, {"bench": res.settings, "seed": args.seed})
    return out
