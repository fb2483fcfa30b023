"""PyTorch trainer of SDL models (SAE, transcoder, crosscoder) with feature anchoring (eq. 26).

The model and its configuration (TrainConfig, SDLModel; the trainer codes of solvers/torch_codes.py)
are sdlscape.solvers.sdl_model, re-exported here.  This module: the training loss (reconstruction +
the code's penalty + AuxK, eq. 8), resampling of dead latents, the adaptive sparsity coefficient,
and train_sdl.

Feature anchoring (eq. 26): loss += anchor_coef * (||W_E[:a] - A_in||_F^2 + ||W_D[:, :a] - A_out||_F^2);
``TrainConfig.anchor_variant`` picks eq. 26 or a variant of it (solvers/anchor_terms.py: one term alone,
a direction-only or a norm-matched encoder anchor).
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch

from sdlscape.errors import InputError
from sdlscape.solvers.anchor_terms import anchor_term
from sdlscape.solvers.gradient_alloc import keep_freed_memory
from sdlscape.solvers.sdl_model import PRECISIONS, SELECT_DTYPES, SDLModel, TrainConfig  # noqa: F401 - re-exported
from sdlscape.solvers.torch_codes import (  # noqa: F401  (re-exported: the codes are part of this API)
    ACTIVATIONS,
    CODES,
    BatchTopKReLU,
    Code,
    Codes,
    GatedL1,
    JumpReLUL0,
    MatryoshkaTopKReLU,
    ReLUL1,
    TopKReLUCode,
    _dense,
    _gathered_dots,
    _JumpReLU,
    _rect,
    _rows_by_latent,
    _SelectedPre,
    _SparseDecode,
    _sq_err,
    _Step,
)

# ---------------------------------------------------------------- losses

def anchor_penalty(model: SDLModel, anchors: tuple[torch.Tensor, torch.Tensor],
                   fired: torch.Tensor | None = None) -> torch.Tensor:
    """The bracket of eq. 26, ||W_E[:a] - A_in||_F^2 + ||W_D[:, :a] - A_out||_F^2, or the config's variant of it."""
    A_in, A_out = anchors
    return anchor_term(model.config.anchor_variant, model.W_E, model.W_dec, A_in, A_out, fired)


def _auxk_loss(model: SDLModel, x_in, x_out, recon, dead) -> torch.Tensor:
    """AuxK (eq. 8): the top-k_aux dead latents reconstruct the residual (sparse, like TopK)."""
    ka = min(model.config.auxk, int(dead.sum()))
    with torch.no_grad():
        z = model.pre_select(x_in).masked_fill(~dead, float("-inf"))
        ac = z.topk(ka, dim=1).indices.sort(dim=1).values
    rows = torch.arange(x_in.shape[0], device=x_in.device).repeat_interleave(ka)
    c = model.selected_codes(x_in, rows, ac.flatten(), z, x_in.shape[0])
    resid = (x_out - recon.to(x_out.dtype)).detach()
    return _sq_err(resid, model.decode_codes(c))


def sdl_loss(model: SDLModel, x_in: torch.Tensor, x_out: torch.Tensor, dead: torch.Tensor | None = None,
             anchors=None, coef: float | None = None) -> tuple[torch.Tensor, dict]:
    """Training loss of one batch: reconstruction + the code's penalty (+ AuxK, + eq. 26).

    coef: the sparsity coefficient (default: the config's l1_coef / l0_coef).
    """
    cfg, code = model.config, model.code
    c = model.codes(x_in, train=True)
    parts: dict[str, float] = {}
    loss, mse = code.rec_loss(model, x_out, c)
    if coef is None:
        coef = getattr(cfg, code.coef_field)
    pen = code.penalty(model, x_in, x_out, c, coef)
    if pen is not None:
        loss = loss + pen
    if cfg.auxk and code.sparse and dead is not None and bool(dead.any()):
        recon = model.decode_codes(c).detach()
        aux = _auxk_loss(model, x_in, x_out, recon, dead)
        loss = loss + cfg.auxk_coef * aux
        parts["auxk"] = float(aux.detach())
    if anchors is not None and cfg.anchor_coef > 0:
        pen = anchor_penalty(model, anchors, c.fired)
        loss = loss + cfg.anchor_coef * pen
        parts["anchor"] = float(pen.detach())
    parts.update(mse=float(mse.detach()), l0=c.l0)
    return loss, {"codes": c, **parts}


# ---------------------------------------------------------------- resampling of dead latents

@torch.no_grad()
def resample_dead_latents(model: SDLModel, optimizer: torch.optim.Optimizer, x_in: torch.Tensor,
                          x_out: torch.Tensor, dead: torch.Tensor, generator: torch.Generator,
                          pool: int = 8192) -> int:
    """Re-initialise dead latents on poorly reconstructed inputs; returns how many were reset.

    Replacement inputs are drawn with probability proportional to the squared per-sample
    reconstruction error; the encoder row becomes the input direction scaled to 0.2 x the mean
    alive encoder norm, the decoder column the unit target direction; Adam's moments of those
    rows/columns are zeroed (and gate/threshold parameters of those latents reset).
    """
    idx = dead.nonzero(as_tuple=True)[0]
    if idx.numel() == 0:
        return 0
    sel = torch.randperm(x_in.shape[0], generator=generator)[:pool].to(x_in.device)
    xi, xo = x_in[sel], x_out[sel]
    err = (xo - model(xi)).pow(2).sum(-1)
    prob = err.pow(2)
    if not bool(prob.sum() > 0):
        prob = torch.ones_like(prob)
    pick = torch.multinomial(prob.cpu().double(), idx.numel(), replacement=True, generator=generator).to(x_in.device)
    vin, vout = xi[pick], xo[pick]
    vin = vin / vin.norm(dim=1, keepdim=True).clamp_min(1e-12)
    vout = vout / vout.norm(dim=1, keepdim=True).clamp_min(1e-12)
    alive = ~dead
    enc_norm = model.W_E[alive].norm(dim=1).mean() if bool(alive.any()) else torch.tensor(1.0, device=x_in.device)
    model.W_E[idx] = vin * 0.2 * enc_norm
    model.W_dec[idx] = vout
    per_latent = {model.W_E: 0, model.W_dec: 0, **model.code.reset(model, idx)}
    for p, dim in per_latent.items():
        state = optimizer.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key].index_fill_(dim, idx, 0.0)
    return int(idx.numel())


# ---------------------------------------------------------------- training loop

@dataclass
class TrainResult:
    model: SDLModel
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    config: dict = field(default_factory=dict)
    final_coef: float | None = None     # the sparsity coefficient at the end (calibrated runs)
    resampled: list = field(default_factory=list)   # (step, latent indices) of each resampling


@contextmanager
def _precision(device: str, precision: str):
    """tf32 matmuls on CUDA ("tf32", or "auto" on CUDA); bf16 autocast ("bf16"); fp32 otherwise."""
    cuda = device.startswith("cuda")
    mode = ("tf32" if cuda else "fp32") if precision == "auto" else precision
    old = torch.get_float32_matmul_precision()
    if mode == "tf32":
        torch.set_float32_matmul_precision("high")
    try:
        if mode == "bf16":
            with torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16):
                yield mode
        else:
            yield mode
    finally:
        torch.set_float32_matmul_precision(old)


def class_mean_anchors(x_in: torch.Tensor, labels, x_out: torch.Tensor | None = None,
                       classes=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors from labelled data (eq. 23-24): normalised class-mean representations.

    Returns (A_in: n_classes x d_in unit rows, A_out: d_out x n_classes unit columns); A_out uses
    x_out's class means (x_in's for an SAE).  ``classes`` picks and orders the classes used.
    """
    x_in = torch.as_tensor(x_in, dtype=torch.float32)
    x_out = x_in if x_out is None else torch.as_tensor(x_out, dtype=torch.float32)
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or labels.shape[0] != x_in.shape[0] or x_out.shape[0] != x_in.shape[0]:
        raise InputError("labels must be a vector with one label per row of x_in (and x_out)")
    classes = torch.unique(labels) if classes is None else torch.as_tensor(classes)
    rows_in, cols_out = [], []
    for c in classes.tolist():
        sel = labels == c
        if not bool(sel.any()):
            raise InputError(f"class {c} has no samples")
        mi, mo = x_in[sel].mean(0), x_out[sel].mean(0)
        if float(mi.norm()) == 0 or float(mo.norm()) == 0:
            raise InputError(f"class {c} has a zero mean representation; cannot normalise it")
        rows_in.append(mi / mi.norm())
        cols_out.append(mo / mo.norm())
    return torch.stack(rows_in), torch.stack(cols_out, dim=1)


def check_anchors(anchors, d_in: int, d_out: int, n_latents: int):
    """Validate anchor shapes: A_in a x d_in, A_out d_out x a, 1 <= a <= n_latents (InputError)."""
    if anchors is None:
        return None
    if len(anchors) != 2:
        raise InputError("anchors must be a pair (A_in: n_anchors x d_in, A_out: d_out x n_anchors)")
    A_in, A_out = (torch.as_tensor(a, dtype=torch.float32) for a in anchors)
    if A_in.ndim != 2 or A_in.shape[1] != d_in:
        raise InputError(f"anchor A_in must be n_anchors x d_in={d_in}, got shape {tuple(A_in.shape)}")
    a = A_in.shape[0]
    if A_out.ndim != 2 or A_out.shape != (d_out, a):
        raise InputError(f"anchor A_out must be d_out x n_anchors = {(d_out, a)}, got shape {tuple(A_out.shape)}")
    if not 1 <= a <= n_latents:
        raise InputError(f"number of anchors must be in [1, n_latents={n_latents}], got {a}")
    return A_in, A_out


class _Calibrator:
    """Adaptive sparsity coefficient toward ``target_l0`` (multiplicative, on the log of L0).

    Every ``PROBE_EVERY`` steps the current model's L0 is measured on a fixed probe batch of the
    training inputs (the noisy, pre-step batch L0 biased the result low), smoothed, and
    log coef += PROBE_EVERY * rate_t * clip(log(L0 / target), -1, 1), with rate_t falling linearly
    from coef_rate to 0.3 coef_rate; it adapts to the last step unless ``coef_freeze`` > 0 freezes it for
    that final fraction (a 20% freeze let the ReLU SAE's L0 drift 30% below target in Table 4).
    """

    PROBE_EVERY, PROBE_SIZE = 10, 2048

    def __init__(self, config: TrainConfig, x_in: torch.Tensor, gen: torch.Generator):
        self.coef = getattr(config, config.code().coef_field)
        self.target, self.rate, self.ema = config.target_l0, config.coef_rate, None
        self.until = int(math.ceil(config.steps * (1.0 - config.coef_freeze)))
        self.probe = None
        if self.target is not None:
            pick = torch.randperm(x_in.shape[0], generator=gen)[:self.PROBE_SIZE].to(x_in.device)
            self.probe = x_in[pick]

    @torch.no_grad()
    def update(self, model, step: int) -> None:
        if self.target is None or step > self.until or step % self.PROBE_EVERY:
            return
        l0 = float(model.code.active_count(model, self.probe)) / self.probe.shape[0]
        self.ema = l0 if self.ema is None else 0.7 * self.ema + 0.3 * l0
        err = math.log(max(self.ema, 1e-3 * self.target) / self.target)
        rate = self.rate * (1.0 - 0.7 * step / max(1, self.until))
        self.coef *= math.exp(self.PROBE_EVERY * rate * max(-1.0, min(1.0, err)))


def _adam(params, lr: float) -> torch.optim.Optimizer:
    """Adam, fused into one kernel per step where this torch has it for these tensors (CPU since 2.4): the
    default per-parameter implementation made several passes over 2 x 16000 x 768 parameters, about a sixth
    of a profiled paper-size TopK step (0.43 of 2.7 s before the sparse backward)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


def train_sdl(x_in: torch.Tensor, x_out: torch.Tensor | None, config: TrainConfig,
              anchors: tuple[torch.Tensor, torch.Tensor] | None = None,
              progress: bool = False, model: SDLModel | None = None, frozen: tuple[str, ...] = (),
              callback=None) -> TrainResult:
    """Train one SDL model with Adam on (x_in, x_out) (x_out None: SAE); deterministic per seed on CPU.

    model: start from this model (default: a fresh one, seeded); frozen: parameter names not
    trained (e.g. ("W_dec",) for the encoder experiment); callback(step, model) is called every
    ``log_every`` steps (and at step 0) for diagnostics.
    """
    config.validate()
    x_in = torch.as_tensor(x_in, dtype=torch.float32)
    x_out = x_in if x_out is None else torch.as_tensor(x_out, dtype=torch.float32)
    if x_in.ndim != 2 or x_out.ndim != 2 or x_in.shape[0] != x_out.shape[0] or x_in.shape[0] == 0:
        raise InputError(f"x_in and x_out must be N x d with the same N >= 1, got {tuple(x_in.shape)} and {tuple(x_out.shape)}")
    d_in, d_out = x_in.shape[1], x_out.shape[1]
    anchors = check_anchors(anchors, d_in, d_out, config.n_latents)
    device = torch.device(config.device)
    gen = torch.Generator().manual_seed(config.seed)
    t0 = time.perf_counter()
    if model is None:
        model = SDLModel(d_in, d_out, config, generator=gen)
    model = model.to(device)
    x_in, x_out = x_in.to(device), x_out.to(device)
    if anchors is not None:
        anchors = (anchors[0].to(device), anchors[1].to(device))
    params = [p for name, p in model.named_parameters() if name not in frozen]
    opt = _adam(params, config.lr)
    N = x_in.shape[0]
    B = min(config.batch_size, N)
    since_fired = torch.zeros(config.n_latents, dtype=torch.long, device=device)
    hist: dict[str, list[float]] = {k: [] for k in ("step", "loss", "mse", "l0", "dead_fraction", "resampled",
                                                    "coef")}
    cal = _Calibrator(config, x_in, gen)
    resampled: list[tuple[int, list[int]]] = []
    perm, pos = torch.randperm(N, generator=gen), 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, desc=f"train {config.activation}", leave=False, mininterval=1.0)
    if callback is not None:
        callback(0, model)
    with _precision(config.device, config.precision), keep_freed_memory(device.type == "cpu"):
        for step in range(1, config.steps + 1):
            if pos + B > N:
                perm, pos = torch.randperm(N, generator=gen), 0
            idx = perm[pos:pos + B].to(device)
            pos += B
            xb_in = x_in[idx]
            xb_out = xb_in if x_out is x_in else x_out[idx]
            dead = since_fired >= config.dead_steps if config.auxk else None
            loss, info = sdl_loss(model, xb_in, xb_out, dead=dead, anchors=anchors, coef=cal.coef)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
            cal.update(model, step)
            if config.normalize_decoder and "W_dec" not in frozen:
                model.normalize_decoder_()
            fired = info["codes"].fired
            since_fired = torch.where(fired, torch.zeros_like(since_fired), since_fired + 1)
            n_res = 0
            # never on the last step: a run must not end with freshly reset latents
            if config.resample_every and step % config.resample_every == 0 and step < config.steps:
                # dead = silent for dead_steps steps, the definition the history logs (a latent that
                # fired once in the window used to escape resampling: figures showed identical curves)
                dead_now = since_fired >= config.dead_steps
                n_res = resample_dead_latents(model, opt, x_in, x_out, dead_now, gen, config.resample_pool)
                if n_res:
                    resampled.append((step, dead_now.nonzero(as_tuple=True)[0].tolist()))
                    since_fired[dead_now] = 0
            if step % config.log_every == 0 or step == config.steps or n_res:
                hist["step"].append(step)
                hist["loss"].append(loss_value)
                hist["mse"].append(info["mse"])
                hist["l0"].append(info["l0"])
                hist["dead_fraction"].append(float((since_fired >= config.dead_steps).float().mean()))
                hist["resampled"].append(n_res)
                hist["coef"].append(cal.coef)
                if callback is not None and step % config.log_every == 0:
                    callback(step, model)
            if bar is not None:
                bar.update(1)
                if step % config.log_every == 0:
                    bar.set_postfix(loss=f"{loss_value:.4g}", l0=f"{info['l0']:.1f}")
    if bar is not None:
        bar.close()
    model.eval()
    return TrainResult(model=model, history=hist, seconds=time.perf_counter() - t0, config=asdict(config),
                       final_coef=cal.coef if config.target_l0 is not None else None, resampled=resampled)
