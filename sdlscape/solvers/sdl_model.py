"""PyTorch SDL models (SAE, transcoder, crosscoder) and their training configuration.

One model covers the three instantiations of Def. 2.3: latents x_q = sigma(W_E x_p) and
reconstruction W_D x_q, no biases except the ReLU code's encoder bias b_enc and the gated code's gate
biases.  A transcoder passes x_out != x_in; a crosscoder passes the concatenated sources as x_in and x_out.

Trainer codes (``TrainConfig.activation``; one class each, in solvers/torch_codes.py; the bench's method
names map to them in sdlscape/bench/methods.py):

* ``relu``: ReLU + L1 penalty (eq. 5); ``jumprelu``: learned thresholds trained by a straight-
  through estimator on an L0 penalty (eq. 6); ``gated``: Heaviside gate with weight-shared magnitude
  path + L1 on the gate.  Their coefficient can be *calibrated*: with ``target_l0`` set, the
  coefficient adapts every step (multiplicatively, on the log of the batch L0's running mean) so
  that the code reaches that L0.
* ``topk_relu``: TopK o ReLU per sample (eq. 7; theory/'s plain ``topk`` is a different map);
  ``batchtopk_relu``: k * batch entries over the batch, a global threshold for inference;
  ``matryoshka_topk_relu``: TopK o ReLU with reconstruction losses summed over nested latent
  prefixes (eq. 9).  AuxK (eq. 8) and resampling of dead latents are options.

Sparse training of the TopK family (no n_latents x batch gradient anywhere).  The pre-activation
x W_E^T is computed without autograd (only to *select* latents; in bfloat16 if
``select_dtype="bf16"``, then the selected values are recomputed in fp32); the selected values carry
the gradient through :class:`_SelectedPre`, whose backward writes the encoder gradient row by row
as an embedding_bag over the selections sorted by latent; decoding is an embedding_bag over the
selected decoder rows (:class:`_SparseDecode`, backward likewise).  Cost per step: one dense
forward matmul plus O(batch * k * d).

The trainer (losses, resampling, anchoring, the training loop) is sdlscape.solvers.gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sdlscape.errors import InputError
from sdlscape.solvers.anchor_terms import VARIANTS as ANCHOR_VARIANTS
from sdlscape.solvers.torch_codes import (
    CODES,
    Code,
    Codes,
    _ByLatent,
    _gathered_dots,
    _SelectedPre,
    _SparseDecode,
)

PRECISIONS = ("auto", "fp32", "tf32", "bf16")
SELECT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one SDL training run (all fields have defaults except the first two)."""

    activation: str            # a trainer code: one of CODES (module docstring)
    n_latents: int
    k: int = 32                # TopK family
    steps: int = 2000
    batch_size: int = 1024
    lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"
    anchor_coef: float = 0.0   # lambda_anchor of eq. 26; the first n_anchors latents are anchored
    anchor_variant: str = "eq26"   # which anchoring term (solvers/anchor_terms.py VARIANTS)
    normalize_decoder: bool = True
    resample_every: int | None = None   # every this many steps, resample latents silent for >= dead_steps steps
    l1_coef: float = 3e-2               # relu / gated sparsity penalty (per sample, eq. 5); initial value if calibrated
    l0_coef: float = 3e-2               # jumprelu L0 penalty (eq. 6); initial value if calibrated
    target_l0: float | None = None      # relu / jumprelu / gated: adapt the coefficient to reach this L0
    coef_rate: float = 0.01             # per-step log-rate of the adaptive coefficient
    coef_freeze: float = 0.0            # the coefficient is frozen for this final fraction of the steps
    jumprelu_threshold: float = 0.1     # initial threshold theta
    jumprelu_bandwidth: float = 0.05    # width of the rectangle kernel of the straight-through estimator
    auxk: int | None = None             # number of dead latents used by AuxK (eq. 8); None = off
    auxk_coef: float = 1.0 / 32.0
    dead_steps: int = 200               # a latent silent this many steps is dead (AuxK)
    matryoshka_prefixes: tuple[int, ...] | None = None  # default: n/16, n/8, n/4, n/2, n
    batchtopk_momentum: float = 0.99    # EMA of the inference threshold of BatchTopK
    resample_pool: int = 8192           # inputs scored when resampling dead latents
    precision: str = "auto"             # fp32 | tf32 | bf16 | auto (tf32 on CUDA, fp32 on CPU)
    select_dtype: str = "fp32"          # TopK family: dtype of the selection-only pre-activation
    decoder_init: str = "tied"          # "tied": W_E = W_D^T at init (SAE); "independent"
    log_every: int = 50

    def code(self) -> Code:
        """The trainer code object (InputError for an unknown name)."""
        try:
            return CODES[self.activation]
        except KeyError:
            raise InputError(f"unknown activation {self.activation!r}; choose one of {', '.join(CODES)}") from None

    def validate(self, d_in: int | None = None) -> None:
        """Raise InputError (one line) if the configuration cannot be trained."""
        code = self.code()
        if self.n_latents < 1:
            raise InputError(f"n_latents must be >= 1, got {self.n_latents}")
        if code.uses_k and not 1 <= self.k <= self.n_latents:
            raise InputError(f"k must be in [1, n_latents={self.n_latents}], got k={self.k}")
        if self.steps < 0 or self.batch_size < 1 or not self.lr > 0:
            raise InputError("steps must be >= 0, batch_size >= 1 and lr > 0")
        if self.anchor_coef < 0:
            raise InputError(f"anchor_coef must be >= 0, got {self.anchor_coef}")
        if self.anchor_variant not in ANCHOR_VARIANTS:
            raise InputError(f"anchor_variant must be one of {', '.join(ANCHOR_VARIANTS)}, got {self.anchor_variant!r}")
        if self.resample_every is not None and self.resample_every < 1:
            raise InputError(f"resample_every must be >= 1 or None, got {self.resample_every}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.select_dtype not in SELECT_DTYPES:
            raise InputError(f"select_dtype must be one of {', '.join(SELECT_DTYPES)}, got {self.select_dtype!r}")
        if self.decoder_init not in ("tied", "independent"):
            raise InputError(f"decoder_init must be 'tied' or 'independent', got {self.decoder_init!r}")
        if not 0.0 <= self.coef_freeze < 1.0:
            raise InputError(f"coef_freeze must be in [0, 1), got {self.coef_freeze}")
        if self.target_l0 is not None and not (code.calibratable and self.target_l0 > 0):
            raise InputError(f"target_l0 needs a penalised code (relu, jumprelu, gated) and a value > 0, "
                             f"got {self.activation!r} with {self.target_l0}")
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


# ---------------------------------------------------------------- the model

class SDLModel(torch.nn.Module):
    """x_q = sigma(W_E x), recon = W_D x_q (Def. 2.3).

    Parameters: W_E (n_latents x d_in) and W_dec (n_latents x d_out, the decoder's columns as rows);
    ``W_D`` is the view W_dec^T (d_out x n_latents) of the paper's notation.
    """

    def __init__(self, d_in: int, d_out: int, config: TrainConfig, generator: torch.Generator | None = None):
        super().__init__()
        config.validate()
        self.config = config
        self.code = config.code()
        self.d_in, self.d_out, self.n_latents = int(d_in), int(d_out), int(config.n_latents)
        n = self.n_latents
        W_dec = torch.randn(n, d_out, generator=generator, dtype=torch.float32)
        W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
        if d_in == d_out and config.decoder_init == "tied":
            W_E = W_dec.clone()          # tied initialisation
        else:
            W_E = torch.randn(n, d_in, generator=generator, dtype=torch.float32)
            W_E = W_E / W_E.norm(dim=1, keepdim=True)
        self.W_E = torch.nn.Parameter(W_E)
        self.W_dec = torch.nn.Parameter(W_dec)
        self.code.init_params(self)
        # BatchTopK inference threshold (EMA of the smallest selected activation); NaN = not set.
        self.register_buffer("batch_threshold", torch.tensor(float("nan")))

    @property
    def W_D(self) -> torch.Tensor:
        """Decoder d_out x n_latents (columns w_D^i), a view of W_dec."""
        return self.W_dec.t()

    # -- encoding
    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W_E.t()

    def pre_select(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation used only to choose latents (no autograd; select_dtype)."""
        dt = SELECT_DTYPES[self.config.select_dtype]
        return x.to(dt) @ self.W_E.detach().to(dt).t()

    def selected_codes(self, x, rows, cols, z, B, pre=None) -> Codes:
        """Sparse codes relu(<W_E[c], x[r]>) of the selections, differentiable in W_E only there.

        pre: the selected pre-activations when the caller has them (z[rows, cols] for an fp32 z)."""
        if pre is None and z.dtype == torch.float32 and z.shape == (B, self.n_latents):
            pre = z[rows, cols]
        elif pre is None:
            with torch.no_grad():
                pre = _gathered_dots(x.float(), rows, self.W_E.detach(), cols)
        by_latent = _ByLatent(rows, cols, self.n_latents)
        vals = F.relu(_SelectedPre.apply(self.W_E, x, rows, cols, pre, by_latent))
        on = vals.detach() > 0
        fired = torch.zeros(self.n_latents, dtype=torch.bool, device=x.device)
        fired[cols[on]] = True
        return Codes(rows=rows, cols=cols, vals=vals, fired=fired, l0=float(on.sum()) / B, B=B, by_latent=by_latent)

    def threshold(self) -> torch.Tensor:
        """Per-latent inference threshold (JumpReLU theta, BatchTopK global threshold, else 0)."""
        return self.code.threshold(self)

    def codes(self, x: torch.Tensor, train: bool = False) -> Codes:
        return self.code.codes(self, x, train)

    # -- decoding
    def decode_codes(self, c: Codes, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction from codes; sparse codes decode from their selected rows only."""
        if c.dense is not None:
            return c.dense @ self.W_dec
        w = (c.vals if weights is None else weights).float()
        return _SparseDecode.apply(self.W_dec, c.rows, c.cols, w, c.B, c.by_latent)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Dense latents x_q (B x n_latents), for inspection and metrics (inference mode)."""
        c = self.codes(x, train=False)
        if c.dense is not None:
            return c.dense
        q = torch.zeros(x.shape[0], self.n_latents, dtype=c.vals.dtype, device=x.device)
        q[c.rows, c.cols] = c.vals
        return q

    def decode(self, q: torch.Tensor) -> torch.Tensor:
        """W_D q for dense latents q (B x n_latents)."""
        return q @ self.W_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_codes(self.codes(x, train=False))

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
