"""The paper's bench experiments (Tables 1, 4, 5, 6, 7) as named configurations, with a resumable runner.

Scales.  ``paper``: n = 1000, n_p = n_r = 768, n_latents = 16000, N = 100,000, 100 anchors.
``small`` (CPU, minutes per table): sizes divided by 20 -- n = 50, n_p = 38, n_latents = 800,
5 anchors -- keeping n/n_p (1.3) and n_latents/n (16); p_active multiplied by 10, so the expected
number of active features per sample n * p_active is 5 (paper: 10); TopK's k divided by 8 (paper
k = 32/64/128 -> 4/8/16), between keeping k / L0 (divide by 2) and keeping k / n_latents (divide
by 20): with k / 2 = 64 of 800 latents no feature was recovered in our calibration runs;
N = 10,000 so each feature occurs in N * p_active = 1000 samples as in the paper; Adam, 3000
steps of 128 samples (about 38 epochs), lr 3e-3.  Interference bounds M and thresholds tau are
unchanged.  The price: the paper's p_active = 0.1 becomes 1.0 at small scale (every feature
always active; Table 6's last column).

Sparsity convention: every row records ``p_active`` (Pr(feature active)) in paper units and the
value used.  The paper's "S = 0.99" default is read as p_active = 0.01 and Table 6's
"S in {0.005, 0.01, 0.05, 0.1}" as p_active values (PAPER.md, note on S).

Unstated in the paper, our choices (recorded in every result): TopK default k = 128 (Table 7's
k = 128 row matches the Table 1/5 TopK level); transcoder and crosscoder use TopK; crosscoder has
2 sources; anchoring uses lambda_anchor = 0.1 with 10% of the features as anchors (Table 4's
setting) for every table; the anchored features are left out of the metrics of *both* the plain
and the anchored row so that the two are compared on the same features.
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
from sdlscape.bench.lrb import Bench, BenchConfig, make_bench
from sdlscape.bench.methods import METHODS, method as get_method
from sdlscape.errors import InputError
from sdlscape.solvers.gradient import TrainConfig, train_sdl

CODE_VERSION = 1   # bump when a change alters trained numbers (invalidates caches)
TAUS = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2)) + (0.99,)


@dataclass(frozen=True)
class Scale:
    name: str
    factor: int            # paper sizes / this scale's sizes
    p_factor: float        # p_active used = p_active (paper units) * p_factor (capped at 1)
    k_factor: float        # k used = round(k (paper units) * k_factor)
    n: int
    n_p: int
    n_latents: int
    n_samples: int
    n_anchors: int
    steps: int
    batch_size: int
    lr: float
    n_eval: int = 4096


SCALES = {
    "paper": Scale("paper", 1, 1.0, 1.0, 1000, 768, 16000, 100_000, 100, steps=10_000, batch_size=1024, lr=1e-3),
    "small": Scale("small", 20, 10.0, 0.125, 50, 38, 800, 10_000, 5, steps=3000, batch_size=128, lr=3e-3),
}

DEFAULTS = {"n": 1000, "p_active": 0.01, "M": 0.1, "k": 128, "anchor_coef": 0.1}


@dataclass(frozen=True)
class Row:
    """One table row in paper units (None = the default); resolved against a Scale to run."""

    method: str
    anchoring: bool
    tau: float = 0.9
    n: int | None = None
    p_active: float | None = None
    M: float | None = None
    k: int | None = None
    paper_M_GT: float | None = None
    paper_M_IP: float | None = None
    paper_note: str | None = None


def _pair(method, plain, fa, tau=0.9, note=None, **kw):
    """Plain and anchored rows; plain/fa are (M_GT, M_IP) in paper units or None."""
    plain, fa = plain or (None, None), fa or (None, None)
    return [Row(method, False, tau, paper_M_GT=plain[0], paper_M_IP=plain[1], paper_note=note, **kw),
            Row(method, True, tau, paper_M_GT=fa[0], paper_M_IP=fa[1], paper_note=note, **kw)]


TABLE1_PAPER = {
    "relu": ((0.0, 0.205), (0.0, 0.246)),
    "jumprelu": ((0.0, 0.237), (0.0, 0.333)),
    "topk": ((0.8490, 0.983), (0.8763, 0.986)),
    "batchtopk": ((0.8480, 0.981), (0.8938, 0.988)),
    "matryoshka": ((0.8370, 0.982), (0.8732, 0.985)),
    "transcoder": ((0.2360, 0.838), (0.2505, 0.838)),
    "crosscoder": ((0.5642, 0.940), (0.5771, 0.941)),
}
SAE_FIVE = ("relu", "jumprelu", "topk", "batchtopk", "matryoshka")


def _table1():
    return [r for m, (p, f) in TABLE1_PAPER.items() for r in _pair(m, p, f, tau=0.95)]


def _table4():
    fa = {800: 1.0, 900: 0.9889, 1000: 0.8550, 1100: 0.5809, 1200: 0.3058, 1300: 0.1523, 1400: 0.0857}
    rows = []
    for n, g in fa.items():
        ip = (0.36, 0.44) if n == 800 else (None, None)
        rows += _pair("relu", (0.0, ip[0]), (g, ip[1]), n=n)
    return rows


def _table5():
    paper_zero = {"relu": (0.0, None), "jumprelu": (0.0, None)}   # the paper: 0% for ReLU and JumpReLU
    rows = []
    for M in (0.05, 0.2, 0.5):
        for m in SAE_FIVE:
            if m in paper_zero:
                rows += _pair(m, paper_zero[m], paper_zero[m], M=M)
            else:
                rows += _pair(m, None, None, M=M, note="paper gives only the range 83.7-90.7% for the TopK family")
    return rows


def _table6():
    # the paper's other Table 6 numbers quoted in PAPER.md: (p_active, method) -> (plain, anchored)
    quoted = {(0.005, "jumprelu"): ((0.118, None), (0.748, None)), (0.1, "topk"): ((0.988, None), None)}
    rows = []
    for p in (0.005, 0.01, 0.05, 0.1):
        for m in SAE_FIVE:
            plain, fa = quoted.get((p, m), (None, None))
            note = None
            if p == 0.01:
                plain, fa = TABLE1_PAPER[m]
                note = "paper: the p_active = 0.01 rows equal Table 1 (tau = 0.95 there)"
            rows += _pair(m, plain, fa, p_active=p, note=note)
    return rows


def _table7():
    plain = {32: 1.0, 64: 0.939, 128: 0.867}
    fa = {32: 1.0, 64: 0.934, 128: 0.880}
    return [r for k in (32, 64, 128) for r in _pair("topk", (plain[k], None), (fa[k], None), k=k)]


TABLES = {"table1": _table1, "table4": _table4, "table5": _table5, "table6": _table6, "table7": _table7}
TABLE_TITLES = {
    "table1": "Table 1: all methods, default bench, tau = 0.95",
    "table4": "Table 4: ReLU SAE, number of features n varied (n_p fixed)",
    "table5": "Table 5: max interference M varied",
    "table6": "Table 6: activation probability p_active varied",
    "table7": "Table 7: TopK k varied",
}


def table_rows(table: str) -> list[Row]:
    if table not in TABLES:
        raise InputError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    return TABLES[table]()


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
    n = max(2, round(n_paper / scale.factor))
    p = min(1.0, p_paper * scale.p_factor)
    k_used = max(1, round(k * scale.k_factor))
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
                "anchor_coef": train.anchor_coef, "tau": row.tau}
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


def run_rows(rows: list[Row], scale: str, device: str = "cpu", seed: int = 0, cache_dir=None,
             progress: bool = False, n_latents: int | None = None, steps: int | None = None) -> list[dict]:
    """Run rows (training each distinct configuration once), caching finished ones by hash."""
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    sc = SCALES[scale]
    resolved = [resolve(r, sc, device, seed, n_latents, steps) for r in rows]
    cache = Path(cache_dir) if cache_dir else None
    done: dict[str, dict] = {}
    out = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(rows), desc=f"{scale} rows", mininterval=0.5)
    from sdlscape.storage import write_json

    for row, res in zip(rows, resolved):
        key = res.key()
        path = cache / f"{key}.json" if cache else None
        if key not in done and path is not None and path.exists():
            done[key] = json.loads(path.read_text())
        if key not in done:
            done[key] = train_and_measure(res, progress=progress)
            if path is not None:
                write_json(path, done[key])
        out.append(summarize(row, res, done[key]))
        if bar is not None:
            bar.set_postfix(method=row.method, M_GT=f"{out[-1]['M_GT']:.3f}")
            bar.update(1)
    if bar is not None:
        bar.close()
    return out


def conventions(scale: str) -> dict:
    sc = SCALES[scale]
    return {
        "sparsity": "p_active = Pr(feature active); paper 'S = 0.99' read as p_active = 0.01, "
                    "Table 6's S values read as p_active",
        "scale": asdict(sc),
        "scaling": "small: n, n_p, n_latents, anchors / 20; p_active x 10 (L0 = 5 vs paper 10); k / 8; "
                   "N = 10,000 (N*p_active = 1000 as paper); 3000 Adam steps, batch 128, lr 3e-3; M, tau unchanged"
                   if sc.factor != 1 else "paper sizes",
        "metrics": "M_GT/M_IP on encoder rows (as the paper) and on decoder columns; anchored features "
                   "excluded from both plain and anchored rows; MCC/uniqueness as SAELens (decoder)",
        "defaults_paper_units": DEFAULTS,
        "bench": {"eps": 1e-3, "lambda": 1e-3, "pgd_step": 0.05, "c_min": 0.0, "beta_mean": 1.0,
                  "crosscoder_sources": 2},
    }


def run_table(table: str, scale: str = "small", device: str = "cpu", seed: int = 0, cache_dir=None,
              progress: bool = False, steps: int | None = None) -> dict:
    """Run one paper table; returns the bench result dict (ARCHITECTURE.md 'bench' keys).

    steps overrides the scale's number of training steps (recorded in each row's settings).
    """
    rows = table_rows(table)
    t0 = time.perf_counter()
    out_rows = run_rows(rows, scale, device, seed, cache_dir, progress, steps=steps)
    return {"table": table, "title": TABLE_TITLES[table], "scale": scale, "device": device, "seed": seed,
            "rows": out_rows, "conventions": conventions(scale), "seconds": time.perf_counter() - t0}


def run_custom(method: str, scale: str = "small", device: str = "cpu", seed: int = 0, anchoring: bool = False,
               tau: float = 0.9, n: int | None = None, p_active: float | None = None, M: float | None = None,
               k: int | None = None, n_latents: int | None = None, cache_dir=None, progress: bool = False,
               steps: int | None = None) -> dict:
    """One configurable row (paper units), e.g. for quick checks from the command line."""
    row = Row(method, anchoring, tau, n=n, p_active=p_active, M=M, k=k)
    t0 = time.perf_counter()
    rows = run_rows([row], scale, device, seed, cache_dir, progress, n_latents=n_latents, steps=steps)
    return {"table": "custom", "title": f"custom run: {method}", "scale": scale, "device": device, "seed": seed,
            "rows": rows, "conventions": conventions(scale), "seconds": time.perf_counter() - t0}
