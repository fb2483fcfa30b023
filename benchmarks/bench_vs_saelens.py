"""Our sparse TopK trainer vs SAELens's TopK SAE training step, same process, same size: samples/s, peak memory.

Usage:  python benchmarks/bench_vs_saelens.py [--d 768] [--n-latents 16000] [--batch 1024] [--ks 128,32]
        [--steps 10] [--warmup 2] [--threads N] [--json out.json]
Default size is the paper's (d_in = 768, n_latents = 16000, batch 1024).  Both run Adam (lr 1e-3) on the
same inputs: ours is solvers.gradient.train_sdl with trainer code topk_relu (no biases, decoder
renormalised each step); SAELens's is TopKTrainingSAE.training_forward_pass + backward + Adam step
(its defaults: biases, rescale_acts_by_decoder_norm; dead_neuron_mask None, so no AuxK, like ours),
with its dense activations and the for-loop Adam its SAETrainer builds, again with torch's fused Adam
(which ours uses: so the ratio is not Adam's alone), and once with use_sparse_activations=True (whose backward fails
on the CPU with torch 2.13: 'aten::view' has no SparseCPU kernel; the failure is recorded).  Peak memory: the
largest resident set size (/proc/self/statm, sampled every 2 ms by a thread) above the RSS before
the run (includes the model, Adam's state and workspace).  Needs sae-lens (optional extra).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

import torch

from sdlscape.solvers.gradient import TrainConfig, train_sdl


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """Peak resident set size above the starting RSS while the block runs (sampled)."""

    def __enter__(self):
        self.base = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_mib())
        self.mib = self.peak - self.base


def run_ours(x, n_latents, k, batch, steps, warmup) -> dict:
    train_sdl(x, None, TrainConfig("topk_relu", n_latents=n_latents, k=k, steps=warmup, batch_size=batch))
    cfg = TrainConfig("topk_relu", n_latents=n_latents, k=k, steps=steps, batch_size=batch, log_every=steps)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        train_sdl(x, None, cfg)
        sec = time.perf_counter() - t0
    return {"trainer": "sdlscape topk_relu (sparse)", "samples_per_s": steps * batch / sec, "seconds": sec,
            "peak_rss_mib": mem.mib}


def run_saelens(x, n_latents, k, batch, steps, warmup, sparse: bool, fused_adam: bool = False) -> dict:
    from sae_lens.saes.sae import TrainStepInput
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    def train(n_steps):
        torch.manual_seed(0)
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=n_latents, k=k, device="cpu",
                                                    use_sparse_activations=sparse))
        opt = torch.optim.Adam(sae.parameters(), lr=1e-3, fused=fused_adam or None)
        g = torch.Generator().manual_seed(0)
        perm, pos = torch.randperm(x.shape[0], generator=g), 0
        for i in range(n_steps):
            if pos + batch > x.shape[0]:
                perm, pos = torch.randperm(x.shape[0], generator=g), 0
            xb = x[perm[pos:pos + batch]]
            pos += batch
            out = sae.training_forward_pass(TrainStepInput(sae_in=xb, coefficients={}, dead_neuron_mask=None,
                                                           n_training_steps=i, is_logging_step=False))
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
        return sae

    train(warmup)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        train(steps)
        sec = time.perf_counter() - t0
    name = f"sae_lens TopKTrainingSAE (use_sparse_activations={sparse}{', fused Adam' if fused_adam else ''})"
    return {"trainer": name,
            "samples_per_s": steps * batch / sec, "seconds": sec, "peak_rss_mib": mem.mib}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--n-latents", type=int, default=16000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--ks", default="128,32")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int)
    p.add_argument("--json")
    a = p.parse_args(argv)
    try:
        import sae_lens
    except ImportError:
        print("sae-lens is not installed (pip install sae-lens); nothing to compare against", file=sys.stderr)
        return 2
    if a.threads:
        torch.set_num_threads(a.threads)
    x = torch.randn(max(4 * a.batch, 4096), a.d, generator=torch.Generator().manual_seed(0)).abs()
    out = {"d_in": a.d, "n_latents": a.n_latents, "batch": a.batch, "steps": a.steps, "warmup": a.warmup,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "sae_lens": sae_lens.__version__,
           "load_average_start": os.getloadavg(), "runs": []}
    for k in (int(s) for s in a.ks.split(",")):
        rows = [run_ours(x, a.n_latents, k, a.batch, a.steps, a.warmup),
                run_saelens(x, a.n_latents, k, a.batch, a.steps, a.warmup, sparse=False),
                run_saelens(x, a.n_latents, k, a.batch, a.steps, a.warmup, sparse=False, fused_adam=True)]
        try:
            rows.append(run_saelens(x, a.n_latents, k, a.batch, a.steps, a.warmup, sparse=True))
        except (NotImplementedError, RuntimeError) as e:     # its sparse backward is not available on every backend
            print(f"k={k:<4} sae_lens use_sparse_activations=True failed: {str(e).splitlines()[0][:120]}", flush=True)
            out.setdefault("failed", []).append({"k": k, "trainer": "sae_lens use_sparse_activations=True",
                                                 "error": str(e).splitlines()[0][:200]})
        best = max(r["samples_per_s"] for r in rows[1:])
        for r in rows:
            r["k"] = k
            print(f"k={k:<4} {r['trainer']:<64} {r['samples_per_s']:>8.0f} samples/s  {r['peak_rss_mib']:>8.1f} MiB",
                  flush=True)
        ratio = rows[0]["samples_per_s"] / best
        print(f"k={k:<4} ratio ours / fastest SAELens = {ratio:.2f}x (target >= 2x); memory ours / SAELens dense "
              f"= {rows[0]['peak_rss_mib'] / max(rows[1]['peak_rss_mib'], 1e-9):.2f}", flush=True)
        out["runs"].append({"k": k, "rows": rows, "ratio_samples_per_s": ratio})
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out))
    if a.json:
        from sdlscape.storage import write_json

        write_json(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
