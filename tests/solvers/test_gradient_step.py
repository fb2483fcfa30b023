"""The fast sparse training step keeps the training it replaced: the same TopK selection (bit for bit), the
same parameters after train_sdl as the unchanged components give, and the parameters of a plain dense
autograd trainer (for-loop Adam) within float tolerance, for topk_relu, relu and jumprelu."""
import math

import pytest
import torch
import torch.nn.functional as F

from sdlscape.solvers import gradient_alloc, gradient_topk, sdl_model, torch_codes
from sdlscape.solvers.gradient import SDLModel, TrainConfig, train_sdl


def _plain_cols(z, k):
    return z.topk(k, dim=1, sorted=False).indices.sort(dim=1).values


@pytest.mark.parametrize("shape,k", [((64, 800), 6), ((33, 4000), 32), ((20, 16000), 128), ((7, 808), 3)])
def test_topk_cols_is_torch_topk_selection(shape, k, monkeypatch):
    g = torch.Generator().manual_seed(k)
    z = torch.randn(*shape, generator=g) * torch.rand(shape[1], generator=g)
    monkeypatch.setattr(gradient_topk, "_plain", None)      # the two-level path must be the one taken
    assert torch.equal(gradient_topk.topk_cols(z, k), _plain_cols(z, k))


@pytest.mark.parametrize("levels", [2, 5, 40])
def test_topk_cols_breaks_ties_as_torch_topk(levels):
    """Integer-valued rows tie everywhere: tied rows fall back to torch.topk on the full row."""
    g = torch.Generator().manual_seed(levels)
    z = torch.randint(0, levels, (50, 800), generator=g).float()
    z[:10] = torch.randn(10, 800, generator=g)              # untied rows in the same batch
    assert torch.equal(gradient_topk.topk_cols(z, 6), _plain_cols(z, 6))


def test_topk_cols_nan_inf_and_odd_shapes():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, 800, generator=g)
    z[3, 17], z[5, :400] = float("nan"), float("-inf")
    assert torch.equal(gradient_topk.topk_cols(z, 6), _plain_cols(z, 6))
    for shape, k in (((4, 803), 5), ((4, 80), 30), ((0, 800), 3)):    # not divisible, too few groups, empty
        z = torch.randn(*shape, generator=g)
        assert torch.equal(gradient_topk.topk_cols(z, k), _plain_cols(z, k))
    zt = torch.randn(800, 16, generator=g).t()                # not contiguous
    assert torch.equal(gradient_topk.topk_cols(zt, 6), _plain_cols(zt, 6))


def _data(d=12, n=512, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)).abs()


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


CONFIGS = {
    "topk_relu": TrainConfig("topk_relu", n_latents=96, k=3, steps=25, batch_size=64, seed=1),
    "topk_auxk": TrainConfig("topk_relu", n_latents=96, k=3, steps=25, batch_size=64, seed=1, auxk=8, dead_steps=5),
    "matryoshka": TrainConfig("matryoshka_topk_relu", n_latents=96, k=3, steps=25, batch_size=64, seed=1),
    "batchtopk": TrainConfig("batchtopk_relu", n_latents=96, k=3, steps=25, batch_size=64, seed=1),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_train_sdl_bit_identical_to_the_unchanged_components(name, monkeypatch):
    """The two-level TopK, the shared latent sort, the gather, the latent-ordered sampled product and the kept
    memory change no bit of training."""
    x, cfg = _data(), CONFIGS[name]
    fast = _params(train_sdl(x, None, cfg).model)
    monkeypatch.setattr(torch_codes, "topk_cols", _plain_cols)
    monkeypatch.setattr(torch_codes.TopKReLUCode, "codes", lambda self, model, x, train: model.selected_codes(
        x, *self.select(model, x, train), x.shape[0]))
    monkeypatch.setattr(sdl_model, "_ByLatent", _unshared(torch_codes._ByLatent))
    monkeypatch.setattr(gradient_alloc, "_LIBC", None)
    slow = _params(train_sdl(x, None, cfg).model)
    assert fast.keys() == slow.keys()
    for key in fast:
        assert fast[key].numpy().tobytes() == slow[key].numpy().tobytes(), key    # NaN buffers too


def _unshared(cls):
    class Unshared(cls):
        def scatter(self, w, src):          # a fresh sort for every scatter, as before the sharing
            self._plan = None
            return super().scatter(w, src)

        def dots(self, a, b):               # the sampled product row by row, as before
            return torch_codes._gathered_dots(a, self.rows, b, self.cols)
    return Unshared


# ---------------------------------------------------------------- a plain dense autograd trainer

def _rect(u):
    return ((u > -0.5) & (u < 0.5)).float()


def _dense_loss(name, p, x, cfg):
    z = x @ p["W_E"].t()
    if name == "topk_relu":
        cols = z.detach().topk(cfg.k, dim=1).indices
        q = torch.zeros_like(z).scatter(1, cols, F.relu(z.gather(1, cols)))
        return ((x - q @ p["W_dec"]) ** 2).sum(-1).mean()
    if name == "relu":
        q = F.relu(z + p["b_enc"])
        pen = cfg.l1_coef * (q * p["W_dec"].norm(dim=1)).sum(-1).mean()
        return ((x - q @ p["W_dec"]) ** 2).sum(-1).mean() + pen
    theta, eps = p["log_threshold"].exp(), cfg.jumprelu_bandwidth     # jumprelu, eq. 6: straight-through
    on = (z > theta).float().detach()
    kern = _rect((z.detach() - theta.detach()) / eps) / eps
    q = z * on + (theta - theta.detach()) * (-theta.detach() * kern)
    l0 = on + (theta - theta.detach()) * (-kern)
    return ((x - q @ p["W_dec"]) ** 2).sum(-1).mean() + cfg.l0_coef * l0.sum(-1).mean()


def _dense_train(name, x, cfg):
    gen = torch.Generator().manual_seed(cfg.seed)
    init = SDLModel(x.shape[1], x.shape[1], cfg, generator=gen)
    p = {k: v.detach().clone().requires_grad_(True) for k, v in init.named_parameters()}
    opt = torch.optim.Adam(list(p.values()), lr=cfg.lr, foreach=False)
    N, B = x.shape[0], cfg.batch_size
    perm, pos = torch.randperm(N, generator=gen), 0
    for _ in range(cfg.steps):
        if pos + B > N:
            perm, pos = torch.randperm(N, generator=gen), 0
        xb = x[perm[pos:pos + B]]
        pos += B
        opt.zero_grad()
        _dense_loss(name, p, xb, cfg).backward()
        opt.step()
        with torch.no_grad():
            p["W_dec"].div_(p["W_dec"].norm(dim=1, keepdim=True).clamp_min(1e-12))
    return p


@pytest.mark.parametrize("name,extra", [("topk_relu", {"k": 4}), ("relu", {"l1_coef": 0.3}),
                                        ("jumprelu", {"l0_coef": 0.05})])
def test_train_sdl_follows_a_dense_autograd_trainer(name, extra):
    x = _data(d=10, n=384, seed=2)
    cfg = TrainConfig(name, n_latents=80, steps=30, batch_size=64, seed=3, lr=3e-3, **extra)
    got = dict(train_sdl(x, None, cfg).model.named_parameters())
    ref = _dense_train(name, x, cfg)
    start = dict(SDLModel(10, 10, cfg, generator=torch.Generator().manual_seed(3)).named_parameters())
    for key, r in ref.items():
        assert torch.allclose(got[key].detach(), r.detach(), rtol=1e-4, atol=2e-5), key
    moved = max(float((ref[k] - start[k]).detach().abs().max()) for k in ref)
    assert moved > 1e-2 and math.isfinite(moved)            # the comparison is not between untrained models


def test_keep_freed_memory_nests_and_restores():
    with gradient_alloc.keep_freed_memory() as on:
        with gradient_alloc.keep_freed_memory():
            assert gradient_alloc._depth == 2
            torch.empty(80 * 2**20, dtype=torch.uint8).fill_(1)
        assert gradient_alloc._depth == 1
    assert gradient_alloc._depth == 0
    assert on is (gradient_alloc._LIBC is not None)
    with gradient_alloc.keep_freed_memory(enabled=False) as off:
        assert off is False and gradient_alloc._depth == 0


def test_dots_by_latent_are_the_row_major_dots_bit_for_bit():
    """The decoder's sampled product taken latent by latent returns the same floats as row by row."""
    g = torch.Generator().manual_seed(5)
    B, n, d, k = 40, 300, 33, 7
    a, b = torch.randn(B, d, generator=g), torch.randn(n, d, generator=g)
    cols = torch.stack([torch.randperm(n, generator=g)[:k].sort().values for _ in range(B)]).flatten()
    rows = torch.arange(B).repeat_interleave(k)
    got = torch_codes._ByLatent(rows, cols, n).dots(a, b)
    assert got.numpy().tobytes() == torch_codes._gathered_dots(a, rows, b, cols).numpy().tobytes()
    assert torch.allclose(got, (a @ b.t())[rows, cols], rtol=1e-5, atol=1e-5)


def test_dense_codes_fired_is_any_positive_column():
    """_dense marks a latent fired by its column maximum: the same latents as (q > 0).any(0), all-zero and
    single-positive columns included."""
    g = torch.Generator().manual_seed(2)
    q = F.relu(torch.randn(64, 300, generator=g) - 2.0)
    q[:, :50] = 0.0
    q[:, 50:60] = 0.0
    q[7, 50:60] = 1e-30                                   # one tiny positive code per column
    c = torch_codes._dense(q)
    assert torch.equal(c.fired, (q > 0).any(0))
    assert c.fired[50:60].all() and not c.fired[:50].any()


def test_jumprelu_penalty_from_the_codes_pre_activations_is_the_recomputed_one():
    """JumpReLU's L0 penalty reuses the codes' pre-activations: value and every gradient equal those of the
    penalty on freshly computed pre-activations (the straight-through step passes no gradient to z)."""
    cfg = TrainConfig("jumprelu", n_latents=40, steps=1, batch_size=32, seed=3)
    model = SDLModel(12, 12, cfg, generator=torch.Generator().manual_seed(3))
    x = _data(12, 32, seed=4)
    grads = []
    for reuse in (True, False):
        model.zero_grad(set_to_none=True)
        c = model.codes(x, train=True)
        if not reuse:
            c.pre = None
        pen = model.code.penalty(model, x, x, c, 0.7)
        (pen + torch_codes._sq_err(x, model.decode_codes(c))).backward()
        grads.append((float(pen.detach()), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}))
    assert grads[0][0] == grads[1][0]
    assert grads[0][1].keys() == grads[1][1].keys() and "log_threshold" in grads[0][1]
    assert all(torch.equal(grads[0][1][k], grads[1][1][k]) for k in grads[0][1])


@pytest.mark.parametrize("name", ["relu", "jumprelu", "gated"])
def test_calibrator_probe_count_is_the_inference_codes_count(name):
    """The calibrator's L0 probe counts the positive inference codes in fewer passes (relu, jumprelu): the same
    integer as (encode(x) > 0).sum(), with codes near 0, NaN inputs and moved thresholds and biases."""
    cfg = TrainConfig(name, n_latents=300, steps=1, batch_size=32, seed=5)
    model = SDLModel(12, 12, cfg, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(0.3 * torch.randn(p.shape, generator=g))
        if name == "relu":
            model.b_enc[:50] = 0.0                    # at x = 0 these pre-activations are exactly 0
        if name == "jumprelu":
            model.log_threshold[:50] = -math.inf      # threshold exactly 0: at x = 0, z equals it
    x = torch.randn(400, 12, generator=g)
    x[3, 2], x[7] = float("nan"), 0.0
    x[9] = x[10] * 1e-30
    want = int((model.encode(x) > 0).sum())
    assert 0 < want < x.shape[0] * cfg.n_latents
    assert model.code.active_count(model, x) == want


def test_calibrated_training_bit_identical_with_the_encode_probe(monkeypatch):
    """A calibrated run (L0 near its target, so the probe's count moves the coefficient) ends with the same bits
    whether the probe counts by active_count or by (encode(x) > 0).sum()."""
    x = _data(d=12, n=512, seed=7)
    for name in ("relu", "jumprelu"):
        cfg = TrainConfig(name, n_latents=96, steps=60, batch_size=64, seed=1, lr=3e-3, target_l0=20.0)
        fast = train_sdl(x, None, cfg)
        with monkeypatch.context() as m:
            m.setattr(torch_codes.CODES[name].__class__, "active_count",
                      lambda self, model, xp: int((model.encode(xp) > 0).sum()))
            slow = train_sdl(x, None, cfg)
        assert fast.history["coef"] == slow.history["coef"] and len(set(fast.history["coef"])) > 1
        a, b = _params(fast.model), _params(slow.model)
        assert all(a[k].numpy().tobytes() == b[k].numpy().tobytes() for k in a), name
