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
