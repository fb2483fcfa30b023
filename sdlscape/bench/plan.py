"""The bench's trainings planned before any runs: every (row configuration x seed) that some tables need, once.

A *job* is one seed of one row configuration: one training for a method with a hard budget k, a
coefficient search (bench/calibration.py: a few trainings on that seed) for a penalised one.  Rows of
different tables with the same configuration share their jobs (tau is not part of a training: Table 4's
n = 1000 rows are Table 1's ReLU rows, Table 7's k = 128 rows are Table 1's TopK rows).  A job depends on
nothing but its configuration (each search starts at calibration.first_coefficient), so jobs run inline,
in local processes (bench/plan_run.py) or on a Dask cluster with the same numbers.  The row cache (one
JSON per training, keyed by its configuration) is where they meet: a rerun reads every finished training
back, and a job whose trainings are all there is not run again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sdlscape.bench import experiments as ex
from sdlscape.bench.calibration import calibrate_seed, first_coefficient, search_coefficient, with_coef
from sdlscape.bench.tables import Row
from sdlscape.errors import InputError
from sdlscape.storage import read_cached, write_cached

SEARCH_COST = 2.0    # expected trainings of a coefficient search (measured: 1.5-2.4 per seed), for ordering


@dataclass(frozen=True)
class Job:
    """One seed of one row configuration."""

    id: str                  # the configuration's key before a coefficient is fixed (Resolved.key)
    res: ex.Resolved
    search: bool             # a penalised code: a coefficient search on this seed

    @property
    def cost(self) -> float:
        """Relative cost, for longest-first ordering: steps x batch x latents x (input + output width)."""
        b, t = self.res.bench, self.res.train
        width = b.n_p * (b.n_sources if b.kind == "crosscoder" else 1)
        return t.steps * t.batch_size * t.n_latents * 2 * width * (SEARCH_COST if self.search else 1.0)


@dataclass
class TablePlan:
    table: str
    title: str
    rows: list[Row]
    jobs: list[list[str]]    # per row, the job id of each seed


@dataclass
class Plan:
    scale: str
    device: str
    seed: int
    tables: dict[str, TablePlan] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)

    def tables_of(self, job_id: str) -> list[str]:
        return [t for t, tp in self.tables.items() if any(job_id in ids for ids in tp.jobs)]

    def longest_first(self, ids) -> list[str]:
        return sorted(ids, key=lambda i: -self.jobs[i].cost)


def make_plan(tables: dict[str, tuple[list[Row], str]], scale: str, device: str = "cpu", seed: int = 0,
              seeds: int | None = None, steps: int | None = None, n_latents: int | None = None) -> Plan:
    """The jobs of some tables ({name: (rows, title)}) at a scale, shared rows planned once."""
    if scale not in ex.SCALES:
        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(ex.SCALES)}")
    sc = ex.SCALES[scale]
    n_seeds = sc.seeds if seeds is None else seeds
    if n_seeds < 1:
        raise InputError(f"seeds must be >= 1, got {n_seeds}")
    plan = Plan(scale, device, seed)
    for name, (rows, title) in tables.items():
        ids = []
        for row in rows:
            row_ids = []
            for s in range(n_seeds):
                res = ex.resolve(row, sc, device, seed + s, n_latents, steps)
                job = Job(res.key(), res, res.settings.get("calibration") == "search")
                plan.jobs.setdefault(job.id, job)
                row_ids.append(job.id)
            ids.append(row_ids)
        plan.tables[name] = TablePlan(name, title, list(rows), ids)
    return plan


# ---------------------------------------------------------------- one job

class _NotCached(Exception):
    pass


def run_job(job: Job, cache_dir: str | None = None, known: dict | None = None, train: bool = True) -> dict | None:
    """The job's trainings: from ``known`` or the row cache, else trained now (and written to the cache).

    Returns {"id", "coef", "trials", "final", "trainings": {key: measured}, "trained_now": [keys]}; with
    train=False, None when some training is not cached (the search is replayed from cached trainings only).
    """
    cache = Path(cache_dir) if cache_dir else None
    got: dict[str, dict] = dict(known or {})
    now: list[str] = []

    def measured(res: ex.Resolved) -> dict:
        key = res.key()
        if key not in got and cache is not None and (hit := read_cached(cache / f"{key}.json", ex.ROW_KEYS)):
            got[key] = hit
        if key not in got:
            if not train:
                raise _NotCached(key)
            got[key] = ex.train_and_measure(res)
            now.append(key)
            if cache is not None and cache.is_dir():     # a remote worker without the folder: the caller writes
                try:
                    write_cached(cache / f"{key}.json", got[key])
                except OSError:
                    pass
        return got[key]

    try:
        if job.search:
            tuned = calibrate_seed(job.res, lambda r: measured(r)["l0"])
            coef, trials = tuned.settings["coef"], [(t["coef"], t["l0"]) for t in tuned.settings["coef_search"]]
        else:
            tuned, coef, trials = job.res, None, None
        measured(tuned)
    except _NotCached:
        return None
    return {"id": job.id, "coef": coef, "trials": trials, "final": tuned.key(), "trainings": got,
            "trained_now": now}


def cached_trials(job: Job, cache_dir: str | None) -> dict:
    """The trainings of a job's (replayed) search that the row cache already holds, to send with the job."""
    if not job.search or not cache_dir:
        return {}
    got = {}

    def measure(res):
        hit = read_cached(Path(cache_dir) / f"{res.key()}.json", ex.ROW_KEYS)
        if hit is None:
            raise _NotCached(res.key())
        got[res.key()] = hit
        return got[res.key()]["l0"]

    try:
        search_coefficient(job.res, measure, first_coefficient(job.res))
    except _NotCached:
        pass
    return got


# ---------------------------------------------------------------- assembling tables

def tuned_of(job: Job, result: dict) -> ex.Resolved:
    """The job's configuration at the coefficient its search found, with the search recorded."""
    if not job.search:
        return job.res
    tuned = with_coef(job.res, result["coef"])
    tuned.settings["coef_search"] = [{"coef": c, "l0": l0} for c, l0 in result["trials"]]
    return tuned


def assemble(plan: Plan, table: str, results: dict[str, dict]) -> dict:
    """One table's rows (experiments.aggregate of summarize per seed) and its training accounting.

    trainings / train_seconds: every distinct training the table's rows used (search trials included);
    shared_*: those that other tables of the plan used too; own_train_seconds: the table's share when each
    training is counted once, in the first table of the plan that uses it.
    """
    tp = plan.tables[table]
    rows = []
    for row, ids in zip(tp.rows, tp.jobs):
        per_seed = []
        for i in ids:
            job, r = plan.jobs[i], results[i]
            tuned = tuned_of(job, r)
            per_seed.append({**ex.summarize(row, tuned, r["trainings"][r["final"]]), "seed": tuned.train.seed})
        rows.append(ex.aggregate(per_seed))
    acc = training_accounting(plan, results)
    return {"table": table, "title": tp.title, "rows": rows, **acc[table]}


def training_accounting(plan: Plan, results: dict[str, dict]) -> dict[str, dict]:
    """Per table: its distinct trainings and seconds, the part shared with other tables, its own share."""
    keys = {t: {} for t in plan.tables}
    for t, tp in plan.tables.items():
        for i in {i for ids in tp.jobs for i in ids}:
            for k, m in results[i]["trainings"].items():     # the job's own trainings only (run_job)
                keys[t][k] = float(m.get("train_seconds") or 0.0)
    owner: dict[str, str] = {}
    for t in plan.tables:
        for k in keys[t]:
            owner.setdefault(k, t)
    out = {}
    for t, ks in keys.items():
        shared = {k: s for k, s in ks.items() if sum(k in keys[o] for o in plan.tables) > 1}
        others = sorted({o for o in plan.tables if o != t and any(k in keys[o] for k in shared)})
        own = [s for k, s in ks.items() if owner[k] == t]
        out[t] = {"trainings": len(ks), "train_seconds": float(sum(ks.values())),
                  "shared_trainings": len(shared), "shared_train_seconds": float(sum(shared.values())),
                  "shared_with": others, "own_trainings": len(own), "own_train_seconds": float(sum(own))}
    return out

