"""`sdlscape bench data` and `sdlscape bench evaluate`: a bench's data as files, and a dictionary trained
elsewhere scored against it (registered by commands/bench.py as TABLE = data | evaluate)."""
from __future__ import annotations

import sys
import time

from sdlscape.errors import InputError

OWN = ("data", "evaluate")


def add_arguments(p) -> None:
    g = p.add_argument_group("your own SAE (TABLE=data: write a bench's data; TABLE=evaluate: score a dictionary)")
    g.add_argument("--table", dest="of_table", metavar="T", help="the paper table whose bench is used (table1, table4-7)")
    g.add_argument("--row", type=int, help="row index of --table (default: the first plain row of --method)")
    g.add_argument("--out", metavar="DIR", help="data: the folder to create (must not exist or be empty)")
    g.add_argument("--sae", metavar="PATH", help="evaluate: a SAELens or sparsify folder, a dictionary_learning "
                                                  "ae.pt, or a .safetensors/.npz with W_enc, W_dec, ...")
    g.add_argument("--sae2", metavar="PATH", help="evaluate: a second dictionary; adds PW-MCC between the two")
    g.add_argument("--truth", metavar="DIR", help="evaluate: a folder written by `bench data` (instead of --table)")


def run(args) -> int:
    from sdlscape.storage import provenance, write_json

    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    t0 = time.perf_counter()
    if args.table == "data":
        result = _data(args)
    else:
        result = _evaluate(args)
    result["provenance"] = provenance("cpu", time.perf_counter() - t0)
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _data(args) -> dict:
    from sdlscape.bench.truth import write_bench_data
    from sdlscape.storage import provenance

    if not args.out:
        raise InputError("bench data needs --out DIR")
    if not args.of_table:
        raise InputError("bench data needs --table T (table1, table4, table5, table6 or table7)")
    record = {"made_by": provenance("cpu")}
    info = write_bench_data(args.out, args.of_table, args.scale, args.seed, args.method, args.anchoring, args.row,
                            record)
    s = info["source"]
    print(f"wrote {info['out']}: {args.of_table} row {s['row']} ({s['method']}{', anchored' if s['anchoring'] else ''}) "
          f"at scale {args.scale}, seed {args.seed}: n={info['n']} features, d_in={info['d_in']}, d_out={info['d_out']}, "
          f"{info['n_samples']} training + {info['n_eval']} held-out samples, {info['anchors']} anchors, tau={info['tau']}")
    return {"table": "data", **info}


def _evaluate(args) -> dict:
    from sdlscape.bench.evaluate import evaluate, pw_mcc
    from sdlscape.bench.loaders import load_sae

    if not args.sae:
        raise InputError("bench evaluate needs --sae PATH")
    if bool(args.truth) == bool(args.of_table):
        raise InputError("bench evaluate needs exactly one of --truth DIR and --table T (with --scale)")
    sae = load_sae(args.sae)
    sae2 = load_sae(args.sae2) if args.sae2 else None
    if args.truth:
        from sdlscape.bench.truth import load_truth

        truth = load_truth(args.truth)
    else:
        from sdlscape.bench.truth import truth_from_table

        truth = truth_from_table(args.of_table, args.scale, args.seed, args.method, args.anchoring, args.row)
    from sdlscape.bench.evaluate import check_shapes

    check_shapes(sae, truth)
    row = evaluate(sae, truth)
    extra = {}
    if sae2 is not None:
        extra["compare"] = {"sae2": args.sae2, **pw_mcc(sae, sae2)}
    src = truth.source
    result = {"table": "evaluate", "title": f"your SAE on {src.get('table', 'the bench')} "
                                            f"(scale {src.get('scale', '?')}, row {src.get('row', '?')})",
              "scale": src.get("scale"), "truth": {k: v for k, v in src.items() if k != "settings"},
              "rows": [row], **extra}
    _print(row, extra.get("compare"))
    return result


def _print(row: dict, compare: dict | None) -> None:
    def pct(x):
        return "-" if x is None else f"{100 * x:.2f}%"

    def f3(x):
        return "-" if x is None else f"{x:.3f}"

    s = row["settings"]
    print(f"{row['label']}: {s['n_latents']} latents, d_in={s['d_in']}, d_out={s['d_out']}; "
          f"{s['n']} true features ({s['excluded_anchors']} anchored, excluded); tau={s['tau']}")
    print(f"  encoder M_GT {pct(row['M_GT'])} (paper {pct(row['paper_M_GT'])}), M_IP {f3(row['M_IP'])} "
          f"(paper {f3(row['paper_M_IP'])}); at 0.9: {pct(row['M_GT_at_0.9'])}")
    print(f"  decoder M_GT {pct(row['M_GT_decoder'])}, M_IP {f3(row['M_IP_decoder'])}; at 0.9: "
          f"{pct(row['M_GT_decoder_at_0.9'])}")
    print(f"  MCC dec {f3(row['mcc_decoder'])} enc {f3(row['mcc_encoder'])}; uniqueness {f3(row['uniqueness_decoder'])} "
          f"(alive {f3(row['uniqueness_alive'])}, {row['argmax_collisions']} argmax collisions); dead "
          f"{pct(row['dead_fraction'])}; L0 {row['l0']:.2f}; FVU {f3(row['fvu'])}")
    if compare:
        print(f"  PW-MCC with {compare['sae2']}: decoder {f3(compare['pw_mcc_decoder'])}, encoder "
              f"{f3(compare['pw_mcc_encoder'])} ({compare['pairs']} pairs)")
