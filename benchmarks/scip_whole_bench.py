"""Benchmark: our certified global minimum against SCIP on the WHOLE problem (benchmarks/scip_whole.py).

Not a test. `python benchmarks/scip_whole_bench.py [--cap 2400] [--factor 100] [--only NAME ...] --json PATH`
(also `python benchmarks/bench_certify.py --whole ...`). Per instance, smallest first: our certifier three
times (certify_global, node budget per piece; CPU seconds, time.process_time), then SCIP on the whole problem
with the CPU-time limit T = factor x the largest of those three (so a SCIP time-out proves SCIP / ours >= factor
against the median), then ours once more (the median is over all our runs, <= that largest). Where SCIP closes
within T it is run twice more, each after one more run of ours (ours, SCIP, ours, SCIP, ...: >= 3 rounds).
SCIP runs single-threaded with timing/clocktype = CPU, so its solving time and time limit are CPU seconds like
ours (wall seconds recorded beside them). An instance whose T exceeds what is left of the cap (total SCIP CPU
seconds) is skipped and recorded as such. The JSON is rewritten after every instance.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def instances() -> list[tuple[str, object]]:
    """The frontier instances (results/landscape/README.md) and issue 28's kinds, smallest n first."""
    from sdlscape.theory.activations import TopK
    from sdlscape.theory.instance import load_instance, random_unit, transcoder_pair

    issue = _load("bench_certify").issue_instances()
    hand = HERE.parent / "results/landscape/issue28/topk1_n4_hand.instance.json"
    out = [("relu n4 n_p2 q2 s0", random_unit(4, 2, "relu", n_latents=2, seed=0)),
           ("relu n4 n_p3 q2 s0", random_unit(4, 3, "relu", n_latents=2, seed=0)),
           ("relu n4 n_p2 q3 s0 (zero loss)", random_unit(4, 2, "relu", n_latents=3, seed=0)),
           ("topk1 n4 q2 s0", random_unit(4, 2, TopK(1), n_latents=2, seed=0)),
           ("topk1 n4 hand", load_instance(hand)),
           ("relu n4 antipodal pair", issue["relu_n4 antipodal pair"]),
           ("transcoder n4 n_r3 q2 s0 (nested)", issue["transcoder_n4_nr3_s0 (nested)"]),
           ("transcoder n4 n_r3 q3 s0", transcoder_pair(4, 2, 3, "relu", n_latents=3, seed=0)),
           ("relu n5 n_p2 q2 s0 (nested)", issue["relu_n5_q2_s0 (nested)"]),
           ("relu n5 features 1e-7 rad apart", issue["relu_n5 features 1e-7 rad apart"]),
           ("relu n5 n_p3 q2 s0", random_unit(5, 3, "relu", n_latents=2, seed=0)),
           ("topk1 transcoder n5 n_r3 s1", transcoder_pair(5, 2, 3, TopK(1), n_latents=2, seed=1)),
           ("transcoder n5 n_r2 q2 s0 (nested)", issue["transcoder_n5_nr2_s0 (nested)"])]
    out += [(f"relu n{n} n_p2 q2 s0", random_unit(n, 2, "relu", n_latents=2, seed=0)) for n in (6, 8, 10, 12, 16)]
    out += [(f"relu n{n} n_p3 q2 s0", random_unit(n, 3, "relu", n_latents=2, seed=0)) for n in (6,)]
    return out


def ours(inst, node_limit: int, rtol: float):
    from sdlscape.solvers.certify import certify_global

    t0 = time.process_time()
    g = certify_global(inst, rtol=rtol, node_limit=node_limit)
    return g, time.process_time() - t0


def run_instance(name, inst, sw, args, cap_left: float) -> tuple[dict, float]:
    g, s0 = ours(inst, args.node_limit, args.rtol)
    times = [s0] + [ours(inst, args.node_limit, args.rtol)[1] for _ in range(2)]
    T = float(math.ceil(args.factor * max(times)))
    row = {"instance": name, "activation": inst.activation.name, "n": inst.n, "n_p": inst.n_p, "n_r": inst.n_r,
           "n_latents": inst.n_latents, "value": g.value, "lower_bound": g.lower_bound, "certified": g.certified,
           "nodes": sum(p.nodes for p in g.pieces), "scip_time_limit_cpu_s": T, "scip": []}
    if not sw.formulated(inst) or g.minimiser is None or not g.certified:
        row["skipped"] = "not formulated" if not sw.formulated(inst) else "not certified"
    elif T > cap_left:
        row["skipped"] = f"T = {T:.0f} s exceeds the {cap_left:.0f} s left of the cap"
    if "skipped" in row:
        row.update(ours_cpu_seconds=times, ours_median=float(np.median(times)))
        return row, 0.0
    B = sw.decoder_box(inst, g.minimiser.minimiser_W_E, g.minimiser.minimiser_W_D)
    used = 0.0
    for rnd in range(3):
        s = sw.solve(inst, B, feastol=args.feastol, gap=args.rtol, time_limit=T)
        used += s["solving_seconds"]
        row["scip"].append({k: v for k, v in s.items() if k not in ("W_E", "W_D")} | {"round": rnd})
        row["scip_point"] = {"W_E": s["W_E"], "W_D": s["W_D"]}
        times.append(ours(inst, args.node_limit, args.rtol)[1])
        print(f"  {name} round {rnd}: SCIP {s['status']} {s['solving_seconds']:.1f} CPU s ({s['wall_seconds']:.1f} "
              f"wall) primal {s['primal']} dual {s['dual']:.10g} L~ at its point {s['loss_at_point']}; ours "
              f"{g.value:.10g} >= {g.lower_bound:.10g} {times[-1]:.2f} CPU s", flush=True)
        if s["status"] == "timelimit":
            break
    mo = float(np.median(times))
    sc = [r["solving_seconds"] for r in row["scip"]]
    timed_out = row["scip"][-1]["status"] == "timelimit"
    last = row["scip"][-1]
    row.update(ours_cpu_seconds=times, ours_median=mo, scip_box_B=B, scip_median_cpu_s=float(np.median(sc)),
               scip_timed_out=timed_out, ratio=float(np.median(sc)) / mo, ratio_is_lower_bound=timed_out,
               scip_primal=last["primal"], scip_dual=last["dual"], scip_status=last["status"],
               scip_below_certified_lower=last["primal"] is not None and last["primal"] < g.lower_bound,
               scip_dual_above_certified_value=last["dual"] > g.value * (1 + args.rtol) + 1e-12)
    return row, used


def main(argv=None) -> int:
    from sdlscape.storage import provenance, write_json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=float, default=2400.0, help="total SCIP CPU seconds")
    ap.add_argument("--factor", type=float, default=100.0, help="SCIP's limit = factor x our slowest run")
    ap.add_argument("--node-limit", type=int, default=20_000, help="our budget: nodes per piece")
    ap.add_argument("--rtol", type=float, default=1e-7, help="our rtol and SCIP's limits/gap")
    ap.add_argument("--feastol", type=float, default=1e-9)
    ap.add_argument("--only", nargs="*", help="instance names (substrings)")
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    sw = _load("scip_whole")
    t_all, cpu_all = time.perf_counter(), time.process_time()
    rows, left = [], args.cap
    for name, inst in instances():
        if args.only and not any(o in name for o in args.only):
            continue
        row, used = run_instance(name, inst, sw, args, left)
        left -= used
        rows.append(row)
        print(f"{name}: ours median {row['ours_median']:.2f} CPU s; "
              + (row["skipped"] if "skipped" in row else f"SCIP {row['scip_status']} median {row['scip_median_cpu_s']:.1f}"
                 f" CPU s, ratio {'>= ' if row['ratio_is_lower_bound'] else ''}{row['ratio']:.1f}") + f"; cap left {left:.0f} s",
              flush=True)
        write_json(args.json, {"rows": rows, "settings": vars(args), "scip_cpu_seconds_used": args.cap - left,
                               "note": "2 shared CPU cores, loaded; ours = CPU seconds of the whole global certificate; "
                                       "SCIP = its solving time on the whole problem with timing/clocktype CPU, "
                                       "single-threaded, nice 10; W_D box hand-set from our minimiser (not proven)",
                               "provenance": provenance("cpu", time.perf_counter() - t_all,
                                                        cpu_seconds=time.process_time() - cpu_all)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
