"""Benchmark: time to the global minimum, our certifier against brute-force enumeration (issue 28's ">= 10x faster
than brute force for n >= 6"), interleaved per instance (ours, brute force, ours, ...).

Not a test (no timing assertions): run `python benchmarks/bench_bruteforce.py [--rounds R] [--groups ...]
[--ns N ...] [--json PATH]`. Ours: `certify_global(inst, node_limit=20000)` (a certified global minimum).
Brute force: `map_landscape(inst, starts=4, certify=False)`, i.e. `sdlscape landscape --starts 4` without the
certifier: every activation-pattern piece enumerated and solved by ACS from 4 starts, the global value the least
piece value (an upper bound only: nothing is certified). Both in CPU seconds (time.process_time, one thread), so
the load of other jobs moves them less than wall time; the ratio is median(brute) / median(ours) per instance.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def _frontier_instance(group: str, n: int):
    from bench_certify import FRONTIER_GROUPS

    from sdlscape.theory.instance import random_unit

    g = FRONTIER_GROUPS[group]
    if g["n_r"] is not None:
        raise SystemExit(f"{group}: transcoder groups are not benchmarked here")
    return random_unit(n, g["n_p"], "relu", n_latents=g["n_latents"], seed=g["seeds"][0])


def ours(inst) -> dict:
    from sdlscape.solvers.certify import certify_global

    t0 = time.process_time()
    g = certify_global(inst, node_limit=20000)
    return {"cpu_seconds": time.process_time() - t0, "value": g.value, "lower_bound": g.lower_bound,
            "certified": g.certified}


def brute(inst) -> dict:
    from sdlscape.solvers.landscape import map_landscape

    t0 = time.process_time()
    r = map_landscape(inst, starts=4, certify=False)
    return {"cpu_seconds": time.process_time() - t0, "value": r.summary["global_value"],
            "pieces": r.summary["pieces"]}


def main(argv=None) -> int:
    from sdlscape.storage import provenance, write_json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", nargs="+", default=["relu_np2_q2", "relu_np3_q2"])
    ap.add_argument("--ns", nargs="+", type=int, default=[6, 10, 16])
    ap.add_argument("--rounds", type=int, default=1, help="brute-force runs per instance (ours runs rounds + 1)")
    ap.add_argument("--json")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    from bench_certify import FRONTIER_GROUPS

    rows = []
    t_start = time.perf_counter()
    for group in args.groups:
        for n in args.ns:
            if n not in FRONTIER_GROUPS[group]["ns"]:
                continue
            inst = _frontier_instance(group, n)
            o, b = [ours(inst)], []
            for _ in range(args.rounds):
                b.append(brute(inst))
                o.append(ours(inst))
            mo = statistics.median(r["cpu_seconds"] for r in o)
            mb = statistics.median(r["cpu_seconds"] for r in b)
            row = {"group": group, "n": n, "instance": inst.name, "ours": o, "brute_force": b,
                   "ours_median_cpu_s": mo, "brute_median_cpu_s": mb, "ratio": mb / mo,
                   "same_value": all(abs(r["value"] - o[0]["value"]) <= 1e-6 * max(1.0, abs(o[0]["value"]))
                                     for r in b),
                   "brute_below_lower_bound": any(r["value"] < o[0]["lower_bound"] for r in b)}
            rows.append(row)
            print(f"{group} n={n}: ours {mo:.2f} CPU s (value {o[0]['value']:.10g}, certified {o[0]['certified']}); "
                  f"brute force {mb:.2f} CPU s (value {b[0]['value']:.10g}, {b[0]['pieces']} pieces); "
                  f"ratio {row['ratio']:.1f}x", flush=True)
    if args.json:
        write_json(args.json, {"rows": rows, "settings": vars(args),
                               "provenance": provenance("cpu", time.perf_counter() - t_start)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
