"""`sdlscape reproduce`: run every check, landscape, cross-check and table at a scale; cache each stage.

Each stage's result is cached under DIR/cache/ by a hash of its configuration, written atomically
when the stage finishes; stages that cache finer-grained work themselves (landscape pieces, bench
rows) are given a cache folder too, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sdlscape.errors import InputError
from sdlscape.pipeline import bench_stages
from sdlscape.storage import FolderLock, provenance, read_cached, to_jsonable, write_cached, write_json
from sdlscape.theory.activations import JumpReLU, ReLU, TopK


@dataclass(frozen=True)
class Scale:
    """What one reproduction scale runs."""

    name: str
    verify_budget: str
    landscape_starts: int
    crosscheck_starts: int
    crosscheck_steps: int
    bench_scale: str
    bench_tables: tuple[str, ...]
    real_scale: str


SCALES = {
    # Tables 5 and 6 (30 and 40 rows x 3 seeds, about 25 and 35 min on one core at small scale) are left to
    # `sdlscape bench table5|table6 --scale small`; the report names them.
    "small": Scale("small", "quick", landscape_starts=3, crosscheck_starts=4000, crosscheck_steps=5000,
                   bench_scale="small", bench_tables=("table1", "table4", "table7"),
                   real_scale="small"),
    "paper": Scale("paper", "full", landscape_starts=4, crosscheck_starts=10_000, crosscheck_steps=10_000,
                   bench_scale="paper", bench_tables=("table1", "table4", "table5", "table6", "table7"),
                   real_scale="paper"),
}


def canonical_instances() -> dict[str, Any]:
    """The small instances whose landscapes the report maps and cross-checks (as in results/landscape)."""
    from sdlscape.theory.instance import example_3_5, hierarchical, random_unit

    return {
        "example-3.5": example_3_5(),
        "relu_n3_np2_q2": random_unit(3, 2, activation=ReLU(), n_latents=2, seed=0,
                                      name="relu_n3_np2_q2"),
        "topk1_n4_np2_q3": random_unit(4, 2, activation=TopK(k=1), n_latents=3, seed=0,
                                       name="topk1_n4_np2_q3"),
        "jumprelu_n3_np2_q2": random_unit(3, 2, activation=JumpReLU(theta=0.2), n_latents=2, seed=0,
                                          name="jumprelu_n3_np2_q2"),
        "hier_relu_3_np2_q2": hierarchical((3,), n_p=2, activation=ReLU(), n_latents=2, seed=0,
                                           name="hier_relu_3_np2_q2"),
    }


TRAINER = ("solvers/gradient.py", "solvers/sdl_model.py", "solvers/anchor_terms.py", "solvers/torch_codes.py")

STAGE_SOURCES: dict[str, tuple[str, ...]] = {
    # the packages / modules whose source computes each stage (a change to any of them invalidates it)
    "verify": ("theory", "solvers", "verify", "numerics.py", "outcomes.py"),
    "landscape": ("theory", "solvers", "numerics.py", "outcomes.py"),
    "crosscheck": ("theory", "solvers", "verify/crosscheck.py", "verify/end_points.py", "verify/acs_recheck.py",
                   "verify/resampling.py", "bench", "numerics.py", "outcomes.py"),
    "bench": ("theory", *TRAINER, "bench", "pipeline/bench_stages.py", "numerics.py", "outcomes.py"),
    "real": ("theory", *TRAINER, "bench", "pipeline/bench_stages.py", "numerics.py", "outcomes.py"),
    "bench3d": ("theory", "pipeline/bench_stages.py", "outcomes.py"),
    "encoder": ("theory", *TRAINER, "bench", "numerics.py", "outcomes.py"),
    "theory-figures": ("theory", "solvers", "verify", "pipeline/sections/theory.py", "numerics.py"),
}
KEYED_LIBRARIES = ("numpy", "scipy", "cvxpy", "clarabel", "torch", "sympy", "scikit-learn")


def source_hash(parts: tuple[str, ...], root: Path | None = None) -> str:
    """sha256 over the Python sources of the given sdlscape packages / modules (paths relative to the package)."""
    root = Path(__file__).resolve().parent.parent if root is None else Path(root)
    h = hashlib.sha256()
    for part in sorted(parts):
        p = root / part
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()


def library_key() -> dict[str, str]:
    """Versions of the libraries whose numerics the results depend on."""
    from importlib import metadata

    out = {}
    for name in KEYED_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


class StageCache:
    """Results of finished stages, keyed by name, configuration, and a hash of the source that computes them.

    A cached stage is reused only when its configuration, the source of the packages listed for it in
    STAGE_SOURCES and the versions of the numerical libraries are all unchanged. Each record keeps the
    seconds the stage took and when it was computed, so a report can state the compute time of its results.
    """

    def __init__(self, folder: Path, log: Callable[[str], None]):
        self.folder = folder
        self.log = log
        self.records: dict[str, dict] = {}
        self._libs = library_key()

    def key(self, name: str, config: dict) -> str:
        kind = name.split("-")[0] if name not in STAGE_SOURCES else name
        sources = STAGE_SOURCES.get(kind)
        if sources is None:
            raise KeyError(f"stage {name!r} has no entry in STAGE_SOURCES")
        text = json.dumps(to_jsonable({"stage": name, "config": config, "source": source_hash(sources),
                                       "libraries": self._libs}), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, name: str, config: dict) -> Path:
        return self.folder / f"{name}-{self.key(name, config)}.json"

    def store(self, name: str, config: dict, result: Any, seconds: float, extra: dict | None = None) -> Any:
        """Write a stage computed by this invocation; ``extra`` goes into its record (e.g. trainings reused)."""
        result = to_jsonable(result)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if isinstance(result, dict) and isinstance(result.get("compute_seconds"), (int, float)):
            seconds = max(seconds, float(result["compute_seconds"]))   # work done earlier and resumed from
        write_cached(self.path(name, config), {"stage": name, "config": config, "seconds": seconds,
                                               "computed_utc": when, "result": result})
        self.records[name] = {"seconds": seconds, "computed_utc": when, "cached": False, **(extra or {})}
        self.log(f"[{name}] done in {seconds:.1f} s")
        return result

    def run(self, name: str, config: dict, fn: Callable[[], Any]) -> Any:
        path = self.path(name, config)
        cached = read_cached(path, ("seconds", "result"))   # None if absent or damaged (reported, recomputed)
        if cached is not None:
            self.records[name] = {"seconds": cached["seconds"], "computed_utc": cached.get("computed_utc"),
                                  "cached": True}
            self.log(f"[{name}] cached ({cached['seconds']:.1f} s when computed): {path.name}")
            return cached["result"]
        self.log(f"[{name}] running ...")
        t0 = time.perf_counter()
        result = fn()
        return self.store(name, config, result, time.perf_counter() - t0)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stage_verify(scale: Scale, seed: int, out: Path, progress: bool) -> dict:
    from sdlscape.verify.claims import run_checks

    results = [r.to_dict() for r in run_checks(budget=scale.verify_budget, seed=seed,
                                                 counterexample_dir=out / "counterexamples", progress=progress)]
    for r in results:  # counterexample files relative to the report, so the folder can be moved
        ce = r.get("counterexample") or {}
        if isinstance(ce.get("instance"), str):
            path = Path(ce["instance"]).resolve()
            if path.is_relative_to(out.resolve()):
                ce["instance"] = str(path.relative_to(out.resolve()))
    return {"results": results}


def stage_landscape(name: str, inst, scale: Scale, seed: int, cache: Path, progress: bool) -> dict:
    from sdlscape.solvers.landscape import map_landscape

    res = map_landscape(inst, starts=scale.landscape_starts, seed=seed, checkpoint=cache / f"landscape-{name}.ckpt.json",
                        progress=progress)
    d = res.to_dict()
    d["instance"] = name
    d["instance_data"] = inst.to_dict()
    return d


def stage_crosscheck(inst, landscape: dict, scale: Scale, device: str, seed: int, progress: bool,
                     bench: bool = False) -> dict:
    from sdlscape.verify.crosscheck import run_crosscheck

    res = run_crosscheck(inst, scale.crosscheck_starts, steps=scale.crosscheck_steps, device=device, seed=seed,
                         landscape=landscape, progress=progress)
    if bench:
        from sdlscape.bench.resampling import bench_resampling

        res["bench_resampling"] = bench_resampling(seed=seed, device=device)
    return res


def stage_theory_figures(seed: int) -> dict:
    """The data of the theory figures (Fig. 4 analogue, the Thm 3.1 bound), computed once and cached."""
    from sdlscape.pipeline.sections import theory

    return {"fig4": theory.fig4_data(), "thm31": theory.thm31_data(seed)}


def stage_encoder(scale: Scale, device: str, seed: int) -> dict:
    """The encoder experiment (bench/encoder.py) at the bench's scale."""
    from sdlscape.bench.encoder import run_encoder_experiment

    if device == "cpu":
        import torch

        torch.set_num_threads(1)
    return run_encoder_experiment(scale.bench_scale, seed=seed, device=device)


STAGES = ("verify", "landscape", "crosscheck", "bench", "real")


def reproduce(out: str | Path, scale: str = "small", device: str = "cpu", seed: int = 0, progress: bool = True,
              only: tuple[str, ...] | None = None, scheduler: str | None = None) -> dict:
    """Run the reproduction at a scale and write DIR/report.md, report.html, report.json and figures/.

    only: restrict to some stages (verify, landscape, crosscheck, bench, real), e.g. for `figures`.
    The bench tables' trainings start first, in worker processes (or on the Dask cluster at ``scheduler``),
    while this process runs the other stages.
    """
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r}; use cpu or cuda")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda asked for, but torch sees no CUDA device here")
    if only is not None and (not isinstance(only, (tuple, list)) or not set(only) <= set(STAGES)):
        raise InputError(f"only must name stages among {', '.join(STAGES)}, got {only!r}")
    sc = SCALES[scale]
    out = Path(out)
    lock = FolderLock(out, "reproduce")   # one run per folder: held until the report is written
    cache_dir = out / "cache"
    cache = StageCache(cache_dir, _stderr)
    t0 = time.perf_counter()
    want = (lambda s: True) if only is None else (lambda s: s in only)
    report: dict[str, Any] = {"scale": asdict(sc), "device": device, "seed": seed}
    if scheduler is not None:
        from sdlscape.solvers.fanout import dask_client

        dask_client(scheduler).close()      # an unreachable scheduler is an input error, before anything runs
    bench = bench_stages.Background(cache, sc, device, seed, cache_dir, progress, scheduler) if want("bench") else None

    if want("verify"):
        report["verify"] = cache.run("verify", {"budget": sc.verify_budget, "seed": seed},
                                     lambda: stage_verify(sc, seed, out, progress))
    instances = canonical_instances()
    if want("landscape") or want("crosscheck"):
        report["landscapes"] = {
            name: cache.run(f"landscape-{name}", {"instance": inst.to_dict(), "starts": sc.landscape_starts, "seed": seed},
                            lambda name=name, inst=inst: stage_landscape(name, inst, sc, seed, cache_dir, progress))
            for name, inst in instances.items()}
    if want("crosscheck"):
        report["crosscheck"] = {
            name: cache.run(f"crosscheck-{name}", {"instance": inst.to_dict(), "starts": sc.crosscheck_starts,
                                                   "steps": sc.crosscheck_steps, "device": device, "seed": seed,
                                                   "bench_resampling": name == "example-3.5"},
                            lambda name=name, inst=inst: stage_crosscheck(inst, report["landscapes"][name], sc, device,
                                                                          seed, progress, bench=name == "example-3.5"))
            for name, inst in instances.items() if inst.parents is None}
    if want("bench"):
        report["encoder"] = cache.run("encoder", {"scale": sc.bench_scale, "device": device, "seed": seed},
                                      lambda: stage_encoder(sc, device, seed))
    if want("real"):
        report["real"] = cache.run("real-digits", {"scale": sc.real_scale, "device": device, "seed": seed},
                                   lambda: bench_stages.stage_real(sc, device, seed, progress))
    if bench is not None:
        report["bench"], report["bench_run"] = bench.join()
        report["bench_not_run"] = [t for t in SCALES["paper"].bench_tables if t not in sc.bench_tables]
    report["bench3d"] = cache.run("bench3d", {"seed": seed}, lambda: bench_stages.stage_bench3d(seed))
    report.update(cache.run("theory-figures", {"seed": seed}, lambda: stage_theory_figures(seed)))
    report["stages"] = cache.records
    report["skipped"] = [s for s in STAGES if not want(s) and not (s == "landscape" and want("crosscheck"))]

    from sdlscape.pipeline.report import draw_figures

    figures = draw_figures(report, out / "figures")
    report["figures"] = {k: [str(p.relative_to(out)) for p in v] for k, v in figures.items()}
    report["provenance"] = provenance(device, seconds=time.perf_counter() - t0,
                                      compute_seconds=sum(r["seconds"] for r in cache.records.values()))
    write_report(report, out)
    lock.close()
    return report


def write_report(report: dict, out: Path) -> None:
    from sdlscape.pipeline.document import to_html, to_markdown
    from sdlscape.pipeline.report import build_document
    from sdlscape.storage import write_text

    doc = build_document(report)
    write_json(out / "report.json", report)
    write_text(out / "report.md", to_markdown(doc))
    write_text(out / "report.html", to_html(doc, out))
