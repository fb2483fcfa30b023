"""Benchmark: `sdlscape bench evaluate` on a paper-size SAE (d_in 768, 16000 latents) on the paper-scale bench.

Not a test (no timing assertions): run `python benchmarks/bench_evaluate.py [--threads N] [--json PATH]`.
Writes a TopK (k = 128) SAE in SAELens's layout whose first 1000 decoder rows are the bench's true features
(the rest random unit rows), then times the whole command in a fresh process (imports, rebuilding the
paper-scale truth from --table table1 --scale paper, loading, scoring) and, in this process, the scoring
alone.  Target: < 2 minutes on 2 CPU cores.  On a shared machine the wall time measures the other jobs
too, so CPU seconds are printed beside it (wall on 2 free cores is about CPU seconds / 2 for the
parallel parts, at most CPU seconds) with the load average.  Prints the seconds and the row's decoder M_GT (must be 100%).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_sae(folder: Path, truth_rows: np.ndarray, d_sae: int, k: int, seed: int = 0) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    extra = rng.standard_normal((d_sae - truth_rows.shape[0], truth_rows.shape[1])).astype(np.float32)
    W = np.concatenate([truth_rows.astype(np.float32), extra / np.linalg.norm(extra, axis=1, keepdims=True)])
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"W_enc": np.ascontiguousarray(W.T), "W_dec": W, "b_enc": np.zeros(d_sae, np.float32),
               "b_dec": np.zeros(W.shape[1], np.float32)}, str(folder / "sae_weights.safetensors"))
    cfg = {"architecture": "topk", "d_in": int(W.shape[1]), "d_sae": int(d_sae), "k": int(k), "dtype": "float32",
           "device": "cpu", "apply_b_dec_to_input": False, "normalize_activations": "none"}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="paper")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the timings here")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from sdlscape.bench.evaluate import evaluate
    from sdlscape.bench.loaders import load_sae
    from sdlscape.bench.scales import SCALES
    from sdlscape.bench.truth import truth_from_table

    sc = SCALES[args.scale]
    t0 = time.perf_counter()
    truth = truth_from_table("table1", args.scale)
    t_truth = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        sae_dir = write_sae(Path(tmp) / "sae", truth.W_in.T, sc.n_latents, sc.k(128))
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        out = Path(tmp) / "r.json"
        t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "sdlscape.cli", "bench", "evaluate", "--sae", str(sae_dir), "--table",
                        "table1", "--scale", args.scale, "--json", str(out)], check=True, env=env)
        t_cli = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_cli = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        row_cli = json.loads(out.read_text())["rows"][0]
        t0 = time.perf_counter()
        sae = load_sae(sae_dir)
        t_load = time.perf_counter() - t0
        t0, p0 = time.perf_counter(), time.process_time()
        row = evaluate(sae, truth)
        t_score, cpu_score = time.perf_counter() - t0, time.process_time() - p0
    res = {"scale": args.scale, "threads": args.threads, "d_in": truth.d_in, "n": truth.n, "d_sae": sc.n_latents,
           "k": sc.k(128), "n_eval": int(truth.eval_x_in.shape[0]), "seconds_cli_total": t_cli, "cpu_seconds_cli_total": cpu_cli,
           "cpu_seconds_score": cpu_score, "load_average": os.getloadavg(),
           "seconds_truth": t_truth, "seconds_load": t_load, "seconds_score": t_score,
           "M_GT_decoder": row["M_GT_decoder"], "M_GT_decoder_cli": row_cli["M_GT_decoder"], "fvu": row["fvu"],
           "target_seconds": 120}
    print(json.dumps(res, indent=1))
    if args.json:
        from sdlscape.storage import provenance, write_json

        write_json(args.json, {**res, "provenance": provenance("cpu")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
