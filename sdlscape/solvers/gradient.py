"""PyTorch trainers for SDL models (SAE, transcoder, crosscoder) with feature anchoring (eq. 26).

One model covers the three instantiations of Def. 2.3: latents x_q = sigma(W_E x_p) and
reconstruction W_D x_q, no biases (the gated activation adds its gate biases).  A transcoder
passes x_out != x_in; a crosscoder passes the concatenated sources as x_in and x_out.

Activations (PAPER.md sec. 1): "relu" (+ L1, eq. 5), "jumprelu" (learned thresholds trained by a
straight-through estimator on an L0 penalty, eq. 6), "topk" (TopK o ReLU, eq. 7), "batchtopk"
(k * batch entries over the batch; a global threshold for inference), "gated" (Heaviside gate
with weight-shared magnitude path), "matryoshka" (TopK with reconstruction losses summed over
nested latent prefixes, eq. 9).  AuxK (eq. 8) and resampling of dead latents are options.

The TopK family never forms the dense n_latents-wide decode: it decodes from the selected columns
with ``embedding_bag`` (weights = the selected activations), so memory is O(batch * k * d).

Feature anchoring (eq. 26): loss += anchor_coef * (||W_E[:a] - A_in||_F^2 + ||W_D[:, :a] - A_out||_F^2).
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from sdlscape.errors import InputError

ACTIVATIONS = ("relu", "jumprelu", "topk", "batchtopk", "gated", "matryoshka")
SPARSE_DECODE = ("topk", "batchtopk", "matryoshka")
PRECISIONS = ("auto", "fp32", "tf32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one SDL training run (all fields have defaults except the first two)."""

    activation: str            # one of ACTIVATIONS
    n_latents: int
    k: int = 32                # topk / batchtopk / matryoshka
    steps: int = 2000
    batch_size: int = 1024
    lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"
    anchor_coef: float = 0.0   # lambda_anchor of eq. 26; the first n_anchors latents are anchored
    normalize_decoder: bool = True
    resample_every: int | None = None   # resample dead latents every this many steps
    l1_coef: float = 3e-2               # relu / gated sparsity penalty (per sample, eq. 5)
    l0_coef: float = 3e-2               # jumprelu L0 penalty (eq. 6)
    jumprelu_threshold: float = 0.1     # initial threshold theta
    jumprelu_bandwidth: float = 0.05    # width of the rectangle kernel of the straight-through estimator
    auxk: int | None = None             # number of dead latents used by AuxK (eq. 8); None = off
    auxk_coef: float = 1.0 / 32.0
    dead_steps: int = 200               # a latent silent this many steps is dead (AuxK)
    matryoshka_prefixes: tuple[int, ...] | None = None  # default: n/16, n/8, n/4, n/2, n
    batchtopk_momentum: float = 0.99    # EMA of the inference threshold of BatchTopK
    resample_pool: int = 8192           # inputs scored when resampling dead latents
    precision: str = "auto"             # fp32 | tf32 | bf16 | auto (tf32 on CUDA, fp32 on CPU)
    log_every: int = 50

    def validate(self, d_in: int | None = None) -> None:
        """Raise InputError (one line) if the configuration cannot be trained."""
        if self.activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if self.n_latents < 1:
            raise InputError(f"n_latents must be >= 1, got {self.n_latents}")
        if self.activation in SPARSE_DECODE and not 1 <= self.k <= self.n_latents:
            raise InputError(f"k must be in [1, n_latents={self.n_latents}], got k={self.k}")
        if self.steps < 0 or self.batch_size < 1 or not self.lr > 0:
            raise InputError("steps must be >= 0, batch_size >= 1 and lr > 0")
        if self.anchor_coef < 0:
            raise InputError(f"anchor_coef must be >= 0, got {self.anchor_coef}")
        if self.resample_every is not None and self.resample_every < 1:
            raise InputError(f"resample_every must be >= 1 or None, got {self.resample_every}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {self.device!r} requested but CUDA is not available")
        if self.matryoshka_prefixes is not None:
            p = self.matryoshka_prefixes
            if list(p) != sorted(set(p)) or p[0] < 1 or p[-1] != self.n_latents:
                raise InputError("matryoshka_prefixes must increase strictly and end at n_latents")

    def prefixes(self) -> tuple[int, ...]:
        if self.matryoshka_prefixes is not None:
            return tuple(self.matryoshka_prefixes)
        n = self.n_latents
        return tuple(sorted({max(1, n // f) for f in (16, 8, 4, 2)} | {n}))


# ---------------------------------------------------------------- JumpReLU straight-through (eq. 6)

def _rect(u: torch.Tensor) -> torch.Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """z * H(z - theta); d/dtheta by the rectangle-kernel straight-through estimator."""

    @staticmethod
    def forward(ctx, z, theta, bandwidth):
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return z * (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        gz = g * (z > theta).to(z.dtype)
        gtheta = (-(theta / eps) * _rect((z - theta) / eps) * g).sum(0)
        return gz, gtheta, None


class _Step(torch.autograd.Function):
    """H(z - theta) with the straight-through gradient to theta only (the L0 penalty)."""

    @staticmethod
    def forward(ctx, z, theta, bandwidth):
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        gtheta = (-(1.0 / eps) * _rect((z - theta) / eps) * g).sum(0)
        return None, gtheta, None


# ---------------------------------------------------------------- the model

@dataclass
class Codes:
    """Latent codes of a batch: dense (B x n_latents) or sparse (bags of (column, value))."""

    dense: torch.Tensor | None = None
    cols: torch.Tensor | None = None      # topk: B x k; batchtopk: flat, with offsets
    vals: torch.Tensor | None = None
    offsets: torch.Tensor | None = None
    gate: torch.Tensor | None = None      # gated: relu(pi_gate), for the auxiliary loss
    fired: torch.Tensor | None = None     # bool n_latents: fired somewhere in the batch
    l0: float = 0.0


class SDLModel(torch.nn.Module):
    """x_q = sigma(W_E x), recon = W_D x_q (Def. 2.3).  W_E: n_latents x d_in, W_D: d_out x n_latents."""

    def __init__(self, d_in: int, d_out: int, config: TrainConfig, generator: torch.Generator | None = None):
        super().__init__()
        config.validate()
        self.config = config
        self.d_in, self.d_out, self.n_latents = int(d_in), int(d_out), int(config.n_latents)
        n = self.n_latents
        W_D = torch.randn(d_out, n, generator=generator, dtype=torch.float32)
        W_D = W_D / W_D.norm(dim=0, keepdim=True)
        if d_in == d_out:
            W_E = W_D.t().clone()          # tied initialisation
        else:
            W_E = torch.randn(n, d_in, generator=generator, dtype=torch.float32)
            W_E = W_E / W_E.norm(dim=1, keepdim=True)
        self.W_E = torch.nn.Parameter(W_E)
        self.W_D = torch.nn.Parameter(W_D)
        act = config.activation
        if act == "jumprelu":
            self.log_threshold = torch.nn.Parameter(torch.full((n,), math.log(config.jumprelu_threshold)))
        if act == "gated":
            self.b_gate = torch.nn.Parameter(torch.zeros(n))
            self.r_mag = torch.nn.Parameter(torch.zeros(n))
            self.b_mag = torch.nn.Parameter(torch.zeros(n))
        # BatchTopK inference threshold (EMA of the smallest selected activation); NaN = not set.
        self.register_buffer("batch_threshold", torch.tensor(float("nan")))

    # -- encoding
    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W_E.t()

    def threshold(self) -> torch.Tensor:
        """Per-latent inference threshold (JumpReLU theta, BatchTopK global threshold, else 0)."""
        if self.config.activation == "jumprelu":
            return self.log_threshold.exp().detach()
        if self.config.activation == "batchtopk" and not torch.isnan(self.batch_threshold):
            return self.batch_threshold.expand(self.n_latents).clone()
        return torch.zeros(self.n_latents, device=self.W_E.device)

    def codes(self, x: torch.Tensor, train: bool = False) -> Codes:
        cfg, act = self.config, self.config.activation
        z = self.pre(x)
        B = x.shape[0]
        if act == "relu":
            q = F.relu(z)
            return Codes(dense=q, fired=(q > 0).any(0), l0=float((q > 0).sum()) / B)
        if act == "jumprelu":
            theta = self.log_threshold.exp()
            q = _JumpReLU.apply(z, theta, cfg.jumprelu_bandwidth)
            return Codes(dense=q, fired=(q > 0).any(0), l0=float((q > 0).sum()) / B)
        if act == "gated":
            pi_gate = z + self.b_gate
            pi_mag = z * self.r_mag.exp() + self.b_mag
            q = (pi_gate > 0).to(z.dtype) * F.relu(pi_mag)
            return Codes(dense=q, gate=F.relu(pi_gate), fired=(q > 0).any(0), l0=float((q > 0).sum()) / B)
        if act == "batchtopk" and not train and not torch.isnan(self.batch_threshold):
            keep = z > self.batch_threshold
            rows, cols = keep.nonzero(as_tuple=True)
            return self._bags(rows, cols, z[rows, cols], B)
        if act == "batchtopk":
            zr = F.relu(z).flatten()
            m = min(cfg.k * B, zr.numel())
            vals, flat = zr.topk(m, sorted=False)
            flat, order = flat.sort()
            vals = vals[order]
            rows, cols = flat // self.n_latents, flat % self.n_latents
            if train:
                pos = vals[vals > 0]
                if pos.numel():
                    t = pos.min().detach()
                    mom = cfg.batchtopk_momentum
                    self.batch_threshold = t if torch.isnan(self.batch_threshold) else \
                        mom * self.batch_threshold + (1 - mom) * t
            return self._bags(rows, cols, vals, B)
        # topk, matryoshka: TopK o ReLU per sample
        vals, cols = z.topk(cfg.k, dim=1, sorted=False)
        vals = F.relu(vals)
        fired = torch.zeros(self.n_latents, dtype=torch.bool, device=z.device)
        fired[cols[vals > 0]] = True
        return Codes(cols=cols, vals=vals, fired=fired, l0=float((vals > 0).sum()) / B)

    def _bags(self, rows, cols, vals, B) -> Codes:
        counts = torch.bincount(rows, minlength=B)
        offsets = torch.zeros(B, dtype=torch.long, device=rows.device)
        offsets[1:] = counts.cumsum(0)[:-1]
        fired = torch.zeros(self.n_latents, dtype=torch.bool, device=rows.device)
        fired[cols[vals > 0]] = True
        return Codes(cols=cols, vals=vals, offsets=offsets, fired=fired, l0=float((vals > 0).sum()) / B)

    # -- decoding
    def decode_codes(self, c: Codes, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction from codes; sparse codes decode from their columns only (embedding_bag)."""
        if c.dense is not None:
            return c.dense @ self.W_D.t()
        w = (c.vals if weights is None else weights).to(self.W_D.dtype)   # bf16 autocast: decode in fp32
        return F.embedding_bag(c.cols, self.W_D.t(), offsets=c.offsets, per_sample_weights=w, mode="sum")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Dense latents x_q (B x n_latents), for inspection and metrics (inference mode)."""
        c = self.codes(x, train=False)
        if c.dense is not None:
            return c.dense
        q = torch.zeros(x.shape[0], self.n_latents, dtype=x.dtype, device=x.device)
        if c.offsets is None:
            q.scatter_(1, c.cols, c.vals)
        else:
            counts = torch.diff(torch.cat([c.offsets, c.offsets.new_tensor([c.cols.numel()])]))
            rows = torch.repeat_interleave(torch.arange(x.shape[0], device=x.device), counts)
            q[rows, c.cols] = c.vals
        return q

    def decode(self, q: torch.Tensor) -> torch.Tensor:
        """W_D q for dense latents q (B x n_latents)."""
        return q @ self.W_D.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_codes(self.codes(x, train=False))

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        self.W_D.div_(self.W_D.norm(dim=0, keepdim=True).clamp_min(1e-12))


# ---------------------------------------------------------------- losses

def _sq_err(target: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Per-sample squared error averaged over the batch (eq. 3)."""
    return (target - recon.to(target.dtype)).pow(2).sum(-1).mean()


def anchor_penalty(model: SDLModel, anchors: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """||W_E[:a] - A_in||_F^2 + ||W_D[:, :a] - A_out||_F^2 (the bracket of eq. 26)."""
    A_in, A_out = anchors
    a = A_in.shape[0]
    return (model.W_E[:a] - A_in).pow(2).sum() + (model.W_D[:, :a] - A_out).pow(2).sum()


def sdl_loss(model: SDLModel, x_in: torch.Tensor, x_out: torch.Tensor, dead: torch.Tensor | None = None,
             anchors=None) -> tuple[torch.Tensor, dict]:
    """Training loss of one batch: reconstruction + the activation's penalty (+ AuxK, + eq. 26)."""
    cfg, act = model.config, model.config.activation
    c = model.codes(x_in, train=True)
    parts: dict[str, float] = {}
    if act == "matryoshka":
        recs = []
        for m in cfg.prefixes():
            recs.append(_sq_err(x_out, model.decode_codes(c, c.vals * (c.cols < m).to(c.vals.dtype))))
        rec_loss = torch.stack(recs).mean()
        recon = model.decode_codes(c)
        mse = _sq_err(x_out, recon)
    else:
        recon = model.decode_codes(c)
        mse = rec_loss = _sq_err(x_out, recon)
    loss = rec_loss
    dnorm = model.W_D.norm(dim=0)
    if act == "relu":
        loss = loss + cfg.l1_coef * (c.dense * dnorm).sum(-1).mean()
    elif act == "jumprelu":
        l0 = _Step.apply(model.pre(x_in), model.log_threshold.exp(), cfg.jumprelu_bandwidth).sum(-1).mean()
        loss = loss + cfg.l0_coef * l0
    elif act == "gated":
        loss = loss + cfg.l1_coef * (c.gate * dnorm).sum(-1).mean()
        loss = loss + _sq_err(x_out, c.gate @ model.W_D.detach().t())
    if cfg.auxk and act in SPARSE_DECODE and dead is not None and bool(dead.any()):
        z = model.pre(x_in).masked_fill(~dead, float("-inf"))
        ka = min(cfg.auxk, int(dead.sum()))
        av, ac = z.topk(ka, dim=1)
        av = F.relu(av)
        resid = (x_out - recon.to(x_out.dtype)).detach()
        aux = _sq_err(resid, F.embedding_bag(ac, model.W_D.t(), per_sample_weights=av.to(model.W_D.dtype), mode="sum"))
        loss = loss + cfg.auxk_coef * aux
        parts["auxk"] = float(aux.detach())
    if anchors is not None and cfg.anchor_coef > 0:
        pen = anchor_penalty(model, anchors)
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
    model.W_D[:, idx] = vout.t()
    per_latent = {model.W_E: 0, model.W_D: 1}
    if model.config.activation == "jumprelu":
        model.log_threshold[idx] = math.log(model.config.jumprelu_threshold)
        per_latent[model.log_threshold] = 0
    if model.config.activation == "gated":
        for p in (model.b_gate, model.r_mag, model.b_mag):
            p[idx] = 0.0
            per_latent[p] = 0
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


def train_sdl(x_in: torch.Tensor, x_out: torch.Tensor | None, config: TrainConfig,
              anchors: tuple[torch.Tensor, torch.Tensor] | None = None,
              progress: bool = False) -> TrainResult:
    """Train one SDL model with Adam on (x_in, x_out) (x_out None: SAE); deterministic per seed on CPU."""
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
    model = SDLModel(d_in, d_out, config, generator=gen).to(device)
    x_in, x_out = x_in.to(device), x_out.to(device)
    if anchors is not None:
        anchors = (anchors[0].to(device), anchors[1].to(device))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    N = x_in.shape[0]
    B = min(config.batch_size, N)
    since_fired = torch.zeros(config.n_latents, dtype=torch.long, device=device)
    fired_window = torch.zeros(config.n_latents, dtype=torch.bool, device=device)
    hist: dict[str, list[float]] = {k: [] for k in ("step", "loss", "mse", "l0", "dead_fraction", "resampled")}
    perm, pos = torch.randperm(N, generator=gen), 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, desc=f"train {config.activation}", leave=False, mininterval=1.0)
    with _precision(config.device, config.precision):
        for step in range(1, config.steps + 1):
            if pos + B > N:
                perm, pos = torch.randperm(N, generator=gen), 0
            idx = perm[pos:pos + B].to(device)
            pos += B
            xb_in, xb_out = x_in[idx], x_out[idx]
            dead = since_fired >= config.dead_steps if config.auxk else None
            loss, info = sdl_loss(model, xb_in, xb_out, dead=dead, anchors=anchors)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if config.normalize_decoder:
                model.normalize_decoder_()
            fired = info["codes"].fired
            since_fired = torch.where(fired, torch.zeros_like(since_fired), since_fired + 1)
            fired_window |= fired
            n_res = 0
            # never on the last step: a run must not end with freshly reset latents
            if config.resample_every and step % config.resample_every == 0 and step < config.steps:
                n_res = resample_dead_latents(model, opt, x_in, x_out, ~fired_window, gen, config.resample_pool)
                fired_window.zero_()
            if step % config.log_every == 0 or step == config.steps or n_res:
                hist["step"].append(step)
                hist["loss"].append(float(loss.detach()))
                hist["mse"].append(info["mse"])
                hist["l0"].append(info["l0"])
                hist["dead_fraction"].append(float((since_fired >= config.dead_steps).float().mean()))
                hist["resampled"].append(n_res)
            if bar is not None:
                bar.update(1)
                if step % config.log_every == 0:
                    bar.set_postfix(loss=f"{float(loss):.4g}", l0=f"{info['l0']:.1f}")
    if bar is not None:
        bar.close()
    model.eval()
    return TrainResult(model=model, history=hist, seconds=time.perf_counter() - t0, config=asdict(config))
