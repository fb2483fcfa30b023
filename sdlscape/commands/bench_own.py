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
    g.add_argument("--synth", metavar="PRESET|JSON", help="SynthSAEBench ground truth instead of --table: a preset "
                                                           "(small, medium) or a SyntheticModelConfig JSON file")
    g.add_argument("--diagnose", action="store_true", help="evaluate: add the theory's diagnostics (pattern, block "
                                                              "gaps, ACS; certified minima on small instances)")
    g.add_argument("--samples", type=int, default=100_000, help="data --synth: training samples (default 100000)")


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
    if bool(args.of_table) == bool(args.synth):
        raise InputError("bench data needs exactly one of --table T (table1, table4-7) and --synth PRESET|JSON")
    record = {"made_by": provenance("cpu")}
    if args.synth:
        from sdlscape.bench.synth import write_synth_data

        info = write_synth_data(args.out, args.synth, args.samples, seed=args.seed, record=record)
        what = f"SynthSAEBench {args.synth} ({info['hierarchy_parents']} parents)"
    else:
        info = write_bench_data(args.out, args.of_table, args.scale, args.seed, args.method, args.anchoring, args.row,
                                record)
        s = info["source"]
        what = (f"{args.of_table} row {s['row']} ({s['method']}{', anchored' if s['anchoring'] else ''}) "
                f"at scale {args.scale}")
    m = info["source"]["interference"]
    print(f"wrote {info['out']}: {what}, seed {args.seed}: n={info['n']} features, d_in={info['d_in']}, "
          f"d_out={info['d_out']}, {info['n_samples']} training + {info['n_eval']} held-out samples, "
          f"{info['anchors']} anchors, tau={info['tau']}; max interference M = {m['M']:.4f} (max |cos| {m['M_abs']:.4f})")
    return {"table": "data", **info}


def _evaluate(args) -> dict:
    from sdlscape.bench.evaluate import evaluate, pw_mcc
    from sdlscape.bench.loaders import load_sae

    if not args.sae:
        raise InputError("bench evaluate needs --sae PATH")
    if (bool(args.truth) + bool(args.of_table) + bool(args.synth)) != 1:
        raise InputError("bench evaluate needs exactly one of --truth DIR, --table T (with --scale) and --synth PRESET")
    sae = load_sae(args.sae)
    sae2 = load_sae(args.sae2) if args.sae2 else None
    if args.truth:
        from sdlscape.bench.truth import load_truth

        truth = load_truth(args.truth)
    elif args.synth:
        from sdlscape.bench.synth import synth_truth

        truth = synth_truth(args.synth, 0, seed=args.seed)[0]
    else:
        from sdlscape.bench.truth import resolved_row, truth_from_table

        b = resolved_row(args.of_table, args.scale, args.seed, args.method, args.anchoring, args.row)[2].bench
        d_in = b.n_p * (b.n_sources if b.kind == "crosscoder" else 1)
        d_out = (b.n_r or b.n_p) if b.kind == "transcoder" else d_in
        if (sae.d_in, sae.d_out) != (d_in, d_out):     # before the bench is built (a minute at paper scale)
            raise InputError(f"the dictionary reads d_in={sae.d_in} and writes d_out={sae.d_out} "
                             f"({sae.info.get('orientation', 'its own layout')}), but {args.of_table} at scale "
                             f"{args.scale} has d_in={d_in}, d_out={d_out}")
        truth = truth_from_table(args.of_table, args.scale, args.seed, args.method, args.anchoring, args.row)
    from sdlscape.bench.evaluate import check_shapes

    check_shapes(sae, truth)
    row = evaluate(sae, truth)
    if args.diagnose:
        from sdlscape.bench.diagnostics import diagnose

        row["diagnostics"] = diagnose(sae, truth)
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
    dg = row.get("diagnostics")
    if dg and dg.get("applicable"):
        pt = dg["pattern"]
        print(f"  theory (Def. 3.1 pattern): {pt['dead']} dead, {pt['polysemantic']} polysemantic latents; L~ {dg['loss']:.4g}, "
              f"decoder gap {dg['decoder_gap']:.4g}, encoder gap {f3(dg.get('encoder_gap'))}; after ACS "
              f"{f3((dg.get('acs') or {}).get('loss'))}")
    elif dg:
        print(f"  theory diagnostics not applicable: {dg['why']}")
    ab = row.get("absorption")
    if ab:
        sm = ab["summary"]
        print(f"  absorption ({sm['pairs']} parent/child pairs, {sm['parents']} parents): parent fires given child "
              f"{f3(sm['parent_fires_mean'])}, absorbed {f3(sm['absorbed_mean'])} ({sm['absorbed_pairs']} pairs > 0.5), "
              f"split parents {sm['split_parents']}, unrepresented parents {sm['unrepresented_parents']}")
    if compare:
        print(f"  PW-MCC with {compare['sae2']}: decoder {f3(compare['pw_mcc_decoder'])}, encoder "
              f"{f3(compare['pw_mcc_encoder'])} ({compare['pairs']} pairs)")
