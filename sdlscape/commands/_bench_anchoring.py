"""`sdlscape bench anchoring`: the anchoring experiment (bench/anchoring.py) from the bench command's arguments.

The JSON is rewritten (atomically, with provenance) after every training, so an interrupted run leaves what
it finished behind; a rerun with the same cache trains only what is missing.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sdlscape.bench import anchoring as an
from sdlscape.bench.scales import SCALES
from sdlscape.errors import InputError
from sdlscape.storage import provenance, write_json


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not vals:
        raise InputError(f"{what} needs at least one value")
    return vals


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))


def run_from_args(args, cache, progress: bool) -> int:
    scales = [an.size_scale(n) for n in _ints(args.sizes, "--sizes")] if args.sizes else [SCALES[args.scale]]
    methods = args.methods or an.METHODS
    variants = _names(args.variants) or an.VARIANTS
    seeds = args.seeds if args.seeds is not None else scales[0].seeds
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def write(result: dict) -> None:
        if args.json:
            result["provenance"] = provenance(args.device, time.perf_counter() - t0)
            write_json(args.json, result)

    reference = None
    if args.reference:
        try:
            reference = json.loads(Path(args.reference).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"--reference {args.reference}: cannot read a bench JSON ({exc})") from None
    result = an.run_anchoring(scales, methods, variants, seeds, args.seed, args.device, cache, progress, log, write,
                              steps=args.steps, reference=reference)
    write(result)
    print(summary(result))
    if args.json:
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def summary(result: dict) -> str:
    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}"

    lines = [f"{result['title']} (tau {result['tau']}; noise test: {result['noise_test']})",
             (f"{'scale':<7} {'method':<6} {'variant':<10} {'seeds':>5} {'decM_GT.95':>12} {'diff':>7} {'p':>6} "
              f"{'verdict':<9} {'decM_GT.9':>9} {'FVU':>7} {'dead':>5} {'anc.rate':>8} {'feat.rate':>9} {'norm a/t':>9}")]
    for r in result["rows"]:
        vp = r.get("vs_plain", {}).get("M_GT_decoder_95", {})
        sd = r.get("M_GT_decoder_95_sd")
        norms = "-" if r.get("trained_norm") is None or r.get("anchored_norm") is None else \
            f"{r['anchored_norm']:.2f}/{r['trained_norm']:.2f}"
        lines.append(f"{r['scale']:<7} {r['method']:<6} {r['variant']:<10} {r['n_seeds']:>5} "
                     f"{pct(r['M_GT_decoder_95']):>6}+-{pct(sd):<5} {pct(vp.get('diff_mean')):>7} "
                     f"{'-' if vp.get('p') is None else format(vp['p'], '.3f'):>6} {vp.get('verdict', ''):<9} "
                     f"{pct(r['M_GT_decoder_90']):>9} {r['fvu']:>7.4f} {pct(r.get('dead_fraction')):>5} "
                     f"{pct(r['anchored_rate']):>8} {pct(r['anchored_feature_rate']):>9} {norms:>9}")
    return "\n".join(lines)
