"""Batched multi-start gradient training of the approximate loss L~ (eq. 11) in one tensor program.

N independent models (W_E^(s), W_D^(s)), s = 1..N, of one small instance are stacked along a
leading start dimension and trained together: every product is a batched matrix product, so
10,000 starts of a tiny instance run in seconds on a CPU and faster on a GPU. The loss and its
gradient are those of sdlscape.theory.loss (approx_loss / approx_grad): for each start,

    L~ = sum_d M_d || w_r^d - W_D sigma(W_E w_p^d) ||^2,        (eq. 11)

and the gradient is the one of the current piece's quadratic (the selection mask held fixed,
which is the gradient of L~ wherever it is differentiable, eq. 13). Adam is elementwise, so
stepping the stacked parameters with one optimizer equals N separate runs.

Initialisations: "random" (independent Gaussian W_E, W_D entries, variance 1/n_p and 1/n_latents)
and "tied" (unit-norm random decoder columns, W_E = W_D^T; needs n_p = n_r).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from sdlscape.errors import InputError
from sdlscape.theory.instance import Instance

INITS = ("random", "tied")
OPTIMIZERS = ("adam", "gd", "gd_lip")


def check_device(device: str) -> torch.device:
    """A torch device for the run; InputError (one line) for unknown names or CUDA without a GPU."""
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise InputError(f"device must be 'cpu' or 'cuda[:i]', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available on this machine")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise InputError(f"bad device {device!r}: {exc}") from None


# ---------------------------------------------------------------- activations, batched
#
# Layout: the start dimension is the LAST axis (W_E: q x n_p x N, W_D: n_r x q x N, Z: q x n x N),
# so that every product over the tiny instance dimensions is a contiguous, vectorised elementwise
# operation over the N starts (much faster on a CPU than N tiny bmm's).

def selection(inst: Instance, Z: torch.Tensor) -> torch.Tensor:
    """The latents sigma passes, latents along axis 0: the activation's own rule (theory/activations)."""
    return inst.activation.passes(Z, axis=0)


def apply(inst: Instance, Z: torch.Tensor) -> torch.Tensor:
    """sigma along axis 0: sigma(z)_i in {0, z_i} (eq. 10)."""
    return Z * selection(inst, Z)


# ---------------------------------------------------------------- loss and gradient, batched

@dataclass
class Problem:
    """The instance's constants as tensors on one device/dtype."""

    inst: Instance
    W_p: torch.Tensor      # n_p x n
    W_r: torch.Tensor      # n_r x n
    M: torch.Tensor        # n

    @classmethod
    def of(cls, inst: Instance, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64) -> Problem:
        t = lambda a: torch.tensor(np.array(a), dtype=dtype, device=device)  # noqa: E731
        return cls(inst, t(inst.W_p), t(inst.W_r), t(inst.M))


def loss_and_grad(prob: Problem, D: torch.Tensor, E: torch.Tensor, need_grad: bool = True):
    """Per-start L~ (eq. 11), its piece gradient (dL/dW_D, dL/dW_E) and the selection mask (start axis last).

    E: q x n_p x N, D: n_r x q x N. With Z = W_E W_p, A = selection(Z), Q = A * Z, R = W_r - W_D Q:
    L = sum_d M_d ||R[:, d]||^2, dL/dW_D = -2 (R M) Q^T, dL/dW_E = -2 (A * (W_D^T R M)) W_p^T
    (theory.loss.approx_grad, one start per slice).
    """
    Z = (E.unsqueeze(2) * prob.W_p.unsqueeze(0).unsqueeze(-1)).sum(1)          # q x n x N
    A = selection(prob.inst, Z)
    Q = Z * A
    R = prob.W_r.unsqueeze(-1) - (D.unsqueeze(2) * Q.unsqueeze(0)).sum(1)      # n_r x n x N
    RM = R * prob.M.view(1, -1, 1)
    loss = (R * RM).sum((0, 1))
    if not need_grad:
        return loss, None, None, A
    gD = -2.0 * (RM.unsqueeze(1) * Q.unsqueeze(0)).sum(2)                       # n_r x q x N
    T = (D.unsqueeze(2) * RM.unsqueeze(1)).sum(0) * A                          # q x n x N
    gE = -2.0 * (T.unsqueeze(1) * prob.W_p.unsqueeze(0).unsqueeze(-1)).sum(2)  # q x n_p x N
    return loss, gD, gE, A


def lipschitz_bound(prob: Problem, D: torch.Tensor, E: torch.Tensor, wp2: float) -> torch.Tensor:
    """Per start, 2 max_d M_d (||W_E W_p||_F^2 + ||W_D||_F^2 ||W_p||_2^2): bounds the curvature of the
    piece's quadratic in each block (Hessians 2 Q diag(M) Q^T and A-masked W_D^T W_D x W_p W_p^T)."""
    Z = (E.unsqueeze(2) * prob.W_p.unsqueeze(0).unsqueeze(-1)).sum(1)
    return 2.0 * prob.M.max() * (Z.pow(2).sum((0, 1)) + D.pow(2).sum((0, 1)) * wp2) + 1e-12


def grad_norm(gD: torch.Tensor, gE: torch.Tensor) -> torch.Tensor:
    """Per-start Frobenius norm of the full gradient (both blocks), start axis last."""
    return torch.sqrt(gD.pow(2).sum((0, 1)) + gE.pow(2).sum((0, 1)))


def to_last(W: np.ndarray, device, dtype) -> torch.Tensor:
    """N x a x b numpy -> a x b x N contiguous tensor."""
    return torch.tensor(np.ascontiguousarray(np.moveaxis(np.asarray(W), 0, -1)), dtype=dtype, device=device)


def to_first(T: torch.Tensor) -> np.ndarray:
    """a x b x N tensor -> N x a x b float64 numpy."""
    return np.ascontiguousarray(np.moveaxis(T.detach().to("cpu", torch.float64).numpy(), -1, 0))


def batched_loss_grad(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, device: str = "cpu"
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """L~, dL/dW_D, dL/dW_E and the selection mask for stacked points (N x ... numpy, start axis first)."""
    prob = Problem.of(inst, device)
    L, gD, gE, A = loss_and_grad(prob, to_last(W_D, device, torch.float64), to_last(W_E, device, torch.float64))
    return L.cpu().numpy(), to_first(gD), to_first(gE), np.moveaxis(A.cpu().numpy(), -1, 0)


# ---------------------------------------------------------------- initialisation

def init_weights(inst: Instance, n: int, scheme: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """N starting points (W_E: N x q x n_p, W_D: N x n_r x q) of one scheme, float64, seeded (CPU RNG)."""
    if scheme not in INITS:
        raise InputError(f"unknown initialisation {scheme!r}; expected one of {', '.join(INITS)}")
    q, n_p, n_r = inst.n_latents, inst.n_p, inst.n_r
    rng = np.random.default_rng([int(seed), INITS.index(scheme)])
    if scheme == "random":
        W_E = rng.standard_normal((n, q, n_p)) / math.sqrt(n_p)
        W_D = rng.standard_normal((n, n_r, q)) / math.sqrt(q)
        return W_E, W_D
    if n_p != n_r:
        raise InputError(f"tied initialisation (W_E = W_D^T) needs n_p = n_r, got n_p = {n_p}, n_r = {n_r}")
    W_D = rng.standard_normal((n, n_r, q))
    W_D /= np.linalg.norm(W_D, axis=1, keepdims=True)
    return np.ascontiguousarray(W_D.transpose(0, 2, 1)), W_D


# ---------------------------------------------------------------- training

@dataclass
class MultiStartResult:
    """Final points and diagnostics of N batched runs (numpy, float64)."""

    W_E: np.ndarray            # N x q x n_p
    W_D: np.ndarray            # N x n_r x q
    loss: np.ndarray           # N, L~ at the final point
    grad_norm: np.ndarray      # N, piece gradient norm at the final point
    init: np.ndarray           # N, the initialisation scheme of each start (str)
    loss0: np.ndarray          # N, L~ at the start
    steps: int
    seconds: float
    settings: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)   # step -> quantiles of the loss over starts

    @property
    def n_starts(self) -> int:
        return int(self.loss.shape[0])


def _lr_at(step: int, steps: int, lr: float, final_frac: float) -> float:
    """Cosine decay from lr to lr * final_frac over the run."""
    if steps <= 1:
        return lr
    c = 0.5 * (1.0 + math.cos(math.pi * step / (steps - 1)))
    return lr * (final_frac + (1.0 - final_frac) * c)


def train_batched(inst: Instance, W_E0: np.ndarray, W_D0: np.ndarray, *, steps: int = 3000, lr: float = 1e-2,
                  optimizer: str = "adam", final_lr_frac: float = 1e-3, device: str = "cpu",
                  dtype: torch.dtype = torch.float64, chunk: int | None = None, log_points: int = 20,
                  threads: int | None = 1, per_start_history: bool = False, progress: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Train every start (stacked along axis 0) on L~ with Adam or plain GD; returns finals, loss, grad norm.

    "adam" (betas 0.9, 0.999, eps 1e-12), "gd" (W <- W - lr * grad) or "gd_lip" (gradient descent
    with each start's step lr / lipschitz_bound, recomputed every step: scale-free and stable for
    lr < 1); the step size decays by a cosine from lr to lr * final_lr_frac. Starts are processed in chunks
    of `chunk` (default: all at once); chunking
    does not change any start's trajectory. On CPU torch runs with `threads` intra-op threads
    (default 1: the tensors are small, and extra threads on a shared machine cost more in
    synchronisation than they gain); None keeps torch's setting. The history holds loss quantiles
    over starts at `log_points` steps, and with per_start_history every start's loss there.
    """
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    if not (lr > 0 and math.isfinite(lr)):
        raise InputError(f"lr must be a positive number, got {lr}")
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    dev = check_device(device)
    old_threads = torch.get_num_threads()
    if threads and dev.type == "cpu":
        torch.set_num_threads(int(threads))
    try:
        return _train(inst, W_E0, W_D0, steps, lr, optimizer, final_lr_frac, dev, dtype, chunk, log_points, progress,
                      per_start_history)
    finally:
        torch.set_num_threads(old_threads)


def _train(inst, W_E0, W_D0, steps, lr, optimizer, final_lr_frac, dev, dtype, chunk, log_points, progress,
           per_start_history):
    prob = Problem.of(inst, dev, dtype)
    N = W_E0.shape[0]
    chunk = N if not chunk else int(chunk)
    outs = []
    hist_steps = sorted({int(round(s)) for s in np.linspace(0, steps, max(2, log_points))})
    hist: dict[int, list] = {s: [] for s in hist_steps}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps * math.ceil(N / chunk), desc=f"train {N} starts", leave=False, mininterval=1.0)
    b1, b2, aeps = 0.9, 0.999, 1e-12
    wp2 = float(np.linalg.norm(inst.W_p, 2) ** 2)
    for lo in range(0, N, chunk):
        E = to_last(W_E0[lo:lo + chunk], dev, dtype)
        D = to_last(W_D0[lo:lo + chunk], dev, dtype)
        mE, vE, mD, vD = (torch.zeros_like(E), torch.zeros_like(E), torch.zeros_like(D), torch.zeros_like(D))
        for t in range(steps):
            loss, gD, gE, _ = loss_and_grad(prob, D, E)
            if t in hist:
                hist[t].append(loss.cpu().numpy())
            a = _lr_at(t, steps, lr, final_lr_frac)
            if optimizer == "gd":
                E.sub_(gE, alpha=a)
                D.sub_(gD, alpha=a)
            elif optimizer == "gd_lip":
                step = a / lipschitz_bound(prob, D, E, wp2)
                E.sub_(gE * step)
                D.sub_(gD * step)
            else:
                c1, c2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
                for P, g, m, v in ((E, gE, mE, vE), (D, gD, mD, vD)):
                    m.mul_(b1).add_(g, alpha=1 - b1)
                    v.mul_(b2).addcmul_(g, g, value=1 - b2)
                    P.addcdiv_(m, (v / c2).sqrt_().add_(aeps), value=-a / c1)
            if bar is not None:
                bar.update(1)
        loss, gD, gE, _ = loss_and_grad(prob, D, E)
        if steps in hist:
            hist[steps].append(loss.cpu().numpy())
        outs.append((to_first(E), to_first(D), loss.cpu().numpy().astype(float),
                     grad_norm(gD, gE).cpu().numpy().astype(float)))
    if bar is not None:
        bar.close()
    W_E, W_D, L, G = (np.concatenate([o[i] for o in outs]) for i in range(4))
    q = (0.0, 0.1, 0.5, 0.9, 1.0)
    history = {"step": hist_steps,
               "loss_quantiles": {str(p): [float(np.quantile(np.concatenate(hist[s]), p)) for s in hist_steps]
                                  for p in q},
               "loss_mean": [float(np.mean(np.concatenate(hist[s]))) for s in hist_steps]}
    if per_start_history:
        history["loss_per_start"] = np.stack([np.concatenate(hist[s]) for s in hist_steps], axis=1)
    return W_E, W_D, L, G, history


def multistart(inst: Instance, starts: int, *, init: str = "both", steps: int = 3000, lr: float = 1e-2,
               optimizer: str = "adam", seed: int = 0, device: str = "cpu", chunk: int | None = None,
               threads: int | None = 1, progress: bool = False) -> MultiStartResult:
    """Train `starts` independent models of inst from the given initialisation scheme(s), batched.

    init "both" splits the starts evenly between "random" and "tied" (random only if n_p != n_r).
    The starting points come from a CPU numpy RNG seeded by `seed`, so every device starts from
    the same points; on CPU the same seed gives the same result.
    """
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise InputError(f"starts must be a positive integer, got {starts!r}")
    if init == "both":
        schemes = ["random", "tied"] if inst.n_p == inst.n_r else ["random"]
    elif init in INITS:
        schemes = [init]
    else:
        raise InputError(f"init must be one of random, tied, both; got {init!r}")
    check_device(device)
    sizes = [starts // len(schemes) + (1 if i < starts % len(schemes) else 0) for i in range(len(schemes))]
    E, D, labels = [], [], []
    for scheme, m in zip(schemes, sizes):
        if m == 0:
            continue
        W_E0, W_D0 = init_weights(inst, m, scheme, seed)
        E.append(W_E0)
        D.append(W_D0)
        labels += [scheme] * m
    W_E0, W_D0 = np.concatenate(E), np.concatenate(D)
    prob = Problem.of(inst)
    loss0 = loss_and_grad(prob, to_last(W_D0, "cpu", torch.float64), to_last(W_E0, "cpu", torch.float64),
                          need_grad=False)[0].numpy()
    t0 = time.perf_counter()
    W_E, W_D, L, G, history = train_batched(inst, W_E0, W_D0, steps=steps, lr=lr, optimizer=optimizer,
                                            device=device, chunk=chunk, threads=threads, progress=progress)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    settings = {"init": init, "schemes": schemes, "steps": steps, "lr": lr, "optimizer": optimizer,
                "lr_schedule": "cosine to lr * 1e-3", "seed": seed, "device": device, "dtype": "float64"}
    return MultiStartResult(W_E=W_E, W_D=W_D, loss=L, grad_norm=G, init=np.array(labels), loss0=loss0,
                            steps=steps, seconds=seconds, settings=settings, history=history)
