"""Tests of the PyTorch SDL trainers: activations, sparse decode, resampling, anchoring, determinism."""
import numpy as np
import pytest
import torch

from sdlscape.bench.lrb import BenchConfig, make_bench
from sdlscape.bench.metrics import feature_recovery
from sdlscape.errors import InputError
from sdlscape.solvers.gradient import (
    ACTIVATIONS,
    CODES,
    SDLModel,
    TrainConfig,
    resample_dead_latents,
    sdl_loss,
    train_sdl,
)


@pytest.fixture(scope="module")
def tiny():
    return make_bench(BenchConfig(n=24, n_p=16, n_samples=2000, p_active=0.1, max_interference=0.3, seed=1))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_each_activation_trains(tiny, act):
    cfg = TrainConfig(activation=act, n_latents=64, k=4, steps=60, batch_size=128, lr=3e-3, auxk=8,
                      dead_steps=10, resample_every=30)
    r = train_sdl(tiny.x_in, None, cfg)
    h = r.history
    assert h["step"][-1] == 60 and all(np.isfinite(h["loss"]))
    assert h["mse"][-1] < h["mse"][0] * 1.5          # training does not blow up
    m = r.model
    assert m.W_E.shape == (64, 16) and m.W_D.shape == (16, 64)
    assert torch.allclose(m.W_D.norm(dim=0), torch.ones(64), atol=1e-4)   # decoder normalised
    x = tiny.x_in[:50]
    with torch.no_grad():
        q = m.encode(x)
        assert q.shape == (50, 64) and bool((q >= 0).all())
        # forward == dense decode of encode: the sparse (embedding_bag) path equals W_D q
        assert torch.allclose(m(x), m.decode(q), atol=1e-5)
        if CODES[act].uses_k and not CODES[act].per_batch:
            assert int((q > 0).sum(1).max()) <= 4


def test_batchtopk_selects_k_times_batch_and_sets_threshold(tiny):
    cfg = TrainConfig(activation="batchtopk_relu", n_latents=64, k=3, steps=5, batch_size=100)
    m = SDLModel(16, 16, cfg, torch.Generator().manual_seed(0))
    c = m.codes(tiny.x_in[:100], train=True)
    assert c.cols.numel() == 300 and c.rows.numel() == 300
    assert not torch.isnan(m.batch_threshold)
    q = m.encode(tiny.x_in[:100])                     # inference: thresholded, per sample
    assert bool(((q == 0) | (q > m.batch_threshold)).all())


def test_transcoder_shapes():
    b = make_bench(BenchConfig(n=20, n_p=12, n_r=9, n_samples=500, p_active=0.1, max_interference=0.4,
                               kind="transcoder", seed=2))
    r = train_sdl(b.x_in, b.x_out, TrainConfig(activation="topk_relu", n_latents=40, k=3, steps=20, batch_size=64))
    assert r.model.W_E.shape == (40, 12) and r.model.W_D.shape == (9, 40)


def test_jumprelu_threshold_gets_gradient(tiny):
    cfg = TrainConfig(activation="jumprelu", n_latents=32, jumprelu_threshold=0.05, jumprelu_bandwidth=0.5)
    m = SDLModel(16, 16, cfg, torch.Generator().manual_seed(0))
    loss, _ = sdl_loss(m, tiny.x_in[:256], tiny.x_in[:256])
    loss.backward()
    assert m.log_threshold.grad is not None and float(m.log_threshold.grad.abs().sum()) > 0


def test_resampling_writes_weights_and_resets_adam(tiny):
    cfg = TrainConfig(activation="relu", n_latents=32, lr=1e-2)
    m = SDLModel(16, 16, cfg, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    loss, _ = sdl_loss(m, tiny.x_in[:256], tiny.x_in[:256])
    loss.backward()
    opt.step()
    dead = torch.zeros(32, dtype=torch.bool)
    dead[[3, 7, 20]] = True
    WE0, WD0 = m.W_E.detach().clone(), m.W_D.detach().clone()
    alive_norm = WE0[~dead].norm(dim=1).mean()
    n = resample_dead_latents(m, opt, tiny.x_in, tiny.x_in, dead, torch.Generator().manual_seed(5), pool=500)
    assert n == 3
    assert torch.equal(m.W_E[~dead], WE0[~dead]) and torch.equal(m.W_D[:, ~dead], WD0[:, ~dead])
    assert not torch.allclose(m.W_E[dead], WE0[dead])
    assert torch.allclose(m.W_E[dead].norm(dim=1), 0.2 * alive_norm.expand(3), rtol=1e-5)
    assert torch.allclose(m.W_D[:, dead].norm(dim=0), torch.ones(3), atol=1e-5)
    # the new directions are data directions: encoder row parallel to its decoder column (SAE)
    cos = (m.W_E[dead] * m.W_D[:, dead].t()).sum(1) / m.W_E[dead].norm(dim=1)
    assert torch.allclose(cos, torch.ones(3), atol=1e-5)
    for p, dim in ((m.W_E, 0), (m.W_dec, 0)):
        st = opt.state[p]
        for key in ("exp_avg", "exp_avg_sq"):
            moved = st[key].index_select(dim, dead.nonzero().flatten())
            kept = st[key].index_select(dim, (~dead).nonzero().flatten())
            assert float(moved.abs().sum()) == 0.0 and float(kept.abs().sum()) > 0.0


def test_anchored_rows_converge_to_anchors(tiny):
    a = 5
    A_in = tiny.truth_in[:, :a].t().contiguous()
    A_out = tiny.truth_out[:, :a]
    cfg = TrainConfig(activation="topk_relu", n_latents=48, k=4, steps=300, batch_size=128, lr=1e-2, anchor_coef=1.0)
    m = train_sdl(tiny.x_in, None, cfg, anchors=(A_in, A_out)).model
    WE = m.W_E.detach()
    cos = (WE[:a] * A_in).sum(1) / WE[:a].norm(dim=1)
    assert float(cos.min()) > 0.98
    plain = train_sdl(tiny.x_in, None, TrainConfig(activation="topk_relu", n_latents=48, k=4, steps=300,
                                                  batch_size=128, lr=1e-2)).model.W_E.detach()
    cos_plain = (plain[:a] * A_in).sum(1) / plain[:a].norm(dim=1)
    assert float(cos_plain.mean()) < float(cos.mean())


def test_same_seed_same_result_on_cpu(tiny):
    cfg = TrainConfig(activation="batchtopk_relu", n_latents=48, k=3, steps=40, batch_size=64, seed=11)
    r1, r2 = train_sdl(tiny.x_in, None, cfg), train_sdl(tiny.x_in, None, cfg)
    assert torch.equal(r1.model.W_E, r2.model.W_E) and r1.history["loss"] == r2.history["loss"]
    f1 = feature_recovery(r1.model.W_E.detach().numpy(), tiny.truth_in.numpy())
    f2 = feature_recovery(r2.model.W_E.detach().numpy(), tiny.truth_in.numpy())
    assert f1["M_IP"] == f2["M_IP"]
    r3 = train_sdl(tiny.x_in, None, TrainConfig(activation="batchtopk_relu", n_latents=48, k=3, steps=40,
                                                batch_size=64, seed=12))
    assert not torch.equal(r1.model.W_E, r3.model.W_E)


def test_bad_config_and_anchors(tiny):
    with pytest.raises(InputError, match="k must be"):
        train_sdl(tiny.x_in, None, TrainConfig(activation="topk_relu", n_latents=8, k=9))
    with pytest.raises(InputError, match="unknown activation"):
        TrainConfig(activation="softmax", n_latents=8).validate()
    with pytest.raises(InputError, match="A_in"):
        train_sdl(tiny.x_in, None, TrainConfig(activation="relu", n_latents=8, steps=1),
                  anchors=(torch.zeros(2, 15), torch.zeros(16, 2)))
    with pytest.raises(InputError, match="A_out"):
        train_sdl(tiny.x_in, None, TrainConfig(activation="relu", n_latents=8, steps=1),
                  anchors=(torch.zeros(2, 16), torch.zeros(16, 3)))


def test_class_mean_anchors():
    from sdlscape.solvers.gradient import class_mean_anchors

    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    y = torch.tensor([0, 0, 1, 1])
    A_in, A_out = class_mean_anchors(x, y)
    assert torch.allclose(A_in, torch.eye(2)) and torch.allclose(A_out, torch.eye(2))
    xo = torch.tensor([[1.0, 1.0, 0.0]] * 2 + [[0.0, 0.0, 5.0]] * 2)
    A_in, A_out = class_mean_anchors(x, y, xo, classes=[1])
    assert A_in.shape == (1, 2) and A_out.shape == (3, 1) and torch.allclose(A_out[:, 0], torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(InputError):
        class_mean_anchors(x, y[:3])


@pytest.mark.parametrize("act", ["topk_relu", "batchtopk_relu", "relu"])
def test_bf16_autocast_trains(tiny, act):
    r = train_sdl(tiny.x_in, None, TrainConfig(activation=act, n_latents=32, k=4, steps=20, batch_size=64,
                                               precision="bf16", auxk=4, dead_steps=2))
    assert all(np.isfinite(r.history["loss"])) and r.model.W_E.dtype == torch.float32
