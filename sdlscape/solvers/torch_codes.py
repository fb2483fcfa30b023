"""The trainer codes of sdlscape.solvers.gradient: sigma and its sparsity penalty, one class per code.

``relu`` (ReLU + L1, eq. 5), ``jumprelu`` (learned thresholds, straight-through estimator on L0, eq. 6),
``gated`` (Heaviside gate + L1), ``topk_relu`` (TopK o ReLU per sample, eq. 7), ``batchtopk_relu`` and
``matryoshka_topk_relu`` (eq. 9).  The TopK family trains sparsely: the selected pre-activations carry
the gradient through :class:`_SelectedPre` and decoding is an embedding_bag over the selected decoder rows
(:class:`_SparseDecode`), so no n_latents x batch gradient is formed.

A trainer code is an activation of the exact theory (a name of sdlscape.theory.activations.REGISTRY, or
None for gated / BatchTopK, maps the exact theory does not have) plus a penalty; the names are declared in
the same namespace as the activations (theory.activations.TRAINERS); CODES implements exactly those.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sdlscape.solvers.gradient_topk import topk_cols
from sdlscape.theory.activations.registry import TRAINERS

if TYPE_CHECKING:
    from sdlscape.solvers.gradient import SDLModel


def _sq_err(target: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Per-sample squared error averaged over the batch (eq. 3)."""
    return (target - recon.to(target.dtype)).pow(2).sum(-1).mean()


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


# ---------------------------------------------------------------- sparse selection and decode

class _ByLatent:
    """Selections (rows, cols) grouped by latent (stable: rows ascending within a latent), sorted once per batch
    and shared by the backward's scatters (encoder and decoder gradients) and its sampled product."""

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, n: int):
        self.rows, self.cols, self.n, self._plan = rows, cols, n, None

    def plan(self):
        """(order, rows[order], cols[order], offsets of each latent's selections)."""
        if self._plan is None:
            order = torch.argsort(self.cols, stable=True)
            counts = torch.bincount(self.cols, minlength=self.n)
            offsets = torch.zeros(self.n, dtype=torch.long, device=self.cols.device)
            offsets[1:] = counts.cumsum(0)[:-1]
            self._plan = order, self.rows[order], self.cols[order], offsets
        return self._plan

    def scatter(self, w: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """out[j] = sum over selections (b, j) of w * src[b] (n x d), as an embedding_bag per latent."""
        order, rows, _, offsets = self.plan()
        return F.embedding_bag(rows, src, offsets, per_sample_weights=w[order].to(src.dtype), mode="sum")

    def dots(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """<a[rows[i]], b[cols[i]]> for every selection i, in the selections' order: _gathered_dots taken latent
        by latent, so each row of b (the decoder, 50 MB at paper size) is read once and in order, not once per
        selection at random (3.8x faster at 768 x 16000, batch 1024, k = 128; the same dot products, bit for bit)."""
        order, rows, cols, _ = self.plan()
        vals = _gathered_dots(b, cols, a, rows)
        out = torch.empty_like(vals)
        out[order] = vals
        return out


def _rows_by_latent(rows: torch.Tensor, cols: torch.Tensor, w: torch.Tensor, src: torch.Tensor,
                    n: int) -> torch.Tensor:
    """out[j] = sum over selections (b, j) of w * src[b] (n x d), as an embedding_bag per latent."""
    return _ByLatent(rows, cols, n).scatter(w, src)


def _gathered_dots(a: torch.Tensor, rows: torch.Tensor, b: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """<a[rows[i]], b[cols[i]]> for every selection i: the entries (rows, cols) of a @ b^T, no more.

    A sampled dense-dense product (torch.sparse.sampled_addmm over a CSR pattern): nothing of size
    selections x d is formed and no row is gathered (the gather-multiply-sum it replaces cost 26x
    more at d = 768, 16000 latents, batch 1024, k = 128).  The pattern must list each (row, col) once;
    selections in row-major order (what TopK / BatchTopK / AuxK produce) are used without sorting.
    """
    n_sel = rows.numel()
    if n_sel == 0:
        return torch.empty(0, dtype=a.dtype, device=a.device)
    key = rows * b.shape[0] + cols
    ordered = bool((key[1:] > key[:-1]).all())
    order = None if ordered else torch.argsort(key)
    r, c = (rows, cols) if ordered else (rows[order], cols[order])
    if not ordered and bool((key[order][1:] == key[order][:-1]).any()):
        raise ValueError("_gathered_dots: a (row, col) selection appears twice")
    crow = torch.zeros(a.shape[0] + 1, dtype=torch.long, device=a.device)
    crow[1:] = torch.bincount(r, minlength=a.shape[0]).cumsum(0)
    dt = torch.promote_types(a.dtype, b.dtype)
    with warnings.catch_warnings():     # "sparse CSR support is in beta state", once per process
        warnings.simplefilter("ignore", UserWarning)
        pattern = torch.sparse_csr_tensor(crow, c, torch.zeros(n_sel, dtype=dt, device=a.device),
                                          size=(a.shape[0], b.shape[0]), check_invariants=False)
    vals = torch.sparse.sampled_addmm(pattern, a.to(dt), b.to(dt).t(), beta=0.0).values()
    if ordered:
        return vals
    out = torch.empty_like(vals)
    out[order] = vals
    return out


class _SelectedPre(torch.autograd.Function):
    """vals[i] = <W_E[cols[i]], x[rows[i]]> (given, precomputed); the gradient reaches selected rows only."""

    @staticmethod
    def forward(ctx, W_E, x, rows, cols, vals, by_latent=None):
        ctx.save_for_backward(x)
        ctx.by_latent = by_latent if by_latent is not None else _ByLatent(rows, cols, W_E.shape[0])
        return vals.clone()

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return ctx.by_latent.scatter(g, x), None, None, None, None, None


class _SparseDecode(torch.autograd.Function):
    """recon[b] = sum over selections (b, j) of vals * W_dec[j] (W_dec: n_latents x d_out)."""

    @staticmethod
    def forward(ctx, W_dec, rows, cols, vals, B, by_latent=None):
        ctx.save_for_backward(W_dec, rows, cols, vals)
        ctx.by_latent = by_latent if by_latent is not None else _ByLatent(rows, cols, W_dec.shape[0])
        counts = torch.bincount(rows, minlength=B)
        offsets = torch.zeros(B, dtype=torch.long, device=rows.device)
        offsets[1:] = counts.cumsum(0)[:-1]
        return F.embedding_bag(cols, W_dec, offsets, per_sample_weights=vals.to(W_dec.dtype), mode="sum")

    @staticmethod
    def backward(ctx, g):
        W_dec, rows, cols, vals = ctx.saved_tensors
        g = g.contiguous().to(W_dec.dtype)
        gW = ctx.by_latent.scatter(vals, g) if ctx.needs_input_grad[0] else None
        gv = ctx.by_latent.dots(g, W_dec).to(vals.dtype) if ctx.needs_input_grad[3] else None
        return gW, None, None, gv, None, None


# ---------------------------------------------------------------- codes

@dataclass
class Codes:
    """Latent codes of a batch: dense (B x n_latents) or sparse selections (rows, cols, vals: flat)."""

    dense: torch.Tensor | None = None
    rows: torch.Tensor | None = None
    cols: torch.Tensor | None = None
    vals: torch.Tensor | None = None
    gate: torch.Tensor | None = None      # gated: relu(pi_gate), for the auxiliary loss
    fired: torch.Tensor | None = None     # bool n_latents: fired somewhere in the batch
    pre: torch.Tensor | None = None       # dense codes: the batch's pre-activations x W_E^T (detached), for penalties
    by_latent: _ByLatent | None = None    # sparse: the selections sorted by latent, shared by the backward
    l0: float = 0.0
    B: int = 0


class Code:
    """A trainer code: how latents are computed from pre-activations, penalised, thresholded, reset."""

    name = ""
    uses_k = False          # sparsity is a budget k (TopK family)
    sparse = False          # decodes from selected latents only
    calibratable = False    # sparsity is a penalty coefficient (target_l0 applies)
    coef_field = "l1_coef"  # the TrainConfig field holding that coefficient
    per_batch = False       # selection depends on the whole batch (BatchTopK): not a per-sample map

    @property
    def activation(self) -> str | None:
        """The exact-theory activation this code trains (its declaration in theory.activations.TRAINERS)."""
        return TRAINERS[self.name].activation

    def init_params(self, model: SDLModel) -> None:
        pass

    def codes(self, model: SDLModel, x: torch.Tensor, train: bool) -> Codes:
        raise NotImplementedError

    def rec_loss(self, model, x_out, c) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction loss that is trained, plain squared error of the full decode)."""
        mse = _sq_err(x_out, model.decode_codes(c))
        return mse, mse

    def penalty(self, model, x_in, x_out, c, coef) -> torch.Tensor | None:
        return None

    def threshold(self, model) -> torch.Tensor:
        return torch.zeros(model.n_latents, device=model.W_E.device)

    @torch.no_grad()
    def active_count(self, model, x: torch.Tensor) -> int:
        """Number of positive entries of the inference codes of x (the calibrator's L0 probe)."""
        return int((model.encode(x) > 0).sum())

    def reset(self, model, idx) -> dict:
        """Reset per-latent parameters of latents idx; returns {parameter: latent dim} to clear in Adam."""
        return {}


def _dense(q: torch.Tensor, **kw) -> Codes:
    """Dense codes q >= 0 (relu, jumprelu, gated): a latent fired where its column's maximum is positive (the
    same as (q > 0).any(0) for q without NaN, in a sixth of the time at 128 x 800); batches are not empty."""
    on = q > 0
    return Codes(dense=q, fired=q.amax(0) > 0, l0=float(on.sum()) / q.shape[0], B=q.shape[0], **kw)


class ReLUL1(Code):
    """ReLU(W_E x + b_enc) + L1 (eq. 5); the encoder bias b_enc lets latents threshold (as SAELens's standard SAE)."""

    name, calibratable = "relu", True

    def init_params(self, model):
        model.b_enc = torch.nn.Parameter(torch.zeros(model.n_latents))

    def codes(self, model, x, train):
        return _dense(F.relu(model.pre(x) + model.b_enc))

    def penalty(self, model, x_in, x_out, c, coef):
        return coef * (c.dense * model.W_dec.norm(dim=1)).sum(-1).mean()

    @torch.no_grad()
    def active_count(self, model, x):
        # relu(v) > 0 exactly where v > 0 (NaN: neither): the count of encode(x) > 0 in 3 passes instead of 7
        return int(((model.pre(x) + model.b_enc) > 0).sum())

    def reset(self, model, idx):
        model.b_enc[idx] = 0.0
        return {model.b_enc: 0}


class JumpReLUL0(Code):
    name, calibratable, coef_field = "jumprelu", True, "l0_coef"

    def init_params(self, model):
        model.log_threshold = torch.nn.Parameter(torch.full((model.n_latents,), math.log(model.config.jumprelu_threshold)))

    def codes(self, model, x, train):
        z = model.pre(x)
        return _dense(_JumpReLU.apply(z, model.log_threshold.exp(), model.config.jumprelu_bandwidth), pre=z.detach())

    def penalty(self, model, x_in, x_out, c, coef):
        # _Step passes no gradient to z, so the codes' (detached) pre-activations of x_in serve: one matmul less
        cfg = model.config
        z = c.pre if c.pre is not None and c.pre.shape[0] == x_in.shape[0] else model.pre(x_in).detach()
        return coef * _Step.apply(z, model.log_threshold.exp(), cfg.jumprelu_bandwidth).sum(-1).mean()

    def threshold(self, model):
        return model.log_threshold.exp().detach()

    @torch.no_grad()
    def active_count(self, model, x):
        # z * H(z - theta) > 0 exactly where z > theta (z * 0 is +-0 or NaN, and theta = exp(.) >= 0 so z > theta
        # makes z > 0): encode(x) > 0's count in 2 passes instead of 6
        return int((model.pre(x) > model.log_threshold.exp()).sum())

    def reset(self, model, idx):
        model.log_threshold[idx] = math.log(model.config.jumprelu_threshold)
        return {model.log_threshold: 0}


class GatedL1(Code):
    name, calibratable = "gated", True

    def init_params(self, model):
        n = model.n_latents
        model.b_gate = torch.nn.Parameter(torch.zeros(n))
        model.r_mag = torch.nn.Parameter(torch.zeros(n))
        model.b_mag = torch.nn.Parameter(torch.zeros(n))

    def codes(self, model, x, train):
        z = model.pre(x)
        pi_gate = z + model.b_gate
        q = (pi_gate > 0).to(z.dtype) * F.relu(z * model.r_mag.exp() + model.b_mag)
        return _dense(q, gate=F.relu(pi_gate))

    def penalty(self, model, x_in, x_out, c, coef):
        pen = coef * (c.gate * model.W_dec.norm(dim=1)).sum(-1).mean()
        return pen + _sq_err(x_out, c.gate @ model.W_dec.detach())

    def reset(self, model, idx):
        for p in (model.b_gate, model.r_mag, model.b_mag):
            p[idx] = 0.0
        return {model.b_gate: 0, model.r_mag: 0, model.b_mag: 0}


class TopKReLUCode(Code):
    """TopK o ReLU per sample (eq. 7), trained sparsely (module docstring)."""

    name, uses_k, sparse = "topk_relu", True, True

    def select(self, model, x, train):
        """(rows, cols) of the selected latents, and the selection-only pre-activation."""
        with torch.no_grad():
            z = model.pre_select(x)
            cols = topk_cols(z, model.config.k)    # ascending: row-major selections, _gathered_dots needs no sort
        rows = torch.arange(x.shape[0], device=x.device).repeat_interleave(cols.shape[1])
        return rows, cols.flatten(), z

    def codes(self, model, x, train):
        rows, cols, z = self.select(model, x, train)
        pre = None
        if not self.per_batch and z.dtype == torch.float32:     # k selections per row: a gather, not an index
            pre = z.gather(1, cols.view(x.shape[0], -1)).flatten()
        return model.selected_codes(x, rows, cols, z, x.shape[0], pre=pre)


class MatryoshkaTopKReLU(TopKReLUCode):
    name = "matryoshka_topk_relu"

    def rec_loss(self, model, x_out, c):
        recs = [_sq_err(x_out, model.decode_codes(c, c.vals * (c.cols < m).to(c.vals.dtype)))
                for m in model.config.prefixes()]
        return torch.stack(recs).mean(), _sq_err(x_out, model.decode_codes(c))


class BatchTopKReLU(TopKReLUCode):
    """BatchTopK o ReLU: the k * B largest positive pre-activations of the batch; a global threshold."""

    name, per_batch = "batchtopk_relu", True

    def select(self, model, x, train):
        cfg, B = model.config, x.shape[0]
        with torch.no_grad():
            z = model.pre_select(x)
            if not train and not torch.isnan(model.batch_threshold):
                rows, cols = (z > model.batch_threshold).nonzero(as_tuple=True)
                return rows, cols, z
            zr = F.relu(z).flatten()
            vals, flat = zr.topk(min(cfg.k * B, zr.numel()), sorted=False)
            flat = flat.sort().values
            rows, cols = flat // model.n_latents, flat % model.n_latents
            if train:
                pos = vals[vals > 0]
                if pos.numel():
                    t = pos.min().float()
                    mom = cfg.batchtopk_momentum
                    model.batch_threshold = t if torch.isnan(model.batch_threshold) else \
                        mom * model.batch_threshold + (1 - mom) * t
        return rows, cols, z

    def threshold(self, model):
        if not torch.isnan(model.batch_threshold):
            return model.batch_threshold.expand(model.n_latents).clone()
        return super().threshold(model)


CODES: dict[str, Code] = {c.name: c for c in (ReLUL1(), JumpReLUL0(), GatedL1(), TopKReLUCode(), BatchTopKReLU(),
                                                MatryoshkaTopKReLU())}
if set(CODES) != set(TRAINERS):
    raise ImportError(f"torch_codes.CODES {sorted(CODES)} must implement exactly theory.activations.TRAINERS "
                      f"{sorted(TRAINERS)}")
ACTIVATIONS = tuple(CODES)
