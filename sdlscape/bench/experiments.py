"""Running the paper's bench tables at a scale: resolving rows, training seeds, measuring, aggregating.

Scales and their regime: bench/scales.py; the tables' rows and the paper's numbers: bench/tables.py.
Each row is trained with ``Scale.seeds`` seeds (a fresh bench and initialisation each); the result
row holds the mean of every metric under its name and the sample sd under ``<name>_sd``.
Methods whose sparsity is a coefficient (methods.Method.calibrated: ReLU, JumpReLU, gated) are
calibrated toward target L0 = TARGET_L0_FACTOR x n p_active by a search over fixed coefficients on each
seed (:func:`calibrate_seeds`, :func:`search_coefficient`); every row records the target, the L0
reached and each seed's search (``l0``, ``target_l0``, per_seed[].coef_search).

Why a search (bench/calibration.py) and not the trainer's adaptive coefficient (solvers/gradient.py, _Calibrator; still a
TrainConfig option): measured at small scale, the adaptive ReLU L1 ended 10-22% below its target in
Table 4 (L0 keeps falling while the controller lags), and JumpReLU's L0 does not follow its coefficient
back down -- once an overshoot raises the thresholds above a latent's pre-activations the straight-through
estimator gives them no gradient (coef 0.03 at the end, L0 0.28 for target 0.5) -- whereas fixed
coefficients from the start give L0 0.41 (0.3) and 0.32 (0.6).

Sparsity convention: ``p_active`` = Pr(feature active); the paper's "S = 0.99" is p_active = 0.01
and Table 6's S values are p_active values (PAPER.md, note on S).  The anchored features are left
out of the metrics of *both* the plain and the anchored row so the two are compared on the same
features.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from sdlscape.bench import metrics as mt
from sdlscape.bench.calibration import SEARCH_TOL, SEARCH_TRIALS, calibrate_seeds
from sdlscape.bench.lrb import Bench, BenchConfig, make_bench
from sdlscape.bench.methods import METHODS
from sdlscape.bench.methods import method as get_method
from sdlscape.bench.scales import DEFAULTS, SCALES, TARGET_L0_FACTOR, Scale
from sdlscape.bench.tables import TABLE_TITLES, TABLES, Row, table_rows
from sdlscape.errors import InputError
from sdlscape.solvers.gradient import TrainConfig, train_sdl

__all__ = ["DEFAULTS", "SCALES", "Scale", "Row", "TABLES", "TABLE_TITLES", "table_rows", "resolve", "run_rows",
           "run_table", "run_custom", "train_and_measure", "summarize", "aggregate"]

CODE_VERSION = 3   # bump when a change alters trained numbers (invalidates caches)
TAUS = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2)) + (0.99,)
ROW_KEYS = ("key", "enc_best", "dec_best", "mcc_decoder", "mcc_encoder", "uniqueness_decoder", "fvu", "dead_fraction",
            "l0", "anchored_encoder_cos", "final_loss", "train_seconds")   # a row cache entry lacking one is damaged



# ---------------------------------------------------------------- resolving a row at a scale

@dataclass(frozen=True)
class Resolved:
    bench: BenchConfig
    train: TrainConfig
    n_anchors: int
    anchor_seed: int
    settings: dict = field(default_factory=dict)
    n_eval: int = 4096

    def key(self) -> str:
        blob = json.dumps({"bench": asdict(self.bench), "train": asdict(self.train), "n_anchors": self.n_anchors,
                           "anchor_seed": self.anchor_seed, "v": CODE_VERSION}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def resolve(row: Row, scale: Scale, device: str = "cpu", seed: int = 0, n_latents: int | None = None,
            steps: int | None = None) -> Resolved:
    """Bench and training configurations of a row at a scale (paper units -> scale units)."""
    meth = get_method(row.method)
    kind, activation = meth.kind, meth.code
    n_paper = row.n or DEFAULTS["n"]
    p_paper = row.p_active if row.p_active is not None else DEFAULTS["p_active"]
    if not (0.0 < p_paper <= 1.0):
        raise InputError(f"p_active must be in (0, 1], got {p_paper}")
    M = row.M if row.M is not None else DEFAULTS["M"]
    k = row.k if row.k is not None else DEFAULTS["k"]
    n = scale.n_of(n_paper)
    p = p_paper
    k_used = scale.k(k)
    target_l0 = TARGET_L0_FACTOR * n * p if meth.calibrated else None
    if meth.uses_k and not 1 <= k_used <= (n_latents or scale.n_latents):
        raise InputError(f"k={k} (k={k_used} at scale {scale.name}) must be in [1, n_latents="
                         f"{n_latents or scale.n_latents}]")
    bench = BenchConfig(n=n, n_p=scale.n_p, n_samples=scale.n_samples, p_active=p, max_interference=M,
                        kind=kind, n_r=scale.n_p, n_sources=2, seed=seed)
    bench.validate()
    train = TrainConfig(activation=activation, n_latents=n_latents or scale.n_latents, k=k_used,
                        steps=scale.steps if steps is None else steps,
                        batch_size=scale.batch_size, lr=scale.lr, seed=seed, device=device,
                        anchor_coef=DEFAULTS["anchor_coef"] if row.anchoring else 0.0)
    train.validate()
    n_anchors = min(scale.n_anchors, n)
    settings = {"n_paper": n_paper, "p_active_paper": p_paper, "p_active_used": p, "n_used": n, "M": M, "k": k,
                "k_used": k_used, "n_latents": train.n_latents, "steps": train.steps,
                "kind": kind, "activation": activation, "n_anchors": n_anchors,
                "anchor_coef": train.anchor_coef, "tau": row.tau,
                "target_l0": target_l0, "target_l0_factor": TARGET_L0_FACTOR if meth.calibrated else None,
                "calibration": "search" if meth.calibrated else None}
    return Resolved(bench, train, n_anchors, seed + 101, settings, scale.n_eval)


def anchor_indices(n: int, n_anchors: int, seed: int) -> np.ndarray:
    """The true features used as anchors: n_anchors of n, at random (seeded)."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n_anchors, n), replace=False))


def ground_truth_anchors(bench: Bench, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(A_in: a x d_in unit rows, A_out: d_out x a unit columns) from true features (Sec. 4)."""
    ti = bench.truth_in[:, torch.as_tensor(idx)]
    to = bench.truth_out[:, torch.as_tensor(idx)]
    return (ti / ti.norm(dim=0, keepdim=True)).t().contiguous(), to / to.norm(dim=0, keepdim=True)


# ---------------------------------------------------------------- running

_BENCHES: dict[tuple[str, str], Bench] = {}


def get_bench(config: BenchConfig, device: str) -> Bench:
    key = (config.key(), device)
    if key not in _BENCHES:
        if len(_BENCHES) > 4:
            _BENCHES.clear()
        _BENCHES[key] = make_bench(config, device)
    return _BENCHES[key]


def train_and_measure(res: Resolved, progress: bool = False, anchors=None, return_model: bool = False) -> dict:
    """Train the row's model and measure it; tau-free (keeps best-match arrays for any tau).

    anchors: explicit (A_in, A_out) to use instead of ground-truth anchors (then nothing is excluded).
    """
    t0 = time.perf_counter()
    bench = get_bench(res.bench, res.train.device)
    if anchors is not None:
        idx = np.zeros(0, dtype=int)
    else:
        idx = anchor_indices(res.bench.n, res.n_anchors, res.anchor_seed)
        anchors = ground_truth_anchors(bench, idx) if res.train.anchor_coef > 0 else None
    out = train_sdl(bench.x_in, None if bench.x_out is bench.x_in else bench.x_out, res.train,
                    anchors=anchors, progress=progress)
    model = out.model
    WE = model.W_E.detach().float().cpu().numpy()
    WD = model.W_D.detach().float().cpu().numpy().T
    ti, to = bench.truth_in.cpu().numpy(), bench.truth_out.cpu().numpy()
    enc = mt.feature_recovery(WE, ti, 0.0, exclude=idx)["best"]
    dec = mt.feature_recovery(WD, to, 0.0, exclude=idx)["best"]
    enc_all = mt.feature_recovery(WE, ti, 0.0)["best"]
    readers = mt.reader_directions(ti)
    enc_reader = mt.feature_recovery(WE, readers, 0.0, exclude=idx)["best"]
    reader_truth = np.abs(np.sum(mt._rows_unit(readers.T) * mt._rows_unit(ti.T), axis=1))
    xe_in, xe_out = bench.sample(res.n_eval, seed=res.bench.seed + 999_983)
    with torch.no_grad():
        q = model.encode(xe_in)
        rec = model.decode_codes(model.codes(xe_in))
    anchored_cos = None
    if anchors is not None and res.train.anchor_coef > 0:
        a = anchors[0].shape[0]
        anchored_cos = float(np.mean(np.abs(np.sum(mt._rows_unit(WE[:a]) * mt._rows_unit(anchors[0].cpu().numpy()), 1))))
    result = {
        "key": res.key(),
        "enc_best": enc.tolist(), "dec_best": dec.tolist(), "enc_best_all": enc_all.tolist(),
        "enc_reader_best": enc_reader.tolist(), "reader_truth_cos": reader_truth.tolist(),
        "anchor_features": idx.tolist(),
        "mcc_decoder": mt.mcc(WD, to), "mcc_encoder": mt.mcc(WE, ti),
        "uniqueness_decoder": mt.uniqueness(WD, to),
        "fvu": mt.fvu(xe_out.cpu().numpy(), rec.cpu().numpy()),
        "dead_fraction": mt.dead_fraction(q.cpu().numpy()),
        "l0": float((q > 0).float().sum(1).mean()),
        "anchored_encoder_cos": anchored_cos,
        "final_loss": out.history["loss"][-1] if out.history["loss"] else None,
        "final_coef": out.final_coef,
        "train_seconds": out.seconds, "seconds": time.perf_counter() - t0,
    }
    if return_model:
        result["_model"] = model
    return result


def summarize(row: Row, res: Resolved, m: dict) -> dict:
    """A result row: the paper's metrics at the row's tau (encoder rows, as the paper) and extras."""
    enc, dec = np.asarray(m["enc_best"]), np.asarray(m["dec_best"])
    tau = row.tau
    out = {
        "method": row.method, "label": METHODS[row.method].label, "anchoring": row.anchoring,
        "M_GT": float(np.mean(enc > tau)), "M_IP": float(np.mean(enc)),
        "paper_M_GT": row.paper_M_GT, "paper_M_IP": row.paper_M_IP,
        "M_GT_decoder": float(np.mean(dec > tau)), "M_IP_decoder": float(np.mean(dec)),
        "curve_encoder": {str(t): float(np.mean(enc > t)) for t in TAUS},
        "curve_decoder": {str(t): float(np.mean(dec > t)) for t in TAUS},
        **{k: m[k] for k in ("mcc_decoder", "mcc_encoder", "uniqueness_decoder", "fvu", "dead_fraction", "l0",
                              "anchored_encoder_cos", "final_loss", "train_seconds", "key")},
        "final_coef": m.get("final_coef") if m.get("final_coef") is not None else res.settings.get("coef"),
        "target_l0": res.settings.get("target_l0"),
        "settings": res.settings,
    }
    if "enc_reader_best" in m:   # where the encoder rows went: the least-squares readers (metrics.reader_directions)
        er = np.asarray(m["enc_reader_best"])
        out["M_GT_encoder_vs_reader"] = float(np.mean(er > tau))
        out["M_IP_encoder_vs_reader"] = float(np.mean(er))
        out["reader_truth_cos_mean"] = float(np.mean(m["reader_truth_cos"]))
    if row.paper_note:
        out["paper_note"] = row.paper_note
    return out


AGGREGATED = ("M_GT", "M_IP", "M_GT_decoder", "M_IP_decoder", "mcc_decoder", "mcc_encoder", "uniqueness_decoder",
              "fvu", "dead_fraction", "l0", "final_coef", "anchored_encoder_cos", "M_GT_encoder_vs_reader",
              "M_IP_encoder_vs_reader", "reader_truth_cos_mean", "train_seconds")


def aggregate(per_seed: list[dict]) -> dict:
    """One row from its seeds: the mean of each metric under its name, the sample sd under <name>_sd."""
    out = {k: v for k, v in per_seed[0].items() if k not in AGGREGATED and not k.startswith("curve_")}
    for k in AGGREGATED:
        vals = [r[k] for r in per_seed if r.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
        out[f"{k}_sd"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    for c in ("curve_encoder", "curve_decoder"):
        out[c] = {t: float(np.mean([r[c][t] for r in per_seed])) for t in per_seed[0][c]}
    out["seeds"] = [r["seed"] for r in per_seed]
    out["n_seeds"] = len(per_seed)
    if isinstance(out.get("settings"), dict):     # a seed's own coefficient and search live in per_seed
        out["settings"] = {k: v for k, v in out["settings"].items() if k not in ("coef", "coef_search")}
    out["per_seed"] = [{**{k: r.get(k) for k in ("seed", "M_GT", "M_GT_decoder", "l0", "fvu", "key")},
                        **({"coef": r["settings"]["coef"], "coef_search": r["settings"].get("coef_search")}
                           if "coef" in r.get("settings", {}) else {})} for r in per_seed]
    out["keys"] = [r["key"] for r in per_seed]
    return out


def run_rows(rows: list[Row], scale: str, device: str = "cpu", seed: int = 0, cache_dir=None,
             progress: bool = False, n_latents: int | None = None, steps: int | None = None,
             seeds: int | None = None, stats: dict | None = None) -> list[dict]:
    """Run rows over seeds seed, seed+1, ... (training each distinct configuration once), caching by hash.

    stats (if given) receives ``trainings`` (distinct configurations, coefficient-search trials included)
    and ``train_seconds`` (their summed training time, whether trained now or read from the cache).
    """
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    sc = SCALES[scale]
    n_seeds = sc.seeds if seeds is None else seeds
    if n_seeds < 1:
        raise InputError(f"seeds must be >= 1, got {n_seeds}")
    resolved = [[resolve(r, sc, device, seed + s, n_latents, steps) for s in range(n_seeds)] for r in rows]
    cache = Path(cache_dir) if cache_dir else None
    done: dict[str, dict] = {}
    out = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(rows) * n_seeds, desc=f"{scale} rows x seeds", mininterval=0.5)
    from sdlscape.storage import read_cached, write_cached

    def measured(res: Resolved) -> dict:
        key = res.key()
        path = cache / f"{key}.json" if cache else None
        if key not in done and path is not None and (cached := read_cached(path, ROW_KEYS)) is not None:
            done[key] = cached
        if key not in done:
            done[key] = train_and_measure(res, progress=progress)
            if path is not None:
                write_cached(path, done[key])
        return done[key]

    for row, group in zip(rows, resolved):
        if group[0].settings.get("calibration") == "search":
            group = calibrate_seeds(group, lambda r: measured(r)["l0"])
        per_seed = []
        for res in group:
            per_seed.append({**summarize(row, res, measured(res)), "seed": res.train.seed})
            if bar is not None:
                bar.set_postfix(method=row.method, M_GT=f"{per_seed[-1]['M_GT']:.3f}")
                bar.update(1)
        out.append(aggregate(per_seed))
    if bar is not None:
        bar.close()
    if stats is not None:
        stats["trainings"] = len(done)
        stats["train_seconds"] = float(sum(m.get("train_seconds") or 0.0 for m in done.values()))
    return out


def conventions(scale: str) -> dict:
    sc = SCALES[scale]
    return {
        "sparsity": "p_active = Pr(feature active); paper 'S = 0.99' read as p_active = 0.01, "
                    "Table 6's S values read as p_active",
        "scale": sc.as_dict(),
        "regime": sc.regime(),
        "scaling": sc.regime_text(),
        "calibration": f"relu / jumprelu / gated: target L0 = {TARGET_L0_FACTOR:g} x n p_active, reached by a "
                       f"search over fixed coefficients per seed (secant in log L0 vs log coef, until within "
                       f"+-{SEARCH_TOL:.0%} or {SEARCH_TRIALS} trainings; later seeds start at the first seed's "
                       "coefficient; per_seed[].coef_search); the L0 reached (held-out samples) is column l0",
        "seeds": f"{sc.seeds} seed(s) per row (bench and initialisation); <metric> = mean, <metric>_sd = sample sd",
        "metrics": "M_GT/M_IP on encoder rows (as the paper) and on decoder columns; anchored features "
                   "excluded from both plain and anchored rows; MCC/uniqueness as SAELens (decoder)",
        "defaults_paper_units": DEFAULTS,
        "bench": {"eps": 1e-3, "lambda": 1e-3, "pgd_step": 0.05, "c_min": 0.0, "beta_mean": 1.0,
                  "crosscoder_sources": 2},
    }


def run_table(table: str, scale: str = "small", device: str = "cpu", seed: int = 0, cache_dir=None,
              progress: bool = False, steps: int | None = None, seeds: int | None = None,
              methods: tuple[str, ...] | None = None) -> dict:
    """Run one paper table; returns the bench result dict (ARCHITECTURE.md 'bench' keys).

    steps overrides the scale's number of training steps (recorded in each row's settings); methods
    keeps only those methods' rows (the title says so).
    """
    rows = table_rows(table)
    title = TABLE_TITLES[table]
    if methods is not None:
        rows = [r for r in rows if r.method in methods]
        if not rows:
            raise InputError(f"{table} has no rows for methods {', '.join(methods)}")
        title += f" -- rows of {', '.join(methods)} only"
    t0 = time.perf_counter()
    stats: dict = {}
    out_rows = run_rows(rows, scale, device, seed, cache_dir, progress, steps=steps, seeds=seeds, stats=stats)
    return {"table": table, "title": title, "scale": scale, "regime": SCALES[scale].regime_text(), "device": device, "seed": seed,
            "rows": out_rows, "conventions": conventions(scale), "seconds": time.perf_counter() - t0,
            "trainings": stats["trainings"], "train_seconds": stats["train_seconds"]}


def run_custom(method: str, scale: str = "small", device: str = "cpu", seed: int = 0, anchoring: bool = False,
               tau: float = 0.9, n: int | None = None, p_active: float | None = None, M: float | None = None,
               k: int | None = None, n_latents: int | None = None, cache_dir=None, progress: bool = False,
               steps: int | None = None) -> dict:
    """One configurable row (paper units), e.g. for quick checks from the command line."""
    row = Row(method, anchoring, tau, n=n, p_active=p_active, M=M, k=k)
    t0 = time.perf_counter()
    rows = run_rows([row], scale, device, seed, cache_dir, progress, n_latents=n_latents, steps=steps, seeds=1)
    return {"table": "custom", "title": f"custom run: {method}", "scale": scale, "device": device, "seed": seed,
            "rows": rows, "conventions": conventions(scale), "seconds": time.perf_counter() - t0}
