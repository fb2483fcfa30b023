"""Our sparse TopK training step against a dense reference of the same model, SAELens and sparsify, interleaved.

Usage:  python benchmarks/bench_vs_saelens.py [--d 768] [--n-latents 16000] [--batch 1024] [--ks 128,32]
        [--rounds 5] [--steps 3] [--threads 1] [--json out.json]
Default size is the paper's (d_in = 768, n_latents = 16000, batch 1024).  Every trainer is built once (not
timed); then one warm-up round (not counted) and ``--rounds`` rounds, each timing ``--steps`` training steps
of every trainer in an order rotated from round to round (A B C D, B C D A, ...), so that a change of machine
load falls on all of them.  Per trainer: the median seconds per step over rounds and its spread (min, max).
Per round ratios (medians and ranges are reported), which separate two things:

* sparse-step ratio = dense reference / ours: the same model (W_E, W_dec, TopK o ReLU, no biases, decoder
  renormalised, fused Adam), once with our sparse step (solvers/gradient.py sdl_loss) and once dense
  (B x n_latents codes through autograd: five dense matmuls per step);
* model-extras ratio = SAELens / dense reference: what SAELens's TopKTrainingSAE adds (biases, rescaling by
  decoder norms, its loss bookkeeping) over the same dense step (fused Adam for both);
* and ours / SAELens, ours / sparsify's training kernels (sparsify.fused_encoder + its eager embedding_bag
  decoder, the CPU path: Triton is CUDA-only) on the same model;
* this change = before / ours: "before" is our step with the previous selection, sort and sampled product,
  outside keep_freed_memory (the trainer of code version 3: the same floats).

The ceiling: one matmul x W_E^T at the step's shapes (no autograd), timed in the same rounds.  The sparse
step does that matmul plus O(batch k d) work, so t(matmul) / t(ours) is the fraction of the ceiling it
reaches; the dense reference's is 5 t(matmul) / t(dense).  Needs sae-lens (and sparsify, optional).

Memory: train_sdl runs inside solvers/gradient_alloc.keep_freed_memory (glibc keeps freed memory: no page
faults on each step's 50-65 MB buffers).  ``--allocator trainer`` (default): ours and the dense reference (our
model's two trainers) run inside it, entered at the start of their block of each round followed by one
untimed step (train_sdl enters it once per training, so its steps run in that steady state); SAELens,
sparsify's kernels and the matmul run as they ship.  ``--allocator all``: every trainer inside it.
``--allocator none``: nobody (the trainer before it).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from sdlscape.solvers.gradient import SDLModel, TrainConfig, _adam, sdl_loss
from sdlscape.solvers.gradient_alloc import keep_freed_memory


def _batches(x: torch.Tensor, batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(x.shape[0], generator=g)
        for pos in range(0, x.shape[0] - batch + 1, batch):
            yield x[perm[pos:pos + batch]]


def make_ours(x, n, k, batch):
    model = SDLModel(x.shape[1], x.shape[1], TrainConfig("topk_relu", n_latents=n, k=k, batch_size=batch),
                     generator=torch.Generator().manual_seed(0))
    opt, data = _adam(list(model.parameters()), 1e-3), _batches(x, batch)

    def step():          # train_sdl's loop body (solvers/gradient.py) without its logging
        xb = next(data)
        loss, _ = sdl_loss(model, xb, xb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.normalize_decoder_()
    return step


@contextmanager
def _previous_step():
    """The sparse step before the two-level TopK, the shared latent sort, the gathered values and the latent-
    ordered sampled product (the same floats: tests/solvers/test_gradient_step.py), for a before/after ratio."""
    from sdlscape.solvers import sdl_model, torch_codes

    class RowMajor(torch_codes._ByLatent):
        def scatter(self, w, src):
            self._plan = None                 # one argsort per scatter
            return super().scatter(w, src)

        def dots(self, a, b):
            return torch_codes._gathered_dots(a, self.rows, b, self.cols)

    saved = torch_codes.topk_cols, torch_codes.TopKReLUCode.codes, sdl_model._ByLatent
    torch_codes.topk_cols = lambda z, k: z.topk(k, dim=1, sorted=False).indices.sort(dim=1).values
    torch_codes.TopKReLUCode.codes = lambda self, model, x, train: model.selected_codes(
        x, *self.select(model, x, train), x.shape[0])
    sdl_model._ByLatent = RowMajor
    try:
        yield
    finally:
        torch_codes.topk_cols, torch_codes.TopKReLUCode.codes, sdl_model._ByLatent = saved


def make_before(x, n, k, batch):
    ours = make_ours(x, n, k, batch)

    def step():
        with _previous_step():
            ours()
    return step


def _same_params(x, n):
    model = SDLModel(x.shape[1], x.shape[1], TrainConfig("topk_relu", n_latents=n, k=1),
                     generator=torch.Generator().manual_seed(0))
    return model.W_E, model.W_dec


def _unit_decoder_trainer(x, n, batch, reconstruct):
    """One Adam step (lr 1e-3) of || x - reconstruct(x, W_E, W_dec) ||^2 from the shared initial parameters,
    decoder rows renormalised after each step: the two methods below differ only in `reconstruct`."""
    W_E, W_dec = _same_params(x, n)
    opt, data = _adam([W_E, W_dec], 1e-3), _batches(x, batch)

    def step():
        xb = next(data)
        loss = (xb - reconstruct(xb, W_E, W_dec)).pow(2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            W_dec.div_(W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
    return step


def make_dense(x, n, k, batch):
    def reconstruct(xb, W_E, W_dec):
        z = F.relu(xb @ W_E.t())
        vals, idx = z.topk(k, dim=1, sorted=False)
        return torch.zeros_like(z).scatter(1, idx, vals) @ W_dec
    return _unit_decoder_trainer(x, n, batch, reconstruct)


def make_sparsify(x, n, k, batch):
    from sparsify.fused_encoder import fused_encoder

    def reconstruct(xb, W_E, W_dec):
        acts, idx, _ = fused_encoder(xb, W_E, None, k, "topk")
        return F.embedding_bag(idx, W_dec, per_sample_weights=acts, mode="sum")   # sparsify.utils.eager_decode
    return _unit_decoder_trainer(x, n, batch, reconstruct)


def make_saelens(x, n, k, batch):
    from sae_lens.saes.sae import TrainStepInput
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    torch.manual_seed(0)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=n, k=k, device="cpu"))
    opt, data, i = _adam(list(sae.parameters()), 1e-3), _batches(x, batch), [0]

    def step():
        xb = next(data)
        out = sae.training_forward_pass(TrainStepInput(sae_in=xb, coefficients={}, dead_neuron_mask=None,
                                                       n_training_steps=i[0], is_logging_step=False))
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        i[0] += 1
    return step


def make_matmul(x, n, k, batch):
    W_E, _ = _same_params(x, n)
    data = _batches(x, batch)

    def step():
        with torch.no_grad():
            next(data) @ W_E.t()
    return step


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor()


TRAINERS = {"ours": make_ours, "before": make_before, "dense": make_dense, "saelens": make_saelens,
            "sparsify": make_sparsify, "matmul": make_matmul}
RATIOS = {"sparse_step (dense / ours)": ("dense", "ours"), "model_extras (saelens / dense)": ("saelens", "dense"),
          "ours_vs_saelens (saelens / ours)": ("saelens", "ours"),
          "ours_vs_sparsify (sparsify / ours)": ("sparsify", "ours"),
          "ceiling_ours (matmul / ours)": ("matmul", "ours"),
          "this_change (before / ours)": ("before", "ours")}


def _spread(vals: list[float]) -> dict:
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "values": vals}


KEPT = {"trainer": ("ours", "dense"), "all": (), "none": ()}     # who enters keep_freed_memory per block


def run_k(x, n, k, batch, rounds, steps, allocator: str = "trainer", only=None) -> dict:
    steps_fn, failed = {}, {}
    for name, make in TRAINERS.items():
        if only and name not in only:
            continue
        try:
            steps_fn[name] = make(x, n, k, batch)
        except ImportError as e:      # an optional competitor not installed
            failed[name] = str(e).splitlines()[0][:200]
    names = list(steps_fn)
    per_round: dict[str, list[float]] = {nm: [] for nm in names}
    for r in range(rounds + 1):                       # round 0: warm-up, not counted
        order = names[r % len(names):] + names[:r % len(names)]
        for nm in order:
            kept = nm in KEPT[allocator]
            with keep_freed_memory(kept):
                if kept:
                    steps_fn[nm]()           # untimed: the step that faults the kept buffers in
                t0 = time.perf_counter()
                for _ in range(steps):
                    steps_fn[nm]()
                if r:
                    per_round[nm].append((time.perf_counter() - t0) / steps)
    out = {"k": k, "seconds_per_step": {nm: _spread(v) for nm, v in per_round.items()},
           "samples_per_s": {nm: batch / statistics.median(v) for nm, v in per_round.items()}, "failed": failed}
    ratios = {}
    for label, (a, b) in RATIOS.items():
        if a in per_round and b in per_round:
            ratios[label] = _spread([ta / tb for ta, tb in zip(per_round[a], per_round[b])])
    if "matmul" in per_round and "dense" in per_round:
        ratios["ceiling_dense (5 matmul / dense)"] = _spread([5 * ta / tb for ta, tb in
                                                              zip(per_round["matmul"], per_round["dense"])])
    out["ratios"] = ratios
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--n-latents", type=int, default=16000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--ks", default="128,32")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="steps per trainer per round")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--allocator", choices=sorted(KEPT), default="trainer",
                   help="who runs inside keep_freed_memory (module docstring)")
    p.add_argument("--trainers", help=f"comma-separated subset of {','.join(TRAINERS)} (default: all)")
    p.add_argument("--json")
    a = p.parse_args(argv)
    only = a.trainers.split(",") if a.trainers else None
    if only and set(only) - set(TRAINERS):
        print(f"--trainers: unknown {sorted(set(only) - set(TRAINERS))}; choose from {', '.join(TRAINERS)}",
              file=sys.stderr)
        return 2
    try:
        import sae_lens
    except ImportError:
        print("sae-lens is not installed (pip install sae-lens); nothing to compare against", file=sys.stderr)
        return 2
    if a.rounds < 1 or a.steps < 1:
        print("--rounds and --steps must be >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    x = torch.randn(max(8 * a.batch, 4096), a.d, generator=torch.Generator().manual_seed(0)).abs()
    out = {"d_in": a.d, "n_latents": a.n_latents, "batch": a.batch, "rounds": a.rounds, "steps_per_round": a.steps,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "sae_lens": sae_lens.__version__,
           "load_average_start": os.getloadavg(), "runs": [], "allocator": a.allocator,
           "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform()},
           "method": "interleaved rounds (rotated order), warm-up round excluded, construction not timed; "
                     "ratios computed per round, median and range over rounds"}
    for k in (int(s) for s in a.ks.split(",")):
        load0 = os.getloadavg()
        with keep_freed_memory(a.allocator == "all"):
            res = run_k(x, a.n_latents, k, a.batch, a.rounds, a.steps, a.allocator, only)
        res["load_average_start"], res["load_average_end"] = load0, os.getloadavg()
        for nm, s in res["seconds_per_step"].items():
            print(f"k={k:<4} {nm:<9} {1e3 * s['median']:9.1f} ms/step (min {1e3 * s['min']:.1f}, max "
                  f"{1e3 * s['max']:.1f})  {res['samples_per_s'][nm]:9.0f} samples/s", flush=True)
        for label, s in res["ratios"].items():
            print(f"k={k:<4} {label:<36} {s['median']:6.2f}x  (range {s['min']:.2f} - {s['max']:.2f})", flush=True)
        for nm, err in res["failed"].items():
            print(f"k={k:<4} {nm} not run: {err}", flush=True)
        out["runs"].append(res)
    out["load_average_end"] = os.getloadavg()
    if a.json:
        from sdlscape.storage import provenance, write_json

        out["provenance"] = provenance("cpu")
        write_json(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
