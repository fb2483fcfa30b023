"""Training throughput of the SDL trainers: samples/s and peak memory at a stated size (CPU or CUDA).

Usage:  python benchmarks/bench_training.py [--device cpu|cuda] [--d 768] [--n-latents 16000]
        [--batch 1024] [--k 128] [--steps 20] [--activations topk,relu] [--threads N]
Default size is the paper's (d_in = 768, n_latents = 16000, batch 1024, k = 128).  Each activation
runs in a fresh subprocess; CPU memory is that process's peak RSS minus its RSS once the data are
in memory (ru_maxrss, so it includes torch's workspace); CUDA memory is
torch.cuda.max_memory_allocated.  Prints one line per activation and a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from sdlscape.solvers.gradient import TrainConfig, train_sdl


def _rss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def bench_one(activation: str, d: int, n_latents: int, batch: int, k: int, steps: int, device: str) -> dict:
    n_data = max(batch * 4, 4096)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n_data, d, generator=gen).abs()
    cfg = TrainConfig(activation=activation, n_latents=n_latents, k=k, steps=2, batch_size=batch, device=device)
    rss0 = _rss_mib()
    train_sdl(x, None, cfg)                                   # warm-up (allocations, kernels)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    cfg = TrainConfig(activation=activation, n_latents=n_latents, k=k, steps=steps, batch_size=batch,
                      device=device, log_every=steps)
    t0 = time.perf_counter()
    train_sdl(x, None, cfg)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else _rss_mib() - rss0
    return {"activation": activation, "samples_per_s": steps * batch / sec, "seconds": sec,
            "peak_memory_mib": mem, "memory_kind": "cuda max allocated" if device.startswith("cuda")
            else "peak RSS above data", "d_in": d, "n_latents": n_latents, "batch": batch, "k": k,
            "steps": steps, "device": device, "threads": torch.get_num_threads()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--n-latents", type=int, default=16000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--k", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--activations", default="topk_relu,batchtopk_relu,relu", help="trainer codes (solvers.gradient.CODES)")
    p.add_argument("--threads", type=int)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)   # child: one activation, JSON out
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.one:
        print(json.dumps(bench_one(a.activations, a.d, a.n_latents, a.batch, a.k, a.steps, a.device)))
        return 0
    out = []
    for act in a.activations.split(","):
        cmd = [sys.executable, __file__, "--one", "--activations", act, "--device", a.device, "--d", str(a.d),
               "--n-latents", str(a.n_latents), "--batch", str(a.batch), "--k", str(a.k), "--steps", str(a.steps)]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out.append(r)
        print(f"{act:<10} {r['samples_per_s']:>10.0f} samples/s  {r['peak_memory_mib']:>8.1f} MiB ({r['memory_kind']})  "
              f"d={a.d} n_latents={a.n_latents} batch={a.batch} k={a.k} device={a.device} threads={r['threads']}",
              flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
