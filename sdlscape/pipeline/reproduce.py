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
from sdlscape.pipeline.schedule import Job, run_jobs
from sdlscape.solvers.fanout import usable_cores
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


TRAINER = ("solvers/gradient.py", "solvers/sdl_model.py", "solvers/anchor_terms.py", "solvers/torch_codes.py",
           "solvers/gradient_topk.py", "solvers/gradient_alloc.py",
           "solvers/blas_threads.py")   # BLAS threads (pipeline/schedule.py runs every job with one) can move rounding

STAGE_SOURCES: dict[str, tuple[str, ...]] = {
    # the packages / modules whose source computes each stage (a change to any of them invalidates it)
    # certcheck: the certifier proves exact ranks with its fractions and sizes record slack with it
    "verify": ("theory", "solvers", "certcheck", "verify", "numerics.py", "outcomes.py"),
    "landscape": ("theory", "solvers", "certcheck", "numerics.py", "outcomes.py"),
    "crosscheck": ("theory", "solvers", "certcheck", "verify/crosscheck.py", "verify/end_points.py", "verify/acs_recheck.py",
                   "verify/resampling.py", "bench", "numerics.py", "outcomes.py"),
    "bench": ("theory", *TRAINER, "bench", "pipeline/bench_stages.py", "pipeline/schedule.py", "numerics.py",
              "outcomes.py"),
    "real": ("theory", *TRAINER, "bench", "pipeline/bench_stages.py", "numerics.py", "outcomes.py"),
    "bench3d": ("theory", "pipeline/bench_stages.py", "outcomes.py"),
    "encoder": ("theory", *TRAINER, "bench", "numerics.py", "outcomes.py"),
    "theory-figures": ("theory", "solvers", "certcheck", "verify", "pipeline/sections/theory.py", "numerics.py"),
}
# A stage's compute seconds at small scale on one core (measured), for the schedule's order only.
STAGE_SECONDS = {"verify": 150.0, "crosscheck-example-3.5": 80.0, "real-digits": 60.0, "encoder": 40.0,
                 "crosscheck-topk1_n4_np2_q3": 30.0, "landscape-jumprelu_n3_np2_q2": 15.0}
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

    def lookup(self, name: str, config: dict) -> tuple[bool, Any]:
        """(True, result) for a stage finished earlier (recorded as cached), else (False, None)."""
        path = self.path(name, config)
        cached = read_cached(path, ("seconds", "result"))   # None if absent or damaged (reported, recomputed)
        if cached is None:
            return False, None
        self.records[name] = {"seconds": cached["seconds"], "computed_utc": cached.get("computed_utc"),
                              "cached": True}
        self.log(f"[{name}] cached ({cached['seconds']:.1f} s when computed): {path.name}")
        return True, cached["result"]

    def run(self, name: str, config: dict, fn: Callable[[], Any]) -> Any:
        found, result = self.lookup(name, config)
        if found:
            return result
        self.log(f"[{name}] running ...")
        t0 = time.perf_counter()
        result = fn()
        return self.store(name, config, result, time.perf_counter() - t0)

    def job(self, name: str, config: dict, fn: Callable[..., Any], args, done: dict, after: tuple[str, ...] = (),
            threads: int | None = None) -> Job | None:
        """The stage as a pool job (pipeline/schedule.py), None when cached; its result lands in done[name]."""
        found, result = self.lookup(name, config)
        if found:
            done[name] = result
            return None

        def stored(result, wall, cpu):
            done[name] = self.store(name, config, result, wall, extra={"cpu_seconds": round(cpu, 2)})

        return Job(name, fn, args, seconds=STAGE_SECONDS.get(name, 10.0), after=after, threads=threads,
                   on_done=stored, on_start=lambda: self.log(f"[{name}] running ..."))

    def ordered(self, names: list[str]) -> dict[str, dict]:
        """The records in the order of a sequential run (names first, then any other)."""
        return {**{n: self.records[n] for n in names if n in self.records}, **self.records}


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


def stage_jobs(cache: StageCache, want: Callable[[str], bool], sc: Scale, instances: dict, out: Path, device: str,
               seed: int, progress: bool, done: dict, threads: int) -> list[Job | None]:
    """The stages not cached, as pool jobs (a cross-check after its instance's landscape); the cached ones'
    results go to ``done`` now, the others' when they finish."""
    jobs = []
    if want("verify"):
        jobs.append(cache.job("verify", {"budget": sc.verify_budget, "seed": seed}, stage_verify,
                              (sc, seed, out, progress), done, threads=threads))
    if want("landscape") or want("crosscheck"):
        for name, inst in instances.items():
            jobs.append(cache.job(f"landscape-{name}", {"instance": inst.to_dict(), "starts": sc.landscape_starts,
                                                         "seed": seed},
                                  stage_landscape, (name, inst, sc, seed, out / "cache", progress), done,
                                  threads=threads))
    if want("crosscheck"):
        for name, inst in instances.items():
            if inst.parents is not None:
                continue
            ex35 = name == "example-3.5"
            jobs.append(cache.job(
                f"crosscheck-{name}", {"instance": inst.to_dict(), "starts": sc.crosscheck_starts,
                                       "steps": sc.crosscheck_steps, "device": device, "seed": seed,
                                       "bench_resampling": ex35}, stage_crosscheck,
                lambda name=name, inst=inst, ex35=ex35: (inst, done[f"landscape-{name}"], sc, device, seed, progress,
                                                         ex35),
                done, after=(f"landscape-{name}",), threads=threads))
    if want("bench"):
        jobs.append(cache.job("encoder", {"scale": sc.bench_scale, "device": device, "seed": seed}, stage_encoder,
                              (sc, device, seed), done, threads=threads))
    if want("real"):
        jobs.append(cache.job("real-digits", {"scale": sc.real_scale, "device": device, "seed": seed},
                              bench_stages.stage_real, (sc, device, seed, progress), done, threads=threads))
    return jobs


def reproduce(out: str | Path, scale: str = "small", device: str = "cpu", seed: int = 0, progress: bool = True,
              only: tuple[str, ...] | None = None, scheduler: str | None = None) -> dict:
    """Run the reproduction at a scale and write DIR/report.md, report.html, report.json and figures/.

    only: restrict to some stages (verify, landscape, crosscheck, bench, real), e.g. for `figures`.
    The stages not cached and the bench tables' distinct trainings run as one pool of jobs over the cores
    (pipeline/schedule.py: longest chain first, each exactly once, the numbers of a sequential run); on a
    GPU or with a Dask cluster at ``scheduler`` the trainings run there and the stages here beside them.
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
    import torch

    threads = torch.get_num_threads()     # every stage runs with this process's torch threads, wherever it runs
    instances = canonical_instances()
    done: dict[str, Any] = {}
    jobs = [j for j in stage_jobs(cache, want, sc, instances, out, device, seed, progress, done, threads)
            if j is not None]
    bench_out = None
    if want("bench") and device == "cpu" and scheduler is None:     # one pool: stages and trainings
        bench_out = bench_stages.run_bench_stages(cache, sc, device, seed, cache_dir, progress, None, extra=jobs)
    else:                       # trainings on a GPU or a Dask cluster; the stages here, beside them
        bench = bench_stages.Background(cache, sc, device, seed, cache_dir, progress, scheduler) \
            if want("bench") else None
        for _ in run_jobs(jobs, usable_cores() if device == "cpu" else 1):
            pass
        bench_out = bench.join() if bench is not None else None
    if want("verify"):
        report["verify"] = done["verify"]
    if want("landscape") or want("crosscheck"):
        report["landscapes"] = {name: done[f"landscape-{name}"] for name in instances}
    if want("crosscheck"):
        report["crosscheck"] = {name: done[f"crosscheck-{name}"] for name, inst in instances.items()
                                if inst.parents is None}
    if want("bench"):
        report["encoder"] = done["encoder"]
    if want("real"):
        report["real"] = done["real-digits"]
    if bench_out is not None:
        report["bench"], report["bench_run"] = bench_out
        report["bench_not_run"] = [t for t in SCALES["paper"].bench_tables if t not in sc.bench_tables]
    report["bench3d"] = cache.run("bench3d", {"seed": seed}, lambda: bench_stages.stage_bench3d(seed))
    report.update(cache.run("theory-figures", {"seed": seed}, lambda: stage_theory_figures(seed)))
    report["stages"] = cache.ordered(["verify", *(f"landscape-{n}" for n in instances),
                                      *(f"crosscheck-{n}" for n in instances), "encoder", "real-digits",
                                      *(f"bench-{t}" for t in sc.bench_tables)])
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
