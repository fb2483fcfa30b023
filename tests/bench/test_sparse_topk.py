"""The sparse TopK trainer computes exactly the gradients of the dense TopK o ReLU loss (eq. 7, 9)."""
import pytest
import torch
import torch.nn.functional as F

from sdlscape.solvers.gradient import SDLModel, TrainConfig, sdl_loss


def _dense_reference(model, x, per_batch=False, prefixes=None):
    """Dense autograd TopK o ReLU (or BatchTopK o ReLU) loss: the definition the sparse path must match."""
    W_E, W_dec = model.W_E, model.W_dec
    z = x @ W_E.t()
    zs = model.pre_select(x).float()          # the selection (fp32, or bf16 as configured)
    k = model.config.k
    if per_batch:
        _, idx = F.relu(zs).flatten().topk(k * x.shape[0])
        flat = F.relu(z).flatten()
        mask = torch.zeros_like(flat, dtype=torch.bool)
        mask[idx] = True
        q = F.relu(z) * mask.view_as(z)
    else:
        _, cols = zs.topk(k, dim=1)
        q = torch.zeros_like(z).scatter(1, cols, F.relu(z.gather(1, cols)))
    if prefixes is None:
        return ((x - q @ W_dec) ** 2).sum(-1).mean()
    n = torch.arange(model.n_latents)
    return torch.stack([((x - (q * (n < m)) @ W_dec) ** 2).sum(-1).mean() for m in prefixes]).mean()


@pytest.mark.parametrize("code", ["topk_relu", "batchtopk_relu", "matryoshka_topk_relu"])
@pytest.mark.parametrize("select_dtype", ["fp32", "bf16"])
def test_sparse_gradients_equal_dense(code, select_dtype):
    torch.manual_seed(0)
    cfg = TrainConfig(activation=code, n_latents=96, k=5, select_dtype=select_dtype)
    m = SDLModel(12, 12, cfg, torch.Generator().manual_seed(1))
    with torch.no_grad():          # break the tied init so encoder and decoder gradients differ
        m.W_E.add_(0.3 * torch.randn_like(m.W_E))
    x = torch.randn(40, 12).abs()
    loss, _ = sdl_loss(m, x, x)
    loss.backward()
    g_sparse = (m.W_E.grad.clone(), m.W_dec.grad.clone())
    m.zero_grad()
    ref = _dense_reference(m, x, per_batch=m.code.per_batch,
                           prefixes=cfg.prefixes() if code.startswith("matryoshka") else None)
    ref.backward()
    assert torch.allclose(loss, ref, rtol=1e-5, atol=1e-6)
    assert torch.allclose(g_sparse[0], m.W_E.grad, rtol=1e-4, atol=1e-5)
    assert torch.allclose(g_sparse[1], m.W_dec.grad, rtol=1e-4, atol=1e-5)
    # only selected encoder rows get a gradient
    z = m.pre_select(x).float()
    touched = torch.zeros(96, dtype=torch.bool)
    touched[z.topk(5, dim=1).indices.flatten()] = True
    if not m.code.per_batch:
        assert float(g_sparse[0][~touched].abs().sum()) == 0.0


def test_auxk_reaches_dead_latents_only():
    cfg = TrainConfig(activation="topk_relu", n_latents=64, k=3, auxk=4)
    m = SDLModel(10, 10, cfg, torch.Generator().manual_seed(2))
    x = torch.randn(30, 10).abs()
    dead = torch.zeros(64, dtype=torch.bool)
    dead[40:] = True
    with torch.no_grad():
        m.W_E[40:] *= 0.01          # dead latents are never selected by the main TopK
    loss, info = sdl_loss(m, x, x, dead=dead)
    loss.backward()
    assert info["auxk"] > 0
    assert float(m.W_E.grad[40:].abs().sum()) > 0       # AuxK trains the dead rows


@pytest.mark.parametrize("order", ["row_major", "shuffled"])
def test_gathered_dots_are_the_selected_entries_of_the_product(order):
    """_gathered_dots (a sampled product over a CSR pattern) returns (a @ b^T)[rows, cols] in the caller's
    order, whether or not the selections come row-major."""
    from sdlscape.solvers.torch_codes import _gathered_dots

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(7, 5, generator=g), torch.randn(11, 5, generator=g)
    rows, cols = torch.meshgrid(torch.arange(7), torch.arange(11), indexing="ij")
    keep = torch.rand(7, 11, generator=g) < 0.4
    rows, cols = rows[keep], cols[keep]
    if order == "shuffled":
        p = torch.randperm(rows.numel(), generator=g)
        rows, cols = rows[p], cols[p]
    got = _gathered_dots(a, rows, b, cols)
    assert torch.allclose(got, (a @ b.t())[rows, cols], rtol=1e-6, atol=1e-6)
    assert _gathered_dots(a, rows[:0], b, cols[:0]).numel() == 0


def test_gathered_dots_refuses_a_repeated_selection():
    from sdlscape.solvers.torch_codes import _gathered_dots

    a, b = torch.randn(3, 4), torch.randn(5, 4)
    with pytest.raises(ValueError, match="twice"):
        _gathered_dots(a, torch.tensor([2, 0, 2]), b, torch.tensor([1, 3, 1]))


def test_fused_adam_follows_the_reference_adam():
    """train_sdl's fused Adam takes the same steps as torch's for-loop Adam (same seed, 20 steps)."""
    from sdlscape.solvers import gradient

    x = torch.randn(256, 12, generator=torch.Generator().manual_seed(0)).abs()
    cfg = TrainConfig("topk_relu", n_latents=48, k=3, steps=20, batch_size=64, seed=1)
    fused = gradient.train_sdl(x, None, cfg).model
    assert gradient._adam([torch.nn.Parameter(torch.zeros(2))], 1e-3).defaults.get("fused") is True
    plain = gradient._adam
    try:
        gradient._adam = lambda params, lr: torch.optim.Adam(params, lr=lr)
        ref = gradient.train_sdl(x, None, cfg).model
    finally:
        gradient._adam = plain
    assert torch.allclose(fused.W_E, ref.W_E, atol=1e-5)
    assert torch.allclose(fused.W_dec, ref.W_dec, atol=1e-5)
    assert not torch.allclose(fused.W_E, SDLModel(12, 12, cfg, torch.Generator().manual_seed(1)).W_E, atol=1e-3)
