"""The anchoring experiment: plain vs eq. 26 vs each of its terms vs variants without the norm artefact.

``sdlscape bench anchoring --scale small|medium|paper [--methods topk,relu] [--sizes 100,250] --json OUT``.
Each (scale, method, variant, seed) is one training of bench/experiments.py's Table 1 default row (tau
0.95), anchored with ground-truth anchors by the variant's term (solvers/anchor_terms.py), or not
("plain"); a seed fixes the bench, the initialisation and the anchor features, so the variants of one
seed differ only by their anchoring term and are compared *paired*.  The anchored features are left out
of every recovery metric (plain included).  Penalised codes (ReLU) are calibrated to the target L0 per
variant and seed (bench/calibration.py), each anchored variant's search starting at plain's coefficient.

Per training: non-anchored decoder M_GT at 0.95 and 0.9, encoder M_GT(0.95) and M_IP, FVU, dead fraction,
L0, and the mechanism's numbers: the anchored latents' firing rate against their features' rate (and the
fraction of their firings where the feature is active), and the anchored encoder rows' norm against the
trained rows' (the plain run's "anchored latents" are the latents whose decoder column matches each
anchor feature best).  Noise test: a two-sided paired t-test over seeds on the difference to plain
(alpha 0.05); "helps" / "hurts" only when p < 0.05 and every seed moves the same way.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from sdlscape.bench import metrics as mt
from sdlscape.bench.calibration import search_coefficient, with_coef
from sdlscape.bench.experiments import Resolved, get_bench, resolve, train_and_measure
from sdlscape.bench.lrb import sample_coefficients
from sdlscape.bench.scales import SCALES, Scale
from sdlscape.bench.tables import TABLE1_PAPER, Row
from sdlscape.errors import InputError
from sdlscape.solvers.anchor_terms import VARIANTS as TERMS

VARIANTS = ("plain", *TERMS)
DESCRIPTIONS = {"plain": "no anchoring", **TERMS}
METHODS = ("topk", "relu")
TAU = 0.95
ALPHA = 0.05
NOISE_TEST = (f"two-sided paired t-test over seeds of (variant - plain), same seed = same bench, initialisation "
              f"and anchors; 'helps'/'hurts' only if p < {ALPHA} and every seed's difference has that sign, "
              "'no effect' otherwise; fewer than 2 seeds: 'untested'")
METRICS = ("M_GT_decoder_95", "M_GT_decoder_90", "M_GT_encoder_95", "M_IP_encoder", "fvu", "dead_fraction", "l0",
           "anchored_rate", "anchored_feature_rate", "anchored_precision", "anchored_norm", "trained_norm")
PAIRED = ("M_GT_decoder_95", "M_GT_decoder_90", "M_GT_encoder_95", "fvu", "dead_fraction")


def size_scale(n: int) -> Scale:
    """A bench of n features at the paper's ratios (n_p = 0.768 n, 16 n latents, k = 0.128 n, n / 10 anchors);
    the training regime of the nearest named scale (small's below n = 100, medium's below 1000, paper's)."""
    if n < 10:
        raise InputError(f"--sizes: n must be >= 10, got {n}")
    for sc in SCALES.values():
        if sc.n == n:
            return sc
    base = SCALES["small"] if n < 100 else SCALES["medium"] if n < 1000 else SCALES["paper"]
    return Scale(f"n{n}", 1000 / n, n, round(0.768 * n), 16 * n, base.n_samples, max(1, n // 10), steps=base.steps,
                 batch_size=base.batch_size, lr=base.lr, seeds=base.seeds)


def resolved(method: str, sc: Scale, variant: str, seed: int, device: str = "cpu", steps: int | None = None) -> Resolved:
    """The default Table 1 row of ``method`` at scale sc, anchored by ``variant`` ("plain": not anchored)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown anchoring variant {variant!r}; choose from {', '.join(VARIANTS)}")
    res = resolve(Row(method, variant != "plain", TAU), sc, device, seed, steps=steps)
    if variant == "plain":
        return res
    return replace(res, train=replace(res.train, anchor_variant=variant),
                   settings={**res.settings, "anchor_variant": variant})


@torch.no_grad()
def diagnostics(res: Resolved, measured: dict, model) -> dict:
    """The variant's numbers (module docstring) from a trained model and train_and_measure's result."""
    bench = get_bench(res.bench, res.train.device)
    c = res.bench
    X = sample_coefficients(res.n_eval, c.n, c.p_active, c.c_min, c.beta, c.seed + 999_983, bench.x_in.device.type)
    x = X @ bench.truth_in.t()              # = bench.sample(res.n_eval, c.seed + 999_983), with its coefficients
    fires = (model.encode(x) > 0).cpu().numpy()
    active = (X != 0).cpu().numpy()
    idx = np.asarray(measured["anchor_features"], dtype=int)
    WE = model.W_E.detach().float().cpu().numpy()
    WD = model.W_D.detach().float().cpu().numpy().T
    a = idx.size
    if res.train.anchor_coef > 0:
        latents = np.arange(a)
    else:
        latents = mt.similarity(WD, bench.truth_out.cpu().numpy()[:, idx]).argmax(axis=0)
    lat_fires, feat_active = fires[:, latents], active[:, idx]
    rate = lat_fires.mean(0)
    both = (lat_fires & feat_active).sum(0)
    precision = np.where(lat_fires.sum(0) > 0, both / np.maximum(lat_fires.sum(0), 1), np.nan)
    alive = fires.any(0)
    others = np.setdiff1d(np.arange(WE.shape[0]), latents)
    trained = others[alive[others]]
    enc, dec = np.asarray(measured["enc_best"]), np.asarray(measured["dec_best"])
    return {"M_GT_decoder_95": float(np.mean(dec > 0.95)), "M_GT_decoder_90": float(np.mean(dec > 0.9)),
            "M_GT_encoder_95": float(np.mean(enc > 0.95)), "M_IP_encoder": float(np.mean(enc)),
            "fvu": measured["fvu"], "dead_fraction": measured["dead_fraction"], "l0": measured["l0"],
            "anchored_rate": float(rate.mean()), "anchored_feature_rate": float(feat_active.mean()),
            "anchored_precision": float(np.nanmean(precision)) if np.isfinite(precision).any() else None,
            "anchored_norm": float(np.linalg.norm(WE[latents], axis=1).mean()),
            "trained_norm": float(np.linalg.norm(WE[trained], axis=1).mean()) if trained.size else None,
            "dec_best": measured["dec_best"], "train_seconds": measured["train_seconds"], "key": res.key()}


class Runner:
    """Trains and measures configurations once each, through a cache of finished trainings (by key)."""

    def __init__(self, cache_dir=None, progress: bool = False, log=None):
        self.cache = Path(cache_dir) if cache_dir else None
        self.progress, self.log, self.done = progress, log, {}

    def measure(self, res: Resolved) -> dict:
        key = res.key()
        path = self.cache / f"anchoring_{key}.json" if self.cache else None
        if key not in self.done and path is not None and path.exists():
            self.done[key] = json.loads(path.read_text())
        if key not in self.done:
            t0 = time.perf_counter()
            m = train_and_measure(res, progress=self.progress, return_model=True)
            self.done[key] = diagnostics(res, m, m.pop("_model"))
            if path is not None:
                from sdlscape.storage import write_json

                write_json(path, self.done[key])
            if self.log:
                s = res.settings
                self.log(f"trained n={res.bench.n} {s['activation']} {s.get('anchor_variant', 'plain')} seed="
                         f"{res.train.seed} coef={s.get('coef')}: dec M_GT(.95)={self.done[key]['M_GT_decoder_95']:.3f}"
                         f" l0={self.done[key]['l0']:.2f} in {time.perf_counter() - t0:.0f} s")
        return self.done[key]


def paired(plain: list[float], other: list[float]) -> dict:
    """Paired differences other - plain over seeds, the t-test and the verdict (NOISE_TEST)."""
    d = np.asarray(other, dtype=float) - np.asarray(plain, dtype=float)
    out = {"diffs": d.tolist(), "diff_mean": float(d.mean()), "diff_sd": float(d.std(ddof=1)) if d.size > 1 else None,
           "t": None, "p": None, "same_sign": f"{int((d > 0).sum())} up / {int((d < 0).sum())} down of {d.size}"}
    if d.size < 2:
        return {**out, "verdict": "untested"}
    sd = d.std(ddof=1)
    if sd == 0:
        t, p = (0.0, 1.0) if d.mean() == 0 else (math.copysign(math.inf, d.mean()), 0.0)
    else:
        from scipy.stats import t as student

        t = float(d.mean() / (sd / math.sqrt(d.size)))
        p = float(2 * student.sf(abs(t), d.size - 1))
    verdict = "no effect"
    if p < ALPHA and ((d > 0).all() or (d < 0).all()):
        verdict = "helps" if d.mean() > 0 else "hurts"
    return {**out, "t": t, "p": p, "verdict": verdict}


def _mean(per_seed: list[dict], key: str) -> float | None:
    vals = [m[key] for m in per_seed if m.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def aggregate(method: str, sc: Scale, variant: str, per_seed: list[dict], plain: list[dict] | None) -> dict:
    """One row: means, sds, per-seed values and, for an anchored variant, paired differences vs plain."""
    paper = TABLE1_PAPER.get(method, (None, None))
    pp = paper[0] if variant == "plain" else paper[1] if variant == "eq26" else (None, None)
    row = {"method": method, "variant": variant, "anchoring": variant != "plain", "scale": sc.name, "n": sc.n,
           "tau": TAU, "n_seeds": len(per_seed), "seeds": [m["seed"] for m in per_seed],
           "M_GT": _mean(per_seed, "M_GT_encoder_95"), "M_IP": _mean(per_seed, "M_IP_encoder"),
           "paper_M_GT": pp[0], "paper_M_IP": pp[1]}
    if all("dec_best" in m for m in per_seed):
        row["curve_decoder"] = {str(t): float(np.mean([np.mean(np.asarray(m["dec_best"]) > t) for m in per_seed]))
                                for t in (0.8, 0.85, 0.9, 0.95, 0.99)}
    for k in METRICS:
        vals = [m[k] for m in per_seed if m.get(k) is not None]
        row[k] = float(np.mean(vals)) if vals else None
        row[f"{k}_sd"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    row["per_seed"] = [{k: m.get(k) for k in ("seed", "coef", "key", *METRICS)} for m in per_seed]
    if plain is not None and variant != "plain":
        by_seed = {m["seed"]: m for m in plain}
        both = [m for m in per_seed if m["seed"] in by_seed]
        row["vs_plain"] = {k: paired([by_seed[m["seed"]][k] for m in both], [m[k] for m in both]) for k in PAIRED
                           if all(by_seed[m["seed"]].get(k) is not None and m.get(k) is not None for m in both)}
    return row


def reference_rows(table: dict, sc: Scale) -> dict[tuple, list[dict]]:
    """Plain and eq. 26 seeds of a committed Table 1 result at the same scale (bench/experiments.py trains the
    same configuration: the "plain" and "eq26" variants), as per-seed records with the metrics it kept."""
    out: dict[tuple, list[dict]] = {}
    if table.get("scale") != sc.name:
        raise InputError(f"--reference is a {table.get('scale')!r} table, the run is at {sc.name!r}")
    for r in table.get("rows", []):
        if r["method"] in METHODS and r.get("settings", {}).get("tau") == TAU:
            out[(sc.name, r["method"], "eq26" if r["anchoring"] else "plain")] = [
                {"seed": p["seed"], "M_GT_decoder_95": p["M_GT_decoder"], "M_GT_encoder_95": p["M_GT"],
                 "fvu": p["fvu"], "l0": p["l0"],
                 "key": p["key"]} for p in r["per_seed"]]
    return out


def run_anchoring(scales: list[Scale], methods=METHODS, variants=VARIANTS, seeds: int = 3, seed: int = 0,
                  device: str = "cpu", cache_dir=None, progress: bool = False, log=None, on_update=None,
                  steps: int | None = None, reference: dict | None = None) -> dict:
    """Every (scale, method, variant) over seeds seed .. seed + seeds - 1, trained seed-major; on_update(result)
    after each training (a partial result's rows say how many seeds each holds).  reference: a committed Table 1
    result whose plain / eq. 26 seeds stand in for variants not run (paired on the metrics it kept)."""
    for m in methods:
        if m not in METHODS:
            raise InputError(f"the anchoring experiment runs {', '.join(METHODS)}; got {m!r}")
    variants = tuple(dict.fromkeys(variants))
    for v in variants:
        if v not in VARIANTS:
            raise InputError(f"unknown anchoring variant {v!r}; choose from {', '.join(VARIANTS)}")
    if seeds < 1:
        raise InputError(f"seeds must be >= 1, got {seeds}")
    runner = Runner(cache_dir, progress, log)
    got: dict[tuple, list[dict]] = {}
    starts: dict[tuple, float] = {}         # later seeds' searches start at seed 0's plain coefficient
    t0 = time.perf_counter()
    result: dict = {}
    for s in range(seed, seed + seeds):
        for sc in scales:
            for method in methods:
                plain_coef = starts.get((sc.name, method))
                for v in variants:
                    res = resolved(method, sc, v, s, device, steps)
                    if res.settings.get("calibration") == "search":
                        coef, trials = search_coefficient(res, lambda r: runner.measure(r)["l0"], plain_coef)
                        if v == "plain":
                            plain_coef = coef
                            starts.setdefault((sc.name, method), coef)
                        res = with_coef(res, coef)
                        res.settings["coef_search"] = [{"coef": c, "l0": l0} for c, l0 in trials]
                    m = {**runner.measure(res), "seed": s, "coef": res.settings.get("coef")}
                    got.setdefault((sc.name, method, v), []).append(m)
                    result = _assembled(scales, methods, variants, got, device, seed, t0, runner, reference)
                    if on_update is not None:
                        on_update(result)
    return result


def _assembled(scales, methods, variants, got, device, seed, t0, runner, reference) -> dict:
    """The result so far; a reference table's seeds fill the seeds of plain / eq26 this run did not train."""
    merged = dict(got)
    referenced = set()
    for sc_ in scales if reference else ():
        for k, seeds in reference_rows(reference, sc_).items():
            trained = {m["seed"] for m in got.get(k, [])}
            extra = [m for m in seeds if m["seed"] not in trained]
            if extra:
                merged[k] = sorted(got.get(k, []) + extra, key=lambda m: m["seed"])
                referenced.add(k)
    return assemble(scales, methods, variants, merged, device, seed, time.perf_counter() - t0, runner, referenced)


def assemble(scales, methods, variants, got, device, seed, seconds, runner, referenced=frozenset()) -> dict:
    rows = []
    for sc in scales:
        for method in methods:
            plain = got.get((sc.name, method, "plain"))
            for v in VARIANTS:
                if (sc.name, method, v) in got and (v in variants or (sc.name, method, v) in referenced):
                    rows.append(aggregate(method, sc, v, got[(sc.name, method, v)], plain))
                    if (sc.name, method, v) in referenced:
                        rows[-1]["source"] = ("seeds not trained here come from the reference Table 1 result (same "
                                              "configuration), which kept decoder M_GT(0.95), encoder M_GT, FVU and L0")
    return {"table": "anchoring", "title": "Feature anchoring (eq. 26) and its variants, paired over seeds",
            "scales": [sc.as_dict() for sc in scales], "regimes": [sc.regime_text() for sc in scales],
            "device": device, "seed": seed, "tau": TAU, "variants": {v: DESCRIPTIONS[v] for v in variants},
            "noise_test": NOISE_TEST, "rows": rows, "seconds": seconds, "trainings": len(runner.done),
            "train_seconds": float(sum(m.get("train_seconds") or 0.0 for m in runner.done.values()))}
